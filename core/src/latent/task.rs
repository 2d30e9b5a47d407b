//! A binary task on graded labels: which labels count as positive, and which are left out of
//! the classifier's training (the paper trained its fracture classifier on G0, G2 and G3 only
//! and called G2-G3 positive).

use serde::{Deserialize, Serialize};

use crate::{DaecfError, Result};

/// Which labels are positive and which the classifier does not train on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// A name for reports and head files.
    pub name: String,
    /// The positive labels; `None` means every label above 0.
    pub positive: Option<Vec<i64>>,
    /// Labels left out of the classifier's training (still used for calibration).
    pub exclude: Vec<i64>,
}

impl TaskSpec {
    /// A task named `name` with the default rule: label > 0 is positive, nothing left out.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), positive: None, exclude: Vec::new() }
    }

    /// Whether `label` belongs to the positive class.
    pub fn is_positive(&self, label: i64) -> bool {
        self.positive.as_ref().map_or(label > 0, |p| p.contains(&label))
    }

    /// Whether samples with `label` train the classifier.
    pub fn trains_on(&self, label: i64) -> bool {
        !self.exclude.contains(&label)
    }

    /// How many of `labels` the classifier trains on are positive, and how many negative.
    pub fn class_counts(&self, labels: &[i64]) -> (usize, usize) {
        let trained = labels.iter().filter(|&&l| self.trains_on(l));
        let positive = trained.clone().filter(|&&l| self.is_positive(l)).count();
        (positive, trained.count() - positive)
    }

    /// Parses `NAME[:positive=A,B,..][:exclude=C,..]`, e.g. `fracture:positive=2,3:exclude=1`.
    pub fn parse(spec: &str) -> Result<Self> {
        let mut parts = spec.split(':');
        let name = parts.next().unwrap_or_default().trim();
        if name.is_empty() || name.contains('=') {
            return Err(task_error(spec, "it must start with a name"));
        }
        let mut task = Self::new(name);
        for part in parts {
            let (key, list) = part.split_once('=').ok_or_else(|| task_error(spec, "expected key=list"))?;
            let labels = parse_labels(list).map_err(|e| task_error(spec, &e))?;
            match key.trim() {
                "positive" => task.positive = Some(labels),
                "exclude" => task.exclude = labels,
                other => return Err(task_error(spec, &format!("unknown key '{other}' (use positive or exclude)"))),
            }
        }
        if let Some(p) = &task.positive
            && p.iter().any(|l| task.exclude.contains(l))
        {
            return Err(task_error(spec, "a label cannot be both positive and excluded"));
        }
        Ok(task)
    }
}

/// Parses a comma-separated list of integer labels.
pub fn parse_labels(list: &str) -> std::result::Result<Vec<i64>, String> {
    list.split(',').map(|s| s.trim().parse::<i64>().map_err(|_| format!("'{s}' is not an integer label"))).collect()
}

fn task_error(spec: &str, why: &str) -> DaecfError {
    DaecfError::Config(format!(
        "task '{spec}': {why}; write NAME[:positive=A,B][:exclude=C], e.g. fracture:positive=2,3:exclude=1"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn default_and_parsed_tasks() {
        let dr = TaskSpec::new("dr");
        assert!(!dr.is_positive(0) && dr.is_positive(1) && dr.is_positive(4) && dr.trains_on(1));
        let fx = TaskSpec::parse("fracture:positive=2,3:exclude=1").unwrap();
        assert_eq!(fx.positive, Some(vec![2, 3]));
        assert!(!fx.is_positive(1) && fx.is_positive(3) && !fx.trains_on(1) && fx.trains_on(0));
        assert_eq!(fx.class_counts(&[0, 1, 2, 3, 3, 1]), (3, 1));
        for bad in ["", "x:positive=a", "x:weird=1", "x:positive=1:exclude=1", "positive=1"] {
            assert!(TaskSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
