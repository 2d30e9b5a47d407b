//! A separating hyperplane n.w + b = 0 in z_sem space, the signed distance to it (eq. 3 of
//! Atad et al., MELBA 2024) and the moves along its normal that counterfactuals are made of.

use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::{DaecfError, Result};

/// The hyperplane n.w + b = 0 of a linear classifier; positive side = positive class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hyperplane {
    /// The normal n (the classifier's weights), not necessarily of unit length.
    pub normal: Vec<f32>,
    /// The bias b.
    pub bias: f32,
}

impl Hyperplane {
    /// A hyperplane from weights and bias; fails on a zero or non-finite normal.
    pub fn new(normal: Vec<f32>, bias: f32) -> Result<Self> {
        let plane = Self { normal, bias };
        if plane.is_degenerate() {
            return Err(DaecfError::Data(format!(
                "a classifier gave a degenerate hyperplane (|n| = {}, b = {bias}); \
                 check that the latents of the two classes differ",
                plane.norm()
            )));
        }
        Ok(plane)
    }

    /// Whether the normal is zero or anything is not finite: no distance can be measured.
    pub fn is_degenerate(&self) -> bool {
        let norm = self.norm();
        !(norm.is_finite() && norm > 0.0 && self.bias.is_finite())
    }

    /// The dimension of the latent space.
    pub fn dim(&self) -> usize {
        self.normal.len()
    }

    /// |n|.
    pub fn norm(&self) -> f32 {
        self.normal.iter().map(|v| v * v).sum::<f32>().sqrt()
    }

    /// The classifier's decision value n.w + b.
    pub fn decision(&self, w: ArrayView1<f32>) -> f32 {
        ArrayView1::from(&self.normal).dot(&w) + self.bias
    }

    /// The signed distance d(w) = (n.w + b) / |n|.
    pub fn signed_distance(&self, w: ArrayView1<f32>) -> f32 {
        self.decision(w) / self.norm()
    }

    /// The signed distances of the rows of `latents`.
    pub fn signed_distances(&self, latents: ArrayView2<f32>) -> Vec<f32> {
        let norm = self.norm();
        latents.dot(&ArrayView1::from(&self.normal)).iter().map(|v| (v + self.bias) / norm).collect()
    }

    /// w moved by `delta` along the unit normal: d(result) = d(w) + delta.
    pub fn shift(&self, w: ArrayView1<f32>, delta: f32) -> Vec<f32> {
        let scale = delta / self.norm();
        w.iter().zip(&self.normal).map(|(x, n)| x + scale * n).collect()
    }

    /// w moved along the normal so that its signed distance becomes `distance`.
    pub fn move_to_distance(&self, w: ArrayView1<f32>, distance: f32) -> Vec<f32> {
        self.shift(w, distance - self.signed_distance(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn distance_and_moves_by_hand() {
        // n = (3, 4), |n| = 5, b = -5: the point (3, 4) has n.w + b = 20, d = 4.
        let plane = Hyperplane::new(vec![3.0, 4.0], -5.0).unwrap();
        let w = array![3.0f32, 4.0];
        assert_eq!(plane.signed_distance(w.view()), 4.0);
        assert_eq!(plane.signed_distances(array![[3.0f32, 4.0], [0.0, 0.0]].view()), vec![4.0, -1.0]);
        // The mirror image (eq. 4): to distance -d.
        let mirrored = plane.move_to_distance(w.view(), -4.0);
        assert!((plane.signed_distance(ArrayView1::from(&mirrored)) + 4.0).abs() < 1e-5);
        // The reflection moves along n only: (3, 4) - 8 * (0.6, 0.8).
        assert!((mirrored[0] + 1.8).abs() < 1e-5 && (mirrored[1] + 2.4).abs() < 1e-5);
        let moved = plane.move_to_distance(w.view(), 1.5);
        assert!((plane.signed_distance(ArrayView1::from(&moved)) - 1.5).abs() < 1e-5);
    }

    #[test]
    fn degenerate_planes_are_rejected() {
        assert!(Hyperplane::new(vec![0.0, 0.0], 1.0).is_err());
        assert!(Hyperplane::new(vec![f32::NAN, 1.0], 1.0).is_err());
        assert!(Hyperplane { normal: vec![1.0], bias: f32::INFINITY }.is_degenerate());
    }
}
