//! The latents file: z_sem of a data set's images with their labels, per split, in the layout
//! of the paper's published RetinaMNIST latents (`train_latents` (N x 512 float32),
//! `train_labels` (N int64), `val_*`, `test_*`; labels optional). A split labelled only in part
//! also has `<split>_labelled` (N uint8, 1 where the row has a label); its unlabelled rows hold
//! the label -1 (numpy: `labels[labelled.astype(bool)]`). `<split>_ids` and `<split>_groups`
//! hold each row's image id and group (patient or study id) when the images had them.

use std::path::Path;

use ndarray::{Array2, Array4, ArrayView2};
use ndarray_npy::NpzWriter;

use super::npz::Npz;
use crate::{DaecfError, Result};

/// The latents and (optional) labels of one split.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentSplit {
    /// Split name: `train`, `val`, `test` or another prefix found in the file.
    pub name: String,
    /// One z_sem per row.
    pub latents: Array2<f32>,
    /// One label per row, when the file has `<name>_labels` ([`UNLABELLED`] where `labelled`
    /// says a row has none).
    pub labels: Option<Vec<i64>>,
    /// Which rows are labelled, when only some are (`<name>_labelled`); `None`: all of them.
    pub labelled: Option<Vec<bool>>,
    /// One id per row (file name or index in the source), when the file has `<name>_ids`.
    pub ids: Option<Vec<String>>,
    /// One group (patient or study id) per row, when the file has `<name>_groups`: the splits
    /// that daecf makes of these rows keep a group on one side.
    pub groups: Option<Vec<String>>,
    /// The stochastic codes x_T [N, C, H, W], when the file has `<name>_xT`.
    pub x_t: Option<Array4<f32>>,
}

/// The label a latents file gives an unlabelled row.
pub const UNLABELLED: i64 = -1;

/// The labelled rows of a split.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledRows {
    /// Their indices in the split.
    pub rows: Vec<usize>,
    /// Their latents.
    pub latents: Array2<f32>,
    /// Their labels.
    pub labels: Vec<i64>,
}

impl LatentSplit {
    /// A split of `latents` with a label, or none, per row (`labels` empty: no labels at all).
    pub fn new(name: String, latents: Array2<f32>, labels: &[Option<i64>], ids: Option<Vec<String>>) -> Self {
        let all = labels.iter().all(Option::is_some);
        Self {
            name,
            latents,
            labels: (!labels.is_empty() && labels.iter().any(Option::is_some))
                .then(|| labels.iter().map(|l| l.unwrap_or(UNLABELLED)).collect()),
            labelled: (!all && labels.iter().any(Option::is_some))
                .then(|| labels.iter().map(Option::is_some).collect()),
            ids,
            groups: None,
            x_t: None,
        }
    }

    /// The label of row `i`, if it has one.
    pub fn label(&self, i: usize) -> Option<i64> {
        let labelled = self.labelled.as_ref().is_none_or(|m| m[i]);
        self.labels.as_ref().filter(|_| labelled).map(|l| l[i])
    }

    /// The split of rows `rows` of this one, named `name`.
    pub fn subset(&self, name: &str, rows: &[usize]) -> LatentSplit {
        let axis = ndarray::Axis(0);
        LatentSplit {
            name: name.into(),
            latents: self.latents.select(axis, rows),
            labels: self.labels.as_ref().map(|l| rows.iter().map(|&i| l[i]).collect()),
            labelled: self.labelled.as_ref().map(|m| rows.iter().map(|&i| m[i]).collect()),
            ids: self.ids.as_ref().map(|ids| rows.iter().map(|&i| ids[i].clone()).collect()),
            groups: self.groups.as_ref().map(|groups| rows.iter().map(|&i| groups[i].clone()).collect()),
            x_t: self.x_t.as_ref().map(|x| x.select(axis, rows)),
        }
    }

    /// The labelled rows (all when the split is fully labelled), or an error naming the split
    /// when none is.
    pub fn labelled_rows(&self) -> Result<LabelledRows> {
        let rows: Vec<usize> = (0..self.latents.nrows()).filter(|&i| self.label(i).is_some()).collect();
        if rows.is_empty() {
            return Err(DaecfError::Data(format!(
                "split '{}' has no labelled rows ({}_labels is missing or every row is unlabelled)",
                self.name, self.name
            )));
        }
        let labels = rows.iter().filter_map(|&i| self.label(i)).collect();
        Ok(LabelledRows { latents: self.latents.select(ndarray::Axis(0), &rows), labels, rows })
    }

    /// The latents as a view.
    pub fn view(&self) -> ArrayView2<'_, f32> {
        self.latents.view()
    }
}

/// The splits of a latents file, in the order train, val, test, then any others.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentSet {
    /// The splits.
    pub splits: Vec<LatentSplit>,
}

impl LatentSet {
    /// Reads and checks a latents .npz file: every `<split>_latents` array with its
    /// `<split>_labels` when present; lengths, dimensions and values are checked.
    pub fn read(path: &Path) -> Result<Self> {
        let mut npz = Npz::open(path)?;
        let shown = path.display().to_string();
        let mut names: Vec<String> =
            npz.names.iter().filter_map(|n| n.strip_suffix("_latents")).map(str::to_string).collect();
        if names.is_empty() {
            return Err(DaecfError::Format {
                path: shown,
                reason: format!(
                    "no <split>_latents array (found: {}); a latents file holds train_latents, train_labels, \
                     val_latents, ... as `daecf encode` writes them",
                    npz.names.join(", ")
                ),
            });
        }
        let rank = |n: &String| ["train", "val", "test"].iter().position(|s| s == n).unwrap_or(3);
        names.sort_by_key(|n| (rank(n), n.clone()));
        let mut splits = Vec::with_capacity(names.len());
        for name in names {
            let latents = npz.matrix_f32(&format!("{name}_latents"))?;
            let label_key = format!("{name}_labels");
            let labels = if npz.has(&label_key) { Some(npz.labels(&label_key)?) } else { None };
            let mask_key = format!("{name}_labelled");
            let labelled = if npz.has(&mask_key) {
                Some(npz.u8_array(&mask_key)?.iter().map(|&b| b != 0).collect::<Vec<bool>>())
            } else {
                None
            };
            let mut texts = |key: String| -> Result<Option<Vec<String>>> {
                if npz.has(&key) { Ok(Some(decode_ids(&npz.u8_array(&key)?, &shown, &key)?)) } else { Ok(None) }
            };
            let (ids, groups) = (texts(format!("{name}_ids"))?, texts(format!("{name}_groups"))?);
            let x_t_key = format!("{name}_xT");
            let x_t = if npz.has(&x_t_key) {
                let a = npz.array_f32(&x_t_key)?;
                let shape = a.shape().to_vec();
                Some(a.into_dimensionality().map_err(|_| DaecfError::Format {
                    path: shown.clone(),
                    reason: format!("{x_t_key} has shape {shape:?}; expected (samples, channels, height, width)"),
                })?)
            } else {
                None
            };
            splits.push(LatentSplit { name, latents, labels, labelled, ids, groups, x_t });
        }
        let set = Self { splits };
        set.check().map_err(|reason| DaecfError::Format { path: shown, reason })?;
        Ok(set)
    }

    fn check(&self) -> std::result::Result<(), String> {
        let dim = self.splits[0].latents.ncols();
        for s in &self.splits {
            let (n, d) = s.latents.dim();
            if n == 0 || d == 0 {
                return Err(format!("{}_latents is empty ({n} x {d})", s.name));
            }
            if d != dim {
                return Err(format!(
                    "{}_latents has {d} dimensions but {}_latents has {dim}",
                    s.name, self.splits[0].name
                ));
            }
            if let Some(labels) = &s.labels
                && labels.len() != n
            {
                return Err(format!(
                    "{}_latents has {n} rows but {}_labels has {} labels",
                    s.name,
                    s.name,
                    labels.len()
                ));
            }
            if let Some(mask) = &s.labelled
                && (mask.len() != n || s.labels.is_none())
            {
                return Err(format!(
                    "{}_labelled has {} rows for {n} latents{}",
                    s.name,
                    mask.len(),
                    if s.labels.is_none() { ", and no labels" } else { "" }
                ));
            }
            for (key, texts) in [("ids", &s.ids), ("groups", &s.groups)] {
                if let Some(texts) = texts
                    && texts.len() != n
                {
                    return Err(format!("{}_latents has {n} rows but {}_{key} has {}", s.name, s.name, texts.len()));
                }
            }
            if let Some(x_t) = &s.x_t
                && x_t.len_of(ndarray::Axis(0)) != n
            {
                return Err(format!(
                    "{}_latents has {n} rows but {}_xT has {}",
                    s.name,
                    s.name,
                    x_t.len_of(ndarray::Axis(0))
                ));
            }
            if let Some((i, v)) = s.latents.indexed_iter().find(|(_, v)| !v.is_finite()) {
                return Err(format!(
                    "{}_latents[{}, {}] is {v}; re-encode the images or drop that sample",
                    s.name, i.0, i.1
                ));
            }
        }
        Ok(())
    }

    /// The split called `name`.
    pub fn split(&self, name: &str) -> Option<&LatentSplit> {
        self.splits.iter().find(|s| s.name == name)
    }

    /// The dimension of the latents.
    pub fn dim(&self) -> usize {
        self.splits[0].latents.ncols()
    }

    /// Writes the set in the same layout: `<split>_latents` float32, `<split>_labels` int64,
    /// `<split>_ids` and `<split>_groups` uint8 (N, L): each text's UTF-8 bytes, zero-padded (in
    /// numpy: `bytes(row).rstrip(b"\0").decode()`), and `<split>_xT` float32 (N, C, H, W).
    pub fn write(&self, path: &Path) -> Result<()> {
        let io = |e: std::io::Error| DaecfError::Io { path: path.display().to_string(), source: e };
        let npz_error = |e: ndarray_npy::WriteNpzError| DaecfError::Format {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let mut npz = NpzWriter::new(std::fs::File::create(path).map_err(io)?);
        for s in &self.splits {
            npz.add_array(format!("{}_latents", s.name), &s.latents).map_err(npz_error)?;
            if let Some(labels) = &s.labels {
                npz.add_array(format!("{}_labels", s.name), &ndarray::Array1::from(labels.clone()))
                    .map_err(npz_error)?;
            }
            if let Some(mask) = &s.labelled {
                let bytes: ndarray::Array1<u8> = mask.iter().map(|&b| u8::from(b)).collect();
                npz.add_array(format!("{}_labelled", s.name), &bytes).map_err(npz_error)?;
            }
            for (key, texts) in [("ids", &s.ids), ("groups", &s.groups)] {
                if let Some(texts) = texts {
                    npz.add_array(format!("{}_{key}", s.name), &encode_ids(texts)).map_err(npz_error)?;
                }
            }
            if let Some(x_t) = &s.x_t {
                npz.add_array(format!("{}_xT", s.name), x_t).map_err(npz_error)?;
            }
        }
        npz.finish().map_err(npz_error)?;
        Ok(())
    }
}

/// Ids as a zero-padded (N, L) byte matrix.
fn encode_ids(ids: &[String]) -> Array2<u8> {
    let width = ids.iter().map(String::len).max().unwrap_or(0).max(1);
    let mut out = Array2::zeros((ids.len(), width));
    for (mut row, id) in out.rows_mut().into_iter().zip(ids) {
        for (cell, b) in row.iter_mut().zip(id.bytes()) {
            *cell = b;
        }
    }
    out
}

/// The inverse of [`encode_ids`].
fn decode_ids(bytes: &ndarray::ArrayD<u8>, path: &str, key: &str) -> Result<Vec<String>> {
    let bad = |reason: String| DaecfError::Format { path: path.into(), reason };
    let matrix = bytes
        .view()
        .into_dimensionality::<ndarray::Ix2>()
        .map_err(|_| bad(format!("{key} must be (samples, bytes)")))?;
    matrix
        .rows()
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let used: Vec<u8> = row.iter().copied().take_while(|&b| b != 0).collect();
            String::from_utf8(used).map_err(|_| bad(format!("{key}[{i}] is not UTF-8")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array1;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// A fresh folder for one test; the test removes it when it passes.
    fn temp_dir(test: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("daecf-latents-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn split(name: &str, rows: usize, labels: Option<Vec<i64>>) -> LatentSplit {
        LatentSplit {
            name: name.into(),
            latents: Array2::from_shape_fn((rows, 3), |(i, j)| (i * 3 + j) as f32),
            labels,
            labelled: None,
            ids: None,
            groups: None,
            x_t: None,
        }
    }

    #[test]
    #[cfg_attr(target_arch = "wasm32", ignore = "no file system in the browser")]
    fn round_trip_orders_splits() {
        let set = LatentSet {
            splits: vec![
                split("train", 4, Some(vec![0, 1, 2, 1])),
                split("val", 2, Some(vec![1, 0])),
                split("test", 3, None),
            ],
        };
        let mut set = set;
        set.splits[1].ids = Some(vec!["a/b.png".into(), "ü.png".into()]);
        set.splits[0].groups = Some(["p1", "p1", "p2", "patient 3"].map(String::from).to_vec());
        set.splits[1].x_t = Some(Array4::from_shape_fn((2, 1, 2, 2), |(i, _, y, x)| (i + y * 2 + x) as f32));
        let dir = temp_dir("round-trip");
        let path = dir.join("ok.npz");
        set.write(&path).unwrap();
        let back = LatentSet::read(&path).unwrap();
        assert_eq!(back, set);
        assert_eq!(back.split("val").unwrap().labelled_rows().unwrap().labels, vec![1, 0]);
        assert!(back.split("test").unwrap().labelled_rows().unwrap_err().to_string().contains("test_labels"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    #[cfg_attr(target_arch = "wasm32", ignore = "no file system in the browser")]
    fn a_partly_labelled_split_keeps_every_row_and_says_which_are_labelled() {
        let latents = Array2::from_shape_fn((4, 2), |(i, j)| (i * 2 + j) as f32);
        let partial = LatentSplit::new("train".into(), latents.clone(), &[Some(2), None, Some(0), None], None);
        assert_eq!(partial.labels, Some(vec![2, UNLABELLED, 0, UNLABELLED]));
        assert_eq!((partial.label(0), partial.label(1)), (Some(2), None));
        let rows = partial.labelled_rows().unwrap();
        assert_eq!((rows.rows.clone(), rows.labels.clone()), (vec![0, 2], vec![2, 0]));
        assert_eq!(rows.latents.row(1).to_vec(), vec![4.0, 5.0]);
        let dir = temp_dir("partial");
        let path = dir.join("partial.npz");
        LatentSet { splits: vec![partial.clone()] }.write(&path).unwrap();
        assert_eq!(LatentSet::read(&path).unwrap().splits[0], partial);
        // Fully labelled: no mask; unlabelled: no labels.
        let full = LatentSplit::new("val".into(), latents.clone(), &[Some(1); 4], None);
        assert_eq!((full.labels.is_some(), full.labelled.is_none()), (true, true));
        let none = LatentSplit::new("test".into(), latents, &[None; 4], None);
        assert!(none.labels.is_none() && none.labelled_rows().is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    #[cfg_attr(target_arch = "wasm32", ignore = "no file system in the browser")]
    fn bad_files_name_the_problem() {
        let dir = temp_dir("bad-files");
        let write = |name: &str, f: &dyn Fn(&mut NpzWriter<std::fs::File>)| {
            let path = dir.join(name);
            let mut npz = NpzWriter::new(std::fs::File::create(&path).unwrap());
            f(&mut npz);
            npz.finish().unwrap();
            LatentSet::read(&path).unwrap_err().to_string()
        };
        let x = Array2::<f32>::zeros((3, 2));
        let wrong_keys = write("keys.npz", &|n| n.add_array("images", &x).unwrap());
        assert!(wrong_keys.contains("no <split>_latents") && wrong_keys.contains("images"), "{wrong_keys}");
        let lengths = write("len.npz", &|n| {
            n.add_array("train_latents", &x).unwrap();
            n.add_array("train_labels", &Array1::<i64>::zeros(2)).unwrap();
        });
        assert!(lengths.contains("3 rows but train_labels has 2"), "{lengths}");
        let nan = write("nan.npz", &|n| {
            let mut y = x.clone();
            y[[1, 1]] = f32::NAN;
            n.add_array("train_latents", &y).unwrap();
        });
        assert!(nan.contains("train_latents[1, 1] is NaN"), "{nan}");
        let dims = write("dims.npz", &|n| {
            n.add_array("train_latents", &x).unwrap();
            n.add_array("val_latents", &Array2::<f32>::zeros((3, 5))).unwrap();
        });
        assert!(dims.contains("5 dimensions"), "{dims}");
        let mask = write("mask.npz", &|n| {
            n.add_array("train_latents", &x).unwrap();
            n.add_array("train_labels", &Array1::<i64>::zeros(3)).unwrap();
            n.add_array("train_labelled", &Array1::<u8>::ones(2)).unwrap();
        });
        assert!(mask.contains("train_labelled has 2 rows for 3 latents"), "{mask}");
        let groups = write("groups.npz", &|n| {
            n.add_array("train_latents", &x).unwrap();
            n.add_array("train_groups", &Array2::<u8>::ones((4, 2))).unwrap();
        });
        assert!(groups.contains("3 rows but train_groups has 4"), "{groups}");
        let uint8 = dir.join("u8.npz");
        let mut npz = NpzWriter::new(std::fs::File::create(&uint8).unwrap());
        npz.add_array("train_latents", &x).unwrap();
        npz.add_array("train_labels", &ndarray::Array2::<u8>::from_elem((3, 1), 2)).unwrap();
        npz.finish().unwrap();
        assert_eq!(LatentSet::read(&uint8).unwrap().splits[0].labels, Some(vec![2, 2, 2]));
        assert!(LatentSet::read(&dir.join("missing.npz")).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
