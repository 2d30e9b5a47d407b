//! Exponential moving average of a model's weights (the reference keeps one with decay
//! 0.9999 and uses it for all inference).

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

/// Replaces each parameter `e` of the average by `decay * e + (1 - decay) * p`.
struct Blend<'a> {
    online: &'a HashMap<ParamId, Tensor<1>>,
    decay: f64,
}

/// Collects a module's float parameters, flattened and without gradient tracking, by id.
struct Flatten(HashMap<ParamId, Tensor<1>>);

impl ModuleVisitor for Flatten {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val().inner();
        let n = t.shape().num_elements();
        self.0.insert(param.id, t.reshape([n]));
    }
}

impl ModuleMapper for Blend<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(online) = self.online.get(&param.id) else { return param };
        let online = online.clone();
        let decay = self.decay;
        param.map(|e| {
            let shape = e.shape();
            let device = e.device();
            (e * decay + online.to_device(&device).reshape(shape) * (1.0 - decay)).detach()
        })
    }
}

/// Moves `average` towards `online` (a module with the same parameter ids, e.g. the model
/// being trained, of which `average` began as a copy): `e <- decay e + (1 - decay) p`.
pub fn update_ema<M: Module>(average: M, online: &M, decay: f64) -> M {
    let mut flat = Flatten(HashMap::new());
    online.visit(&mut flat);
    average.map(&mut Blend { online: &flat.0, decay })
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::Device;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_average_moves_by_one_minus_decay() {
        let device = Device::flex();
        let online: Linear = LinearConfig::new(3, 2).init(&device);
        let average = online.clone().map(&mut Zero);
        let average = update_ema(average, &online, 0.75);
        let mut got = Collect(HashMap::new());
        average.visit(&mut got);
        let mut want = Collect(HashMap::new());
        online.visit(&mut want);
        for (id, w) in want.0 {
            let w: Vec<f32> = w.try_to_vec().unwrap();
            let g: Vec<f32> = got.0[&id].clone().try_to_vec().unwrap();
            for (a, b) in g.iter().zip(&w) {
                assert!((a - 0.25 * b).abs() < 1e-6);
            }
        }
    }

    struct Collect(HashMap<ParamId, burn::tensor::TensorData>);

    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.insert(param.id, param.val().into_data());
        }
    }

    struct Zero;
    impl ModuleMapper for Zero {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|t| t.zeros_like())
        }
    }
}
