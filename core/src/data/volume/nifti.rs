//! NIfTI-1 volumes (`.nii`, `.nii.gz`), the format of VerSe, BraTS and most research scans, read
//! with the `nifti` crate: the voxel values with the header's scaling (`scl_slope`,
//! `scl_inter`) applied, and the voxel size from `pixdim`.

use std::path::Path;

use ndarray::{Array3, ShapeBuilder};
use nifti::{NiftiObject, NiftiVolume, RandomAccessNiftiVolume, ReaderOptions};

use super::Volume;
use crate::{DaecfError, Result};

/// Reads a 3D NIfTI-1 file (a 4D file with one time point is read as 3D) as the volume `id`.
pub fn read_nifti(path: &Path, id: &str) -> Result<Volume> {
    let bad = |reason: String| DaecfError::Format { path: path.display().to_string(), reason };
    let object = ReaderOptions::new().read_file(path).map_err(|e| {
        bad(match e {
            nifti::NiftiError::InvalidFormat => "not a NIfTI-1 file (NIfTI-2 and ANALYZE files are not read; \
                 nibabel converts them: nib.save(nib.Nifti1Image(img.get_fdata(), img.affine), 'out.nii.gz'))"
                .into(),
            e => format!("cannot read the NIfTI file: {e}"),
        })
    })?;
    let header = object.header();
    let pixdim = header.pixdim;
    let volume = object.volume();
    let dims: Vec<usize> = volume.dim().iter().map(|&d| usize::from(d)).collect();
    let (nx, ny, nz) = match dims.as_slice() {
        [x, y] => (*x, *y, 1),
        [x, y, z] => (*x, *y, *z),
        [x, y, z, rest @ ..] if rest.iter().all(|&d| d == 1) => (*x, *y, *z),
        _ => {
            return Err(bad(format!(
                "a {}D volume of {dims:?} voxels; daecf reads 2D and 3D volumes (one 3D volume per file: split \
                 a 4D series first, e.g. with fslsplit or nibabel)",
                dims.len()
            )));
        }
    };
    if nx * ny * nz == 0 {
        return Err(bad(format!("the volume is empty ({dims:?} voxels)")));
    }
    let mut values = Vec::with_capacity(nx * ny * nz);
    let mut coords = vec![0u16; dims.len()];
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                coords[0] = x as u16;
                coords[1] = y as u16;
                if dims.len() > 2 {
                    coords[2] = z as u16;
                }
                let v = volume.get_f64(&coords).map_err(|e| bad(format!("voxel {coords:?}: {e}")))?;
                values.push(v as f32);
            }
        }
    }
    let voxels = Array3::from_shape_vec((nx, ny, nz).f(), values).map_err(|e| bad(e.to_string()))?;
    let spacing = [pixdim[1], pixdim[2], if dims.len() > 2 { pixdim[3] } else { 1.0 }].map(f32::abs);
    Ok(Volume { id: id.into(), voxels, spacing, stored_window: None })
}

/// A NIfTI-1 file for tests: `values` (int16, x fastest) of `dims` voxels sized `pixdim`, scaled
/// by `scale` (`scl_slope`, `scl_inter`). Written field by field (NIfTI-1's 348-byte header, an
/// empty extension flag, the voxels): the nifti crate's writer takes ndarray 0.17 arrays, and
/// enabling it in tests alone changes burn's ndarray features and rebuilds burn for them.
#[cfg(test)]
pub(crate) fn write_test_nifti(path: &Path, dims: &[usize], pixdim: [f32; 3], scale: (f32, f32), values: &[i16]) {
    let mut header = vec![0u8; 352];
    let mut put = |at: usize, bytes: &[u8]| header[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, &348i32.to_le_bytes());
    let mut dim = [1i16; 8];
    dim[0] = dims.len() as i16;
    dims.iter().enumerate().for_each(|(k, &d)| dim[k + 1] = d as i16);
    dim.iter().enumerate().for_each(|(k, d)| put(40 + 2 * k, &d.to_le_bytes()));
    put(70, &4i16.to_le_bytes()); // datatype: int16
    put(72, &16i16.to_le_bytes()); // bitpix
    let pix = [1.0, pixdim[0], pixdim[1], pixdim[2], 1.0, 1.0, 1.0, 1.0];
    pix.iter().enumerate().for_each(|(k, p): (usize, &f32)| put(76 + 4 * k, &p.to_le_bytes()));
    put(108, &352f32.to_le_bytes()); // vox_offset
    put(112, &scale.0.to_le_bytes());
    put(116, &scale.1.to_le_bytes());
    put(344, b"n+1\0");
    header.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(path, header).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_volume_reads_back_scaled_with_its_spacing() {
        let dir = std::env::temp_dir().join(format!("daecf-nifti-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("scan.nii");
        let values: Vec<i16> = (0..60).map(|i| (i % 5 + 10 * ((i / 5) % 4) + 100 * (i / 20)) as i16 - 1000).collect();
        write_test_nifti(&path, &[5, 4, 3], [0.8, 0.8, 2.5], (2.0, -24.0), &values);
        let volume = read_nifti(&path, "scan.nii").unwrap();
        assert_eq!(volume.voxels.dim(), (5, 4, 3));
        assert_eq!(volume.voxels[[4, 3, 2]], 2.0 * (4 + 30 + 200 - 1000) as f32 - 24.0, "scaled");
        assert_eq!(volume.voxels[[1, 0, 0]], 2.0 * (1 - 1000) as f32 - 24.0, "x runs fastest");
        assert_eq!(volume.spacing, [0.8, 0.8, 2.5]);
        std::fs::write(dir.join("bad.nii"), b"not a nifti file at all").unwrap();
        let err = read_nifti(&dir.join("bad.nii"), "bad.nii").unwrap_err().to_string();
        assert!(err.contains("bad.nii") && err.contains("NIfTI"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
