//! `daecf shortcut`: do the counterfactuals reveal a head that looks at the wrong vertebra?
//!
//! The trap of the seed paper's Fig. 5 (Atad et al., MELBA 2024), measured. On one DAE, heads
//! for the bundle's fracture task are fitted on vertebra phantoms whose upper neighbour's
//! fracture follows the centre body's at rates k (`daecf phantom --neighbour-confounding`; k = 0:
//! independent, the clean head). Each head is scored on phantoms like its own and on
//! decorrelated ones (neighbours independent of the label: a head that took the shortcut loses
//! AUC there), then explained on decorrelated report phantoms. The vertebra oracle reads every
//! body of the reconstruction and of each binary CE, and the neighbours' share of the measured
//! change says whether the picture shows the shortcut (FastDiME's medical shortcut study measures
//! the classifier; this measures the explanation too).

use std::path::PathBuf;

use anyhow::Context;
use burn::tensor::Device;
use clap::Args;
use daecf_core::data::ImageSet;
use daecf_core::data::phantom::attribution::{Body, BodyChanges, neighbour_share};
use daecf_core::data::phantom::vertebra_oracle::{VertebraMeasure, measure};
use daecf_core::data::phantom::{VertebraConfig, vertebra};
use daecf_core::latent::fit::{HeadConfig, fit_head};
use daecf_core::latent::{CeMove, CeTarget, Head, lands_on_asked_side};
use daecf_core::model::DiffusionAutoencoder;
use daecf_core::pipeline::{CeSteps, explain};
use daecf_core::report::{difference_overlay, enlarge, outlined};
use daecf_models::{Bundle, DEMO_BUNDLE};
use image::{Rgb, RgbImage};
use ndarray::{ArrayView1, Axis};
use serde::Serialize;

use crate::backend::Backend;
use crate::commands::evaluate_ce::semantic_latents;
use crate::commands::explain::CeMoveArgs;
use crate::data_source::batch_tensor;
use crate::files;
use crate::preview::tensor_rows;
use crate::preview::{to_images, to_unit_array};
use crate::report::html::Page;

/// The seeds of the experiment's phantom sets (apart from the demo model's protocol seeds).
const FIT_SEED: u64 = 10;
/// Seed of the sets the heads' AUC is measured on.
const TEST_SEED: u64 = 11;
/// Seed of the report phantoms the CEs are drawn on.
const REPORT_SEED: u64 = 12;
/// Side in pixels of the framed CEs in the page.
const PANEL_SIDE: u32 = 160;

/// Options of `daecf shortcut`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  daecf shortcut                                   # the shipped demo model; report in daecf-shortcut/
  daecf shortcut --rates 1 --fit-images 500 --test-images 200 --report-images 40   # quicker
  daecf shortcut --bundle my-vertebra.daecf --direction covariance --strength 4")]
pub struct ShortcutArgs {
    /// A vertebra bundle (default: the shipped demo bundle); its first head gives the task, the
    /// classifier and C of every head, and the CE settings.
    #[arg(long, value_name = "FILE.daecf")]
    bundle: Option<PathBuf>,
    /// Confounding rates k of the shortcut heads (see `daecf phantom --help`); a clean head
    /// (k = 0) is always fitted too.
    #[arg(long, value_delimiter = ',', default_values_t = [1.0, 0.75, 0.5])]
    rates: Vec<f64>,
    /// Probability of a fractured upper neighbour where the confounding does not decide it
    /// (the decorrelated sets' rate).
    #[arg(long, default_value_t = 0.5)]
    neighbour_fracture: f64,
    /// Phantoms each head is fitted on.
    #[arg(long, default_value_t = 2000)]
    fit_images: usize,
    /// Phantoms each head's AUC is measured on, in its own kind and decorrelated.
    #[arg(long, default_value_t = 1000)]
    test_images: usize,
    /// Decorrelated phantoms every head's binary CE is drawn and measured on.
    #[arg(long, default_value_t = 200)]
    report_images: usize,
    /// Report phantoms shown in the page's pictures.
    #[arg(long, default_value_t = 4)]
    panel: usize,
    /// DDIM steps of the stochastic encoding (the paper: 250).
    #[arg(long, default_value_t = 50)]
    t_encode: usize,
    /// DDIM steps of each render (the paper: 100).
    #[arg(long, default_value_t = 20)]
    t_render: usize,
    /// How far and along which path the CEs move; default: the bundle's head's.
    #[command(flatten)]
    how: CeMoveArgs,
    /// Output folder: report.json, report.md, index.html.
    #[arg(long, value_name = "DIR", default_value = "daecf-shortcut")]
    out: PathBuf,
    /// Device.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
}

/// One head's figures.
#[derive(Debug, Clone, Serialize)]
pub struct HeadFigures {
    /// Its training set's confounding rate k (0: the clean head).
    pub rate: f64,
    /// ROC-AUC on phantoms confounded as its training set.
    pub auc_own: f64,
    /// ROC-AUC on decorrelated phantoms.
    pub auc_decorrelated: f64,
    /// Binary CEs that landed on the other side, encoded again.
    pub binary_validity: f64,
    /// Report phantoms whose every body the oracle measured before and after.
    pub measured: usize,
    /// Mean |change| of the centre body's height ratio.
    pub centre_change: f64,
    /// Mean |change| of the neighbours' height ratios (upper plus lower).
    pub neighbour_change: f64,
    /// The neighbours' share of the summed measured change.
    pub neighbour_share: f64,
    /// Share of CEs whose largest measured change is in a neighbour.
    pub largest_in_neighbour: f64,
}

/// A head fitted for the experiment, with its rate.
struct RatedHead {
    rate: f64,
    head: Head,
}

/// Runs `daecf shortcut`.
pub fn run(args: ShortcutArgs) -> anyhow::Result<()> {
    if let Some(p) = args.rates.iter().chain([&args.neighbour_fracture]).find(|p| !(0.0..=1.0).contains(*p)) {
        anyhow::bail!("--rates and --neighbour-fracture are probabilities: {p} must lie in [0, 1]");
    }
    let device = args.backend.device()?;
    let bundle = match &args.bundle {
        Some(path) => Bundle::read(path)?,
        None => Bundle::from_bytes(DEMO_BUNDLE)?,
    };
    let model = bundle.model(&device)?;
    anyhow::ensure!(model.config.in_channels == 1, "the experiment runs on grey vertebra phantoms: a 1-channel model");
    let heads = bundle.heads();
    let base = heads.heads.first().context("the bundle holds no head; export one with `daecf export --head`")?;
    let how = args.how.for_head(base);
    let mut rates = vec![0.0];
    rates.extend(args.rates.iter().filter(|&&k| k != 0.0));
    let phantoms = |rate: f64| {
        VertebraConfig::new()
            .with_size(model.config.image_size)
            .with_neighbour_fracture(args.neighbour_fracture)
            .with_neighbour_confounding(rate)
    };
    let decorrelated = phantoms(0.0);
    let (test, test_labels) = encoded(&model, &decorrelated, "test", args.test_images, TEST_SEED, &device)?;
    let config = HeadConfig {
        classifier: base.classifier,
        c: base.c,
        standardize: base.standardizer.is_some(),
        ..HeadConfig::default()
    };
    let mut fitted = Vec::new();
    let mut aucs = Vec::new();
    for &rate in &rates {
        let (z, labels) = encoded(&model, &phantoms(rate), "fit", args.fit_images, FIT_SEED, &device)?;
        let head = Head { ce_strength: base.ce_strength, ..fit_head(&base.task, z.view(), &labels, &config, &device)? };
        let (own, own_labels) = encoded(&model, &phantoms(rate), "test", args.test_images, TEST_SEED + 1, &device)?;
        aucs.push((head.evaluate(own.view(), &own_labels)?.auc, head.evaluate(test.view(), &test_labels)?.auc));
        fitted.push(RatedHead { rate, head });
    }
    let (report_set, _) = vertebra::generate_set(&decorrelated, "report", args.report_images, REPORT_SEED)?;
    let steps = CeSteps { encode: args.t_encode, render: args.t_render, max_batch: 16 };
    let drawn = draw(&model, &fitted, &report_set, how, steps, &device)?;
    let figures: Vec<HeadFigures> =
        fitted.iter().enumerate().map(|(j, h)| head_figures(h.rate, aucs[j], &drawn, j)).collect();
    write_outputs(&args, &figures, &drawn, how)?;
    println!("{}", markdown(&figures, how));
    println!("wrote {}", args.out.join("index.html").display());
    Ok(())
}

/// The z_sem and grades of `n` phantoms of `config` seeded with `seed`.
fn encoded(
    model: &DiffusionAutoencoder,
    config: &VertebraConfig,
    name: &str,
    n: usize,
    seed: u64,
    device: &Device,
) -> anyhow::Result<(ndarray::Array2<f32>, Vec<i64>)> {
    let (set, truths) = vertebra::generate_set(config, name, n, seed)?;
    let bar = crate::progress::bar(n as u64, &format!("encoding {name} phantoms"), "images");
    let all: Vec<usize> = (0..n).collect();
    let z = semantic_latents(model, &set, &all, 32, device, &mut |k| bar.inc(k as u64))?;
    bar.finish();
    Ok((z, truths.iter().map(|t| t.grade as i64).collect()))
}

/// Every head's binary CE of every report phantom, measured.
struct Drawn {
    /// The report phantoms' pictures: input, reconstruction, then one CE per head.
    pictures: Vec<Vec<RgbImage>>,
    /// Per phantom and head: whether the CE landed on the other side, and the oracle's changes.
    measures: Vec<Vec<(bool, Option<BodyChanges>)>>,
    /// Per phantom and head: where in the CE the oracle found the body that changed most.
    outlines: Vec<Vec<Option<[f32; 4]>>>,
}

/// Draws each head's binary CE of each image of `set` from its own x_T, and measures it.
fn draw(
    model: &DiffusionAutoencoder,
    heads: &[RatedHead],
    set: &ImageSet,
    how: CeMove,
    steps: CeSteps,
    device: &Device,
) -> anyhow::Result<Drawn> {
    let range = model.config.input_range;
    let plan =
        |_: &Head, w: ArrayView1<f32>| heads.iter().map(|h| h.head.plan_move(w, CeTarget::Binary, how)).collect();
    let (bar, mut on_step) = crate::progress::ddim_steps("drawing CEs");
    let (mut pictures, mut measures, mut outlines) = (Vec::new(), Vec::new(), Vec::new());
    let all: Vec<usize> = (0..set.len()).collect();
    let chunks: Vec<&[usize]> = all.chunks(steps.max_batch.max(1)).collect();
    let mut base = 0;
    for (c, chunk) in chunks.iter().enumerate() {
        let x = batch_tensor(set, chunk, range, device);
        let inputs = to_images(x.clone(), range)?;
        let mut last = 0;
        let mut progress = |done: usize, total: usize| {
            // Each chunk takes about as many steps as the first.
            on_step(base + done, base + total * (chunks.len() - c));
            last = total;
            std::ops::ControlFlow::Continue(())
        };
        let result = explain(model, &heads[0].head, x, &plan, steps, &mut progress)?;
        base += last;
        let ce_latents = tensor_rows(model.encode(result.counterfactuals.clone()))?;
        let recs = to_unit_array(result.reconstructions.clone(), range)?;
        let ces = to_unit_array(result.counterfactuals.clone(), range)?;
        let (rec_pictures, ce_pictures) =
            (to_images(result.reconstructions, range)?, to_images(result.counterfactuals, range)?);
        for (b, item) in result.items.iter().enumerate() {
            let read = |a: ndarray::ArrayView3<f32>| measure(a.index_axis(Axis(0), 0)).ok();
            let before: Option<VertebraMeasure> = read(recs.index_axis(Axis(0), b));
            let (mut row, mut boxes) = (Vec::new(), Vec::new());
            for (j, h) in heads.iter().enumerate() {
                let k = heads.len() * b + j;
                let reencoded = h.head.distance(ce_latents.row(k))?;
                let after = read(ces.index_axis(Axis(0), k));
                let changes = before.as_ref().zip(after.as_ref()).and_then(|(a, z)| BodyChanges::between(a, z));
                let body = changes.map(|c| match c.largest() {
                    Body::Upper => 0,
                    Body::Centre => 1,
                    Body::Lower => 2,
                });
                boxes.push(after.zip(body).and_then(|(m, i)| m.boxes[i]));
                row.push((lands_on_asked_side(item.plans[j].distance, reencoded), changes));
            }
            measures.push(row);
            outlines.push(boxes);
            let mut shown = vec![inputs[b].clone(), rec_pictures[b].clone()];
            shown.extend((0..heads.len()).map(|j| ce_pictures[heads.len() * b + j].clone()));
            pictures.push(shown);
        }
    }
    bar.finish();
    Ok(Drawn { pictures, measures, outlines })
}

/// The figures of head `j` (fitted at `rate`, with its AUCs on its own kind and decorrelated).
fn head_figures(rate: f64, (auc_own, auc_decorrelated): (f64, f64), drawn: &Drawn, j: usize) -> HeadFigures {
    let n = drawn.measures.len().max(1) as f64;
    let changes: Vec<BodyChanges> = drawn.measures.iter().filter_map(|row| row[j].1).collect();
    let m = changes.len().max(1) as f64;
    let mean = |f: fn(&BodyChanges) -> f32| changes.iter().map(|c| f(c) as f64).sum::<f64>() / m;
    HeadFigures {
        rate,
        auc_own,
        auc_decorrelated,
        binary_validity: drawn.measures.iter().filter(|row| row[j].0).count() as f64 / n,
        measured: changes.len(),
        centre_change: mean(|c| c.centre.abs()),
        neighbour_change: mean(|c| c.upper.abs() + c.lower.abs()),
        neighbour_share: neighbour_share(&changes),
        largest_in_neighbour: changes.iter().filter(|c| c.largest() != Body::Centre).count() as f64 / m,
    }
}

/// The columns of the heads' table.
const COLUMNS: [&str; 9] = [
    "head (confounding k)",
    "AUC, own kind",
    "AUC, decorrelated",
    "binary validity",
    "measured",
    "centre |change|",
    "neighbours |change|",
    "neighbours' share",
    "largest in a neighbour",
];

/// The heads' table rows, one per head.
fn table_rows(figures: &[HeadFigures]) -> Vec<Vec<String>> {
    figures
        .iter()
        .map(|f| {
            vec![
                if f.rate == 0.0 { "clean (0)".to_string() } else { f.rate.to_string() },
                format!("{:.3}", f.auc_own),
                format!("{:.3}", f.auc_decorrelated),
                format!("{:.1} %", 100.0 * f.binary_validity),
                f.measured.to_string(),
                format!("{:.3}", f.centre_change),
                format!("{:.3}", f.neighbour_change),
                format!("{:.1} %", 100.0 * f.neighbour_share),
                format!("{:.1} %", 100.0 * f.largest_in_neighbour),
            ]
        })
        .collect()
}

/// The heads side by side as Markdown.
fn markdown(figures: &[HeadFigures], how: CeMove) -> String {
    let mut md = format!("Binary CEs along the {} direction at strength {}.\n\n", how.direction, how.strength);
    md.push_str(&format!("| {} |\n|{}\n", COLUMNS.join(" | "), "---|".repeat(COLUMNS.len())));
    for row in table_rows(figures) {
        md.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    md
}

/// report.json, report.md and index.html (the table and, for the first report phantoms, the
/// clean and the most confounded head's CEs with their difference maps).
fn write_outputs(args: &ShortcutArgs, figures: &[HeadFigures], drawn: &Drawn, how: CeMove) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let json = serde_json::json!({
        "direction": how.direction, "strength": how.strength, "neighbour_fracture": args.neighbour_fracture,
        "heads": figures, "images": drawn.measures,
    });
    files::write(&args.out.join("report.json"), serde_json::to_string_pretty(&json)?)?;
    files::write(&args.out.join("report.md"), format!("# Shortcut detection\n\n{}", markdown(figures, how)))?;
    let mut page = Page::default();
    page.heading(1, "daecf shortcut: do the counterfactuals reveal a head that looks at the wrong vertebra?");
    page.paragraph(
        "Heads fitted on phantoms whose upper neighbour's fracture follows the centre body's at rate k (0: independent), \
         scored on phantoms like their own and on decorrelated ones, and explained on decorrelated phantoms. The oracle \
         measures every body's height ratio in the reconstruction and in each binary CE: a head that takes the shortcut \
         should lose AUC on decorrelated phantoms, and its CEs should change the neighbour.",
    );
    page.paragraph(&format!("Binary CEs along the {} direction at strength {}.", how.direction, how.strength));
    page.columns(&COLUMNS, &table_rows(figures));
    let strongest = figures.len() - 1;
    let pictures = args.out.join("pictures");
    std::fs::create_dir_all(&pictures)?;
    for (i, shown) in drawn.pictures.iter().take(args.panel).enumerate() {
        let (clean, shortcut) = (&shown[2], &shown[2 + strongest]);
        // The body that changed most, framed in red where the oracle found it.
        let framed = |j: usize, ce: &RgbImage| match drawn.outlines[i][j] {
            Some(region) => outlined(ce, region, PANEL_SIDE, Rgb([230, 30, 30])),
            None => enlarge(ce, PANEL_SIDE),
        };
        let items = [
            ("input".to_string(), shown[0].clone()),
            ("reconstruction".into(), shown[1].clone()),
            (format!("clean head's CE: {}", caption(&drawn.measures[i][0])), framed(0, clean)),
            ("clean CE - reconstruction".into(), difference_overlay(&shown[1], clean)),
            (
                format!("k = {} head's CE: {}", figures[strongest].rate, caption(&drawn.measures[i][strongest])),
                framed(strongest, shortcut),
            ),
            (format!("k = {} CE - reconstruction", figures[strongest].rate), difference_overlay(&shown[1], shortcut)),
        ];
        let mut row = Vec::new();
        for (k, (text, picture)) in items.into_iter().enumerate() {
            let path = pictures.join(format!("{i}-{k}.png"));
            picture.save(&path).with_context(|| format!("writing {}", path.display()))?;
            row.push((path, text));
        }
        page.figures(&row.iter().map(|(p, c)| (p.as_path(), c.clone())).collect::<Vec<_>>())?;
    }
    page.write(&args.out.join("index.html"), "daecf shortcut")
}

/// Where a CE's measured change was largest, in words.
fn caption(measured: &(bool, Option<BodyChanges>)) -> String {
    match measured.1 {
        Some(c) => {
            let body = match c.largest() {
                Body::Upper => "upper neighbour",
                Body::Centre => "centre body",
                Body::Lower => "lower neighbour",
            };
            format!("largest change in the {body} (ratios {:+.2} / {:+.2} / {:+.2})", c.upper, c.centre, c.lower)
        }
        None => "the oracle could not measure every body".into(),
    }
}
