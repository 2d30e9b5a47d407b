//! The operation on Burn's autodiff backend: the inner backend's forward, and a backward that
//! calls the inner backend's `scale_shift_silu_backward` once for all three gradients.

use burn::backend::Autodiff;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;

use super::ScaleShiftSiluBackend;

/// The backward step: the saved inputs' node ids (x, scale, shift).
#[derive(Debug)]
struct ScaleShiftSiluStep;

impl<B: ScaleShiftSiluBackend> Backward<B, 3> for ScaleShiftSiluStep {
    type State = (NodeId, NodeId, NodeId);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let (x, scale, shift) = ops.state;
        let x = checkpointer.retrieve_node_output(x);
        let scale = checkpointer.retrieve_node_output(scale);
        let shift = checkpointer.retrieve_node_output(shift);
        let grad = grads.consume::<B>(&ops.node);
        let (grad_x, grad_scale, grad_shift) = B::scale_shift_silu_backward(x, scale, shift, grad);
        for (parent, grad) in ops.parents.into_iter().zip([grad_x, grad_scale, grad_shift]) {
            if let Some(node) = parent {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

impl<B: ScaleShiftSiluBackend, C: CheckpointStrategy> ScaleShiftSiluBackend for Autodiff<B, C> {
    fn scale_shift_silu(x: FloatTensor<Self>, scale: FloatTensor<Self>, shift: FloatTensor<Self>) -> FloatTensor<Self> {
        let nodes = [x.node(), scale.node(), shift.node()];
        match ScaleShiftSiluStep.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&scale), prep.checkpoint(&shift));
                let out = B::scale_shift_silu(x.into_primitive(), scale.into_primitive(), shift.into_primitive());
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::scale_shift_silu(x.into_primitive(), scale.into_primitive(), shift.into_primitive()))
            }
        }
    }
}
