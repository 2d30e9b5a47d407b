//! Forward noising q(x_t | x0) and the DAE's training loss (Preechakul et al., CVPR 2022,
//! eq. 1; the "simple" loss of Ho et al., 2020): the mean squared error between the true and
//! the predicted noise.

use burn::tensor::Tensor;

use super::{NoisePredictor, NoiseSchedule};

/// Per-sample coefficient tensor [B, 1, 1, 1] of `f(alpha_bar_t)`, computed in float64.
fn coefficients(schedule: &NoiseSchedule, t: &[usize], like: &Tensor<4>, f: impl Fn(f64) -> f64) -> Tensor<4> {
    let values: Vec<f32> = t.iter().map(|&i| f(schedule.alphas_cumprod[i]) as f32).collect();
    Tensor::<1>::from_floats(values.as_slice(), &like.device()).cast(like.dtype()).reshape([t.len(), 1, 1, 1])
}

/// Noises `x0` [B, C, H, W] to timesteps `t` (one per sample):
/// `sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise`.
pub fn q_sample(schedule: &NoiseSchedule, x0: Tensor<4>, t: &[usize], noise: Tensor<4>) -> Tensor<4> {
    let a = coefficients(schedule, t, &x0, f64::sqrt);
    let b = coefficients(schedule, t, &x0, |ab| (1.0 - ab).sqrt());
    x0 * a + noise * b
}

/// The per-sample training loss [B]: mean over C, H, W of `(noise - model(x_t, t))^2` with
/// `x_t = q_sample(x0, t, noise)`. The predictor must already hold the sample's
/// conditioning (for the DAE: `z_sem` of `x0`, so the encoder trains end to end).
pub fn noise_prediction_loss(
    schedule: &NoiseSchedule,
    model: &impl NoisePredictor,
    x0: Tensor<4>,
    t: &[usize],
    noise: Tensor<4>,
) -> Tensor<1> {
    let x_t = q_sample(schedule, x0, t, noise.clone());
    let steps: Vec<f32> = t.iter().map(|&i| schedule.timesteps[i] as f32).collect();
    let t_tensor = Tensor::<1>::from_floats(steps.as_slice(), &x_t.device());
    let eps = model.predict_noise(x_t, t_tensor);
    let [b, c, h, w] = eps.dims();
    (eps - noise).powi_scalar(2).reshape([b, c * h * w]).mean_dim(1).reshape([b])
}
