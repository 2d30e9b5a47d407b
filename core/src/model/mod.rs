//! The Diffusion Autoencoder: its config and presets, the building blocks (timestep
//! embedding, conditioned residual block, attention, resampling), the UNet, the semantic
//! encoder, and weight loading.

pub mod attention;
pub mod autoencoder;
pub mod config;
pub mod embedding;
pub mod encoder;
pub mod fused;
pub mod layer;
pub mod norm;
pub mod reference;
pub mod resblock;
pub mod unet;
#[cfg(feature = "store")]
pub mod weights;

pub use autoencoder::{Conditioned, DiffusionAutoencoder};
pub use config::{DaeConfig, InputRange, Preset};
pub use reference::ReferenceConfig;
#[cfg(feature = "store")]
pub use weights::{CheckpointCopy, read_checkpoint_config};
