//! Which vertebral body a counterfactual changed: the vertebra oracle's height ratios of the
//! centre body and both neighbours, before (the reconstruction) and after (the counterfactual).
//!
//! A head that grades the centre body should change the centre; one that took a shortcut
//! through a neighbour's fracture (the confounder of Atad et al., MELBA 2024, Fig. 5) changes
//! the neighbour. The neighbours' *attribution share* is their part of the whole measured
//! change, |d upper| + |d lower| over |d centre| + |d upper| + |d lower|, summed over a set.

use serde::Serialize;

use super::vertebra_oracle::VertebraMeasure;

/// The change of each body's measured height ratio between two images of one phantom.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BodyChanges {
    /// Change of the centre body's height ratio.
    pub centre: f32,
    /// Change of the upper neighbour's.
    pub upper: f32,
    /// Change of the lower neighbour's.
    pub lower: f32,
}

/// Where a change happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// The upper neighbour.
    Upper,
    /// The centre body, the graded one.
    Centre,
    /// The lower neighbour.
    Lower,
}

impl BodyChanges {
    /// The changes from `before` to `after`; `None` when the oracle missed a neighbour in either.
    pub fn between(before: &VertebraMeasure, after: &VertebraMeasure) -> Option<Self> {
        let [Some(up0), Some(low0)] = before.neighbour_ratios else { return None };
        let [Some(up1), Some(low1)] = after.neighbour_ratios else { return None };
        Some(Self { centre: after.height_ratio - before.height_ratio, upper: up1 - up0, lower: low1 - low0 })
    }

    /// The neighbours' share of this change (0 when nothing changed).
    pub fn neighbour_share(&self) -> f32 {
        let total = self.centre.abs() + self.upper.abs() + self.lower.abs();
        if total > 0.0 { (self.upper.abs() + self.lower.abs()) / total } else { 0.0 }
    }

    /// The body whose height ratio changed most.
    pub fn largest(&self) -> Body {
        let (c, u, l) = (self.centre.abs(), self.upper.abs(), self.lower.abs());
        if u > c && u >= l {
            Body::Upper
        } else if l > c && l > u {
            Body::Lower
        } else {
            Body::Centre
        }
    }
}

/// The neighbours' share of the summed measured change of `changes` (NaN for none).
pub fn neighbour_share(changes: &[BodyChanges]) -> f64 {
    let sum = |f: fn(&BodyChanges) -> f32| changes.iter().map(|c| f(c).abs() as f64).sum::<f64>();
    let (centre, neighbours) = (sum(|c| c.centre), sum(|c| c.upper) + sum(|c| c.lower));
    neighbours / (centre + neighbours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::phantom::vertebra::{VertebraConfig, generate};
    use crate::data::phantom::vertebra_oracle::measure;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// The oracle's reading of the phantom `index` of seed 9 under `config`.
    fn read(config: &VertebraConfig, index: usize) -> VertebraMeasure {
        measure(generate(config, 9, index).0.index_axis(ndarray::Axis(0), 0)).unwrap()
    }

    #[test]
    fn a_fractured_neighbour_is_attributed_to_the_neighbour() {
        // The same phantoms with and without their upper neighbour fractured: with full
        // confounding, a G2 centre's neighbour is fractured, and nothing else of the image differs.
        let plain = VertebraConfig::new().with_size(64).with_grade_weights([0.0, 0.0, 1.0, 0.0]);
        let confounded = plain.clone().with_neighbour_confounding(1.0);
        assert_eq!(generate(&plain, 9, 0).1.height_ratio, generate(&confounded, 9, 0).1.height_ratio);
        let changes: Vec<BodyChanges> =
            (0..8).filter_map(|i| BodyChanges::between(&read(&plain, i), &read(&confounded, i))).collect();
        assert!(changes.len() >= 6, "neighbours found in {} of 8", changes.len());
        assert!(changes.iter().all(|c| c.largest() == Body::Upper), "{changes:?}");
        assert!(neighbour_share(&changes) > 0.6, "{}", neighbour_share(&changes));
    }

    #[test]
    fn shares_and_the_largest_body_follow_the_changes() {
        let c = BodyChanges { centre: -0.3, upper: 0.1, lower: 0.0 };
        assert!((c.neighbour_share() - 0.25).abs() < 1e-6 && c.largest() == Body::Centre);
        let n = BodyChanges { centre: 0.05, upper: -0.2, lower: 0.1 };
        assert_eq!(n.largest(), Body::Upper);
        assert_eq!(BodyChanges { centre: 0.0, upper: 0.0, lower: 0.2 }.largest(), Body::Lower);
        assert_eq!(BodyChanges { centre: 0.0, upper: 0.0, lower: 0.0 }.neighbour_share(), 0.0);
        assert!((neighbour_share(&[c, n]) - 0.4 / 0.75).abs() < 1e-6);
        assert!(neighbour_share(&[]).is_nan());
    }
}
