//! Pictures of counterfactuals: enlarged images, difference maps as a colour overlay, labelled
//! strips and animated GIFs of a progression.

use std::path::Path;

use anyhow::Context;
use image::codecs::gif::{GifEncoder, Repeat};
use image::imageops::{self, FilterType};
use image::{Delay, Frame, Rgb, RgbImage, RgbaImage};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::plots::{FONT, plot_error, register_font};

/// Height of the caption band under a labelled frame, in pixels.
const CAPTION: u32 = 34;

/// `img` enlarged to `side` pixels (nearest neighbour, so pixels stay visible).
pub fn enlarge(img: &RgbImage, side: u32) -> RgbImage {
    imageops::resize(img, side, side, FilterType::Nearest)
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

/// `img` enlarged to `side` with `caption` centred in a white band below it.
pub fn captioned(img: &RgbImage, side: u32, caption: &str) -> anyhow::Result<RgbImage> {
    register_font();
    let (w, h) = (side, side + CAPTION);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let style = TextStyle::from((FONT, 14).into_font()).color(&BLACK).pos(Pos::new(HPos::Center, VPos::Center));
        for (i, line) in caption.lines().take(2).enumerate() {
            root.draw_text(line, &style, (w as i32 / 2, side as i32 + 9 + 15 * i as i32)).map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    let mut out = RgbImage::from_raw(w, h, buf).context("caption buffer has the wrong size")?;
    imageops::replace(&mut out, &enlarge(img, side), 0, 0);
    Ok(out)
}

/// Frames side by side with a 4-pixel white gap.
pub fn strip(frames: &[RgbImage]) -> RgbImage {
    let (w, h) = frames.first().map_or((0, 0), |f| f.dimensions());
    let gap = 4;
    let mut out = RgbImage::from_pixel((w + gap) * frames.len() as u32 - gap.min(w), h, Rgb([255, 255, 255]));
    for (i, f) in frames.iter().enumerate() {
        imageops::replace(&mut out, f, (i as u32 * (w + gap)) as i64, 0);
    }
    out
}

/// An animated GIF of `frames` that loops forever, `delay_ms` per frame, played forwards then
/// backwards so the animation sweeps across the boundary and back.
pub fn write_gif(path: &Path, frames: &[RgbImage], delay_ms: u32) -> anyhow::Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut encoder = GifEncoder::new_with_speed(std::io::BufWriter::new(file), 10);
    encoder.set_repeat(Repeat::Infinite)?;
    let order = (0..frames.len()).chain((1..frames.len().saturating_sub(1)).rev());
    for i in order {
        let rgba: RgbaImage = image::DynamicImage::ImageRgb8(frames[i].clone()).to_rgba8();
        encoder.encode_frame(Frame::from_parts(rgba, 0, 0, Delay::from_numer_denom_ms(delay_ms, 1)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn captioned_frames_make_a_strip_and_a_gif() {
        let f = RgbImage::from_pixel(8, 8, Rgb([10, 200, 10]));
        let c = captioned(&f, 64, "d = -1.0\ngrade 2").unwrap();
        assert_eq!(c.dimensions(), (64, 64 + CAPTION));
        assert!(c.pixels().skip(64 * 70).any(|p| p[0] < 128), "caption text was drawn");
        let s = strip(&[c.clone(), c.clone()]);
        assert_eq!(s.dimensions(), (132, 64 + CAPTION));
        let dir = std::env::temp_dir().join("daecf-figures-test");
        std::fs::create_dir_all(&dir).unwrap();
        write_gif(&dir.join("p.gif"), &[c.clone(), c], 100).unwrap();
        let gif = image::open(dir.join("p.gif")).unwrap();
        assert_eq!(gif.width(), 64);
    }
}
