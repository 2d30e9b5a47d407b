//! COUT of the binary counterfactuals: each image's path to its CE (the CE's most changed pixels
//! pasted in first), every image on the path encoded again and scored by the head's classifier
//! (see [`daecf_core::metrics::cout`]).

use burn::tensor::{Tensor, TensorData};
use daecf_core::metrics::cout::{COUT_STEPS, cout, insertion_path};
use ndarray::{ArrayView3, Axis};

use crate::commands::explain::Explainer;
use crate::preview::tensor_rows;

/// Images of a path encoded at a time.
const ENCODE_BATCH: usize = 32;

/// The COUT of each (image, CE) pair, images in [0, 1].
pub fn couts(with: Explainer, pairs: &[(ArrayView3<f32>, ArrayView3<f32>)]) -> anyhow::Result<Vec<f64>> {
    let Explainer { model, head, device } = with;
    let range = model.config.input_range;
    let mut scores = Vec::with_capacity(pairs.len());
    for (image, ce) in pairs {
        let (path, fractions) = insertion_path(*image, *ce, COUT_STEPS);
        let mut logits = Vec::with_capacity(fractions.len());
        for part in path.axis_chunks_iter(Axis(0), ENCODE_BATCH) {
            let (b, c, h, w) = part.dim();
            let values: Vec<f32> = part.iter().map(|&v| range.from_unit(v)).collect();
            let x = Tensor::<4>::from_data(TensorData::new(values, [b, c, h, w]), device);
            logits.extend(head.decision_values(tensor_rows(model.encode(x))?.view())?);
        }
        scores.push(cout(&logits, &fractions));
    }
    Ok(scores)
}
