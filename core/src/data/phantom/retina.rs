//! The retina phantom: an RGB fundus-like image — the orange disc of the fundus on black, an
//! optic disc, a darker macula and vessel arcades leaving the optic disc — whose diabetic
//! retinopathy grade (0-4, the scale of RetinaMNIST / the DR grading of Wilkinson et al. 2003)
//! sets the number and size of lesions: microaneurysms (small red dots), haemorrhages (larger
//! dark red blots) and hard exudates (yellow spots).
//!
//! Lesion counts per grade are disjoint ranges of the total, so a count of lesions decides the
//! grade: 0: none; 1: 1-3 microaneurysms; 2: 4-11 lesions; 3: 13-22; 4: 26-38.

use burn::config::Config;
use ndarray::Array3;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::raster::{Texture, add_noise, coverage, mix, pixel_centres};
use super::{draw_weighted, image_rng};
use crate::data::ImageSet;

/// Options of the retina phantom.
#[derive(Config, Debug, PartialEq)]
pub struct RetinaConfig {
    /// Image side in pixels.
    #[config(default = 64)]
    pub size: usize,
    /// Relative frequency of the grades 0-4.
    #[config(default = "[1.0, 1.0, 1.0, 1.0, 1.0]")]
    pub grade_weights: [f64; 5],
}

/// What is true about one retina phantom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetinaTruth {
    /// Diabetic retinopathy grade, 0-4.
    pub grade: u8,
    /// Microaneurysms drawn.
    pub microaneurysms: u32,
    /// Haemorrhages drawn.
    pub haemorrhages: u32,
    /// Hard exudates drawn.
    pub exudates: u32,
}

/// The grade whose lesion-count range holds `lesions` (the nearest range between two).
pub fn grade_of_lesions(lesions: u32) -> u8 {
    match lesions {
        0 => 0,
        1..=3 => 1,
        4..=12 => 2,
        13..=24 => 3,
        _ => 4,
    }
}

/// A disc lesion: centre, radius, colour.
struct Spot {
    x: f32,
    y: f32,
    r: f32,
    colour: [f32; 3],
}

/// A vessel: a quadratic Bezier from the optic disc, sampled as a polyline, with its width.
struct Vessel {
    points: Vec<(f32, f32)>,
    width: f32,
}

impl Vessel {
    fn distance(&self, x: f32, y: f32) -> f32 {
        self.points
            .windows(2)
            .map(|s| {
                let ((ax, ay), (bx, by)) = (s[0], s[1]);
                let (dx, dy) = (bx - ax, by - ay);
                let t = (((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
                ((x - ax - t * dx).powi(2) + (y - ay - t * dy).powi(2)).sqrt()
            })
            .fold(f32::MAX, f32::min)
    }
}

/// Image `index` of the retina set seeded with `seed`: [3, size, size] in [0, 1], and its truth.
pub fn generate(config: &RetinaConfig, seed: u64, index: usize) -> (Array3<f32>, RetinaTruth) {
    let rng = &mut image_rng(seed, index);
    let grade = draw_weighted(&config.grade_weights, rng) as u8;
    let (ma, haem, exu) = match grade {
        0 => (0, 0, 0),
        1 => (rng.random_range(1..=3), 0, 0),
        2 => (rng.random_range(3..=6), rng.random_range(1..=3), rng.random_range(0..=2)),
        3 => (rng.random_range(4..=8), rng.random_range(4..=7), rng.random_range(5..=7)),
        _ => (rng.random_range(6..=10), rng.random_range(9..=14), rng.random_range(11..=14)),
    };

    let (cx, cy) = (rng.random_range(-0.02..0.02), rng.random_range(-0.02..0.02));
    let radius = rng.random_range(0.44..0.48);
    let side = if rng.random_bool(0.5) { 1.0f32 } else { -1.0 };
    let disc = (cx + side * rng.random_range(0.2..0.24), cy + rng.random_range(-0.03..0.03));
    let macula = (cx - side * 0.08, cy);
    let base = [rng.random_range(0.7..0.85), rng.random_range(0.3..0.4), rng.random_range(0.12..0.2)];
    let texture = Texture::new(rng, 5, 10.0..30.0);
    let vessels: Vec<Vessel> = [-1.0f32, 1.0, -0.5, 0.5]
        .iter()
        .map(|&dir| {
            let bend = (disc.0 - side * rng.random_range(0.15..0.25), disc.1 + dir * rng.random_range(0.2..0.3));
            let end = (disc.0 - side * rng.random_range(0.4..0.55), disc.1 + dir * rng.random_range(0.05..0.25));
            let points = (0..=16)
                .map(|i| {
                    let t = i as f32 / 16.0;
                    let a = (1.0 - t) * (1.0 - t);
                    let (b, c) = (2.0 * (1.0 - t) * t, t * t);
                    (a * disc.0 + b * bend.0 + c * end.0, a * disc.1 + b * bend.1 + c * end.1)
                })
                .collect();
            Vessel { points, width: if dir.abs() > 0.9 { 0.014 } else { 0.009 } }
        })
        .collect();
    // Lesions: away from the optic disc, inside the fundus.
    let mut spots = Vec::new();
    let kinds = [
        (ma, (0.012, 0.016), [0.5, 0.03, 0.03]),
        (haem, (0.022, 0.034), [0.4, 0.02, 0.02]),
        (exu, (0.012, 0.02), [0.98, 0.9, 0.45]),
    ];
    for (count, (r0, r1), colour) in kinds {
        let mut placed = 0;
        while placed < count {
            let (x, y) = (cx + rng.random_range(-0.36..0.36), cy + rng.random_range(-0.36..0.36));
            let r = rng.random_range(r0..r1);
            let far = |p: (f32, f32), d: f32| ((x - p.0).powi(2) + (y - p.1).powi(2)).sqrt() > d;
            let apart = spots.iter().all(|s: &Spot| far((s.x, s.y), s.r + r + 0.03));
            if far((cx, cy), -1.0) && !far((cx, cy), 0.38) && far(disc, 0.12) && apart {
                spots.push(Spot { x, y, r, colour });
                placed += 1;
            }
        }
    }
    let noise = rng.random_range(0.01..0.025);
    let brightness = rng.random_range(0.85..1.1);

    let s = config.size;
    let px = 1.0 / s as f32;
    let mut pixels = vec![0.0f32; 3 * s * s];
    for (r, c, x, y) in pixel_centres(s) {
        let rho = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
        let vignette = 1.0 - 0.35 * (rho / radius).powi(2);
        let mut rgb = base.map(|b| b * vignette * brightness * (1.0 + 0.06 * texture.at(x, y)));
        let dm = ((x - macula.0).powi(2) + (y - macula.1).powi(2)).sqrt();
        rgb = rgb.map(|v| v * (1.0 - 0.3 * (-(dm / 0.07).powi(2)).exp()));
        let dd = ((x - disc.0).powi(2) + (y - disc.1).powi(2)).sqrt();
        let disc_cov = coverage(0.065 - dd, px);
        rgb = [mix(rgb[0], 0.97, disc_cov), mix(rgb[1], 0.85, disc_cov), mix(rgb[2], 0.6, disc_cov)];
        for v in &vessels {
            let cov = coverage(v.width / 2.0 - v.distance(x, y), px) * 0.8;
            rgb = [mix(rgb[0], 0.55 * brightness, cov), mix(rgb[1], 0.2, cov), mix(rgb[2], 0.1, cov)];
        }
        for spot in &spots {
            let d = ((x - spot.x).powi(2) + (y - spot.y).powi(2)).sqrt();
            let cov = coverage(spot.r - d, px);
            rgb = [0, 1, 2].map(|k| mix(rgb[k], spot.colour[k], cov));
        }
        let inside = coverage(radius - rho, px);
        for k in 0..3 {
            pixels[k * s * s + r * s + c] = rgb[k] * inside;
        }
    }
    add_noise(&mut pixels, noise, rng);
    let image = Array3::from_shape_vec((3, s, s), pixels).expect("3 x size x size pixels");
    (image, RetinaTruth { grade, microaneurysms: ma, haemorrhages: haem, exudates: exu })
}

/// `n` retina phantoms (indices 0..n of `seed`) labelled with the grade, and their truths.
pub fn generate_set(
    config: &RetinaConfig,
    name: &str,
    n: usize,
    seed: u64,
) -> crate::Result<(ImageSet, Vec<RetinaTruth>)> {
    super::generate_set(name, n, seed, |s, i| generate(config, s, i), |t| t.grade as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn lesion_counts_decide_the_grade() {
        let c = RetinaConfig::new().with_size(32);
        for i in 0..100 {
            let (img, t) = generate(&c, 5, i);
            assert_eq!(grade_of_lesions(t.microaneurysms + t.haemorrhages + t.exudates), t.grade, "{t:?}");
            assert_eq!(img.dim(), (3, 32, 32));
        }
    }

    #[test]
    fn deterministic_per_index() {
        let c = RetinaConfig::new().with_size(32);
        assert_eq!(generate(&c, 1, 2), generate(&c, 1, 2));
        assert_ne!(generate(&c, 1, 2).0, generate(&c, 1, 3).0);
    }
}
