//! The latent space z_sem and what lives in it (steps 2 to 4 of the method, Atad et al.,
//! MELBA 2024): a task's classifier hyperplane and the signed distance to it, the calibration
//! from distance to grade and its inverse, the moves that counterfactuals are made of (along
//! the normal or the latents' covariance), head files, and (feature `fit`) fitting heads with linfa or with Burn.

pub mod calibration;
pub mod counterfactual;
pub mod direction;
pub mod evaluate;
#[cfg(feature = "fit")]
pub mod fit;
pub mod head;
pub mod hyperplane;
pub mod standardize;
pub mod task;

pub use calibration::{Calibration, CalibrationKind};
pub use counterfactual::{CeMove, CeRequest, CeTarget, CounterfactualPlan, lands_on_asked_side, realised_share};
pub use direction::{CeDirection, FittedDirections};
pub use evaluate::{Evaluation, GradingEvaluation, Predictions};
pub use head::{ClassifierKind, Head, HeadFile};
pub use hyperplane::Hyperplane;
pub use standardize::Standardizer;
pub use task::TaskSpec;
