//! The vertebra phantom: a sagittal-slice-like image of three stacked vertebral bodies
//! separated by intervertebral discs, each a bright cortical rim around a darker textured
//! trabecular interior, with the posterior elements behind the spinal canal, soft tissue and
//! noise. The centre body carries a Genant grade (Genant et al., JBMR 1993) by its height loss:
//! G0 < 20 %, G1 20-25 %, G2 25-40 %, G3 > 40 %.
//!
//! Geometry (image units, origin at the image centre, x to the right = posterior, y down):
//! the height of a body is measured on three columns at 10 %, 50 % and 90 % of its width
//! (anterior, middle, posterior, as a radiologist measures Genant heights). A fracture lowers
//! one of them by the loss `l`: the anterior one (wedge, the loss falling linearly to zero at
//! the posterior column), the middle one (biconcave, both endplates concave, anterior and
//! posterior intact) or the posterior one (crush, the posterior wall collapsing, the mirror of
//! the wedge). One column always keeps the intact height, so the true height ratio min/max of
//! the three columns is exactly `1 - l`.

use burn::config::Config;
use ndarray::Array3;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::raster::{Texture, add_noise, coverage, mix, pixel_centres};
use super::{draw_weighted, image_rng};

use crate::data::ImageSet;

/// The Genant grade of a relative height loss (0.0-1.0).
pub fn genant_grade(loss: f32) -> u8 {
    match loss {
        l if l < 0.20 => 0,
        l if l < 0.25 => 1,
        l if l < 0.40 => 2,
        _ => 3,
    }
}

/// The shape of a vertebral fracture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FractureForm {
    /// Anterior height lost.
    Wedge,
    /// Middle height lost (both endplates concave).
    Biconcave,
    /// Posterior height lost.
    Crush,
}

impl FractureForm {
    /// The form's name as written in labels files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Wedge => "wedge",
            Self::Biconcave => "biconcave",
            Self::Crush => "crush",
        }
    }

    /// How much of the loss applies at relative position `s` across the body (0 anterior,
    /// 1 posterior): 1 at the form's measuring column, 0 at the other two.
    fn profile(self, s: f32) -> f32 {
        match self {
            Self::Wedge => ((0.9 - s) / 0.8).clamp(0.0, 1.0),
            Self::Biconcave => (1.0 - ((s - 0.5) / 0.4).powi(2)).clamp(0.0, 1.0),
            Self::Crush => ((s - 0.1) / 0.8).clamp(0.0, 1.0),
        }
    }
}

/// Options of the vertebra phantom.
#[derive(Config, Debug, PartialEq)]
pub struct VertebraConfig {
    /// Image side in pixels.
    #[config(default = 64)]
    pub size: usize,
    /// Relative frequency of the Genant grades 0, 1, 2, 3 (the grade of each image is drawn
    /// from these weights; the form is then drawn uniformly).
    #[config(default = "[1.0, 1.0, 1.0, 1.0]")]
    pub grade_weights: [f64; 4],
    /// Probability that the upper neighbour is fractured too (a wedge of 25-45 %), the
    /// confounder of the seed paper's Fig. 5.
    #[config(default = 0.0)]
    pub neighbour_fracture: f64,
    /// How strongly the upper neighbour's state follows the centre body's (a shortcut a head can
    /// take): with this probability the neighbour is fractured exactly when the centre is (grade
    /// 2 or 3), otherwise as `neighbour_fracture` says. With c and p = `neighbour_fracture`, a
    /// fractured centre has a fractured neighbour with probability c + (1 - c) p, a healthy one
    /// with (1 - c) p: c = 0.8, p = 0.5 gives 90 % and 10 %; c = 0, neighbours independent.
    #[config(default = 0.0)]
    pub neighbour_confounding: f64,
}

/// What is true about one vertebra phantom.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VertebraTruth {
    /// Genant grade of the centre body (0-3).
    pub grade: u8,
    /// Fracture form of the centre body (meaningful when its loss is not 0).
    pub form: FractureForm,
    /// Centre body: min/max of its anterior, middle and posterior heights (1 - loss).
    pub height_ratio: f32,
    /// Centre body's anterior, middle and posterior heights relative to its intact height.
    pub heights: [f32; 3],
    /// Upper neighbour's height ratio (1 unless the confounder fractured it).
    pub neighbour_ratio: f32,
}

/// One body in the slice: its centre height and how its columns are lowered.
struct Body {
    y: f32,
    height: f32,
    loss: f32,
    form: FractureForm,
}

impl Body {
    /// Signed distance (positive inside) of (x, y) to the body of width `w`.
    fn distance(&self, x: f32, y: f32, w: f32) -> f32 {
        let s = ((x + w / 2.0) / w).clamp(0.0, 1.0);
        let h = self.height * (1.0 - self.loss * self.form.profile(s));
        let dy = y - self.y;
        (x + w / 2.0).min(w / 2.0 - x).min(h / 2.0 - dy).min(h / 2.0 + dy)
    }
}

/// Draws the loss of grade `grade`, inside the grade's band with a margin from its edges.
fn loss_of_grade<R: Rng>(grade: u8, rng: &mut R) -> f32 {
    match grade {
        0 => rng.random_range(0.0..0.17),
        1 => rng.random_range(0.205..0.245),
        2 => rng.random_range(0.26..0.39),
        _ => rng.random_range(0.41..0.55),
    }
}

/// The random stream of image `index`'s upper neighbour (apart from the image's own).
fn neighbour_rng(seed: u64, index: usize) -> rand_chacha::ChaCha8Rng {
    let mut rng = image_rng(seed, 0);
    rng.set_stream((1 << 63) | index as u64);
    rng
}

/// Image `index` of the phantom set seeded with `seed`: [1, size, size] in [0, 1], and its truth.
pub fn generate(config: &VertebraConfig, seed: u64, index: usize) -> (Array3<f32>, VertebraTruth) {
    let rng = &mut image_rng(seed, index);
    let grade = draw_weighted(&config.grade_weights, rng) as u8;
    let form = [FractureForm::Wedge, FractureForm::Biconcave, FractureForm::Crush][rng.random_range(0..3)];
    let loss = loss_of_grade(grade, rng);
    let mut neighbour_fractured = rng.random_bool(config.neighbour_fracture.clamp(0.0, 1.0));
    // Drawn only when asked for, so that unconfounded sets keep their images.
    if config.neighbour_confounding > 0.0 && rng.random_bool(config.neighbour_confounding.clamp(0.0, 1.0)) {
        neighbour_fractured = grade >= 2;
    }
    // The neighbour's loss comes from a stream of its own: a phantom with and without a
    // fractured neighbour is otherwise the same image.
    let neighbour_loss = if neighbour_fractured { neighbour_rng(seed, index).random_range(0.25..0.45) } else { 0.0 };

    // Nuisance: spine level (size and aspect), position, rotation, intensities, texture, noise.
    let level: f32 = rng.random_range(0.0..1.0);
    let w = 0.30 + 0.06 * level + rng.random_range(-0.015..0.015);
    let h0 = w * (0.78 - 0.15 * level + rng.random_range(-0.03..0.03));
    let disc = rng.random_range(0.05..0.075);
    let (cx, cy) = (-0.06 + rng.random_range(-0.035..0.035), rng.random_range(-0.035..0.035));
    let angle: f32 = rng.random_range(-8f32..8.0).to_radians();
    let rim = rng.random_range(0.018..0.028);
    let tissue = rng.random_range(0.08..0.16);
    let disc_value = rng.random_range(0.14..0.22);
    let trabecular = rng.random_range(0.44..0.58);
    let cortical = rng.random_range(0.80..0.95);
    let canal = rng.random_range(0.03..0.08);
    let contrast = rng.random_range(0.85..1.15);
    let brightness = rng.random_range(-0.04..0.04);
    let noise = rng.random_range(0.01..0.03);
    let texture = Texture::new(rng, 6, 35.0..80.0);

    let step = h0 + disc;
    let bodies = [
        Body { y: -step, height: h0 * rng.random_range(0.96..1.04), loss: neighbour_loss, form: FractureForm::Wedge },
        Body { y: 0.0, height: h0, loss, form },
        Body { y: step, height: h0 * rng.random_range(0.96..1.04), loss: 0.0, form: FractureForm::Wedge },
    ];
    let px = 1.0 / config.size as f32;
    let (sin, cos) = angle.sin_cos();
    let mut pixels = vec![0.0f32; config.size * config.size];
    for (r, c, gx, gy) in pixel_centres(config.size) {
        let (dx, dy) = (gx - cx, gy - cy);
        let (x, y) = (cos * dx + sin * dy, -sin * dx + cos * dy);
        let mut v = tissue + 0.03 * x;
        let canal_sd = (x - (w / 2.0 + 0.012)).min(w / 2.0 + 0.055 - x);
        v = mix(v, canal, coverage(canal_sd, px));
        v = mix(v, disc_value, coverage(w / 2.0 * 0.97 - x.abs(), px));
        let bone = |sd: f32, inner: f32| {
            let interior = mix(cortical, inner + 0.06 * texture.at(x, y), coverage(sd - rim, px));
            (coverage(sd, px), interior)
        };
        for body in &bodies {
            let (cov, value) = bone(body.distance(x, y, w), trabecular);
            v = mix(v, value, cov);
            // The posterior elements (pedicle and spinous process) of this level.
            let (ex, ey) = (x - (w / 2.0 + 0.18), y - (body.y + 0.1 * h0));
            let (rx, ry) = (0.11, 0.27 * h0);
            let e = 1.0 - ((ex / rx).powi(2) + (ey / ry).powi(2)).sqrt();
            let (cov, value) = bone(e * rx.min(ry), trabecular * 0.9);
            v = mix(v, value, cov);
        }
        pixels[r * config.size + c] = ((v - 0.5) * contrast + 0.5 + brightness).clamp(0.0, 1.0);
    }
    add_noise(&mut pixels, noise, rng);
    let image = Array3::from_shape_vec((1, config.size, config.size), pixels).expect("size x size pixels");
    let heights = [0.1f32, 0.5, 0.9].map(|s| 1.0 - loss * form.profile(s));
    let truth = VertebraTruth { grade, form, height_ratio: 1.0 - loss, heights, neighbour_ratio: 1.0 - neighbour_loss };
    (image, truth)
}

/// `n` vertebra phantoms (indices 0..n of `seed`) as an [`ImageSet`] labelled with the grade,
/// and their truths. Fails on a probability outside [0, 1] or grade weights that are not
/// finite, non-negative and positive in sum.
pub fn generate_set(
    config: &VertebraConfig,
    name: &str,
    n: usize,
    seed: u64,
) -> crate::Result<(ImageSet, Vec<VertebraTruth>)> {
    for (what, p) in
        [("neighbour-fracture", config.neighbour_fracture), ("neighbour-confounding", config.neighbour_confounding)]
    {
        if !(0.0..=1.0).contains(&p) {
            return Err(crate::DaecfError::Config(format!("the {what} probability {p} must lie in [0, 1]")));
        }
    }
    let weights = &config.grade_weights;
    if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) || weights.iter().sum::<f64>() <= 0.0 {
        return Err(crate::DaecfError::Config(format!(
            "grade weights {weights:?} must be finite, non-negative and not all 0 (e.g. [1, 1, 1, 1])"
        )));
    }
    let fractured_weight: f64 = weights[2..].iter().sum();
    if config.neighbour_confounding > 0.0
        && (fractured_weight == 0.0 || fractured_weight == weights.iter().sum::<f64>())
    {
        return Err(crate::DaecfError::Config(format!(
            "neighbour confounding ties the neighbour to the centre's fracture (grade 2 or 3), but grade weights \
             {weights:?} give one class only; give weight to grades 0-1 and 2-3"
        )));
    }
    super::generate_set(name, n, seed, |s, i| generate(config, s, i), |t| t.grade as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn impossible_settings_are_refused() {
        for config in [
            VertebraConfig::new().with_neighbour_fracture(f64::NAN),
            VertebraConfig::new().with_neighbour_fracture(1.5),
            VertebraConfig::new().with_grade_weights([0.0; 4]),
            VertebraConfig::new().with_grade_weights([1.0, f64::INFINITY, 1.0, 1.0]),
            VertebraConfig::new().with_neighbour_confounding(-0.1),
            VertebraConfig::new().with_neighbour_confounding(0.5).with_grade_weights([0.0, 0.0, 1.0, 1.0]),
        ] {
            assert!(generate_set(&config, "x", 1, 0).is_err(), "{config:?}");
        }
    }

    #[test]
    fn grades_follow_genant_thresholds() {
        assert_eq!([0.0, 0.19, 0.2, 0.249, 0.25, 0.399, 0.4, 0.6].map(genant_grade), [0, 0, 1, 1, 2, 2, 3, 3]);
    }

    #[test]
    fn drawn_losses_fall_in_their_grade() {
        let rng = &mut image_rng(1, 0);
        for g in 0..4 {
            for _ in 0..200 {
                assert_eq!(genant_grade(loss_of_grade(g, rng)), g);
            }
        }
    }

    #[test]
    fn images_are_deterministic_and_depend_on_the_index() {
        let c = VertebraConfig::new().with_size(32);
        let (a, ta) = generate(&c, 7, 3);
        let (b, tb) = generate(&c, 7, 3);
        assert_eq!(a, b);
        assert_eq!(ta, tb);
        assert_ne!(generate(&c, 7, 4).0, a);
        assert_eq!(a.dim(), (1, 32, 32));
        assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn truth_matches_the_measuring_columns() {
        let c = VertebraConfig::new();
        for i in 0..50 {
            let (_, t) = generate(&c, 2, i);
            let min = t.heights.iter().copied().fold(f32::INFINITY, f32::min);
            assert!((min - t.height_ratio).abs() < 1e-6);
            assert!(t.heights.iter().any(|&h| (h - 1.0).abs() < 1e-6));
            assert_eq!(genant_grade(1.0 - t.height_ratio), t.grade);
        }
    }

    #[test]
    fn confounder_fractures_the_upper_neighbour() {
        let c = VertebraConfig::new().with_neighbour_fracture(1.0);
        assert!((0..20).all(|i| generate(&c, 0, i).1.neighbour_ratio < 0.76));
        let c = VertebraConfig::new();
        assert!((0..20).all(|i| generate(&c, 0, i).1.neighbour_ratio == 1.0));
    }

    #[test]
    fn confounding_ties_the_neighbour_to_the_centre() {
        // c = 0.8, p = 0.5: 90 % of fractured centres and 10 % of healthy ones have a fractured
        // neighbour; c = 1, p = 0: exactly the fractured ones.
        let rate = |c: &VertebraConfig, fractured: bool| {
            let truths: Vec<_> =
                (0..2000).map(|i| generate(c, 3, i).1).filter(|t| (t.grade >= 2) == fractured).collect();
            truths.iter().filter(|t| t.neighbour_ratio < 1.0).count() as f64 / truths.len() as f64
        };
        let c = VertebraConfig::new().with_size(16).with_neighbour_fracture(0.5).with_neighbour_confounding(0.8);
        let (with, without) = (rate(&c, true), rate(&c, false));
        assert!((with - 0.9).abs() < 0.03 && (without - 0.1).abs() < 0.03, "{with} {without}");
        let c = VertebraConfig::new().with_size(16).with_neighbour_confounding(1.0);
        assert_eq!((rate(&c, true), rate(&c, false)), (1.0, 0.0));
        // Unconfounded sets keep their images.
        let plain = VertebraConfig::new().with_size(16).with_neighbour_fracture(0.3);
        assert_eq!(generate(&plain, 5, 1), generate(&plain.clone().with_neighbour_confounding(0.0), 5, 1));
    }
}
