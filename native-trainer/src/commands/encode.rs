//! `daecf encode`: a trained model and images -> a latents file (z_sem per image with its
//! label and id, per split, optionally the stochastic code x_T) in the layout `daecf fit` reads.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use daecf_core::data::{ImageSpec, LatentSet, LatentSplit};
use daecf_core::diffusion::DdimSampler;
use ndarray::{Array2, Array4};

use crate::backend::Backend;
use crate::data_source::{DataArgs, batch_tensor};
use crate::preview::tensor_values;

/// Options of `daecf encode`.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  daecf encode --model out/train/model.safetensors --data retinamnist_128.npz --out latents.npz")]
pub struct EncodeArgs {
    /// A daecf model file (model.safetensors from `daecf train`), or a bundle (its model).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// The latents file to write.
    #[arg(long, value_name = "FILE.npz", default_value = "out/latents.npz")]
    out: PathBuf,
    /// Images per forward pass.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Also write each image's stochastic code x_T (<split>_xT), by DDIM encoding with this
    /// many steps (the paper: 250); slow: one UNet pass per step.
    #[arg(long, value_name = "STEPS")]
    x_t: Option<usize>,
    /// Device.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
}

/// Runs `daecf encode`.
pub fn run(args: EncodeArgs) -> anyhow::Result<()> {
    let device = args.backend.device()?;
    let model = crate::model_source::load_model(&args.model, &device)?;
    let config = &model.config;
    let sets = args.data.read(ImageSpec { size: config.image_size, channels: config.in_channels })?;
    let total: usize = sets.iter().map(|s| s.len()).sum();
    let sampler = args.x_t.map(|steps| DdimSampler::new(&model.config.noise_schedule()?, steps)).transpose()?;
    let bar = crate::progress::bar(total as u64, "encoding", "images");
    let mut splits = Vec::new();
    for set in &sets {
        let mut latents = Vec::with_capacity(set.len() * config.latent_dim);
        let mut codes = Vec::new();
        for chunk in (0..set.len()).collect::<Vec<_>>().chunks(args.batch.max(1)) {
            let x = batch_tensor(set, chunk, config.input_range, &device);
            let z = model.encode(x.clone());
            if let Some(sampler) = &sampler {
                let x_t = sampler.encode(&model.conditioned(z.clone()), x);
                codes.extend(tensor_values(x_t)?);
            }
            latents.extend(tensor_values(z)?);
            bar.inc(chunk.len() as u64);
        }
        let (_, c, h, w) = set.images.dim();
        let x_t = sampler.is_some().then(|| Array4::from_shape_vec((set.len(), c, h, w), codes)).transpose()?;
        let name = if set.name == "images" { "train".to_string() } else { set.name.clone() };
        let latents = Array2::from_shape_vec((set.len(), config.latent_dim), latents)?;
        let split = LatentSplit {
            x_t,
            groups: set.groups.clone(),
            ..LatentSplit::new(name, latents, &set.labels, Some(set.ids.clone()))
        };
        if let Some(mask) = &split.labelled {
            let n = mask.iter().filter(|&&b| b).count();
            eprintln!("split '{}': {n} of {} images labelled (<split>_labelled marks them)", split.name, mask.len());
        }
        splits.push(split);
    }
    bar.finish();
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    LatentSet { splits }.write(&args.out)?;
    eprintln!("wrote {} ({total} latents)", args.out.display());
    Ok(())
}
