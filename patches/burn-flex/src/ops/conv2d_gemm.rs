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
//! - backward by weight: `dW[g]^T += cols · dy[b, g]^T`, summed over the images;
//! - bias: the sum of `dy` over images and positions.
//!
//! Images are taken in blocks of at least 1024 output positions (one image at 32x32 and above,
//! 16 at 8x8), so that the GEMMs of small images are wide: a block's `cols` is `[K, images * P]`.
//! A 1x1 convolution with stride 1 and no padding of one image needs no `cols`: the image is
//! the matrix. With at least as many blocks as threads, blocks run in parallel with
//! single-threaded GEMMs; otherwise blocks run in turn, with the im2col, col2im and GEMMs of a
//! block of at least 2^25 multiply-adds on every thread. Each thread keeps its scratch buffers
//! between calls.

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::ConvOptions;
use burn_std::{Bytes, Shape};

use crate::{FlexTensor, Layout};

/// The element types with GEMM kernels here (f16 and bf16 go through f32).
pub(crate) trait Scalar: super::batch_norm::Scalar + core::ops::AddAssign + 'static {}
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

    /// Whether an image is its own `cols` matrix (1x1, stride 1, no padding).
    fn pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.stride == [1, 1]
            && self.pad == [0, 0]
            && self.oh == self.h
            && self.ow == self.w
    }

    /// Images per block: enough for `MIN_COLUMNS` output positions, at most the batch.
    fn block_images(&self) -> usize {
        MIN_COLUMNS.div_ceil(self.positions().max(1)).clamp(1, self.batch.max(1))
    }

    /// Whether the inner work of a block of `images` (im2col, col2im, its GEMMs) is large
    /// enough to run on every thread.
    fn inner_parallel(&self, images: usize) -> bool {
        self.c_out * images * self.positions() * self.reduction() >= MIN_PARALLEL_MACS
    }

    /// Elements of a block's `cols` (none for one pointwise image).
    fn cols_len(&self, block: Block) -> usize {
        match block.images {
            1 if self.pointwise() => 0,
            images => self.reduction() * images * self.positions(),
        }
    }

    /// Elements of a block's gathered `[C_out/groups, images * P]` matrix (none for one image).
    fn gather_len(&self, block: Block) -> usize {
        if block.images > 1 { self.group_out() * block.images * self.positions() } else { 0 }
    }

    /// The output positions `o` in `0..out` whose input index `o * stride + offset` lies in
    /// `0..size`.
    fn valid(out: usize, stride: usize, offset: isize, size: usize) -> (usize, usize) {
        let lo = if offset >= 0 { 0 } else { ((-offset) as usize).div_ceil(stride) };
        let room = size as isize - offset;
        let hi = if room <= 0 { 0 } else { out.min((room as usize).div_ceil(stride)) };
        (lo.min(hi), hi)
    }

    /// Calls `f(row, oy, iy, (lo, hi), offset_x)` for each of a channel's `kh * kw` rows of
    /// `cols` and each output row `oy`: `iy` is the input row when inside the image, `lo..hi`
    /// the output columns whose input column `ox * stride + offset_x` is inside it.
    fn channel_rows(&self, mut f: impl FnMut(usize, usize, Option<usize>, (usize, usize), isize)) {
        let [sh, sw] = self.stride;
        let [dh, dw] = self.dilation;
        let [ph, pw] = self.pad;
        for i in 0..self.kh {
            for j in 0..self.kw {
                let off_x = (j * dw) as isize - pw as isize;
                let range = Self::valid(self.ow, sw, off_x, self.w);
                for oy in 0..self.oh {
                    let iy = (oy * sh + i * dh) as isize - ph as isize;
                    let inside = (iy >= 0 && (iy as usize) < self.h).then_some(iy as usize);
                    f(i * self.kw + j, oy, inside, range, off_x);
                }
            }
        }
    }

    /// Writes one input plane `x` [H, W] into its channel's rows of `cols` (row stride `ld`),
    /// at columns `col0..col0 + P`.
    fn im2col_channel<T: Scalar>(&self, x: &[T], cols: &mut [T], ld: usize, col0: usize) {
        let (ow, sw) = (self.ow, self.stride[1]);
        self.channel_rows(|row, oy, iy, (lo, hi), off_x| {
            let out = &mut cols[row * ld + col0 + oy * ow..][..ow];
            let Some(iy) = iy else {
                out.fill(T::zero());
                return;
            };
            let input = &x[iy * self.w..][..self.w];
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

    /// Adds a channel's rows of `cols` (row stride `ld`, columns `col0..col0 + P`) onto its
    /// input gradient plane `dx` [H, W].
    fn col2im_channel<T: Scalar>(&self, cols: &[T], dx: &mut [T], ld: usize, col0: usize) {
        let (ow, sw) = (self.ow, self.stride[1]);
        self.channel_rows(|row, oy, iy, (lo, hi), off_x| {
            let Some(iy) = iy else { return };
            let grad = &cols[row * ld + col0 + oy * ow..][..ow];
            let input = &mut dx[iy * self.w..][..self.w];
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

    /// Fills `cols` [K, images * P] from one group's channels of the block's images `x`.
    fn im2col<T: Scalar>(&self, x: &[T], group: usize, images: usize, cols: &mut [T], parallel: bool) {
        let (plane, kk, p) = (self.h * self.w, self.kh * self.kw, self.positions());
        let ld = images * p;
        for_chunks(&mut cols[..self.reduction() * ld], kk * ld, parallel, |c, chunk| {
            for i in 0..images {
                let channel = &x[i * self.image() + (group * self.group_in() + c) * plane..][..plane];
                self.im2col_channel(channel, chunk, ld, i * p);
            }
        });
    }

    /// Adds `cols` [K, images * P] onto one group's channels of the block's input gradients `dx`,
    /// a plane at a time (all planes of the group in parallel when `parallel`).
    fn col2im<T: Scalar>(&self, cols: &[T], group: usize, images: usize, dx: &mut [T], parallel: bool) {
        let (plane, kk, ld) = (self.h * self.w, self.kh * self.kw, images * self.positions());
        let channels = group * self.group_in()..(group + 1) * self.group_in();
        for_chunks(&mut dx[..images * self.image()], plane, parallel, |index, dx_c| {
            let (image, channel) = (index / self.c_in, index % self.c_in);
            if channels.contains(&channel) {
                let row = (channel - channels.start) * kk * ld;
                self.col2im_channel(&cols[row..], dx_c, ld, image * self.positions());
            }
        });
    }
}

/// Output positions a block of images gives each GEMM at least (when the batch has them).
const MIN_COLUMNS: usize = 1024;

/// Multiply-adds of a block below which its work stays on the calling thread: waking the pool
/// costs more than it saves. On 2 AVX-512 cores (gemm with im2col, one image) a 3x3 convolution
/// of 32 channels at 32x32 (9.4M) took 0.20 ms on one thread and 0.30 ms on both; one of 128
/// channels at 32x32 (151M) 2.5 and 1.6 ms.
const MIN_PARALLEL_MACS: usize = 1 << 25;

/// Runs `f(index, chunk)` on each `chunk`-element piece of `data`, in parallel when asked.
fn for_chunks<T: Send>(data: &mut [T], chunk: usize, parallel: bool, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    if chunk == 0 || data.is_empty() {
        return;
    }
    let _ = parallel;
    #[cfg(feature = "rayon")]
    if parallel {
        use rayon::prelude::*;
        data.par_chunks_mut(chunk).enumerate().for_each(|(i, c)| f(i, c));
        return;
    }
    data.chunks_mut(chunk).enumerate().for_each(|(i, c)| f(i, c));
}

#[cfg(feature = "std")]
std::thread_local! {
    /// Each thread's scratch memory, kept between calls.
    static SCRATCH: core::cell::Cell<Vec<u64>> = const { core::cell::Cell::new(Vec::new()) };
}

/// A thread's scratch memory, taken for one block and given back on drop (so that large
/// buffers are not allocated, zeroed and faulted in on every call). Its contents are arbitrary.
struct Scratch {
    words: Vec<u64>,
}

impl Scratch {
    /// The calling thread's scratch memory.
    fn take() -> Self {
        #[cfg(feature = "std")]
        let words = SCRATCH.with(|s| s.take());
        #[cfg(not(feature = "std"))]
        let words = Vec::new();
        Self { words }
    }

    /// Two buffers of `a` and `b` elements.
    fn buffers<T: Scalar>(&mut self, a: usize, b: usize) -> (&mut [T], &mut [T]) {
        let words = ((a + b) * core::mem::size_of::<T>()).div_ceil(8);
        if self.words.len() < words {
            self.words.resize(words, 0);
        }
        let all: &mut [T] = bytemuck::cast_slice_mut(&mut self.words[..words]);
        let (first, rest) = all.split_at_mut(a);
        (first, &mut rest[..b])
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        #[cfg(feature = "std")]
        SCRATCH.with(|s| {
            let kept = s.take();
            s.set(if kept.len() >= self.words.len() { kept } else { core::mem::take(&mut self.words) });
        });
    }
}

/// Images `first..first + images` of the batch.
#[derive(Debug, Clone, Copy)]
struct Block {
    first: usize,
    images: usize,
}

/// Copies `rows` rows of `p` elements per image from NCHW `src` (`stride` elements between
/// images) into `dst` [rows, images * p], a row at a time (in parallel when `parallel`).
fn gather<T: Scalar>(src: &[T], stride: usize, images: usize, rows: usize, p: usize, dst: &mut [T], parallel: bool) {
    for_chunks(&mut dst[..rows * images * p], images * p, parallel, |r, row| {
        for (i, out) in row.chunks_exact_mut(p).enumerate() {
            out.copy_from_slice(&src[i * stride + r * p..][..p]);
        }
    });
}

/// Copies `src` [rows, images * p] into the planes `first..first + rows` of each image of NCHW
/// `dst` (`channels` planes of `p` elements an image), a plane at a time (in parallel when
/// `parallel`).
#[allow(clippy::too_many_arguments)]
fn scatter<T: Scalar>(
    src: &[T],
    images: usize,
    first: usize,
    rows: usize,
    channels: usize,
    p: usize,
    dst: &mut [T],
    parallel: bool,
) {
    for_chunks(&mut dst[..images * channels * p], p, parallel, |index, out| {
        let (i, c) = (index / channels, index % channels);
        if (first..first + rows).contains(&c) {
            out.copy_from_slice(&src[(c - first) * images * p + i * p..][..p]);
        }
    });
}

/// A row-major matrix view for `gemm`: pointer, row stride and column stride.
#[derive(Clone, Copy)]
struct Matrix<T> {
    ptr: *const T,
    row_stride: isize,
    col_stride: isize,
}

impl<T> Matrix<T> {
    /// `data` as a row-major matrix whose rows are `stride` elements apart.
    fn rows(data: &[T], stride: usize) -> Self {
        Self { ptr: data.as_ptr(), row_stride: stride as isize, col_stride: 1 }
    }

    /// The transpose of `data`, a row-major matrix with `cols` columns.
    fn transposed(data: &[T], cols: usize) -> Self {
        Self { ptr: data.as_ptr(), row_stride: 1, col_stride: cols as isize }
    }
}

/// `dst [m, n] (+)= lhs [m, k] · rhs [k, n]`; `dst` row-major with rows `ld` elements apart;
/// accumulates when `accumulate`. All threads work on it when `parallel` and it is large enough.
#[allow(clippy::too_many_arguments)]
fn gemm<T: Scalar>(
    dst: &mut [T],
    ld: usize,
    lhs: Matrix<T>,
    rhs: Matrix<T>,
    m: usize,
    n: usize,
    k: usize,
    accumulate: bool,
    parallel: bool,
) {
    assert!(m == 0 || n == 0 || dst.len() >= (m - 1) * ld + n);
    #[cfg(feature = "rayon")]
    let parallelism =
        if parallel && m * n * k >= 128 * 128 * 128 { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    #[cfg(not(feature = "rayon"))]
    let parallelism = {
        let _ = parallel;
        gemm::Parallelism::None
    };
    // SAFETY: the views cover m x k and k x n elements of live slices, `dst` m rows of n.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            ld as isize,
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

/// Runs `f(block, out_chunk, scratch, parallel)` for each block of images, `out` holding
/// `per_image` elements an image: blocks in parallel when there are at least as many as threads,
/// else in turn with `parallel` set for their inner work.
fn per_block<T: Scalar>(
    out: &mut [T],
    per_image: usize,
    g: &Geometry,
    f: impl Fn(Block, &mut [T], &mut Scratch, bool) + Sync + Send,
) {
    if out.is_empty() || per_image == 0 {
        return;
    }
    let images = g.block_images();
    let run = |index: usize, chunk: &mut [T], parallel: bool| {
        let block = Block { first: index * images, images: chunk.len() / per_image };
        f(block, chunk, &mut Scratch::take(), parallel)
    };
    #[cfg(feature = "rayon")]
    if g.batch.div_ceil(images) >= rayon::current_num_threads().max(2) {
        use rayon::prelude::*;
        out.par_chunks_mut(images * per_image).enumerate().for_each(|(i, chunk)| run(i, chunk, false));
        return;
    }
    let parallel = g.inner_parallel(images);
    out.chunks_mut(images * per_image).enumerate().for_each(|(i, chunk)| run(i, chunk, parallel));
}

/// The output `[B, C_out, oh, ow]` of conv2d.
fn forward<T: Scalar>(x: &[T], weight: &[T], bias: Option<&[T]>, g: &Geometry) -> Vec<T> {
    let (p, k, m) = (g.positions(), g.reduction(), g.group_out());
    let mut y = vec![T::zero(); g.batch * g.c_out * p];
    per_block(&mut y, g.c_out * p, g, |block, y_blk, scratch, parallel| {
        let x_blk = &x[block.first * g.image()..][..block.images * g.image()];
        let n = block.images * p;
        let (cols, tmp) = scratch.buffers::<T>(g.cols_len(block), g.gather_len(block));
        for group in 0..g.groups {
            let w = Matrix::rows(&weight[group * m * k..][..m * k], k);
            if block.images == 1 && g.pointwise() {
                let y_g = &mut y_blk[group * m * p..];
                gemm(y_g, p, w, Matrix::rows(&x_blk[group * k * p..][..k * p], p), m, p, k, false, parallel);
                continue;
            }
            g.im2col(x_blk, group, block.images, cols, parallel);
            if block.images == 1 {
                gemm(&mut y_blk[group * m * p..], p, w, Matrix::rows(cols, p), m, p, k, false, parallel);
            } else {
                gemm(tmp, n, w, Matrix::rows(cols, n), m, n, k, false, parallel);
                scatter(tmp, block.images, group * m, m, g.c_out, p, y_blk, parallel);
            }
        }
        if let Some(bias) = bias {
            for (row, channel_row) in y_blk.chunks_mut(p).enumerate() {
                let value = bias[row % g.c_out];
                channel_row.iter_mut().for_each(|v| *v += value);
            }
        }
    });
    y
}

/// The gradient `[B, C_in, H, W]` of conv2d with respect to its input.
fn data_grad<T: Scalar>(weight: &[T], dy: &[T], g: &Geometry) -> Vec<T> {
    let (p, k, m) = (g.positions(), g.reduction(), g.group_out());
    let mut dx = vec![T::zero(); g.batch * g.image()];
    per_block(&mut dx, g.image(), g, |block, dx_blk, scratch, parallel| {
        let dy_blk = &dy[block.first * g.c_out * p..][..block.images * g.c_out * p];
        let n = block.images * p;
        let (dcols, tmp) = scratch.buffers::<T>(g.cols_len(block), g.gather_len(block));
        for group in 0..g.groups {
            let w_t = Matrix::transposed(&weight[group * m * k..][..m * k], k);
            let dy_g = &dy_blk[group * m * p..];
            if block.images == 1 && g.pointwise() {
                let dx_g = &mut dx_blk[group * k * p..][..k * p];
                gemm(dx_g, p, w_t, Matrix::rows(&dy_g[..m * p], p), k, p, m, false, parallel);
                continue;
            }
            let rhs: &[T] = if block.images == 1 {
                &dy_g[..m * p]
            } else {
                gather(dy_g, g.c_out * p, block.images, m, p, tmp, parallel);
                &*tmp
            };
            gemm(dcols, n, w_t, Matrix::rows(rhs, n), k, n, m, false, parallel);
            g.col2im(dcols, group, block.images, dx_blk, parallel);
        }
    });
    dx
}

/// Adds a block's weight gradient, transposed, onto `dw_t` (`[K, C_out/groups]` per group):
/// `dW[g]^T += cols · dy[b, g]^T`. In this orientation the GEMM packs `dy`, not the `kh * kw`
/// times larger `cols`.
fn add_weight_grad_t<T: Scalar>(x: &[T], dy: &[T], g: &Geometry, block: Block, dw_t: &mut [T], parallel: bool) {
    let (p, k, m) = (g.positions(), g.reduction(), g.group_out());
    let x_blk = &x[block.first * g.image()..][..block.images * g.image()];
    let dy_blk = &dy[block.first * g.c_out * p..][..block.images * g.c_out * p];
    let n = block.images * p;
    let mut scratch = Scratch::take();
    let (cols, tmp) = scratch.buffers::<T>(g.cols_len(block), g.gather_len(block));
    for group in 0..g.groups {
        let dy_g = &dy_blk[group * m * p..];
        let dw_g = &mut dw_t[group * m * k..][..m * k];
        if block.images == 1 && g.pointwise() {
            let x_g = Matrix::rows(&x_blk[group * k * p..][..k * p], p);
            gemm(dw_g, m, x_g, Matrix::transposed(&dy_g[..m * p], p), k, m, p, true, parallel);
            continue;
        }
        g.im2col(x_blk, group, block.images, cols, parallel);
        let dy_rows: &[T] = if block.images == 1 {
            &dy_g[..m * p]
        } else {
            gather(dy_g, g.c_out * p, block.images, m, p, tmp, parallel);
            &*tmp
        };
        gemm(dw_g, m, Matrix::rows(cols, n), Matrix::transposed(dy_rows, n), k, m, n, true, parallel);
    }
}

/// Rows and columns of the tiles [`untranspose`] copies: a tile's reads of `dw_t` stay in cache
/// lines it uses whole, where reading one column of a wide matrix uses one value a line.
const TRANSPOSE_TILE: usize = 32;

/// The transposed weight gradient `dw_t` (`[K, C_out/groups]` per group), laid out as the
/// weight `[C_out, C_in/groups, kh, kw]`: copied in tiles, bands of `TRANSPOSE_TILE` output
/// channels on every thread when the gradient has at least 2^16 values.
fn untranspose<T: Scalar>(dw_t: &[T], g: &Geometry) -> Vec<T> {
    let (k, m) = (g.reduction(), g.group_out());
    let mut dw = vec![T::zero(); dw_t.len()];
    let parallel = dw_t.len() >= 1 << 16;
    for (dw_g, dw_t_g) in dw.chunks_exact_mut(m * k).zip(dw_t.chunks_exact(m * k)) {
        for_chunks(dw_g, TRANSPOSE_TILE * k, parallel, |band, rows| {
            let o0 = band * TRANSPOSE_TILE;
            for r0 in (0..k).step_by(TRANSPOSE_TILE) {
                for (o, row) in rows.chunks_exact_mut(k).enumerate() {
                    for r in r0..(r0 + TRANSPOSE_TILE).min(k) {
                        row[r] = dw_t_g[r * m + o0 + o];
                    }
                }
            }
        });
    }
    dw
}

/// The gradient `[C_out, C_in/groups, kh, kw]` of conv2d with respect to its weight.
fn weight_grad<T: Scalar>(x: &[T], dy: &[T], g: &Geometry) -> Vec<T> {
    let len = g.c_out * g.reduction();
    let images = g.block_images();
    let blocks: Vec<Block> = (0..g.batch.div_ceil(images))
        .map(|b| Block { first: b * images, images: images.min(g.batch - b * images) })
        .collect();
    #[cfg(feature = "rayon")]
    if blocks.len() >= rayon::current_num_threads().max(2) {
        use rayon::prelude::*;
        let dw_t = blocks
            .into_par_iter()
            .fold(
                || vec![T::zero(); len],
                |mut dw_t, block| {
                    add_weight_grad_t(x, dy, g, block, &mut dw_t, false);
                    dw_t
                },
            )
            .reduce(
                || vec![T::zero(); len],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                    a
                },
            );
        return untranspose(&dw_t, g);
    }
    let mut dw_t = vec![T::zero(); len];
    for block in blocks {
        add_weight_grad_t(x, dy, g, block, &mut dw_t, g.inner_parallel(block.images));
    }
    untranspose(&dw_t, g)
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
    tensor(super::batch_norm::channel_sums::<T>(dy.storage(), shape), vec![shape[1]], bias_dtype)
}
