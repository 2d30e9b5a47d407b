//! Clipping of the global gradient norm, as PyTorch's `clip_grad_norm_` (which the reference
//! trainer applies with max norm 1). Burn's own `GradientClipping::Norm` clips each parameter
//! tensor separately, which is a different rule.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

struct Ids(Vec<(ParamId, usize)>);

impl ModuleVisitor for Ids {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push((param.id, D));
    }
}

/// Takes a gradient of any rank out of `grads`, applies `f` to it flattened and puts it back.
fn with_grad(grads: &mut GradientsParams, id: ParamId, rank: usize, f: &mut dyn FnMut(Tensor<1>) -> Tensor<1>) {
    macro_rules! apply {
        ($d:literal) => {{
            if let Some(g) = grads.remove::<$d>(id) {
                let shape = g.shape();
                let n = shape.num_elements();
                grads.register::<$d>(id, f(g.reshape([n])).reshape(shape));
            }
        }};
    }
    match rank {
        1 => apply!(1),
        2 => apply!(2),
        3 => apply!(3),
        4 => apply!(4),
        other => unreachable!("daecf models have no rank-{other} parameters"),
    }
}

/// The L2 norm of all gradients of `module` together (on the device), or `None` without any.
pub fn global_norm<M: Module>(module: &M, grads: &mut GradientsParams) -> Option<Tensor<1>> {
    let mut squares: Vec<Tensor<1>> = Vec::new();
    map_grads(module, grads, &mut |g| {
        squares.push(g.clone().powi_scalar(2).sum());
        g
    });
    (!squares.is_empty()).then(|| Tensor::cat(squares, 0).sum().sqrt())
}

/// Replaces every gradient `g` of `module` in `grads` by `f(g)` (flattened, any rank).
pub fn map_grads<M: Module>(module: &M, grads: &mut GradientsParams, f: &mut dyn FnMut(Tensor<1>) -> Tensor<1>) {
    let mut ids = Ids(Vec::new());
    module.visit(&mut ids);
    for &(id, rank) in &ids.0 {
        with_grad(grads, id, rank, f);
    }
}

/// Scales all gradients of `module` by `min(1, max_norm / (norm + 1e-6))`, where `norm` is
/// their L2 norm over all of them together, as [`global_norm`] computes it. Stays on the device
/// (no read-back).
pub fn clip_to_norm<M: Module>(module: &M, grads: &mut GradientsParams, norm: Tensor<1>, max_norm: f64) {
    let coef = (norm.add_scalar(1e-6).recip() * max_norm).clamp_max(1.0);
    map_grads(module, grads, &mut |g| g * coef.clone());
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::Device;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn grad_norm(model: &Linear, grads: &GradientsParams) -> f32 {
        let w: Tensor<2> = grads.get(model.weight.id).unwrap();
        let b: Tensor<1> = grads.get(model.bias.as_ref().unwrap().id).unwrap();
        (w.powi_scalar(2).sum() + b.powi_scalar(2).sum()).sqrt().into_scalar()
    }

    #[test]
    fn clips_the_norm_over_all_parameters_together() {
        let device = Device::flex().autodiff();
        let model: Linear = LinearConfig::new(4, 3).init(&device);
        let x = Tensor::<2>::ones([2, 4], &device);
        let loss = model.forward(x).sum() * 100.0;
        let mut grads = GradientsParams::from_grads(loss.backward(), &model);
        let before = grad_norm(&model, &grads);
        let bias_before: Tensor<1> = grads.get(model.bias.as_ref().unwrap().id).unwrap();
        assert!(before > 1.0);
        let clip = |grads: &mut GradientsParams, max_norm| {
            let norm = global_norm(&model, grads).unwrap();
            clip_to_norm(&model, grads, norm, max_norm);
        };
        clip(&mut grads, 1.0);
        assert!((grad_norm(&model, &grads) - 1.0).abs() < 1e-4);
        // One common factor: directions are kept.
        let bias_after: Tensor<1> = grads.get(model.bias.as_ref().unwrap().id).unwrap();
        let ratio: f32 = (bias_after / bias_before).mean().into_scalar();
        assert!((ratio - 1.0 / before).abs() < 1e-5);
        // Small gradients are left alone.
        clip(&mut grads, 10.0);
        assert!((grad_norm(&model, &grads) - 1.0).abs() < 1e-4);
    }
}
