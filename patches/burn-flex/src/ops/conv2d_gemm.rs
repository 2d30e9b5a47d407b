//! conv2d and both of its backward passes lowered to GEMMs over per-image im2col matrices in
//! NCHW (Chellapilla, Puri and Simard, "High Performance Convolutional Neural Networks for
//! Document Processing", 2006: the lowering of Caffe and of PyTorch's CPU `slow_conv2d`).
//!
//! For image `b` and group `g`, `cols` is a `[K, P]` matrix: `K = C_in/groups * kh * kw` rows
//! ordered (channel, kernel row, kernel column), as a weight `[C_out, C_in/groups, kh, kw]` is
//! laid out, and `P = out_h * out_w` columns. Row `(c, i, j)` holds input plane `c` sampled at the
//! window offset `(i, j)` of each output position (zero where the window leaves the input).
//!
//! - forward: `y[b, g] = W[g] · cols`, written straight into the NCHW output;
//! - backward by data: `dcols = W[g]^T · dy[b, g]`, scattered back with col2im;
//! - backward by weight: `dW[g] += dy[b, g] · cols^T`, summed over the images;
//! - bias: the sum of `dy` over images and positions.
//!
//! A 1x1 convolution with stride 1 and no padding needs no `cols`: the image is the matrix.
//! With at least as many images as threads, images run in parallel with single-threaded GEMMs;
//! otherwise images run in turn and each large GEMM uses every thread.

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::ConvOptions;
use burn_std::{Bytes, Shape};
use num_traits::{One, Zero};

use crate::{FlexTensor, Layout};

/// The element types with GEMM kernels here (f16 and bf16 go through f32).
pub(crate) trait Scalar:
    bytemuck::Pod + burn_backend::Element + Zero + One + core::ops::AddAssign + Send + Sync + 'static
{
}
impl Scalar for f32 {}
impl Scalar for f64 {}

/// Sizes of one conv2d: input, weight, options and output.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    batch: usize,
    c_in: usize,
    h: usize,
    w: usize,
    c_out: usize,
    kh: usize,
    kw: usize,
    stride: [usize; 2],
    pad: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
    oh: usize,
    ow: usize,
}

impl Geometry {
    /// The geometry of input `x_shape` [B, C_in, H, W] and weight `w_shape` [C_out, C_in/groups, kh, kw].
    fn new(x_shape: &[usize], w_shape: &[usize], options: &ConvOptions<2>) -> Self {
        let out = |axis: usize, size: usize, kernel: usize| {
            let (begin, end) = options.padding[axis];
            (size + begin + end - options.dilation[axis] * (kernel - 1) - 1) / options.stride[axis] + 1
        };
        Self {
            batch: x_shape[0],
            c_in: x_shape[1],
            h: x_shape[2],
            w: x_shape[3],
            c_out: w_shape[0],
            kh: w_shape[2],
            kw: w_shape[3],
            stride: options.stride,
            pad: [options.padding[0].0, options.padding[1].0],
            dilation: options.dilation,
            groups: options.groups,
            oh: out(0, x_shape[2], w_shape[2]),
            ow: out(1, x_shape[3], w_shape[3]),
        }
    }

    /// Input channels of a group.
    fn group_in(&self) -> usize {
        self.c_in / self.groups
    }

    /// Output channels of a group.
    fn group_out(&self) -> usize {
        self.c_out / self.groups
    }

    /// Output positions of an image.
    fn positions(&self) -> usize {
        self.oh * self.ow
    }

    /// Rows of `cols`: the reduction length of a group's GEMM.
    fn reduction(&self) -> usize {
        self.group_in() * self.kh * self.kw
    }

    /// Elements of an input image.
    fn image(&self) -> usize {
        self.c_in * self.h * self.w
    }

    /// Whether the image itself is the `cols` matrix (1x1, stride 1, no padding).
    fn pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.stride == [1, 1]
            && self.pad == [0, 0]
            && self.oh == self.h
            && self.ow == self.w
    }

    /// Elements of a `cols` buffer (none when pointwise).
    fn cols_len(&self) -> usize {
        if self.pointwise() { 0 } else { self.reduction() * self.positions() }
    }

    /// The output positions `o` in `0..out` whose input index `o * stride + offset` lies in
    /// `0..size`.
    fn valid(out: usize, stride: usize, offset: isize, size: usize) -> (usize, usize) {
        let lo = if offset >= 0 { 0 } else { ((-offset) as usize).div_ceil(stride) };
        let room = size as isize - offset;
        let hi = if room <= 0 { 0 } else { out.min((room as usize).div_ceil(stride)) };
        (lo.min(hi), hi)
    }

    /// Calls `f(row, c, iy_row, (lo, hi), offset_x)` for each `cols` row and output row:
    /// `iy_row` is the input row index when inside the image.
    fn for_each_window_row(&self, mut f: impl FnMut(usize, usize, usize, Option<usize>, (usize, usize), isize)) {
        let [sh, sw] = self.stride;
        let [dh, dw] = self.dilation;
        let [ph, pw] = self.pad;
        for c in 0..self.group_in() {
            for i in 0..self.kh {
                for j in 0..self.kw {
                    let row = (c * self.kh + i) * self.kw + j;
                    let off_x = (j * dw) as isize - pw as isize;
                    let range = Self::valid(self.ow, sw, off_x, self.w);
                    for oy in 0..self.oh {
                        let iy = (oy * sh + i * dh) as isize - ph as isize;
                        let inside = (iy >= 0 && (iy as usize) < self.h).then_some(iy as usize);
                        f(row, c, oy, inside, range, off_x);
                    }
                }
            }
        }
    }

    /// Fills `cols` [K, P] from one group's input channels `x` [C_in/groups, H, W].
    fn im2col<T: Scalar>(&self, x: &[T], cols: &mut [T]) {
        let (p, ow, plane, sw) = (self.positions(), self.ow, self.h * self.w, self.stride[1]);
        self.for_each_window_row(|row, c, oy, iy, (lo, hi), off_x| {
            let out = &mut cols[row * p + oy * ow..][..ow];
            let Some(iy) = iy else {
                out.fill(T::zero());
                return;
            };
            let input = &x[c * plane + iy * self.w..][..self.w];
            out[..lo].fill(T::zero());
            out[hi..].fill(T::zero());
            if sw == 1 {
                let start = (lo as isize + off_x) as usize;
                out[lo..hi].copy_from_slice(&input[start..start + hi - lo]);
            } else {
                for (ox, value) in out.iter_mut().enumerate().take(hi).skip(lo) {
                    *value = input[(ox as isize * sw as isize + off_x) as usize];
                }
            }
        });
    }

    /// Adds `cols` [K, P] back onto one group's input gradient `dx` [C_in/groups, H, W].
    fn col2im<T: Scalar>(&self, cols: &[T], dx: &mut [T]) {
        let (p, ow, plane, sw) = (self.positions(), self.ow, self.h * self.w, self.stride[1]);
        self.for_each_window_row(|row, c, oy, iy, (lo, hi), off_x| {
            let Some(iy) = iy else { return };
            let grad = &cols[row * p + oy * ow..][..ow];
            let input = &mut dx[c * plane + iy * self.w..][..self.w];
            if sw == 1 {
                let start = (lo as isize + off_x) as usize;
                for (d, &g) in input[start..start + hi - lo].iter_mut().zip(&grad[lo..hi]) {
                    *d += g;
                }
            } else {
                for (ox, &g) in grad.iter().enumerate().take(hi).skip(lo) {
                    input[(ox as isize * sw as isize + off_x) as usize] += g;
                }
            }
        });
    }

    /// One group's `cols` matrix of image `x_b` [C_in, H, W]: the image's channels when
    /// pointwise, else `cols` filled by im2col.
    fn columns<'a, T: Scalar>(&self, x_b: &'a [T], group: usize, cols: &'a mut [T]) -> &'a [T] {
        let x_g = &x_b[group * self.group_in() * self.h * self.w..][..self.group_in() * self.h * self.w];
        if self.pointwise() {
            return x_g;
        }
        self.im2col(x_g, cols);
        cols
    }
}

/// A row-major matrix view for `gemm`: pointer, row stride and column stride.
struct Matrix<T> {
    ptr: *const T,
    row_stride: isize,
    col_stride: isize,
}

impl<T> Matrix<T> {
    /// `data` as a row-major matrix with `cols` columns.
    fn rows(data: &[T], cols: usize) -> Self {
        Self { ptr: data.as_ptr(), row_stride: cols as isize, col_stride: 1 }
    }

    /// The transpose of `data`, a row-major matrix with `cols` columns.
    fn transposed(data: &[T], cols: usize) -> Self {
        Self { ptr: data.as_ptr(), row_stride: 1, col_stride: cols as isize }
    }
}

/// `dst [m, n] (+)= lhs [m, k] · rhs [k, n]`; `dst` row-major with `n` columns; accumulates
/// when `accumulate`. All threads work on it when `parallel` and it is large enough.
#[allow(clippy::too_many_arguments)]
fn gemm<T: Scalar>(
    dst: &mut [T],
    lhs: Matrix<T>,
    rhs: Matrix<T>,
    m: usize,
    n: usize,
    k: usize,
    accumulate: bool,
    parallel: bool,
) {
    debug_assert!(dst.len() >= m * n);
    #[cfg(feature = "rayon")]
    let parallelism =
        if parallel && m * n * k >= 128 * 128 * 128 { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    #[cfg(not(feature = "rayon"))]
    let parallelism = {
        let _ = parallel;
        gemm::Parallelism::None
    };
    // SAFETY: the views cover m x k and k x n elements of live slices, `dst` holds m x n.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.ptr,
            lhs.col_stride,
            lhs.row_stride,
            rhs.ptr,
            rhs.col_stride,
            rhs.row_stride,
            T::one(),
            T::one(),
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Runs `f(image, out_chunk, cols, parallel_gemm)` for each image, `out` split into chunks of
/// `chunk` elements: images in parallel when there are at least as many as threads.
fn per_image<T: Scalar>(
    out: &mut [T],
    chunk: usize,
    g: &Geometry,
    f: impl Fn(usize, &mut [T], &mut [T], bool) + Sync + Send,
) {
    #[cfg(feature = "rayon")]
    if g.batch >= rayon::current_num_threads() && g.batch > 1 {
        use rayon::prelude::*;
        out.par_chunks_mut(chunk)
            .enumerate()
            .for_each_init(|| vec![T::zero(); g.cols_len()], |cols, (b, o)| f(b, o, cols, false));
        return;
    }
    let mut cols = vec![T::zero(); g.cols_len()];
    for (b, o) in out.chunks_mut(chunk).enumerate() {
        f(b, o, &mut cols, true);
    }
}

/// The output `[B, C_out, oh, ow]` of conv2d.
fn forward<T: Scalar>(x: &[T], weight: &[T], bias: Option<&[T]>, g: &Geometry) -> Vec<T> {
    let (p, k, m) = (g.positions(), g.reduction(), g.group_out());
    let mut y = vec![T::zero(); g.batch * g.c_out * p];
    per_image(&mut y, g.c_out * p, g, |b, y_b, cols, parallel| {
        let x_b = &x[b * g.image()..][..g.image()];
        for group in 0..g.groups {
            let rhs = g.columns(x_b, group, cols);
            let w_g = &weight[group * m * k..][..m * k];
            let y_g = &mut y_b[group * m * p..][..m * p];
            gemm(y_g, Matrix::rows(w_g, k), Matrix::rows(rhs, p), m, p, k, false, parallel);
        }
        if let Some(bias) = bias {
            for (row, &value) in y_b.chunks_mut(p).zip(bias) {
                row.iter_mut().for_each(|v| *v += value);
            }
        }
    });
    y
}

/// The gradient `[B, C_in, H, W]` of conv2d with respect to its input.
fn data_grad<T: Scalar>(weight: &[T], dy: &[T], g: &Geometry) -> Vec<T> {
    let (p, k, m) = (g.positions(), g.reduction(), g.group_out());
    let plane = g.h * g.w;
    let mut dx = vec![T::zero(); g.batch * g.image()];
    per_image(&mut dx, g.image(), g, |b, dx_b, dcols, parallel| {
        let dy_b = &dy[b * g.c_out * p..][..g.c_out * p];
        for group in 0..g.groups {
            let w_g = &weight[group * m * k..][..m * k];
            let dy_g = &dy_b[group * m * p..][..m * p];
            let dx_g = &mut dx_b[group * g.group_in() * plane..][..g.group_in() * plane];
            let lhs = Matrix::transposed(w_g, k);
            if g.pointwise() {
                gemm(dx_g, lhs, Matrix::rows(dy_g, p), k, p, m, false, parallel);
            } else {
                gemm(dcols, lhs, Matrix::rows(dy_g, p), k, p, m, false, parallel);
                g.col2im(dcols, dx_g);
            }
        }
    });
    dx
}

/// Adds image `b`'s weight gradient onto `dw` [C_out, K].
fn add_weight_grad<T: Scalar>(x: &[T], dy: &[T], g: &Geometry, b: usize, dw: &mut [T], cols: &mut [T], parallel: bool) {
    let (p, k, m) = (g.positions(), g.reduction(), g.group_out());
    let x_b = &x[b * g.image()..][..g.image()];
    let dy_b = &dy[b * g.c_out * p..][..g.c_out * p];
    for group in 0..g.groups {
        let rhs = g.columns(x_b, group, cols);
        let dy_g = &dy_b[group * m * p..][..m * p];
        let dw_g = &mut dw[group * m * k..][..m * k];
        gemm(dw_g, Matrix::rows(dy_g, p), Matrix::transposed(rhs, p), m, k, p, true, parallel);
    }
}

/// The gradient `[C_out, C_in/groups, kh, kw]` of conv2d with respect to its weight.
fn weight_grad<T: Scalar>(x: &[T], dy: &[T], g: &Geometry) -> Vec<T> {
    let len = g.c_out * g.reduction();
    #[cfg(feature = "rayon")]
    if g.batch >= rayon::current_num_threads() && g.batch > 1 {
        use rayon::prelude::*;
        return (0..g.batch)
            .into_par_iter()
            .fold(
                || (vec![T::zero(); len], vec![T::zero(); g.cols_len()]),
                |(mut dw, mut cols), b| {
                    add_weight_grad(x, dy, g, b, &mut dw, &mut cols, false);
                    (dw, cols)
                },
            )
            .map(|(dw, _)| dw)
            .reduce(
                || vec![T::zero(); len],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                    a
                },
            );
    }
    let (mut dw, mut cols) = (vec![T::zero(); len], vec![T::zero(); g.cols_len()]);
    for b in 0..g.batch {
        add_weight_grad(x, dy, g, b, &mut dw, &mut cols, true);
    }
    dw
}

/// The gradient `[C_out]` of conv2d with respect to its bias.
fn bias_grad<T: Scalar>(dy: &[T], batch: usize, c_out: usize) -> Vec<T> {
    let p = dy.len() / (batch * c_out).max(1);
    let mut db = vec![T::zero(); c_out];
    for image in dy.chunks(c_out * p) {
        for (sum, row) in db.iter_mut().zip(image.chunks(p)) {
            for &v in row {
                *sum += v;
            }
        }
    }
    db
}

/// A contiguous tensor of `data` with `shape` and `dtype`.
fn tensor<T: Scalar>(data: Vec<T>, shape: Vec<usize>, dtype: DType) -> FlexTensor {
    FlexTensor::new(Bytes::from_elems(data), Layout::contiguous(Shape::from(shape)), dtype)
}

/// conv2d of `x` [B, C_in, H, W] with `weight` [C_out, C_in/groups, kh, kw] (f32 or f64).
pub(crate) fn conv2d<T: Scalar>(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
    let g = Geometry::new(x.layout().shape(), weight.layout().shape(), options);
    let bias = bias.map(|b| b.to_contiguous());
    let y = forward::<T>(x.storage(), weight.storage(), bias.as_ref().map(|b| b.storage()), &g);
    tensor(y, vec![g.batch, g.c_out, g.oh, g.ow], x.dtype())
}

/// The gradient of conv2d with respect to `x` (whose shape it has).
pub(crate) fn conv2d_x_backward<T: Scalar>(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let (weight, dy) = (weight.to_contiguous(), output_grad.to_contiguous());
    let g = Geometry::new(x.layout().shape(), weight.layout().shape(), options);
    let dx = data_grad::<T>(weight.storage(), dy.storage(), &g);
    tensor(dx, vec![g.batch, g.c_in, g.h, g.w], x.dtype())
}

/// The gradient of conv2d with respect to `weight` (whose shape it has).
pub(crate) fn conv2d_weight_backward<T: Scalar>(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let (x, dy) = (x.to_contiguous(), output_grad.to_contiguous());
    let w_shape = weight.layout().shape().to_vec();
    let g = Geometry::new(x.layout().shape(), &w_shape, options);
    let dw = weight_grad::<T>(x.storage(), dy.storage(), &g);
    tensor(dw, w_shape, weight.dtype())
}

/// The gradient of conv2d with respect to its bias `[C_out]`.
pub(crate) fn conv2d_bias_backward<T: Scalar>(output_grad: FlexTensor, bias_dtype: DType) -> FlexTensor {
    let dy = output_grad.to_contiguous();
    let shape = dy.layout().shape();
    let (batch, c_out) = (shape[0], shape[1]);
    tensor(bias_grad::<T>(dy.storage(), batch, c_out), vec![c_out], bias_dtype)
}
