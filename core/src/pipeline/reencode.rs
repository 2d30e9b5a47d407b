//! Rendered images encoded again: how the head reads what a picture shows. A counterfactual is
//! valid when its re-encoding lands where it was asked to (Atad et al., MELBA 2024, Sec. 3.4),
//! and the share of a latent move a picture keeps is measured the same way, by the CLI and the
//! browser alike.
//!
//! Reading a result back from a device is asynchronous (WebGPU offers nothing else); native
//! callers wait on these functions with any executor.

use burn::tensor::Tensor;
use ndarray::Array2;

use super::Explanations;
use crate::latent::{CeRequest, Head};
use crate::model::DiffusionAutoencoder;
use crate::report::ImageReport;
use crate::{DaecfError, Result};

/// The values of a tensor, read back from its device as f32.
pub async fn read_values<const D: usize>(x: Tensor<D>) -> Result<Vec<f32>> {
    let data = x.into_data_async().await.map_err(|e| DaecfError::Device(format!("{e:?}")))?;
    data.convert::<f32>().try_into_vec::<f32>().map_err(|e| DaecfError::Device(format!("{e:?}")))
}

/// The rows of a [N, D] tensor as a matrix.
pub async fn read_rows(z: Tensor<2>) -> Result<Array2<f32>> {
    let [n, d] = z.dims();
    Array2::from_shape_vec((n, d), read_values(z).await?).map_err(|e| DaecfError::Device(e.to_string()))
}

/// The head's signed distance of each image of `images` ([B, C, H, W] in the model's range),
/// encoded again by the semantic encoder.
pub async fn reencoded_distances(model: &DiffusionAutoencoder, head: &Head, images: Tensor<4>) -> Result<Vec<f32>> {
    head.distances(read_rows(model.encode(images)).await?.view())
}

/// The report of each image of `explained` (rendered for `request` in `steps` (encode, render)
/// DDIM steps), its counterfactuals encoded again; `ids` name the images in order.
pub async fn explanation_reports(
    model: &DiffusionAutoencoder,
    head: &Head,
    explained: &Explanations,
    request: &CeRequest,
    steps: (usize, usize),
    ids: Vec<String>,
) -> Result<Vec<ImageReport>> {
    let reencoded = reencoded_distances(model, head, explained.counterfactuals.clone()).await?;
    let k = request.len();
    explained
        .items
        .iter()
        .zip(ids)
        .enumerate()
        .map(|(b, (item, id))| ImageReport::new(id, head, item, request, steps, &reencoded[b * k..(b + 1) * k]))
        .collect()
}
