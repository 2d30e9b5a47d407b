//! `daecf demo`: the whole method on a fresh machine, in a few minutes on a CPU. It generates
//! held-out vertebra phantoms (whose Genant grade is known), loads the shipped demo bundle
//! (model and fracture head, compiled into the binary; `--bundle` takes another), grades the phantoms, measures the counterfactuals
//! against the phantom's oracle, draws counterfactuals for one image of each grade, and writes
//! a self-contained HTML report: DIR/index.html.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use daecf_core::data::phantom::{Oracle, REPORT_SEED, VertebraConfig, split_seed, vertebra};
use daecf_core::data::{LatentSet, LatentSplit};
use daecf_models::{Bundle, DEMO_BUNDLE};

use crate::backend::Backend;
use crate::commands::evaluate_ce::{
    CeImages, TrustCheck, evaluate, report_moves, semantic_latents, swap_test, write_report,
};
use crate::commands::explain::{CeArgs, CeMoveArgs, DdimArgs, Explainer, explain_images};
use crate::report::demo_page;
use crate::report::html::Page;
use crate::report::plots::head_plots;

/// Options of `daecf demo`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  daecf demo                                   # writes daecf-demo/index.html
  daecf demo --out /tmp/demo --t-encode 250 --t-render 100   # the paper's DDIM steps (slower)
  daecf demo --bundle my-vertebra.daecf --strength 16 --out /tmp/mine   # another model, stronger CEs")]
pub struct DemoArgs {
    /// Output folder; the report is DIR/index.html.
    #[arg(long, value_name = "DIR", default_value = "daecf-demo")]
    out: PathBuf,
    /// Held-out phantoms to grade (encoder only: fast).
    #[arg(long, default_value_t = 200)]
    eval: usize,
    /// Of those, how many get their counterfactuals measured (validity, proximity, oracle).
    #[arg(long, default_value_t = 24)]
    ce_images: usize,
    /// Of those, how many take part in the swap test (each one's x_T rendered with another's
    /// z_sem: how much of a picture z_sem controls); 0 skips it.
    #[arg(long, default_value_t = 12)]
    swap_images: usize,
    /// DDIM steps of the stochastic encoding (the paper: 250; the demo's default is fast).
    #[arg(long, default_value_t = 50)]
    t_encode: usize,
    /// DDIM steps of each render (the paper: 100).
    #[arg(long, default_value_t = 20)]
    t_render: usize,
    /// A vertebra bundle (from `daecf export`) to demonstrate instead of the shipped one.
    #[arg(long, value_name = "FILE.daecf")]
    bundle: Option<PathBuf>,
    /// How far and along which path the CEs move (see `daecf explain --help`); default: the
    /// bundle's head's.
    #[command(flatten)]
    how: CeMoveArgs,
    /// Device.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
}

/// Runs `daecf demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let device = args.backend.device()?;
    // The bundle, its name in messages, and the page's opening words for it.
    let (bundle, name, described) = match &args.bundle {
        Some(path) => (Bundle::read(path)?, path.display().to_string(), format!("The {}", path.display())),
        None => {
            (Bundle::from_bytes(DEMO_BUNDLE)?, "the shipped demo bundle".to_string(), "The shipped demo".to_string())
        }
    };
    let model = bundle.model(&device)?;
    anyhow::ensure!(
        model.config.in_channels == 1,
        "{name} takes {}-channel images; the demo runs on grey vertebra phantoms (a 1-channel model)",
        model.config.in_channels
    );
    let heads = bundle.heads();
    let ce = CeArgs {
        task: None,
        grades: None,
        frames: 7,
        extent: None,
        steps: DdimArgs { t_encode: args.t_encode, t_render: args.t_render, batch: 16 },
        how: args.how,
    };
    let head = ce.head(&heads, &name)?;
    let how = ce.how.for_head(head);
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;

    // Held-out phantoms that no choice looked at: the test split of the report seed
    // (`--data phantom:vertebra:N:seed=2`), never seen in training or when choosing the CE settings.
    let config = VertebraConfig::new().with_size(model.config.image_size);
    let (set, truths) = vertebra::generate_set(&config, "test", args.eval.max(4), split_seed(REPORT_SEED, 2))?;
    let bar = crate::progress::bar(set.len() as u64, "grading", "images");
    let every: Vec<usize> = (0..set.len()).collect();
    let latents = semantic_latents(&model, &set, &every, 32, &device, &mut |n| bar.inc(n as u64))?;
    bar.finish();
    let labels: Vec<i64> = truths.iter().map(|t| t.grade as i64).collect();
    let latent_set = LatentSet {
        splits: vec![LatentSplit {
            name: "test".into(),
            latents,
            labels: Some(labels.clone()),
            labelled: None,
            ids: Some(set.ids.clone()),
            groups: None,
            x_t: None,
        }],
    };
    let plots = head_plots(&args.out, &latent_set, head)?;

    let n_ce = args.ce_images.min(set.len());
    let (bar, mut on_step) = crate::progress::ddim_steps("measuring CEs");
    let indices: Vec<usize> = (0..n_ce).collect();
    // The head is measured on every graded phantom, not only those with CEs.
    let graded = &latent_set.splits[0];
    let head_only = (graded.latents.slice(ndarray::s![n_ce.., ..]), &labels[n_ce..]);
    let moves = report_moves(how);
    let with = Explainer { model: &model, head, device: &device };
    let images = CeImages { set: &set, indices: &indices, head_only, oracle: Some(Oracle::Vertebra) };
    let results = evaluate(with, &images, ce.steps(), &moves, &mut on_step)?;
    bar.finish();
    let chosen = moves.len() - 1;
    let summary = &results[chosen].0;
    let evaluation = &summary.head;
    let swap_indices = &indices[..args.swap_images.min(n_ce)];
    let swap = if swap_indices.len() >= 2 {
        let (bar, mut on_step) = crate::progress::ddim_steps("swap test");
        let swap = swap_test(with, &CeImages { indices: swap_indices, ..images }, ce.steps(), &mut on_step)?;
        bar.finish();
        Some(swap)
    } else {
        None
    };
    write_report(&args.out.join("evaluate-ce"), &results, chosen, swap.as_ref())?;

    // One example per grade, the first of each in the set.
    let examples: Vec<usize> = (0..4u8).filter_map(|g| truths.iter().position(|t| t.grade == g)).collect();
    let (bar, mut on_step) = crate::progress::ddim_steps("drawing CEs");
    let explained = explain_images(with, &set, &examples, &ce, &args.out.join("examples"), &mut on_step)?;
    bar.finish();

    let mut page = Page::default();
    page.heading(1, "daecf demo: counterfactual explanations of a vertebral fracture grader");
    page.paragraph(&demo_page::introduction(&demo_page::Setting {
        described: &described,
        image_size: model.config.image_size,
        task: &head.task.name,
        phantoms: set.len(),
        steps: ce.steps(),
        how,
        seconds: started.elapsed().as_secs_f64(),
    }));
    page.heading(2, "The head on held-out phantoms");
    page.table(&[
        ("images".into(), evaluation.n.to_string()),
        ("ROC-AUC (fracture: G2/G3 vs G0)".into(), format!("{:.3}", evaluation.auc)),
        ("accuracy".into(), format!("{:.3}", evaluation.accuracy)),
        ("F1".into(), format!("{:.3}", evaluation.f1)),
    ]);
    let plot_items: Vec<(PathBuf, String)> =
        plots.iter().map(|f| (args.out.join(f), f.replace('_', " ").replace(".png", ""))).collect();
    page.figures(&plot_items.iter().map(|(p, c)| (p.as_path(), c.clone())).collect::<Vec<_>>())?;
    page.heading(2, format!("Counterfactuals measured on {n_ce} phantoms").as_str());
    if results.len() > 1 {
        page.paragraph(demo_page::MOVES);
        page.table(
            &results
                .iter()
                .map(|(s, _)| (format!("{}, strength {}", s.direction, s.strength), s.headline()))
                .collect::<Vec<_>>(),
        );
    }
    page.table(&summary.rows());
    page.heading(2, "Can these counterfactuals be trusted?");
    let checks = summary.trust_checks();
    let failed = checks.iter().filter(|c| !c.met()).count();
    page.paragraph(&demo_page::verdict(summary, failed));
    page.table(&TrustCheck::rows(&checks));
    if let Some(swap) = &swap {
        page.heading(2, "How much of a picture z_sem controls");
        page.paragraph(demo_page::SWAP);
        page.table(&swap.rows());
    }
    page.heading(2, "Examples: one phantom of each true grade");
    for ((report, _), &example) in explained.iter().zip(&examples) {
        let dir = args.out.join("examples").join(&report.image);
        let truth = truths[example];
        page.heading(
            3,
            &format!(
                "{}: true grade G{} ({}, height ratio {:.2}); distance {:+.2}, predicted grade {}",
                report.image,
                truth.grade,
                truth.form.name(),
                truth.height_ratio,
                report.distance,
                report.grade
            ),
        );
        let binary = &report.counterfactuals[0];
        let mut row: Vec<(PathBuf, String)> = vec![
            (dir.join("original.png"), "input".into()),
            (dir.join("reconstruction.png"), "reconstruction".into()),
            (
                dir.join("binary.png"),
                format!("binary CE (d = {:+.2}, re-encoded {:+.2})", binary.distance, binary.reencoded_distance),
            ),
            (dir.join("binary_difference.png"), "binary CE - reconstruction (red brighter, blue darker)".into()),
        ];
        for c in &report.counterfactuals[1..] {
            if let Some(f) = &c.file {
                row.push((dir.join(f), format!("{} (re-encoded grade {})", c.name, c.reencoded_grade)));
            }
        }
        row.push((dir.join("progression.png"), "progression across the boundary".into()));
        row.push((dir.join("progression.gif"), "progression (animated)".into()));
        page.figures(&row.iter().map(|(p, c)| (p.as_path(), c.clone())).collect::<Vec<_>>())?;
    }
    let index = args.out.join("index.html");
    page.write(&index, "daecf demo")?;
    println!(
        "head on {} held-out phantoms: AUC {:.3}; CEs on {n_ce}: binary validity {:.0} %, oracle direction {:.0} %, grade CE within one {:.0} %",
        evaluation.n,
        evaluation.auc,
        100.0 * summary.binary_validity,
        summary.oracle.as_ref().map_or(f64::NAN, |o| 100.0 * o.binary_direction),
        summary.oracle.as_ref().map_or(f64::NAN, |o| 100.0 * o.grade_within_one),
    );
    println!("trust checks met: {} of {}", checks.len() - failed, checks.len());
    println!("wrote {} in {:.0} s", index.display(), started.elapsed().as_secs_f64());
    Ok(())
}
