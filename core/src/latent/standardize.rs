//! Per-dimension standardisation of latents, (w - mean) / std, which the authors' editing code
//! applies before fitting and moving. Heads that use it store the statistics with them.

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// Mean and standard deviation of each latent dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each dimension.
    pub mean: Vec<f32>,
    /// Standard deviation of each dimension (population; 1 where a dimension is constant).
    pub std: Vec<f32>,
}

impl Standardizer {
    /// The statistics of the rows of `latents`.
    pub fn fit(latents: ArrayView2<f32>) -> Self {
        let mean = latents.mean_axis(Axis(0)).map(|m| m.to_vec()).unwrap_or_default();
        let std = latents.std_axis(Axis(0), 0.0).iter().map(|&s| if s > f32::EPSILON { s } else { 1.0 }).collect();
        Self { mean, std }
    }

    /// Standardises every row.
    pub fn apply(&self, latents: ArrayView2<f32>) -> Array2<f32> {
        let mut out = latents.to_owned();
        for mut row in out.rows_mut() {
            row.iter_mut().zip(self.mean.iter().zip(&self.std)).for_each(|(v, (m, s))| *v = (*v - m) / s);
        }
        out
    }

    /// Standardises one latent.
    pub fn apply_one(&self, w: ArrayView1<f32>) -> Vec<f32> {
        w.iter().zip(self.mean.iter().zip(&self.std)).map(|(v, (m, s))| (v - m) / s).collect()
    }

    /// Maps a standardised latent back.
    pub fn invert_one(&self, w: &[f32]) -> Vec<f32> {
        w.iter().zip(self.mean.iter().zip(&self.std)).map(|(v, (m, s))| v * s + m).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn standardises_and_inverts() {
        let x = array![[1.0f32, 5.0], [3.0, 5.0]];
        let s = Standardizer::fit(x.view());
        assert_eq!((s.mean.clone(), s.std.clone()), (vec![2.0, 5.0], vec![1.0, 1.0]));
        assert_eq!(s.apply(x.view()), array![[-1.0f32, 0.0], [1.0, 0.0]]);
        let z = s.apply_one(x.row(1));
        assert_eq!(s.invert_one(&z), vec![3.0, 5.0]);
    }
}
