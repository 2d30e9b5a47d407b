//! One DAE training step at a time: the reference's LitModel.training_step with its
//! optimiser (Adam, lr 1e-4, no weight decay), gradient clipping (global norm 1), EMA and,
//! optionally, 16-bit mixed precision.

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, FloatDType, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::ema::update_ema;
use super::grad_clip::{clip_to_norm, global_norm, map_grads};
use super::precision::{LossScale, Precision, cast_module};
use crate::diffusion::{NoiseSchedule, noise_prediction_loss};
use crate::model::DiffusionAutoencoder;

/// Optimisation settings; the defaults are the reference's.
#[derive(burn::config::Config, Debug)]
pub struct TrainerConfig {
    /// Learning rate.
    #[config(default = 1e-4)]
    pub learning_rate: f64,
    /// Decoupled weight decay (AdamW); 0 gives the reference's Adam.
    #[config(default = 0.0)]
    pub weight_decay: f64,
    /// Decay of the weights' exponential moving average.
    #[config(default = 0.9999)]
    pub ema_decay: f64,
    /// Maximum global gradient norm; `None` disables clipping.
    #[config(default = "Some(1.0)")]
    pub grad_clip: Option<f64>,
    /// Seed of every random draw of training (timesteps, noise, dropout); step k draws from
    /// stream k of this seed, so a resumed run draws what an uninterrupted one would.
    #[config(default = 0)]
    pub seed: u64,
}

/// A DAE being trained: the online model on an autodiff device, its EMA and the optimiser state.
pub struct DaeTrainer {
    pub(super) model: DiffusionAutoencoder,
    pub(super) ema: DiffusionAutoencoder,
    pub(super) optimizer: ModuleOptimizer,
    schedule: NoiseSchedule,
    pub(super) config: TrainerConfig,
    pub(super) step: usize,
    /// Precision of the forward and backward passes (master weights, Adam and EMA stay f32).
    pub(super) precision: Precision,
    /// The dynamic loss scale of f16 training (`None` in the other precisions).
    pub(super) loss_scale: Option<LossScale>,
    /// Autodiff devices of the data-parallel replicas beside the main device.
    replicas: Vec<Device>,
}

impl DaeTrainer {
    /// Starts training `model` (its weights also start the EMA) with `config` on `device`.
    pub fn new(model: DiffusionAutoencoder, config: TrainerConfig, device: &Device) -> crate::Result<Self> {
        let schedule = model.config.noise_schedule()?;
        let ema = model.clone().fork(device);
        let model = model.fork(&device.clone().autodiff()).train();
        let optimizer = AdamWConfig::new().with_epsilon(1e-8).with_weight_decay(config.weight_decay as f32).init();
        Ok(Self {
            model,
            ema,
            optimizer,
            schedule,
            config,
            step: 0,
            precision: Precision::F32,
            loss_scale: None,
            replicas: Vec::new(),
        })
    }

    /// The optimisation settings (a resumed run's are its checkpoint's).
    pub fn config(&self) -> &TrainerConfig {
        &self.config
    }

    /// Steps taken so far.
    pub fn step_count(&self) -> usize {
        self.step
    }

    /// The EMA weights (what inference uses).
    pub fn ema(&self) -> &DiffusionAutoencoder {
        &self.ema
    }

    /// The online weights, without gradient tracking.
    pub fn online(&self) -> DiffusionAutoencoder {
        self.model.valid()
    }

    /// Sets the precision of the passes from the next step on (f32 unless set; a resumed run
    /// continues in its own). Fails when `device` cannot compute in it.
    pub fn set_precision(&mut self, precision: Precision, device: &Device) -> crate::Result<()> {
        precision.check(device)?;
        if precision != self.precision {
            self.loss_scale = (precision == Precision::F16).then(LossScale::default);
            self.precision = precision;
        }
        Ok(())
    }

    /// The precision of the passes.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The current f16 loss scale, if training in f16.
    pub fn loss_scale(&self) -> Option<LossScale> {
        self.loss_scale
    }

    /// Trains data-parallel: each step splits its batch over the main device and `devices`
    /// (one shard each, in order), runs the passes of each shard on a copy of the weights
    /// there, and sums the gradients on the main device, where Adam and the EMA run (Burn's
    /// own `fork`, `GradientsParams::to_device` and `GradientsAccumulator`; burn-train's
    /// multi-device strategy does the same). An empty list trains on the main device alone.
    pub fn set_replicas(&mut self, devices: &[Device]) {
        self.replicas = devices.iter().map(|d| d.clone().autodiff()).collect();
    }

    /// One optimisation step on the batch `x0` [B, C, H, W] (in the model's input range);
    /// returns the batch's mean loss. In f16 a step whose gradients overflow updates nothing
    /// but the loss scale (and still counts as a step).
    pub fn step(&mut self, x0: Tensor<4>) -> f32 {
        let ad_device = self.model.devices()[0].clone();
        let x0 = x0.to_device(&ad_device);
        let [b, c, h, w] = x0.dims();
        let mut rng = ChaCha8Rng::seed_from_u64(self.config.seed);
        rng.set_stream(self.step as u64);
        let dropout_seed: u64 = rng.random();
        let t: Vec<usize> = (0..b).map(|_| rng.random_range(0..self.schedule.len())).collect();
        let noise: Vec<f32> = (0..b * c * h * w).map(|_| rng.sample(StandardNormal)).collect();
        let noise = Tensor::<4>::from_data(TensorData::new(noise, [b, c, h, w]), &ad_device);

        let mixed = self.precision != Precision::F32;
        let dtype = self.precision.dtype();
        // The passes run on a cast copy in mixed precision; its gradients key the master's ids.
        let (compute, x0, noise) = if mixed {
            (cast_module(self.model.clone(), dtype), x0.cast(dtype), noise.cast(dtype))
        } else {
            (self.model.clone(), x0, noise)
        };
        let scale = self.loss_scale.map_or(1.0, |s| s.scale);
        let (loss_value, mut grads) = self.gradients(&compute, x0, noise, &t, scale, dropout_seed);
        if mixed {
            map_grads(&compute, &mut grads, &mut |g| g.cast(FloatDType::F32) * (1.0 / scale));
        }
        self.step += 1;
        // One global norm serves the f16 overflow check and the clipping.
        let needs_norm = self.loss_scale.is_some() || self.config.grad_clip.is_some();
        let norm = if needs_norm { global_norm(&compute, &mut grads) } else { None };
        if let Some(loss_scale) = &mut self.loss_scale {
            let finite = norm.clone().is_some_and(|n| n.into_scalar::<f32>().is_finite());
            if !loss_scale.update(finite) {
                return loss_value;
            }
        }
        if let (Some(max_norm), Some(norm)) = (self.config.grad_clip, norm) {
            clip_to_norm(&compute, &mut grads, norm, max_norm);
        }
        // Modules are handles to shared tensors: the clones below copy no weights.
        self.model = self.optimizer.step(self.config.learning_rate, self.model.clone(), grads);
        self.ema = update_ema(self.ema.clone(), &self.model.valid(), self.config.ema_decay);
        loss_value
    }

    /// The gradients of the batch's mean loss times `scale` (on the main device) and the mean
    /// loss, computed on the main device alone or split over it and the replicas.
    fn gradients(
        &self,
        compute: &DiffusionAutoencoder,
        x0: Tensor<4>,
        noise: Tensor<4>,
        t: &[usize],
        scale: f64,
        dropout_seed: u64,
    ) -> (f32, GradientsParams) {
        let main = x0.device();
        let b = t.len();
        let devices: Vec<&Device> = std::iter::once(&main).chain(&self.replicas).take(b).collect();
        let mut accumulator = GradientsAccumulator::new();
        let mut losses = Vec::new();
        for (k, device) in devices.iter().enumerate() {
            let rows = k * b / devices.len()..(k + 1) * b / devices.len();
            let model = if k == 0 { compute.clone() } else { compute.clone().fork(device) };
            device.seed(dropout_seed.wrapping_add(k as u64)); // dropout
            let x = x0.clone().slice(rows.clone()).to_device(device);
            let n = noise.clone().slice(rows.clone()).to_device(device);
            let per_sample =
                noise_prediction_loss(&self.schedule, &model.conditioned(model.encode(x.clone())), x, &t[rows], n);
            // The shards' losses sum to the batch mean, so their gradients sum to its gradient.
            let loss = if devices.len() == 1 { per_sample.mean() } else { per_sample.sum() / b as f64 };
            let loss = loss.cast(FloatDType::F32);
            losses.push(loss.clone().detach().to_device(&main));
            let backward = if scale == 1.0 { loss.backward() } else { (loss * scale).backward() };
            let grads = GradientsParams::from_grads(backward, &model);
            if devices.len() == 1 {
                let total: f32 = losses.remove(0).into_scalar();
                return (total, grads);
            }
            accumulator.accumulate(&model, grads.to_device(&main, &model));
        }
        let total: f32 = Tensor::cat(losses, 0).sum().into_scalar();
        (total, accumulator.grads())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DaeConfig;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn small() -> DaeConfig {
        DaeConfig::new(16, 1, 1, 32, vec![1, 2], vec![1, 2]).with_attention_resolutions(vec![8])
    }

    fn trainer(seed: u64) -> DaeTrainer {
        trainer_in(seed, Precision::F32)
    }

    fn trainer_in(seed: u64, precision: Precision) -> DaeTrainer {
        let device = Device::flex();
        device.seed(3);
        let model = DiffusionAutoencoder::new(&small(), &device).unwrap();
        let mut trainer =
            DaeTrainer::new(model, TrainerConfig::new().with_seed(seed).with_ema_decay(0.5), &device).unwrap();
        trainer.set_precision(precision, &device).unwrap();
        trainer
    }

    fn batch() -> Tensor<4> {
        let device = Device::flex();
        Tensor::<4>::from_data(
            TensorData::new((0..4 * 256).map(|i| ((i % 17) as f32 / 8.5) - 1.0).collect(), [4, 1, 16, 16]),
            &device,
        )
    }

    /// The UNet's head weights: zero at initialisation, so the first step must move them
    /// (the encoder gets no gradient until the zero-initialised UNet branches have moved).
    fn head_weight(model: &DiffusionAutoencoder) -> Vec<f32> {
        model.unet.out_conv.weight.val().into_data().try_to_vec().unwrap()
    }

    #[test]
    fn steps_are_deterministic_and_move_online_and_ema_weights() {
        let mut a = trainer(11);
        let mut b = trainer(11);
        let start = head_weight(a.ema());
        let (la, lb) = (a.step(batch()), b.step(batch()));
        assert_eq!(la, lb);
        assert!(la.is_finite() && la > 0.0);
        assert_eq!(a.step_count(), 1);
        let online = head_weight(&a.online());
        let ema = head_weight(a.ema());
        assert!(online.iter().zip(&start).any(|(o, s)| o != s), "the online weights moved");
        // decay 0.5: the EMA sits halfway between the start and the online weights.
        for ((e, o), s) in ema.iter().zip(&online).zip(&start) {
            assert!((e - 0.5 * (o + s)).abs() < 1e-6);
        }
        let mut c = trainer(12);
        assert_ne!(c.step(batch()), la, "another seed draws other timesteps and noise");
    }

    /// bf16 and f16 passes give the f32 step's loss and update to half-precision accuracy;
    /// the master weights, the EMA and the checkpointed state stay f32.
    #[test]
    fn mixed_precision_steps_follow_the_f32_step() {
        let mut full = trainer(21);
        let full_loss = full.step(batch());
        let full_update: Vec<f32> = head_weight(&full.online());
        let scale = full_update.iter().fold(0f32, |m, v| m.max(v.abs()));
        for precision in [Precision::Bf16, Precision::F16] {
            let mut mixed = trainer_in(21, precision);
            if precision == Precision::F16 {
                // The default 2^16 overflows this model's first gradients (that step is skipped).
                mixed.loss_scale = Some(LossScale { scale: 256.0, good_steps: 0 });
            }
            let loss = mixed.step(batch());
            assert_ne!(loss, full_loss, "{precision:?}: the passes ran in half precision");
            assert!((loss - full_loss).abs() < 0.02 * full_loss, "{precision:?}: loss {loss} vs {full_loss}");
            let online = mixed.online();
            assert_eq!(online.unet.out_conv.weight.val().dtype(), burn::tensor::DType::F32);
            assert_eq!(mixed.ema().unet.out_conv.weight.val().dtype(), burn::tensor::DType::F32);
            let update = head_weight(&online);
            // Adam's first step moves each weight by the learning rate times its gradient's sign:
            // a gradient within half-precision rounding of zero may flip, so up to 2 % of the
            // weights may move the other way; all others agree to 5 % of the step.
            let flipped = update.iter().zip(&full_update).filter(|(a, b)| (*a - *b).abs() >= 0.05 * scale).count();
            assert!(flipped * 50 <= update.len(), "{precision:?}: {flipped} of {} updates differ", update.len());
            assert_eq!(mixed.loss_scale().map(|s| s.good_steps), (precision == Precision::F16).then_some(1));
        }
    }

    /// An f16 step whose scaled gradients overflow changes no weight and halves the scale.
    #[test]
    fn an_overflowing_f16_step_is_skipped() {
        let mut t = trainer_in(21, Precision::F16);
        t.loss_scale = Some(LossScale { scale: 1e30, good_steps: 5 });
        let before = head_weight(&t.online());
        assert!(t.step(batch()).is_finite());
        assert_eq!(head_weight(&t.online()), before);
        assert_eq!(t.loss_scale(), Some(LossScale { scale: 5e29, good_steps: 0 }));
        assert_eq!(t.step_count(), 1);
    }

    /// A step split over flex and ndarray (two devices) gives the one-device step, to float
    /// rounding (dropout off: its masks are drawn per device).
    #[cfg(feature = "ndarray")]
    #[test]
    fn a_step_split_over_two_devices_equals_the_one_device_step() {
        let make = || {
            let device = Device::flex();
            device.seed(3);
            let model = DiffusionAutoencoder::new(&small().with_dropout(0.0), &device).unwrap();
            DaeTrainer::new(model, TrainerConfig::new().with_seed(8), &device).unwrap()
        };
        let (mut one, mut two) = (make(), make());
        #[allow(deprecated)] // ndarray stands in for a second GPU here
        two.set_replicas(&[Device::ndarray()]);
        for _ in 0..2 {
            let (a, b) = (one.step(batch()), two.step(batch()));
            assert!((a - b).abs() < 1e-5, "losses {a} and {b}");
        }
        let encoder = |m: &DiffusionAutoencoder| -> Vec<f32> {
            m.encoder.out_conv.weight.val().into_data().try_to_vec().unwrap()
        };
        for (name, a, b) in [
            ("unet head", head_weight(&one.online()), head_weight(&two.online())),
            ("encoder head", encoder(&one.online()), encoder(&two.online())),
        ] {
            let err = a.iter().zip(&b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            let moved = a.iter().fold(0f32, |m, x| m.max(x.abs()));
            assert!(err < 1e-5 && moved > 0.0, "{name}: differs by {err}");
        }
    }
}
