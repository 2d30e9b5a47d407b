//! Deterministic DDIM (Song et al., ICLR 2021; eta = 0), run forwards to render an image from
//! its noise map and backwards for the DAE's "stochastic encoding" x0 -> x_T (Preechakul et al.,
//! CVPR 2022, sec. 3.2), exactly as the reference's `ddim_sample_loop` and
//! `ddim_reverse_sample_loop`: the predicted x0 is clipped to [-1, 1] at every step and the
//! noise re-derived from the clipped x0 before the update.

use std::ops::ControlFlow;

use burn::tensor::Tensor;

use super::{NoisePredictor, NoiseSchedule};
use crate::error::{DaecfError, Result};

/// Called after each of `total` steps with the number done; `Break` cancels the loop.
pub type StepObserver<'a> = &'a mut dyn FnMut(usize, usize) -> ControlFlow<()>;

/// A DDIM sampler over a respaced schedule.
#[derive(Debug, Clone)]
pub struct DdimSampler {
    schedule: NoiseSchedule,
}

impl DdimSampler {
    /// A sampler with `steps` DDIM steps respaced over `base` (e.g. the 1000-step linear
    /// schedule): the paper renders with 100 and encodes with 250.
    pub fn new(base: &NoiseSchedule, steps: usize) -> Result<Self> {
        Ok(Self { schedule: base.respaced(steps)? })
    }

    /// The respaced schedule (its `timesteps` are the reference's `timestep_map`).
    pub fn schedule(&self) -> &NoiseSchedule {
        &self.schedule
    }

    /// Number of steps.
    pub fn steps(&self) -> usize {
        self.schedule.len()
    }

    /// The clipped x0 prediction at step `k` and the noise re-derived from it.
    fn predict(&self, model: &impl NoisePredictor, x: Tensor<4>, k: usize) -> (Tensor<4>, Tensor<4>) {
        let batch = x.dims()[0];
        let t = Tensor::<1>::full([batch], self.schedule.timesteps[k] as f32, &x.device());
        let eps = model.predict_noise(x.clone(), t);
        let ab = self.schedule.alphas_cumprod[k];
        let sqrt_recip = (1.0 / ab).sqrt() as f32;
        let sqrt_recip_m1 = (1.0 / ab - 1.0).sqrt() as f32;
        let scaled = x * sqrt_recip;
        let x0 = (scaled.clone() - eps * sqrt_recip_m1).clamp(-1.0, 1.0);
        let eps = (scaled - x0.clone()) / sqrt_recip_m1;
        (x0, eps)
    }

    /// Moves `x` to the noise level `alpha_bar` (cast to f32 first, as the reference).
    fn to_level(x0: Tensor<4>, eps: Tensor<4>, alpha_bar: f64) -> Tensor<4> {
        let ab = alpha_bar as f32;
        x0 * ab.sqrt() + eps * (1.0 - ab).sqrt()
    }

    /// One render step from step `k` to `k - 1` (at `k = 0` the result is the clipped x0).
    pub fn render_step(&self, model: &impl NoisePredictor, x: Tensor<4>, k: usize) -> Tensor<4> {
        let (x0, eps) = self.predict(model, x, k);
        Self::to_level(x0, eps, self.schedule.alpha_cumprod_prev(k))
    }

    /// One inversion step from step `k` to `k + 1` (after the last step the result is the
    /// re-derived noise).
    pub fn reverse_step(&self, model: &impl NoisePredictor, x: Tensor<4>, k: usize) -> Tensor<4> {
        let (x0, eps) = self.predict(model, x, k);
        Self::to_level(x0, eps, self.schedule.alpha_cumprod_next(k))
    }

    /// Renders images from noise maps `x_t` [B, C, H, W].
    pub fn render(&self, model: &impl NoisePredictor, x_t: Tensor<4>) -> Tensor<4> {
        self.render_with(model, x_t, &mut |_, _| ControlFlow::Continue(()))
            .expect("an observer that never breaks cannot cancel")
    }

    /// Stochastic encoding: the noise maps x_T [B, C, H, W] that render back to `x0`.
    pub fn encode(&self, model: &impl NoisePredictor, x0: Tensor<4>) -> Tensor<4> {
        self.encode_with(model, x0, &mut |_, _| ControlFlow::Continue(()))
            .expect("an observer that never breaks cannot cancel")
    }

    /// [`render`](Self::render), reporting each step to `observer`, which may cancel.
    pub fn render_with(
        &self,
        model: &impl NoisePredictor,
        mut x: Tensor<4>,
        observer: StepObserver,
    ) -> Result<Tensor<4>> {
        let n = self.steps();
        for (done, k) in (0..n).rev().enumerate() {
            x = self.render_step(model, x, k);
            observer(done + 1, n).is_continue().then_some(()).ok_or(DaecfError::Cancelled)?;
        }
        Ok(x)
    }

    /// [`encode`](Self::encode), reporting each step to `observer`, which may cancel.
    pub fn encode_with(
        &self,
        model: &impl NoisePredictor,
        mut x: Tensor<4>,
        observer: StepObserver,
    ) -> Result<Tensor<4>> {
        let n = self.steps();
        for k in 0..n {
            x = self.reverse_step(model, x, k);
            observer(k + 1, n).is_continue().then_some(()).ok_or(DaecfError::Cancelled)?;
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// A predictor whose x0 estimate is always the same image, inside [-1, 1]: DDIM must then
    /// render exactly that image from any noise.
    fn constant_x0(target: Tensor<4>, schedule: NoiseSchedule) -> impl Fn(Tensor<4>, Tensor<1>) -> Tensor<4> {
        move |x: Tensor<4>, t: Tensor<1>| {
            let step: f32 = t.into_data().try_to_vec::<f32>().unwrap()[0];
            let ab = schedule.alphas_cumprod[step as usize];
            (x - target.clone() * ab.sqrt() as f32) / (1.0 - ab).sqrt() as f32
        }
    }

    #[test]
    fn render_recovers_a_known_x0_and_can_be_cancelled() {
        let device = Device::flex();
        let base = NoiseSchedule::linear(1000).unwrap();
        let target = Tensor::<4>::from_floats([[[[0.5, -0.25], [0.0, 0.9]]]], &device);
        let model = constant_x0(target.clone(), base.clone());
        let sampler = DdimSampler::new(&base, 10).unwrap();
        let noise = Tensor::<4>::from_floats([[[[1.0, -2.0], [0.3, 0.1]]]], &device);
        let out = sampler.render(&model, noise.clone());
        let err: f32 = (out - target).abs().max().into_scalar();
        assert!(err < 1e-5, "{err}");

        let mut seen = 0;
        let cancelled = sampler.render_with(&model, noise, &mut |done, _| {
            seen = done;
            if done == 3 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        });
        assert!(matches!(cancelled, Err(DaecfError::Cancelled)));
        assert_eq!(seen, 3);
    }
}
