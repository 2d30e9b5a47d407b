//! Pictures for the page: tensors read back from the device as RGB pictures, and pictures,
//! animations and reports as `data:` URLs (shown and downloaded without any request).

use base64::Engine;
use burn::tensor::Tensor;
use daecf_core::data::images::model_pictures;
use daecf_core::model::InputRange;
use image::RgbImage;

/// Reads a [B, C, H, W] tensor in the model's range back from the device (asynchronously, as
/// WebGPU requires) as 8-bit RGB pictures.
pub async fn read_pictures(x: Tensor<4>, range: InputRange) -> Result<Vec<RgbImage>, String> {
    let dims = x.dims();
    model_pictures(read_values(x).await?, dims, range).map_err(|e| e.to_string())
}

/// Reads any tensor's values back from the device as f32.
pub async fn read_values<const D: usize>(x: Tensor<D>) -> Result<Vec<f32>, String> {
    daecf_core::pipeline::read_values(x).await.map_err(|e| e.to_string())
}

/// A `data:` URL of `bytes` with `mime` type.
pub fn data_url(mime: &str, bytes: &[u8]) -> String {
    format!("data:{mime};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A picture as a PNG `data:` URL.
pub fn png_url(picture: &RgbImage) -> String {
    let mut bytes = Vec::new();
    picture
        .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .expect("PNG encoding into memory does not fail");
    data_url("image/png", &bytes)
}
