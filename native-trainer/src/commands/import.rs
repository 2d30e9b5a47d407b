//! `daecf import`: a model trained with the reference PyTorch DAE (phizaz/diffae's
//! `BeatGANsAutoencModel`) -> a daecf model file, which every other command then takes.

use std::path::PathBuf;

use anyhow::Context;
use burn::tensor::Device;
use clap::Args;
use daecf_core::model::{DiffusionAutoencoder, ReferenceConfig};

/// Options of `daecf import`.
#[derive(Debug, Args)]
#[command(after_help = "Example (the PyTorch comparison run of scripts/pytorch_reference_train.py):
  daecf import --weights run/ema-3.safetensors --config run/config.json --out model.safetensors")]
pub struct ImportArgs {
    /// The reference weights: a PyTorch Lightning checkpoint (.ckpt/.pt/.pth, float32; its EMA
    /// copy is taken) or safetensors with the reference parameter names (an `ema_model.` prefix
    /// is accepted; float16 or float32).
    #[arg(long, value_name = "FILE")]
    weights: PathBuf,
    /// The reference `config.json`: BeatGANsAutoencConfig's options under `model` and `fixed`,
    /// the diffusion under `diffusion` (the layout of scripts/pytorch_reference_train.py).
    #[arg(long, value_name = "config.json")]
    config: PathBuf,
    /// Store the weights as f16 (half the file; they load as f32).
    #[arg(long)]
    f16: bool,
    /// The daecf model file to write.
    #[arg(long, value_name = "FILE", default_value = "out/model.safetensors")]
    out: PathBuf,
}

/// Runs `daecf import`.
pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.config).with_context(|| format!("reading {}", args.config.display()))?;
    let reference = ReferenceConfig::from_json(&text).with_context(|| format!("in {}", args.config.display()))?;
    let mut model = DiffusionAutoencoder::new(&reference.model, &Device::flex())?;
    model
        .load_reference(&args.weights)
        .with_context(|| format!("loading {} into the model of {}", args.weights.display(), args.config.display()))?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if args.f16 {
        model.save_f16(&args.out)?
    } else {
        model.save(&args.out)?
    }
    let c = &model.config;
    println!(
        "wrote {}: {} px, {} channel(s), width {}, mult {:?}, encoder {:?}, {} res block(s), z_sem {}-d",
        args.out.display(),
        c.image_size,
        c.in_channels,
        c.model_channels,
        c.channel_mult,
        c.enc_channel_mult,
        c.num_res_blocks,
        c.latent_dim
    );
    Ok(())
}
