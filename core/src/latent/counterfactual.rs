//! Counterfactual moves in z_sem (Atad et al., MELBA 2024, Sec. 3.3): where to move a latent
//! along a head's normal so that the rendered image is the binary counterfactual (eq. 4, the
//! reflection across the hyperplane), a chosen grade (the inverted calibration, fractional and
//! out-of-range grades allowed) or one frame of a progression across the boundary.
//!
//! A CE's *strength* scales its latent move: strength 1 is the paper's CE; strength S moves the
//! latent S times as far from the image's own. It is for decoders that render only part of a
//! move (`daecf evaluate-ce` measures the share a rendering keeps). It applies to every CE,
//! progression frames included: a plan keeps the distance it should show (the paper's, which
//! labels it) apart from the distance its latent is moved to.
//!
//! A CE's *direction* is the path its latent takes to that distance ([`super::direction`]): the
//! normal (the paper's), or a move shaped by the training latents' spread. Every direction
//! reaches the same distance.
//!
//! These are plans in latent space only; [`crate::pipeline::counterfactual`] renders them.

use ndarray::ArrayView1;
use serde::{Deserialize, Serialize};

use super::{CeDirection, Head};
use crate::{DaecfError, Result};

/// Whether a counterfactual rendered for signed distance `asked` and encoded again at
/// `reencoded` lands on the asked side of the boundary (binary validity).
pub fn lands_on_asked_side(asked: f32, reencoded: f32) -> bool {
    (reencoded > 0.0) == (asked > 0.0)
}

/// The share of the asked move along the head's normal that a rendered counterfactual keeps
/// once encoded again: `(reencoded - start) / (asked - start)` for an image at signed distance
/// `start`. 1 when the picture carries the whole latent move, 0 when the decoder ignored it,
/// negative when it moved the other way; `None` when nothing was asked (`asked == start`).
pub fn realised_share(start: f32, asked: f32, reencoded: f32) -> Option<f64> {
    let asked_move = (asked - start) as f64;
    (asked_move != 0.0).then(|| (reencoded - start) as f64 / asked_move)
}

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
    /// The signed distance the counterfactual should show (the paper's target).
    pub distance: f32,
    /// The head's class at that distance (true = positive side).
    pub positive: bool,
    /// The calibrated (continuous) grade at that distance.
    pub grade: f64,
    /// The signed distance of the moved latent: `d + strength * (distance - d)` for an image
    /// at `d`; equal to `distance` at the paper's strength 1.
    pub latent_distance: f32,
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

    /// Plans the counterfactual of `w` for `target` (the paper's CE: strength 1, the normal).
    pub fn plan(&self, w: ArrayView1<f32>, target: CeTarget) -> Result<CounterfactualPlan> {
        self.plan_move(w, target, CeMove::PAPER)
    }

    /// Plans the counterfactual of `w` for `target` with its move scaled by `strength` (> 0)
    /// along `direction`: for an image at signed distance `d` and a target distance `t`, the
    /// latent goes to `d + strength * (t - d)`, while the plan shows `t`.
    pub fn plan_move(&self, w: ArrayView1<f32>, target: CeTarget, how: CeMove) -> Result<CounterfactualPlan> {
        let CeMove { strength, direction } = how;
        if !(strength.is_finite() && strength > 0.0) {
            return Err(DaecfError::Config(format!("the CE strength must be a positive number, got {strength}")));
        }
        let own = self.distance(w)?;
        let distance = match target {
            CeTarget::Binary => -own,
            CeTarget::Grade(g) => self.calibration.distance_for_grade(g)? as f32,
            CeTarget::Distance(d) => d,
        };
        let latent_distance = own + strength * (distance - own);
        if !latent_distance.is_finite() {
            return Err(DaecfError::Data(format!(
                "the counterfactual target {target:?} gives no finite distance; ask for a finite grade or distance"
            )));
        }
        let latent = self.move_to_distance(w, latent_distance, direction)?;
        let step_size = latent.iter().zip(w.iter()).map(|(a, b)| (a - b).powi(2)).sum::<f32>().sqrt();
        Ok(CounterfactualPlan {
            target,
            distance,
            positive: distance > 0.0,
            grade: self.calibration.predict(distance as f64),
            latent_distance,
            step_size,
            latent,
        })
    }

    /// `frames` evenly spaced distances from `-extent` to `+extent` through the boundary, each
    /// planned with `how`; the extent is at least |d(w)| so the image's own position lies on
    /// the path.
    pub fn progression(
        &self,
        w: ArrayView1<f32>,
        frames: usize,
        extent: f32,
        how: CeMove,
    ) -> Result<Vec<CounterfactualPlan>> {
        if frames < 2 {
            return Err(DaecfError::Config(format!("a progression needs at least 2 frames, got {frames}")));
        }
        let extent = extent.abs().max(self.distance(w)?.abs());
        (0..frames)
            .map(|i| {
                let d = -extent + 2.0 * extent * i as f32 / (frames - 1) as f32;
                self.plan_move(w, CeTarget::Distance(d), how)
            })
            .collect()
    }
}

/// How far and along which path a counterfactual's latent moves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CeMove {
    /// The move's length relative to the paper's (1: the paper's).
    pub strength: f32,
    /// The move's path.
    pub direction: CeDirection,
}

impl CeMove {
    /// The paper's move: strength 1 along the normal.
    pub const PAPER: CeMove = CeMove { strength: 1.0, direction: CeDirection::Normal };
}

/// The counterfactuals an explanation renders for each image: the binary CE, one CE per
/// grade in `grades`, then `frames` frames of a progression across the boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CeRequest {
    /// Grades to render (fractional and out-of-range allowed).
    pub grades: Vec<f64>,
    /// Frames of the progression (at least 2).
    pub frames: usize,
    /// Largest |distance| of the progression (at least each image's own distance).
    pub extent: f32,
    /// Strength of every CE, progression frames included (1: the paper's; see the module's doc).
    #[serde(default = "paper_strength")]
    pub strength: f32,
    /// Direction of every CE's move (the normal: the paper's).
    #[serde(default)]
    pub direction: CeDirection,
}

/// The paper's CE strength, 1: serde's default where a file predates the field.
pub(crate) fn paper_strength() -> f32 {
    1.0
}

/// Whether `s` is the paper's strength (then a head file leaves it out).
pub(crate) fn is_paper_strength(s: &f32) -> bool {
    *s == paper_strength()
}

impl CeRequest {
    /// The request with defaults for `head` where a value is not given: every grade of a
    /// graded head's range plus one beyond each end (none for a binary head), the head's
    /// fitted distance range as the progression's extent, and the head's CE strength and
    /// direction.
    pub fn for_head(head: &Head, grades: Option<Vec<f64>>, frames: usize, extent: Option<f32>) -> Self {
        let grades = grades.unwrap_or_else(|| {
            if head.is_graded() {
                let (lo, hi) = head.calibration.grade_range;
                (lo - 1..=hi + 1).map(|g| g as f64).collect()
            } else {
                Vec::new()
            }
        });
        let extent = extent.unwrap_or_else(|| {
            let (lo, hi) = head.calibration.distance_range;
            lo.abs().max(hi.abs()) as f32
        });
        Self { grades, frames: frames.max(2), extent, strength: head.ce_strength, direction: head.ce_direction }
    }

    /// The same request with its CEs moved as `how` says.
    pub fn with_move(self, how: CeMove) -> Self {
        Self { strength: how.strength, direction: how.direction, ..self }
    }

    /// How every CE of the request moves.
    pub fn how(&self) -> CeMove {
        CeMove { strength: self.strength, direction: self.direction }
    }

    /// Counterfactuals per image.
    pub fn len(&self) -> usize {
        1 + self.grades.len() + self.frames
    }

    /// Always false: the binary CE is always rendered.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The plans for latent `w`, in the order binary, grades, progression frames.
    pub fn plans(&self, head: &Head, w: ArrayView1<f32>) -> Result<Vec<CounterfactualPlan>> {
        let mut plans = vec![head.plan_move(w, CeTarget::Binary, self.how())?];
        for &g in &self.grades {
            plans.push(head.plan_move(w, CeTarget::Grade(g), self.how())?);
        }
        plans.extend(head.progression(w, self.frames, self.extent, self.how())?);
        Ok(plans)
    }

    /// The name of plan `j`: `binary`, `grade <g>` or `frame <i>`.
    pub fn name(&self, j: usize) -> String {
        match j {
            0 => "binary".into(),
            j if j <= self.grades.len() => format!("grade {}", self.grades[j - 1]),
            j => format!("frame {}", j - 1 - self.grades.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latent::{Calibration, CalibrationKind, ClassifierKind, Hyperplane, TaskSpec};
    use ndarray::array;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

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
            ce_strength: 1.0,
            ce_direction: CeDirection::Normal,
            directions: None,
        }
    }

    fn strength(strength: f32) -> CeMove {
        CeMove { strength, ..CeMove::PAPER }
    }

    #[test]
    fn realised_share_is_the_kept_part_of_the_move() {
        assert_eq!(realised_share(0.4, -0.4, -0.4), Some(1.0));
        assert_eq!(realised_share(0.4, -0.4, 0.4), Some(0.0));
        assert!((realised_share(0.4, -0.4, 0.3).unwrap() - 0.125).abs() < 1e-6);
        assert!(realised_share(0.4, -0.4, 0.6).unwrap() < 0.0);
        assert_eq!(realised_share(0.2, 0.2, 0.1), None);
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
    fn strength_scales_the_move_from_the_image() {
        let h = head();
        let w = array![3.0f32, 4.0];
        let p = h.plan_move(w.view(), CeTarget::Binary, strength(3.0)).unwrap();
        // d = 4: the paper's reflection goes to -4 (a move of 8), strength 3 to 4 - 24; the plan
        // still shows -4.
        assert!((p.latent_distance + 20.0).abs() < 1e-5 && (p.step_size - 24.0).abs() < 1e-4);
        assert!((h.distance(ArrayView1::from(&p.latent)).unwrap() + 20.0).abs() < 1e-4);
        assert!((p.distance + 4.0).abs() < 1e-6 && (p.grade + 0.5).abs() < 1e-5 && !p.positive);
        let g = h.plan_move(w.view(), CeTarget::Grade(0.0), strength(0.5)).unwrap();
        // Grade 0 lies at d = -3; half the move from 4 ends at 0.5.
        assert!((g.latent_distance - 0.5).abs() < 1e-5 && g.distance == -3.0, "{g:?}");
        // A frame at distance 2 for the image at 4: the latent goes to 4 + 9 * (2 - 4).
        let f = h.plan_move(w.view(), CeTarget::Distance(2.0), strength(9.0)).unwrap();
        assert!(f.distance == 2.0 && (f.latent_distance + 14.0).abs() < 1e-4, "{f:?}");
        for bad in [0.0, -1.0, f32::NAN] {
            assert!(h.plan_move(w.view(), CeTarget::Binary, strength(bad)).is_err());
        }
        let plans =
            CeRequest::for_head(&h, Some(vec![0.0]), 3, None).with_move(strength(3.0)).plans(&h, w.view()).unwrap();
        let latent: Vec<f32> = plans.iter().map(|p| p.latent_distance).collect();
        // Binary, grade 0 (-3), then the frames at -4, 0 and 4: each move from 4 tripled.
        let shown: Vec<f32> = plans.iter().map(|p| p.distance).collect();
        let near = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4);
        assert!(near(&latent, &[-20.0, -17.0, -20.0, -8.0, 4.0]), "{latent:?}");
        assert!(near(&shown, &[-4.0, -3.0, -4.0, 0.0, 4.0]), "{shown:?}");
        // A head that carries a strength gives it to its requests.
        let strong = Head { ce_strength: 3.0, ..h.clone() };
        assert_eq!(CeRequest::for_head(&strong, None, 2, None).strength, 3.0);
        assert_eq!(CeRequest::for_head(&h, None, 2, None).strength, 1.0);
    }

    #[test]
    fn request_defaults_to_every_grade_and_one_beyond() {
        let h = head();
        let r = CeRequest::for_head(&h, None, 1, None);
        assert_eq!(r.grades, vec![-1.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!((r.frames, r.extent, r.len()), (2, 3.0, 9));
        let plans = r.plans(&h, array![3.0f32, 4.0].view()).unwrap();
        assert_eq!(plans.len(), r.len());
        assert_eq!((r.name(0), r.name(2), r.name(8)), ("binary".into(), "grade 0".into(), "frame 1".into()));
        assert!(matches!(plans[2].target, CeTarget::Grade(g) if g == 0.0));
    }

    #[test]
    fn progression_spans_the_boundary_and_the_image() {
        let h = head();
        let w = array![3.0f32, 4.0];
        let frames = h.progression(w.view(), 5, 2.0, CeMove::PAPER).unwrap();
        let d: Vec<f32> = frames.iter().map(|p| p.distance).collect();
        assert_eq!(d, vec![-4.0, -2.0, 0.0, 2.0, 4.0]);
        assert!(frames.iter().all(|p| p.latent_distance == p.distance));
        assert!(h.progression(w.view(), 1, 2.0, CeMove::PAPER).is_err());
    }
}
