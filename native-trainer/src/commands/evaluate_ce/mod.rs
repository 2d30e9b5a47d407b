//! `daecf evaluate-ce`: how good are a head's counterfactuals on a labelled set?
//!
//! For every image: the binary CE and one grade CE (target grades taken in turn from the head's
//! range, skipping the image's own), rendered from the image's x_T. Measured:
//! - validity: the CE encoded again lands on the target side (binary) / at the target grade;
//! - proximity: L1 and SSIM between each CE and the reconstruction, and the latent step size;
//! - COUT, the counterfactual-transition score of each binary CE (its changes pasted into the
//!   image, largest first, scored by the head on the re-encoded mixtures);
//! - reconstruction quality: MSE, PSNR and SSIM against the input;
//! - the head itself on these images, or on more with `--head-limit` (AUC and the rest of
//!   `daecf fit`'s figures);
//! - on phantoms, the oracle: did the measured severity move the way the grade moved, and how
//!   far is the CE's measured grade from the target?

use std::cell::Cell;
use std::path::PathBuf;

use anyhow::Context;
use burn::tensor::Device;
use clap::Args;
use daecf_core::data::ImageSet;
use daecf_core::data::phantom::{Oracle, PhantomKind};
use daecf_core::latent::{CeDirection, CeMove, CeTarget, CounterfactualPlan, Head};
use daecf_core::metrics::image::{l1, mse, psnr, ssim};
use daecf_core::model::DiffusionAutoencoder;
use daecf_core::pipeline::{CeSteps, Explanations, explain, reencoded_distances};
use ndarray::{ArrayView1, ArrayView2, Axis};

use crate::backend::Backend;
use crate::commands::explain::{DdimArgs, Explainer, select_head};
use crate::data_source::{DataArgs, batch_tensor};
use crate::model_source::ModelArgs;
use crate::preview::{tensor_rows, to_unit_array, wait};

mod report;
mod summary;
mod swap;
mod transition;

pub use report::{report_markdown, write_report};
use summary::summarise;
pub use summary::{CeFigures, CeRow, CeSummary, TrustCheck};
pub use swap::{SwapSummary, swap_test};

/// Options of `daecf evaluate-ce`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  daecf evaluate-ce --model m.safetensors --head head.json --data phantom:vertebra:1000 --limit 200
  daecf evaluate-ce --bundle shared-models/demo/demo.daecf --data phantom:vertebra:1000
  daecf evaluate-ce --model m.safetensors --head head.json --data scans/ --labels grades.csv --t-encode 50 --t-render 20
  daecf evaluate-ce --bundle b.daecf --data phantom:vertebra:1000:seed=1 --direction normal,covariance --strength 1,4,16   # a grid")]
pub struct EvaluateCeArgs {
    #[command(flatten)]
    source: ModelArgs,
    /// Task of the head file (default: its first head).
    #[arg(long)]
    task: Option<String>,
    #[command(flatten)]
    data: DataArgs,
    /// Split of a MedMNIST archive or phantom set (default: test, else the first).
    #[arg(long)]
    split: Option<String>,
    /// At most this many (labelled) images, each with its counterfactuals.
    #[arg(long, default_value_t = 200)]
    limit: usize,
    /// Measure the head (AUC and the rest) on this many labelled images: the first --limit
    /// of them with their counterfactuals, the rest by the semantic encoder alone, which costs
    /// little beside a counterfactual's DDIM steps (default: --limit).
    #[arg(long, value_name = "N")]
    head_limit: Option<usize>,
    /// Oracle that measures the graded finding (default: the phantom's, for --data phantom:NAME).
    #[arg(long, value_enum)]
    oracle: Option<OracleArg>,
    /// DDIM steps and batch.
    #[command(flatten)]
    ddim: DdimArgs,
    /// Strengths of the binary and grade CEs (see `daecf explain --help`), comma-separated for a
    /// grid; every report measures strength 1 first (the paper's length). Default: the head's.
    #[arg(long = "strength", value_name = "S[,S...]", value_delimiter = ',',
          value_parser = crate::commands::explain::positive_strength)]
    strengths: Vec<f32>,
    /// Paths of the CE moves (normal, standardised, covariance, and the controls principal and
    /// random; see `daecf explain --help`), comma-separated for a grid. Default: the head's.
    #[arg(long = "direction", value_name = "D[,D...]", value_delimiter = ',',
          value_parser = crate::options::named::<CeDirection>())]
    directions: Vec<CeDirection>,
    /// Also run the swap test on the counterfactual images: each one's x_T rendered with another's
    /// z_sem, to measure how much of a picture z_sem controls (costs one more encoding and
    /// rendering per image).
    #[arg(long)]
    swap: bool,
    /// Output folder: report.json, report.md, per_image.csv.
    #[arg(long, value_name = "DIR", default_value = "out/evaluate-ce")]
    out: PathBuf,
    /// Device.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
}

/// `--oracle`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum OracleArg {
    /// The vertebra phantoms' oracle: the centre body's height loss.
    Vertebra,
    /// The retina phantoms' oracle: the number of lesions.
    Retina,
    /// None: no oracle figures.
    None,
}

/// The figures of one way of moving the CEs: the summary and each image's row.
pub type MoveResult = (CeSummary, Vec<CeRow>);

/// The moves a report measures for the `chosen` one: strength 1 along its direction first (the
/// paper's length, unless chosen), then the chosen.
pub fn report_moves(chosen: CeMove) -> Vec<CeMove> {
    let paper_length = CeMove { strength: 1.0, ..chosen };
    if chosen == paper_length { vec![chosen] } else { vec![paper_length, chosen] }
}

/// The labelled images an evaluation measures.
pub struct CeImages<'a> {
    /// The images.
    pub set: &'a ImageSet,
    /// Those whose counterfactuals are drawn (all labelled).
    pub indices: &'a [usize],
    /// More images' z_sem and labels, on which the head alone is measured too.
    pub head_only: (ArrayView2<'a, f32>, &'a [i64]),
    /// The oracle that measures the graded finding, on phantoms.
    pub oracle: Option<Oracle>,
}

/// Evaluates the counterfactuals of `images` for each of `moves`, and the head on them
/// together with their head-only images. Each image is encoded once and its CEs for every move
/// are rendered from the same x_T; the results follow `moves`.
pub fn evaluate(
    with: Explainer,
    images: &CeImages,
    steps: CeSteps,
    moves: &[CeMove],
    on_step: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<Vec<MoveResult>> {
    let Explainer { model, head, device } = with;
    anyhow::ensure!(!moves.is_empty(), "no counterfactual moves to evaluate");
    let (labels, head_labels) = checked_labels(head, images)?;
    let plan = planner(head, moves);
    let per_image = 2 * moves.len();
    let mut rows: Vec<Vec<CeRow>> = vec![Vec::new(); moves.len()];
    let mut latents = Vec::new();
    let batch = steps.max_batch.max(1);
    let calls: Vec<&[usize]> = images.indices.chunks(batch * 4).collect();
    // The DDIM steps `explain` takes for n images: encoding, then the reconstruction and CEs.
    let steps_of = |n: usize| n.div_ceil(batch) * steps.encode + ((1 + per_image) * n).div_ceil(batch) * steps.render;
    let total: usize = calls.iter().map(|c| steps_of(c.len())).sum();
    let mut base = 0;
    for chunk in calls {
        let x = batch_tensor(images.set, chunk, model.config.input_range, device);
        let mut progress = |done: usize, _: usize| {
            on_step(base + done, total);
            std::ops::ControlFlow::Continue(())
        };
        let result = explain(model, head, x, &plan, steps, &mut progress)?;
        base += steps_of(chunk.len());
        let chunk_labels = &labels[rows[0].len()..rows[0].len() + chunk.len()];
        for (m, measured) in measure(with, images, chunk, chunk_labels, &result, moves.len())?.into_iter().enumerate() {
            rows[m].extend(measured);
        }
        latents.extend(result.items.iter().flat_map(|item| item.z_sem.iter().copied()));
    }
    latents.extend(images.head_only.0.iter());
    let latents = ndarray::Array2::from_shape_vec((head_labels.len(), head.dim()), latents)?;
    let evaluation = head.evaluate(latents.view(), &head_labels)?;
    Ok(moves
        .iter()
        .zip(rows)
        .map(|(&how, rows)| {
            let summary = CeSummary {
                head_images: head_labels.len(),
                ..summarise(head, &rows, evaluation.clone(), &steps, how, images.oracle.is_some())
            };
            (summary, rows)
        })
        .collect())
}

/// The labels of the images with CEs, and of those and the head-only images together; an error
/// when an image has none or the head cannot be measured on them (one class only).
fn checked_labels(head: &Head, images: &CeImages) -> anyhow::Result<(Vec<i64>, Vec<i64>)> {
    let CeImages { set, indices, head_only, .. } = *images;
    let labels = indices
        .iter()
        .map(|&i| {
            set.labels[i]
                .with_context(|| format!("image '{}' has no label; evaluate-ce needs labelled images", set.ids[i]))
        })
        .collect::<anyhow::Result<Vec<i64>>>()?;
    let head_labels = [labels.as_slice(), head_only.1].concat();
    let (positive, negative) = head.task.class_counts(&head_labels);
    anyhow::ensure!(
        positive > 0 && negative > 0,
        "the {} images chosen hold {} positive and {} negative examples of task '{}'; the head's ROC-AUC needs both: \
         raise --limit or choose another split",
        head_labels.len(),
        positive,
        negative,
        head.task.name
    );
    Ok((labels, head_labels))
}

/// The CEs of each image: for each move its binary CE, then its grade CE, towards one target
/// grade per image (the head's grades other than the image's own, taken in turn).
fn planner<'a>(
    head: &Head,
    moves: &'a [CeMove],
) -> impl Fn(&Head, ArrayView1<f32>) -> daecf_core::Result<Vec<CounterfactualPlan>> + 'a {
    let (lo, hi) = head.calibration.grade_range;
    let turn = Cell::new(0usize);
    move |h: &Head, w: ArrayView1<f32>| {
        let own = h.calibration.grade(h.distance(w)? as f64);
        let others: Vec<i64> = (lo..=hi).filter(|&g| g != own).collect();
        let target = others[turn.get() % others.len().max(1)];
        turn.set(turn.get() + 1);
        let mut plans = Vec::with_capacity(2 * moves.len());
        for &how in moves {
            plans.push(h.plan_move(w, CeTarget::Binary, how)?);
            plans.push(h.plan_move(w, CeTarget::Grade(target as f64), how)?);
        }
        Ok(plans)
    }
}

/// The figures of the explained images `chunk` (labelled `labels`), for each of `moves` moves
/// in turn: validity, proximity, COUT and, on phantoms, the oracle's readings.
fn measure(
    with: Explainer,
    images: &CeImages,
    chunk: &[usize],
    labels: &[i64],
    result: &Explanations,
    moves: usize,
) -> anyhow::Result<Vec<Vec<CeRow>>> {
    let Explainer { model, head, .. } = with;
    let CeImages { set, oracle, .. } = *images;
    let range = model.config.input_range;
    let per_image = 2 * moves;
    let reencoded = wait(reencoded_distances(model, head, result.counterfactuals.clone()))?;
    let recon_reencoded = wait(reencoded_distances(model, head, result.reconstructions.clone()))?;
    let recs = to_unit_array(result.reconstructions.clone(), range)?;
    let ces = to_unit_array(result.counterfactuals.clone(), range)?;
    let pairs: Vec<_> = (0..chunk.len())
        .flat_map(|b| (0..moves).map(move |m| (b, m)))
        .map(|(b, m)| (set.images.index_axis(Axis(0), chunk[b]), ces.index_axis(Axis(0), per_image * b + 2 * m)))
        .collect();
    let couts = transition::couts(with, &pairs)?;
    let mut rows: Vec<Vec<CeRow>> = vec![Vec::with_capacity(chunk.len()); moves];
    for (b, item) in result.items.iter().enumerate() {
        let i = chunk[b];
        let original = set.images.index_axis(Axis(0), i);
        let rec = recs.index_axis(Axis(0), b);
        // An image the oracle cannot measure (a CE that lost the bone, say) counts as a
        // failure of every oracle check it enters.
        let input_oracle = oracle.and_then(|o| o.read(original).ok());
        let rec_oracle = oracle.and_then(|o| o.read(rec).ok());
        let figures = |k: usize| -> CeFigures {
            let ce = ces.index_axis(Axis(0), per_image * b + k);
            let p = &item.plans[k];
            let d = reencoded[per_image * b + k];
            let oracle = match (oracle, rec_oracle) {
                (Some(o), Some(r)) => o.read(ce).ok().map(|m| (r.severity, m.severity, m.grade)),
                _ => None,
            };
            CeFigures {
                distance: p.distance,
                latent_distance: p.latent_distance,
                reencoded: d,
                reencoded_grade: head.calibration.grade(d as f64),
                l1: l1(ce, rec),
                ssim: ssim(ce, rec),
                step: p.step_size,
                oracle,
                cout: k.is_multiple_of(2).then(|| couts[moves * b + k / 2]),
            }
        };
        let target_grade = match item.plans[1].target {
            CeTarget::Grade(g) => g as i64,
            _ => unreachable!("the plan puts a grade CE second"),
        };
        for (m, move_rows) in rows.iter_mut().enumerate() {
            move_rows.push(CeRow {
                id: set.ids[i].clone(),
                label: labels[b],
                distance: item.distance,
                recon: [psnr(original, rec), ssim(original, rec), mse(original, rec)],
                recon_reencoded: recon_reencoded[b],
                binary: figures(2 * m),
                grade: figures(2 * m + 1),
                target_grade,
                input_oracle: input_oracle.map(|r| (r.severity, r.grade)),
                recon_oracle_grade: rec_oracle.map(|r| r.grade),
            });
        }
    }
    Ok(rows)
}

/// The semantic latents (z_sem) of images `indices` of `set`, `batch` at a time; `on_batch` is
/// told each batch's size.
pub fn semantic_latents(
    model: &DiffusionAutoencoder,
    set: &ImageSet,
    indices: &[usize],
    batch: usize,
    device: &Device,
    on_batch: &mut dyn FnMut(usize),
) -> anyhow::Result<ndarray::Array2<f32>> {
    let dim = model.config.latent_dim;
    let mut latents = Vec::with_capacity(indices.len() * dim);
    for chunk in indices.chunks(batch.max(1)) {
        latents.extend(tensor_rows(model.encode(batch_tensor(set, chunk, model.config.input_range, device)))?.iter());
        on_batch(chunk.len());
    }
    Ok(ndarray::Array2::from_shape_vec((indices.len(), dim), latents)?)
}

/// Runs `daecf evaluate-ce`.
pub fn run(args: EvaluateCeArgs) -> anyhow::Result<()> {
    let device = args.backend.device()?;
    let (model, file, name) = args.source.load(&device)?;
    let head = select_head(&file, args.task.as_deref(), &name)?;
    let oracle = match args.oracle {
        Some(OracleArg::None) => None,
        Some(OracleArg::Vertebra) => Some(Oracle::Vertebra),
        Some(OracleArg::Retina) => Some(Oracle::Retina),
        None => args.data.phantom().map(PhantomKind::oracle),
    };
    let spec = daecf_core::data::ImageSpec { size: model.config.image_size, channels: model.config.in_channels };
    let set = args.data.read_split(spec, args.split.as_deref())?;
    let head_limit = args.head_limit.unwrap_or(args.limit).max(args.limit);
    let labelled: Vec<usize> = (0..set.len()).filter(|&i| set.labels[i].is_some()).take(head_limit).collect();
    let with_ces = &labelled[..labelled.len().min(args.limit)];
    anyhow::ensure!(!labelled.is_empty(), "{} has no labelled images to evaluate on", args.data.data);
    let (bar, mut on_step) = crate::progress::ddim_steps("evaluating CEs");
    let head_only = &labelled[with_ces.len()..];
    let head_only_labels: Vec<i64> = head_only.iter().filter_map(|&i| set.labels[i]).collect();
    let head_only_latents = semantic_latents(&model, &set, head_only, args.ddim.batch, &device, &mut |_| {})?;
    let head_only = (head_only_latents.view(), head_only_labels.as_slice());
    let (moves, chosen) = grid(head, &args.strengths, &args.directions);
    let steps = args.ddim.steps();
    let with = Explainer { model: &model, head, device: &device };
    let images = CeImages { set: &set, indices: with_ces, head_only, oracle };
    let results = evaluate(with, &images, steps, &moves, &mut on_step)?;
    bar.finish();
    let swap = if args.swap {
        let (bar, mut on_step) = crate::progress::ddim_steps("swap test");
        let swap = swap_test(with, &images, steps, &mut on_step)?;
        bar.finish();
        Some(swap)
    } else {
        None
    };
    write_report(&args.out, &results, chosen, swap.as_ref())?;
    println!("{}", report_markdown(&results, chosen, swap.as_ref()));
    println!("per image: {}", args.out.join("per_image.csv").display());
    Ok(())
}

/// The moves of a grid of `strengths` and `directions` (each the head's when none is given),
/// strength 1 first along each direction, and the index of the chosen one: the first strength
/// along the first direction.
fn grid(head: &Head, strengths: &[f32], directions: &[CeDirection]) -> (Vec<CeMove>, usize) {
    let strengths = if strengths.is_empty() { vec![head.ce_strength] } else { strengths.to_vec() };
    let directions = if directions.is_empty() { vec![head.ce_direction] } else { directions.to_vec() };
    let mut lengths = vec![1.0];
    lengths.extend(strengths.iter().filter(|&&s| s != 1.0));
    let moves: Vec<CeMove> = directions
        .iter()
        .flat_map(|&direction| lengths.iter().map(move |&strength| CeMove { strength, direction }))
        .collect();
    let chosen = CeMove { strength: strengths[0], direction: directions[0] };
    (moves.clone(), moves.iter().position(|&m| m == chosen).unwrap_or(0))
}
