//! # daecf-core
//!
//! Everything both the native CLI and the browser app need to explain image classifiers with
//! a Diffusion Autoencoder (DAE): the model, the diffusion process, and (in later modules) the
//! latent-space heads, data readers and metrics. Nothing here names a backend: Burn chooses it
//! through the [`Device`](burn::tensor::Device) at run time.
//!
//! - [`model`]: the DAE (UNet + semantic encoder), configs and presets, weight loading.
//! - [`diffusion`]: beta schedule, respacing, q_sample, training loss, DDIM render/encode.
//! - [`training`]: the reference's training step (Adam, global-norm clipping, EMA).

pub mod diffusion;
pub mod error;
pub mod model;
#[cfg(feature = "train")]
pub mod training;

pub use error::{DaecfError, Result};
