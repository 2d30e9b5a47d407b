//! The receiver operating characteristic: the curve and the area under it (ROC-AUC).
//!
//! The AUC is the Mann-Whitney statistic: the probability that a random positive scores
//! above a random negative, ties counting one half. This equals the trapezoidal area under the
//! curve that scikit-learn's `roc_auc_score` gives, also for hard 0/1 "scores".

use super::check_lengths;
use crate::{DaecfError, Result};

/// ROC-AUC of `scores` (higher = more positive) against binary labels.
///
/// Pass decision scores for the usual AUC, or 0/1 predictions for the "AUC on hard labels"
/// that the paper reported. Fails when the labels hold only one class.
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> Result<f64> {
    check_lengths("ROC-AUC", scores.len(), positive.len())?;
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Err(DaecfError::Data(
            "ROC-AUC needs both positive and negative samples, but the labels hold one class only; \
             measure on a set with both (more samples, or other --positive/--exclude labels)"
                .into(),
        ));
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(DaecfError::Data(format!("ROC-AUC: score {i} is {}", scores[i])));
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut rank_sum = 0.0f64;
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && scores[order[end + 1]] == scores[order[start]] {
            end += 1;
        }
        let mean_rank = (start + end) as f64 / 2.0 + 1.0;
        rank_sum += mean_rank * order[start..=end].iter().filter(|&&i| positive[i]).count() as f64;
        start = end + 1;
    }
    let (p, n) = (n_pos as f64, n_neg as f64);
    Ok((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// The ROC curve: false and true positive rates at every distinct threshold, from (0, 0) to
/// (1, 1), for plotting.
#[derive(Debug, Clone, PartialEq)]
pub struct RocCurve {
    /// False positive rate at each threshold.
    pub fpr: Vec<f64>,
    /// True positive rate at each threshold.
    pub tpr: Vec<f64>,
}

impl RocCurve {
    /// The curve of `scores` against binary labels (both classes must be present).
    pub fn new(scores: &[f32], positive: &[bool]) -> Result<Self> {
        roc_auc(scores, positive)?; // same checks
        let n_pos = positive.iter().filter(|&&p| p).count() as f64;
        let n_neg = positive.len() as f64 - n_pos;
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let (mut fpr, mut tpr) = (vec![0.0], vec![0.0]);
        let (mut tp, mut fp) = (0.0, 0.0);
        for (k, &i) in order.iter().enumerate() {
            if positive[i] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            let last_of_tie = order.get(k + 1).is_none_or(|&j| scores[j] != scores[i]);
            if last_of_tie {
                fpr.push(fp / n_neg);
                tpr.push(tp / n_pos);
            }
        }
        Ok(Self { fpr, tpr })
    }

    /// The trapezoidal area under the curve (equals [`roc_auc`]).
    pub fn area(&self) -> f64 {
        self.fpr.windows(2).zip(self.tpr.windows(2)).map(|(f, t)| (f[1] - f[0]) * (t[1] + t[0]) / 2.0).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn auc_counts_ordered_pairs_and_half_ties() {
        // Positives 0.8, 0.4; negatives 0.5, 0.1: pairs (0.8>0.5, 0.8>0.1, 0.4<0.5, 0.4>0.1) -> 3/4.
        let auc = roc_auc(&[0.8, 0.5, 0.4, 0.1], &[true, false, true, false]).unwrap();
        assert!((auc - 0.75).abs() < 1e-12);
        // A tie between a positive and a negative counts one half: (1 + 0.5) / 2.
        let auc = roc_auc(&[0.5, 0.5, 0.9], &[true, false, true]).unwrap();
        assert!((auc - 0.75).abs() < 1e-12);
    }

    #[test]
    fn auc_on_hard_labels_is_balanced_accuracy() {
        // TPR 2/3, TNR 1/2: hard-label AUC = (TPR + TNR) / 2 = 7/12.
        let pred = [1.0, 1.0, 0.0, 1.0, 0.0];
        let truth = [true, true, true, false, false];
        assert!((roc_auc(&pred, &truth).unwrap() - 7.0 / 12.0).abs() < 1e-12);
    }

    #[test]
    fn curve_area_equals_auc() {
        let scores = [0.1, 0.4, 0.35, 0.8, 0.35, 0.7, 0.2];
        let truth = [false, false, true, true, false, true, true];
        let curve = RocCurve::new(&scores, &truth).unwrap();
        assert_eq!((curve.fpr[0], curve.tpr[0]), (0.0, 0.0));
        assert_eq!((*curve.fpr.last().unwrap(), *curve.tpr.last().unwrap()), (1.0, 1.0));
        assert!((curve.area() - roc_auc(&scores, &truth).unwrap()).abs() < 1e-12);
    }

    #[test]
    fn one_class_and_bad_lengths_are_errors() {
        assert!(roc_auc(&[0.1, 0.2], &[true, true]).unwrap_err().to_string().contains("one class"));
        assert!(roc_auc(&[0.1], &[true, false]).is_err());
        assert!(roc_auc(&[f32::NAN, 0.2], &[true, false]).is_err());
    }
}
