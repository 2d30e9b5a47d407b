//! Group normalisation (Wu and He, "Group Normalization", ECCV 2018): each image's channels are
//! split into groups, and each group is normalised by its own mean and variance, then scaled
//! and shifted per channel. The reference DAE uses 32 groups (`nn.GroupNorm(32, C)`).
//!
//! The normalisation runs as Burn's `batch_norm_train` over `[1, B * groups, n]`, where each
//! (image, group) is a channel: one backend operation, differentiated as one, which a backend
//! can fuse (patches/burn-flex reads each group's values from memory once forward and once
//! backward). Burn's `nn::GroupNorm` composes the same from reductions and broadcast passes.
//! Blocks that scale and shift the normalised activations again (the conditioned residual
//! block) fold the per-channel affine into their own with [`GroupNorm::affine`].

use burn::module::{Module, Param};
use burn::tensor::module::batch_norm_train;
use burn::tensor::{DType, Device, FloatDType, Tensor};

use super::fused::scale_shift_silu;

/// A GroupNorm with per-channel scale `gamma` and shift `beta` (PyTorch's `weight`, `bias`).
#[derive(Module, Debug)]
pub struct GroupNorm {
    /// Per-channel scale, initialised to one.
    pub gamma: Param<Tensor<1>>,
    /// Per-channel shift, initialised to zero.
    pub beta: Param<Tensor<1>>,
    /// Groups the channels are split into.
    pub num_groups: usize,
    /// Added to the variance before its square root.
    pub epsilon: f64,
}

impl GroupNorm {
    /// A GroupNorm of `channels` in `num_groups` groups (PyTorch's epsilon, 1e-5).
    pub fn new(num_groups: usize, channels: usize, device: &Device) -> Self {
        Self {
            gamma: Param::from_tensor(Tensor::ones([channels], device)),
            beta: Param::from_tensor(Tensor::zeros([channels], device)),
            num_groups,
            epsilon: 1e-5,
        }
    }

    /// `x` [B, C, ...] normalised per image and group, without the per-channel affine. f16
    /// input is normalised in f32 (a group's sum of squares overflows f16), as Burn's
    /// `nn::GroupNorm` does.
    pub fn normalize<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let (shape, dtype) = (x.shape(), x.dtype());
        let rows = shape[0] * self.num_groups;
        let mut flat = x.reshape([1, rows, shape.num_elements() / rows.max(1)]);
        if dtype == DType::F16 {
            flat = flat.cast(FloatDType::F32);
        }
        let device = flat.device();
        let (ones, zeros) = (Tensor::ones([rows], &device), Tensor::zeros([rows], &device));
        let normalized = batch_norm_train(flat, ones, zeros, self.epsilon).output.reshape(shape);
        if dtype == DType::F16 { normalized.cast(FloatDType::F16) } else { normalized }
    }

    /// The GroupNorm of `x` [B, C, ...].
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let (scale, shift) = (per_channel(&self.gamma), per_channel(&self.beta));
        self.normalize(x) * scale + shift
    }

    /// `silu(forward(x))` of `x` [B, C, H, W], as one operation after the normalisation
    /// ([`scale_shift_silu`]).
    pub fn forward_silu(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, _, _] = x.dims();
        let (scale, shift) = (per_channel::<2>(&self.gamma), per_channel::<2>(&self.beta));
        scale_shift_silu(self.normalize(x), scale.expand([b, c]), shift.expand([b, c]))
    }

    /// `(scale, shift)` such that `forward(x) * a + b == normalize(x) * scale + shift` per image
    /// and channel, for `a` and `b` [B, C]: the affine folded into a following one, on the small
    /// tensors.
    pub fn affine(&self, a: Tensor<2>, b: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        (per_channel::<2>(&self.gamma) * a.clone(), per_channel::<2>(&self.beta) * a + b)
    }
}

/// `param` [C] as [1, C, 1, ...] of rank `D`.
fn per_channel<const D: usize>(param: &Param<Tensor<1>>) -> Tensor<D> {
    let mut dims = [1usize; D];
    dims[1] = param.dims()[0];
    param.val().reshape(dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::GroupNormConfig;
    use burn::tensor::{Distribution, Tolerance};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// A GroupNorm and Burn's with the same random gamma and beta.
    fn pair(groups: usize, channels: usize, device: &Device) -> (GroupNorm, burn::nn::GroupNorm) {
        let mut ours = GroupNorm::new(groups, channels, device);
        let mut burns = GroupNormConfig::new(groups, channels).init(device);
        let gamma = Tensor::<1>::random([channels], Distribution::Normal(1.0, 0.5), device);
        let beta = Tensor::<1>::random([channels], Distribution::Normal(0.0, 0.5), device);
        ours.gamma = Param::from_tensor(gamma.clone());
        ours.beta = Param::from_tensor(beta.clone());
        burns.gamma = Some(Param::from_tensor(gamma));
        burns.beta = Some(Param::from_tensor(beta));
        (ours, burns)
    }

    #[test]
    fn matches_burns_group_norm() {
        let device = Device::flex();
        for (batch, channels, groups, side) in [(2, 64, 32, 8), (1, 6, 3, 5), (3, 32, 32, 4)] {
            let (ours, burns) = pair(groups, channels, &device);
            let x = Tensor::<4>::random([batch, channels, side, side], Distribution::Normal(0.3, 2.0), &device);
            let expected = burns.forward(x.clone()).into_data();
            ours.forward(x.clone()).into_data().assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-4));
            let flat = x.reshape([batch, channels, side * side]);
            let expected = burns.forward(flat.clone()).into_data();
            ours.forward(flat).into_data().assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-4));
        }
    }

    #[cfg(feature = "train")]
    #[test]
    fn gradients_match_burns_group_norm() {
        let device = Device::flex().autodiff();
        let (ours, burns) = pair(8, 16, &device);
        let x = Tensor::<4>::random([3, 16, 6, 6], Distribution::Normal(0.5, 1.5), &device);
        let weights = Tensor::<4>::random([3, 16, 6, 6], Distribution::Normal(0.0, 1.0), &device);
        let (x_ours, x_burns) = (x.clone().detach().require_grad(), x.detach().require_grad());
        let grads_ours = (ours.forward(x_ours.clone()) * weights.clone()).sum().backward();
        let grads_burns = (burns.forward(x_burns.clone()) * weights).sum().backward();
        let tolerance = Tolerance::absolute(1e-4);
        let dx = x_burns.grad(&grads_burns).unwrap().into_data();
        x_ours.grad(&grads_ours).unwrap().into_data().assert_approx_eq::<f32>(&dx, tolerance);
        for (ours, burns) in [(&ours.gamma, burns.gamma.as_ref()), (&ours.beta, burns.beta.as_ref())] {
            let expected = burns.unwrap().grad(&grads_burns).unwrap().into_data();
            ours.grad(&grads_ours).unwrap().into_data().assert_approx_eq::<f32>(&expected, tolerance);
        }
    }

    #[test]
    fn an_f16_group_of_64k_values_is_normalised_in_f32() {
        let device = Device::flex();
        let norm = GroupNorm::new(4, 64, &device);
        let x = Tensor::<4>::full([1, 64, 64, 64], 0.5, (&device, DType::F16));
        let y = norm.normalize(x);
        assert_eq!(y.dtype(), DType::F16);
        assert_eq!(y.abs().max().into_scalar::<f32>(), 0.0);
    }

    #[test]
    fn affine_folds_into_a_following_scale_and_shift() {
        let device = Device::flex();
        let (norm, _) = pair(4, 8, &device);
        let x = Tensor::<4>::random([2, 8, 3, 3], Distribution::Normal(0.0, 1.0), &device);
        let a = Tensor::<2>::random([2, 8], Distribution::Normal(1.0, 1.0), &device);
        let b = Tensor::<2>::random([2, 8], Distribution::Normal(0.0, 1.0), &device);
        let per_plane = |t: Tensor<2>| t.unsqueeze_dims::<4>(&[2, 3]);
        let expected = (norm.forward(x.clone()) * per_plane(a.clone()) + per_plane(b.clone())).into_data();
        let (scale, shift) = norm.affine(a, b);
        let folded = norm.normalize(x) * per_plane(scale) + per_plane(shift);
        folded.into_data().assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-5));
    }

    #[test]
    fn forward_silu_is_silu_of_forward() {
        let device = Device::flex();
        let (norm, _) = pair(4, 8, &device);
        let x = Tensor::<4>::random([3, 8, 5, 5], Distribution::Normal(0.5, 2.0), &device);
        let expected = burn::tensor::activation::silu(norm.forward(x.clone())).into_data();
        norm.forward_silu(x).into_data().assert_approx_eq::<f32>(&expected, Tolerance::absolute(1e-5));
    }
}
