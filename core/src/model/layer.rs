//! One layer of a UNet or encoder block. The reference builds each block as a sequence of
//! such layers (`input_blocks.k.j`); daecf keeps that structure so parameter paths match.

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;

use super::attention::AttentionBlock;
use super::resblock::ResBlock;

/// A layer of a block: the stem convolution, a residual block or an attention block.
// Burn's modules hold their parameters inline; a block's few layers are built once, so the
// variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Layer {
    /// A plain convolution (the stem, `input_blocks.0.0`).
    Conv(Conv2d),
    /// A residual block (conditioned in the UNet, plain in the encoder).
    Res(ResBlock),
    /// Self-attention.
    Attn(AttentionBlock),
}

/// Runs a block's layers in order; the conditioning (time embedding, `z_sem`) reaches the
/// residual blocks of the UNet and is `None` in the encoder.
pub fn run_block(block: &[Layer], mut h: Tensor<4>, cond: Option<(&Tensor<2>, &Tensor<2>)>) -> Tensor<4> {
    for layer in block {
        h = match layer {
            Layer::Conv(c) => c.forward(h),
            Layer::Res(r) => r.forward(h, cond),
            Layer::Attn(a) => a.forward(h),
        };
    }
    h
}
