//! Spatial self-attention block of the BeatGANs UNet (Dhariwal & Nichol, 2021), with the
//! reference's "legacy" head layout: one 1x1 qkv projection whose channels are split per head
//! into [q | k | v], q and k each scaled by c^(-1/4), softmax over keys, residual output.

use super::fused::softmax_last;
use burn::module::Module;
use burn::nn::Initializer;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::tensor::{Device, Tensor};

use super::config::norm_groups;
use super::norm::GroupNorm;

/// Self-attention over the H x W positions of a feature map; ignores time and `z_sem`.
#[derive(Module, Debug)]
pub struct AttentionBlock {
    /// GroupNorm before the projection.
    pub norm: GroupNorm,
    /// 1x1 projection to q, k, v (3C channels).
    pub qkv: Conv1d,
    /// 1x1 output projection (zero-initialised in the reference).
    pub proj_out: Conv1d,
    /// Number of heads.
    pub heads: usize,
}

impl AttentionBlock {
    /// A new attention block over `channels` with `heads` heads.
    pub fn new(channels: usize, heads: usize, device: &Device) -> Self {
        Self {
            norm: GroupNorm::new(norm_groups(channels), channels, device),
            qkv: Conv1dConfig::new(channels, channels * 3, 1).init(device),
            proj_out: Conv1dConfig::new(channels, channels, 1).with_initializer(Initializer::Zeros).init(device),
            heads,
        }
    }

    /// Applies attention to `x` [B, C, H, W].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let n = h * w;
        let flat = x.reshape([b, c, n]);
        let qkv = self.qkv.forward(self.norm.forward(flat.clone()));
        let ch = c / self.heads;
        let qkv = qkv.reshape([b * self.heads, 3 * ch, n]);
        let scale = (ch as f64).powf(-0.25);
        let q = qkv.clone().narrow(1, 0, ch) * scale;
        let k = qkv.clone().narrow(1, ch, ch) * scale;
        let v = qkv.narrow(1, 2 * ch, ch);
        // weights[t, s] = sum_c q[c, t] k[c, s], softmax over s.
        let weights = softmax_last(q.swap_dims(1, 2).matmul(k));
        let a = v.matmul(weights.swap_dims(1, 2)).reshape([b, c, n]);
        (flat + self.proj_out.forward(a)).reshape([b, c, h, w])
    }
}
