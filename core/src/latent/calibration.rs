//! Calibration from signed distance to grade: a polynomial g(d) (a line by default) fitted on
//! graded samples, its rounded and clipped grades, and its inverse (the distance at which a
//! grade lies), which grade-targeted counterfactuals move to.

use serde::{Deserialize, Serialize};

use super::task::parse_labels;
use crate::{DaecfError, Result};

/// How the calibration is fitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationKind {
    /// A line through all graded samples (least squares).
    Linear,
    /// A line through the mean distances of the given grades only (the paper's Table 3 used
    /// the means of G0 and G3).
    Grades(Vec<i64>),
    /// A least-squares polynomial of the given degree through all graded samples.
    Polynomial(usize),
}

impl CalibrationKind {
    /// Parses `linear`, `grades:0,3` or `poly:K`.
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = |why: &str| {
            DaecfError::Config(format!(
                "calibration '{spec}': {why}; use linear, grades:A,B (e.g. grades:0,3) or poly:K (e.g. poly:2)"
            ))
        };
        match spec.split_once(':') {
            None if spec == "linear" => Ok(Self::Linear),
            Some(("grades", list)) => {
                let grades = parse_labels(list).map_err(|e| bad(&e))?;
                if grades.len() < 2 {
                    return Err(bad("a line needs at least two grades"));
                }
                Ok(Self::Grades(grades))
            }
            Some(("poly", k)) => match k.parse::<usize>() {
                Ok(k @ 1..=5) => Ok(Self::Polynomial(k)),
                _ => Err(bad("the degree must be 1 to 5")),
            },
            _ => Err(bad("unknown form")),
        }
    }

    /// The polynomial degree of the fitted curve.
    pub fn degree(&self) -> usize {
        match self {
            Self::Polynomial(k) => *k,
            _ => 1,
        }
    }
}

/// A fitted calibration g(d) = c0 + c1 d + c2 d^2 + ...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// How it was fitted.
    pub kind: CalibrationKind,
    /// Coefficients in ascending powers of d.
    pub coefficients: Vec<f64>,
    /// The lowest and highest grade seen in fitting: the range grades are clipped to.
    pub grade_range: (i64, i64),
    /// The lowest and highest signed distance seen in fitting.
    pub distance_range: (f64, f64),
}

impl Calibration {
    /// The continuous grade at signed distance `d`.
    pub fn predict(&self, d: f64) -> f64 {
        self.coefficients.iter().rev().fold(0.0, |acc, c| acc * d + c)
    }

    /// The grade at `d`, rounded to the nearest integer and clipped to the grade range.
    pub fn grade(&self, d: f64) -> i64 {
        let (lo, hi) = self.grade_range;
        (self.predict(d).round_ties_even() as i64).clamp(lo, hi)
    }

    /// The signed distance at which the calibration gives `grade` (fractional and out-of-range
    /// grades allowed). For a polynomial, the root nearest to where a straight line through
    /// the ends of the fitted range would put it.
    pub fn distance_for_grade(&self, grade: f64) -> Result<f64> {
        let c = &self.coefficients;
        let no_root = || {
            DaecfError::Data(format!(
                "the calibration never reaches grade {grade}; choose a grade nearer the fitted range {:?}",
                self.grade_range
            ))
        };
        if c.len() == 2 {
            return if c[1] != 0.0 { Ok((grade - c[0]) / c[1]) } else { Err(no_root()) };
        }
        let (lo, hi) = self.distance_range;
        let (g_lo, g_hi) = (self.predict(lo), self.predict(hi));
        let guess = if g_hi != g_lo { lo + (grade - g_lo) * (hi - lo) / (g_hi - g_lo) } else { (lo + hi) / 2.0 };
        let span = (hi - lo).max(1e-6);
        let f = |d: f64| self.predict(d) - grade;
        // Brackets of sign changes on a fine grid over a generous window, each refined by bisection.
        let (start, end, n) = (lo.min(guess) - 2.0 * span, hi.max(guess) + 2.0 * span, 4000);
        let step = (end - start) / n as f64;
        let mut roots = Vec::new();
        for i in 0..n {
            let (mut a, mut b) = (start + i as f64 * step, start + (i + 1) as f64 * step);
            if f(a) == 0.0 {
                roots.push(a);
                continue;
            }
            if f(a).signum() == f(b).signum() {
                continue;
            }
            for _ in 0..60 {
                let m = (a + b) / 2.0;
                if f(a).signum() == f(m).signum() { a = m } else { b = m }
            }
            roots.push((a + b) / 2.0);
        }
        roots.into_iter().min_by(|a, b| (a - guess).abs().total_cmp(&(b - guess).abs())).ok_or_else(no_root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn calibration(coefficients: Vec<f64>) -> Calibration {
        Calibration {
            kind: CalibrationKind::Polynomial(coefficients.len() - 1),
            coefficients,
            grade_range: (0, 4),
            distance_range: (-2.0, 2.0),
        }
    }

    #[test]
    fn line_predicts_rounds_clips_and_inverts() {
        let cal = calibration(vec![1.0, 2.0]);
        assert_eq!(cal.predict(0.75), 2.5);
        assert_eq!(cal.grade(0.75), 2); // half to even
        assert_eq!(cal.grade(-3.0), 0);
        assert_eq!(cal.grade(9.0), 4);
        assert_eq!(cal.distance_for_grade(3.0).unwrap(), 1.0);
        assert_eq!(cal.distance_for_grade(-1.0).unwrap(), -1.0); // out of range is allowed
        assert!(calibration(vec![1.0, 0.0]).distance_for_grade(2.0).is_err());
    }

    #[test]
    fn polynomial_inverse_finds_the_root_in_range() {
        // g(d) = 2 + d + 0.25 d^2 is monotone on [-2, 2]; g = 3.25 at d = 1 (and at d = -5).
        let cal = calibration(vec![2.0, 1.0, 0.25]);
        let d = cal.distance_for_grade(3.25).unwrap();
        assert!((d - 1.0).abs() < 1e-9, "{d}");
        assert!((cal.predict(cal.distance_for_grade(1.5).unwrap()) - 1.5).abs() < 1e-9);
        assert!(cal.distance_for_grade(0.5).is_err()); // the minimum of g is 1
    }

    #[test]
    fn kinds_parse() {
        assert_eq!(CalibrationKind::parse("linear").unwrap(), CalibrationKind::Linear);
        assert_eq!(CalibrationKind::parse("grades:0,3").unwrap(), CalibrationKind::Grades(vec![0, 3]));
        assert_eq!(CalibrationKind::parse("poly:3").unwrap().degree(), 3);
        for bad in ["", "grades:1", "poly:0", "poly:x", "cubic"] {
            assert!(CalibrationKind::parse(bad).is_err(), "{bad}");
        }
    }
}
