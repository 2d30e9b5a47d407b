//! # daecf-core
//!
//! Everything both the native CLI and the browser app need to explain image classifiers with
//! a Diffusion Autoencoder (DAE): the model, the diffusion process, the latent-space heads,
//! data readers and metrics. Nothing here names a backend: Burn chooses it
//! through the [`Device`](burn::tensor::Device) at run time.
//!
//! - [`model`]: the DAE (UNet + semantic encoder), configs and presets, weight loading.
//! - [`diffusion`]: beta schedule, respacing, q_sample, training loss, DDIM render/encode.
//! - [`latent`]: heads on z_sem: hyperplane, signed distance, calibration to grades, CE moves,
//!   and (feature `fit`) fitting them with linfa or Burn.
//! - [`pipeline`]: model and sampler together: reconstruction (and counterfactuals).
//! - [`data`]: data sets: images (folders, MedMNIST archives) and latents files.
//! - [`metrics`]: ROC-AUC (scores and hard labels), F1, accuracy, macro-F1, MAE, confusion.
//! - [`training`]: the reference's training step (Adam, global-norm clipping, EMA).

pub mod data;
pub mod diffusion;
pub mod error;
pub mod latent;
pub mod metrics;
pub mod model;
pub mod pipeline;
#[cfg(feature = "train")]
pub mod training;

pub use error::{DaecfError, Result};
