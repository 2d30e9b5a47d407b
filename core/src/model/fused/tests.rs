use super::*;
use burn::tensor::activation::silu;
use burn::tensor::{Device, Distribution, Tolerance};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// The shapes tested: small planes on one thread, and a batch large enough for every thread.
const SHAPES: [[usize; 4]; 3] = [[2, 3, 5, 7], [1, 4, 1, 1], [4, 32, 32, 32]];

/// The CPU devices of this build.
#[allow(deprecated)] // burn-ndarray, deprecated upstream, stays one of daecf's CPU backends
fn devices() -> Vec<Device> {
    vec![
        Device::flex(),
        #[cfg(feature = "ndarray")]
        Device::ndarray(),
    ]
}

/// Random `x` [B, C, H, W] and `scale`, `shift` [B, C].
fn inputs(dims: [usize; 4], device: &Device) -> (Tensor<4>, Tensor<2>, Tensor<2>) {
    let x = Tensor::random(dims, Distribution::Normal(0.0, 3.0), device);
    let scale = Tensor::random([dims[0], dims[1]], Distribution::Normal(1.0, 0.7), device);
    let shift = Tensor::random([dims[0], dims[1]], Distribution::Normal(0.0, 1.0), device);
    (x, scale, shift)
}

/// The model's form before the operation: Burn's broadcast product, sum and SiLU.
fn composed(x: Tensor<4>, scale: Tensor<2>, shift: Tensor<2>) -> Tensor<4> {
    silu(x * scale.unsqueeze_dims::<4>(&[2, 3]) + shift.unsqueeze_dims::<4>(&[2, 3]))
}

#[test]
fn equals_burns_composed_silu() {
    for device in devices() {
        for dims in SHAPES {
            let (x, scale, shift) = inputs(dims, &device);
            let expected = composed(x.clone(), scale.clone(), shift.clone()).into_data();
            let actual = scale_shift_silu(x, scale, shift).into_data();
            actual.assert_approx_eq::<f32>(&expected, Tolerance::rel_abs(1e-5, 1e-6));
        }
    }
}

#[cfg(feature = "train")]
#[test]
fn gradients_equal_burns_composed_silus() {
    for device in devices().into_iter().map(|d| d.autodiff()) {
        for dims in SHAPES {
            let (x, scale, shift) = inputs(dims, &device);
            let weights = Tensor::<4>::random(dims, Distribution::Normal(0.0, 1.0), &device);
            let leaves = |t: &Tensor<4>, s: &Tensor<2>, b: &Tensor<2>| {
                (t.clone().require_grad(), s.clone().require_grad(), b.clone().require_grad())
            };
            let (x1, s1, b1) = leaves(&x, &scale, &shift);
            let (x2, s2, b2) = leaves(&x, &scale, &shift);
            let ours = (scale_shift_silu(x1.clone(), s1.clone(), b1.clone()) * weights.clone()).sum().backward();
            let burns = (composed(x2.clone(), s2.clone(), b2.clone()) * weights).sum().backward();
            let tolerance = Tolerance::rel_abs(1e-4, 1e-4);
            let expected = x2.grad(&burns).unwrap().into_data();
            x1.grad(&ours).unwrap().into_data().assert_approx_eq::<f32>(&expected, tolerance);
            for (ours_leaf, burns_leaf) in [(&s1, &s2), (&b1, &b2)] {
                let expected = burns_leaf.grad(&burns).unwrap().into_data();
                ours_leaf.grad(&ours).unwrap().into_data().assert_approx_eq::<f32>(&expected, tolerance);
            }
        }
    }
}

#[cfg(feature = "train")]
#[test]
fn an_untracked_scale_and_shift_still_give_xs_gradient() {
    let device = Device::flex().autodiff();
    let (x, scale, shift) = inputs([2, 8, 4, 4], &device);
    let x1 = x.clone().require_grad();
    let x2 = x.require_grad();
    let ours = scale_shift_silu(x1.clone(), scale.clone(), shift.clone()).sum().backward();
    let burns = composed(x2.clone(), scale, shift).sum().backward();
    let expected = x2.grad(&burns).unwrap().into_data();
    x1.grad(&ours).unwrap().into_data().assert_approx_eq::<f32>(&expected, Tolerance::rel_abs(1e-4, 1e-5));
}

#[test]
#[should_panic(expected = "must be [2, 3]")]
fn a_scale_of_the_wrong_shape_is_refused() {
    let device = Device::flex();
    let (x, _, shift) = inputs([2, 3, 4, 4], &device);
    scale_shift_silu(x, Tensor::ones([1, 3], &device), shift);
}

/// The shapes of the softmax tests: short rows, and attention's 256 keys on every thread.
const SOFTMAX_SHAPES: [[usize; 3]; 3] = [[2, 3, 5], [1, 1, 1], [4, 256, 256]];

#[test]
fn softmax_last_equals_burns_softmax() {
    for device in devices() {
        for dims in SOFTMAX_SHAPES {
            let x = Tensor::<3>::random(dims, Distribution::Normal(0.0, 4.0), &device);
            let expected = burn::tensor::activation::softmax(x.clone(), 2).into_data();
            softmax_last(x).into_data().assert_approx_eq::<f32>(&expected, Tolerance::rel_abs(1e-5, 1e-7));
        }
    }
}

#[cfg(feature = "train")]
#[test]
fn softmax_last_gradients_equal_burns() {
    for device in devices().into_iter().map(|d| d.autodiff()) {
        device.seed(11);
        for dims in SOFTMAX_SHAPES {
            let x = Tensor::<3>::random(dims, Distribution::Normal(0.0, 4.0), &device);
            let weights = Tensor::<3>::random(dims, Distribution::Normal(0.0, 1.0), &device);
            let (ours, burns) = (x.clone().require_grad(), x.require_grad());
            let ours_grads = (softmax_last(ours.clone()) * weights.clone()).sum().backward();
            let burns_grads = (burn::tensor::activation::softmax(burns.clone(), 2) * weights).sum().backward();
            // Rows of 256 summed in another order: about 1e-5 apart on gradients of order one.
            let expected = burns.grad(&burns_grads).unwrap().into_data();
            ours.grad(&ours_grads)
                .unwrap()
                .into_data()
                .assert_approx_eq::<f32>(&expected, Tolerance::rel_abs(1e-4, 2e-5));
        }
    }
}
