//! The model options shared by the commands that explain: a model file with a head file, or
//! one bundle holding both.

use std::path::PathBuf;

use anyhow::Context;
use burn::tensor::Device;
use daecf_core::latent::HeadFile;
use daecf_core::model::DiffusionAutoencoder;
use daecf_models::Bundle;

/// `--model` + `--head`, or `--bundle` (with `--head`: the bundle's model with other heads).
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// A daecf model file (model.safetensors from `daecf train`); with --head.
    #[arg(long, value_name = "FILE", required_unless_present = "bundle", requires = "head")]
    pub model: Option<PathBuf>,
    /// Head file from `daecf fit`: with --model, or with --bundle in place of the bundle's heads
    /// (heads fitted on the latents of the bundle's model).
    #[arg(long, value_name = "head.json")]
    pub head: Option<PathBuf>,
    /// A bundle from `daecf export` (model and heads in one file) instead of --model and --head.
    #[arg(long, value_name = "FILE.daecf", conflicts_with = "model")]
    pub bundle: Option<PathBuf>,
}

/// The model of a daecf model file, or of a bundle (a `.daecf` file).
pub fn load_model(path: &std::path::Path, device: &Device) -> anyhow::Result<DiffusionAutoencoder> {
    if path.extension().is_some_and(|e| e == "daecf") {
        Ok(Bundle::read(path)?.model(device)?)
    } else {
        Ok(DiffusionAutoencoder::load(path, device)?)
    }
}

impl ModelArgs {
    /// The model on `device`, its heads, and a name for messages.
    pub fn load(&self, device: &Device) -> anyhow::Result<(DiffusionAutoencoder, HeadFile, String)> {
        let (model, model_name) = match (&self.bundle, &self.model) {
            (Some(b), _) => {
                let bundle = Bundle::read(b)?;
                if self.head.is_none() {
                    return Ok((bundle.model(device)?, bundle.heads(), b.display().to_string()));
                }
                (bundle.model(device)?, b)
            }
            (None, Some(m)) => (DiffusionAutoencoder::load(m, device)?, m),
            (None, None) => anyhow::bail!("give --bundle FILE, or --model FILE with --head FILE"),
        };
        let h = self.head.as_ref().context("--model needs --head FILE (a head file from `daecf fit`)")?;
        let heads = HeadFile::load(h)?;
        let head_dim = heads.heads.first().map_or(0, |h| h.dim());
        anyhow::ensure!(
            head_dim == model.config.latent_dim,
            "{} takes {head_dim}-d latents but {} makes {}-d ones: fit the head on this model's latents",
            h.display(),
            model_name.display(),
            model.config.latent_dim
        );
        Ok((model, heads, h.display().to_string()))
    }
}
