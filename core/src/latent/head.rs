//! A head: one task's classifier hyperplane with its calibration to grades, and the file that
//! stores one or more heads for one latent space (JSON, versioned).

use std::path::Path;

use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::{Calibration, CeDirection, FittedDirections, Hyperplane, Standardizer, TaskSpec};
use crate::{DaecfError, Result};

/// The kind of linear classifier behind a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassifierKind {
    /// Linear support vector machine (hinge loss with linfa, a smoothed hinge with the Burn solver).
    Svm,
    /// L2-regularised logistic regression.
    Logreg,
}

/// One task's classifier and grade calibration on z_sem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Head {
    /// The task: positive and excluded labels.
    pub task: TaskSpec,
    /// The classifier that gave the hyperplane.
    pub classifier: ClassifierKind,
    /// Its inverse regularisation strength C.
    pub c: f64,
    /// The decision hyperplane, in standardised space when `standardizer` is set.
    pub hyperplane: Hyperplane,
    /// Standardisation applied to latents before the hyperplane, if any.
    pub standardizer: Option<Standardizer>,
    /// Signed distance -> grade.
    pub calibration: Calibration,
    /// Strength of this head's binary and grade counterfactuals: 1 is the paper's; larger for a
    /// decoder that renders only part of a latent move (see [`super::counterfactual`]). Set when
    /// exporting a bundle; not written when 1.
    #[serde(
        default = "super::counterfactual::paper_strength",
        skip_serializing_if = "super::counterfactual::is_paper_strength"
    )]
    pub ce_strength: f32,
    /// The path of this head's counterfactual moves; set when exporting a bundle, not written
    /// when it is the normal (the paper's).
    #[serde(default, skip_serializing_if = "CeDirection::is_normal")]
    pub ce_direction: CeDirection,
    /// The standardised and covariance directions, fitted on the training latents by `daecf
    /// fit`; absent in heads fitted before they were stored (then only the normal is available).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directions: Option<FittedDirections>,
}

impl Head {
    /// The dimension of the latents this head takes.
    pub fn dim(&self) -> usize {
        self.hyperplane.dim()
    }

    /// Whether the labels are grades (three or more levels) rather than two classes.
    pub fn is_graded(&self) -> bool {
        self.calibration.grade_range.1 - self.calibration.grade_range.0 >= 2
    }

    /// Signed distances of the rows of `latents` to the hyperplane.
    pub fn distances(&self, latents: ArrayView2<f32>) -> Result<Vec<f32>> {
        self.check_dim(latents.ncols())?;
        Ok(match &self.standardizer {
            Some(s) => self.hyperplane.signed_distances(s.apply(latents).view()),
            None => self.hyperplane.signed_distances(latents),
        })
    }

    /// The classifier's decision values (n . w + b, its logits for logistic regression) of the
    /// rows of `latents`: the signed distances times |n|.
    pub fn decision_values(&self, latents: ArrayView2<f32>) -> Result<Vec<f32>> {
        let norm = self.hyperplane.norm();
        Ok(self.distances(latents)?.into_iter().map(|d| d * norm).collect())
    }

    /// The gradient `a` of the signed distance in raw z_sem space: d(z) = a . z + c.
    pub fn gradient(&self) -> Vec<f32> {
        let norm = self.hyperplane.norm();
        match &self.standardizer {
            Some(s) => self.hyperplane.normal.iter().zip(&s.std).map(|(n, sd)| n / (sd * norm)).collect(),
            None => self.hyperplane.normal.iter().map(|n| n / norm).collect(),
        }
    }

    /// The raw-space vector a move along `direction` follows (any length): the normal in the
    /// space the head was fitted in, a fitted direction, or a control turned so that a move along
    /// it raises the distance (see [`super::direction`]).
    pub fn direction_vector(&self, direction: CeDirection) -> Result<Vec<f32>> {
        let u = match direction {
            CeDirection::Normal => match &self.standardizer {
                Some(s) => self.hyperplane.normal.iter().zip(&s.std).map(|(n, sd)| n * sd).collect(),
                None => self.hyperplane.normal.clone(),
            },
            CeDirection::Random => super::direction::random_direction(self.dim()),
            fitted => self
                .directions
                .as_ref()
                .and_then(|d| d.vector(fitted))
                .map(<[f32]>::to_vec)
                .ok_or_else(|| self.missing_direction(fitted))?,
        };
        let slope: f32 = self.gradient().iter().zip(&u).map(|(a, u)| a * u).sum();
        Ok(if direction.is_control() && slope < 0.0 { u.iter().map(|x| -x).collect() } else { u })
    }

    /// The error for a direction this head was fitted without.
    fn missing_direction(&self, direction: CeDirection) -> DaecfError {
        DaecfError::Config(format!(
            "head '{}' has no fitted '{direction}' direction: it was fitted without its training latents' \
             statistics (by an older daecf, or they could not be estimated); fit it again with `daecf fit`, \
             or use --direction normal",
            self.task.name
        ))
    }

    /// The latent `w` moved along `direction` to signed distance `distance` (in the original,
    /// unstandardised space): the core of every counterfactual. Every direction reaches the
    /// distance exactly; only the path differs.
    pub fn move_to_distance(&self, w: ArrayView1<f32>, distance: f32, direction: CeDirection) -> Result<Vec<f32>> {
        let own = self.distance(w)?;
        let u = self.direction_vector(direction)?;
        let slope: f32 = self.gradient().iter().zip(&u).map(|(a, u)| a * u).sum();
        if !(slope.is_finite() && slope > 0.0) {
            return Err(DaecfError::Data(format!(
                "head '{}': its '{direction}' direction does not move the distance ({slope}); fit the head again",
                self.task.name
            )));
        }
        let step = (distance - own) / slope;
        Ok(w.iter().zip(&u).map(|(x, u)| x + step * u).collect())
    }

    /// Checks what a file could get wrong: a finite hyperplane with a non-zero normal; a
    /// standardiser of the hyperplane's dimension with finite means and positive deviations; a
    /// finite calibration over at least two grades; a positive, finite strength.
    pub fn check(&self) -> Result<()> {
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        let cal = &self.calibration;
        let problem = if self.hyperplane.is_degenerate() {
            Some("its hyperplane is degenerate (zero or non-finite normal or bias)".to_string())
        } else if let Some(s) = self.standardizer.as_ref().filter(|s| {
            s.mean.len() != self.dim()
                || s.std.len() != self.dim()
                || !finite(&s.mean)
                || s.std.iter().any(|v| !(v.is_finite() && *v > 0.0))
        }) {
            Some(format!(
                "its standardiser ({} means, {} deviations) does not fit its {}-d hyperplane or is not finite and positive",
                s.mean.len(),
                s.std.len(),
                self.dim()
            ))
        } else if cal.coefficients.len() < 2 || cal.coefficients.iter().any(|c| !c.is_finite()) {
            Some(format!("its calibration needs at least two finite coefficients, not {:?}", cal.coefficients))
        } else if cal.grade_range.0 >= cal.grade_range.1
            || !(cal.distance_range.0.is_finite() && cal.distance_range.1.is_finite())
        {
            Some(format!(
                "its calibration ranges are invalid (grades {:?} must span at least two grades, distances {:?} be finite)",
                cal.grade_range, cal.distance_range
            ))
        } else if !(self.ce_strength.is_finite() && self.ce_strength > 0.0) {
            Some(format!("its counterfactual strength {} must be positive", self.ce_strength))
        } else if let Some(Err(e)) = self.directions.as_ref().map(|d| d.check(self.dim())) {
            Some(e.to_string())
        } else if self.ce_direction != CeDirection::Normal && self.directions.is_none() {
            Some(format!(
                "its counterfactual direction '{}' needs fitted directions, which it lacks",
                self.ce_direction
            ))
        } else {
            None
        };
        match problem {
            Some(why) => Err(DaecfError::Data(format!(
                "head '{}': {why}; fit it again with `daecf fit` (and export again with `daecf export`)",
                self.task.name
            ))),
            None => Ok(()),
        }
    }

    fn check_dim(&self, got: usize) -> Result<()> {
        if got != self.dim() {
            return Err(DaecfError::Data(format!(
                "head '{}' takes {}-d latents but got {got}-d ones; use latents of the DAE the head was fitted on",
                self.task.name,
                self.dim()
            )));
        }
        Ok(())
    }
}

/// The head file's format name.
pub const HEAD_FORMAT: &str = "daecf-heads";
/// The head file's current version.
pub const HEAD_VERSION: u32 = 1;

/// A JSON file of heads fitted on one latent space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadFile {
    /// Always [`HEAD_FORMAT`].
    pub format: String,
    /// The format version, [`HEAD_VERSION`] when written by this version.
    pub version: u32,
    /// The heads, one per task.
    pub heads: Vec<Head>,
}

impl HeadFile {
    /// A file holding `heads`.
    pub fn new(heads: Vec<Head>) -> Self {
        Self { format: HEAD_FORMAT.into(), version: HEAD_VERSION, heads }
    }

    /// Writes the file as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(|e| format_error(path, e.to_string()))?;
        std::fs::write(path, json).map_err(|source| DaecfError::Io { path: path.display().to_string(), source })
    }

    /// Reads and checks a head file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| DaecfError::Io { path: path.display().to_string(), source })?;
        Self::from_json(&text, path)
    }

    /// Parses and checks a head file's text; `path` only labels errors.
    pub fn from_json(text: &str, path: &Path) -> Result<Self> {
        let file: Self = serde_json::from_str(text)
            .map_err(|e| format_error(path, format!("not a daecf head file ({e}); write one with `daecf fit`")))?;
        if file.format != HEAD_FORMAT || file.version == 0 || file.version > HEAD_VERSION {
            return Err(format_error(
                path,
                format!(
                    "format {} version {} is not supported (this build reads {HEAD_FORMAT} up to version {HEAD_VERSION})",
                    file.format, file.version
                ),
            ));
        }
        if file.heads.is_empty() {
            return Err(format_error(path, "holds no heads; write a head file with `daecf fit`".into()));
        }
        for head in &file.heads {
            head.check().map_err(|e| format_error(path, e.to_string()))?;
        }
        Ok(file)
    }
}

fn format_error(path: &Path, reason: String) -> DaecfError {
    DaecfError::Format { path: path.display().to_string(), reason }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::latent::CalibrationKind;
    use ndarray::array;

    /// A 2-d head: n = (1, 0), b = 0, grade = 1 + d, grades 0..3.
    pub(crate) fn toy_head(standardizer: Option<Standardizer>) -> Head {
        Head {
            task: TaskSpec::new("toy"),
            classifier: ClassifierKind::Svm,
            c: 1.0,
            hyperplane: Hyperplane::new(vec![1.0, 0.0], 0.0).unwrap(),
            standardizer,
            calibration: Calibration {
                kind: CalibrationKind::Linear,
                coefficients: vec![1.0, 1.0],
                grade_range: (0, 3),
                distance_range: (-1.0, 2.0),
            },
            ce_strength: 1.0,
            ce_direction: CeDirection::Normal,
            directions: None,
        }
    }

    #[test]
    fn ce_strength_is_written_only_when_not_the_papers() {
        let head = toy_head(None);
        let text = serde_json::to_string(&head).unwrap();
        assert!(!text.contains("ce_strength"), "{text}");
        assert_eq!(serde_json::from_str::<Head>(&text).unwrap().ce_strength, 1.0);
        let strong = Head { ce_strength: 16.0, ..head };
        let text = serde_json::to_string(&strong).unwrap();
        assert!(text.contains("\"ce_strength\":16.0"), "{text}");
        assert_eq!(serde_json::from_str::<Head>(&text).unwrap(), strong);
    }

    #[test]
    fn moves_happen_in_the_original_space() {
        let s = Standardizer { mean: vec![1.0, 0.0], std: vec![2.0, 1.0] };
        let head = toy_head(Some(s));
        let w = array![3.0f32, 7.0]; // standardised: (1, 7), d = 1
        assert_eq!(head.distances(w.view().insert_axis(ndarray::Axis(0))).unwrap(), vec![1.0]);
        let moved = head.move_to_distance(w.view(), -0.5, CeDirection::Normal).unwrap();
        assert_eq!(moved, vec![0.0, 7.0]); // standardised (-0.5, 7)
        assert!(head.distances(array![[1.0f32, 2.0, 3.0]].view()).is_err());
    }

    #[test]
    fn every_direction_reaches_the_asked_distance() {
        let mut head = toy_head(None);
        let w = array![0.5f32, 2.0];
        let missing = head.move_to_distance(w.view(), -1.0, CeDirection::Covariance).unwrap_err().to_string();
        assert!(missing.contains("daecf fit") && missing.contains("--direction normal"), "{missing}");
        head.directions = Some(FittedDirections {
            standardised: vec![2.0, 0.0],
            covariance: vec![1.0, 3.0],
            principal: Some(vec![-0.6, 0.8]),
            shrinkage: 0.1,
            samples: 9,
        });
        for &direction in <CeDirection as crate::named::Named>::ALL {
            let moved = head.move_to_distance(w.view(), -1.0, direction).unwrap();
            assert!((head.distance(ArrayView1::from(&moved)).unwrap() + 1.0).abs() < 1e-6, "{direction}");
        }
        // Along (1, 3), whose slope is 1: from d = 0.5 to -1.
        assert_eq!(head.move_to_distance(w.view(), -1.0, CeDirection::Covariance).unwrap(), vec![-1.0, -2.5]);
        // The principal component is turned to raise the distance: along (0.6, -0.8), slope 0.6.
        let moved = head.move_to_distance(w.view(), -1.0, CeDirection::Principal).unwrap();
        assert!((moved[0] + 1.0).abs() < 1e-6 && (moved[1] - 4.0).abs() < 1e-6, "{moved:?}");
        // A file naming a direction must carry it; a head with one round-trips.
        let chosen = Head { ce_direction: CeDirection::Covariance, ..head.clone() };
        assert!(chosen.check().is_ok());
        assert_eq!(serde_json::from_str::<Head>(&serde_json::to_string(&chosen).unwrap()).unwrap(), chosen);
        let bare = Head { directions: None, ..chosen };
        assert!(bare.check().unwrap_err().to_string().contains("needs fitted directions"));
    }

    #[test]
    fn head_file_round_trips_and_rejects_other_files() {
        let dir = std::env::temp_dir().join(format!("daecf-head-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("head.json");
        let file = HeadFile::new(vec![toy_head(None)]);
        file.save(&path).unwrap();
        assert_eq!(HeadFile::load(&path).unwrap(), file);
        std::fs::write(&path, r#"{"format":"daecf-heads","version":99,"heads":[]}"#).unwrap();
        assert!(HeadFile::load(&path).unwrap_err().to_string().contains("version 99"));
        let mut broken = toy_head(Some(Standardizer { mean: vec![0.0; 3], std: vec![1.0; 3] }));
        std::fs::write(&path, serde_json::to_string(&HeadFile::new(vec![broken.clone()])).unwrap()).unwrap();
        assert!(HeadFile::load(&path).unwrap_err().to_string().contains("standardiser"));
        broken.standardizer = None;
        broken.calibration.grade_range = (3, 0);
        std::fs::write(&path, serde_json::to_string(&HeadFile::new(vec![broken])).unwrap()).unwrap();
        assert!(HeadFile::load(&path).unwrap_err().to_string().contains("grades (3, 0)"));
        std::fs::write(&path, "[1, 2]").unwrap();
        assert!(HeadFile::load(&path).unwrap_err().to_string().contains("daecf fit"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
