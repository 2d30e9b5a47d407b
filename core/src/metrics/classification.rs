//! Classification metrics: accuracy, binary F1, and the confusion matrix with the per-class
//! recall, F1 and macro-F1 derived from it.

use super::check_lengths;
use crate::Result;

/// Fraction of predictions equal to the truth.
pub fn accuracy<T: PartialEq>(pred: &[T], truth: &[T]) -> Result<f64> {
    check_lengths("accuracy", pred.len(), truth.len())?;
    Ok(pred.iter().zip(truth).filter(|(p, t)| p == t).count() as f64 / pred.len() as f64)
}

/// F1 of the positive class, 2 TP / (2 TP + FP + FN); 0 when there is no positive at all in
/// either the truth or the predictions (scikit-learn's `zero_division=0`).
pub fn f1_score(pred: &[bool], truth: &[bool]) -> Result<f64> {
    check_lengths("F1", pred.len(), truth.len())?;
    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    for (&p, &t) in pred.iter().zip(truth) {
        match (p, t) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fneg += 1,
            (false, false) => {}
        }
    }
    Ok(ratio(2 * tp, 2 * tp + fp + fneg))
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 { 0.0 } else { num as f64 / den as f64 }
}

/// A confusion matrix over integer labels (grades or classes).
///
/// Its labels are the sorted union of the labels that occur in the truth and in the
/// predictions, as in scikit-learn: an out-of-range predicted grade becomes a class of its own
/// with F1 = 0, which is why unclipped grades give a lower macro-F1.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Confusion {
    /// The labels, sorted; row and column `i` belong to `labels[i]`.
    pub labels: Vec<i64>,
    /// `counts[i][j]`: samples of true label `labels[i]` predicted as `labels[j]`.
    pub counts: Vec<Vec<usize>>,
}

impl Confusion {
    /// Counts `pred` against `truth`.
    pub fn new(pred: &[i64], truth: &[i64]) -> Result<Self> {
        check_lengths("confusion matrix", pred.len(), truth.len())?;
        let mut labels: Vec<i64> = pred.iter().chain(truth).copied().collect();
        labels.sort_unstable();
        labels.dedup();
        let index = |l: i64| labels.binary_search(&l).unwrap_or_default();
        let mut counts = vec![vec![0; labels.len()]; labels.len()];
        for (&p, &t) in pred.iter().zip(truth) {
            counts[index(t)][index(p)] += 1;
        }
        Ok(Self { labels, counts })
    }

    /// Samples with true label `labels[i]`.
    fn support(&self, i: usize) -> usize {
        self.counts[i].iter().sum()
    }

    /// Samples predicted as `labels[j]`.
    fn predicted(&self, j: usize) -> usize {
        self.counts.iter().map(|row| row[j]).sum()
    }

    /// Recall of each label (`None` for a label with no true sample).
    pub fn recall(&self) -> Vec<Option<f64>> {
        (0..self.labels.len())
            .map(|i| (self.support(i) > 0).then(|| ratio(self.counts[i][i], self.support(i))))
            .collect()
    }

    /// F1 of each label, 0 where it is undefined.
    pub fn f1(&self) -> Vec<f64> {
        (0..self.labels.len()).map(|i| ratio(2 * self.counts[i][i], self.support(i) + self.predicted(i))).collect()
    }

    /// The unweighted mean of the per-label F1 over all labels of the matrix.
    pub fn macro_f1(&self) -> f64 {
        let f1 = self.f1();
        f1.iter().sum::<f64>() / f1.len() as f64
    }

    /// Fraction of samples on the diagonal.
    pub fn accuracy(&self) -> f64 {
        let total: usize = self.counts.iter().flatten().sum();
        ratio((0..self.labels.len()).map(|i| self.counts[i][i]).sum(), total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn binary_f1_and_accuracy_by_hand() {
        let pred = [true, true, false, true, false, false];
        let truth = [true, false, true, true, false, true];
        // TP 2, FP 1, FN 2: F1 = 4 / 7; 3 of 6 right.
        assert!((f1_score(&pred, &truth).unwrap() - 4.0 / 7.0).abs() < 1e-12);
        assert!((accuracy(&pred, &truth).unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(f1_score(&[false], &[false]).unwrap(), 0.0);
    }

    #[test]
    fn confusion_counts_recall_and_macro_f1() {
        let truth = [0, 0, 1, 1, 2, 2];
        let pred = [0, 1, 1, 1, 2, 0];
        let c = Confusion::new(&pred, &truth).unwrap();
        assert_eq!(c.labels, vec![0, 1, 2]);
        assert_eq!(c.counts, vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 1]]);
        assert_eq!(c.recall(), vec![Some(0.5), Some(1.0), Some(0.5)]);
        // F1: class 0: 2/(2+2) = .5; class 1: 4/(2+3) = .8; class 2: 2/(2+1) = 2/3.
        let want = (0.5 + 0.8 + 2.0 / 3.0) / 3.0;
        assert!((c.macro_f1() - want).abs() < 1e-12);
        assert!((c.accuracy() - 4.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn out_of_range_predictions_join_the_labels() {
        // A predicted grade 3 that no sample has adds a class with F1 = 0 (scikit-learn's rule).
        let c = Confusion::new(&[0, 3], &[0, 1]).unwrap();
        assert_eq!(c.labels, vec![0, 1, 3]);
        assert_eq!(c.recall(), vec![Some(1.0), Some(0.0), None]);
        assert!((c.macro_f1() - 1.0 / 3.0).abs() < 1e-12);
    }
}
