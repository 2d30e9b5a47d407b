//! Timestep embedding: the sinusoidal code of the diffusion step and the MLP that widens it
//! (Ho et al., 2020; the "BeatGANs" UNet of Dhariwal & Nichol, 2021, as used by diffae).

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::silu;
use burn::tensor::{Device, Tensor};

/// Sinusoidal embedding of timesteps `t` (the original step index 0..T-1, as float) into
/// `dim` channels: `[cos(t f_0) .. cos(t f_{h-1}), sin(t f_0) .. sin(t f_{h-1})]` with
/// `f_i = exp(-ln(10000) i / h)`, `h = dim / 2` — cosines first, as the reference.
pub fn timestep_embedding(t: Tensor<1>, dim: usize) -> Tensor<2> {
    let half = dim / 2;
    let device = t.device();
    let freqs: Vec<f32> = (0..half).map(|i| (-(10000f32.ln()) * i as f32 / half as f32).exp()).collect();
    let freqs = Tensor::<1>::from_floats(freqs.as_slice(), &device).unsqueeze::<2>();
    let args = t.unsqueeze_dim::<2>(1) * freqs;
    let emb = Tensor::cat(vec![args.clone().cos(), args.sin()], 1);
    if dim % 2 == 1 {
        let n = emb.dims()[0];
        Tensor::cat(vec![emb, Tensor::zeros([n, 1], &device)], 1)
    } else {
        emb
    }
}

/// The time MLP: Linear(model_channels -> E), SiLU, Linear(E -> E).
#[derive(Module, Debug)]
pub struct TimeEmbedding {
    /// First projection (reference name `time_embed.time_embed.0`).
    pub linear_in: Linear,
    /// Second projection (reference name `time_embed.time_embed.2`).
    pub linear_out: Linear,
    /// Width of the sinusoidal code.
    pub sinusoid_dim: usize,
}

impl TimeEmbedding {
    /// A new time MLP from a `sinusoid_dim`-wide code to `embed_channels`.
    pub fn new(sinusoid_dim: usize, embed_channels: usize, device: &Device) -> Self {
        Self {
            linear_in: LinearConfig::new(sinusoid_dim, embed_channels).init(device),
            linear_out: LinearConfig::new(embed_channels, embed_channels).init(device),
            sinusoid_dim,
        }
    }

    /// Embeds timesteps `t` [B] into [B, E] (computed in t's precision, then in the weights').
    pub fn forward(&self, t: Tensor<1>) -> Tensor<2> {
        let code = timestep_embedding(t, self.sinusoid_dim).cast(self.linear_in.weight.val().dtype());
        self.linear_out.forward(silu(self.linear_in.forward(code)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn embedding_is_cos_then_sin() {
        let device = Device::flex();
        let t = Tensor::<1>::from_floats([0.0, 3.0], &device);
        let e: Vec<f32> = timestep_embedding(t, 4).into_data().try_to_vec().unwrap();
        // t = 0: cos = 1, sin = 0.
        assert_eq!(&e[..4], &[1.0, 1.0, 0.0, 0.0]);
        // t = 3, frequencies 1 and 0.01.
        let want = [3f32.cos(), 0.03f32.cos(), 3f32.sin(), 0.03f32.sin()];
        for (a, b) in e[4..].iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }
}
