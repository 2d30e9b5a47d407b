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
//! - [`report`]: the JSON report of an explained image and its pictures (difference overlays,
//!   animations), the same from the CLI and the browser.
//! - [`data`]: data sets: images (folders, MedMNIST archives) and latents files.
//! - [`metrics`]: ROC-AUC (scores and hard labels), F1, accuracy, macro-F1, MAE, confusion.
//! - [`named`]: the options with a fixed set of named values.
//! - [`training`]: the reference's training step (Adam, global-norm clipping, EMA).

pub mod data;
pub mod diffusion;
pub mod error;
pub mod latent;
pub mod metrics;
pub mod model;
pub mod named;
pub mod pipeline;
pub mod report;
#[cfg(feature = "train")]
pub mod training;

// On wasm32 the unit tests run in a browser (wasm-bindgen-test-runner with headless Chromium).
#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

pub use error::{DaecfError, Result};
