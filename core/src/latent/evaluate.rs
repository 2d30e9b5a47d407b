//! A head evaluated on labelled latents: the binary task's figures (ROC-AUC on decision
//! scores and on hard labels, F1, accuracy) and, for graded labels, the grading figures
//! (MAE of the calibrated grade, macro-F1 of the rounded grades, clipped and unclipped,
//! per-grade recall, confusion matrix), as in the paper's Table 4.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::Head;
use crate::Result;
use crate::metrics::{Confusion, accuracy, f1_score, mean_absolute_error, roc_auc, round_grades};

/// Figures of one head on one split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Samples in the binary task (excluded labels left out).
    pub n: usize,
    /// Of which positive.
    pub n_positive: usize,
    /// ROC-AUC on the signed distances (the usual definition).
    pub auc: f64,
    /// ROC-AUC on the 0/1 predictions (what the paper reported).
    pub auc_hard: f64,
    /// F1 of the positive class.
    pub f1: f64,
    /// Binary accuracy.
    pub accuracy: f64,
    /// Grading figures, for graded labels.
    #[serde(flatten)]
    pub grading: Option<GradingEvaluation>,
}

/// Figures of a head's calibrated grades on one split (all samples, excluded labels included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradingEvaluation {
    /// Mean absolute error of the continuous calibrated grade (as the paper's Table 4).
    pub mae: f64,
    /// Mean absolute error of the rounded, clipped grade.
    pub mae_rounded: f64,
    /// Macro-F1 of the rounded grades clipped to the grade range.
    pub macro_f1: f64,
    /// Macro-F1 of the rounded grades without clipping (out-of-range grades count as classes).
    pub macro_f1_unclipped: f64,
    /// Recall of each true grade, as (grade, recall).
    pub recall_per_grade: Vec<(i64, f64)>,
    /// Confusion matrix of the rounded, clipped grades.
    pub confusion: Confusion,
}

/// Per-sample outputs of a head, the raw material of evaluation and plots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predictions {
    /// Signed distance of each sample.
    pub distance: Vec<f32>,
    /// Predicted class (distance > 0).
    pub positive: Vec<bool>,
    /// Continuous calibrated grade.
    pub grade_continuous: Vec<f64>,
    /// Rounded grade clipped to the grade range.
    pub grade: Vec<i64>,
}

impl Head {
    /// Distances, classes and grades of the rows of `latents`.
    pub fn predict(&self, latents: ArrayView2<f32>) -> Result<Predictions> {
        let distance = self.distances(latents)?;
        let grade_continuous: Vec<f64> = distance.iter().map(|&d| self.calibration.predict(d as f64)).collect();
        Ok(Predictions {
            positive: distance.iter().map(|&d| d > 0.0).collect(),
            grade: round_grades(&grade_continuous, Some(self.calibration.grade_range)),
            distance,
            grade_continuous,
        })
    }

    /// The head's figures on `latents` with their true `labels`.
    pub fn evaluate(&self, latents: ArrayView2<f32>, labels: &[i64]) -> Result<Evaluation> {
        let pred = self.predict(latents)?;
        crate::metrics::check_lengths("evaluation", pred.distance.len(), labels.len())?;
        let kept: Vec<usize> = (0..labels.len()).filter(|&i| self.task.trains_on(labels[i])).collect();
        let truth: Vec<bool> = kept.iter().map(|&i| self.task.is_positive(labels[i])).collect();
        let hard: Vec<bool> = kept.iter().map(|&i| pred.positive[i]).collect();
        let scores: Vec<f32> = kept.iter().map(|&i| pred.distance[i]).collect();
        let hard_scores: Vec<f32> = hard.iter().map(|&p| p as u8 as f32).collect();
        let grading = if self.is_graded() { Some(self.grade(&pred, labels)?) } else { None };
        Ok(Evaluation {
            n: kept.len(),
            n_positive: truth.iter().filter(|&&p| p).count(),
            auc: roc_auc(&scores, &truth)?,
            auc_hard: roc_auc(&hard_scores, &truth)?,
            f1: f1_score(&hard, &truth)?,
            accuracy: accuracy(&hard, &truth)?,
            grading,
        })
    }

    fn grade(&self, pred: &Predictions, labels: &[i64]) -> Result<GradingEvaluation> {
        let confusion = Confusion::new(&pred.grade, labels)?;
        let unclipped = Confusion::new(&round_grades(&pred.grade_continuous, None), labels)?;
        let recall_per_grade =
            confusion.labels.iter().zip(confusion.recall()).filter_map(|(&g, r)| r.map(|r| (g, r))).collect();
        let rounded: Vec<f64> = pred.grade.iter().map(|&g| g as f64).collect();
        Ok(GradingEvaluation {
            mae: mean_absolute_error(&pred.grade_continuous, labels)?,
            mae_rounded: mean_absolute_error(&rounded, labels)?,
            macro_f1: confusion.macro_f1(),
            macro_f1_unclipped: unclipped.macro_f1(),
            recall_per_grade,
            confusion,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::head::tests::toy_head;
    use ndarray::array;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn evaluation_by_hand() {
        // d = first coordinate; grade = 1 + d clipped to 0..3; positive = label > 0.
        let head = toy_head(None);
        let x = array![[-1.2f32, 0.0], [-0.4, 0.0], [0.3, 0.0], [0.9, 0.0], [2.6, 0.0]];
        let labels = [0, 1, 1, 2, 3];
        let e = head.evaluate(x.view(), &labels).unwrap();
        // Predicted positive: samples 2, 3, 4; truth positive: 1, 2, 3, 4.
        assert_eq!((e.n, e.n_positive), (5, 4));
        assert_eq!(e.accuracy, 0.8);
        assert!((e.f1 - 6.0 / 7.0).abs() < 1e-12);
        assert_eq!(e.auc, 1.0);
        assert!((e.auc_hard - 0.875).abs() < 1e-12);
        let g = e.grading.unwrap();
        // Continuous grades -0.2, 0.6, 1.3, 1.9, 3.6 -> rounded 0, 1, 1, 2, 4 (clipped to 3).
        assert!((g.mae - (0.2 + 0.4 + 0.3 + 0.1 + 0.6) / 5.0).abs() < 1e-6);
        assert_eq!(g.mae_rounded, 0.0);
        assert_eq!(g.macro_f1, 1.0);
        assert!((g.macro_f1_unclipped - 0.6).abs() < 1e-12); // 3 -> 4: F1 0 for 3 and 4, 3 of 5 right
        assert_eq!(g.recall_per_grade, vec![(0, 1.0), (1, 1.0), (2, 1.0), (3, 1.0)]);
    }
}
