//! `daecf export`: a trained model and its heads -> one bundle file (see daecf-models), the
//! form the browser app and `daecf demo` load; without heads, the model alone (at f16: how a
//! training run's EMA weights are carried from one machine to the next).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use daecf_core::latent::{CeDirection, HeadFile};
use daecf_core::model::{DaeConfig, Preset, read_checkpoint_config};
use daecf_models::{Bundle, Provenance};

use crate::files;
use crate::model_source::load_model;

/// Options of `daecf export`.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  daecf export --model runs/spine/model.safetensors --head runs/spine/fit/head.json \\
      --training-data 'SPIDER T2 sagittal, 64 px' --out spine.daecf
  daecf export --model runs/spine/checkpoint/ema.safetensors --f16 --out ema.f16.safetensors   # the model alone")]
pub struct ExportArgs {
    /// A daecf model file (model.safetensors from `daecf train`), or a bundle (its model: to give
    /// a bundle's model other heads or CE settings).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Head file from `daecf fit`. Without one, the model alone is written as a daecf model
    /// file (OUT named .safetensors), which `--f16` halves: e.g. a run's EMA weights to carry
    /// to another machine and continue with `daecf train --init`.
    #[arg(long, value_name = "head.json")]
    head: Option<PathBuf>,
    /// What the DAE was trained on (stored as provenance).
    #[arg(long, default_value = "", requires = "head")]
    training_data: String,
    /// Training steps (default: from the checkpoint/state.json next to the model, if any).
    #[arg(long, requires = "head")]
    steps: Option<u64>,
    /// The preset the model was built from, if any.
    #[arg(long, requires = "head", value_parser = crate::options::named::<Preset>())]
    preset: Option<Preset>,
    /// Store the weights as f16: half the download; they load as f32 (outputs change by f16
    /// rounding of the weights).
    #[arg(long)]
    f16: bool,
    /// CE strength stored with every head (1, the paper's, by default): the strength at which
    /// this model's rendered counterfactuals carry their move (`daecf evaluate-ce` reports it);
    /// explain, evaluate-ce, demo and the browser app then use it.
    #[arg(long, value_parser = crate::commands::explain::positive_strength, requires = "head")]
    ce_strength: Option<f32>,
    /// CE direction stored with every head (normal, the paper's, by default; see `daecf explain
    /// --help`): standardised and covariance need a head fitted with its training latents'
    /// directions (`daecf fit` stores them).
    #[arg(long, value_name = "DIRECTION", requires = "head", value_parser = crate::options::named::<CeDirection>())]
    ce_direction: Option<CeDirection>,
    /// Free-form notes (training command, hardware, ...).
    #[arg(long, default_value = "", requires = "head")]
    notes: String,
    /// The bundle to write (without --head: the model file, FILE.safetensors).
    #[arg(long, value_name = "FILE.daecf", default_value = "out/model.daecf")]
    out: PathBuf,
}

/// The step count in `checkpoint/state.json` next to a model written by `daecf train`.
fn steps_next_to(model: &std::path::Path) -> Option<u64> {
    let state = model.parent()?.join("checkpoint/state.json");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(state).ok()?).ok()?;
    json.get("step")?.as_u64()
}

/// The model's config and its weights as a model file's bytes: the file itself, or (at f16, or
/// from a bundle) the model loaded and written again.
fn model_bytes(args: &ExportArgs) -> anyhow::Result<(DaeConfig, Vec<u8>)> {
    let from_bundle = args.model.extension().is_some_and(|e| e == "daecf");
    if !args.f16 && !from_bundle {
        let bytes = std::fs::read(&args.model).with_context(|| format!("reading {}", args.model.display()))?;
        return Ok((read_checkpoint_config(&args.model)?, bytes));
    }
    let model = load_model(&args.model, &burn::tensor::Device::flex())?;
    let file = std::env::temp_dir().join(format!("daecf-export-{}.safetensors", std::process::id()));
    if args.f16 { model.save_f16(&file) } else { model.save(&file) }?;
    let bytes = std::fs::read(&file);
    std::fs::remove_file(&file).ok();
    Ok((model.config, bytes?))
}

/// Runs `daecf export`.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let Some(head) = &args.head else { return write_model_alone(&args) };
    let (config, weights) = model_bytes(&args)?;
    let mut heads = HeadFile::load(head)?;
    for h in &mut heads.heads {
        h.ce_strength = args.ce_strength.unwrap_or(h.ce_strength);
        h.ce_direction = args.ce_direction.unwrap_or(h.ce_direction);
        h.check().with_context(|| format!("--ce-direction {} for the heads of {}", h.ce_direction, head.display()))?;
    }
    let date = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
    let provenance = Provenance {
        training_data: args.training_data,
        steps: args.steps.or_else(|| steps_next_to(&args.model)),
        date,
        daecf_version: env!("CARGO_PKG_VERSION").into(),
        notes: args.notes,
    };
    let bundle = Bundle::new(config, args.preset, weights, args.f16, &heads, provenance)?;
    bundle.write(&args.out)?;
    let size = std::fs::metadata(&args.out)?.len();
    println!("wrote {} ({:.1} MB, {} head(s))", args.out.display(), size as f64 / 1e6, bundle.header.heads.len());
    Ok(())
}

/// `export` without `--head`: the model file alone, cast to f16 with `--f16`, else as it is.
fn write_model_alone(args: &ExportArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.out.extension().is_none_or(|e| e != "daecf"),
        "without --head the model alone is written, not a bundle: name --out FILE.safetensors, or give --head to make {}",
        args.out.display()
    );
    files::write(&args.out, model_bytes(args)?.1)?;
    let size = std::fs::metadata(&args.out)?.len();
    println!("wrote {} ({:.1} MB, the model alone: no heads)", args.out.display(), size as f64 / 1e6);
    Ok(())
}
