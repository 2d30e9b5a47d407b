//! The report of `daecf fit`: report.json (every figure), report.md (tables and the plots),
//! and PNG plots (ROC curves, distance vs grade, confusion matrix, t-SNE of the latents).

pub mod demo_page;
pub mod figures;
pub mod html;
pub mod plots;
mod tsne;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use daecf_core::data::LatentSet;
use daecf_core::latent::fit::{CrossValidation, MeanSd, Solver};
use daecf_core::latent::{Evaluation, HeadFile};
use serde::Serialize;

/// Everything `daecf fit` measured.
#[derive(Debug, Serialize)]
pub struct FitReport {
    /// The latents file.
    pub latents: String,
    /// The head file written.
    pub head: String,
    /// One entry per task.
    pub tasks: Vec<TaskReport>,
    /// The val split held out of train, when the latents file had none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_out: Option<HeldOut>,
}

/// A val split held out of the training latents.
#[derive(Debug, Clone, Serialize)]
pub struct HeldOut {
    /// The fraction of each label's training latents held out.
    pub fraction: f64,
    /// The seed of the draw.
    pub seed: u64,
    /// Latents held out.
    pub rows: usize,
    /// Groups held out, when the split kept groups whole (0: not grouped).
    #[serde(skip_serializing_if = "is_zero")]
    pub groups: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// `0.912 ± 0.031`.
fn mean_sd(m: MeanSd) -> String {
    format!("{:.3} ± {:.3}", m.mean, m.sd)
}

/// One task's fit and figures.
#[derive(Debug, Serialize)]
pub struct TaskReport {
    /// The task's name.
    pub task: String,
    /// The solver that fitted it.
    pub solver: Solver,
    /// Seconds the fit took (classifier and calibration).
    pub fit_seconds: f64,
    /// Figures per labelled split (train included).
    pub splits: BTreeMap<String, Evaluation>,
    /// With `--c` a list: each C's ROC-AUC (on the val split, or cross-validated), and which was
    /// kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub c_search: Vec<CScore>,
    /// With `--folds`: the kept C's cross-validation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_validation: Option<CrossValidation>,
}

/// One C of a `--c` search and its head's ROC-AUC.
#[derive(Debug, Clone, Serialize)]
pub struct CScore {
    /// Inverse regularisation strength.
    pub c: f64,
    /// The head's ROC-AUC on the val split, or its mean over the cross-validation's folds.
    pub auc: f64,
    /// Whether this C's head was kept.
    pub chosen: bool,
}

impl FitReport {
    /// The `--json` output: the figures of every evaluated split (not train) by split name, and
    /// the cross-validation as `cv`; with several tasks, `{"tasks": {name: {split: figures}}}`.
    pub fn summary_json(&self) -> serde_json::Value {
        let evaluated = |t: &TaskReport| -> serde_json::Value {
            let cv =
                t.cross_validation.as_ref().map(|cv| ("cv".to_string(), serde_json::to_value(cv).unwrap_or_default()));
            t.splits
                .iter()
                .filter(|(name, _)| name.as_str() != "train")
                .map(|(name, e)| (name.clone(), serde_json::to_value(e).unwrap_or_default()))
                .chain(cv)
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        match self.tasks.as_slice() {
            [only] => evaluated(only),
            tasks => serde_json::json!({
                "tasks": tasks.iter().map(|t| (t.task.clone(), evaluated(t))).collect::<serde_json::Map<_, _>>()
            }),
        }
    }

    /// A plain-text table of the main figures, for the terminal.
    pub fn figures_table(&self) -> String {
        let mut out = String::new();
        for t in self.tasks.iter().filter(|t| !t.c_search.is_empty()) {
            let scores: Vec<String> = t
                .c_search
                .iter()
                .map(|s| format!("{} {:.3}{}", s.c, s.auc, if s.chosen { " (kept)" } else { "" }))
                .collect();
            let on = if t.cross_validation.is_some() { "cross-validated" } else { "val" };
            let _ = writeln!(out, "{}: {on} ROC-AUC by C: {}", t.task, scores.join(", "));
        }
        out += &format!(
            "{:<12} {:<6} {:>5} {:>6} {:>9} {:>6} {:>6} {:>6} {:>9} {:>10}\n",
            "task", "split", "n", "AUC", "AUC hard", "F1", "acc", "MAE", "macro-F1", "(unclip.)"
        );
        for t in &self.tasks {
            for (split, e) in &t.splits {
                let (mae, mf1, mf1u) = e.grading.as_ref().map_or(("-".into(), "-".into(), "-".into()), |g| {
                    (format!("{:.3}", g.mae), format!("{:.3}", g.macro_f1), format!("{:.3}", g.macro_f1_unclipped))
                });
                let _ = writeln!(
                    out,
                    "{:<12} {:<6} {:>5} {:>6.3} {:>9.3} {:>6.3} {:>6.3} {:>6} {:>9} {:>10}",
                    t.task, split, e.n, e.auc, e.auc_hard, e.f1, e.accuracy, mae, mf1, mf1u
                );
            }
            if let Some(cv) = &t.cross_validation {
                let mae = cv.mae.map_or("-".into(), mean_sd);
                let _ = writeln!(
                    out,
                    "{:<12} {}-fold cross-validation (mean ± sd): AUC {}, F1 {}, accuracy {}, MAE {mae}",
                    t.task,
                    cv.folds,
                    mean_sd(cv.auc),
                    mean_sd(cv.f1),
                    mean_sd(cv.accuracy)
                );
            }
        }
        out
    }

    fn markdown(&self, plots: &[(String, Vec<String>)]) -> String {
        let mut md = format!("# daecf fit report\n\nLatents: `{}`  \nHeads: `{}`\n\n", self.latents, self.head);
        md.push_str(
            "AUC is on the signed distances; AUC (hard) on the 0/1 predictions, as the paper reported. \
             MAE is of the continuous calibrated grade; macro-F1 of the rounded grades clipped to the \
             grade range (unclipped in brackets). Figures on `train` are training figures: the head was \
             fitted there.\n\n",
        );
        if let Some(h) = &self.held_out {
            let grouped = match h.groups {
                0 => String::new(),
                n => format!(
                    " The split is grouped: {n} whole groups (`train_groups`) are held out, none on both sides."
                ),
            };
            let _ = writeln!(
                md,
                "The latents file has no labelled val split: `val` is {} of the labelled training latents ({:.0} % \
                 of each label, seed {}), held out of the fit.{grouped}\n",
                h.rows,
                100.0 * h.fraction,
                h.seed
            );
        }
        for t in &self.tasks {
            let _ = writeln!(md, "## Task `{}`\n\nSolver: {:?}, fitted in {:.2} s.\n", t.task, t.solver, t.fit_seconds);
            md.push_str("| split | n | positive | AUC | AUC (hard) | F1 | accuracy | MAE | macro-F1 |\n");
            md.push_str("|---|---|---|---|---|---|---|---|---|\n");
            for (split, e) in &t.splits {
                let grading = e.grading.as_ref().map_or("- | -".into(), |g| {
                    format!("{:.3} | {:.3} ({:.3})", g.mae, g.macro_f1, g.macro_f1_unclipped)
                });
                let _ = writeln!(
                    md,
                    "| {split} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {grading} |",
                    e.n, e.n_positive, e.auc, e.auc_hard, e.f1, e.accuracy
                );
            }
            if let Some(cv) = &t.cross_validation {
                let grouped = if cv.grouped { ", whole groups (`train_groups`) in each fold" } else { "" };
                let _ = writeln!(
                    md,
                    "\n{}-fold cross-validation on the labelled training latents (stratified by label{grouped}, seed \
                     {}); the head written is fitted on all of them.\n\n| fold | n | AUC | F1 | accuracy | MAE |\n\
                     |---|---|---|---|---|---|",
                    cv.folds, cv.seed
                );
                for (f, e) in cv.per_fold.iter().enumerate() {
                    let mae = e.grading.as_ref().map_or("-".into(), |g| format!("{:.3}", g.mae));
                    let _ = writeln!(
                        md,
                        "| {} | {} | {:.3} | {:.3} | {:.3} | {mae} |",
                        f + 1,
                        e.n,
                        e.auc,
                        e.f1,
                        e.accuracy
                    );
                }
                let mae = cv.mae.map_or("-".into(), mean_sd);
                let _ = writeln!(
                    md,
                    "| mean ± sd | | {} | {} | {} | {mae} |",
                    mean_sd(cv.auc),
                    mean_sd(cv.f1),
                    mean_sd(cv.accuracy)
                );
            }
            if !t.c_search.is_empty() {
                let on = if t.cross_validation.is_some() { "mean cross-validated" } else { "val split's" };
                let _ = writeln!(md, "\nC chosen by the {on} ROC-AUC:\n\n| C | ROC-AUC | kept |\n|---|---|---|");
                for s in &t.c_search {
                    let _ = writeln!(md, "| {} | {:.3} | {} |", s.c, s.auc, if s.chosen { "yes" } else { "" });
                }
            }
            for (task, files) in plots {
                if task == &t.task {
                    md.push('\n');
                    for f in files {
                        let _ = writeln!(md, "![{f}]({f})");
                    }
                }
            }
            md.push('\n');
        }
        if let Some((_, files)) = plots.iter().find(|(task, _)| task.is_empty()) {
            md.push_str("## Latent space\n\n");
            for f in files {
                let _ = writeln!(md, "![{f}]({f})");
            }
        }
        md
    }

    /// Writes report.json, report.md and (optionally) the plots into `dir`.
    pub fn write(&self, dir: &Path, set: &LatentSet, heads: &HeadFile, plots: bool, tsne: bool) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut files = Vec::new();
        if plots {
            for head in &heads.heads {
                files.push((head.task.name.clone(), plots::head_plots(dir, set, head)?));
            }
        }
        if tsne {
            // The t-SNE is a picture beside the head: when it cannot be drawn, say so and go on.
            let train = set.split("train").context("no train split")?;
            match tsne::embed(train.view()) {
                Ok(embedding) => {
                    // Coloured by label when every embedded row has one.
                    let labels = embedding.rows.iter().map(|&i| train.label(i)).collect::<Option<Vec<i64>>>();
                    let name = "tsne.png".to_string();
                    plots::tsne(&dir.join(&name), &embedding.coords, labels.as_deref(), train.latents.nrows())?;
                    files.push((String::new(), vec![name]));
                }
                Err(e) => {
                    eprintln!("warning: no t-SNE plot ({e:#}); the rest of the report is written (--no-tsne skips it)")
                }
            }
        }
        let json = serde_json::to_string_pretty(self)?;
        crate::files::write(&dir.join("report.json"), json)?;
        crate::files::write(&dir.join("report.md"), self.markdown(&files))?;
        Ok(())
    }
}
