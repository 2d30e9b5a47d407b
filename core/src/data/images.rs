//! Images prepared for a model: decoded (8- or 16-bit, grey or RGB), converted to the model's
//! channels, resized so the shorter side fits and centre-cropped to its size, as f32 in [0, 1]
//! (the model's input range is applied when a batch is made).

use image::imageops::{self, FilterType};
use image::{DynamicImage, Rgb32FImage};
use ndarray::{Array4, ArrayView3, Axis, s};

use crate::model::InputRange;
use crate::{DaecfError, Result};

/// The image shape a model takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageSpec {
    /// Width and height in pixels.
    pub size: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
}

/// Images of one split, [N, C, size, size] in [0, 1], with optional labels and an id each.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    /// Split name (`train`, `val`, `test`, or `images` for a folder).
    pub name: String,
    /// The pixels.
    pub images: Array4<f32>,
    /// One optional label per image.
    pub labels: Vec<Option<i64>>,
    /// One id per image (file name, or the index in an archive).
    pub ids: Vec<String>,
    /// One group per image (patient or study id, or the volume a slice comes from), when the
    /// source gives them: the splits daecf makes keep a group on one side.
    pub groups: Option<Vec<String>>,
}

impl ImageSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.len_of(Axis(0))
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pixels of the images at `indices` in the model's input range, flattened [B*C*H*W].
    pub fn batch(&self, indices: &[usize], range: InputRange) -> Vec<f32> {
        let per = self.images.len() / self.len().max(1);
        let mut out = Vec::with_capacity(indices.len() * per);
        for &i in indices {
            out.extend(self.images.index_axis(Axis(0), i).iter().map(|&v| range.from_unit(v)));
        }
        out
    }
}

/// A [C, H, W] image in [0, 1] as an 8-bit picture: grey for one channel, RGB for three.
pub fn to_picture(image: ndarray::ArrayView3<f32>) -> Result<DynamicImage> {
    let (c, h, w) = image.dim();
    let to_u8 = |v: &f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    let hwc: Vec<u8> = image.permuted_axes([1, 2, 0]).iter().map(to_u8).collect();
    let (w, h) = (w as u32, h as u32);
    let picture = match c {
        1 => image::GrayImage::from_raw(w, h, hwc).map(DynamicImage::ImageLuma8),
        3 => image::RgbImage::from_raw(w, h, hwc).map(DynamicImage::ImageRgb8),
        _ => None,
    };
    picture.ok_or_else(|| DaecfError::Data(format!("cannot make a picture of a {c}-channel image; 1 or 3 channels")))
}

/// A batch [B, C, H, W] of values in the model's `range` (a model's output, flattened
/// row-major in `values`) as 8-bit RGB pictures.
pub fn model_pictures(values: Vec<f32>, dims: [usize; 4], range: InputRange) -> Result<Vec<image::RgbImage>> {
    let unit = Array4::from_shape_vec(dims, values)
        .map_err(|e| DaecfError::Data(format!("{dims:?} does not match the values: {e}")))?
        .mapv(|v| range.to_unit(v));
    unit.axis_iter(Axis(0)).map(|img| Ok(to_picture(img)?.to_rgb8())).collect()
}

/// The most pixels an image may have: decoding takes 12 bytes a pixel before it is resized
/// (100 megapixels: 1.2 GB), and no scan a 2D model reads comes near it.
pub const MAX_PIXELS: u64 = 100_000_000;

/// Decodes and prepares one image file's bytes; an image over [`MAX_PIXELS`] is refused from its
/// header, before it is decoded.
pub fn prepare_bytes(bytes: &[u8], spec: ImageSpec) -> Result<ndarray::Array3<f32>> {
    let undecodable =
        |e: image::ImageError| DaecfError::Data(format!("cannot decode the image ({e}); give a PNG or JPEG file"));
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DaecfError::Data(format!("cannot read the image: {e}")))?;
    let (w, h) = reader.into_dimensions().map_err(undecodable)?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(DaecfError::Data(format!(
            "the image is {w} x {h} pixels, over the limit of {} megapixels; downscale it first",
            MAX_PIXELS / 1_000_000
        )));
    }
    prepare(&image::load_from_memory(bytes).map_err(undecodable)?, spec)
}

/// Converts `img` to the spec's channels and size: scaled so the shorter side equals the size
/// (Catmull-Rom), then centre-cropped.
pub fn prepare(img: &DynamicImage, spec: ImageSpec) -> Result<ndarray::Array3<f32>> {
    if img.width() == 0 || img.height() == 0 {
        return Err(DaecfError::Data("the image is empty (0 pixels)".into()));
    }
    let rgb: Rgb32FImage = img.to_rgb32f();
    let size = spec.size as u32;
    let scale = size as f64 / rgb.width().min(rgb.height()) as f64;
    let (w, h) = (
        ((rgb.width() as f64 * scale).round() as u32).max(size),
        ((rgb.height() as f64 * scale).round() as u32).max(size),
    );
    let resized = if (w, h) == rgb.dimensions() { rgb } else { imageops::resize(&rgb, w, h, FilterType::CatmullRom) };
    let cropped = imageops::crop_imm(&resized, (w - size) / 2, (h - size) / 2, size, size).to_image();
    let hwc = ArrayView3::from_shape((spec.size, spec.size, 3), cropped.as_raw())
        .map_err(|e| DaecfError::Data(format!("image buffer: {e}")))?;
    let chw = hwc.permuted_axes([2, 0, 1]).mapv(|v| v.clamp(0.0, 1.0));
    Ok(match spec.channels {
        3 => chw,
        1 => {
            // ITU-R BT.601 luma, as image's grey conversion.
            let grey = &chw.slice(s![0, .., ..]) * 0.299
                + &chw.slice(s![1, .., ..]) * 0.587
                + &chw.slice(s![2, .., ..]) * 0.114;
            grey.insert_axis(Axis(0))
        }
        c => return Err(DaecfError::Config(format!("models take 1 or 3 channels, not {c}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, Rgb};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn grey_16_bit_is_scaled_and_cropped() {
        // 8 x 4, 16-bit: left half black, right half white.
        let img = ImageBuffer::from_fn(8, 4, |x, _| Luma([if x < 4 { 0u16 } else { 65535 }]));
        let out = prepare(&DynamicImage::ImageLuma16(img), ImageSpec { size: 4, channels: 1 }).unwrap();
        assert_eq!(out.dim(), (1, 4, 4));
        // The centre crop keeps columns 2..6: two black, two white.
        assert!(out[[0, 1, 0]] < 1e-6 && out[[0, 1, 1]] < 1e-6 && out[[0, 1, 2]] > 0.999 && out[[0, 1, 3]] > 0.999);
    }

    #[test]
    fn rgb_to_grey_and_grey_to_rgb() {
        let red = DynamicImage::ImageRgb8(ImageBuffer::from_pixel(6, 6, Rgb([255u8, 0, 0])));
        let grey = prepare(&red, ImageSpec { size: 3, channels: 1 }).unwrap();
        assert!(grey.iter().all(|&v| (v - 0.299).abs() < 1e-4));
        let mid = DynamicImage::ImageLuma8(ImageBuffer::from_pixel(5, 5, Luma([51u8])));
        let rgb = prepare(&mid, ImageSpec { size: 5, channels: 3 }).unwrap();
        assert_eq!(rgb.dim(), (3, 5, 5));
        assert!(rgb.iter().all(|&v| (v - 0.2).abs() < 1e-6));
    }

    #[test]
    fn batches_apply_the_input_range() {
        let set = ImageSet {
            name: "t".into(),
            images: Array4::from_elem((2, 1, 2, 2), 0.25),
            labels: vec![None, Some(1)],
            ids: vec!["a".into(), "b".into()],
            groups: None,
        };
        assert_eq!(set.batch(&[1], InputRange::MinusOneToOne), vec![-0.5; 4]);
        assert_eq!(set.batch(&[0, 1], InputRange::ZeroToOne).len(), 8);
        assert!(prepare_bytes(b"not an image", ImageSpec { size: 4, channels: 1 }).is_err());
    }

    #[test]
    fn an_oversized_image_is_refused_before_it_is_decoded() {
        // A 20000 x 6000 grey PNG (120 megapixels) compresses to a few hundred kilobytes.
        let mut png = Vec::new();
        let encoder = image::codecs::png::PngEncoder::new(&mut png);
        let rows = vec![0u8; 20000 * 6000];
        image::ImageEncoder::write_image(encoder, &rows, 20000, 6000, image::ExtendedColorType::L8).unwrap();
        let err = prepare_bytes(&png, ImageSpec { size: 4, channels: 1 }).unwrap_err().to_string();
        assert!(err.contains("20000 x 6000") && err.contains("100 megapixels"), "{err}");
    }
}
