//! The diffusion process: the beta schedule and its respacing, forward noising and the
//! training loss, and the deterministic DDIM sampler run both ways (render and stochastic
//! encoding). Nothing here knows the network: samplers take any [`NoisePredictor`].

pub mod ddim;
pub mod loss;
pub mod schedule;

pub use ddim::DdimSampler;
pub use loss::{noise_prediction_loss, q_sample};
pub use schedule::{BetaSchedule, NoiseSchedule};

use burn::tensor::Tensor;

/// Anything that predicts the noise in `x_t` at timesteps `t` (original indices, as float).
///
/// The DAE's UNet conditioned on a semantic latent is one; a closure is another.
pub trait NoisePredictor {
    /// Predicts the noise `eps` [B, C, H, W] in `x_t` [B, C, H, W] at timesteps `t` [B].
    fn predict_noise(&self, x_t: Tensor<4>, t: Tensor<1>) -> Tensor<4>;
}

impl<F: Fn(Tensor<4>, Tensor<1>) -> Tensor<4>> NoisePredictor for F {
    fn predict_noise(&self, x_t: Tensor<4>, t: Tensor<1>) -> Tensor<4> {
        self(x_t, t)
    }
}
