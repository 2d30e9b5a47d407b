//! MedMNIST archives read as they are downloaded (e.g. retinamnist_128.npz): `train_images`
//! (N x H x W grey or N x H x W x 3 RGB, uint8, any of the 28/64/128/224 sizes) with
//! `train_labels` (N x 1), and the same for `val` and `test`.

use std::path::Path;

use image::{DynamicImage, GrayImage, RgbImage};
use ndarray::{Array2, Array4, Axis, stack};
use ndarray_npy::NpzWriter;

use super::images::{ImageSet, ImageSpec, prepare};
use super::npz::Npz;
use crate::{DaecfError, Result};

/// Reads every split of a MedMNIST .npz, converted to `spec`.
pub fn read_medmnist(path: &Path, spec: ImageSpec) -> Result<Vec<ImageSet>> {
    let mut npz = Npz::open(path)?;
    let shown = path.display().to_string();
    let bad = |reason: String| DaecfError::Format { path: shown.clone(), reason };
    let splits: Vec<String> =
        ["train", "val", "test"].iter().filter(|s| npz.has(&format!("{s}_images"))).map(|s| s.to_string()).collect();
    if splits.is_empty() {
        return Err(bad(format!(
            "no train_images, val_images or test_images (found: {}); a MedMNIST archive holds those",
            npz.names.join(", ")
        )));
    }
    let mut sets = Vec::new();
    for name in splits {
        let raw = npz.u8_array(&format!("{name}_images"))?;
        let (n, h, w, rgb) = match raw.shape() {
            &[n, h, w] => (n, h, w, false),
            &[n, h, w, 3] => (n, h, w, true),
            shape => {
                return Err(bad(format!("{name}_images has shape {shape:?}; expected N x H x W or N x H x W x 3")));
            }
        };
        let label_key = format!("{name}_labels");
        let labels = if npz.has(&label_key) {
            let labels = npz.labels(&label_key)?;
            if labels.len() != n {
                return Err(bad(format!("{name}_images has {n} images but {label_key} has {} labels", labels.len())));
            }
            labels.into_iter().map(Some).collect()
        } else {
            vec![None; n]
        };
        let mut images = Vec::with_capacity(n);
        for (i, sample) in raw.outer_iter().enumerate() {
            let pixels: Vec<u8> = sample.iter().copied().collect();
            let img = if rgb {
                RgbImage::from_raw(w as u32, h as u32, pixels).map(DynamicImage::ImageRgb8)
            } else {
                GrayImage::from_raw(w as u32, h as u32, pixels).map(DynamicImage::ImageLuma8)
            };
            let img = img.ok_or_else(|| bad(format!("{name}_images[{i}] has the wrong number of pixels")))?;
            images.push(prepare(&img, spec)?);
        }
        let views: Vec<_> = images.iter().map(|a| a.view()).collect();
        let images: Array4<f32> = if views.is_empty() {
            Array4::zeros((0, spec.channels, spec.size, spec.size))
        } else {
            stack(Axis(0), &views).map_err(|e| bad(e.to_string()))?
        };
        let ids = (0..n).map(|i| format!("{name}/{i}")).collect();
        sets.push(ImageSet { name, images, labels, ids, groups: None });
    }
    Ok(sets)
}

/// Writes image sets named `train`, `val` or `test` as a MedMNIST archive: `<split>_images`
/// uint8 N x H x W (grey) or N x H x W x 3 (RGB), `<split>_labels` uint8 N x 1 (unlabelled
/// images get 0), compressed.
pub fn write_medmnist(path: &Path, sets: &[ImageSet]) -> Result<()> {
    let shown = path.display().to_string();
    let io = |e: std::io::Error| DaecfError::Io { path: shown.clone(), source: e };
    let fail = |e: ndarray_npy::WriteNpzError| DaecfError::Format { path: shown.clone(), reason: e.to_string() };
    let mut npz = NpzWriter::new_compressed(std::fs::File::create(path).map_err(io)?);
    for set in sets {
        let (n, c, _, _) = set.images.dim();
        let to_u8 = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        let key = format!("{}_images", set.name);
        if c == 1 {
            let images = set.images.index_axis(Axis(1), 0).mapv(to_u8);
            npz.add_array(key, &images).map_err(fail)?;
        } else {
            let images = set.images.view().permuted_axes([0, 2, 3, 1]).mapv(to_u8);
            npz.add_array(key, &images.as_standard_layout()).map_err(fail)?;
        }
        let labels = Array2::from_shape_fn((n, 1), |(i, _)| set.labels[i].unwrap_or(0).clamp(0, 255) as u8);
        npz.add_array(format!("{}_labels", set.name), &labels).map_err(fail)?;
    }
    npz.finish().map_err(fail)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, Array3};
    use ndarray_npy::NpzWriter;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// Writes an archive in MedMNIST's exact layout: uint8 images, uint8 labels of shape (N, 1).
    fn write_raw_medmnist(path: &Path, rgb: bool) {
        let mut npz = NpzWriter::new(std::fs::File::create(path).unwrap());
        for (split, n) in [("train", 5usize), ("val", 2), ("test", 3)] {
            if rgb {
                let images = ndarray::Array4::from_shape_fn((n, 28, 28, 3), |(i, y, _, c)| (i * 40 + y + c * 50) as u8);
                npz.add_array(format!("{split}_images"), &images).unwrap();
            } else {
                let images = Array3::from_shape_fn((n, 28, 28), |(i, y, x)| (i * 40 + y + x) as u8);
                npz.add_array(format!("{split}_images"), &images).unwrap();
            }
            npz.add_array(format!("{split}_labels"), &Array2::from_shape_fn((n, 1), |(i, _)| (i % 5) as u8)).unwrap();
        }
        npz.finish().unwrap();
    }

    #[test]
    #[cfg_attr(target_arch = "wasm32", ignore = "no file system in the browser")]
    fn reads_medmnist_layout_grey_and_rgb() {
        let dir = std::env::temp_dir().join(format!("daecf-medmnist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let grey = dir.join("grey.npz");
        write_raw_medmnist(&grey, false);
        let sets = read_medmnist(&grey, ImageSpec { size: 28, channels: 1 }).unwrap();
        assert_eq!(
            sets.iter().map(|s| (s.name.as_str(), s.len())).collect::<Vec<_>>(),
            vec![("train", 5), ("val", 2), ("test", 3)]
        );
        assert_eq!(sets[0].labels, vec![Some(0), Some(1), Some(2), Some(3), Some(4)]);
        assert!((sets[0].images[[1, 0, 2, 3]] - 45.0 / 255.0).abs() < 1e-6);
        let rgb = dir.join("rgb.npz");
        write_raw_medmnist(&rgb, true);
        let sets = read_medmnist(&rgb, ImageSpec { size: 16, channels: 3 }).unwrap();
        assert_eq!(sets[2].images.dim(), (3, 3, 16, 16));
        let again = dir.join("again.npz");
        super::write_medmnist(&again, &sets).unwrap();
        let back = read_medmnist(&again, ImageSpec { size: 16, channels: 3 }).unwrap();
        for (a, b) in back.iter().zip(&sets) {
            assert_eq!((&a.name, &a.labels, &a.ids), (&b.name, &b.labels, &b.ids));
            assert!(a.images.iter().zip(&b.images).all(|(x, y)| (x - y).abs() <= 0.51 / 255.0), "8-bit round trip");
        }
        let err = read_medmnist(&dir.join("missing.npz"), ImageSpec { size: 16, channels: 3 }).unwrap_err();
        assert!(err.to_string().contains("missing.npz"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
