//! Pipelines that put the model and the sampler together (diffusers' split: models,
//! schedulers, pipelines): reconstruction through the latent, and counterfactuals.

pub mod counterfactual;
pub mod reconstruct;

pub use counterfactual::{CeJob, CeObserver, CeSteps, Explanations, ImageExplanation, PlanFn, explain};
pub use reconstruct::{Reconstruction, reconstruct};
