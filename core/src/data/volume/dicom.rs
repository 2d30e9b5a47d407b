//! DICOM images (CT, MR, X-ray) read with dicom-rs: single files, multi-frame files, and series
//! of one slice per file stacked into a volume in the order of their position along the slice
//! normal (Image Position/Orientation (Patient)), else of their Instance Number. The Modality
//! LUT (Rescale Slope/Intercept: Hounsfield units for CT) is applied; the stored window (Window
//! Center/Width) is kept for `--window auto`. A series with missing slices, mixed slice spacing
//! or mixed image sizes is refused with a message naming the files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, Tag, open_file};
use dicom_pixeldata::PixelDecoder;
use ndarray::{Array3, ShapeBuilder};

use super::Volume;
use crate::{DaecfError, Result};

/// One DICOM file's pixels and the attributes that place them in a series.
#[derive(Debug, Clone)]
pub struct DicomImage {
    /// The file.
    pub path: PathBuf,
    /// Series Instance UID (empty when the file has none).
    pub series: String,
    /// Rows and columns.
    pub size: (usize, usize),
    /// Frames in the file.
    pub frames: usize,
    /// Image Position (Patient) projected on the slice normal, when the file has both.
    pub position: Option<f64>,
    /// Instance Number.
    pub instance: Option<i64>,
    /// Pixel Spacing: (between rows, between columns), mm.
    pub pixel_spacing: Option<(f64, f64)>,
    /// Spacing Between Slices, else Slice Thickness, mm.
    pub slice_spacing: Option<f64>,
    /// The first Window Width and Center, when present.
    pub window: Option<(f32, f32)>,
    /// The values after the Modality LUT, frame by frame, row by row (grey: one per pixel).
    pub values: Vec<f32>,
}

/// Reads and decodes one DICOM file.
pub fn read_dicom(path: &Path) -> Result<DicomImage> {
    let bad = |reason: String| DaecfError::Format { path: path.display().to_string(), reason };
    let object = open_file(path).map_err(|e| bad(format!("not a readable DICOM file: {e}")))?;
    let size =
        (number(&object, tags::ROWS).unwrap_or(0.0) as usize, number(&object, tags::COLUMNS).unwrap_or(0.0) as usize);
    if size.0 == 0 || size.1 == 0 {
        return Err(bad("no image in the file (Rows and Columns missing; a report or a structured document?)".into()));
    }
    let decoded = object.decode_pixel_data().map_err(|e| {
        let syntax = object.meta().transfer_syntax().trim_end_matches('\0').to_string();
        bad(format!(
            "cannot decode its pixel data (transfer syntax {syntax}): {e}; daecf decodes uncompressed, RLE, \
             deflated and JPEG baseline/extended/lossless DICOM; convert others first, e.g. `gdcmconv --raw` or \
             `dcmdjpeg`/`dcmdjp2k`"
        ))
    })?;
    let samples = usize::from(decoded.samples_per_pixel());
    let frames = decoded.number_of_frames() as usize;
    let raw: Vec<f32> = decoded.to_vec().map_err(|e| bad(format!("cannot convert its pixels: {e}")))?;
    let values = match samples {
        1 => raw,
        3 => raw.chunks_exact(3).map(|p| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]).collect(),
        n => return Err(bad(format!("{n} samples per pixel; daecf reads grey (1) and colour (3) images"))),
    };
    let inverted = text(&object, tags::PHOTOMETRIC_INTERPRETATION).is_some_and(|p| p.trim() == "MONOCHROME1");
    let window = match (numbers(&object, tags::WINDOW_WIDTH), numbers(&object, tags::WINDOW_CENTER)) {
        (Some(w), Some(c)) if !w.is_empty() && !c.is_empty() && w[0] > 0.0 => Some((w[0] as f32, c[0] as f32)),
        _ => None,
    };
    // MONOCHROME1 shows low values white: negated, it is windowed as MONOCHROME2.
    let (values, window) = if inverted {
        (values.into_iter().map(|v| -v).collect(), window.map(|(w, c)| (w, -c)))
    } else {
        (values, window)
    };
    let position =
        match (numbers(&object, tags::IMAGE_POSITION_PATIENT), numbers(&object, tags::IMAGE_ORIENTATION_PATIENT)) {
            (Some(p), Some(o)) if p.len() == 3 && o.len() == 6 => {
                let normal = [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]];
                Some(p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2])
            }
            _ => None,
        };
    Ok(DicomImage {
        path: path.to_path_buf(),
        series: text(&object, tags::SERIES_INSTANCE_UID).unwrap_or_default(),
        size,
        frames,
        position,
        instance: number(&object, tags::INSTANCE_NUMBER).map(|n| n as i64),
        pixel_spacing: numbers(&object, tags::PIXEL_SPACING).filter(|s| s.len() == 2).map(|s| (s[0], s[1])),
        slice_spacing: number(&object, tags::SPACING_BETWEEN_SLICES).or_else(|| number(&object, tags::SLICE_THICKNESS)),
        window,
        values,
    })
}

fn text(object: &DefaultDicomObject, tag: Tag) -> Option<String> {
    object.element_opt(tag).ok().flatten()?.to_str().ok().map(|s| s.trim_end_matches(['\0', ' ']).to_string())
}

fn numbers(object: &DefaultDicomObject, tag: Tag) -> Option<Vec<f64>> {
    object.element_opt(tag).ok().flatten()?.to_multi_float64().ok()
}

fn number(object: &DefaultDicomObject, tag: Tag) -> Option<f64> {
    numbers(object, tag)?.first().copied()
}

/// A gap between neighbouring slices more than this many times the usual one means missing slices.
const MISSING_GAP: f64 = 1.5;

/// Neighbouring gaps that differ by more than this share of the usual one are mixed spacing.
const SPACING_TOLERANCE: f64 = 0.1;

/// Stacks the images of one series (one file with several frames, or one slice per file) into
/// the volume `id`, checking that every slice is there, evenly spaced, and of one size.
pub fn series_volume(id: &str, mut images: Vec<DicomImage>) -> Result<Volume> {
    let bad = |files: &[&DicomImage], reason: String| {
        let names: Vec<String> =
            files.iter().filter_map(|f| f.path.file_name()).map(|n| n.to_string_lossy().to_string()).collect();
        DaecfError::Data(format!("series {id}: {reason} (at {})", names.join(" and ")))
    };
    let first = images.first().ok_or_else(|| DaecfError::Data(format!("series {id} has no images")))?;
    if let Some(other) = images.iter().find(|i| i.size != first.size) {
        return Err(bad(
            &[first, other],
            format!("mixed image sizes ({:?} and {:?} rows x columns)", first.size, other.size),
        ));
    }
    if images.len() > 1 && images.iter().any(|i| i.frames > 1) {
        return Err(bad(&[first], "mixes multi-frame files with other files; put each in its own folder".into()));
    }
    let gap = if images.iter().all(|i| i.position.is_some()) {
        images.sort_by(|a, b| a.position.partial_cmp(&b.position).unwrap_or(std::cmp::Ordering::Equal));
        let positions: Vec<f64> = images.iter().filter_map(|i| i.position).collect();
        check_gaps(&images, &positions, "mm").map_err(|(k, reason)| bad(&[&images[k], &images[k + 1]], reason))?
    } else if images.iter().all(|i| i.instance.is_some()) {
        images.sort_by_key(|i| i.instance);
        let numbers: Vec<f64> = images.iter().filter_map(|i| i.instance.map(|n| n as f64)).collect();
        check_gaps(&images, &numbers, "instance numbers")
            .map_err(|(k, reason)| bad(&[&images[k], &images[k + 1]], reason))?;
        images[0].slice_spacing.unwrap_or(1.0)
    } else {
        images.sort_by(|a, b| a.path.cmp(&b.path));
        images[0].slice_spacing.unwrap_or(1.0)
    };
    let (rows, cols) = images[0].size;
    let depth: usize = images.iter().map(|i| i.frames).sum();
    let (row_spacing, col_spacing) = images[0].pixel_spacing.unwrap_or((1.0, 1.0));
    let slice_spacing = if images.len() == 1 { images[0].slice_spacing.unwrap_or(1.0) } else { gap };
    let window = images[0].window;
    let values: Vec<f32> = images.into_iter().flat_map(|i| i.values).collect();
    // Frame by frame, row by row: x (column) fastest, as [x, y, z] in Fortran order.
    let voxels = Array3::from_shape_vec((cols, rows, depth).f(), values)
        .map_err(|e| DaecfError::Data(format!("series {id}: the pixels do not fill {rows} x {cols} x {depth}: {e}")))?;
    // DICOM rows run downwards; a volume's y upwards, as NIfTI's: flip so that slices show the
    // first row on top.
    let voxels = voxels.slice_move(ndarray::s![.., ..;-1, ..]).as_standard_layout().into_owned();
    let spacing = [col_spacing as f32, row_spacing as f32, slice_spacing.abs() as f32];
    Ok(Volume { id: id.into(), voxels, spacing, stored_window: window })
}

/// The usual gap between sorted `values` (the median); an error at the first pair of images
/// (its index) whose gap shows a missing slice, a duplicate, or mixed spacing.
fn check_gaps(images: &[DicomImage], values: &[f64], unit: &str) -> std::result::Result<f64, (usize, String)> {
    if values.len() < 2 {
        return Ok(images.first().and_then(|i| i.slice_spacing).unwrap_or(1.0));
    }
    let gaps: Vec<f64> = values.windows(2).map(|w| w[1] - w[0]).collect();
    let mut sorted = gaps.clone();
    sorted.sort_by(f64::total_cmp);
    let usual = sorted[sorted.len() / 2];
    for (k, &g) in gaps.iter().enumerate() {
        if g <= usual * 1e-3 {
            return Err((
                k,
                format!(
                    "two slices at the same place ({} {unit}): a duplicate, or two series in one folder",
                    values[k]
                ),
            ));
        }
        if g > usual * MISSING_GAP {
            let missing = (g / usual).round() as usize - 1;
            return Err((
                k,
                format!("{missing} slice(s) missing: a gap of {g:.3} {unit} where the others are {usual:.3}"),
            ));
        }
        if (g - usual).abs() > usual * SPACING_TOLERANCE {
            return Err((k, format!("mixed slice spacing: {g:.3} {unit} here, {usual:.3} elsewhere")));
        }
    }
    Ok(usual)
}

/// DICOM images gathered into series: by folder, then by Series Instance UID; each with the id
/// of its volume: the folder relative to `root`, followed by `/<series UID>` when a folder holds
/// several; the file for a series of one file.
pub fn group_series(root: &Path, images: Vec<DicomImage>) -> Vec<(String, Vec<DicomImage>)> {
    let mut series: BTreeMap<(PathBuf, String), Vec<DicomImage>> = BTreeMap::new();
    for image in images {
        let folder = image.path.parent().map(Path::to_path_buf).unwrap_or_default();
        series.entry((folder, image.series.clone())).or_default().push(image);
    }
    let per_folder = |folder: &PathBuf| series.keys().filter(|(f, _)| f == folder).count();
    let relative = |p: &Path| {
        let text = p.strip_prefix(root).unwrap_or(p).to_string_lossy().replace('\\', "/");
        if text.is_empty() { ".".to_string() } else { text }
    };
    let ids: Vec<String> = series
        .iter()
        .map(|((folder, uid), images)| match images.as_slice() {
            [one] => relative(&one.path),
            _ if per_folder(folder) > 1 => {
                format!("{}/{}", relative(folder), if uid.is_empty() { "no-uid" } else { uid })
            }
            _ => relative(folder),
        })
        .collect();
    ids.into_iter().zip(series.into_values()).collect()
}
