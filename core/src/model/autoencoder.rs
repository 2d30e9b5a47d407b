//! The Diffusion Autoencoder (Preechakul et al., CVPR 2022): a semantic encoder x0 -> z_sem
//! and a UNet eps(x_t, t, z_sem), trained jointly with the noise-prediction loss.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::config::DaeConfig;
use super::encoder::SemanticEncoder;
use super::unet::UNet;
use crate::diffusion::NoisePredictor;
use crate::error::Result;

/// A Diffusion Autoencoder: UNet and semantic encoder, with the config that built them.
#[derive(Module, Debug)]
pub struct DiffusionAutoencoder {
    /// The conditional noise predictor.
    pub unet: UNet,
    /// The semantic encoder.
    pub encoder: SemanticEncoder,
    /// The architecture (and input range) of this model.
    #[module(skip)]
    pub config: DaeConfig,
}

impl DiffusionAutoencoder {
    /// A freshly initialised model of `config` on `device` (seed the device first for
    /// reproducible weights).
    pub fn new(config: &DaeConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            unet: UNet::new(config, device),
            encoder: SemanticEncoder::new(config, device),
            config: config.clone(),
        })
    }

    /// The semantic latents z_sem [B, D] of images `x0` [B, C, H, W] in the model's range.
    pub fn encode(&self, x0: Tensor<4>) -> Tensor<2> {
        self.encoder.forward(x0)
    }

    /// The predicted noise in `x_t` at timesteps `t` [B] given latents `z` [B, D].
    pub fn predict_noise(&self, x_t: Tensor<4>, t: Tensor<1>, z: &Tensor<2>) -> Tensor<4> {
        self.unet.forward(x_t, t, z)
    }

    /// The UNet conditioned on latents `z` [B, D]: the noise predictor the samplers take.
    pub fn conditioned(&self, z: Tensor<2>) -> Conditioned<'_> {
        Conditioned { unet: &self.unet, z }
    }
}

/// The DAE's UNet with fixed semantic latents, as a [`NoisePredictor`].
#[derive(Debug)]
pub struct Conditioned<'a> {
    unet: &'a UNet,
    z: Tensor<2>,
}

impl NoisePredictor for Conditioned<'_> {
    fn predict_noise(&self, x_t: Tensor<4>, t: Tensor<1>) -> Tensor<4> {
        self.unet.forward(x_t, t, &self.z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// The parameter counts of the reference PyTorch model (fixtures/ARCHITECTURE.md).
    #[test]
    fn parameter_counts_match_the_reference() {
        let device = Device::flex();
        let tiny = DiffusionAutoencoder::new(&DaeConfig::preset(crate::model::Preset::Tiny32), &device).unwrap();
        assert_eq!(tiny.num_params(), 7_824_289);
        assert_eq!(tiny.encoder.num_params(), 1_258_528);
    }

    #[test]
    fn a_fresh_model_predicts_zero_noise() {
        let device = Device::flex();
        let model = DiffusionAutoencoder::new(&DaeConfig::preset(crate::model::Preset::Tiny32), &device).unwrap();
        let x = Tensor::<4>::ones([2, 1, 32, 32], &device) * 0.3;
        let z = model.encode(x.clone());
        assert_eq!(z.dims(), [2, 512]);
        let eps = model.predict_noise(x, Tensor::from_floats([3.0, 700.0], &device), &z);
        assert_eq!(eps.dims(), [2, 1, 32, 32]);
        assert_eq!(eps.abs().max().into_scalar::<f32>(), 0.0);
    }
}
