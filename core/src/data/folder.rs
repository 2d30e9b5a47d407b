//! A folder of images and volumes, or one volume file: PNG/JPEG images, NIfTI volumes and DICOM
//! files or series (feature `volumes`), searched recursively and sorted by path, with an optional
//! CSV of labels and groups. Volumes become 2D slices ([`super::volume`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ndarray::{Array3, Array4, Axis, stack};

use super::images::{ImageSet, ImageSpec, prepare_bytes};
use super::volume::Slicing;
use crate::{DaecfError, Result};

/// An image (or volume) that could not be used, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// The file (for a DICOM series, the files at fault).
    pub path: PathBuf,
    /// What was wrong.
    pub reason: String,
}

/// How a folder is read.
#[derive(Debug, Clone, Default)]
pub struct FolderOptions {
    /// The labels CSV; `None`: `labels.csv` in the folder when it exists.
    pub labels_csv: Option<PathBuf>,
    /// The labels CSV's column of groups (patient or study ids), by its header; `None`: the
    /// column headed `group`, when there is one.
    pub group_column: Option<String>,
    /// Stop at the first unreadable file instead of skipping it.
    pub strict: bool,
    /// How volumes are cut into slices.
    pub slicing: Slicing,
}

/// The kinds of file a folder may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum FileKind {
    Picture,
    Nifti,
    Dicom,
}

/// Reads every image, NIfTI volume and DICOM series under `path` (a folder, or one NIfTI or
/// DICOM file). Unreadable files are returned in the second list, or, with `strict`, fail the
/// whole read.
///
/// Labels come from the CSV (see [`FolderOptions`]): its first column is an image's path
/// relative to the folder (or its file name), a volume's (a NIfTI file's, or a DICOM series
/// folder's) relative path for all of its slices, or a slice's id (`<volume>#z=<index>`); the
/// second the integer label (empty or `NA`: unlabelled). A group column gives each image or
/// volume a group; a volume's slices are otherwise grouped by their volume.
pub fn read_folder(path: &Path, options: &FolderOptions, spec: ImageSpec) -> Result<(ImageSet, Vec<Rejected>)> {
    let (root, mut files) = if path.is_dir() {
        let mut files = Vec::new();
        collect_files(path, &mut files)?;
        (path.to_path_buf(), files)
    } else {
        let kind = file_kind(path).ok_or_else(|| {
            DaecfError::Data(format!("{}: not a folder, a NIfTI (.nii, .nii.gz) or a DICOM file", path.display()))
        })?;
        (path.parent().map(Path::to_path_buf).unwrap_or_default(), vec![(path.to_path_buf(), kind)])
    };
    files.sort();
    if files.is_empty() {
        return Err(DaecfError::Data(format!(
            "{} holds no images (.png, .jpg, .jpeg) or volumes (.nii, .nii.gz, DICOM)",
            path.display()
        )));
    }
    let default_csv = root.join("labels.csv");
    let csv = options.labels_csv.clone().or_else(|| (path.is_dir() && default_csv.is_file()).then_some(default_csv));
    let table = match &csv {
        Some(csv) => read_labels(csv, options.group_column.as_deref())?,
        None if options.group_column.is_some() => {
            return Err(DaecfError::Config("a group column was named, but there is no labels CSV".into()));
        }
        None => LabelTable::default(),
    };
    let mut read = FolderRead { options, spec, table: &table, items: Vec::new(), rejected: Vec::new() };
    let relative = |p: &Path| p.strip_prefix(&root).unwrap_or(p).to_string_lossy().replace('\\', "/");
    let mut dicom_files = Vec::new();
    for (file, kind) in files {
        match kind {
            FileKind::Picture => read.picture(&file, relative(&file))?,
            FileKind::Nifti => read.nifti(&file, relative(&file))?,
            FileKind::Dicom => dicom_files.push(file),
        }
    }
    read.dicom(&root, dicom_files)?;
    read.finish(path)
}

/// One image of a folder, prepared for the model.
struct FolderImage {
    pixels: Array3<f32>,
    id: String,
    label: Option<i64>,
    group: Option<String>,
}

/// A folder being read: the images so far and the files rejected.
struct FolderRead<'a> {
    options: &'a FolderOptions,
    spec: ImageSpec,
    table: &'a LabelTable,
    items: Vec<FolderImage>,
    rejected: Vec<Rejected>,
}

impl FolderRead<'_> {
    /// Adds one image (`volume`: the volume a slice is of), or rejects its file.
    fn add(
        &mut self,
        prepared: std::result::Result<Array3<f32>, String>,
        id: String,
        name: Option<String>,
        volume: Option<&str>,
        file: &Path,
    ) -> Result<()> {
        let pixels = match prepared {
            Ok(pixels) => pixels,
            Err(reason) => return self.reject(file.to_path_buf(), reason),
        };
        let keys = [Some(id.as_str()), name.as_deref(), volume];
        let label = keys.iter().flatten().find_map(|k| self.table.labels.get(*k)).copied().flatten();
        let group = keys.iter().flatten().find_map(|k| self.table.groups.get(*k)).cloned().or(volume.map(String::from));
        self.items.push(FolderImage { pixels, id, label, group });
        Ok(())
    }

    fn reject(&mut self, path: PathBuf, reason: String) -> Result<()> {
        if self.options.strict {
            return Err(DaecfError::Data(format!(
                "{}: {reason} (without --strict it would be skipped)",
                path.display()
            )));
        }
        self.rejected.push(Rejected { path, reason });
        Ok(())
    }

    /// Adds a PNG or JPEG file.
    fn picture(&mut self, file: &Path, id: String) -> Result<()> {
        let prepared = std::fs::read(file)
            .map_err(|e| e.to_string())
            .and_then(|bytes| prepare_bytes(&bytes, self.spec).map_err(|e| e.to_string()));
        let name = file.file_name().map(|n| n.to_string_lossy().to_string());
        self.add(prepared, id, name, None, file)
    }

    /// Adds the slices of a volume.
    #[cfg(feature = "volumes")]
    fn slices(&mut self, volume: Result<super::volume::Volume>, file: &Path) -> Result<()> {
        let sliced = volume.and_then(|v| Ok((v.slices(&self.options.slicing)?, v.id)));
        let (slices, volume_id) = match sliced {
            Ok(sliced) => sliced,
            Err(e) => return self.reject(file.to_path_buf(), volume_reason(e)),
        };
        for slice in slices {
            let prepared = super::images::prepare(&slice.picture, self.spec).map_err(|e| e.to_string());
            self.add(prepared, slice.id, None, Some(&volume_id), file)?;
        }
        Ok(())
    }

    #[cfg(feature = "volumes")]
    fn nifti(&mut self, file: &Path, id: String) -> Result<()> {
        self.slices(super::volume::nifti::read_nifti(file, &id), file)
    }

    #[cfg(feature = "volumes")]
    fn dicom(&mut self, root: &Path, files: Vec<PathBuf>) -> Result<()> {
        use super::volume::dicom;
        let mut images = Vec::new();
        for file in files {
            match dicom::read_dicom(&file) {
                Ok(image) => images.push(image),
                Err(e) => self.reject(file, volume_reason(e))?,
            }
        }
        for (id, series) in dicom::group_series(root, images) {
            // A series is named by its folder, a file on its own by itself.
            let path = match series.as_slice() {
                [one] => one.path.clone(),
                more => more[0].path.parent().map_or_else(|| more[0].path.clone(), Path::to_path_buf),
            };
            self.slices(dicom::series_volume(&id, series), &path)?;
        }
        Ok(())
    }

    #[cfg(not(feature = "volumes"))]
    fn nifti(&mut self, file: &Path, _id: String) -> Result<()> {
        self.reject(file.to_path_buf(), NO_VOLUMES.into())
    }

    #[cfg(not(feature = "volumes"))]
    fn dicom(&mut self, _root: &Path, files: Vec<PathBuf>) -> Result<()> {
        files.into_iter().try_for_each(|file| self.reject(file, NO_VOLUMES.into()))
    }

    fn finish(self, path: &Path) -> Result<(ImageSet, Vec<Rejected>)> {
        if self.items.is_empty() {
            let first = self
                .rejected
                .first()
                .map_or(String::new(), |r| format!(" (the first, {}: {})", r.path.display(), r.reason));
            return Err(DaecfError::Data(format!(
                "none of the {} files in {} could be read{first}; daecf reads PNG, JPEG, NIfTI and DICOM",
                self.rejected.len(),
                path.display()
            )));
        }
        let grouped = self.items.iter().any(|item| item.group.is_some());
        let views: Vec<_> = self.items.iter().map(|item| item.pixels.view()).collect();
        let images: Array4<f32> = stack(Axis(0), &views).map_err(|e| DaecfError::Data(e.to_string()))?;
        let labels = self.items.iter().map(|item| item.label).collect();
        // An image without a group is a group of its own.
        let groups = grouped
            .then(|| self.items.iter().map(|item| item.group.clone().unwrap_or_else(|| item.id.clone())).collect());
        let ids = self.items.into_iter().map(|item| item.id).collect();
        Ok((ImageSet { name: "images".into(), images, labels, ids, groups }, self.rejected))
    }
}

/// What was wrong with a volume, without repeating its path.
#[cfg(feature = "volumes")]
fn volume_reason(e: DaecfError) -> String {
    match e {
        DaecfError::Format { reason, .. } | DaecfError::Data(reason) => reason,
        e => e.to_string(),
    }
}

#[cfg(not(feature = "volumes"))]
const NO_VOLUMES: &str = "this build of daecf reads no NIfTI or DICOM files (it lacks the `volumes` feature)";

/// Whether `path` names a NIfTI or DICOM file (by its name, or the DICOM mark of a file without
/// an extension).
pub fn is_volume_file(path: &Path) -> bool {
    matches!(file_kind(path), Some(FileKind::Nifti | FileKind::Dicom))
}

fn file_kind(path: &Path) -> Option<FileKind> {
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if matches!(ext.as_str(), "png" | "jpg" | "jpeg") {
        Some(FileKind::Picture)
    } else if name.ends_with(".nii") || name.ends_with(".nii.gz") {
        Some(FileKind::Nifti)
    } else if matches!(ext.as_str(), "dcm" | "dicom") || (ext.is_empty() && has_dicom_mark(path)) {
        Some(FileKind::Dicom)
    } else {
        None
    }
}

/// Whether a file has the `DICM` mark of a DICOM Part 10 file at byte 128.
fn has_dicom_mark(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 132];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head[128..] == b"DICM"
}

fn collect_files(dir: &Path, out: &mut Vec<(PathBuf, FileKind)>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).map_err(|source| DaecfError::Io { path: dir.display().to_string(), source })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if let Some(kind) = file_kind(&path) {
            out.push((path, kind));
        }
    }
    Ok(())
}

/// The labels and groups of a labels CSV, by image, volume or slice id.
#[derive(Debug, Default)]
struct LabelTable {
    /// Label per id (`None`: listed, but unlabelled).
    labels: HashMap<String, Option<i64>>,
    /// Group per id, from the group column.
    groups: HashMap<String, String>,
}

/// Reads `file,label[,...]` rows; a first row whose label is not an integer is taken as a header,
/// and the header's `group_column` (default `group`) gives groups. An empty label cell, or `NA`
/// (any case, also `N/A`), marks an image as unlabelled.
fn read_labels(path: &Path, group_column: Option<&str>) -> Result<LabelTable> {
    let bad = |reason: String| DaecfError::Format { path: path.display().to_string(), reason };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| bad(e.to_string()))?;
    let mut table = LabelTable::default();
    let mut group_at = None;
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| bad(e.to_string()))?;
        let (Some(file), Some(label)) = (row.get(0), row.get(1)) else {
            return Err(bad(format!("line {}: expected file,label", i + 1)));
        };
        let label = match label.parse::<i64>() {
            _ if is_unlabelled(label) => None,
            Ok(label) => Some(label),
            Err(_) if i == 0 => {
                let wanted = group_column.unwrap_or("group");
                group_at = row.iter().position(|h| h.eq_ignore_ascii_case(wanted));
                if group_at.is_none() && group_column.is_some() {
                    let header = row.iter().collect::<Vec<_>>().join(",");
                    return Err(bad(format!("no column '{wanted}' in the header ({header})")));
                }
                continue;
            }
            Err(_) => return Err(bad(format!("line {}: label '{label}' is not an integer", i + 1))),
        };
        table.labels.insert(file.to_string(), label);
        if let Some(group) = group_at.and_then(|k| row.get(k)).filter(|g| !g.is_empty()) {
            table.groups.insert(file.to_string(), group.to_string());
        }
    }
    if group_column.is_some() && group_at.is_none() {
        return Err(bad("a group column was named, but the CSV has no header row".into()));
    }
    Ok(table)
}

/// Whether a label cell marks its image as unlabelled: empty, `NA` or `N/A` in any case.
fn is_unlabelled(cell: &str) -> bool {
    cell.is_empty() || cell.eq_ignore_ascii_case("na") || cell.eq_ignore_ascii_case("n/a")
}

#[cfg(all(test, feature = "volumes"))]
mod volume_tests;

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
        let options = FolderOptions::default();
        let strict = FolderOptions { strict: true, ..FolderOptions::default() };
        let (set, rejected) = read_folder(&dir, &options, spec).unwrap();
        assert_eq!(set.ids, vec!["a.png", "c.png", "sub/b.jpg"]);
        assert_eq!(set.labels, vec![Some(2), None, Some(0)]);
        assert_eq!(set.images.dim(), (3, 1, 4, 4));
        assert!((set.images[[0, 0, 1, 1]] - 200.0 / 255.0).abs() < 1e-5);
        assert_eq!(rejected.len(), 1);
        assert!(rejected[0].path.ends_with("broken.png"));
        let strict = read_folder(&dir, &strict, spec).unwrap_err().to_string();
        assert!(strict.contains("broken.png"), "{strict}");
        std::fs::write(dir.join("labels.csv"), "a.png,two\n").unwrap();
        assert!(read_folder(&dir, &options, spec).is_ok(), "a non-integer first row is a header");
        std::fs::write(dir.join("labels.csv"), "a.png,1\nc.png,x\n").unwrap();
        assert!(read_folder(&dir, &options, spec).unwrap_err().to_string().contains("line 2"));
        // Empty cells and NA mark unlabelled images, as spreadsheets write them.
        std::fs::write(dir.join("labels.csv"), "file,label\na.png,\nsub/b.jpg,NA\nc.png,1\n").unwrap();
        assert_eq!(read_folder(&dir, &options, spec).unwrap().0.labels, vec![None, Some(1), None]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
