//! Reading arrays of any common dtype from an .npz archive (ndarray-npy reads one dtype at a
//! time; files in the wild hold int64, int32 or uint8 labels and float32 or float64 data).

use std::fs::File;
use std::path::Path;

use ndarray::{Array2, ArrayD, IxDyn};
use ndarray_npy::NpzReader;

use crate::{DaecfError, Result};

/// An open .npz archive with the names of its arrays (without the `.npy` suffix).
pub(crate) struct Npz {
    reader: NpzReader<File>,
    path: String,
    /// The array names, without `.npy`.
    pub names: Vec<String>,
}

impl Npz {
    /// Opens `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|source| DaecfError::Io { path: shown.clone(), source })?;
        let mut reader = NpzReader::new(file).map_err(|e| not_npz(&shown, e))?;
        let names = reader
            .names()
            .map_err(|e| not_npz(&shown, e))?
            .into_iter()
            .map(|n| n.trim_end_matches(".npy").to_string())
            .collect();
        Ok(Self { reader, path: shown, names })
    }

    /// Whether the archive holds `name`.
    pub fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    fn format_error(&self, reason: String) -> DaecfError {
        DaecfError::Format { path: self.path.clone(), reason }
    }

    /// Reads `name` as an f32 array of any shape (f32 or f64 on disk).
    pub fn array_f32(&mut self, name: &str) -> Result<ArrayD<f32>> {
        match self.reader.by_name::<_, IxDyn>(name) {
            Ok(a) => Ok(a),
            Err(_) => self
                .reader
                .by_name::<_, IxDyn>(name)
                .map(|a: ArrayD<f64>| a.mapv(|v| v as f32))
                .map_err(|e| self.format_error(format!("{name}: {e}; expected a float32 or float64 array"))),
        }
    }

    /// Reads `name` as an f32 matrix (f32 or f64 on disk).
    pub fn matrix_f32(&mut self, name: &str) -> Result<Array2<f32>> {
        let array = self.array_f32(name)?;
        let shape = array.shape().to_vec();
        array
            .into_dimensionality()
            .map_err(|_| self.format_error(format!("{name} has shape {shape:?}; expected (samples, dims)")))
    }

    /// Reads `name` as a uint8 array of any shape (MedMNIST images).
    pub fn u8_array(&mut self, name: &str) -> Result<ArrayD<u8>> {
        self.reader
            .by_name::<_, IxDyn>(name)
            .map_err(|e| self.format_error(format!("{name}: {e}; expected uint8 images as MedMNIST stores them")))
    }

    /// Reads `name` as integer labels: int64, int32, uint8 or integral floats, shape (N) or (N, 1).
    pub fn labels(&mut self, name: &str) -> Result<Vec<i64>> {
        let values: ArrayD<i64> = if let Ok(a) = self.reader.by_name::<_, IxDyn>(name) {
            a
        } else if let Ok(a) = self.reader.by_name::<_, IxDyn>(name) {
            let a: ArrayD<i32> = a;
            a.mapv(i64::from)
        } else if let Ok(a) = self.reader.by_name::<_, IxDyn>(name) {
            let a: ArrayD<u8> = a;
            a.mapv(i64::from)
        } else {
            let a: ArrayD<f64> = self
                .reader
                .by_name(name)
                .map_err(|e| self.format_error(format!("{name}: {e}; expected integer labels")))?;
            if let Some(v) = a.iter().find(|v| v.fract() != 0.0 || !v.is_finite()) {
                return Err(self.format_error(format!("{name} holds {v}, which is not an integer label")));
            }
            a.mapv(|v| v as i64)
        };
        match values.shape() {
            [_] | [_, 1] => Ok(values.iter().copied().collect()),
            shape => Err(self.format_error(format!("{name} has shape {shape:?}; expected one label per sample"))),
        }
    }
}

fn not_npz(path: &str, e: impl std::fmt::Display) -> DaecfError {
    DaecfError::Format { path: path.into(), reason: format!("not a readable .npz archive ({e})") }
}
