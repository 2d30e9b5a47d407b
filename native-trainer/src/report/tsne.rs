//! A 2-d t-SNE embedding of latents (linfa-tsne, Barnes-Hut), as the paper's Fig. 7.

use anyhow::Context;
use linfa::traits::Transformer;
use linfa_tsne::TSneParams;
use ndarray::{Array2, ArrayView2};

/// Embeds the rows of `latents` in 2-d (perplexity 30, or less for small sets; fixed seed).
pub fn embed(latents: ArrayView2<f32>) -> anyhow::Result<Array2<f64>> {
    let n = latents.nrows();
    anyhow::ensure!(n >= 5, "t-SNE needs at least 5 samples, got {n}");
    let perplexity = 30f64.min((n as f64 - 1.0) / 3.0);
    TSneParams::embedding_size(2)
        .perplexity(perplexity)
        .approx_threshold(0.5)
        .max_iter(1000)
        .transform(latents.mapv(f64::from))
        .context("t-SNE of the latents failed")
}
