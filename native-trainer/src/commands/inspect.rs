//! `daecf inspect`: what a bundle holds — model, image format, heads, provenance — after
//! validating it (checksum included).

use std::path::PathBuf;

use clap::Args;
use daecf_models::Bundle;

/// Options of `daecf inspect`.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  daecf inspect shared-models/demo/demo.daecf")]
pub struct InspectArgs {
    /// The bundle.
    #[arg(value_name = "FILE.daecf")]
    bundle: PathBuf,
    /// Print the whole header as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `daecf inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let bundle = Bundle::read(&args.bundle)?;
    let h = &bundle.header;
    if args.json {
        println!("{}", serde_json::to_string_pretty(h)?);
        return Ok(());
    }
    let m = &h.model;
    println!("{}: valid daecf bundle (checksum verified)", args.bundle.display());
    println!(
        "  model: {} px, {} channel(s), width {}, mult {:?}, encoder {:?}, z_sem {}-d, input range {:?}{}",
        m.image_size,
        m.in_channels,
        m.model_channels,
        m.channel_mult,
        m.enc_channel_mult,
        m.latent_dim,
        m.input_range,
        h.preset.as_ref().map_or(String::new(), |p| format!(", preset {p}"))
    );
    println!(
        "  weights: {:.1} MB ({} safetensors)",
        h.weights_bytes as f64 / 1e6,
        if h.half_precision { "f16" } else { "f32" }
    );
    for head in &h.heads {
        let (lo, hi) = head.calibration.grade_range;
        println!(
            "  head '{}': {:?}, C = {}, grades {lo}..{hi} ({:?} calibration){}{}{}",
            head.task.name,
            head.classifier,
            head.c,
            head.calibration.kind,
            if head.standardizer.is_some() { ", standardised latents" } else { "" },
            if head.ce_strength == 1.0 { String::new() } else { format!(", CE strength {}", head.ce_strength) },
            match &head.directions {
                Some(_) => format!(", CE direction {} (fitted: normal, standardised, covariance)", head.ce_direction),
                None => ", CE direction normal (the only one fitted)".into(),
            }
        );
    }
    let p = &h.provenance;
    println!(
        "  trained on: {}{}",
        if p.training_data.is_empty() { "(not stated)" } else { &p.training_data },
        p.steps.map_or(String::new(), |s| format!(", {s} steps"))
    );
    println!("  written {} by daecf {}", p.date, p.daecf_version);
    if !p.notes.is_empty() {
        println!("  notes: {}", p.notes);
    }
    Ok(())
}
