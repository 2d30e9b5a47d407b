//! Pictures of counterfactuals: enlarged images, the difference between two images as a
//! colour overlay, and looping GIF animations of a progression.

use image::codecs::gif::{GifEncoder, Repeat};
use image::imageops::{self, FilterType};
use image::{Delay, Frame, Rgb, RgbImage, RgbaImage};

use crate::{DaecfError, Result};

/// `img` enlarged to `side` pixels (nearest neighbour, so pixels stay visible).
pub fn enlarge(img: &RgbImage, side: u32) -> RgbImage {
    imageops::resize(img, side, side, FilterType::Nearest)
}

/// `img` enlarged to `side` pixels with a one-pixel frame of `colour` around `region` (top, left,
/// bottom, right in `img`'s pixels): where a measurement found something.
pub fn outlined(img: &RgbImage, region: [f32; 4], side: u32, colour: Rgb<u8>) -> RgbImage {
    let mut out = enlarge(img, side);
    let scale = side as f32 / img.width().max(1) as f32;
    let at = |v: f32| ((v * scale).round() as u32).min(side - 1);
    let [top, left, bottom, right] = region.map(at);
    for x in left..=right {
        out.put_pixel(x, top, colour);
        out.put_pixel(x, bottom, colour);
    }
    for y in top..=bottom {
        out.put_pixel(left, y, colour);
        out.put_pixel(right, y, colour);
    }
    out
}

/// Luminance in [0, 1].
fn luma(p: &Rgb<u8>) -> f32 {
    (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0
}

/// The difference `after - before` drawn over a grey copy of `before`: red where `after` is
/// brighter, blue where it is darker, opaque at the largest change (at least 0.1 of the range,
/// so that noise-level differences stay faint).
pub fn difference_overlay(before: &RgbImage, after: &RgbImage) -> RgbImage {
    let diffs: Vec<f32> = before.pixels().zip(after.pixels()).map(|(a, b)| luma(b) - luma(a)).collect();
    let scale = diffs.iter().fold(0.1f32, |m, d| m.max(d.abs()));
    RgbImage::from_fn(before.width(), before.height(), |x, y| {
        let d = diffs[(y * before.width() + x) as usize];
        let grey = luma(before.get_pixel(x, y)) * 200.0;
        let alpha = (d.abs() / scale).min(1.0) * 0.85;
        let colour = if d > 0.0 { [255.0, 40.0, 20.0] } else { [30.0, 90.0, 255.0] };
        Rgb(colour.map(|c| (grey * (1.0 - alpha) + c * alpha).round() as u8))
    })
}

/// An animated GIF of `frames` that loops forever, `delay_ms` per frame, played forwards then
/// backwards so the animation sweeps across the boundary and back.
pub fn gif_bytes(frames: &[RgbImage], delay_ms: u32) -> Result<Vec<u8>> {
    let gif = |e: image::ImageError| DaecfError::Data(format!("encoding the GIF: {e}"));
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
        encoder.set_repeat(Repeat::Infinite).map_err(gif)?;
        let order = (0..frames.len()).chain((1..frames.len().saturating_sub(1)).rev());
        for i in order {
            let rgba: RgbaImage = image::DynamicImage::ImageRgb8(frames[i].clone()).to_rgba8();
            encoder
                .encode_frame(Frame::from_parts(rgba, 0, 0, Delay::from_numer_denom_ms(delay_ms, 1)))
                .map_err(gif)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::AnimationDecoder;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn an_outline_frames_the_region_at_the_enlarged_scale() {
        let img = RgbImage::from_pixel(4, 4, Rgb([10, 10, 10]));
        let red = Rgb([255, 0, 0]);
        let out = outlined(&img, [1.0, 1.0, 3.0, 2.0], 8, red);
        assert_eq!(out.dimensions(), (8, 8));
        assert_eq!((*out.get_pixel(2, 2), *out.get_pixel(4, 6), *out.get_pixel(3, 4)), (red, red, Rgb([10, 10, 10])));
    }

    #[test]
    fn overlay_marks_brighter_red_and_darker_blue() {
        let before = RgbImage::from_pixel(2, 1, Rgb([100, 100, 100]));
        let mut after = before.clone();
        after.put_pixel(0, 0, Rgb([200, 200, 200]));
        after.put_pixel(1, 0, Rgb([0, 0, 0]));
        let o = difference_overlay(&before, &after);
        assert!(o.get_pixel(0, 0)[0] > o.get_pixel(0, 0)[2]);
        assert!(o.get_pixel(1, 0)[2] > o.get_pixel(1, 0)[0]);
    }

    #[test]
    fn gif_sweeps_forwards_and_back() {
        let frames: Vec<RgbImage> = (0..3).map(|i| RgbImage::from_pixel(4, 4, Rgb([i * 100, 0, 0]))).collect();
        let bytes = gif_bytes(&frames, 100).unwrap();
        let decoder = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(bytes)).unwrap();
        let decoded = decoder.into_frames().collect_frames().unwrap();
        assert_eq!(decoded.len(), 4, "0 1 2 1");
        assert_eq!(enlarge(&frames[0], 12).dimensions(), (12, 12));
    }
}
