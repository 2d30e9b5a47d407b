//! Medical volumes (NIfTI files, DICOM series) cut into the 2D slices a 2D model reads, as the
//! paper prepares VerSe's CT and BraTS's MR (Atad et al., MELBA 2024, section 4): slices along a
//! chosen voxel axis, an intensity window ([`window`]), square pixels, and a choice of slices.
//! A slice's id is `<volume id>#<axis>=<index>`; its group is its volume.
//!
//! The readers ([`nifti`], [`dicom`]) need the `volumes` feature.

#[cfg(feature = "volumes")]
pub mod dicom;
#[cfg(feature = "volumes")]
pub mod nifti;
pub mod window;

use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageBuffer, Luma};
use ndarray::{Array3, ArrayView2, Axis};

pub use window::Window;

use crate::named::Named;
use crate::{DaecfError, Result};

/// A 3D scan: its values on a voxel grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// The volume's id: its file's (or series folder's) path relative to the data folder.
    pub id: String,
    /// The values, indexed `[x, y, z]` in the file's voxel order (NIfTI's i, j, k; for DICOM,
    /// column, row, slice).
    pub voxels: Array3<f32>,
    /// The voxel size along x, y and z (mm, or the file's unit).
    pub spacing: [f32; 3],
    /// The window the file stores, as (width, level), when it has one.
    pub stored_window: Option<(f32, f32)>,
}

/// The voxel axis that slices are cut across.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SliceAxis {
    /// Across x: planes of y and z (sagittal in a scan stored in RAS or LPS order).
    X,
    /// Across y: planes of x and z (coronal).
    Y,
    /// Across z: planes of x and y (axial for the usual acquisitions).
    Z,
}

impl Named for SliceAxis {
    const ALL: &'static [Self] = &[Self::X, Self::Y, Self::Z];
    const KIND: &'static str = "slice axis";

    fn name(self) -> &'static str {
        match self {
            Self::X => "x",
            Self::Y => "y",
            Self::Z => "z",
        }
    }
}

crate::impl_named_text!(SliceAxis);

/// Which slices of a volume become images, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Slicing {
    /// The axis slices are cut across.
    pub axis: SliceAxis,
    /// The intensity window.
    pub window: Window,
    /// Every k-th slice (1: all).
    pub every: usize,
    /// Only slices in `start..end` (indices along the axis), when given.
    pub range: Option<(usize, usize)>,
    /// Leave out slices that are (almost) all background after windowing.
    pub skip_empty: bool,
}

impl Default for Slicing {
    fn default() -> Self {
        Self { axis: SliceAxis::Z, window: Window::Auto, every: 1, range: None, skip_empty: false }
    }
}

/// A slice is empty when fewer than this share of its pixels are brighter than [`DARK`].
const MIN_FOREGROUND: f32 = 0.01;

/// The grey level (after windowing) below which a pixel counts as background.
const DARK: f32 = 0.05;

/// One slice of a volume as a 16-bit grey picture with square pixels.
#[derive(Debug, Clone)]
pub struct Slice {
    /// `<volume id>#<axis>=<index>`.
    pub id: String,
    /// The windowed slice: top row the highest y (across z) or z (across x and y), as a scan is
    /// viewed.
    pub picture: DynamicImage,
}

impl Volume {
    /// The slices `slicing` chooses, windowed and resampled to square pixels.
    pub fn slices(&self, slicing: &Slicing) -> Result<Vec<Slice>> {
        let axis = match slicing.axis {
            SliceAxis::X => 0,
            SliceAxis::Y => 1,
            SliceAxis::Z => 2,
        };
        let n = self.voxels.len_of(Axis(axis));
        let (start, end) = slicing.range.unwrap_or((0, n));
        if start >= end || end > n {
            return Err(DaecfError::Data(format!(
                "{}: slices {start}..{end} asked across {}, but the volume has {n} ({:?} voxels)",
                self.id,
                slicing.axis,
                self.voxels.dim()
            )));
        }
        let values: std::borrow::Cow<[f32]> = match self.voxels.as_slice_memory_order() {
            Some(values) => values.into(),
            None => self.voxels.iter().copied().collect::<Vec<f32>>().into(),
        };
        let range = slicing.window.range(&values, self.stored_window);
        let (across, down) = match axis {
            0 => (self.spacing[1], self.spacing[2]),
            1 => (self.spacing[0], self.spacing[2]),
            _ => (self.spacing[0], self.spacing[1]),
        };
        let mut out = Vec::new();
        for index in (start..end).step_by(slicing.every.max(1)) {
            let plane = self.voxels.index_axis(Axis(axis), index);
            let grey = windowed_plane(plane, range);
            if slicing.skip_empty && is_empty(&grey) {
                continue;
            }
            let picture = square_pixels(grey, plane.dim(), (across, down))?;
            out.push(Slice { id: format!("{}#{}={index}", self.id, slicing.axis), picture });
        }
        Ok(out)
    }
}

/// A plane `[u, v]` as grey levels in row-major order of a picture `v` rows high, `u` wide, the
/// highest `v` on top.
fn windowed_plane(plane: ArrayView2<f32>, range: (f32, f32)) -> Vec<f32> {
    let (u, v) = plane.dim();
    let mut out = Vec::with_capacity(u * v);
    for row in (0..v).rev() {
        out.extend((0..u).map(|col| window::grey(plane[[col, row]], range)));
    }
    out
}

fn is_empty(grey: &[f32]) -> bool {
    let bright = grey.iter().filter(|&&g| g > DARK).count();
    (bright as f32) < MIN_FOREGROUND * grey.len() as f32
}

/// Grey levels of a `(width, height)` plane with pixels `(across, down)` in size as a 16-bit
/// picture, stretched along the coarser direction so that its pixels are square.
fn square_pixels(grey: Vec<f32>, (width, height): (usize, usize), (across, down): (f32, f32)) -> Result<DynamicImage> {
    let levels: Vec<u16> = grey.iter().map(|&g| (g * f32::from(u16::MAX)).round() as u16).collect();
    let picture = ImageBuffer::<Luma<u16>, _>::from_raw(width as u32, height as u32, levels)
        .ok_or_else(|| DaecfError::Data(format!("a {width} x {height} slice does not match its values")))?;
    let ratio = if across > 0.0 && down > 0.0 && across.is_finite() && down.is_finite() { down / across } else { 1.0 };
    if (ratio - 1.0).abs() < 0.01 {
        return Ok(DynamicImage::ImageLuma16(picture));
    }
    let (w, h) =
        if ratio > 1.0 { (width as f32, height as f32 * ratio) } else { (width as f32 / ratio, height as f32) };
    let resized = imageops::resize(&picture, w.round() as u32, h.round().max(1.0) as u32, FilterType::Triangle);
    Ok(DynamicImage::ImageLuma16(resized))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// 4 x 3 x 5 voxels valued x + 10 y + 100 z; slices z = 0 and 1 are zero (air).
    fn volume() -> Volume {
        let voxels =
            Array3::from_shape_fn((4, 3, 5), |(x, y, z)| if z < 2 { 0.0 } else { (x + 10 * y + 100 * z) as f32 });
        Volume { id: "scan.nii".into(), voxels, spacing: [1.0, 1.0, 1.0], stored_window: None }
    }

    #[test]
    fn slices_are_cut_windowed_and_chosen() {
        let fixed = Slicing { window: Window::Fixed { width: 600.0, level: 300.0 }, ..Slicing::default() };
        let all = volume().slices(&fixed).unwrap();
        assert_eq!(all.iter().map(|s| s.id.as_str()).collect::<Vec<_>>()[..2], ["scan.nii#z=0", "scan.nii#z=1"]);
        let z4 = all[4].picture.to_luma16();
        assert_eq!(z4.dimensions(), (4, 3));
        // Top row is the highest y: 2 * 10 + 400 = 420 at x = 0, i.e. 420 / 600 of white.
        assert_eq!(z4.get_pixel(0, 0)[0], (420.0f32 / 600.0 * 65535.0).round() as u16);
        assert_eq!(z4.get_pixel(3, 2)[0], (403.0f32 / 600.0 * 65535.0).round() as u16);
        let chosen = Slicing { every: 2, range: Some((1, 5)), skip_empty: true, ..fixed.clone() };
        let ids: Vec<String> = volume().slices(&chosen).unwrap().into_iter().map(|s| s.id).collect();
        assert_eq!(ids, vec!["scan.nii#z=3"], "1 is empty, 3 kept, every second");
        let across_x = Slicing { axis: SliceAxis::X, ..fixed.clone() };
        let x = volume().slices(&across_x).unwrap();
        assert_eq!((x.len(), x[0].picture.width(), x[0].picture.height()), (4, 3, 5));
        let err = volume().slices(&Slicing { range: Some((2, 9)), ..fixed }).unwrap_err().to_string();
        assert!(err.contains("slices 2..9") && err.contains("has 5"), "{err}");
    }

    #[test]
    fn thick_slices_are_stretched_to_square_pixels() {
        let mut thick = volume();
        thick.spacing = [0.5, 0.5, 2.0];
        let coronal = thick.slices(&Slicing { axis: SliceAxis::Y, ..Slicing::default() }).unwrap();
        assert_eq!((coronal[0].picture.width(), coronal[0].picture.height()), (4, 20), "z is 4x coarser");
        let axial = thick.slices(&Slicing::default()).unwrap();
        assert_eq!((axial[0].picture.width(), axial[0].picture.height()), (4, 3));
    }
}
