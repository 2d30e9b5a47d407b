//! A new task on the page: the engine worker encodes the user's labelled images to z_sem and
//! fits a linear head on them (daecf-core's fitting, as `daecf fit` does: a linear SVM at C = 1,
//! the distance -> grade calibration, k-fold cross-validation), so that a question the bundle's
//! heads do not answer gets its own head, and its counterfactuals, without leaving the page
//! (Atad et al., MELBA 2024, Sec. 3.2: one DAE, a linear head per task).

use daecf_core::latent::fit::{HeadConfig, MeanSd, cross_validate, fit_head};
use daecf_core::latent::{Head, HeadFile, TaskSpec};
use ndarray::{Array2, Array3};
use serde::{Deserialize, Serialize};

use crate::engine::Loaded;
use crate::picture::read_values;

/// At least this many images of each class before a head is fitted.
pub const MIN_PER_CLASS: usize = 2;
/// Below this many images of a class the page warns that the figures are rough.
pub const TRUSTED_PER_CLASS: usize = 10;
/// Folds of the cross-validation (fewer when a class has fewer images).
pub const FOLDS: usize = 5;
/// Seed of the folds' draw (`daecf fit --folds K` draws the same folds with its default seed).
pub const SEED: u64 = 0;

/// A head fitted on the page, with what its cross-validation measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fitted {
    /// The task's name.
    pub task: String,
    /// Images per label, in label order.
    pub per_label: Vec<(i64, usize)>,
    /// Folds of the cross-validation (0: too few images to cross-validate).
    pub folds: usize,
    /// Mean and sd of the folds' ROC-AUC.
    pub auc: Option<(f64, f64)>,
    /// Mean and sd of the folds' grade MAE (graded tasks).
    pub mae: Option<(f64, f64)>,
    /// Why the figures should not be trusted, if so.
    pub warning: Option<String>,
    /// The head as `daecf fit` writes it (a head file of one head).
    pub head_json: String,
}

/// z_sem of `image` ([C, H, W] in [0, 1], at the model's size).
pub async fn semantic_latent(loaded: &Loaded, image: &Array3<f32>) -> Result<Vec<f32>, String> {
    read_values(loaded.model.encode(loaded.input(image))).await
}

/// Fits a head called `name` on `latents` (one row of the model's latent size each) and their
/// `labels` (0/1, or grades), cross-validated; the CE direction and strength are those of
/// `first`, the bundle's first head (the choices `daecf export` stored), else the paper's.
pub fn fit(
    loaded: &Loaded,
    first: Option<&Head>,
    name: &str,
    latents: &[Vec<f32>],
    labels: &[i64],
) -> Result<(Head, Fitted), String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("give the task a name".into());
    }
    let dim = loaded.model.config.latent_dim;
    if latents.len() != labels.len() || latents.iter().any(|l| l.len() != dim) {
        return Err(format!("{} latents for {} labels, of {dim} values each, are needed", latents.len(), labels.len()));
    }
    let per_label = count_labels(labels);
    let task = TaskSpec::new(name);
    let positives = labels.iter().filter(|&&l| task.is_positive(l)).count();
    let smaller = positives.min(labels.len() - positives);
    if smaller < MIN_PER_CLASS {
        return Err(format!(
            "a head needs at least {MIN_PER_CLASS} images labelled 0 and {MIN_PER_CLASS} labelled above 0 (there are \
             {} and {positives}); label more images",
            labels.len() - positives
        ));
    }
    let x = Array2::from_shape_vec((labels.len(), dim), latents.concat()).map_err(|e| e.to_string())?;
    let config = HeadConfig::default();
    let mut head = fit_head(&task, x.view(), labels, &config, &loaded.device).map_err(|e| e.to_string())?;
    if let Some(first) = first {
        head.ce_direction = first.ce_direction;
        head.ce_strength = first.ce_strength;
    }
    let folds = FOLDS.min(smaller);
    let cv = cross_validate(&task, x.view(), labels, None, &config, folds, SEED, &loaded.device)
        .map_err(|e| format!("cross-validating the head: {e}"))?;
    let pair = |m: MeanSd| (m.mean, m.sd);
    let warning = (smaller < TRUSTED_PER_CLASS).then(|| {
        format!(
            "only {smaller} images of the smaller class: the figures are rough; label at least {TRUSTED_PER_CLASS} of \
             each before trusting them"
        )
    });
    let head_json = serde_json::to_string_pretty(&HeadFile::new(vec![head.clone()])).map_err(|e| e.to_string())?;
    let fitted = Fitted {
        task: name.to_string(),
        per_label,
        folds,
        auc: Some(pair(cv.auc)),
        mae: cv.mae.map(pair),
        warning,
        head_json,
    };
    Ok((head, fitted))
}

/// The heads of a head file (`daecf fit`'s head.json) that fit `loaded`'s latent size.
pub fn heads_from_json(loaded: &Loaded, name: &str, json: &str) -> Result<Vec<Head>, String> {
    let file = HeadFile::from_json(json, std::path::Path::new(name)).map_err(|e| e.to_string())?;
    let dim = loaded.model.config.latent_dim;
    if let Some(head) = file.heads.iter().find(|h| h.hyperplane.dim() != dim) {
        return Err(format!(
            "{name}: head '{}' is for latents of {} values, but {} has {dim}; fit it on this model's latents",
            head.task.name,
            head.hyperplane.dim(),
            loaded.name
        ));
    }
    Ok(file.heads)
}

fn count_labels(labels: &[i64]) -> Vec<(i64, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    labels.iter().for_each(|&l| *counts.entry(l).or_insert(0) += 1);
    counts.into_iter().collect()
}
