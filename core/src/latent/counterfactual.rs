//! Counterfactual moves in z_sem (Atad et al., MELBA 2024, Sec. 3.3): where to move a latent
//! along a head's normal so that the rendered image is the binary counterfactual (eq. 4, the
//! reflection across the hyperplane), a chosen grade (the inverted calibration, fractional and
//! out-of-range grades allowed) or one frame of a progression across the boundary.
//!
//! These are plans in latent space only; [`crate::pipeline::counterfactual`] renders them.

use ndarray::ArrayView1;
use serde::{Deserialize, Serialize};

use super::Head;
use crate::{DaecfError, Result};

/// What a counterfactual aims at.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum CeTarget {
    /// The reflection across the hyperplane: the same distance on the other side.
    Binary,
    /// The distance at which the calibration gives this grade.
    Grade(f64),
    /// A given signed distance (a frame of a progression).
    Distance(f32),
}

/// One planned counterfactual: the latent to render and what it should show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterfactualPlan {
    /// What was asked for.
    pub target: CeTarget,
    /// The signed distance of the moved latent.
    pub distance: f32,
    /// The head's class at that distance (true = positive side).
    pub positive: bool,
    /// The calibrated (continuous) grade at that distance.
    pub grade: f64,
    /// The L2 length of the move in z_sem (original, unstandardised space).
    pub step_size: f32,
    /// The moved latent.
    #[serde(skip)]
    pub latent: Vec<f32>,
}

impl Head {
    /// The signed distance of one latent.
    pub fn distance(&self, w: ArrayView1<f32>) -> Result<f32> {
        let row = w.to_owned().insert_axis(ndarray::Axis(0));
        Ok(self.distances(row.view())?[0])
    }

    /// Plans the counterfactual of `w` for `target`.
    pub fn plan(&self, w: ArrayView1<f32>, target: CeTarget) -> Result<CounterfactualPlan> {
        let distance = match target {
            CeTarget::Binary => -self.distance(w)?,
            CeTarget::Grade(g) => self.calibration.distance_for_grade(g)? as f32,
            CeTarget::Distance(d) => d,
        };
        if !distance.is_finite() {
            return Err(DaecfError::Data(format!("the counterfactual target {target:?} gives no finite distance")));
        }
        let latent = self.move_to_distance(w, distance)?;
        let step_size = latent.iter().zip(w.iter()).map(|(a, b)| (a - b).powi(2)).sum::<f32>().sqrt();
        Ok(CounterfactualPlan {
            target,
            distance,
            positive: distance > 0.0,
            grade: self.calibration.predict(distance as f64),
            step_size,
            latent,
        })
    }

    /// `frames` evenly spaced distances from `-extent` to `+extent` through the boundary; the
    /// extent is at least |d(w)| so the image's own position lies on the path.
    pub fn progression(&self, w: ArrayView1<f32>, frames: usize, extent: f32) -> Result<Vec<CounterfactualPlan>> {
        if frames < 2 {
            return Err(DaecfError::Config(format!("a progression needs at least 2 frames, got {frames}")));
        }
        let extent = extent.abs().max(self.distance(w)?.abs());
        (0..frames)
            .map(|i| {
                let d = -extent + 2.0 * extent * i as f32 / (frames - 1) as f32;
                self.plan(w, CeTarget::Distance(d))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latent::{Calibration, CalibrationKind, ClassifierKind, Hyperplane, TaskSpec};
    use ndarray::array;

    fn head() -> Head {
        Head {
            task: TaskSpec::new("fracture"),
            classifier: ClassifierKind::Svm,
            c: 1.0,
            hyperplane: Hyperplane::new(vec![3.0, 4.0], -5.0).unwrap(),
            standardizer: None,
            calibration: Calibration {
                kind: CalibrationKind::Linear,
                coefficients: vec![1.5, 0.5],
                grade_range: (0, 3),
                distance_range: (-3.0, 3.0),
            },
        }
    }

    #[test]
    fn binary_ce_reflects_across_the_hyperplane() {
        let h = head();
        let w = array![3.0f32, 4.0];
        let d = h.distance(w.view()).unwrap();
        assert!((d - 4.0).abs() < 1e-6);
        let p = h.plan(w.view(), CeTarget::Binary).unwrap();
        assert!((p.distance + 4.0).abs() < 1e-6 && !p.positive);
        assert!((h.distance(ArrayView1::from(&p.latent)).unwrap() + 4.0).abs() < 1e-5);
        assert!((p.step_size - 8.0).abs() < 1e-5);
    }

    #[test]
    fn grade_ce_lands_on_the_calibrated_grade() {
        let h = head();
        let w = array![0.0f32, 0.0];
        for g in [-1.0, 0.0, 2.5, 4.0] {
            let p = h.plan(w.view(), CeTarget::Grade(g)).unwrap();
            assert!((p.grade - g).abs() < 1e-5, "{g}: {}", p.grade);
            assert!((h.distance(ArrayView1::from(&p.latent)).unwrap() - p.distance).abs() < 1e-5);
        }
    }

    #[test]
    fn progression_spans_the_boundary_and_the_image() {
        let h = head();
        let w = array![3.0f32, 4.0];
        let frames = h.progression(w.view(), 5, 2.0).unwrap();
        let d: Vec<f32> = frames.iter().map(|p| p.distance).collect();
        assert_eq!(d, vec![-4.0, -2.0, 0.0, 2.0, 4.0]);
        assert!(h.progression(w.view(), 1, 2.0).is_err());
    }
}
