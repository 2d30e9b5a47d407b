//! Reconstruction, the DAE's autoencoding (Preechakul et al., CVPR 2022, Sec. 3.2): the
//! semantic latent z_sem = Enc(x0), the stochastic code x_T from a deterministic DDIM run
//! backwards conditioned on z_sem, and the image rendered back from (x_T, z_sem).

use burn::tensor::Tensor;

use crate::Result;
use crate::diffusion::DdimSampler;
use crate::model::DiffusionAutoencoder;

/// The pieces of a reconstruction.
#[derive(Debug, Clone)]
pub struct Reconstruction {
    /// z_sem [B, latent_dim].
    pub z_sem: Tensor<2>,
    /// x_T [B, C, H, W].
    pub x_t: Tensor<4>,
    /// The rendered image [B, C, H, W], in the model's range.
    pub image: Tensor<4>,
}

/// Reconstructs `x0` [B, C, H, W] (in the model's input range) with `encode_steps` DDIM steps
/// backwards and `render_steps` forwards (the paper: 250 and 100).
pub fn reconstruct(
    model: &DiffusionAutoencoder,
    x0: Tensor<4>,
    encode_steps: usize,
    render_steps: usize,
) -> Result<Reconstruction> {
    let base = model.config.noise_schedule()?;
    let z_sem = model.encode(x0.clone());
    let cond = model.conditioned(z_sem.clone());
    let x_t = DdimSampler::new(&base, encode_steps)?.encode(&cond, x0);
    let image = DdimSampler::new(&base, render_steps)?.render(&cond, x_t.clone());
    Ok(Reconstruction { z_sem, x_t, image })
}
