//! Counterfactual explanations (Atad et al., MELBA 2024, Sec. 3.3): encode an image to its
//! semantic latent z_sem and stochastic code x_T, move z_sem along a head's normal (the plans
//! of [`crate::latent::counterfactual`]) and render each moved latent from the image's own x_T,
//! so that only what the head's direction encodes changes.
//!
//! Images are processed in batches: all images of a batch are encoded together, and all their
//! reconstructions and counterfactuals rendered together, in chunks of at most `max_batch`.

use std::ops::ControlFlow;

use burn::tensor::{Tensor, TensorData};
use ndarray::ArrayView1;

use crate::diffusion::{DdimSampler, NoiseSchedule};
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

/// Explains the images `x0` [B, C, H, W] (model range) with `head`: `plan` gives each image's
/// counterfactuals from its latent (the same number for every image). The observer sees every
/// DDIM step and may cancel.
pub fn explain(
    model: &DiffusionAutoencoder,
    head: &Head,
    x0: Tensor<4>,
    plan: &dyn Fn(&Head, ArrayView1<f32>) -> Result<Vec<CounterfactualPlan>>,
    steps: CeSteps,
    observer: CeObserver,
) -> Result<Explanations> {
    let [b, ..] = x0.dims();
    let device = x0.device();
    let z = model.encode(x0.clone());
    let dim = z.dims()[1];
    let z_rows: Vec<f32> = z.clone().into_data().try_to_vec::<f32>().map_err(|e| DaecfError::Data(format!("{e:?}")))?;
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

    let base = NoiseSchedule::linear(1000)?;
    let encoder = DdimSampler::new(&base, steps.encode)?;
    let renderer = DdimSampler::new(&base, steps.render)?;
    let chunk = steps.max_batch.max(1);
    let rendered = b * (1 + k);
    let total = b.div_ceil(chunk) * steps.encode + rendered.div_ceil(chunk) * steps.render;
    let mut done = 0;
    let mut progress = |_: usize, _: usize| {
        done += 1;
        observer(done, total)
    };

    let mut codes = Vec::new();
    for start in (0..b).step_by(chunk) {
        let end = (start + chunk).min(b);
        let cond = model.conditioned(z.clone().slice(start..end));
        codes.push(encoder.encode_with(&cond, x0.clone().slice(start..end), &mut progress)?);
    }
    let x_t = Tensor::cat(codes, 0);

    // Row r of the render batch: image r / (1 + k), latent r % (1 + k) (0 = its own z_sem).
    let mut latents = Vec::with_capacity(rendered * dim);
    for item in &items {
        latents.extend_from_slice(&item.z_sem);
        for p in &item.plans {
            latents.extend_from_slice(&p.latent);
        }
    }
    let latents = Tensor::<2>::from_data(TensorData::new(latents, [rendered, dim]), &device);
    let owner: Vec<i64> = (0..rendered).map(|r| (r / (1 + k)) as i64).collect();
    let mut images = Vec::new();
    for start in (0..rendered).step_by(chunk) {
        let end = (start + chunk).min(rendered);
        let idx = Tensor::<1, burn::tensor::Int>::from_data(TensorData::new(owner[start..end].to_vec(), [end - start]), &device);
        let cond = model.conditioned(latents.clone().slice(start..end));
        images.push(renderer.render_with(&cond, x_t.clone().select(0, idx), &mut progress)?);
    }
    let all = Tensor::cat(images, 0);
    let own: Vec<i64> = (0..b).map(|i| (i * (1 + k)) as i64).collect();
    let moved: Vec<i64> = (0..rendered).filter(|r| r % (1 + k) != 0).map(|r| r as i64).collect();
    let pick = |rows: Vec<i64>| {
        let n = rows.len();
        all.clone().select(0, Tensor::<1, burn::tensor::Int>::from_data(TensorData::new(rows, [n]), &device))
    };
    let reconstructions = pick(own);
    let counterfactuals = if k == 0 { reconstructions.clone().slice(0..0) } else { pick(moved) };
    Ok(Explanations { items, x_t, reconstructions, counterfactuals })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latent::{Calibration, CalibrationKind, CeTarget, ClassifierKind, Hyperplane, TaskSpec};
    use crate::model::DaeConfig;
    use burn::tensor::Device;

    fn model(device: &Device) -> DiffusionAutoencoder {
        device.seed(3);
        let config = DaeConfig::new(16, 1, 1, 32, vec![1, 2], vec![1, 2])
            .with_attention_resolutions(vec![8])
            .with_num_res_blocks(1)
            .with_enc_num_res_blocks(1)
            .with_latent_dim(8);
        DiffusionAutoencoder::new(&config, device).unwrap()
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
        let own: Vec<f32> = out.counterfactuals.clone().select(0, Tensor::from_data([0i64, 2, 4], &device)).into_data().try_to_vec::<f32>().unwrap();
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
    fn cancelling_stops_with_an_error() {
        let device = Device::flex();
        let m = model(&device);
        let x = Tensor::<4>::zeros([1, 1, 16, 16], &device);
        let plan = |h: &Head, w: ArrayView1<f32>| Ok(vec![h.plan(w, CeTarget::Binary)?]);
        let mut stop = |d: usize, _: usize| if d >= 2 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) };
        let err = explain(&m, &head(), x, &plan, CeSteps { encode: 5, render: 5, max_batch: 2 }, &mut stop).unwrap_err();
        assert!(matches!(err, DaecfError::Cancelled));
    }
}
