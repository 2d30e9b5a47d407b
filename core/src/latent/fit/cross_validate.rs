//! k-fold cross-validation of a head: fitted k times, each time on all folds but one and
//! measured on that one, for a figure that uses every labelled latent when there are too few to
//! spare a validation split. Folds are stratified by label and, with groups, keep each group
//! (patient) in one fold ([`crate::data::split::folds`]).

use burn::tensor::Device;
use ndarray::{ArrayView2, Axis};
use serde::Serialize;

use super::{HeadConfig, fit_head};
use crate::data::split::folds;
use crate::latent::{Evaluation, TaskSpec};
use crate::{DaecfError, Result};

/// A figure's mean and standard deviation over the folds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanSd {
    /// Mean over the folds.
    pub mean: f64,
    /// Sample standard deviation over the folds.
    pub sd: f64,
}

impl MeanSd {
    fn of(values: impl Iterator<Item = f64>) -> Self {
        let values: Vec<f64> = values.collect();
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        Self { mean, sd: var.sqrt() }
    }
}

/// The figures of a k-fold cross-validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrossValidation {
    /// Number of folds.
    pub folds: usize,
    /// Seed of the folds' draw.
    pub seed: u64,
    /// Whether folds kept groups whole.
    pub grouped: bool,
    /// ROC-AUC on the signed distances.
    pub auc: MeanSd,
    /// Binary accuracy.
    pub accuracy: MeanSd,
    /// F1 of the positive class.
    pub f1: MeanSd,
    /// Mean absolute error of the calibrated grade, for graded labels.
    pub mae: Option<MeanSd>,
    /// Each fold's figures.
    pub per_fold: Vec<Evaluation>,
}

/// Cross-validates a head for `task` on `latents` and `labels` over `k` folds (seeded with
/// `seed`, grouped by `groups` when given).
#[allow(clippy::too_many_arguments)]
pub fn cross_validate(
    task: &TaskSpec,
    latents: ArrayView2<f32>,
    labels: &[i64],
    groups: Option<&[String]>,
    config: &HeadConfig,
    k: usize,
    seed: u64,
    device: &Device,
) -> Result<CrossValidation> {
    let held = folds(labels, groups, k, seed)?;
    let mut per_fold = Vec::with_capacity(k);
    for (f, test) in held.iter().enumerate() {
        let in_fold = {
            let mut mask = vec![false; labels.len()];
            test.iter().for_each(|&r| mask[r] = true);
            mask
        };
        let train: Vec<usize> = (0..labels.len()).filter(|&r| !in_fold[r]).collect();
        let pick =
            |rows: &[usize]| (latents.select(Axis(0), rows), rows.iter().map(|&r| labels[r]).collect::<Vec<_>>());
        let fold_error = |e: DaecfError| {
            DaecfError::Data(format!("cross-validation fold {} of {k}: {e}; fewer folds (--folds) may help", f + 1))
        };
        let (x, y) = pick(&train);
        let head = fit_head(task, x.view(), &y, config, device).map_err(fold_error)?;
        let (x, y) = pick(test);
        per_fold.push(head.evaluate(x.view(), &y).map_err(fold_error)?);
    }
    let grading: Option<Vec<f64>> = per_fold.iter().map(|e| e.grading.as_ref().map(|g| g.mae)).collect();
    Ok(CrossValidation {
        folds: k,
        seed,
        grouped: groups.is_some(),
        auc: MeanSd::of(per_fold.iter().map(|e| e.auc)),
        accuracy: MeanSd::of(per_fold.iter().map(|e| e.accuracy)),
        f1: MeanSd::of(per_fold.iter().map(|e| e.f1)),
        mae: grading.map(|maes| MeanSd::of(maes.into_iter())),
        per_fold,
    })
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn folds_measure_a_separable_task_and_name_a_fold_that_fails() {
        // Two clusters of 40 in 4D, grades 0 (negative) and 1.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let labels: Vec<i64> = (0..80).map(|i| i64::from(i >= 40)).collect();
        let latents = Array2::from_shape_fn((80, 4), |(i, j)| {
            let centre = if labels[i] == 1 && j == 0 { 2.0 } else { 0.0 };
            centre + rng.random_range(-0.5..0.5)
        });
        let task = TaskSpec::new("task");
        let config = HeadConfig::default();
        let device = Device::flex();
        let cv = cross_validate(&task, latents.view(), &labels, None, &config, 5, 0, &device).unwrap();
        assert_eq!((cv.folds, cv.per_fold.len(), cv.grouped), (5, 5, false));
        assert!(cv.auc.mean > 0.99 && cv.auc.sd < 0.02, "{:?}", cv.auc);
        assert_eq!(cv.per_fold.iter().map(|e| e.n).sum::<usize>(), 80, "every latent measured once");
        // Groups of 20: four groups, two per class; five folds cannot keep them whole.
        let groups: Vec<String> = (0..80).map(|i| format!("g{}", i / 20)).collect();
        let err = cross_validate(&task, latents.view(), &labels, Some(&groups), &config, 5, 0, &device).unwrap_err();
        assert!(err.to_string().contains("2 to 4 folds"), "{err}");
        // Two folds of whole groups: each fold holds one group per class.
        let cv = cross_validate(&task, latents.view(), &labels, Some(&groups), &config, 2, 0, &device).unwrap();
        assert!(cv.grouped && cv.auc.mean > 0.99, "{cv:?}");
    }
}
