//! The residual block of the BeatGANs UNet with diffae's "two cond" conditioning
//! (Preechakul et al., CVPR 2022, eq. 8): after the output GroupNorm,
//! `h * (1 + s_t) + b_t` from the time embedding, then `h * (1 + s_z)` from `z_sem`.
//! The semantic encoder uses the same block without conditioning and with one convolution.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::silu;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Device, Distribution, Tensor};

use super::config::norm_groups;
use super::fused::scale_shift_silu;
use super::norm::GroupNorm;

/// Resolution change inside a residual block (the reference's `resblock_updown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resample {
    /// Same resolution.
    None,
    /// 2x2 average pooling.
    Down,
    /// Nearest-neighbour x2.
    Up,
}

impl Resample {
    /// Applies the resampling to `x` [B, C, H, W].
    pub fn apply(self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::None => x,
            Self::Down => avg_pool2d(x, AvgPoolOptions::new([2, 2])),
            Self::Up => {
                let [b, c, h, w] = x.dims();
                x.reshape([b, c, h, 1, w, 1]).repeat_dim(3, 2).repeat_dim(5, 2).reshape([b, c, 2 * h, 2 * w])
            }
        }
    }
}

/// The conditioned half of a UNet residual block: projections of the time embedding and of
/// `z_sem`, and the second norm and convolution.
#[derive(Module, Debug)]
pub struct Conditioning {
    /// Time embedding to scale and shift (reference `emb_layers.1`).
    pub emb_linear: Linear,
    /// `z_sem` to scale (reference `cond_emb_layers.1`).
    pub cond_linear: Linear,
    /// Output GroupNorm (reference `out_layers.0`).
    pub out_norm: GroupNorm,
    /// Output convolution, zero-initialised (reference `out_layers.3`).
    pub out_conv: Conv2d,
    /// Dropout before the output convolution.
    pub dropout: Dropout,
}

/// A residual block: `skip(x) + f(x)`; conditioned on time and `z_sem` in the UNet, plain in
/// the semantic encoder.
#[derive(Module, Debug)]
pub struct ResBlock {
    /// Input GroupNorm (reference `in_layers.0`).
    pub in_norm: GroupNorm,
    /// Input convolution (reference `in_layers.2`).
    pub in_conv: Conv2d,
    /// The conditioned second half; absent in the encoder.
    pub cond: Option<Conditioning>,
    /// 1x1 convolution on the skip path when the width changes.
    pub skip: Option<Conv2d>,
    /// Resolution change of this block.
    #[module(skip)]
    pub resample: Resample,
}

/// Builds the blocks' convolutions: 3x3 with padding 1, or 1x1.
fn conv(c_in: usize, c_out: usize, kernel: usize, zero: bool, device: &Device) -> Conv2d {
    let pad = kernel / 2;
    let cfg =
        Conv2dConfig::new([c_in, c_out], [kernel, kernel]).with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad));
    let cfg = if zero { cfg.with_initializer(Initializer::Zeros) } else { cfg };
    cfg.init(device)
}

/// A 3x3 convolution with padding 1 (the stem and head convolutions of UNet and encoder).
pub fn conv3x3(c_in: usize, c_out: usize, zero: bool, device: &Device) -> Conv2d {
    conv(c_in, c_out, 3, zero, device)
}

/// A 1x1 convolution.
pub fn conv1x1(c_in: usize, c_out: usize, device: &Device) -> Conv2d {
    conv(c_in, c_out, 1, false, device)
}

/// A GroupNorm with the reference's group count.
pub fn group_norm(channels: usize, device: &Device) -> GroupNorm {
    GroupNorm::new(norm_groups(channels), channels, device)
}

/// `layer`'s dropout of `x`, as Burn's `Dropout::forward` (the same draws), with the 1 / keep
/// scale on the mask rather than on the product: the mask is not differentiated, so backward
/// takes one pass over the activations instead of two.
fn dropout(layer: &Dropout, x: Tensor<4>) -> Tensor<4> {
    if !layer.training.is_enabled() || !x.device().is_autodiff() || layer.prob == 0.0 {
        return x;
    }
    let keep = 1.0 - layer.prob;
    let mask = x.random_like(Distribution::Bernoulli(keep)) * (1.0 / keep);
    x * mask
}

/// Options of a residual block.
#[derive(Debug, Clone, Copy)]
pub struct ResBlockSpec {
    /// Input width (including a concatenated lateral).
    pub c_in: usize,
    /// Output width.
    pub c_out: usize,
    /// Resolution change.
    pub resample: Resample,
    /// `Some((embed_channels, latent_dim, dropout))` for a conditioned UNet block.
    pub conditioning: Option<(usize, usize, f64)>,
}

impl ResBlock {
    /// Builds a block from its spec.
    pub fn new(spec: ResBlockSpec, device: &Device) -> Self {
        let ResBlockSpec { c_in, c_out, resample, conditioning } = spec;
        let cond = conditioning.map(|(embed, latent, dropout)| Conditioning {
            emb_linear: LinearConfig::new(embed, 2 * c_out).init(device),
            cond_linear: LinearConfig::new(latent, c_out).init(device),
            out_norm: group_norm(c_out, device),
            out_conv: conv3x3(c_out, c_out, true, device),
            dropout: DropoutConfig::new(dropout).init(),
        });
        Self {
            in_norm: group_norm(c_in, device),
            in_conv: conv3x3(c_in, c_out, false, device),
            cond,
            skip: (c_in != c_out).then(|| conv1x1(c_in, c_out, device)),
            resample,
        }
    }

    /// Applies the block to `x` [B, C_in, H, W]. `cond` = (time embedding [B, E], `z_sem`
    /// [B, D]) is required by a conditioned block and ignored by a plain one.
    pub fn forward(&self, x: Tensor<4>, cond: Option<(&Tensor<2>, &Tensor<2>)>) -> Tensor<4> {
        let h = self.in_norm.forward_silu(x.clone());
        let h = self.in_conv.forward(self.resample.apply(h));
        let x = self.resample.apply(x);
        let h = match &self.cond {
            Some(c) => {
                let (emb, z) = cond.expect("a conditioned residual block needs (emb, z_sem)");
                let t = c.emb_linear.forward(silu(emb.clone()));
                let ch = t.dims()[1] / 2;
                let (scale, shift) = (t.clone().narrow(1, 0, ch), t.narrow(1, ch, ch));
                let z_scale = c.cond_linear.forward(silu(z.clone())) + 1.0;
                // (norm(h) * (1 + s_t) + b_t) * (1 + s_z), with the norm's own affine, as one
                // scale and one shift of the normalised h, multiplied out on the [B, C] vectors.
                let (scale, shift) = c.out_norm.affine((scale + 1.0) * z_scale.clone(), shift * z_scale);
                let h = scale_shift_silu(c.out_norm.normalize(h), scale, shift);
                c.out_conv.forward(dropout(&c.dropout, h))
            }
            None => h,
        };
        match &self.skip {
            Some(skip) => skip.forward(x) + h,
            None => x + h,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[cfg(feature = "train")]
    #[test]
    fn dropout_draws_and_differentiates_as_burns() {
        use burn::tensor::Tolerance;
        let device = Device::flex().autodiff();
        let layer = DropoutConfig::new(0.3).init();
        let x = Tensor::<4>::random([2, 4, 8, 8], Distribution::Normal(0.0, 1.0), &device);
        let run = |f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
            device.seed(5);
            let leaf = x.clone().require_grad();
            let out = f(leaf.clone());
            let grads = (out.clone() * out.clone()).sum().backward();
            (out.into_data(), leaf.grad(&grads).unwrap().into_data())
        };
        let (ours, ours_grad) = run(&|x| dropout(&layer, x));
        let (burns, burns_grad) = run(&|x| layer.forward(x));
        ours.assert_approx_eq::<f32>(&burns, Tolerance::rel_abs(1e-6, 1e-6));
        ours_grad.assert_approx_eq::<f32>(&burns_grad, Tolerance::rel_abs(1e-6, 1e-6));
        let zeros = ours.try_to_vec::<f32>().unwrap().iter().filter(|v| **v == 0.0).count();
        assert!((100..220).contains(&zeros), "{zeros} of 512 dropped at p = 0.3");
    }

    #[test]
    fn dropout_is_the_identity_without_autodiff() {
        let device = Device::flex();
        let x = Tensor::<4>::random([1, 2, 3, 3], Distribution::Normal(0.0, 1.0), &device);
        let out = dropout(&DropoutConfig::new(0.5).init(), x.clone());
        out.into_data().assert_eq(&x.into_data(), true);
    }
}
