//! Mixed-precision training, as the reference's `fp16: True` (PyTorch Lightning's 16-bit AMP):
//! the forward and backward passes run in f16 or bf16 on a half-precision copy of the weights,
//! while the master weights, the gradients that update them, Adam's moments and the EMA stay
//! in f32. With f16 the loss is scaled before the backward pass so small gradients do not
//! underflow, and a step whose gradients overflow is skipped and the scale halved (PyTorch's
//! `GradScaler`, Micikevicius et al., "Mixed Precision Training", ICLR 2018). bf16 has f32's
//! range and needs no scaling.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{DType, Device, FloatDType, Tensor};
use serde::{Deserialize, Serialize};

use crate::{DaecfError, Result};

/// The precision of the forward and backward passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// Everything in f32 (the default; bit-exact resumption on CPU).
    #[default]
    F32,
    /// Passes in bfloat16, master weights in f32.
    Bf16,
    /// Passes in float16 with dynamic loss scaling, master weights in f32.
    F16,
}

impl Precision {
    /// The dtype of the passes.
    pub fn dtype(self) -> FloatDType {
        match self {
            Self::F32 => FloatDType::F32,
            Self::Bf16 => FloatDType::BF16,
            Self::F16 => FloatDType::F16,
        }
    }

    /// Fails with a clear message when `device` cannot compute in this precision.
    pub fn check(self, device: &Device) -> Result<()> {
        if self == Self::F32 || device.supports_dtype(DType::from(self.dtype())) {
            return Ok(());
        }
        Err(DaecfError::Data(format!(
            "this device has no {:?} arithmetic; train in f32 or try the other half precision",
            self.dtype()
        )))
    }
}

/// Casts every float parameter to `dtype`, keeping its id (so the gradients of the copy key the
/// master's parameters) and making it a fresh leaf of the autodiff graph.
struct CastParams(FloatDType);

impl ModuleMapper for CastParams {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let dtype = self.0;
        param.map(|t| {
            let tracked = t.is_require_grad();
            let cast = t.cast(dtype).detach();
            if tracked { cast.require_grad() } else { cast }
        })
    }
}

/// A copy of `model` whose parameters are cast to `dtype` (same parameter ids).
pub fn cast_module<M: Module>(model: M, dtype: FloatDType) -> M {
    model.map(&mut CastParams(dtype))
}

/// The dynamic loss scale of f16 training (PyTorch's GradScaler defaults: 2^16 to start, halved
/// on overflow, doubled after 2000 steps without one).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossScale {
    /// The factor the loss is multiplied by before the backward pass.
    pub scale: f64,
    /// Steps in a row without overflow since the last change of the scale.
    pub good_steps: usize,
}

impl Default for LossScale {
    fn default() -> Self {
        Self { scale: 65536.0, good_steps: 0 }
    }
}

impl LossScale {
    /// Steps without overflow after which the scale doubles.
    pub const GROWTH_INTERVAL: usize = 2000;

    /// Records whether this step's gradients were finite; returns whether to apply the step.
    pub fn update(&mut self, finite: bool) -> bool {
        if !finite {
            self.scale = (self.scale / 2.0).max(1.0);
            self.good_steps = 0;
            return false;
        }
        self.good_steps += 1;
        if self.good_steps >= Self::GROWTH_INTERVAL {
            self.scale *= 2.0;
            self.good_steps = 0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::ModuleVisitor;
    use burn::nn::{Linear, LinearConfig};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    struct Params(Vec<(burn::module::ParamId, DType)>);

    impl ModuleVisitor for Params {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push((param.id, param.val().dtype()));
        }
    }

    #[test]
    fn the_cast_copy_keeps_ids_and_changes_dtypes() {
        let device = Device::flex();
        let model: Linear = LinearConfig::new(3, 2).init(&device);
        let half = cast_module(model.clone(), FloatDType::BF16);
        let (mut a, mut b) = (Params(Vec::new()), Params(Vec::new()));
        model.visit(&mut a);
        half.visit(&mut b);
        assert_eq!(a.0.len(), b.0.len());
        for ((ia, ta), (ib, tb)) in a.0.iter().zip(&b.0) {
            assert_eq!((ia, *ta, *tb), (ib, DType::F32, DType::BF16));
        }
    }

    #[test]
    fn the_loss_scale_halves_on_overflow_and_grows_after_good_steps() {
        let mut s = LossScale::default();
        assert!(!s.update(false));
        assert_eq!(s.scale, 32768.0);
        for _ in 0..LossScale::GROWTH_INTERVAL - 1 {
            assert!(s.update(true));
        }
        assert_eq!(s.scale, 32768.0);
        assert!(s.update(true));
        assert_eq!((s.scale, s.good_steps), (65536.0, 0));
    }

    #[test]
    fn flex_computes_in_both_half_precisions() {
        let device = Device::flex();
        for p in [Precision::F32, Precision::Bf16, Precision::F16] {
            p.check(&device).unwrap();
        }
    }
}
