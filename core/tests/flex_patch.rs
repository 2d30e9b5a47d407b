//! The kernels of patches/burn-flex (the default CPU backend) against Burn's own on ndarray,
//! unpatched:
//! - conv2d and conv1d (im2col/GEMM forward, backward by data and by weight, bias gradient) on
//!   random shapes: 1x1 and 3x3 kernels, strides 1 and 2, symmetric and asymmetric padding,
//!   dilation, groups, batches 1 to 16 and up to 256 channels;
//! - batch norm with the batch's statistics (daecf's GroupNorm) and its gradients;
//! - element-wise passes large enough to run on every thread: same-shape and broadcast
//!   operands, owned or shared, and scalars.
//!
//! Outputs and gradients must agree to 1e-5 of their norm. Random tensors, which the patch
//! draws in chunks on every thread, must depend on the seed only.

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One convolution to compare: shapes and options.
#[derive(Debug, Clone)]
struct Case {
    batch: usize,
    c_in: usize,
    c_out: usize,
    size: [usize; 2],
    kernel: usize,
    options: ConvOptions<2>,
}

/// A tensor's values.
fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec().expect("f32 values")
}

/// The output and the input, weight and bias gradients of `conv` (x, weight, bias) on `device`,
/// for the same inputs and output gradient (`inputs`: x, weight, bias, output gradient).
fn run<const D: usize>(
    inputs: &[TensorData; 4],
    device: &Device,
    conv: impl Fn(Tensor<D>, Tensor<D>, Tensor<1>) -> Tensor<D>,
) -> [Vec<f32>; 4] {
    let device = device.clone().autodiff();
    let x = Tensor::<D>::from_data(inputs[0].clone(), &device).require_grad();
    let w = Tensor::<D>::from_data(inputs[1].clone(), &device).require_grad();
    let b = Tensor::<1>::from_data(inputs[2].clone(), &device).require_grad();
    let y = conv(x.clone(), w.clone(), b.clone());
    let dy = Tensor::<D>::from_data(inputs[3].clone(), &device);
    assert_eq!(y.dims(), dy.dims());
    let grads = (y.clone() * dy).sum().backward();
    let grad = |t: Option<Tensor<D>>| values(t.expect("a gradient"));
    [values(y), grad(x.grad(&grads)), grad(w.grad(&grads)), values(b.grad(&grads).expect("a bias gradient"))]
}

/// Asserts that flex's output and gradients agree with the reference's to 1e-5 of their norm.
fn assert_agree(flex: &[Vec<f32>; 4], reference: &[Vec<f32>; 4], context: &dyn std::fmt::Debug) {
    let names = ["output", "input gradient", "weight gradient", "bias gradient"];
    for (name, (a, b)) in names.iter().zip(flex.iter().zip(reference)) {
        let error = relative_error(a, b);
        assert!(error <= 1e-5, "{name} differs by {error:.2e} of its norm in {context:?}");
    }
}

/// ||a - b|| / ||b||.
fn relative_error(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let diff: f32 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f32>().sqrt();
    let norm: f32 = b.iter().map(|y| y * y).sum::<f32>().sqrt();
    diff / norm.max(f32::MIN_POSITIVE)
}

/// The output size of one axis.
fn out_size(size: usize, kernel: usize, options: &ConvOptions<2>, axis: usize) -> usize {
    let (begin, end) = options.padding[axis];
    (size + begin + end - options.dilation[axis] * (kernel - 1) - 1) / options.stride[axis] + 1
}

/// Random inputs of `case`, drawn on the CPU from `seed`.
fn inputs(case: &Case, seed: u64) -> [TensorData; 4] {
    let device = Device::flex();
    device.seed(seed);
    let groups = case.options.groups;
    let [h, w] = case.size;
    let (oh, ow) = (out_size(h, case.kernel, &case.options, 0), out_size(w, case.kernel, &case.options, 1));
    let normal = Distribution::Normal(0.0, 1.0);
    let data = |shape: [usize; 4]| Tensor::<4>::random(shape, normal, &device).into_data();
    [
        data([case.batch, case.c_in, h, w]),
        data([case.c_out, case.c_in / groups, case.kernel, case.kernel]),
        Tensor::<1>::random([case.c_out], normal, &device).into_data(),
        data([case.batch, case.c_out, oh, ow]),
    ]
}

/// A random case: 1x1 or 3x3, stride 1 or 2, padding 0-1 per side, dilation 1-2, 1 or 2
/// groups, batch 1-16, channels 1-256 (smaller images for wider ones, to keep the test short).
fn random_case(rng: &mut ChaCha8Rng) -> Case {
    let kernel = if rng.random_bool(0.5) { 3 } else { 1 };
    let groups = if rng.random_bool(0.25) { 2 } else { 1 };
    let channels = |rng: &mut ChaCha8Rng| groups * [1, 3, 8, 32, 64, 128][rng.random_range(0..6)];
    let (c_in, c_out) = (channels(rng), channels(rng));
    let wide = c_in.max(c_out) >= 64;
    let side = |rng: &mut ChaCha8Rng| if wide { rng.random_range(4..8) } else { rng.random_range(5..17) };
    let pad = |rng: &mut ChaCha8Rng| if kernel == 3 { rng.random_range(0..2) } else { 0 };
    let options = ConvOptions {
        stride: [rng.random_range(1..3), rng.random_range(1..3)],
        padding: [(pad(rng), pad(rng)), (pad(rng), pad(rng))],
        dilation: if kernel == 3 && !wide && rng.random_bool(0.2) { [2, 1] } else { [1, 1] },
        groups,
    };
    Case { batch: [1, 2, 3, 16][rng.random_range(0..4)], c_in, c_out, size: [side(rng), side(rng)], kernel, options }
}

/// The model's own shapes, the widest the patch serves, and random ones.
fn cases() -> Vec<Case> {
    let fixed = |batch, c_in, c_out, size, kernel, stride, pad| Case {
        batch,
        c_in,
        c_out,
        size: [size, size],
        kernel,
        options: ConvOptions::new([stride; 2], [pad; 2], [1, 1], 1),
    };
    let mut cases = vec![
        fixed(16, 32, 64, 8, 3, 1, 1),
        fixed(2, 256, 256, 4, 3, 1, 1),
        fixed(4, 64, 128, 8, 1, 1, 0),
        fixed(1, 1, 32, 16, 3, 1, 1),
        fixed(3, 16, 16, 9, 3, 2, 1),
        // Images of at least 1024 output positions: one image per GEMM.
        fixed(1, 64, 32, 32, 3, 1, 1),
        fixed(1, 64, 16, 64, 3, 2, 1),
        fixed(2, 32, 32, 40, 3, 1, 0),
        // Blocks of 16 images large enough for every thread (im2col, col2im, gather and
        // scatter in parallel): tiny32's 8x8 level, and two groups.
        fixed(16, 128, 128, 8, 3, 1, 1),
        Case { options: ConvOptions::new([1, 1], [1, 1], [1, 1], 2), ..fixed(16, 128, 128, 8, 3, 1, 1) },
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    cases.extend((0..40).map(|_| random_case(&mut rng)));
    cases
}

#[test]
fn flex_conv2d_and_its_gradients_equal_burns_convolution_on_ndarray() {
    for (seed, case) in cases().into_iter().enumerate() {
        let inputs = inputs(&case, seed as u64);
        let conv = |x, w, b| conv2d(x, w, Some(b), case.options.clone());
        let flex = run(&inputs, &Device::flex(), conv);
        #[allow(deprecated)] // Burn's ndarray backend: the convolution without the patch
        let reference = run(&inputs, &Device::ndarray(), conv);
        assert_agree(&flex, &reference, &case);
    }
}

/// conv1d (the attention block's projections) takes the same path as a conv2d of height 1.
#[test]
fn flex_conv1d_and_its_gradients_equal_burns_convolution_on_ndarray() {
    use burn::tensor::module::conv1d;
    let shapes = [(2, 64, 192, 256, 1, 1, 0), (3, 8, 16, 20, 3, 1, 1), (1, 4, 6, 17, 3, 2, 2)];
    for (seed, &(batch, c_in, c_out, length, kernel, stride, pad)) in shapes.iter().enumerate() {
        let device = Device::flex();
        device.seed(seed as u64);
        let normal = Distribution::Normal(0.0, 1.0);
        let options = ConvOptions::new([stride], [pad], [1], 1);
        let out = (length + 2 * pad - kernel) / stride + 1;
        let inputs = [
            Tensor::<3>::random([batch, c_in, length], normal, &device).into_data(),
            Tensor::<3>::random([c_out, c_in, kernel], normal, &device).into_data(),
            Tensor::<1>::random([c_out], normal, &device).into_data(),
            Tensor::<3>::random([batch, c_out, out], normal, &device).into_data(),
        ];
        let conv = |x, w, b| conv1d(x, w, Some(b), options.clone());
        #[allow(deprecated)] // Burn's ndarray backend: the convolution without the patch
        let reference = run(&inputs, &Device::ndarray(), conv);
        assert_agree(&run(&inputs, &Device::flex(), conv), &reference, &shapes[seed]);
    }
}

/// Output and the gradients of input, gamma and beta of batch norm with the batch's own
/// statistics on `device` (`inputs`: x, gamma, beta, output gradient).
fn batch_norm_run(inputs: &[TensorData; 4], device: &Device) -> [Vec<f32>; 4] {
    use burn::tensor::module::batch_norm_train;
    let device = device.clone().autodiff();
    let x = Tensor::<3>::from_data(inputs[0].clone(), &device).require_grad();
    let gamma = Tensor::<1>::from_data(inputs[1].clone(), &device).require_grad();
    let beta = Tensor::<1>::from_data(inputs[2].clone(), &device).require_grad();
    let y = batch_norm_train(x.clone(), gamma.clone(), beta.clone(), 1e-5).output;
    let grads = (y.clone() * Tensor::<3>::from_data(inputs[3].clone(), &device)).sum().backward();
    let grad = |t: Option<Tensor<1>>| values(t.expect("a gradient"));
    [values(y), values(x.grad(&grads).expect("a gradient")), grad(gamma.grad(&grads)), grad(beta.grad(&grads))]
}

/// Batch norm over `[batch, channels, n]`: daecf's GroupNorm layout `[1, B * groups, n]`, wide
/// enough to run in parallel, and true batches.
#[test]
fn flex_batch_norm_and_its_gradients_equal_burns_on_ndarray() {
    for (seed, shape) in [[1, 512, 128], [1, 64, 2048], [4, 6, 25], [2, 3, 7], [1, 1, 1]].into_iter().enumerate() {
        let device = Device::flex();
        device.seed(seed as u64);
        let [_, channels, _] = shape;
        let inputs = [
            Tensor::<3>::random(shape, Distribution::Normal(0.7, 2.0), &device).into_data(),
            Tensor::<1>::random([channels], Distribution::Normal(1.0, 0.5), &device).into_data(),
            Tensor::<1>::random([channels], Distribution::Normal(0.0, 0.5), &device).into_data(),
            Tensor::<3>::random(shape, Distribution::Normal(0.0, 1.0), &device).into_data(),
        ];
        #[allow(deprecated)] // Burn's ndarray backend: batch norm from tensor operations
        let reference = batch_norm_run(&inputs, &Device::ndarray());
        let flex = batch_norm_run(&inputs, &Device::flex());
        let names = ["output", "input gradient", "gamma gradient", "beta gradient"];
        for (name, (a, b)) in names.iter().zip(flex.iter().zip(&reference)) {
            let error = if shape == [1, 1, 1] { (a[0] - b[0]).abs() } else { relative_error(a, b) };
            assert!(error <= 1e-5, "{name} differs by {error:.2e} of its norm for {shape:?}");
        }
    }
}

/// Add, sub, mul and div of a large `[16, 64, 32, 32]` tensor with a same-shape one, with a
/// per-channel `[16, 64, 1, 1]` one on either side, and with a scalar; each with the large
/// operand owned (written in place) and shared (a new output).
#[test]
fn flex_element_wise_passes_equal_ndarrays() {
    let device = Device::flex();
    device.seed(5);
    let normal = Distribution::Normal(0.0, 1.0);
    let a = Tensor::<4>::random([16, 64, 32, 32], normal, &device).into_data();
    let b = Tensor::<4>::random([16, 64, 32, 32], normal, &device).into_data();
    let c = Tensor::<4>::random([16, 64, 1, 1], Distribution::Uniform(1.0, 2.0), &device).into_data();
    type Op = fn(Tensor<4>, Tensor<4>) -> Tensor<4>;
    let ops: [Op; 4] = [|x, y| x + y, |x, y| x - y, |x, y| x * y, |x, y| x / y];
    let results = |device: &Device| {
        let [a, b, c] = [&a, &b, &c].map(|d| Tensor::<4>::from_data(d.clone(), device));
        let mut out = Vec::new();
        for op in ops {
            for (x, y) in [(&a, &b), (&a, &c), (&c, &a)] {
                // Shared: `a`, `b` and `c` stay alive, so the pass allocates its output.
                out.push(values(op(x.clone(), y.clone())));
                // Owned: fresh copies, one of which the pass writes into.
                out.push(values(op(x.clone() + 0.0, y.clone() + 0.0)));
            }
        }
        out.push(values(a.clone() * 3.0 - 1.5));
        out
    };
    #[allow(deprecated)] // Burn's ndarray backend: element-wise passes without the patch
    let reference = results(&Device::ndarray());
    for (i, (flex, reference)) in results(&Device::flex()).iter().zip(&reference).enumerate() {
        let error = relative_error(flex, reference);
        assert!(error <= 1e-6, "result {i} differs by {error:.2e} of its norm");
    }
}

/// Random tensors larger than one chunk are drawn in chunks on every thread: one seed gives the
/// same values on one thread as on all, each chunk from its own stream, with the distribution's
/// moments.
#[test]
fn flex_random_tensors_depend_on_the_seed_only() {
    let draw = |distribution| {
        let device = Device::flex();
        device.seed(11);
        values(Tensor::<1>::random([300_000], distribution, &device))
    };
    for distribution in [Distribution::Bernoulli(0.9), Distribution::Normal(0.5, 2.0)] {
        let all = draw(distribution);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a pool");
        assert_eq!(pool.install(|| draw(distribution)), all, "{distribution:?}");
        assert_ne!(all[..1 << 16], all[1 << 16..2 << 16], "{distribution:?}: chunks repeat");
        let n = all.len() as f64;
        let mean = all.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = all.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        let (want_mean, want_var) = match distribution {
            Distribution::Bernoulli(p) => (p, p * (1.0 - p)),
            _ => (0.5, 4.0),
        };
        assert!(
            (mean - want_mean).abs() < 0.01 && (var / want_var - 1.0).abs() < 0.02,
            "{distribution:?}: {mean} {var}"
        );
    }
}
