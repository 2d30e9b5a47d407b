//! Labelled pictures of counterfactuals for reports: captioned frames and strips of a
//! progression (difference overlays and animations: `daecf_core::report`).

use anyhow::Context;
use daecf_core::report::enlarge;
use image::imageops;
use image::{Rgb, RgbImage};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::plots::{FONT, plot_error, register_font};

/// Height of the caption band under a labelled frame, in pixels.
const CAPTION: u32 = 34;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captioned_frames_make_a_strip() {
        let f = RgbImage::from_pixel(8, 8, Rgb([10, 200, 10]));
        let c = captioned(&f, 64, "d = -1.0\ngrade 2").unwrap();
        assert_eq!(c.dimensions(), (64, 64 + CAPTION));
        assert!(c.pixels().skip(64 * 70).any(|p| p[0] < 128), "caption text was drawn");
        let s = strip(&[c.clone(), c.clone()]);
        assert_eq!(s.dimensions(), (132, 64 + CAPTION));
    }
}
