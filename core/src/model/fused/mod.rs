//! Operations of the DAE that daecf runs as one tensor operation each (a Burn backend extension
//! with its own backward), where Burn composes them from several:
//!
//! - `silu(x * scale + shift)` with one scale and one shift per image and channel: the activation
//!   after every GroupNorm (the norms' own affine, and the conditioned residual block's
//!   scale-shift of Preechakul et al., CVPR 2022, eq. 8). Composed, it is four passes over the
//!   activations forward and about ten backward (the product, the sum, SiLU's sigmoid and
//!   product, their gradients, and the sums that give the scale's and shift's gradients).
//! - The softmax over the last dim of the attention weights: Burn's backends have a softmax, but
//!   its gradient is composed from the exp, sum and division it is made of (about six passes).
//!
//! The CPU backend (flex) runs each in one pass each way; the other backends compose them from
//! Burn's operations.

// The extension names burn-ndarray, deprecated upstream and still one of daecf's CPU backends.
#![allow(deprecated)]

#[cfg(feature = "train")]
mod autodiff;
mod composed;
#[cfg(feature = "flex")]
mod flex;

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, TensorMetadata, backend_extension};
use burn::tensor::Tensor;

/// The backends' form of the operations. Flex has its own kernels; the others compose them.
#[backend_extension(
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Cube: cfg(any(feature = "wgpu", feature = "cuda")),
    LibTorch: cfg(feature = "tch"),
    Autodiff: cfg(feature = "train")
)]
pub trait FusedBackend: Backend {
    /// `silu(x * scale + shift)` of `x` [B, C, ...] with `scale` and `shift` [B, C].
    fn scale_shift_silu(x: FloatTensor<Self>, scale: FloatTensor<Self>, shift: FloatTensor<Self>) -> FloatTensor<Self> {
        composed::forward::<Self>(x, scale, shift)
    }

    /// The gradients of [`scale_shift_silu`](Self::scale_shift_silu) with respect to `x`,
    /// `scale` and `shift`, given the gradient `grad` of its output.
    fn scale_shift_silu_backward(
        x: FloatTensor<Self>,
        scale: FloatTensor<Self>,
        shift: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        composed::backward::<Self>(x, scale, shift, grad)
    }

    /// The softmax of `x` over its last dim.
    fn softmax_last(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let dim = x.shape().num_dims() - 1;
        Self::softmax(x, dim)
    }

    /// The gradient of [`softmax_last`](Self::softmax_last) with respect to its input, given its
    /// output `s` and the output's gradient `grad`: `s * (grad - sum(grad * s))` per row.
    fn softmax_last_backward(s: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        composed::softmax_last_backward::<Self>(s, grad)
    }
}

#[cfg(feature = "ndarray")]
impl FusedBackend for burn::backend::NdArray {}

#[cfg(any(feature = "wgpu", feature = "cuda"))]
impl FusedBackend for burn::backend::Cube {}

#[cfg(feature = "tch")]
impl FusedBackend for burn::backend::LibTorch {}

/// `silu(x * scale + shift)` of `x` [B, C, H, W], with `scale` and `shift` [B, C]: one scale
/// and one shift per image and channel.
///
/// # Panics
/// When `scale` or `shift` is not [B, C] for `x`'s B and C (a bug of the calling model).
pub fn scale_shift_silu(x: Tensor<4>, scale: Tensor<2>, shift: Tensor<2>) -> Tensor<4> {
    let [b, c, _, _] = x.dims();
    assert!(
        scale.dims() == [b, c] && shift.dims() == [b, c],
        "scale_shift_silu: scale {:?} and shift {:?} must be [{b}, {c}] for x {:?}",
        scale.dims(),
        shift.dims(),
        x.dims()
    );
    let out =
        <Dispatch as FusedBackend>::scale_shift_silu(x.into_dispatch(), scale.into_dispatch(), shift.into_dispatch());
    Tensor::from_dispatch(out)
}

/// The softmax of `x` over its last dim (the attention weights' keys).
pub fn softmax_last<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as FusedBackend>::softmax_last(x.into_dispatch()))
}

#[cfg(test)]
mod tests;
