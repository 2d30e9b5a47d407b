//! The operations composed from Burn's backend operations: what every backend without a kernel
//! of its own runs, and the reference the kernels are tested against.

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata};
use burn::tensor::Shape;

/// `v` [B, C] as [B, C, 1, ...] of `x`'s rank, to broadcast over `x`'s planes.
fn per_plane<B: Backend>(v: FloatTensor<B>, rank: usize) -> FloatTensor<B> {
    let mut dims = v.shape().to_vec();
    dims.resize(rank, 1);
    B::float_reshape(v, Shape::from(dims))
}

/// The sum of each [B, C] plane of `t` [B, C, ...], as [B, C].
fn plane_sums<B: Backend>(t: FloatTensor<B>) -> FloatTensor<B> {
    let shape = t.shape();
    let (b, c) = (shape[0], shape[1]);
    let planes = B::float_reshape(t, Shape::from([b, c, shape.num_elements() / (b * c).max(1)]));
    B::float_reshape(B::float_sum_dim(planes, 2), Shape::from([b, c]))
}

/// `x * scale + shift`, with `scale` and `shift` [B, C] broadcast over `x`'s planes.
fn scaled<B: Backend>(x: FloatTensor<B>, scale: FloatTensor<B>, shift: FloatTensor<B>) -> FloatTensor<B> {
    let rank = x.shape().num_dims();
    B::float_add(B::float_mul(x, per_plane::<B>(scale, rank)), per_plane::<B>(shift, rank))
}

/// `silu(x * scale + shift)` from Burn's operations.
pub(super) fn forward<B: Backend>(x: FloatTensor<B>, scale: FloatTensor<B>, shift: FloatTensor<B>) -> FloatTensor<B> {
    let y = scaled::<B>(x, scale, shift);
    B::float_mul(y.clone(), B::sigmoid(y))
}

/// The gradients of [`forward`] with respect to `x`, `scale` and `shift`: with
/// `y = x * scale + shift` and `s = sigmoid(y)`, `silu'(y) = s * (1 + y * (1 - s))`.
pub(super) fn backward<B: Backend>(
    x: FloatTensor<B>,
    scale: FloatTensor<B>,
    shift: FloatTensor<B>,
    grad: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let rank = x.shape().num_dims();
    let y = scaled::<B>(x.clone(), scale.clone(), shift);
    let s = B::sigmoid(y.clone());
    let one_minus_s = B::float_add_scalar(B::float_neg(s.clone()), 1.0.into());
    let slope = B::float_mul(s, B::float_add_scalar(B::float_mul(y, one_minus_s), 1.0.into()));
    let grad_y = B::float_mul(grad, slope);
    let grad_x = B::float_mul(grad_y.clone(), per_plane::<B>(scale, rank));
    let grad_scale = plane_sums::<B>(B::float_mul(grad_y.clone(), x));
    (grad_x, grad_scale, plane_sums::<B>(grad_y))
}

/// The gradient of the softmax over the last dim, given its output `s`: `s * (grad - sum(grad * s))`.
pub(super) fn softmax_last_backward<B: Backend>(s: FloatTensor<B>, grad: FloatTensor<B>) -> FloatTensor<B> {
    let dim = s.shape().num_dims() - 1;
    let dot = B::float_sum_dim(B::float_mul(grad.clone(), s.clone()), dim);
    B::float_mul(s, B::float_sub(grad, dot))
}
