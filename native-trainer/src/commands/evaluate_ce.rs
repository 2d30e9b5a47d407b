//! `daecf evaluate-ce`: how good are a head's counterfactuals on a labelled set?
//!
//! For every image: the binary CE and one grade CE (target grades taken in turn from the head's
//! range, skipping the image's own), rendered from the image's x_T. Measured:
//! - validity: the CE encoded again lands on the target side (binary) / at the target grade;
//! - proximity: L1 and SSIM between each CE and the reconstruction, and the latent step size;
//! - reconstruction quality: MSE, PSNR and SSIM against the input;
//! - the head itself on these images (AUC and the rest of `daecf fit`'s figures);
//! - on phantoms, the oracle: did the measured severity move the way the grade moved, and how
//!   far is the CE's measured grade from the target?

use std::cell::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::tensor::Device;
use clap::Args;
use daecf_core::data::ImageSet;
use daecf_core::data::phantom::Oracle;
use daecf_core::latent::{CeTarget, Evaluation, Head, lands_on_asked_side, realised_share};
use daecf_core::metrics::image::{l1, mse, psnr, ssim};
use daecf_core::model::DiffusionAutoencoder;
use daecf_core::pipeline::{CeSteps, explain};
use ndarray::{ArrayView1, Axis};
use serde::Serialize;

use crate::backend::Backend;
use crate::model_source::ModelArgs;
use crate::commands::explain::tensor_rows;
use crate::data_source::{DataArgs, batch_tensor};
use crate::files;
use crate::preview::to_unit_array;

/// Options of `daecf evaluate-ce`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  daecf evaluate-ce --model m.safetensors --head head.json --data phantom:vertebra:1000 --limit 200
  daecf evaluate-ce --bundle shared-models/demo/demo.daecf --data phantom:vertebra:1000
  daecf evaluate-ce --model m.safetensors --head head.json --data scans/ --labels grades.csv --t-encode 50 --t-render 20")]
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
    /// At most this many (labelled) images.
    #[arg(long, default_value_t = 200)]
    limit: usize,
    /// Oracle that measures the graded finding (default: the phantom's, for --data phantom:NAME).
    #[arg(long, value_parser = ["vertebra", "retina", "none"])]
    oracle: Option<String>,
    /// DDIM steps of the stochastic encoding (the paper: 250).
    #[arg(long, default_value_t = CeSteps::PAPER.encode)]
    t_encode: usize,
    /// DDIM steps of each render (the paper: 100).
    #[arg(long, default_value_t = CeSteps::PAPER.render)]
    t_render: usize,
    /// Images encoded or rendered per batch.
    #[arg(long, default_value_t = CeSteps::PAPER.max_batch)]
    batch: usize,
    /// Strength of the binary and grade CEs: 1 is the paper's (the reflection of eq. 4, the
    /// calibrated grade's distance); S moves the latent S times as far from the image's own, for
    /// a decoder that renders only part of a move (this report gives the share it keeps).
    /// Below 0.5 a binary CE's latent stays on the image's side of the boundary; a CE is
    /// judged valid by what it should show (the other side), whatever its strength.
    /// Default: the head's (1 unless its bundle was exported with --ce-strength).
    #[arg(long, value_parser = crate::commands::explain::positive_strength)]
    strength: Option<f32>,
    /// Output folder: report.json, report.md, per_image.csv.
    #[arg(long, value_name = "DIR", default_value = "out/evaluate-ce")]
    out: PathBuf,
    /// Device.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
}

/// One image's counterfactual figures.
#[derive(Debug, Clone, Serialize)]
pub struct CeRow {
    /// Image id.
    pub id: String,
    /// Its label.
    pub label: i64,
    /// Its signed distance.
    pub distance: f32,
    /// Reconstruction PSNR, SSIM and MSE against the input.
    pub recon: [f64; 3],
    /// Signed distance of the reconstruction encoded again: how far re-encoding alone moves an
    /// unedited picture (the noise floor under validity).
    pub recon_reencoded: f32,
    /// Binary CE: target distance, re-encoded distance, L1 and SSIM to the reconstruction, step.
    pub binary: CeFigures,
    /// Grade CE: as for the binary one, with its target grade.
    pub grade: CeFigures,
    /// The grade CE's target.
    pub target_grade: i64,
    /// Oracle severity and grade of the input image, on phantoms: the oracle's own reading,
    /// against which the reconstruction's and the CEs' are compared.
    pub input_oracle: Option<(f32, u8)>,
    /// Oracle grade of the reconstruction, on phantoms.
    pub recon_oracle_grade: Option<u8>,
}

/// The figures of one counterfactual.
#[derive(Debug, Clone, Serialize)]
pub struct CeFigures {
    /// Signed distance the CE should show (the paper's target; what validity is judged by,
    /// as in `daecf explain`'s report).
    pub distance: f32,
    /// Signed distance of the moved latent (`distance` at strength 1).
    pub latent_distance: f32,
    /// Signed distance of the CE encoded again.
    pub reencoded: f32,
    /// The calibrated grade of the re-encoded CE.
    pub reencoded_grade: i64,
    /// Mean |CE - reconstruction| per pixel.
    pub l1: f64,
    /// SSIM between CE and reconstruction.
    pub ssim: f64,
    /// L2 length of the move in z_sem.
    pub step: f32,
    /// Oracle severity of reconstruction and CE, and the CE's oracle grade.
    pub oracle: Option<(f32, f32, u8)>,
}

/// Means over a set.
#[derive(Debug, Clone, Serialize)]
pub struct CeSummary {
    /// Images evaluated.
    pub n: usize,
    /// DDIM steps (encode, render).
    pub steps: (usize, usize),
    /// Strength of the CEs (1: the paper's).
    pub strength: f32,
    /// The head on these images.
    pub head: Evaluation,
    /// Reconstruction: mean MSE, PSNR (dB), SSIM.
    pub recon_mse: f64,
    /// Mean PSNR.
    pub recon_psnr: f64,
    /// Mean SSIM.
    pub recon_ssim: f64,
    /// Fraction of binary CEs whose re-encoding lands on the target side.
    pub binary_validity: f64,
    /// Fraction of grade CEs whose re-encoding has the target grade.
    pub grade_validity: f64,
    /// Fraction of grade CEs whose re-encoding is within one grade of the target.
    pub grade_validity_within_one: f64,
    /// Mean L1 and SSIM between binary CE and reconstruction.
    pub binary_l1: f64,
    /// Mean SSIM between binary CE and reconstruction.
    pub binary_ssim: f64,
    /// Mean L1 between grade CE and reconstruction.
    pub grade_l1: f64,
    /// Mean SSIM between grade CE and reconstruction.
    pub grade_ssim: f64,
    /// Mean latent step of the binary CEs.
    pub binary_step: f64,
    /// Median share of the binary CE's move along the head's normal that its re-encoding keeps
    /// (1: the picture carries the whole move; near 0: the decoder ignores it).
    pub binary_realised: f64,
    /// Median size of the binary CE's asked move in signed distance, |reflection - distance|.
    pub binary_move: f64,
    /// Median |distance change| of the reconstruction encoded again: moves smaller than this
    /// cannot be told from re-encoding noise.
    pub recon_drift: f64,
    /// Oracle figures, on phantoms.
    pub oracle: Option<OracleSummary>,
}

/// What the oracle says about the counterfactuals.
#[derive(Debug, Clone, Serialize)]
pub struct OracleSummary {
    /// Fraction of binary CEs whose measured severity moved the way the head's grade moved.
    pub binary_direction: f64,
    /// The same for grade CEs (whose target differs from the reconstruction's grade).
    pub grade_direction: f64,
    /// Fraction of grade CEs whose measured grade equals the target.
    pub grade_exact: f64,
    /// Fraction of grade CEs whose measured grade is within one of the target.
    pub grade_within_one: f64,
    /// Fraction of input images whose measured grade equals their label (the oracle's own
    /// accuracy on this set: the ceiling for the reconstruction's).
    pub input_grade_exact: f64,
    /// Fraction of reconstructions whose measured grade equals the image's label.
    pub recon_grade_exact: f64,
    /// Images where the oracle could not measure the input, the reconstruction or a CE; each
    /// counts as a failure of the checks it enters.
    pub unmeasured: usize,
}

/// A bar a model must clear before its counterfactuals can be read as what its head relies on:
/// the targets the demo model is held to (README, "Trusting counterfactuals").
#[derive(Debug, Clone, Serialize)]
pub struct TrustCheck {
    /// What is measured.
    pub measure: &'static str,
    /// The measured value: a fraction, or the AUC.
    pub value: f64,
    /// The least value that passes.
    pub bar: f64,
    /// Whether value and bar are fractions, written as percentages (else written as numbers).
    pub percent: bool,
}

impl TrustCheck {
    /// Whether the measured value clears the bar.
    pub fn met(&self) -> bool {
        self.value >= self.bar
    }

    /// Checks as (check, verdict) table rows.
    pub fn rows(checks: &[TrustCheck]) -> Vec<(String, String)> {
        checks.iter().map(|c| (c.measure.to_string(), c.verdict())).collect()
    }

    /// "16.0 % (needs 80.0 %): not met"; an AUC is written as a number.
    pub fn verdict(&self) -> String {
        let show = |v: f64| if self.percent { format!("{:.1} %", 100.0 * v) } else { format!("{v:.3}") };
        format!("{} (needs {}): {}", show(self.value), show(self.bar), if self.met() { "met" } else { "not met" })
    }
}

/// Evaluates the counterfactuals of images `indices` of `set` (all labelled).
pub fn evaluate(
    model: &DiffusionAutoencoder,
    head: &Head,
    set: &ImageSet,
    indices: &[usize],
    oracle: Option<Oracle>,
    steps: CeSteps,
    strength: f32,
    device: &Device,
    on_step: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<(CeSummary, Vec<CeRow>)> {
    let range = model.config.input_range;
    let labels = indices
        .iter()
        .map(|&i| set.labels[i].with_context(|| format!("image '{}' has no label; evaluate-ce needs labelled images", set.ids[i])))
        .collect::<anyhow::Result<Vec<i64>>>()?;
    let (positive, negative) = head.task.class_counts(&labels);
    anyhow::ensure!(
        positive > 0 && negative > 0,
        "the {} images chosen hold {} positive and {} negative examples of task '{}'; the head's ROC-AUC needs both: \
         raise --limit or choose another split",
        indices.len(),
        positive,
        negative,
        head.task.name
    );
    let (lo, hi) = head.calibration.grade_range;
    let turn = Cell::new(0usize);
    let plan = |h: &Head, w: ArrayView1<f32>| {
        let own = h.calibration.grade(h.distance(w)? as f64);
        let others: Vec<i64> = (lo..=hi).filter(|&g| g != own).collect();
        let target = others[turn.get() % others.len().max(1)];
        turn.set(turn.get() + 1);
        Ok(vec![
            h.plan_with_strength(w, CeTarget::Binary, strength)?,
            h.plan_with_strength(w, CeTarget::Grade(target as f64), strength)?,
        ])
    };
    let mut rows = Vec::new();
    let mut latents = Vec::new();
    let batch = steps.max_batch.max(1);
    let calls: Vec<&[usize]> = indices.chunks(batch * 4).collect();
    // The DDIM steps `explain` takes for n images with two counterfactuals each.
    let steps_of = |n: usize| n.div_ceil(batch) * steps.encode + (3 * n).div_ceil(batch) * steps.render;
    let total: usize = calls.iter().map(|c| steps_of(c.len())).sum();
    let mut base = 0;
    for chunk in calls {
        let x = batch_tensor(set, chunk, range, device);
        let mut progress = |done: usize, _: usize| {
            on_step(base + done, total);
            std::ops::ControlFlow::Continue(())
        };
        let result = explain(model, head, x, &plan, steps, &mut progress)?;
        base += steps_of(chunk.len());
        let reencoded = head.distances(tensor_rows(model.encode(result.counterfactuals.clone()))?.view())?;
        let recon_reencoded = head.distances(tensor_rows(model.encode(result.reconstructions.clone()))?.view())?;
        let recs = to_unit_array(result.reconstructions, range)?;
        let ces = to_unit_array(result.counterfactuals, range)?;
        for (b, item) in result.items.iter().enumerate() {
            let i = chunk[b];
            let original = set.images.index_axis(Axis(0), i);
            let rec = recs.index_axis(Axis(0), b);
            // An image the oracle cannot measure (a CE that lost the bone, say) counts as a
            // failure of every oracle check it enters.
            let input_oracle = oracle.and_then(|o| o.read(original).ok());
            let rec_oracle = oracle.and_then(|o| o.read(rec).ok());
            let figures = |k: usize| -> CeFigures {
                let ce = ces.index_axis(Axis(0), 2 * b + k);
                let p = &item.plans[k];
                let d = reencoded[2 * b + k];
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
                }
            };
            let target_grade = match item.plans[1].target {
                CeTarget::Grade(g) => g as i64,
                _ => unreachable!("the plan puts the grade CE second"),
            };
            rows.push(CeRow {
                id: set.ids[i].clone(),
                label: labels[rows.len()], // rows follow `indices` in order
                distance: item.distance,
                recon: [psnr(original, rec), ssim(original, rec), mse(original, rec)],
                recon_reencoded: recon_reencoded[b],
                binary: figures(0),
                grade: figures(1),
                target_grade,
                input_oracle: input_oracle.map(|r| (r.severity, r.grade)),
                recon_oracle_grade: rec_oracle.map(|r| r.grade),
            });
            latents.extend_from_slice(&item.z_sem);
        }
    }
    let dim = head.dim();
    let latents = ndarray::Array2::from_shape_vec((rows.len(), dim), latents)?;
    let summary = summarise(head, &rows, head.evaluate(latents.view(), &labels)?, &steps, strength, oracle.is_some());
    Ok((summary, rows))
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

fn median(v: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = v.filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn fraction(v: impl Iterator<Item = bool>) -> f64 {
    mean(v.map(|b| if b { 1.0 } else { 0.0 }))
}

fn summarise(
    head: &Head,
    rows: &[CeRow],
    evaluation: Evaluation,
    steps: &CeSteps,
    strength: f32,
    with_oracle: bool,
) -> CeSummary {
    let grade_at = |d: f32| head.calibration.predict(d as f64);
    // Did the severity move the way the CE's grade moves (and move at all)?
    let direction = |r: &CeRow, f: &CeFigures| {
        let want = grade_at(f.distance) - grade_at(r.distance);
        f.oracle.is_some_and(|(before, after, _)| want != 0.0 && (after - before) as f64 * want > 0.0)
    };
    let oracle = with_oracle.then(|| OracleSummary {
        binary_direction: fraction(rows.iter().map(|r| direction(r, &r.binary))),
        grade_direction: fraction(
            rows.iter()
                .filter(|r| head.calibration.grade(r.distance as f64) != r.target_grade)
                .map(|r| direction(r, &r.grade)),
        ),
        grade_exact: fraction(rows.iter().map(|r| r.grade.oracle.is_some_and(|o| o.2 as i64 == r.target_grade))),
        grade_within_one: fraction(rows.iter().map(|r| r.grade.oracle.is_some_and(|o| (o.2 as i64 - r.target_grade).abs() <= 1))),
        input_grade_exact: fraction(rows.iter().map(|r| r.input_oracle.is_some_and(|(_, g)| g as i64 == r.label))),
        recon_grade_exact: fraction(rows.iter().map(|r| r.recon_oracle_grade.is_some_and(|g| g as i64 == r.label))),
        unmeasured: rows
            .iter()
            .filter(|r| r.input_oracle.is_none() || r.recon_oracle_grade.is_none() || r.binary.oracle.is_none() || r.grade.oracle.is_none())
            .count(),
    });
    CeSummary {
        n: rows.len(),
        steps: (steps.encode, steps.render),
        strength,
        head: evaluation,
        recon_mse: mean(rows.iter().map(|r| r.recon[2])),
        recon_psnr: mean(rows.iter().map(|r| r.recon[0])),
        recon_ssim: mean(rows.iter().map(|r| r.recon[1])),
        binary_validity: fraction(rows.iter().map(|r| lands_on_asked_side(r.binary.distance, r.binary.reencoded))),
        grade_validity: fraction(rows.iter().map(|r| r.grade.reencoded_grade == r.target_grade)),
        grade_validity_within_one: fraction(rows.iter().map(|r| (r.grade.reencoded_grade - r.target_grade).abs() <= 1)),
        binary_l1: mean(rows.iter().map(|r| r.binary.l1)),
        binary_ssim: mean(rows.iter().map(|r| r.binary.ssim)),
        grade_l1: mean(rows.iter().map(|r| r.grade.l1)),
        grade_ssim: mean(rows.iter().map(|r| r.grade.ssim)),
        binary_step: mean(rows.iter().map(|r| r.binary.step as f64)),
        binary_realised: median(rows.iter().filter_map(|r| realised_share(r.distance, r.binary.latent_distance, r.binary.reencoded))),
        binary_move: median(rows.iter().map(|r| (r.binary.latent_distance - r.distance).abs() as f64)),
        recon_drift: median(rows.iter().map(|r| (r.recon_reencoded - r.distance).abs() as f64)),
        oracle,
    }
}

impl CeSummary {
    /// The summary as (measure, value) rows.
    pub fn rows(&self) -> Vec<(String, String)> {
        let pct = |v: f64| format!("{:.1} %", 100.0 * v);
        let mut rows = vec![
            ("images".to_string(), self.n.to_string()),
            ("DDIM steps (encode / render)".into(), format!("{} / {}", self.steps.0, self.steps.1)),
            ("CE strength (1: the paper's CEs)".into(), format!("{}", self.strength)),
            ("head ROC-AUC".into(), format!("{:.3}", self.head.auc)),
            ("head accuracy".into(), format!("{:.3}", self.head.accuracy)),
            ("reconstruction PSNR".into(), format!("{:.2} dB", self.recon_psnr)),
            ("reconstruction SSIM".into(), format!("{:.3}", self.recon_ssim)),
            ("reconstruction MSE".into(), format!("{:.5}", self.recon_mse)),
            ("binary CE validity (re-encoded on the target side)".into(), pct(self.binary_validity)),
            ("grade CE validity (re-encoded at the target grade)".into(), pct(self.grade_validity)),
            ("grade CE validity within one grade".into(), pct(self.grade_validity_within_one)),
            ("binary CE proximity: L1 / SSIM to the reconstruction".into(), format!("{:.4} / {:.3}", self.binary_l1, self.binary_ssim)),
            ("grade CE proximity: L1 / SSIM to the reconstruction".into(), format!("{:.4} / {:.3}", self.grade_l1, self.grade_ssim)),
            ("binary CE latent step (L2)".into(), format!("{:.3}", self.binary_step)),
            ("binary CE: share of the latent move kept after re-encoding (median)".into(), pct(self.binary_realised)),
            (
                "strength at which that share carries the paper's move whole".into(),
                if self.binary_realised > 0.0 { format!("{:.1}", 1.0 / self.binary_realised) } else { "none (the move is not kept)".into() },
            ),
            (
                "binary CE: asked move in distance / re-encoded reconstruction's drift (medians)".into(),
                format!("{:.3} / {:.3}", self.binary_move, self.recon_drift),
            ),
        ];
        if let Some(o) = &self.oracle {
            rows.extend([
                ("oracle: binary CEs moving the measured finding the right way".to_string(), pct(o.binary_direction)),
                ("oracle: grade CEs moving it the right way".into(), pct(o.grade_direction)),
                ("oracle: grade CE measured at the target grade".into(), pct(o.grade_exact)),
                ("oracle: grade CE measured within one grade of the target".into(), pct(o.grade_within_one)),
                ("oracle: input measured at the label's grade (its own accuracy here)".into(), pct(o.input_grade_exact)),
                ("oracle: reconstruction measured at the label's grade".into(), pct(o.recon_grade_exact)),
                ("oracle: images it could not measure (counted as failures)".into(), o.unmeasured.to_string()),
            ]);
        }
        rows
    }

    /// The trust checks: head AUC >= 0.9 and binary CE validity >= 80 %; where an oracle
    /// measured the images, binary CEs moving the finding the right way >= 80 % and grade CEs
    /// measured within one grade of the target >= 70 %.
    pub fn trust_checks(&self) -> Vec<TrustCheck> {
        let mut checks = vec![
            TrustCheck { measure: "head ROC-AUC", value: self.head.auc, bar: 0.9, percent: false },
            TrustCheck { measure: "binary CE validity", value: self.binary_validity, bar: 0.8, percent: true },
        ];
        if let Some(o) = &self.oracle {
            checks.push(TrustCheck { measure: "oracle: binary CEs moving the finding the right way", value: o.binary_direction, bar: 0.8, percent: true });
            checks.push(TrustCheck { measure: "oracle: grade CEs within one grade of the target", value: o.grade_within_one, bar: 0.7, percent: true });
        }
        checks
    }

    /// The summary and its trust checks as Markdown tables.
    pub fn markdown(&self) -> String {
        let mut md = String::from("| measure | value |\n|---|---|\n");
        for (k, v) in self.rows() {
            md.push_str(&format!("| {k} | {v} |\n"));
        }
        md.push_str("\n| trust check | verdict |\n|---|---|\n");
        for (k, v) in TrustCheck::rows(&self.trust_checks()) {
            md.push_str(&format!("| {k} | {v} |\n"));
        }
        md
    }
}

/// Writes report.json, report.md and per_image.csv into `dir`.
pub fn write_report(dir: &Path, summary: &CeSummary, rows: &[CeRow]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    files::write(&dir.join("report.json"), serde_json::to_string_pretty(&serde_json::json!({ "summary": summary, "images": rows }))?)?;
    files::write(&dir.join("report.md"), format!("# Counterfactual evaluation\n\n{}", summary.markdown()))?;
    let mut csv = files::create(&dir.join("per_image.csv"))?;
    writeln!(csv, "id,label,distance,psnr,recon_reencoded,binary_latent_distance,binary_reencoded,binary_l1,grade_target,grade_reencoded,grade_l1,severity_input,severity_recon,severity_binary,severity_grade,oracle_grade")?;
    for r in rows {
        let sev = |f: &CeFigures| f.oracle.map_or(String::new(), |o| format!("{:.4}", o.1));
        writeln!(
            csv,
            "{},{},{:.4},{:.2},{:.4},{:.4},{:.4},{:.4},{},{},{:.4},{},{},{},{},{}",
            r.id, r.label, r.distance, r.recon[0], r.recon_reencoded, r.binary.latent_distance, r.binary.reencoded, r.binary.l1, r.target_grade,
            r.grade.reencoded_grade, r.grade.l1,
            r.input_oracle.map_or(String::new(), |o| format!("{:.4}", o.0)),
            r.binary.oracle.map_or(String::new(), |o| format!("{:.4}", o.0)), sev(&r.binary), sev(&r.grade),
            r.grade.oracle.map_or(String::new(), |o| o.2.to_string())
        )?;
    }
    csv.flush()?;
    Ok(())
}

/// Runs `daecf evaluate-ce`.
pub fn run(args: EvaluateCeArgs) -> anyhow::Result<()> {
    let device = args.backend.device()?;
    let (model, file, name) = args.source.load(&device)?;
    let ce = crate::commands::explain::CeArgs {
        task: args.task.clone(),
        grades: None,
        frames: 2,
        extent: None,
        t_encode: args.t_encode,
        t_render: args.t_render,
        batch: args.batch,
        strength: args.strength,
    };
    let head = ce.head(&file, &name)?;
    let oracle = match args.oracle.as_deref() {
        Some("none") => None,
        Some(name) => Some(Oracle::from_name(name)?),
        None => args.data.phantom_name().map(Oracle::from_name).transpose()?,
    };
    let spec = daecf_core::data::ImageSpec { size: model.config.image_size, channels: model.config.in_channels };
    let set = args.data.read_split(spec, args.split.as_deref())?;
    let labelled: Vec<usize> = (0..set.len()).filter(|&i| set.labels[i].is_some()).take(args.limit).collect();
    anyhow::ensure!(!labelled.is_empty(), "{} has no labelled images to evaluate on", args.data.data.display());
    let bar = crate::progress::bar(1, "evaluating CEs", "DDIM steps");
    let mut on_step = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let (summary, rows) = evaluate(&model, head, &set, &labelled, oracle, ce.steps(), ce.strength_for(head), &device, &mut on_step)?;
    bar.finish();
    write_report(&args.out, &summary, &rows)?;
    println!("{}", summary.markdown());
    println!("per image: {}", args.out.join("per_image.csv").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{CeFigures, CeRow, TrustCheck, median, summarise};
    use daecf_core::latent::{Calibration, CalibrationKind, ClassifierKind, Head, Hyperplane, TaskSpec};
    use daecf_core::pipeline::CeSteps;

    #[test]
    fn median_skips_undefined_values() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
        assert_eq!(median([4.0, 1.0, f64::NAN, 2.0, 3.0].into_iter()), 2.5);
        assert!(median(std::iter::empty()).is_nan());
    }

    #[test]
    fn a_check_gives_its_value_bar_and_verdict() {
        let validity = TrustCheck { measure: "binary CE validity", value: 0.16, bar: 0.8, percent: true };
        assert!(!validity.met());
        assert_eq!(validity.verdict(), "16.0 % (needs 80.0 %): not met");
        let auc = TrustCheck { measure: "head ROC-AUC", value: 0.912, bar: 0.9, percent: false };
        assert!(auc.met());
        assert_eq!(auc.verdict(), "0.912 (needs 0.900): met");
    }

    /// A row for an image at `distance` whose binary CE (strength 0.4) was rendered from a latent
    /// at `0.2 * distance` and re-encoded at `reencoded`.
    fn weak_binary_row(distance: f32, reencoded: f32) -> CeRow {
        let figures = |shown: f32| CeFigures {
            distance: shown,
            latent_distance: distance + 0.4 * (shown - distance),
            reencoded,
            reencoded_grade: 0,
            l1: 0.0,
            ssim: 1.0,
            step: 0.1,
            oracle: None,
        };
        CeRow {
            id: format!("{distance}"),
            label: i64::from(distance > 0.0),
            distance,
            recon: [30.0, 0.9, 0.001],
            recon_reencoded: distance,
            binary: figures(-distance),
            grade: figures(-distance),
            target_grade: 0,
            input_oracle: None,
            recon_oracle_grade: None,
        }
    }

    fn one_d_head() -> Head {
        Head {
            task: TaskSpec::new("fracture"),
            classifier: ClassifierKind::Svm,
            c: 1.0,
            hyperplane: Hyperplane::new(vec![1.0], 0.0).unwrap(),
            standardizer: None,
            calibration: Calibration { kind: CalibrationKind::Linear, coefficients: vec![0.5, 1.0], grade_range: (0, 1), distance_range: (-1.0, 1.0) },
            ce_strength: 1.0,
        }
    }

    #[test]
    fn binary_validity_is_judged_by_the_side_the_ce_should_show() {
        let head = one_d_head();
        // A weak CE's latent stays on the image's side: re-encoding there is not a valid CE,
        // crossing to the reflection's side is (as `daecf explain`'s report judges it).
        let rows = [weak_binary_row(0.5, 0.12), weak_binary_row(-0.5, -0.1), weak_binary_row(0.3, -0.05)];
        let latents = ndarray::array![[0.5f32], [-0.5], [0.3]];
        let evaluation = head.evaluate(latents.view(), &[1, 0, 1]).unwrap();
        let steps = CeSteps { encode: 10, render: 10, max_batch: 4 };
        let summary = summarise(&head, &rows, evaluation, &steps, 0.4, false);
        assert!((summary.binary_validity - 1.0 / 3.0).abs() < 1e-12, "validity {}", summary.binary_validity);
        assert!((summary.binary_move - 0.4).abs() < 1e-6, "latent move {}", summary.binary_move);
    }

    #[test]
    fn an_image_the_oracle_cannot_measure_counts_as_a_failure() {
        let head = one_d_head();
        // Both binary CEs should lower the grade (d = 0.5 -> -0.5); the oracle saw the first
        // one's severity fall and could not measure the second.
        let mut measured = weak_binary_row(0.5, -0.4);
        measured.input_oracle = Some((0.3, 1));
        measured.recon_oracle_grade = Some(1);
        measured.binary.oracle = Some((0.3, 0.1, 0));
        measured.grade.oracle = Some((0.3, 0.1, 0));
        let mut lost = measured.clone();
        lost.binary.oracle = None;
        let rows = [measured, lost];
        let evaluation = head.evaluate(ndarray::array![[0.5f32], [-0.5]].view(), &[1, 0]).unwrap();
        let steps = CeSteps { encode: 10, render: 10, max_batch: 4 };
        let oracle = summarise(&head, &rows, evaluation, &steps, 1.0, true).oracle.unwrap();
        assert_eq!((oracle.binary_direction, oracle.unmeasured), (0.5, 1));
    }
}
