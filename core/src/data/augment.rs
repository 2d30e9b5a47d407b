//! The seed paper's training augmentations (Atad et al., MELBA 2024, Sec. 4: rotation up to
//! 30 degrees, horizontal and vertical flips, grid distortion and zoom of 90-110 %, each
//! applied with probability 0.5), as one geometric warp per image sampled bilinearly with
//! reflected borders. Grid distortion follows albumentations' GridDistortion: the image is cut
//! into `grid_steps` cells per axis and each cell's width and height scaled by 1 + U(-limit, limit).

use burn::config::Config;
use ndarray::{Array3, ArrayView3};
use rand::Rng;

/// Options of the augmentation.
#[derive(Config, Debug, PartialEq)]
pub struct AugmentConfig {
    /// Probability of each transform.
    #[config(default = 0.5)]
    pub p: f64,
    /// Largest rotation in degrees (either way).
    #[config(default = 30.0)]
    pub max_rotation: f32,
    /// Zoom range (factor on the image's size).
    #[config(default = "(0.9, 1.1)")]
    pub zoom: (f32, f32),
    /// Grid distortion: cells per axis.
    #[config(default = 5)]
    pub grid_steps: usize,
    /// Grid distortion: largest relative change of a cell's size.
    #[config(default = 0.3)]
    pub grid_limit: f32,
}

/// A monotone piecewise-linear map of [-1, 1] onto itself (one axis of the grid distortion).
struct AxisWarp {
    /// Cell edges in the output, evenly spaced; and where each lands in the source.
    source: Vec<f32>,
}

impl AxisWarp {
    fn identity(steps: usize) -> Self {
        Self { source: (0..=steps).map(|i| -1.0 + 2.0 * i as f32 / steps as f32).collect() }
    }

    fn random<R: Rng>(steps: usize, limit: f32, rng: &mut R) -> Self {
        let sizes: Vec<f32> = (0..steps).map(|_| 1.0 + rng.random_range(-limit..=limit)).collect();
        let total: f32 = sizes.iter().sum();
        let mut source = vec![-1.0];
        for s in &sizes {
            source.push(source.last().copied().unwrap_or(-1.0) + 2.0 * s / total);
        }
        Self { source }
    }

    fn map(&self, v: f32) -> f32 {
        let steps = self.source.len() - 1;
        let t = ((v + 1.0) / 2.0 * steps as f32).clamp(0.0, steps as f32);
        let i = (t.floor() as usize).min(steps - 1);
        let f = t - i as f32;
        self.source[i] * (1.0 - f) + self.source[i + 1] * f
    }
}

/// `image` [C, H, W] with random transforms of `config` applied (each with probability p).
pub fn augment<R: Rng>(image: ArrayView3<f32>, config: &AugmentConfig, rng: &mut R) -> Array3<f32> {
    let on = |rng: &mut R| rng.random_bool(config.p.clamp(0.0, 1.0));
    let angle = if on(rng) { rng.random_range(-config.max_rotation..=config.max_rotation).to_radians() } else { 0.0 };
    let flip_x = on(rng);
    let flip_y = on(rng);
    let steps = config.grid_steps.max(1);
    let (warp_x, warp_y) = if on(rng) {
        (AxisWarp::random(steps, config.grid_limit, rng), AxisWarp::random(steps, config.grid_limit, rng))
    } else {
        (AxisWarp::identity(steps), AxisWarp::identity(steps))
    };
    let zoom = if on(rng) { rng.random_range(config.zoom.0..=config.zoom.1) } else { 1.0 };

    let (c, h, w) = image.dim();
    let (sin, cos) = angle.sin_cos();
    Array3::from_shape_fn((c, h, w), |(ch, r, col)| {
        // Output pixel in [-1, 1], mapped back through zoom, rotation, flips and the grid warp.
        let (u, v) = ((col as f32 + 0.5) / w as f32 * 2.0 - 1.0, (r as f32 + 0.5) / h as f32 * 2.0 - 1.0);
        let (u, v) = (u / zoom, v / zoom);
        let (u, v) = (cos * u + sin * v, -sin * u + cos * v);
        let (u, v) = (if flip_x { -u } else { u }, if flip_y { -v } else { v });
        let (u, v) = (warp_x.map(u), warp_y.map(v));
        sample(image, ch, (u + 1.0) / 2.0 * w as f32 - 0.5, (v + 1.0) / 2.0 * h as f32 - 0.5)
    })
}

/// Bilinear sample of channel `ch` at pixel coordinates (x, y), borders reflected.
fn sample(image: ArrayView3<f32>, ch: usize, x: f32, y: f32) -> f32 {
    let (_, h, w) = image.dim();
    let reflect = |v: i64, n: usize| -> usize {
        let n = n as i64;
        if n == 1 {
            return 0;
        }
        let period = 2 * (n - 1);
        let m = v.rem_euclid(period);
        (if m < n { m } else { period - m }) as usize
    };
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let at = |dy: i64, dx: i64| image[[ch, reflect(y0 as i64 + dy, h), reflect(x0 as i64 + dx, w)]];
    (at(0, 0) * (1.0 - fx) + at(0, 1) * fx) * (1.0 - fy) + (at(1, 0) * (1.0 - fx) + at(1, 1) * fx) * fy
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn ramp() -> Array3<f32> {
        Array3::from_shape_fn((1, 8, 8), |(_, r, c)| (r * 8 + c) as f32 / 63.0)
    }

    #[test]
    fn probability_zero_is_the_identity() {
        let img = ramp();
        let out = augment(img.view(), &AugmentConfig::new().with_p(0.0), &mut ChaCha8Rng::seed_from_u64(1));
        assert!(out.iter().zip(&img).all(|(a, b)| (a - b).abs() < 1e-5));
    }

    #[test]
    fn flips_mirror_the_image() {
        let img = ramp();
        // p = 1 with no rotation, no zoom and no distortion: both flips, i.e. a 180-degree turn.
        let config = AugmentConfig::new().with_p(1.0).with_max_rotation(0.0).with_zoom((1.0, 1.0)).with_grid_limit(0.0);
        let out = augment(img.view(), &config, &mut ChaCha8Rng::seed_from_u64(2));
        assert!((out[[0, 0, 0]] - img[[0, 7, 7]]).abs() < 1e-5 && (out[[0, 3, 5]] - img[[0, 4, 2]]).abs() < 1e-5);
    }

    #[test]
    fn deterministic_under_a_seed_and_in_range() {
        let img = ramp();
        let c = AugmentConfig::new().with_p(1.0);
        let a = augment(img.view(), &c, &mut ChaCha8Rng::seed_from_u64(5));
        assert_eq!(a, augment(img.view(), &c, &mut ChaCha8Rng::seed_from_u64(5)));
        assert_ne!(a, img);
        assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn grid_warp_is_monotone_and_keeps_the_ends() {
        let w = AxisWarp::random(5, 0.3, &mut ChaCha8Rng::seed_from_u64(3));
        assert!((w.map(-1.0) + 1.0).abs() < 1e-6 && (w.map(1.0) - 1.0).abs() < 1e-5);
        let xs: Vec<f32> = (0..=20).map(|i| w.map(-1.0 + i as f32 / 10.0)).collect();
        assert!(xs.windows(2).all(|p| p[1] >= p[0]));
    }
}
