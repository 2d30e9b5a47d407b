//! Pictures of model outputs: tensors to images, and the reconstruction grid written while
//! training (top row: training images; bottom row: their reconstructions by the EMA model).

use std::path::Path;

use burn::tensor::{Device, Tensor};
use daecf_core::data::ImageSet;
use daecf_core::data::images::model_pictures;
use daecf_core::model::{DiffusionAutoencoder, InputRange};
use daecf_core::pipeline::reconstruct;
use image::RgbImage;
use ndarray::Array4;

/// DDIM steps of the training previews (fewer than the paper's 250/100: previews must be quick).
const PREVIEW_STEPS: usize = 20;

/// Waits for one of core's device reads (async for the browser's sake; native reads are ready
/// at once).
pub fn wait<T>(read: impl std::future::Future<Output = daecf_core::Result<T>>) -> anyhow::Result<T> {
    Ok(pollster::block_on(read)?)
}

/// A tensor's values as f32, read back from its device.
pub fn tensor_values<const D: usize>(x: Tensor<D>) -> anyhow::Result<Vec<f32>> {
    wait(daecf_core::pipeline::read_values(x))
}

/// The rows of a [N, D] tensor as a matrix.
pub fn tensor_rows(z: Tensor<2>) -> anyhow::Result<ndarray::Array2<f32>> {
    wait(daecf_core::pipeline::read_rows(z))
}

/// A [B, C, H, W] tensor in the model's `range` as an array in [0, 1].
pub fn to_unit_array(x: Tensor<4>, range: InputRange) -> anyhow::Result<Array4<f32>> {
    let [b, c, h, w] = x.dims();
    let data = tensor_values(x)?;
    Ok(Array4::from_shape_vec((b, c, h, w), data)?.mapv(|v| range.to_unit(v)))
}

/// The images of a [B, C, H, W] tensor in `range`, as 8-bit RGB.
pub fn to_images(x: Tensor<4>, range: InputRange) -> anyhow::Result<Vec<RgbImage>> {
    let dims = x.dims();
    let data = tensor_values(x)?;
    Ok(model_pictures(data, dims, range)?)
}

/// Writes originals over reconstructions of (up to) the first 8 images of `data`.
pub fn reconstruction_grid(
    model: &DiffusionAutoencoder,
    data: &ImageSet,
    path: &Path,
    device: &Device,
) -> anyhow::Result<()> {
    let n = data.len().min(8);
    let range = model.config.input_range;
    let indices: Vec<usize> = (0..n).collect();
    let x = crate::data_source::batch_tensor(data, &indices, range, device);
    let rec = reconstruct(model, x.clone(), PREVIEW_STEPS, PREVIEW_STEPS)?;
    let top = to_images(x, range)?;
    let bottom = to_images(rec.image, range)?;
    let (w, h) = top[0].dimensions();
    let mut grid = RgbImage::new(w * n as u32, h * 2);
    for (i, (a, b)) in top.iter().zip(&bottom).enumerate() {
        image::imageops::replace(&mut grid, a, (i as u32 * w) as i64, 0);
        image::imageops::replace(&mut grid, b, (i as u32 * w) as i64, h as i64);
    }
    crate::files::save_picture(&grid, path)
}
