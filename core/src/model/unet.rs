//! The conditional denoising UNet of the Diffusion Autoencoder (BeatGANs UNet of Dhariwal &
//! Nichol, 2021, with diffae's "two cond" residual blocks): predicts the noise in `x_t` from
//! the timestep and the semantic latent `z_sem`.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};

use super::attention::AttentionBlock;
use super::config::DaeConfig;
use super::embedding::TimeEmbedding;
use super::layer::{Layer, run_block};
use super::norm::GroupNorm;
use super::resblock::{ResBlock, ResBlockSpec, Resample, conv3x3, group_norm};

/// The noise-predicting UNet.
#[derive(Module, Debug)]
pub struct UNet {
    /// Time MLP.
    pub time_embed: TimeEmbedding,
    /// Encoder side: stem, residual (+ attention) and down blocks; each output is a lateral.
    pub input_blocks: Vec<Vec<Layer>>,
    /// Residual, attention, residual at the lowest resolution.
    pub middle_block: Vec<Layer>,
    /// Decoder side: each block concatenates one lateral (last stored first).
    pub output_blocks: Vec<Vec<Layer>>,
    /// Head GroupNorm (reference `out.0`).
    pub out_norm: GroupNorm,
    /// Head convolution, zero-initialised (reference `out.2`).
    pub out_conv: Conv2d,
}

impl UNet {
    /// Builds the UNet of `config` with the reference's initialisation.
    pub fn new(config: &DaeConfig, device: &Device) -> Self {
        let mc = config.model_channels;
        let cond = Some((config.embed_channels, config.latent_dim, config.dropout));
        let res = |c_in, c_out, resample| {
            Layer::Res(ResBlock::new(ResBlockSpec { c_in, c_out, resample, conditioning: cond }, device))
        };
        let attn = |c| Layer::Attn(AttentionBlock::new(c, config.num_heads, device));
        let has_attn = |r: usize| config.attention_resolutions.contains(&r);

        let mut ch = config.channel_mult[0] * mc;
        let mut resolution = config.image_size;
        let mut input_blocks = vec![vec![Layer::Conv(conv3x3(config.in_channels, ch, false, device))]];
        let mut lateral_widths = vec![ch];
        let last = config.channel_mult.len() - 1;
        for (level, &mult) in config.channel_mult.iter().enumerate() {
            for _ in 0..config.num_res_blocks {
                let mut block = vec![res(ch, mult * mc, Resample::None)];
                ch = mult * mc;
                if has_attn(resolution) {
                    block.push(attn(ch));
                }
                input_blocks.push(block);
                lateral_widths.push(ch);
            }
            if level != last {
                input_blocks.push(vec![res(ch, ch, Resample::Down)]);
                lateral_widths.push(ch);
                resolution /= 2;
            }
        }

        let middle_block = vec![res(ch, ch, Resample::None), attn(ch), res(ch, ch, Resample::None)];

        let mut output_blocks = Vec::new();
        for (level, &mult) in config.channel_mult.iter().enumerate().rev() {
            for i in 0..=config.num_res_blocks {
                let lateral = lateral_widths.pop().expect("one lateral per output block");
                let mut block = vec![res(ch + lateral, mult * mc, Resample::None)];
                ch = mult * mc;
                if has_attn(resolution) {
                    block.push(attn(ch));
                }
                if level > 0 && i == config.num_res_blocks {
                    block.push(res(ch, ch, Resample::Up));
                    resolution *= 2;
                }
                output_blocks.push(block);
            }
        }

        Self {
            time_embed: TimeEmbedding::new(mc, config.embed_channels, device),
            input_blocks,
            middle_block,
            output_blocks,
            out_norm: group_norm(ch, device),
            out_conv: conv3x3(ch, config.out_channels, true, device),
        }
    }

    /// Predicts the noise in `x_t` [B, C, H, W] at timesteps `t` [B] (original indices, as
    /// float) given the semantic latent `z` [B, D].
    pub fn forward(&self, x_t: Tensor<4>, t: Tensor<1>, z: &Tensor<2>) -> Tensor<4> {
        let emb = self.time_embed.forward(t);
        let mut laterals = Vec::with_capacity(self.input_blocks.len());
        let mut h = x_t;
        for block in &self.input_blocks {
            h = run_block(block, h, Some((&emb, z)));
            laterals.push(h.clone());
        }
        h = run_block(&self.middle_block, h, Some((&emb, z)));
        for block in &self.output_blocks {
            let lateral = laterals.pop().expect("one lateral per output block");
            h = run_block(block, Tensor::cat(vec![h, lateral], 1), Some((&emb, z)));
        }
        self.out_conv.forward(self.out_norm.forward_silu(h))
    }
}
