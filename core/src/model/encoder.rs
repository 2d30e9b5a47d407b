//! The semantic encoder of the Diffusion Autoencoder (Preechakul et al., CVPR 2022): a
//! "half UNet" of unconditioned residual blocks ending in GroupNorm, SiLU, global average
//! pooling and a 1x1 projection to `z_sem` (the reference's 'adaptivenonzero' pooling).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};

use super::attention::AttentionBlock;
use super::config::DaeConfig;
use super::layer::{Layer, run_block};
use super::norm::GroupNorm;
use super::resblock::{ResBlock, ResBlockSpec, Resample, conv1x1, conv3x3, group_norm};

/// Maps an image to its semantic latent `z_sem`.
#[derive(Module, Debug)]
pub struct SemanticEncoder {
    /// Stem, residual (+ attention) and down blocks.
    pub input_blocks: Vec<Vec<Layer>>,
    /// Residual, attention, residual at the lowest resolution.
    pub middle_block: Vec<Layer>,
    /// Final GroupNorm (reference `out.0`).
    pub out_norm: GroupNorm,
    /// 1x1 projection to the latent (reference `out.3`).
    pub out_conv: Conv2d,
}

impl SemanticEncoder {
    /// Builds the encoder of `config` with the reference's initialisation.
    pub fn new(config: &DaeConfig, device: &Device) -> Self {
        let mc = config.model_channels;
        let res = |c_in, c_out, resample| {
            Layer::Res(ResBlock::new(ResBlockSpec { c_in, c_out, resample, conditioning: None }, device))
        };
        let attn = |c| Layer::Attn(AttentionBlock::new(c, config.num_heads, device));
        let attention = config.encoder_attention();

        let mut ch = config.enc_channel_mult[0] * mc;
        let mut resolution = config.image_size;
        let mut input_blocks = vec![vec![Layer::Conv(conv3x3(config.in_channels, ch, false, device))]];
        let last = config.enc_channel_mult.len() - 1;
        for (level, &mult) in config.enc_channel_mult.iter().enumerate() {
            for _ in 0..config.enc_num_res_blocks {
                let mut block = vec![res(ch, mult * mc, Resample::None)];
                ch = mult * mc;
                if attention.contains(&resolution) {
                    block.push(attn(ch));
                }
                input_blocks.push(block);
            }
            if level != last {
                input_blocks.push(vec![res(ch, ch, Resample::Down)]);
                resolution /= 2;
            }
        }
        Self {
            input_blocks,
            middle_block: vec![res(ch, ch, Resample::None), attn(ch), res(ch, ch, Resample::None)],
            out_norm: group_norm(ch, device),
            out_conv: conv1x1(ch, config.latent_dim, device),
        }
    }

    /// Encodes images `x` [B, C, H, W] (in the model's input range) to `z_sem` [B, D].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut h = x;
        for block in &self.input_blocks {
            h = run_block(block, h, None);
        }
        h = run_block(&self.middle_block, h, None);
        let h = self.out_norm.forward_silu(h);
        let [b, c, height, width] = h.dims();
        let pooled = h.reshape([b, c, height * width]).mean_dim(2).reshape([b, c, 1, 1]);
        let latent_dim = self.out_conv.weight.dims()[0];
        self.out_conv.forward(pooled).reshape([b, latent_dim])
    }
}
