//! The model options shared by the commands that explain: a model file with a head file, or
//! one bundle holding both.

use std::path::PathBuf;

use burn::tensor::Device;
use daecf_core::latent::HeadFile;
use daecf_core::model::DiffusionAutoencoder;
use daecf_models::Bundle;

/// `--model` + `--head`, or `--bundle`.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// A daecf model file (model.safetensors from `daecf train`); with --head.
    #[arg(long, value_name = "FILE", required_unless_present = "bundle", requires = "head")]
    pub model: Option<PathBuf>,
    /// Head file from `daecf fit`; with --model.
    #[arg(long, value_name = "head.json", requires = "model")]
    pub head: Option<PathBuf>,
    /// A bundle from `daecf export` (model and heads in one file) instead of --model and --head.
    #[arg(long, value_name = "FILE.daecf", conflicts_with_all = ["model", "head"])]
    pub bundle: Option<PathBuf>,
}

impl ModelArgs {
    /// The model on `device`, its heads, and a name for messages.
    pub fn load(&self, device: &Device) -> anyhow::Result<(DiffusionAutoencoder, HeadFile, String)> {
        match (&self.bundle, &self.model, &self.head) {
            (Some(b), _, _) => {
                let bundle = Bundle::read(b)?;
                Ok((bundle.model(device)?, bundle.heads(), b.display().to_string()))
            }
            (None, Some(m), Some(h)) => {
                let model = DiffusionAutoencoder::load(m, device)?;
                let heads = HeadFile::load(h)?;
                let head_dim = heads.heads.first().map_or(0, |h| h.dim());
                anyhow::ensure!(
                    head_dim == model.config.latent_dim,
                    "{} takes {head_dim}-d latents but {} makes {}-d ones: fit the head on this model's latents",
                    h.display(),
                    m.display(),
                    model.config.latent_dim
                );
                Ok((model, heads, h.display().to_string()))
            }
            _ => anyhow::bail!("give --bundle FILE, or --model FILE with --head FILE"),
        }
    }
}
