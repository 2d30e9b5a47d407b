//! Grading metrics: grades from continuous predictions, and the mean absolute error.

use super::check_lengths;
use crate::Result;

/// Mean absolute error between continuous (or rounded) grade predictions and true grades.
pub fn mean_absolute_error(pred: &[f64], truth: &[i64]) -> Result<f64> {
    check_lengths("MAE", pred.len(), truth.len())?;
    Ok(pred.iter().zip(truth).map(|(p, &t)| (p - t as f64).abs()).sum::<f64>() / pred.len() as f64)
}

/// Rounds continuous grades to the nearest integer (halves to even, as numpy's `rint`) and,
/// with `clip = Some((lo, hi))`, clips them to the grade range.
pub fn round_grades(pred: &[f64], clip: Option<(i64, i64)>) -> Vec<i64> {
    pred.iter()
        .map(|p| {
            let g = p.round_ties_even() as i64;
            clip.map_or(g, |(lo, hi)| g.clamp(lo, hi))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn mae_and_rounding_by_hand() {
        assert!((mean_absolute_error(&[0.5, 2.0, 4.5], &[0, 3, 4]).unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(round_grades(&[-0.7, 0.5, 1.5, 2.49, 5.2], None), vec![-1, 0, 2, 2, 5]);
        assert_eq!(round_grades(&[-0.7, 5.2], Some((0, 4))), vec![0, 4]);
        assert!(mean_absolute_error(&[1.0], &[1, 2]).is_err());
    }
}
