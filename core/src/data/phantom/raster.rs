//! Small drawing helpers shared by the phantoms: anti-aliased shapes from signed distances,
//! blending, a smooth texture and per-image noise.

use ndarray::{Array2, ArrayView2};
use rand::Rng;
use rand_distr::{Distribution, Normal};

/// Fraction of a pixel covered by a shape whose signed distance (positive inside, in image
/// units) is `sd`, for pixels of side `px` (a one-pixel linear ramp across the edge).
pub fn coverage(sd: f32, px: f32) -> f32 {
    (sd / px + 0.5).clamp(0.0, 1.0)
}

/// Linear blend from `a` (t = 0) to `b` (t = 1).
pub fn mix(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

/// A smooth random texture: a sum of a few plane waves with random direction, frequency and
/// phase, with values in about [-1, 1].
#[derive(Debug, Clone)]
pub struct Texture {
    waves: Vec<[f32; 4]>,
}

impl Texture {
    /// `waves` plane waves with spatial frequencies in `freq` (radians per image side).
    pub fn new<R: Rng>(rng: &mut R, waves: usize, freq: std::ops::Range<f32>) -> Self {
        let waves = (0..waves)
            .map(|_| {
                let angle: f32 = rng.random_range(0.0..std::f32::consts::TAU);
                let f = rng.random_range(freq.clone());
                [f * angle.cos(), f * angle.sin(), rng.random_range(0.0..std::f32::consts::TAU), 0.0]
            })
            .collect();
        Self { waves }
    }

    /// The texture at (x, y).
    pub fn at(&self, x: f32, y: f32) -> f32 {
        let n = self.waves.len().max(1) as f32;
        self.waves.iter().map(|[fx, fy, phase, _]| (fx * x + fy * y + phase).sin()).sum::<f32>() / n.sqrt()
    }
}

/// Adds Gaussian noise of standard deviation `sigma` to every value and clamps to [0, 1].
pub fn add_noise<R: Rng>(values: &mut [f32], sigma: f32, rng: &mut R) {
    let normal = Normal::new(0.0f32, sigma.max(0.0)).unwrap_or_else(|_| Normal::new(0.0, 0.0).expect("zero sigma"));
    for v in values {
        *v = (*v + normal.sample(rng)).clamp(0.0, 1.0);
    }
}

/// Pixel centres of a `size` x `size` image in image units, origin at the centre, y down:
/// yields (row, column, x, y).
pub fn pixel_centres(size: usize) -> impl Iterator<Item = (usize, usize, f32, f32)> {
    let s = size as f32;
    (0..size).flat_map(move |r| (0..size).map(move |c| (r, c, (c as f32 + 0.5) / s - 0.5, (r as f32 + 0.5) / s - 0.5)))
}

/// 3x3 mean filter with edges replicated.
pub fn box_blur(image: ArrayView2<f32>) -> Array2<f32> {
    let (h, w) = image.dim();
    Array2::from_shape_fn((h, w), |(r, c)| {
        let mut sum = 0.0;
        for dr in -1i64..=1 {
            for dc in -1i64..=1 {
                let rr = (r as i64 + dr).clamp(0, h as i64 - 1) as usize;
                let cc = (c as i64 + dc).clamp(0, w as i64 - 1) as usize;
                sum += image[[rr, cc]];
            }
        }
        sum / 9.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn coverage_ramps_across_one_pixel() {
        assert_eq!(coverage(-1.0, 0.1), 0.0);
        assert_eq!(coverage(1.0, 0.1), 1.0);
        assert!((coverage(0.0, 0.1) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn pixel_centres_are_symmetric() {
        let v: Vec<_> = pixel_centres(4).collect();
        assert_eq!(v.len(), 16);
        assert!((v[0].2 + v[15].2).abs() < 1e-6 && (v[0].3 + v[15].3).abs() < 1e-6);
    }
}
