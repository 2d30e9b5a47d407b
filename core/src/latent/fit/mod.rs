//! Fitting heads: the classifier's hyperplane (linfa, or Burn on any device for large label
//! sets) and the calibration from distance to grade, with the checks that make bad label sets
//! fail with a clear message.

pub mod burn_solver;
pub mod calibrate;
pub mod cross_validate;
pub mod linfa_solver;

use burn::tensor::Device;
use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

pub use burn_solver::{BurnSolverConfig, SvmLoss};
pub use calibrate::fit_calibration;
pub use cross_validate::{CrossValidation, MeanSd, cross_validate};

use super::{CalibrationKind, CeDirection, ClassifierKind, FittedDirections, Head, Hyperplane, Standardizer, TaskSpec};
use crate::{DaecfError, Result};

/// Which solver fits the hyperplane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Solver {
    /// linfa below [`AUTO_BURN_FROM`] training samples, Burn from there on.
    Auto,
    /// linfa-svm (SMO, hinge loss) or linfa-logistic (L-BFGS): scikit-learn's objectives.
    Linfa,
    /// The Burn solver (L-BFGS with device-side loss): logistic, or an SVM with a smoothed (by
    /// default) or squared hinge.
    Burn,
}

/// From this many training samples on, [`Solver::Auto`] picks the Burn solver.
pub const AUTO_BURN_FROM: usize = 5000;

/// How a head is fitted.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadConfig {
    /// The classifier.
    pub classifier: ClassifierKind,
    /// Inverse regularisation strength C (default 1, as the paper).
    pub c: f64,
    /// The solver.
    pub solver: Solver,
    /// Standardise latents before fitting (the authors' editing code does; the paper's Table 4
    /// figures are without).
    pub standardize: bool,
    /// How distances map to grades.
    pub calibration: CalibrationKind,
    /// Stopping rule of the Burn solver.
    pub burn: BurnSolverConfig,
}

impl Default for HeadConfig {
    fn default() -> Self {
        Self {
            classifier: ClassifierKind::Svm,
            c: 1.0,
            solver: Solver::Auto,
            standardize: false,
            calibration: CalibrationKind::Linear,
            burn: BurnSolverConfig::default(),
        }
    }
}

impl HeadConfig {
    /// The solver that fits `n` training samples.
    pub fn solver_for(&self, n: usize) -> Solver {
        match self.solver {
            Solver::Auto if n >= AUTO_BURN_FROM => Solver::Burn,
            Solver::Auto => Solver::Linfa,
            chosen => chosen,
        }
    }
}

/// Fits a head for `task` on training latents and their labels (grades or classes).
///
/// The classifier trains on the samples whose label the task does not exclude; the calibration
/// on all of them. `device` runs the Burn solver.
pub fn fit_head(
    task: &TaskSpec,
    latents: ArrayView2<f32>,
    labels: &[i64],
    config: &HeadConfig,
    device: &Device,
) -> Result<Head> {
    check_inputs(task, latents, labels, config)?;
    let kept: Vec<usize> = (0..labels.len()).filter(|&i| task.trains_on(labels[i])).collect();
    let y: Vec<bool> = kept.iter().map(|&i| task.is_positive(labels[i])).collect();
    let n_pos = y.iter().filter(|&&p| p).count();
    if n_pos == 0 || n_pos == y.len() {
        return Err(DaecfError::Data(format!(
            "task '{}': the training samples are all {} ({} of them); a classifier needs both classes — \
             check --task's positive labels and the label column",
            task.name,
            if n_pos == 0 { "negative" } else { "positive" },
            y.len()
        )));
    }
    let standardizer = config.standardize.then(|| Standardizer::fit(latents.select(Axis(0), &kept).view()));
    let space: Array2<f32> = match &standardizer {
        Some(s) => s.apply(latents),
        None => latents.to_owned(),
    };
    let x = space.select(Axis(0), &kept);
    let hyperplane = fit_hyperplane(config, x.view(), &y, device)?;
    let distances = hyperplane.signed_distances(space.view());
    let calibration = fit_calibration(&config.calibration, &distances, labels)?;
    let mut head = Head {
        task: task.clone(),
        classifier: config.classifier,
        c: config.c,
        hyperplane,
        standardizer,
        calibration,
        ce_strength: super::counterfactual::paper_strength(),
        ce_direction: CeDirection::Normal,
        directions: None,
    };
    // On every training latent, the spread the decoder learned; a head whose gradient lies where
    // the latents do not vary keeps the normal alone (and says so when another is asked).
    head.directions = FittedDirections::fit(latents, ArrayView1::from(&head.gradient())).ok();
    Ok(head)
}

fn fit_hyperplane(config: &HeadConfig, x: ArrayView2<f32>, y: &[bool], device: &Device) -> Result<Hyperplane> {
    match (config.solver_for(x.nrows()), config.classifier) {
        (Solver::Burn, kind) => burn_solver::fit(kind, x, y, config.c, config.burn, device),
        (_, ClassifierKind::Svm) => linfa_solver::fit_svm(x.mapv(f64::from).view(), y, config.c),
        (_, ClassifierKind::Logreg) => linfa_solver::fit_logreg(x.mapv(f64::from).view(), y, config.c, 100),
    }
}

fn check_inputs(task: &TaskSpec, latents: ArrayView2<f32>, labels: &[i64], config: &HeadConfig) -> Result<()> {
    crate::metrics::check_lengths("fitting", latents.nrows(), labels.len())?;
    if !(config.c.is_finite() && config.c > 0.0) {
        return Err(DaecfError::Config(format!("C must be a positive number, not {}", config.c)));
    }
    if let Some(((i, j), v)) = latents.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(DaecfError::Data(format!("latent [{i}, {j}] is {v}; drop or re-encode that sample")));
    }
    let mut grades = labels.to_vec();
    grades.sort_unstable();
    grades.dedup();
    let named = task.positive.iter().flatten().chain(&task.exclude);
    if let Some(g) = named.into_iter().find(|g| grades.binary_search(g).is_err()) {
        return Err(DaecfError::Data(format!(
            "task '{}' names label {g}, but no training sample has it (labels present: {grades:?})",
            task.name
        )));
    }
    if grades.len() > 2
        && let Some(g) = (grades[0]..=grades[grades.len() - 1]).find(|g| grades.binary_search(g).is_err())
    {
        return Err(DaecfError::Data(format!(
            "grade {g} is empty: no training sample has it, but grades {} to {} occur; \
             grading needs every grade in the range",
            grades[0],
            grades[grades.len() - 1]
        )));
    }
    Ok(())
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;
    use ndarray::Array2;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Two Gaussian-ish clusters along the first axis, graded by position.
    fn toy(n: usize) -> (Array2<f32>, Vec<i64>) {
        let labels: Vec<i64> = (0..n).map(|i| (i % 4) as i64).collect();
        let x = Array2::from_shape_fn((n, 3), |(i, j)| {
            let jitter = (((i * 7 + j * 13) % 11) as f32 - 5.0) / 10.0;
            if j == 0 { labels[i] as f32 - 1.5 + jitter } else { jitter }
        });
        (x, labels)
    }

    #[test]
    fn every_solver_separates_a_graded_toy_set() {
        let (x, labels) = toy(80);
        let device = Device::flex();
        for classifier in [ClassifierKind::Svm, ClassifierKind::Logreg] {
            for solver in [Solver::Linfa, Solver::Burn] {
                for standardize in [false, true] {
                    let config = HeadConfig { classifier, solver, standardize, ..HeadConfig::default() };
                    let head = fit_head(&TaskSpec::new("toy"), x.view(), &labels, &config, &device).unwrap();
                    let e = head.evaluate(x.view(), &labels).unwrap();
                    assert!(e.auc > 0.95, "{classifier:?} {solver:?} {standardize}: auc {}", e.auc);
                    let g = e.grading.unwrap();
                    assert!(g.mae < 0.5, "{classifier:?} {solver:?}: mae {}", g.mae);
                    assert_eq!(head.directions.as_ref().map(|d| d.samples), Some(80), "fitted on every latent");
                }
            }
        }
    }

    #[test]
    fn bad_label_sets_are_refused_with_reasons() {
        let (x, labels) = toy(40);
        let device = Device::flex();
        let config = HeadConfig::default();
        let err = |task: &TaskSpec, labels: &[i64]| {
            fit_head(task, x.view(), labels, &config, &device).unwrap_err().to_string()
        };
        let single = err(&TaskSpec::new("t"), &[2; 40]);
        assert!(single.contains("all positive"), "{single}");
        let gap: Vec<i64> = labels.iter().map(|&l| if l == 2 { 3 } else { l }).collect();
        assert!(err(&TaskSpec::new("t"), &gap).contains("grade 2 is empty"));
        assert!(err(&TaskSpec::parse("t:positive=7").unwrap(), &labels).contains("label 7"));
        assert!(err(&TaskSpec::new("t"), &labels[..10]).contains("40 samples but 10 labels"));
        let mut nan = x.clone();
        nan[[3, 1]] = f32::NAN;
        let msg = fit_head(&TaskSpec::new("t"), nan.view(), &labels, &config, &device).unwrap_err().to_string();
        assert!(msg.contains("[3, 1] is NaN"), "{msg}");
    }
}
