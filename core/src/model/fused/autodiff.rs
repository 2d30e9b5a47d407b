//! The operations on Burn's autodiff backend: the inner backend's forward, and a backward that
//! calls the inner backend's backward once for all of an operation's gradients.

use burn::backend::Autodiff;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;

use super::FusedBackend;

/// The backward step: the saved inputs' node ids (x, scale, shift).
#[derive(Debug)]
struct ScaleShiftSiluStep;

impl<B: FusedBackend> Backward<B, 3> for ScaleShiftSiluStep {
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

/// The softmax's backward step: its output.
#[derive(Debug)]
struct SoftmaxLastStep;

impl<B: FusedBackend> Backward<B, 1> for SoftmaxLastStep {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        if let [Some(node)] = ops.parents {
            grads.register::<B>(node.id, B::softmax_last_backward(ops.state, grad));
        }
    }
}

impl<B: FusedBackend, C: CheckpointStrategy> FusedBackend for Autodiff<B, C> {
    fn softmax_last(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match SoftmaxLastStep.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let out = B::softmax_last(x.into_primitive());
                prep.finish(out.clone(), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::softmax_last(x.into_primitive())),
        }
    }

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
