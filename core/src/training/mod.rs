//! Unsupervised DAE training as the reference does it (LitModel.training_step): random
//! timestep and noise, the noise-prediction loss with the encoder inside, backward,
//! global gradient-norm clipping, Adam(W), optional 16-bit mixed precision, and an exponential moving average of the weights;
//! checkpoints that resume a run exactly.

#[cfg(feature = "store")]
pub mod checkpoint;
pub mod ema;
pub mod grad_clip;
pub mod precision;
#[cfg(not(target_arch = "wasm32"))]
pub mod reference_speed;
pub mod trainer;

pub use precision::{LossScale, Precision};
pub use trainer::{DaeTrainer, TrainerConfig};
