//! Counterfactual explanations (Atad et al., MELBA 2024, Sec. 3.3): encode an image to its
//! semantic latent z_sem and stochastic code x_T, move z_sem along a head's normal (the plans
//! of [`crate::latent::counterfactual`]) and render each moved latent from the image's own x_T,
//! so that only what the head's direction encodes changes.
//!
//! Images are processed in batches: all images of a batch are encoded together, and all their
//! reconstructions and counterfactuals rendered together, in chunks of at most `max_batch`.

use std::ops::{ControlFlow, Range};

use burn::tensor::{Tensor, TensorData};
use ndarray::ArrayView1;

use crate::diffusion::DdimSampler;
use crate::latent::{CounterfactualPlan, Head};
use crate::model::DiffusionAutoencoder;
use crate::{DaecfError, Result};

/// DDIM steps of a counterfactual run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CeSteps {
    /// Steps of the stochastic encoding x0 -> x_T (the paper: 250).
    pub encode: usize,
    /// Steps of each render x_T -> x0 (the paper: 100).
    pub render: usize,
    /// The most images rendered in one batch.
    pub max_batch: usize,
}

impl CeSteps {
    /// The paper's quality setting: 250 encoding and 100 rendering steps.
    pub const PAPER: Self = Self { encode: 250, render: 100, max_batch: 16 };
}

/// The explanation of one image.
#[derive(Debug, Clone)]
pub struct ImageExplanation {
    /// Its semantic latent.
    pub z_sem: Vec<f32>,
    /// Its signed distance to the head's hyperplane.
    pub distance: f32,
    /// Its calibrated (continuous) grade.
    pub grade: f64,
    /// The counterfactuals rendered for it, in the order of `counterfactuals`.
    pub plans: Vec<CounterfactualPlan>,
}

/// Explanations of a batch of images, with the rendered images in the model's range.
#[derive(Debug, Clone)]
pub struct Explanations {
    /// One per input image.
    pub items: Vec<ImageExplanation>,
    /// The stochastic codes x_T [B, C, H, W].
    pub x_t: Tensor<4>,
    /// The reconstructions [B, C, H, W] (z_sem unchanged).
    pub reconstructions: Tensor<4>,
    /// The counterfactuals [B * K, C, H, W]: image b's plan k at row b * K + k.
    pub counterfactuals: Tensor<4>,
}

/// Progress of a counterfactual run: DDIM steps done and to do in all.
pub type CeObserver<'a> = &'a mut dyn FnMut(usize, usize) -> ControlFlow<()>;

/// How each image's counterfactuals are planned from its latent (the same number for every
/// image).
pub type PlanFn<'a> = &'a dyn Fn(&Head, ArrayView1<f32>) -> Result<Vec<CounterfactualPlan>>;

/// Explains the images `x0` [B, C, H, W] (model range) with `head`: `plan` gives each image's
/// counterfactuals from its latent. The observer sees every DDIM step and may cancel.
pub fn explain(
    model: &DiffusionAutoencoder,
    head: &Head,
    x0: Tensor<4>,
    plan: PlanFn,
    steps: CeSteps,
    observer: CeObserver,
) -> Result<Explanations> {
    let z = model.encode(x0.clone());
    let z_rows = z.clone().into_data().try_to_vec::<f32>().map_err(|e| DaecfError::Data(format!("{e:?}")))?;
    let mut job = CeJob::new(model, head, x0, z, &z_rows, plan, steps)?;
    while job.step() {
        observer(job.done(), job.total()).is_continue().then_some(()).ok_or(DaecfError::Cancelled)?;
    }
    job.finish()
}

/// A counterfactual run taken one DDIM step at a time, so that a caller can show progress,
/// cancel, or (in the browser) give the event loop its turn and read results asynchronously.
///
/// The caller encodes the images (`model.encode`) and hands over z_sem both as a tensor and,
/// read back to the host, as rows: reading back is the one thing a browser must await.
///
/// Once the images are encoded, render chunks not yet started can be handed out
/// ([`CeJob::hand_out`]) to be rendered elsewhere (another worker with its own copy of the
/// model) and their images handed back in ([`CeJob::hand_in`]).
#[derive(Debug)]
pub struct CeJob {
    model: DiffusionAutoencoder,
    items: Vec<ImageExplanation>,
    x0: Tensor<4>,
    z: Tensor<2>,
    latents: Tensor<2>,
    /// Row r of the render batch belongs to image r / (1 + K).
    per_image: usize,
    encoder: DdimSampler,
    renderer: DdimSampler,
    chunks: Vec<Chunk>,
    /// Chunks from this index on were handed out.
    handed_out: usize,
    codes: Vec<Tensor<4>>,
    /// The rendered images of each render chunk, in chunk order.
    images: Vec<Option<Tensor<4>>>,
    x_t: Option<Tensor<4>>,
    /// The chunk under way, its next DDIM index and its current state.
    current: Option<(usize, usize, Tensor<4>)>,
    /// The result of the last step.
    last: Option<Tensor<4>>,
    next_chunk: usize,
    done: usize,
    total: usize,
}

/// One batch of DDIM work: encode images `start..end`, or render rows `start..end`.
#[derive(Debug, Clone, Copy)]
enum Chunk {
    Encode(usize, usize),
    Render(usize, usize),
}

/// Renders handed out of a [`CeJob`]: rows `rows` of its render batch, to be rendered from
/// `x_t` conditioned on `latents` in `steps` DDIM steps ([`RenderJob`]).
#[derive(Debug, Clone)]
pub struct RenderShare {
    /// The rows of the job's render batch.
    pub rows: Range<usize>,
    /// Their noise maps [n, C, H, W].
    pub x_t: Tensor<4>,
    /// Their semantic latents [n, D].
    pub latents: Tensor<2>,
    /// DDIM render steps.
    pub steps: usize,
}

/// The renders of a [`RenderShare`], one DDIM step at a time: what [`CeJob`] does for its own
/// render chunks, for a worker that holds another copy of the model.
#[derive(Debug)]
pub struct RenderJob {
    model: DiffusionAutoencoder,
    renderer: DdimSampler,
    latents: Tensor<2>,
    x: Tensor<4>,
    done: usize,
}

impl RenderJob {
    /// Renders `share` with `model` (on the share's device).
    pub fn new(model: &DiffusionAutoencoder, share: RenderShare) -> Result<Self> {
        let [n, dim] = share.latents.dims();
        if n != share.x_t.dims()[0] || n != share.rows.len() || dim != model.config.latent_dim {
            return Err(DaecfError::Config(format!(
                "a share of rows {:?} with {n} latents of {dim} values and {} noise maps does not fit a model \
                 of latent size {}",
                share.rows,
                share.x_t.dims()[0],
                model.config.latent_dim
            )));
        }
        let renderer = DdimSampler::new(&model.config.noise_schedule()?, share.steps)?;
        Ok(Self { model: model.clone(), renderer, latents: share.latents, x: share.x_t, done: 0 })
    }

    /// DDIM steps done.
    pub fn done(&self) -> usize {
        self.done
    }

    /// DDIM steps in all.
    pub fn total(&self) -> usize {
        self.renderer.steps()
    }

    /// The images after the last step (the noise maps before the first).
    pub fn latest(&self) -> Tensor<4> {
        self.x.clone()
    }

    /// Runs one DDIM step; false when the images are rendered.
    pub fn step(&mut self) -> bool {
        let n = self.renderer.steps();
        if self.done == n {
            return false;
        }
        let cond = self.model.conditioned(self.latents.clone());
        self.x = self.renderer.render_step(&cond, self.x.clone(), n - 1 - self.done);
        self.done += 1;
        true
    }

    /// The rendered images [n, C, H, W]; an error if steps are left.
    pub fn finish(self) -> Result<Tensor<4>> {
        if self.done < self.renderer.steps() {
            return Err(DaecfError::Cancelled);
        }
        Ok(self.x)
    }
}

impl CeJob {
    /// Plans the counterfactuals of images `x0` [B, C, H, W] whose latents are `z` [B, D]
    /// (`z_rows`: the same, row-major on the host).
    pub fn new(
        model: &DiffusionAutoencoder,
        head: &Head,
        x0: Tensor<4>,
        z: Tensor<2>,
        z_rows: &[f32],
        plan: PlanFn,
        steps: CeSteps,
    ) -> Result<Self> {
        let [b, dim] = z.dims();
        if b == 0 {
            return Err(DaecfError::Config("no images to explain".into()));
        }
        if z_rows.len() != b * dim || x0.dims()[0] != b {
            return Err(DaecfError::Config(format!(
                "{b} latents of {dim} values do not match {} host values and {} images",
                z_rows.len(),
                x0.dims()[0]
            )));
        }
        let mut items = Vec::with_capacity(b);
        for row in z_rows.chunks(dim) {
            let w = ArrayView1::from(row);
            let distance = head.distance(w)?;
            items.push(ImageExplanation {
                z_sem: row.to_vec(),
                distance,
                grade: head.calibration.predict(distance as f64),
                plans: plan(head, w)?,
            });
        }
        let k = items.first().map_or(0, |i| i.plans.len());
        if items.iter().any(|i| i.plans.len() != k) {
            return Err(DaecfError::Config("every image needs the same number of counterfactuals".into()));
        }
        let base = model.config.noise_schedule()?;
        let encoder = DdimSampler::new(&base, steps.encode)?;
        let renderer = DdimSampler::new(&base, steps.render)?;
        let chunk = steps.max_batch.max(1);
        let rendered = b * (1 + k);
        let mut chunks: Vec<Chunk> = (0..b).step_by(chunk).map(|s| Chunk::Encode(s, (s + chunk).min(b))).collect();
        chunks.extend((0..rendered).step_by(chunk).map(|s| Chunk::Render(s, (s + chunk).min(rendered))));
        let render_chunks = rendered.div_ceil(chunk);
        let total = b.div_ceil(chunk) * encoder.steps() + rendered.div_ceil(chunk) * renderer.steps();
        // Row r of the render batch: image r / (1 + k), latent r % (1 + k) (0 = its own z_sem).
        let mut latents = Vec::with_capacity(rendered * dim);
        for item in &items {
            latents.extend_from_slice(&item.z_sem);
            for p in &item.plans {
                latents.extend_from_slice(&p.latent);
            }
        }
        let latents = Tensor::<2>::from_data(TensorData::new(latents, [rendered, dim]), &z.device());
        Ok(Self {
            model: model.clone(),
            items,
            x0,
            z,
            latents,
            per_image: 1 + k,
            encoder,
            renderer,
            handed_out: chunks.len(),
            chunks,
            codes: Vec::new(),
            images: vec![None; render_chunks],
            x_t: None,
            current: None,
            last: None,
            next_chunk: 0,
            done: 0,
            total,
        })
    }

    /// The explanations (distances, grades, plans) known before any DDIM step.
    pub fn items(&self) -> &[ImageExplanation] {
        &self.items
    }

    /// DDIM steps done, those of the renders handed back in included.
    pub fn done(&self) -> usize {
        self.done
    }

    /// DDIM steps in all, those of the renders handed out included.
    pub fn total(&self) -> usize {
        self.total
    }

    /// The result of the last step (None before the first); a browser reads a value of it to
    /// wait for the device.
    pub fn latest(&self) -> Option<Tensor<4>> {
        self.last.clone()
    }

    /// Runs one DDIM step; false when there is nothing left to do here (renders handed out may
    /// still be under way elsewhere).
    pub fn step(&mut self) -> bool {
        let (index, k, x) = match self.current.take() {
            Some(c) => c,
            None if self.next_chunk < self.handed_out => {
                let index = self.next_chunk;
                self.next_chunk += 1;
                (index, 0, self.chunk_input(self.chunks[index]))
            }
            None => return false,
        };
        let (x, finished) = match self.chunks[index] {
            Chunk::Encode(s, e) => {
                let cond = self.model.conditioned(self.z.clone().slice(s..e));
                (self.encoder.reverse_step(&cond, x, k), k + 1 == self.encoder.steps())
            }
            Chunk::Render(s, e) => {
                let cond = self.model.conditioned(self.latents.clone().slice(s..e));
                let n = self.renderer.steps();
                (self.renderer.render_step(&cond, x, n - 1 - k), k + 1 == n)
            }
        };
        self.done += 1;
        self.last = Some(x.clone());
        if !finished {
            self.current = Some((index, k + 1, x));
        } else if matches!(self.chunks[index], Chunk::Encode(..)) {
            self.codes.push(x);
        } else {
            let slot = index - self.encode_chunks();
            self.images[slot] = Some(x);
        }
        true
    }

    fn encode_chunks(&self) -> usize {
        self.chunks.len() - self.images.len()
    }

    /// Whether the images are encoded, so that renders can be handed out.
    pub fn encoded(&self) -> bool {
        self.x_t.is_some() || self.codes.len() == self.encode_chunks()
    }

    /// Hands out the last render chunk not yet started, to be rendered elsewhere and handed
    /// back in; None before the images are encoded or when every chunk is started or handed out.
    pub fn hand_out(&mut self) -> Option<RenderShare> {
        let first_free = self.next_chunk.max(self.encode_chunks());
        if !self.encoded() || self.handed_out <= first_free {
            return None;
        }
        self.handed_out -= 1;
        let chunk = self.chunks[self.handed_out];
        let Chunk::Render(s, e) = chunk else { return None };
        Some(RenderShare {
            rows: s..e,
            x_t: self.chunk_input(chunk),
            latents: self.latents.clone().slice(s..e),
            steps: self.renderer.steps(),
        })
    }

    /// Hands back in the images [n, C, H, W] rendered for the share of `rows`.
    pub fn hand_in(&mut self, rows: Range<usize>, images: Tensor<4>) -> Result<()> {
        let encode_chunks = self.encode_chunks();
        let slot = (self.handed_out..self.chunks.len())
            .find(|&i| matches!(self.chunks[i], Chunk::Render(s, e) if (s..e) == rows))
            .map(|i| i - encode_chunks)
            .ok_or_else(|| DaecfError::Config(format!("rows {rows:?} were not handed out")))?;
        if images.dims()[0] != rows.len() || self.images[slot].is_some() {
            return Err(DaecfError::Config(format!(
                "{} images handed in for rows {rows:?} (handed in before: {})",
                images.dims()[0],
                self.images[slot].is_some()
            )));
        }
        self.images[slot] = Some(images);
        self.done += self.renderer.steps();
        Ok(())
    }

    /// The starting state of a chunk: its images, or the noise maps of its rows' images.
    fn chunk_input(&mut self, chunk: Chunk) -> Tensor<4> {
        match chunk {
            Chunk::Encode(s, e) => self.x0.clone().slice(s..e),
            Chunk::Render(s, e) => {
                let x_t = self.x_t.get_or_insert_with(|| Tensor::cat(std::mem::take(&mut self.codes), 0)).clone();
                let owner: Vec<i64> = (s..e).map(|r| (r / self.per_image) as i64).collect();
                x_t.select(0, Self::rows(owner, &self.x0.device()))
            }
        }
    }

    fn rows(rows: Vec<i64>, device: &burn::tensor::Device) -> Tensor<1, burn::tensor::Int> {
        let n = rows.len();
        Tensor::from_data(TensorData::new(rows, [n]), device)
    }

    /// The finished run; an error if steps are left.
    pub fn finish(mut self) -> Result<Explanations> {
        if self.done < self.total {
            return Err(DaecfError::Cancelled);
        }
        let device = self.x0.device();
        let x_t = match self.x_t.take() {
            Some(x) => x,
            None => Tensor::cat(std::mem::take(&mut self.codes), 0),
        };
        let images: Option<Vec<Tensor<4>>> = self.images.into_iter().collect();
        let all = Tensor::cat(images.ok_or(DaecfError::Cancelled)?, 0);
        let (b, per) = (self.items.len(), self.per_image);
        let own: Vec<i64> = (0..b).map(|i| (i * per) as i64).collect();
        let moved: Vec<i64> = (0..b * per).filter(|r| r % per != 0).map(|r| r as i64).collect();
        let reconstructions = all.clone().select(0, Self::rows(own, &device));
        let counterfactuals =
            if per == 1 { reconstructions.clone().slice(0..0) } else { all.select(0, Self::rows(moved, &device)) };
        Ok(Explanations { items: self.items, x_t, reconstructions, counterfactuals })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latent::{Calibration, CalibrationKind, CeTarget, ClassifierKind, Hyperplane, TaskSpec};
    use crate::model::DaeConfig;
    use burn::tensor::Device;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn model(device: &Device) -> DiffusionAutoencoder {
        device.seed(3);
        let config = DaeConfig::new(16, 1, 1, 32, vec![1, 2], vec![1, 2])
            .with_attention_resolutions(vec![8])
            .with_num_res_blocks(1)
            .with_enc_num_res_blocks(1)
            .with_latent_dim(8);
        DiffusionAutoencoder::new(&config, device).unwrap()
    }

    /// Each image's binary counterfactual.
    fn binary_plan(h: &Head, w: ArrayView1<f32>) -> Result<Vec<CounterfactualPlan>> {
        Ok(vec![h.plan(w, CeTarget::Binary)?])
    }

    /// The counterfactuals of `x` explained in one call, as values.
    fn whole_run(m: &DiffusionAutoencoder, x: Tensor<4>, steps: CeSteps) -> Vec<f32> {
        let whole = explain(m, &head(), x, &binary_plan, steps, &mut |_, _| ControlFlow::Continue(())).unwrap();
        whole.counterfactuals.into_data().try_to_vec().unwrap()
    }

    fn head() -> Head {
        Head {
            task: TaskSpec::new("t"),
            classifier: ClassifierKind::Svm,
            c: 1.0,
            hyperplane: Hyperplane::new(vec![1.0, -1.0, 0.5, 0.0, 0.0, 2.0, 0.0, 1.0], 0.1).unwrap(),
            standardizer: None,
            calibration: Calibration {
                kind: CalibrationKind::Linear,
                coefficients: vec![1.0, 1.0],
                grade_range: (0, 3),
                distance_range: (-2.0, 2.0),
            },
            ce_strength: 1.0,
            ce_direction: Default::default(),
            directions: None,
        }
    }

    #[test]
    fn renders_each_plan_from_the_images_own_code() {
        let device = Device::flex();
        let m = model(&device);
        let x = Tensor::<4>::random([3, 1, 16, 16], burn::tensor::Distribution::Uniform(-1.0, 1.0), &device);
        let steps = CeSteps { encode: 4, render: 3, max_batch: 4 };
        // Plans: the image's own latent (must render its reconstruction), then the binary CE.
        let plan = |h: &Head, w: ArrayView1<f32>| {
            Ok(vec![h.plan(w, CeTarget::Distance(h.distance(w)?))?, h.plan(w, CeTarget::Binary)?])
        };
        let mut calls = Vec::new();
        let mut observer = |d: usize, t: usize| {
            calls.push((d, t));
            ControlFlow::Continue(())
        };
        let out = explain(&m, &head(), x.clone(), &plan, steps, &mut observer).unwrap();
        assert_eq!(out.counterfactuals.dims(), [6, 1, 16, 16]);
        assert_eq!(out.reconstructions.dims(), [3, 1, 16, 16]);
        // 3 images: one encoding chunk of 4 steps; 9 renders: three chunks of 3 steps.
        assert_eq!(calls.last(), Some(&(4 + 9, 4 + 9)));
        let own: Vec<f32> = out
            .counterfactuals
            .clone()
            .select(0, Tensor::from_data([0i64, 2, 4], &device))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let rec: Vec<f32> = out.reconstructions.clone().into_data().try_to_vec::<f32>().unwrap();
        let err = own.iter().zip(&rec).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-4, "an unmoved latent renders the reconstruction ({err})");
        // The reconstructions are what the reconstruction pipeline gives.
        let reference = crate::pipeline::reconstruct(&m, x, 4, 3).unwrap();
        let want: Vec<f32> = reference.image.into_data().try_to_vec::<f32>().unwrap();
        let err = want.iter().zip(&rec).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-4, "{err}");
        for item in &out.items {
            assert!((item.plans[1].distance + item.distance).abs() < 1e-5, "binary CE = reflection");
        }
    }

    #[test]
    fn a_job_stepped_by_hand_gives_what_explain_gives() {
        let device = Device::flex();
        let m = model(&device);
        let x = Tensor::<4>::random([2, 1, 16, 16], burn::tensor::Distribution::Uniform(-1.0, 1.0), &device);
        let steps = CeSteps { encode: 3, render: 2, max_batch: 3 };
        let z = m.encode(x.clone());
        let rows: Vec<f32> = z.clone().into_data().try_to_vec().unwrap();
        assert!(
            CeJob::new(&m, &head(), x.clone(), z.clone(), &rows[1..], &binary_plan, steps).is_err(),
            "rows must match z"
        );
        let mut job = CeJob::new(&m, &head(), x.clone(), z, &rows, &binary_plan, steps).unwrap();
        assert_eq!(job.items().len(), 2, "distances and plans are known before any step");
        // 2 images: one encoding chunk of 3 steps; 4 renders: two chunks of 2 steps.
        assert_eq!(job.total(), 3 + 2 * 2);
        assert!(job.latest().is_none());
        let mut n = 0;
        while job.step() {
            n += 1;
            assert_eq!(job.done(), n);
            assert!(job.latest().is_some());
        }
        assert_eq!(n, job.total());
        let by_hand = job.finish().unwrap();
        let a: Vec<f32> = by_hand.counterfactuals.into_data().try_to_vec().unwrap();
        assert_eq!(a, whole_run(&m, x, steps));
    }

    #[test]
    fn renders_handed_out_and_back_in_give_what_one_job_gives() {
        let device = Device::flex();
        let m = model(&device);
        let x = Tensor::<4>::random([2, 1, 16, 16], burn::tensor::Distribution::Uniform(-1.0, 1.0), &device);
        let steps = CeSteps { encode: 3, render: 2, max_batch: 1 };
        let z = m.encode(x.clone());
        let rows: Vec<f32> = z.clone().into_data().try_to_vec().unwrap();
        let mut job = CeJob::new(&m, &head(), x.clone(), z, &rows, &binary_plan, steps).unwrap();
        assert!(job.hand_out().is_none(), "nothing is handed out before the images are encoded");
        while !job.encoded() {
            assert!(job.step());
        }
        // 4 render rows in chunks of one: two handed out (the last two), two rendered here.
        let shares = [job.hand_out().unwrap(), job.hand_out().unwrap()];
        assert_eq!((shares[0].rows.clone(), shares[1].rows.clone()), (3..4, 2..3));
        while job.step() {}
        assert!(job.hand_out().is_none(), "every chunk is started or handed out");
        assert!(job.done() < job.total(), "the shares' steps are not done");
        for share in shares.into_iter().rev() {
            let rows = share.rows.clone();
            let mut render = RenderJob::new(&m, share).unwrap();
            assert_eq!(render.total(), 2);
            while render.step() {}
            let image = render.finish().unwrap();
            assert!(job.hand_in(0..1, image.clone()).is_err(), "rows not handed out");
            job.hand_in(rows.clone(), image.clone()).unwrap();
            assert!(job.hand_in(rows, image).is_err(), "handed in twice");
        }
        assert_eq!(job.done(), job.total());
        let shared = job.finish().unwrap();
        let a: Vec<f32> = shared.counterfactuals.into_data().try_to_vec().unwrap();
        assert_eq!(a, whole_run(&m, x, steps));
    }

    #[test]
    fn an_unfinished_job_cannot_finish() {
        let device = Device::flex();
        let m = model(&device);
        let x = Tensor::<4>::zeros([1, 1, 16, 16], &device);
        let z = m.encode(x.clone());
        let rows: Vec<f32> = z.clone().into_data().try_to_vec().unwrap();
        let mut job =
            CeJob::new(&m, &head(), x, z, &rows, &binary_plan, CeSteps { encode: 2, render: 2, max_batch: 2 }).unwrap();
        job.step();
        assert!(matches!(job.finish(), Err(DaecfError::Cancelled)));
    }

    #[test]
    fn cancelling_stops_with_an_error() {
        let device = Device::flex();
        let m = model(&device);
        let x = Tensor::<4>::zeros([1, 1, 16, 16], &device);
        let mut stop = |d: usize, _: usize| if d >= 2 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) };
        let err = explain(&m, &head(), x, &binary_plan, CeSteps { encode: 5, render: 5, max_batch: 2 }, &mut stop)
            .unwrap_err();
        assert!(matches!(err, DaecfError::Cancelled));
    }
}
