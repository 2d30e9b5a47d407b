//! A folder of PNG/JPEG images (searched recursively, sorted by path), with an optional CSV of
//! labels (`file,label`; a header line is allowed; unlabelled images are allowed too).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ndarray::{Array4, Axis, stack};

use super::images::{ImageSet, ImageSpec, prepare_bytes};
use crate::{DaecfError, Result};

/// An image that could not be used, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// The file.
    pub path: PathBuf,
    /// What was wrong.
    pub reason: String,
}

/// Reads every PNG/JPEG under `dir`. Unreadable images are returned in the second list, or,
/// with `strict`, fail the whole read. Labels come from `labels_csv` when given, else from
/// `dir/labels.csv` when it exists; the CSV's first column is the path relative to `dir` (or
/// the file name), the second the integer label.
pub fn read_folder(
    dir: &Path,
    labels_csv: Option<&Path>,
    spec: ImageSpec,
    strict: bool,
) -> Result<(ImageSet, Vec<Rejected>)> {
    let mut files = Vec::new();
    collect_images(dir, &mut files)?;
    files.sort();
    if files.is_empty() {
        return Err(DaecfError::Data(format!("{} holds no .png, .jpg or .jpeg images", dir.display())));
    }
    let default_csv = dir.join("labels.csv");
    let csv = labels_csv.map(Path::to_path_buf).or_else(|| default_csv.is_file().then_some(default_csv));
    let labels = match &csv {
        Some(csv) => read_labels(csv)?,
        None => HashMap::new(),
    };
    let (mut images, mut ids, mut found, mut rejected) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for path in files {
        let id = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().replace('\\', "/");
        let prepared = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| prepare_bytes(&bytes, spec).map_err(|e| e.to_string()));
        match prepared {
            Ok(img) => {
                let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
                found.push(labels.get(&id).or_else(|| labels.get(&name)).copied());
                images.push(img);
                ids.push(id);
            }
            Err(reason) if strict => {
                return Err(DaecfError::Data(format!(
                    "{}: {reason} (without --strict it would be skipped)",
                    path.display()
                )));
            }
            Err(reason) => rejected.push(Rejected { path, reason }),
        }
    }
    if images.is_empty() {
        let first =
            rejected.first().map_or(String::new(), |r| format!(" (the first, {}: {})", r.path.display(), r.reason));
        return Err(DaecfError::Data(format!(
            "none of the {} images in {} could be read{first}; daecf reads PNG and JPEG files",
            rejected.len(),
            dir.display()
        )));
    }
    let views: Vec<_> = images.iter().map(|a| a.view()).collect();
    let images: Array4<f32> = stack(Axis(0), &views).map_err(|e| DaecfError::Data(e.to_string()))?;
    Ok((ImageSet { name: "images".into(), images, labels: found, ids }, rejected))
}

fn collect_images(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).map_err(|source| DaecfError::Io { path: dir.display().to_string(), source })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_images(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads `file,label` rows; a first row whose label is not an integer is taken as a header. An
/// empty label cell, or `NA` (any case, also `N/A`), marks an image as unlabelled: it is left out.
fn read_labels(path: &Path) -> Result<HashMap<String, i64>> {
    let bad = |reason: String| DaecfError::Format { path: path.display().to_string(), reason };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| bad(e.to_string()))?;
    let mut labels = HashMap::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| bad(e.to_string()))?;
        let (Some(file), Some(label)) = (row.get(0), row.get(1)) else {
            return Err(bad(format!("line {}: expected file,label", i + 1)));
        };
        if is_unlabelled(label) {
            continue;
        }
        match label.parse::<i64>() {
            Ok(label) => {
                labels.insert(file.to_string(), label);
            }
            Err(_) if i == 0 => {} // header
            Err(_) => return Err(bad(format!("line {}: label '{label}' is not an integer", i + 1))),
        }
    }
    Ok(labels)
}

/// Whether a label cell marks its image as unlabelled: empty, `NA` or `N/A` in any case.
fn is_unlabelled(cell: &str) -> bool {
    cell.is_empty() || cell.eq_ignore_ascii_case("na") || cell.eq_ignore_ascii_case("n/a")
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, Rgb};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    #[cfg_attr(target_arch = "wasm32", ignore = "no file system in the browser")]
    fn reads_images_labels_and_reports_bad_files() {
        let dir = std::env::temp_dir().join(format!("daecf-folder-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        ImageBuffer::from_pixel(10, 8, Luma([200u8])).save(dir.join("a.png")).unwrap();
        ImageBuffer::from_pixel(8, 8, Rgb([10u8, 20, 30])).save(dir.join("sub/b.jpg")).unwrap();
        ImageBuffer::from_pixel(9, 9, Luma([1000u16])).save(dir.join("c.png")).unwrap();
        std::fs::write(dir.join("broken.png"), b"not a png").unwrap();
        std::fs::write(dir.join("labels.csv"), "file,label\na.png,2\nsub/b.jpg,0\n").unwrap();
        let spec = ImageSpec { size: 4, channels: 1 };
        let (set, rejected) = read_folder(&dir, None, spec, false).unwrap();
        assert_eq!(set.ids, vec!["a.png", "c.png", "sub/b.jpg"]);
        assert_eq!(set.labels, vec![Some(2), None, Some(0)]);
        assert_eq!(set.images.dim(), (3, 1, 4, 4));
        assert!((set.images[[0, 0, 1, 1]] - 200.0 / 255.0).abs() < 1e-5);
        assert_eq!(rejected.len(), 1);
        assert!(rejected[0].path.ends_with("broken.png"));
        let strict = read_folder(&dir, None, spec, true).unwrap_err().to_string();
        assert!(strict.contains("broken.png"), "{strict}");
        std::fs::write(dir.join("labels.csv"), "a.png,two\n").unwrap();
        assert!(read_folder(&dir, None, spec, false).is_ok(), "a non-integer first row is a header");
        std::fs::write(dir.join("labels.csv"), "a.png,1\nc.png,x\n").unwrap();
        assert!(read_folder(&dir, None, spec, false).unwrap_err().to_string().contains("line 2"));
        // Empty cells and NA mark unlabelled images, as spreadsheets write them.
        std::fs::write(dir.join("labels.csv"), "file,label\na.png,\nsub/b.jpg,NA\nc.png,1\n").unwrap();
        assert_eq!(read_folder(&dir, None, spec, false).unwrap().0.labels, vec![None, Some(1), None]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
