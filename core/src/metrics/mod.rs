//! Evaluation metrics for heads and graders, with scikit-learn's definitions so that figures
//! compare with the paper's: ROC-AUC on decision scores and on hard 0/1 predictions (the paper
//! reported the latter), F1, accuracy, macro-F1, MAE, per-grade recall and the confusion matrix;
//! image similarity (MSE, PSNR, SSIM) for reconstructions and counterfactuals; and COUT, the
//! counterfactual-transition score.

pub mod classification;
pub mod cout;
pub mod grading;
pub mod image;
pub mod roc;

pub use classification::{Confusion, accuracy, f1_score};
pub use grading::{mean_absolute_error, round_grades};
pub use roc::{RocCurve, roc_auc};

use crate::{DaecfError, Result};

/// Checks that two per-sample slices have the same, non-zero length.
pub(crate) fn check_lengths(what: &str, a: usize, b: usize) -> Result<()> {
    if a != b {
        return Err(DaecfError::Data(format!("{what}: {a} samples but {b} labels; give one label per sample")));
    }
    if a == 0 {
        return Err(DaecfError::Data(format!("{what}: no samples to evaluate")));
    }
    Ok(())
}
