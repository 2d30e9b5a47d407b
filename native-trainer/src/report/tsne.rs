//! A 2-d t-SNE embedding of latents (linfa-tsne), as the paper's Fig. 7.
//!
//! The embedding is exact (theta = 0) on at most [`MAX_POINTS`] latents. linfa-tsne's
//! Barnes-Hut tree (bhtsne 0.4.1) recursed without end on the latents of the young demo model
//! (1.3 million frames deep in `SPTree::insert` on 500 of them, a stack overflow even with a
//! 512 MiB stack), and the exact gradient is affordable at this size: 500 latents in 2 s,
//! 2000 in 39 s on 2 cores.

use anyhow::Context;
use linfa::traits::Transformer;
use linfa_tsne::TSneParams;
use ndarray::{Array2, ArrayView2, Axis};

/// The most latents one t-SNE figure shows; larger sets are thinned evenly.
pub const MAX_POINTS: usize = 1000;

/// A t-SNE embedding and which rows of the input it shows.
pub struct Embedding {
    /// 2-d coordinates, one row per shown latent.
    pub coords: Array2<f64>,
    /// The input rows shown, in order (all of them up to [`MAX_POINTS`]).
    pub rows: Vec<usize>,
}

/// The rows shown of `n`: all of them, or [`MAX_POINTS`] evenly spaced ones.
fn thinned(n: usize) -> Vec<usize> {
    let m = n.min(MAX_POINTS);
    (0..m).map(|i| i * n / m).collect()
}

/// Embeds (up to [`MAX_POINTS`] of) the rows of `latents` in 2-d (perplexity 30, or less for
/// small sets; fixed seed). Each dimension is standardised first, so the embedding does not
/// depend on the latents' scale.
pub fn embed(latents: ArrayView2<f32>) -> anyhow::Result<Embedding> {
    let rows = thinned(latents.nrows());
    let n = rows.len();
    anyhow::ensure!(n >= 5, "t-SNE needs at least 5 samples, got {n}");
    let perplexity = 30f64.min((n as f64 - 1.0) / 3.0);
    let mut x = latents.select(Axis(0), &rows).mapv(f64::from);
    for mut col in x.columns_mut() {
        let mean = col.mean().unwrap_or(0.0);
        let std = col.std(0.0);
        col.mapv_inplace(|v| if std > 0.0 { (v - mean) / std } else { 0.0 });
    }
    let coords = TSneParams::embedding_size(2)
        .perplexity(perplexity)
        .approx_threshold(0.0)
        .max_iter(1000)
        .transform(x)
        .context("t-SNE of the latents failed")?;
    anyhow::ensure!(coords.iter().all(|v| v.is_finite()), "t-SNE of the latents diverged (non-finite coordinates)");
    Ok(Embedding { coords, rows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn large_sets_are_thinned_evenly() {
        assert_eq!(thinned(7), (0..7).collect::<Vec<_>>());
        let rows = thinned(2500);
        assert_eq!(rows.len(), MAX_POINTS);
        assert_eq!((rows[0], rows[1], rows[2], *rows.last().unwrap()), (0, 2, 5, 2497));
    }

    /// Two clusters far apart in 64-d, with per-dimension scales spread 30-fold (as young
    /// DAE latents are): the embedding is finite and keeps the clusters apart.
    #[test]
    fn separates_two_clusters() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let latents = Array2::from_shape_fn((60, 64), |(i, j)| {
            let scale = 0.01 + 0.3 * j as f32 / 64.0;
            let centre = if i < 30 { 0.0 } else { 5.0 * scale };
            centre + scale * (rng.random::<f32>() - 0.5)
        });
        let e = embed(latents.view()).unwrap();
        assert_eq!(e.rows.len(), 60);
        let mean = |r: std::ops::Range<usize>| e.coords.slice(ndarray::s![r, ..]).mean_axis(Axis(0)).unwrap();
        let (a, b) = (mean(0..30), mean(30..60));
        let gap = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        let spread = e.coords.slice(ndarray::s![0..30, ..]).std_axis(Axis(0), 0.0).sum();
        assert!(gap > 2.0 * spread, "gap {gap}, spread {spread}");
    }
}
