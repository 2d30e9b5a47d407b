//! Phantoms: synthetic scans whose ground truth is known, so that a counterfactual can be
//! checked by measuring the image rather than by looking at it.
//!
//! - [`vertebra`]: a sagittal slice of three vertebral bodies; the centre one carries a Genant
//!   grade by height loss (wedge, biconcave or crush form). [`vertebra_oracle`] measures that
//!   height loss back from an image.
//! - [`retina`]: an RGB fundus-like disc with vessels and an optic disc; the diabetic
//!   retinopathy grade (0-4) sets the number and size of lesions. [`retina_oracle`] counts them.
//!
//! Every image depends only on (seed, index): the n-th image of a set is the same whatever the
//! set's size, and sets with different seeds do not overlap.

pub mod attribution;
pub mod oracle;
pub mod raster;
pub mod regions;
pub mod retina;
pub mod retina_oracle;
pub mod vertebra;
pub mod vertebra_oracle;

use ndarray::{Array3, Array4, Axis, stack};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::named::Named;

pub use oracle::{Oracle, OracleReading};
pub use retina::{RetinaConfig, RetinaTruth};
pub use vertebra::{FractureForm, VertebraConfig, VertebraTruth, genant_grade};

use super::images::ImageSet;
use crate::{DaecfError, Result};

/// The phantom kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhantomKind {
    /// Sagittal slice of three vertebrae; the centre one has a Genant grade 0-3 by height loss.
    Vertebra,
    /// RGB fundus; diabetic retinopathy grade 0-4 by the number of lesions.
    Retina,
}

impl Named for PhantomKind {
    const ALL: &'static [Self] = &[PhantomKind::Vertebra, PhantomKind::Retina];
    const KIND: &'static str = "phantom";

    fn name(self) -> &'static str {
        match self {
            PhantomKind::Vertebra => "vertebra",
            PhantomKind::Retina => "retina",
        }
    }
}

crate::impl_named_text!(PhantomKind);

impl PhantomKind {
    /// The oracle that measures this phantom's graded finding.
    pub fn oracle(self) -> Oracle {
        match self {
            PhantomKind::Vertebra => Oracle::Vertebra,
            PhantomKind::Retina => Oracle::Retina,
        }
    }
}

/// The random stream of image `index` of the set seeded with `seed`.
pub(crate) fn image_rng(seed: u64, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index as u64);
    rng
}

/// Draws an index with probability proportional to its (non-negative) weight; the last index
/// when rounding leaves none.
pub(crate) fn draw_weighted<R: rand::Rng>(weights: &[f64], rng: &mut R) -> usize {
    let total: f64 = weights.iter().map(|w| w.max(0.0)).sum();
    let mut u = rng.random_range(0.0..total.max(f64::MIN_POSITIVE));
    weights
        .iter()
        .position(|w| {
            u -= w.max(0.0);
            u < 0.0
        })
        .unwrap_or(weights.len().saturating_sub(1))
}

/// Images `0..n` of `seed` from `generate`, as an [`ImageSet`] labelled by `grade`, and their truths.
pub(crate) fn generate_set<T>(
    name: &str,
    n: usize,
    seed: u64,
    generate: impl Fn(u64, usize) -> (Array3<f32>, T),
    grade: impl Fn(&T) -> i64,
) -> Result<(ImageSet, Vec<T>)> {
    let (images, truths): (Vec<_>, Vec<_>) = (0..n).map(|i| generate(seed, i)).unzip();
    let labels = truths.iter().map(grade).collect();
    Ok((image_set(name, images, labels)?, truths))
}

/// Stacks generated images into a named [`ImageSet`] labelled with `labels`.
fn image_set(name: &str, images: Vec<Array3<f32>>, labels: Vec<i64>) -> Result<ImageSet> {
    let views: Vec<_> = images.iter().map(|a| a.view()).collect();
    let images: Array4<f32> = stack(Axis(0), &views).map_err(|e| DaecfError::Data(format!("phantom images: {e}")))?;
    let ids = (0..labels.len()).map(|i| format!("{name}-{i:05}")).collect();
    Ok(ImageSet { name: name.into(), images, labels: labels.into_iter().map(Some).collect(), ids, groups: None })
}

/// The phantom seeds of an honest protocol, as the demo model follows it: the DAE and its heads
/// train on seed [`TRAINING_SEED`]'s phantoms, the CE settings (the head's C, the direction and
/// the strength) are chosen on [`TUNING_SEED`]'s, and every figure is reported on
/// [`REPORT_SEED`]'s, which no choice looked at. Their splits are pairwise disjoint.
pub const TRAINING_SEED: u64 = 0;
/// The seed whose phantoms CE settings are chosen on (see [`TRAINING_SEED`]).
pub const TUNING_SEED: u64 = 1;
/// The seed whose phantoms figures are reported on (see [`TRAINING_SEED`]).
pub const REPORT_SEED: u64 = 2;

/// The seed of split `split` (0 train, 1 val, 2 test) of a phantom set seeded with `seed`:
/// the splits never share an image.
pub fn split_seed(seed: u64, split: usize) -> u64 {
    seed.wrapping_mul(3).wrapping_add(split as u64)
}

/// A phantom data set in the MedMNIST layout: `train`, `val` and `test` splits of `n`, `n / 10`
/// and `n / 5` images (at least one each), from disjoint seeds derived from `seed`.
pub fn phantom_splits(kind: PhantomKind, n: usize, size: usize, seed: u64) -> Result<Vec<ImageSet>> {
    let sizes = [("train", n), ("val", (n / 10).max(1)), ("test", (n / 5).max(1))];
    sizes
        .iter()
        .enumerate()
        .map(|(i, &(name, count))| {
            let split_seed = split_seed(seed, i);
            match kind {
                PhantomKind::Vertebra => {
                    let config = VertebraConfig::new().with_size(size);
                    Ok(vertebra::generate_set(&config, name, count, split_seed)?.0)
                }
                PhantomKind::Retina => {
                    let config = RetinaConfig::new().with_size(size);
                    Ok(retina::generate_set(&config, name, count, split_seed)?.0)
                }
            }
        })
        .collect()
}
