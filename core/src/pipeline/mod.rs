//! Pipelines that put the model and the sampler together (diffusers' split: models,
//! schedulers, pipelines): reconstruction through the latent, counterfactuals, and rendered
//! images encoded again.

pub mod counterfactual;
pub mod reconstruct;
pub mod reencode;

pub use counterfactual::{
    CeJob, CeObserver, CeSteps, Explanations, ImageExplanation, PlanFn, RenderJob, RenderShare, explain,
};
pub use reconstruct::{Reconstruction, reconstruct};
pub use reencode::{explanation_reports, read_rows, read_values, reencoded_distances};
