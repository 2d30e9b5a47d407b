//! The swap test: how much of a rendered picture z_sem controls, against the stochastic code x_T.
//!
//! For pairs of images (A, B), A's x_T is rendered with B's z_sem. Encoded again, a picture that
//! follows z_sem lands at B's distance from the head's hyperplane; one that x_T rules stays at
//! A's. The follow fraction (d(render) - d(A)) / (d(B) - d(A)) is 1 for the first and 0 for the
//! second; on phantoms the oracle's severity gives the same fraction measured in the picture.
//! A decoder whose pictures follow z_sem little cannot carry a counterfactual's latent move.

use std::cell::Cell;

use daecf_core::latent::{CeTarget, CounterfactualPlan, Head};
use daecf_core::pipeline::{CeSteps, explain, reencoded_distances};
use ndarray::ArrayView1;
use serde::Serialize;

use super::summary::median;
use super::{CeImages, semantic_latents};
use crate::commands::explain::Explainer;
use crate::data_source::batch_tensor;
use crate::preview::{to_unit_array, wait};

/// What the swap test measured.
#[derive(Debug, Clone, Serialize)]
pub struct SwapSummary {
    /// Pairs rendered.
    pub pairs: usize,
    /// Median follow fraction by the head's distance of the rendering encoded again.
    pub follows_distance: f64,
    /// Median follow fraction by the oracle's severity (A's and B's reconstructions against the
    /// rendering), on phantoms.
    pub follows_oracle: Option<f64>,
}

impl SwapSummary {
    /// The summary as (measure, value) rows.
    pub fn rows(&self) -> Vec<(String, String)> {
        let pct = |v: f64| format!("{:.1} %", 100.0 * v);
        let mut rows = vec![
            ("swap test: pairs (A's x_T rendered with B's z_sem)".to_string(), self.pairs.to_string()),
            ("swap test: how far the rendering follows B, by the head (median)".into(), pct(self.follows_distance)),
        ];
        if let Some(o) = self.follows_oracle {
            rows.push(("swap test: how far it follows B, by the oracle (median)".into(), pct(o)));
        }
        rows
    }
}

/// Renders each image's x_T with the z_sem of its partner, the image half the set further along
/// in order of distance (so that most pairs lie far apart), and measures how far each rendering
/// follows its partner (the head-only images of `images` take no part).
pub fn swap_test(
    with: Explainer,
    images: &CeImages,
    steps: CeSteps,
    on_step: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<SwapSummary> {
    let Explainer { model, head, device } = with;
    let CeImages { set, indices, oracle, .. } = *images;
    let n = indices.len();
    anyhow::ensure!(n >= 2, "the swap test needs at least 2 images");
    let z = semantic_latents(model, set, indices, steps.max_batch, device, &mut |_| {})?;
    let d = head.distances(z.view())?;
    let mut by_distance: Vec<usize> = (0..n).collect();
    by_distance.sort_by(|&a, &b| d[a].total_cmp(&d[b]));
    let mut partner = vec![0; n];
    for (rank, &k) in by_distance.iter().enumerate() {
        partner[k] = by_distance[(rank + n / 2) % n];
    }
    let turn = Cell::new(0usize);
    let plan = |h: &Head, w: ArrayView1<f32>| {
        let b = partner[turn.get()];
        turn.set(turn.get() + 1);
        let latent = z.row(b).to_vec();
        let step_size = latent.iter().zip(w.iter()).map(|(a, b)| (a - b).powi(2)).sum::<f32>().sqrt();
        Ok(vec![CounterfactualPlan {
            target: CeTarget::Distance(d[b]),
            distance: d[b],
            positive: d[b] > 0.0,
            grade: h.calibration.predict(d[b] as f64),
            latent_distance: d[b],
            step_size,
            latent,
        }])
    };
    let range = model.config.input_range;
    let (mut rendered, mut severity, mut recon_severity) = (Vec::new(), Vec::new(), Vec::new());
    let mut done = 0;
    let total = n.div_ceil(steps.max_batch.max(1)) * (steps.encode + 2 * steps.render);
    for chunk in indices.chunks(steps.max_batch.max(1)) {
        let x = batch_tensor(set, chunk, range, device);
        let mut progress = |k: usize, _: usize| {
            on_step(done + k, total);
            std::ops::ControlFlow::Continue(())
        };
        let result = explain(model, head, x, &plan, steps, &mut progress)?;
        done += steps.encode + 2 * steps.render;
        rendered.extend(wait(reencoded_distances(model, head, result.counterfactuals.clone()))?);
        let read = |images: ndarray::Array4<f32>| -> Vec<Option<f32>> {
            images.outer_iter().map(|im| oracle.and_then(|o| o.read(im).ok()).map(|r| r.severity)).collect()
        };
        severity.extend(read(to_unit_array(result.counterfactuals, range)?));
        recon_severity.extend(read(to_unit_array(result.reconstructions, range)?));
    }
    let follows = |a: f64, b: f64, r: f64| ((b - a).abs() > 1e-6).then(|| (r - a) / (b - a));
    let by_head = (0..n).filter_map(|k| follows(d[k] as f64, d[partner[k]] as f64, rendered[k] as f64));
    let by_oracle: Vec<f64> = (0..n)
        .filter_map(|k| match (recon_severity[k], recon_severity[partner[k]], severity[k]) {
            (Some(a), Some(b), Some(r)) => follows(a as f64, b as f64, r as f64),
            _ => None,
        })
        .collect();
    Ok(SwapSummary {
        pairs: n,
        follows_distance: median(by_head),
        follows_oracle: (oracle.is_some() && !by_oracle.is_empty()).then(|| median(by_oracle.into_iter())),
    })
}
