//! Batch normalisation with the batch's own statistics (Ioffe and Szegedy, ICML 2015), forward
//! and backward, each as one pass over the data per channel.
//!
//! Burn's generic `batch_norm_train` and `batch_norm_train_backward` are built from tensor
//! operations: a swap of the batch and channel axes, reductions and broadcast element-wise
//! passes, each over the whole tensor. Here a channel's values (`batch` runs of `S` elements
//! in `[batch, channels, S]`) are read from memory once and revisited in cache: the forward pass
//! computes the mean, the biased variance and the output; the backward pass the sums of `dy` and
//! `dy * x_hat`, then `dx`. Channels run in parallel. A group norm is this over
//! `[1, batch * groups, S]`, which is how daecf normalises its UNet.

use alloc::vec;
use alloc::vec::Vec;
use burn_std::{Bytes, Shape};

use num_traits::Float;

use crate::{FlexTensor, Layout};

/// The element types computed here (f16 and bf16 go through f32).
pub(crate) trait Scalar: Float + Into<f64> + bytemuck::Pod + burn_backend::Element + Send + Sync {}
impl Scalar for f32 {}
impl Scalar for f64 {}

/// `v` (an f64) as `T`.
fn cast<T: Scalar>(v: f64) -> T {
    T::from(v).unwrap_or_else(T::nan)
}

/// Sizes of `[batch, channels, S]`.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    batch: usize,
    channels: usize,
    spatial: usize,
}

impl Geometry {
    fn of(shape: &[usize]) -> Self {
        let spatial = shape[2..].iter().product();
        Self { batch: shape[0], channels: shape[1], spatial }
    }

    /// The values of channel `c`: `batch` runs of `spatial` elements.
    fn runs<'a, T>(&self, data: &'a [T], c: usize) -> impl Iterator<Item = &'a [T]> + 'a {
        let (s, stride) = (self.spatial, self.channels * self.spatial);
        (0..self.batch).map(move |n| &data[n * stride + c * s..][..s])
    }

    /// Values per channel.
    fn count(&self) -> f64 {
        (self.batch * self.spatial) as f64
    }
}

/// Lanes of the partial sums below: independent accumulators that the compiler keeps in
/// vector registers.
const LANES: usize = 16;

/// `(Σ f(a_i, b_i).0, Σ f(a_i, b_i).1)` over two equal-length runs, in `LANES` partial sums.
fn sum_pairs<T: Scalar>(a: &[T], b: &[T], f: impl Fn(T, T) -> (T, T)) -> (f64, f64) {
    let (mut s0, mut s1) = ([T::zero(); LANES], [T::zero(); LANES]);
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            let (p, q) = f(x[i], y[i]);
            s0[i] = s0[i] + p;
            s1[i] = s1[i] + q;
        }
    }
    let (mut t0, mut t1) = (0.0f64, 0.0f64);
    for (&x, &y) in ra.iter().zip(rb) {
        let (p, q) = f(x, y);
        t0 += p.into();
        t1 += q.into();
    }
    let total = |s: [T; LANES]| s.iter().map(|&v| v.into()).sum::<f64>();
    (t0 + total(s0), t1 + total(s1))
}

/// Mean and biased variance of a channel (two passes, the second over cached data).
fn moments<T: Scalar>(g: &Geometry, x: &[T], c: usize) -> (T, T) {
    let sum: f64 = g.runs(x, c).map(|r| sum_pairs(r, r, |v, _| (v, T::zero())).0).sum();
    let m: T = cast(sum / g.count());
    let sq: f64 = g.runs(x, c).map(|r| sum_pairs(r, r, |v, _| ((v - m) * (v - m), T::zero())).0).sum();
    (m, cast(sq / g.count()))
}

/// Runs `f(c)` for every channel, in parallel when the data is large; collects the results.
fn per_channel<R: Send>(g: &Geometry, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    #[cfg(feature = "rayon")]
    if g.count() as usize * g.channels >= 1 << 15 && g.channels > 1 {
        use rayon::prelude::*;
        return (0..g.channels).into_par_iter().map(f).collect();
    }
    (0..g.channels).map(f).collect()
}

/// The sum of each channel of `x` `[batch, channels, ...]` (`shape`), in parallel when large:
/// the gradient of a per-channel bias, such as a convolution's.
pub(crate) fn channel_sums<T: Scalar>(x: &[T], shape: &[usize]) -> Vec<T> {
    let g = Geometry::of(shape);
    per_channel(&g, |c| cast(g.runs(x, c).map(|r| sum_pairs(r, r, |v, _| (v, T::zero())).0).sum()))
}

/// A writable view of a `[batch, channels, S]` buffer shared across channel tasks, each task
/// writing only its own channel's runs.
#[derive(Clone, Copy)]
struct Output<T>(*mut T);
// SAFETY: every task writes a disjoint set of elements (its channel's runs).
unsafe impl<T> Send for Output<T> {}
unsafe impl<T> Sync for Output<T> {}

impl<T> Output<T> {
    /// Channel `c`'s run of image `n`.
    ///
    /// # Safety
    /// `(n, c)` is in range of the buffer and no other live slice covers it.
    #[allow(clippy::mut_from_ref)]
    unsafe fn run(&self, g: &Geometry, n: usize, c: usize) -> &mut [T] {
        let start = (n * g.channels + c) * g.spatial;
        unsafe { core::slice::from_raw_parts_mut(self.0.add(start), g.spatial) }
    }
}

/// `(output, mean, variance)` of batch norm of `x` [N, C, ...] with `gamma`, `beta` [C].
fn forward<T: Scalar>(x: &[T], gamma: &[T], beta: &[T], g: &Geometry, epsilon: f64) -> (Vec<T>, Vec<T>, Vec<T>) {
    let mut out = vec![T::zero(); x.len()];
    let view = Output(out.as_mut_ptr());
    let stats = per_channel(g, |c| {
        let (mean, var) = moments(g, x, c);
        let scale = gamma[c] * cast::<T>(1.0 / (var.into() + epsilon).sqrt());
        for (n, run) in g.runs(x, c).enumerate() {
            // SAFETY: channel c's runs belong to this task alone.
            let dst = unsafe { view.run(g, n, c) };
            dst.iter_mut().zip(run).for_each(|(d, &v)| *d = (v - mean) * scale + beta[c]);
        }
        (mean, var)
    });
    let (mean, var) = stats.into_iter().unzip();
    (out, mean, var)
}

/// `(dx, dgamma, dbeta)` of batch norm given `dy`.
fn backward<T: Scalar>(
    x: &[T],
    gamma: &[T],
    mean: &[T],
    var: &[T],
    dy: &[T],
    g: &Geometry,
    epsilon: f64,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let mut dx = vec![T::zero(); x.len()];
    let view = Output(dx.as_mut_ptr());
    let sums = per_channel(g, |c| {
        let inv_std_f64 = 1.0 / (var[c].into() + epsilon).sqrt();
        let (m, inv_std) = (mean[c], cast::<T>(inv_std_f64));
        let (mut sum_dy, mut sum_dy_xc) = (0.0f64, 0.0f64);
        for (xr, dr) in g.runs(x, c).zip(g.runs(dy, c)) {
            let (a, b) = sum_pairs(xr, dr, |v, d| (d, d * (v - m)));
            sum_dy += a;
            sum_dy_xc += b;
        }
        let dgamma = sum_dy_xc * inv_std_f64;
        let mean_dy: T = cast(sum_dy / g.count());
        let mean_dy_xhat: T = cast(dgamma / g.count());
        let scale = gamma[c] * inv_std;
        for (n, (xr, dr)) in g.runs(x, c).zip(g.runs(dy, c)).enumerate() {
            // SAFETY: channel c's runs belong to this task alone.
            let dst = unsafe { view.run(g, n, c) };
            for ((o, &v), &d) in dst.iter_mut().zip(xr).zip(dr) {
                let x_hat = (v - m) * inv_std;
                *o = scale * (d - mean_dy - x_hat * mean_dy_xhat);
            }
        }
        (cast::<T>(dgamma), cast::<T>(sum_dy))
    });
    let (dgamma, dbeta) = sums.into_iter().unzip();
    (dx, dgamma, dbeta)
}

/// A contiguous tensor of `data`.
fn tensor<T: Scalar>(data: Vec<T>, shape: Shape) -> FlexTensor {
    FlexTensor::new(Bytes::from_elems(data), Layout::contiguous(shape), T::dtype())
}

/// Batch norm of `x` [N, C, ...] (f32 or f64) with its own statistics: `(output, mean, variance)`.
pub(crate) fn batch_norm_train<T: Scalar>(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    epsilon: f64,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let (x, gamma, beta) = (x.to_contiguous(), gamma.to_contiguous(), beta.to_contiguous());
    let shape = x.layout().shape().clone();
    let g = Geometry::of(&shape);
    let (out, mean, var) = forward::<T>(x.storage(), gamma.storage(), beta.storage(), &g, epsilon);
    let channels = Shape::from(vec![g.channels]);
    (tensor(out, shape), tensor(mean, channels.clone()), tensor(var, channels))
}

/// Gradients `(dx, dgamma, dbeta)` of [`batch_norm_train`] given the output gradient `dy`.
pub(crate) fn batch_norm_train_backward<T: Scalar>(
    x: FlexTensor,
    gamma: FlexTensor,
    mean: FlexTensor,
    variance: FlexTensor,
    epsilon: f64,
    dy: FlexTensor,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let (x, gamma, dy) = (x.to_contiguous(), gamma.to_contiguous(), dy.to_contiguous());
    let (mean, variance) = (mean.to_contiguous(), variance.to_contiguous());
    let shape = x.layout().shape().clone();
    let g = Geometry::of(&shape);
    let (dx, dgamma, dbeta) =
        backward::<T>(x.storage(), gamma.storage(), mean.storage(), variance.storage(), dy.storage(), &g, epsilon);
    let channels = Shape::from(vec![g.channels]);
    (tensor(dx, shape), tensor(dgamma, channels.clone()), tensor(dbeta, channels))
}
