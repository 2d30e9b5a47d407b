//! `daecf fit`: heads on a latents file, with a report of their figures and plots.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};
use daecf_core::data::LatentSet;
use daecf_core::data::split::holdout;
use daecf_core::latent::fit::{CrossValidation, HeadConfig, Solver, cross_validate, fit_head};
use daecf_core::latent::{CalibrationKind, ClassifierKind, HeadFile, TaskSpec};

use crate::backend::Backend;
use crate::report::{CScore, FitReport, HeldOut, TaskReport};

/// Options of `daecf fit`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  daecf fit --latents ../shared/data/retinamnist_dae_latents.npz
  daecf fit --latents latents.npz --classifier logreg --json
  daecf fit --latents vcf.npz --task fracture:positive=2,3:exclude=1 --calibration grades:0,3
  daecf fit --latents dr.npz --task referable:positive=2,3,4 --task any:positive=1,2,3,4
  daecf fit --latents latents.npz --c auto                 # C chosen by the val split's AUC
  daecf fit --latents scans.npz --folds 5 --c auto         # 5-fold cross-validation, C chosen by it")]
pub struct FitArgs {
    /// Latents file (.npz): train_latents and train_labels to fit on; val_* and test_* are evaluated.
    #[arg(long, value_name = "FILE.npz")]
    latents: PathBuf,
    /// A task: NAME[:positive=A,B][:exclude=C]. Repeat for several heads on one latent space.
    /// Default: one task "task" where label > 0 is positive (or --positive/--exclude).
    #[arg(long = "task", value_name = "SPEC", value_parser = parse_task)]
    tasks: Vec<TaskSpec>,
    /// Positive labels of the default task, e.g. 2,3 (default: every label above 0).
    #[arg(long, value_name = "A,B", value_delimiter = ',', conflicts_with = "tasks")]
    positive: Option<Vec<i64>>,
    /// Labels the default task's classifier does not train on, e.g. 1 (still calibrated on).
    #[arg(long, value_name = "C", value_delimiter = ',', conflicts_with = "tasks")]
    exclude: Vec<i64>,
    /// The linear classifier.
    #[arg(long, value_enum, default_value_t = Classifier::Svm)]
    classifier: Classifier,
    /// Inverse regularisation strength C; a comma-separated list (or `auto`: 0.01 to 1000 by
    /// decades) fits a head for each and keeps the one with the best ROC-AUC on the val split,
    /// or the best mean cross-validated ROC-AUC with --folds (the smaller C on a tie), writing
    /// every candidate to c-search/head-c<C>.json.
    #[arg(long = "c", value_name = "C[,C...]|auto", default_value = "1", value_parser = parse_c_grid)]
    c: CGrid,
    /// Solver: linfa (scikit-learn's objectives), burn (L-BFGS on the device; smoothed hinge for
    /// the SVM), auto (linfa below 5000 training samples).
    #[arg(long, value_enum, default_value_t = SolverArg::Auto)]
    solver: SolverArg,
    /// Device of the Burn solver.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// Distance -> grade calibration: linear, grades:A,B (a line through those grades' mean
    /// distances) or poly:K.
    #[arg(long, value_name = "KIND", default_value = "linear", value_parser = parse_calibration)]
    calibration: CalibrationKind,
    /// Without a labelled val split in the latents file: the fraction of the labelled training
    /// latents held out to measure the heads on (stratified by label; whole groups when the file
    /// has train_groups); 0 fits on all of them and reports training figures only.
    #[arg(long, value_name = "F", default_value_t = 0.2, value_parser = parse_fraction)]
    val_fraction: f64,
    /// Cross-validate each head over K folds of the labelled training latents (stratified by
    /// label; whole groups when the file has train_groups) instead of holding a val split out;
    /// the head written is fitted on all of them.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(2..))]
    folds: Option<u64>,
    /// Seed of the held-out rows' or the folds' draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Standardise the latents before fitting (the statistics are stored in the head).
    #[arg(long)]
    standardize: bool,
    /// Output folder: head.json and report/ (report.json, report.md, PNG plots).
    #[arg(long, value_name = "DIR", default_value = "out/fit")]
    out: PathBuf,
    /// Skip the PNG plots.
    #[arg(long)]
    no_plots: bool,
    /// Skip the t-SNE plot of the latents (the slowest plot).
    #[arg(long)]
    no_tsne: bool,
    /// Print one JSON object with the figures of each evaluated split (val, test) on stdout.
    #[arg(long)]
    json: bool,
}

/// `--classifier`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Classifier {
    /// Linear support vector machine.
    Svm,
    /// L2-regularised logistic regression.
    Logreg,
}

/// `--solver`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum SolverArg {
    /// linfa below 5000 training samples, Burn from there on.
    Auto,
    /// linfa: scikit-learn's objectives (SMO hinge-loss SVM, L-BFGS logistic regression).
    Linfa,
    /// Burn: L-BFGS with the loss computed on --backend (smoothed-hinge SVM, logistic).
    Burn,
}

/// The values of C to fit, from `--c`.
#[derive(Debug, Clone)]
struct CGrid(Vec<f64>);

/// `--c auto`: 0.01 to 1000 by decades.
const AUTO_C: [f64; 6] = [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0];

fn parse_c_grid(s: &str) -> Result<CGrid, String> {
    if s == "auto" {
        return Ok(CGrid(AUTO_C.to_vec()));
    }
    let values = s
        .split(',')
        .map(|v| match v.trim().parse::<f64>() {
            Ok(c) if c.is_finite() && c > 0.0 => Ok(c),
            _ => Err(format!("'{v}' is not a positive number; give C as 1, a list as 0.1,1,10, or auto")),
        })
        .collect::<Result<Vec<f64>, String>>()?;
    Ok(CGrid(values))
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (0.0..1.0).contains(&f) => Ok(f),
        _ => Err(format!("'{s}' is not a fraction in [0, 1)")),
    }
}

/// `set` with a labelled val split: its own, or `fraction` of train's labelled rows held out
/// (stratified by label, whole groups when train has groups, seeded); the hold-out's description
/// when one was made.
fn with_validation(mut set: LatentSet, fraction: f64, seed: u64) -> anyhow::Result<(LatentSet, Option<HeldOut>)> {
    if set.split("val").is_some_and(|s| s.labelled_rows().is_ok()) || fraction == 0.0 {
        return Ok((set, None));
    }
    let i = set.splits.iter().position(|s| s.name == "train").context("no train split")?;
    let train = &set.splits[i];
    let labelled = train.labelled_rows()?;
    let groups = labelled_groups(train, &labelled.rows);
    let split = holdout(&labelled.labels, groups.as_deref(), fraction, seed);
    let mut out = vec![false; train.latents.nrows()];
    split.held.iter().for_each(|&k| out[labelled.rows[k]] = true);
    if let Some(all) = &train.groups {
        // An unlabelled row of a held-out group is held out with it.
        let held: std::collections::HashSet<&str> =
            (0..out.len()).filter(|&r| out[r]).map(|r| all[r].as_str()).collect();
        (0..out.len()).for_each(|r| out[r] |= held.contains(all[r].as_str()));
    }
    let (kept, held): (Vec<usize>, Vec<usize>) = (0..out.len()).partition(|&r| !out[r]);
    let (train, val) = (train.subset("train", &kept), train.subset("val", &held));
    set.splits.retain(|s| s.name != "val");
    set.splits[i] = train;
    set.splits.insert(i + 1, val);
    Ok((set, Some(HeldOut { fraction, seed, rows: held.len(), groups: split.held_groups })))
}

/// The groups of a split's `rows`, when it has groups.
fn labelled_groups(split: &daecf_core::data::LatentSplit, rows: &[usize]) -> Option<Vec<String>> {
    split.groups.as_ref().map(|g| rows.iter().map(|&r| g[r].clone()).collect())
}

fn parse_task(s: &str) -> Result<TaskSpec, String> {
    TaskSpec::parse(s).map_err(|e| e.to_string())
}

fn parse_calibration(s: &str) -> Result<CalibrationKind, String> {
    CalibrationKind::parse(s).map_err(|e| e.to_string())
}

/// Runs `daecf fit`.
pub fn run(args: FitArgs) -> anyhow::Result<()> {
    let set = LatentSet::read(&args.latents)?;
    anyhow::ensure!(set.split("train").is_some(), "{} has no train_latents to fit on", args.latents.display());
    let fraction = if args.folds.is_some() { 0.0 } else { args.val_fraction };
    let (set, held_out) = with_validation(set, fraction, args.seed)?;
    let train = set.split("train").context("no train split")?;
    let labelled = train.labelled_rows()?;
    let train_labels = &labelled.labels;
    let train_groups = labelled_groups(train, &labelled.rows);
    let grouped = if train_groups.is_some() { ", whole groups (train_groups)" } else { "" };
    match (&held_out, args.folds) {
        (_, Some(k)) => eprintln!(
            "cross-validating each head over {k} folds of the labelled training latents (stratified{grouped}, seed {})",
            args.seed
        ),
        (Some(h), None) => eprintln!(
            "{} has no labelled val split: {} of the labelled training latents ({:.0} %, stratified{grouped}, seed \
             {}) are held out to measure the heads",
            args.latents.display(),
            h.rows,
            100.0 * h.fraction,
            h.seed
        ),
        (None, None) if set.split("val").is_none_or(|s| s.labelled_rows().is_err()) => eprintln!(
            "warning: nothing is held out (--val-fraction 0) and {} has no labelled val split: the figures are \
             training figures, not a measure of the heads",
            args.latents.display()
        ),
        (None, None) => {}
    }
    if labelled.rows.len() < train.latents.nrows() {
        eprintln!("fitting on the {} labelled of {} training latents", labelled.rows.len(), train.latents.nrows());
    }
    let tasks = if args.tasks.is_empty() {
        vec![TaskSpec { name: "task".into(), positive: args.positive.clone(), exclude: args.exclude.clone() }]
    } else {
        args.tasks.clone()
    };
    let config = HeadConfig {
        classifier: match args.classifier {
            Classifier::Svm => ClassifierKind::Svm,
            Classifier::Logreg => ClassifierKind::Logreg,
        },
        solver: match args.solver {
            SolverArg::Auto => Solver::Auto,
            SolverArg::Linfa => Solver::Linfa,
            SolverArg::Burn => Solver::Burn,
        },
        standardize: args.standardize,
        calibration: args.calibration.clone(),
        ..HeadConfig::default()
    };
    let device = args.backend.device()?;
    let grid = &args.c.0;
    let val = match (grid.len(), args.folds) {
        (1, _) | (_, Some(_)) => None,
        _ => Some(set.split("val").and_then(|s| s.labelled_rows().ok()).with_context(|| {
            format!(
                "--c with several values keeps the head with the best val ROC-AUC, and {} has no labelled val \
                 split (val_latents and val_labels) while --val-fraction is 0; give one C, hold some out, or \
                 cross-validate (--folds)",
                args.latents.display()
            )
        })?),
    };

    // Every task at every C: candidates[k][t] is task t's head at grid[k].
    let mut candidates = Vec::with_capacity(grid.len());
    for &c in grid {
        let config = HeadConfig { c, ..config.clone() };
        let mut heads = Vec::with_capacity(tasks.len());
        for task in &tasks {
            let start = Instant::now();
            let head = fit_head(task, labelled.latents.view(), train_labels, &config, &device)
                .with_context(|| format!("fitting task '{}' with C = {c}", task.name))?;
            heads.push((head, start.elapsed().as_secs_f64()));
        }
        candidates.push(heads);
    }
    // With --folds, every task cross-validated at every C: cvs[k][t].
    let mut cvs: Vec<Vec<CrossValidation>> = Vec::new();
    if let Some(folds) = args.folds {
        for &c in grid {
            let config = HeadConfig { c, ..config.clone() };
            let at_c = tasks.iter().map(|task| {
                cross_validate(
                    task,
                    labelled.latents.view(),
                    train_labels,
                    train_groups.as_deref(),
                    &config,
                    folds as usize,
                    args.seed,
                    &device,
                )
                .with_context(|| format!("cross-validating task '{}' with C = {c}", task.name))
            });
            cvs.push(at_c.collect::<anyhow::Result<Vec<_>>>()?);
        }
    }
    let mut heads = Vec::new();
    let mut reports = Vec::new();
    for (t, task) in tasks.iter().enumerate() {
        let c_search = match &val {
            Some(val) => search_c(grid, |k| Ok(candidates[k][t].0.evaluate(val.latents.view(), &val.labels)?.auc))
                .with_context(|| format!("choosing C for task '{}' on the val split", task.name))?,
            None if grid.len() > 1 => search_c(grid, |k| Ok(cvs[k][t].auc.mean))?,
            None => Vec::new(),
        };
        let best = c_search.iter().position(|s| s.chosen).unwrap_or(0);
        let cross_validation = cvs.get(best).map(|at_c| at_c[t].clone());
        let (head, fit_seconds) = candidates[best][t].clone();
        let mut splits = BTreeMap::new();
        for split in &set.splits {
            if let Ok(rows) = split.labelled_rows() {
                // A split the task cannot be measured on (one class only, say) is left out of
                // the report; the head is still written.
                match head.evaluate(rows.latents.view(), &rows.labels) {
                    Ok(figures) => _ = splits.insert(split.name.clone(), figures),
                    Err(e) => eprintln!("warning: task '{}' not evaluated on the {} split: {e}", task.name, split.name),
                }
            }
        }
        let (positive, negative) = task.class_counts(train_labels);
        let solver = config.solver_for(positive + negative);
        eprintln!(
            "fitted '{}' ({:?}, {solver:?} solver, C = {}) in {fit_seconds:.2} s",
            task.name, config.classifier, head.c
        );
        reports.push(TaskReport { task: task.name.clone(), solver, fit_seconds, splits, c_search, cross_validation });
        heads.push(head);
    }
    if grid.len() > 1 {
        let dir = args.out.join("c-search");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for (&c, at_c) in grid.iter().zip(&candidates) {
            HeadFile::new(at_c.iter().map(|(h, _)| h.clone()).collect()).save(&dir.join(format!("head-c{c}.json")))?;
        }
    }

    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let head_path = args.out.join("head.json");
    let file = HeadFile::new(heads);
    file.save(&head_path)?;
    let report = FitReport {
        latents: args.latents.display().to_string(),
        head: head_path.display().to_string(),
        tasks: reports,
        held_out,
    };
    let report_dir = args.out.join("report");
    report.write(&report_dir, &set, &file, !args.no_plots, !args.no_plots && !args.no_tsne)?;
    eprintln!("wrote {} and {}", head_path.display(), report_dir.display());

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.summary_json())?);
    } else {
        print!("{}", report.figures_table());
    }
    Ok(())
}

/// The ROC-AUC of each C of `grid` (`auc(k)` measures the head fitted with `grid[k]`, on the val
/// split or cross-validated), the best marked as chosen: the smaller C on a tie.
fn search_c(grid: &[f64], auc: impl Fn(usize) -> daecf_core::Result<f64>) -> anyhow::Result<Vec<CScore>> {
    let mut scores = grid
        .iter()
        .enumerate()
        .map(|(k, &c)| Ok(CScore { c, auc: auc(k)?, chosen: false }))
        .collect::<anyhow::Result<Vec<CScore>>>()?;
    let best = (0..scores.len())
        .max_by(|&a, &b| scores[a].auc.total_cmp(&scores[b].auc).then(scores[b].c.total_cmp(&scores[a].c)))
        .context("no C to choose from")?;
    scores[best].chosen = true;
    Ok(scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_grids_parse_and_bad_values_are_refused() {
        assert_eq!(parse_c_grid("1").unwrap().0, vec![1.0]);
        assert_eq!(parse_c_grid("0.1, 10").unwrap().0, vec![0.1, 10.0]);
        assert_eq!(parse_c_grid("auto").unwrap().0, AUTO_C.to_vec());
        for bad in ["0", "-1", "x", "1,,2", "inf"] {
            assert!(parse_c_grid(bad).unwrap_err().contains("positive number"), "{bad}");
        }
    }
}
