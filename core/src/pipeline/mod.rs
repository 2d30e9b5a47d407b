//! Pipelines that put the model and the sampler together (diffusers' split: models,
//! schedulers, pipelines): reconstruction through the latent, and (later) counterfactuals.

pub mod reconstruct;

pub use reconstruct::{Reconstruction, reconstruct};
