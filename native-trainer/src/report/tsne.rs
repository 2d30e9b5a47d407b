//! A 2-d t-SNE embedding of latents (linfa-tsne, Barnes-Hut), as the paper's Fig. 7.

use anyhow::Context;
use linfa::traits::Transformer;
use linfa_tsne::TSneParams;
use ndarray::{Array2, ArrayView2};

/// Stack of the t-SNE thread: linfa-tsne's Barnes-Hut tree recurses once per level, and
/// nearly coincident points (the latents of a barely trained model) make it deep; with the
/// main thread's 8 MiB it overflowed on 300 such latents.
const TSNE_STACK: usize = 512 << 20;

/// Embeds the rows of `latents` in 2-d (perplexity 30, or less for small sets; fixed seed).
/// Each dimension is standardised first, so the embedding does not depend on the latents' scale.
pub fn embed(latents: ArrayView2<f32>) -> anyhow::Result<Array2<f64>> {
    let n = latents.nrows();
    anyhow::ensure!(n >= 5, "t-SNE needs at least 5 samples, got {n}");
    let perplexity = 30f64.min((n as f64 - 1.0) / 3.0);
    let mut x = latents.mapv(f64::from);
    for mut col in x.columns_mut() {
        let mean = col.mean().unwrap_or(0.0);
        let std = col.std(0.0);
        col.mapv_inplace(|v| if std > 0.0 { (v - mean) / std } else { 0.0 });
    }
    let worker = std::thread::Builder::new().stack_size(TSNE_STACK).spawn(move || {
        TSneParams::embedding_size(2).perplexity(perplexity).approx_threshold(0.5).max_iter(1000).transform(x)
    })?;
    let result = worker.join().map_err(|_| anyhow::anyhow!("t-SNE of the latents panicked"))?;
    result.context("t-SNE of the latents failed")
}
