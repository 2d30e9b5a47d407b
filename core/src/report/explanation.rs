//! The JSON report of one explained image: its distance, class and grade, and for every
//! counterfactual what was asked for, where it landed, how far the latent moved and where the
//! rendered image lands when encoded again (validity).

use serde::{Deserialize, Serialize};

use crate::latent::{CeRequest, CeTarget, Head, lands_on_asked_side};
use crate::pipeline::ImageExplanation;
use crate::{DaecfError, Result};

/// One rendered counterfactual in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CeReport {
    /// `binary`, `grade <g>` or `frame <i>`.
    pub name: String,
    /// What was asked for.
    pub target: CeTarget,
    /// Signed distance the CE should show (the paper's target).
    pub distance: f32,
    /// Grade at that distance (calibrated, rounded and clipped).
    pub grade: i64,
    /// Continuous calibrated grade at that distance.
    pub grade_continuous: f64,
    /// Signed distance of the moved latent (`distance` at strength 1).
    pub latent_distance: f32,
    /// L2 length of the move in z_sem.
    pub step_size: f32,
    /// Signed distance of the rendered CE encoded again (validity: does the image cross?).
    pub reencoded_distance: f32,
    /// Grade of the rendered CE encoded again.
    pub reencoded_grade: i64,
    /// The CE image (native size), when written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Its difference map against the reconstruction, when written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difference: Option<String>,
}

impl CeReport {
    /// Whether the rendered CE, encoded again, shows what was asked for: a grade CE the asked
    /// grade, the binary CE and a progression frame the asked side of the boundary.
    pub fn valid(&self) -> bool {
        match self.target {
            CeTarget::Grade(_) => self.reencoded_grade == self.grade,
            CeTarget::Binary | CeTarget::Distance(_) => lands_on_asked_side(self.distance, self.reencoded_distance),
        }
    }
}

/// The JSON report of one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageReport {
    /// The image's id (file stem).
    pub image: String,
    /// The head's task.
    pub task: String,
    /// Signed distance of the image's latent.
    pub distance: f32,
    /// Positive class?
    pub positive: bool,
    /// Grade (calibrated, rounded and clipped).
    pub grade: i64,
    /// Continuous calibrated grade.
    pub grade_continuous: f64,
    /// DDIM steps used (encode, render).
    pub steps: (usize, usize),
    /// Strength of the CEs (1: the paper's).
    #[serde(default = "crate::latent::counterfactual::paper_strength")]
    pub strength: f32,
    /// Binary and grade counterfactuals.
    pub counterfactuals: Vec<CeReport>,
    /// The progression's frames.
    pub progression: Vec<CeReport>,
    /// Files written, relative to the image's folder.
    #[serde(default)]
    pub files: Vec<String>,
}

impl ImageReport {
    /// The report of `item`, explained with `head` and `request` in `steps` (encode, render)
    /// DDIM steps; `reencoded` holds the distance of each rendered CE encoded again.
    pub fn new(
        image: String,
        head: &Head,
        item: &ImageExplanation,
        request: &CeRequest,
        steps: (usize, usize),
        reencoded: &[f32],
    ) -> Result<Self> {
        if item.plans.len() != request.len() || reencoded.len() != request.len() {
            return Err(DaecfError::Config(format!(
                "the request renders {} counterfactuals, but {} were planned and {} re-encoded",
                request.len(),
                item.plans.len(),
                reencoded.len()
            )));
        }
        let cal = &head.calibration;
        let mut counterfactuals: Vec<CeReport> = item
            .plans
            .iter()
            .zip(reencoded)
            .enumerate()
            .map(|(j, (p, &d))| CeReport {
                name: request.name(j),
                target: p.target,
                distance: p.distance,
                grade: cal.grade(p.distance as f64),
                grade_continuous: p.grade,
                latent_distance: p.latent_distance,
                step_size: p.step_size,
                reencoded_distance: d,
                reencoded_grade: cal.grade(d as f64),
                file: None,
                difference: None,
            })
            .collect();
        let progression = counterfactuals.split_off(1 + request.grades.len());
        Ok(Self {
            image,
            task: head.task.name.clone(),
            distance: item.distance,
            positive: item.distance > 0.0,
            grade: cal.grade(item.distance as f64),
            grade_continuous: item.grade,
            steps,
            strength: request.strength,
            counterfactuals,
            progression,
            files: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latent::{Calibration, CalibrationKind, ClassifierKind, Hyperplane, TaskSpec};
    use ndarray::ArrayView1;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn report_splits_counterfactuals_from_the_progression() {
        let head = Head {
            task: TaskSpec::new("fracture"),
            classifier: ClassifierKind::Svm,
            c: 1.0,
            hyperplane: Hyperplane::new(vec![1.0, 0.0], 0.0).unwrap(),
            standardizer: None,
            calibration: Calibration {
                kind: CalibrationKind::Linear,
                coefficients: vec![1.0, 1.0],
                grade_range: (0, 3),
                distance_range: (-2.0, 2.0),
            },
            ce_strength: 1.0,
            ce_direction: Default::default(),
            directions: None,
        };
        let w = [2.2f32, 0.0];
        let request =
            CeRequest { grades: vec![0.0, 3.0], frames: 3, extent: 2.0, strength: 1.0, direction: Default::default() };
        let item = ImageExplanation {
            z_sem: w.to_vec(),
            distance: 2.2,
            grade: 3.2,
            plans: request.plans(&head, ArrayView1::from(&w)).unwrap(),
        };
        let reencoded = [-1.0, -1.0, 2.0, -2.0, 0.1, 2.0];
        let r = ImageReport::new("a".into(), &head, &item, &request, (10, 5), &reencoded).unwrap();
        assert_eq!(r.counterfactuals.len(), 3);
        assert_eq!(r.progression.len(), 3);
        assert_eq!(r.counterfactuals[0].name, "binary");
        assert_eq!(r.counterfactuals[0].reencoded_grade, 0);
        // Validity: the binary CE (asked -2.2) re-encodes at -1, across; the grade 0 and 3 CEs
        // re-encode at -1 and 2, grades 0 and 3 under grade = 1 + d.
        assert!(r.counterfactuals.iter().all(CeReport::valid));
        let mut stayed = r.counterfactuals[0].clone();
        stayed.reencoded_distance = 0.3;
        assert!(!stayed.valid(), "a binary CE that re-encodes on the image's side is not valid");
        let mut off_grade = r.counterfactuals[2].clone();
        off_grade.reencoded_grade = 2;
        assert!(!off_grade.valid(), "a grade 3 CE that re-encodes at grade 2 is not valid");
        assert_eq!(r.progression[2].name, "frame 2");
        assert!(r.positive && r.grade == 3);
        assert!(ImageReport::new("a".into(), &head, &item, &request, (10, 5), &reencoded[..2]).is_err());
        // At strength 2 the latents move twice as far; the CEs still show (and are judged by)
        // their targets: the grade 0 CE at d = -1, grade 0.
        let strong = CeRequest { strength: 2.0, ..request.clone() };
        let item = ImageExplanation { plans: strong.plans(&head, ArrayView1::from(&w)).unwrap(), ..item.clone() };
        let s = ImageReport::new("a".into(), &head, &item, &strong, (10, 5), &reencoded).unwrap();
        let grade0 = &s.counterfactuals[1];
        assert!((grade0.distance + 1.0).abs() < 1e-5 && (grade0.latent_distance + 4.2).abs() < 1e-4, "{grade0:?}");
        assert!(grade0.grade == 0 && grade0.valid());
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<ImageReport>(&json).unwrap(), r);
    }
}
