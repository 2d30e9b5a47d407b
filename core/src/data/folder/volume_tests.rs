//! Folders of NIfTI volumes and DICOM series: files written by the tests (every rejection case),
//! and real files from nibabel's and pydicom's test data (fetched by scripts/fetch-test-data.sh).

use std::path::{Path, PathBuf};

use dicom_core::{DataElement, PrimitiveValue, VR, dicom_value};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

use super::*;
use crate::data::volume::nifti::write_test_nifti;
use crate::data::volume::{SliceAxis, Window};

const SPEC: ImageSpec = ImageSpec { size: 8, channels: 1 };

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("daecf-volumes-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A 16 x 12 x `depth` CT-like volume: air (-1000 HU) around a block of bone (700 HU) in slices
/// 2 and up.
fn write_ct(path: &Path, depth: usize) {
    let values: Vec<i16> = (0..16 * 12 * depth)
        .map(|i| (i % 16, (i / 16) % 12, i / (16 * 12)))
        .map(|(x, y, z)| if z >= 2 && (4..12).contains(&x) && (3..9).contains(&y) { 700 } else { -1000 })
        .collect();
    write_test_nifti(path, &[16, 12, depth], [1.0; 3], (1.0, 0.0), &values);
}

fn options(csv: Option<&Path>) -> FolderOptions {
    FolderOptions {
        labels_csv: csv.map(Path::to_path_buf),
        slicing: Slicing { window: "ct-bone".parse().unwrap(), skip_empty: true, ..Slicing::default() },
        ..FolderOptions::default()
    }
}

#[test]
fn nifti_volumes_become_labelled_grouped_slices() {
    let dir = temp_dir("nifti");
    std::fs::create_dir_all(dir.join("p1")).unwrap();
    write_ct(&dir.join("p1/a.nii"), 5);
    write_ct(&dir.join("p1/b.nii"), 4);
    write_ct(&dir.join("c.nii"), 3);
    write_test_nifti(&dir.join("series.nii"), &[4, 4, 4, 2], [1.0; 3], (1.0, 0.0), &[0; 128]);
    // Labels per volume, one slice's own label, groups by patient.
    let csv = dir.join("labels.csv");
    std::fs::write(&csv, "file,label,group\np1/a.nii,1,patient-1\np1/b.nii,0,patient-1\np1/a.nii#z=3,NA,\n").unwrap();
    let (set, rejected) = read_folder(&dir, &options(None), SPEC).unwrap();
    let ids: Vec<&str> = set.ids.iter().map(String::as_str).collect();
    assert_eq!(
        ids,
        ["c.nii#z=2", "p1/a.nii#z=2", "p1/a.nii#z=3", "p1/a.nii#z=4", "p1/b.nii#z=2", "p1/b.nii#z=3"],
        "air slices 0 and 1 are skipped"
    );
    assert_eq!(set.labels, [None, Some(1), None, Some(1), Some(0), Some(0)]);
    let groups = set.groups.as_deref().unwrap();
    assert_eq!(groups, ["c.nii", "patient-1", "patient-1", "patient-1", "patient-1", "patient-1"]);
    assert_eq!(set.images.dim(), (6, 1, 8, 8));
    // Bone at 700 HU in the bone window (400 +- 900): (700 + 500) / 1800 of white.
    let centre = set.images[[1, 0, 4, 4]];
    assert!((centre - 1200.0 / 1800.0).abs() < 0.02, "{centre}");
    assert_eq!(rejected.len(), 1);
    assert!(rejected[0].path.ends_with("series.nii") && rejected[0].reason.contains("4D"), "{rejected:?}");
    let strict = read_folder(&dir, &FolderOptions { strict: true, ..options(None) }, SPEC).unwrap_err().to_string();
    assert!(strict.contains("series.nii") && strict.contains("--strict"), "{strict}");
    // One file, every second slice across y, without a CSV.
    let one = FolderOptions {
        slicing: Slicing { axis: SliceAxis::Y, every: 2, window: Window::Auto, ..Slicing::default() },
        ..FolderOptions::default()
    };
    let (set, _) = read_folder(&dir.join("c.nii"), &one, SPEC).unwrap();
    assert_eq!(set.ids, ["c.nii#y=0", "c.nii#y=2", "c.nii#y=4", "c.nii#y=6", "c.nii#y=8", "c.nii#y=10"]);
    assert_eq!(set.groups.as_deref().unwrap()[0], "c.nii");
    let named = FolderOptions { group_column: Some("patient".into()), ..options(Some(&csv)) };
    let err = read_folder(&dir, &named, SPEC).unwrap_err().to_string();
    assert!(err.contains("no column 'patient'"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Writes one slice of a CT series: 6 x 5 pixels valued `value` HU (stored + 1024), at height
/// `z` mm, with instance number `instance`.
fn write_slice(path: &Path, series: &str, instance: i32, z: f64, size: (u16, u16), value: i32) {
    let (rows, cols) = size;
    let stored = (value + 1024) as u16;
    let pixels = vec![stored; usize::from(rows) * usize::from(cols)];
    let sop = format!("{series}.{instance}");
    let object = InMemDicomObject::from_element_iter([
        DataElement::new(tags::SOP_CLASS_UID, VR::UI, PrimitiveValue::from(uids::CT_IMAGE_STORAGE)),
        DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, PrimitiveValue::from(sop.as_str())),
        DataElement::new(tags::MODALITY, VR::CS, PrimitiveValue::from("CT")),
        DataElement::new(tags::SERIES_INSTANCE_UID, VR::UI, PrimitiveValue::from(series)),
        DataElement::new(tags::INSTANCE_NUMBER, VR::IS, PrimitiveValue::from(instance.to_string())),
        DataElement::new(tags::IMAGE_POSITION_PATIENT, VR::DS, dicom_value!(Strs, ["0", "0", z.to_string()])),
        DataElement::new(tags::IMAGE_ORIENTATION_PATIENT, VR::DS, dicom_value!(Strs, ["1", "0", "0", "0", "1", "0"])),
        DataElement::new(tags::PIXEL_SPACING, VR::DS, dicom_value!(Strs, ["0.5", "0.5"])),
        DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(rows)),
        DataElement::new(tags::COLUMNS, VR::US, PrimitiveValue::from(cols)),
        DataElement::new(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16)),
        DataElement::new(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, PrimitiveValue::from("MONOCHROME2")),
        DataElement::new(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16)),
        DataElement::new(tags::BITS_STORED, VR::US, PrimitiveValue::from(16u16)),
        DataElement::new(tags::HIGH_BIT, VR::US, PrimitiveValue::from(15u16)),
        DataElement::new(tags::PIXEL_REPRESENTATION, VR::US, PrimitiveValue::from(0u16)),
        DataElement::new(tags::RESCALE_INTERCEPT, VR::DS, PrimitiveValue::from("-1024")),
        DataElement::new(tags::RESCALE_SLOPE, VR::DS, PrimitiveValue::from("1")),
        DataElement::new(tags::WINDOW_CENTER, VR::DS, PrimitiveValue::from("40")),
        DataElement::new(tags::WINDOW_WIDTH, VR::DS, PrimitiveValue::from("400")),
        DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(pixels.into())),
    ]);
    let file = object.with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)).unwrap();
    file.write_to_file(path).unwrap();
}

#[test]
fn dicom_series_are_stacked_and_bad_series_named() {
    let dir = temp_dir("dicom");
    for name in ["good", "gap", "spacing", "sizes"] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
    }
    // A good series written out of order, with no extension on one file; slice k is 100 k HU.
    for (k, z) in [(2, 5.0), (0, 0.0), (1, 2.5)] {
        let name = if k == 1 { "IM0001".to_string() } else { format!("IM{k:04}.dcm") };
        write_slice(&dir.join("good").join(name), "1.2.3", k + 1, z, (5, 6), 100 * k);
    }
    for (k, z) in [(0, 0.0), (1, 2.5), (2, 7.5), (3, 10.0)] {
        write_slice(&dir.join(format!("gap/{k}.dcm")), "1.2.4", k + 1, z, (5, 6), 0);
    }
    for (k, z) in [(0, 0.0), (1, 2.5), (2, 5.0), (3, 6.0)] {
        write_slice(&dir.join(format!("spacing/{k}.dcm")), "1.2.5", k + 1, z, (5, 6), 0);
    }
    write_slice(&dir.join("sizes/0.dcm"), "1.2.6", 1, 0.0, (5, 6), 0);
    write_slice(&dir.join("sizes/1.dcm"), "1.2.6", 2, 2.5, (4, 6), 0);
    std::fs::write(dir.join("good/notes.txt"), "not an image").unwrap();
    let auto = FolderOptions::default();
    let (set, rejected) = read_folder(&dir, &auto, SPEC).unwrap();
    assert_eq!(set.ids, ["good#z=0", "good#z=1", "good#z=2"]);
    assert_eq!(set.groups.as_deref().unwrap(), ["good"; 3]);
    // The stored window (40 +- 200): 0, 100 and 200 HU are 0.4, 0.65 and 0.9 of white.
    for (k, grey) in [0.4, 0.65, 0.9].into_iter().enumerate() {
        assert!((set.images[[k, 0, 3, 3]] - grey).abs() < 0.01, "slice {k}: {}", set.images[[k, 0, 3, 3]]);
    }
    let reason = |folder: &str| {
        let r = rejected.iter().find(|r| r.path.to_string_lossy().contains(folder)).unwrap();
        format!("{}: {}", r.path.display(), r.reason)
    };
    assert_eq!(rejected.len(), 3, "{rejected:?}");
    let gap = reason("gap");
    assert!(gap.contains("1 slice(s) missing") && gap.contains("(at 1.dcm and 2.dcm)"), "{gap}");
    assert!(reason("spacing").contains("mixed slice spacing"), "{}", reason("spacing"));
    assert!(reason("sizes").contains("mixed image sizes"), "{}", reason("sizes"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// nibabel's and pydicom's test files, fetched by scripts/fetch-test-data.sh (which
/// scripts/test.sh runs) into `DAECF_TEST_DATA` or ~/.cache/daecf/test-data.
fn real_data() -> PathBuf {
    let dir = std::env::var_os("DAECF_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/daecf/test-data"));
    assert!(
        dir.join("nibabel/anatomical.nii").is_file() && dir.join("pydicom/CT_small.dcm").is_file(),
        "{} lacks nibabel's and pydicom's test files: run scripts/fetch-test-data.sh",
        dir.display()
    );
    dir
}

#[test]
fn real_nifti_files_are_read_or_refused_by_name() {
    let data = real_data().join("nibabel");
    let auto = FolderOptions::default();
    let (set, rejected) = read_folder(&data, &auto, SPEC).unwrap();
    let volumes: std::collections::BTreeSet<&str> =
        set.ids.iter().filter_map(|id| id.split_once('#')).map(|(v, _)| v).collect();
    assert!(volumes.contains("anatomical.nii") && volumes.contains("standard.nii.gz"), "{volumes:?}");
    // anatomical.nii: 33 x 41 x 25 voxels, one image per axial slice.
    assert_eq!(set.ids.iter().filter(|id| id.starts_with("anatomical.nii#z=")).count(), 25);
    assert!(set.images.iter().all(|v| (0.0..=1.0).contains(v)));
    let why = |file: &str| rejected.iter().find(|r| r.path.ends_with(file)).map(|r| r.reason.clone());
    assert!(why("example4d.nii.gz").unwrap().contains("4D"), "{rejected:?}");
    assert!(why("example_nifti2.nii.gz").unwrap().contains("NIfTI-2"), "{rejected:?}");
}

#[test]
fn real_dicom_files_are_read_or_refused_by_name() {
    let data = real_data().join("pydicom");
    let (set, rejected) = read_folder(&data.join("CT_small.dcm"), &FolderOptions::default(), SPEC).unwrap();
    assert_eq!(set.ids, ["CT_small.dcm#z=0"]);
    assert!(rejected.is_empty());
    let ct = crate::data::volume::dicom::read_dicom(&data.join("CT_small.dcm")).unwrap();
    assert_eq!((ct.size, ct.frames), ((128, 128), 1));
    // CT_small.dcm is a slice of a head CT: Hounsfield units from air to bone.
    let (min, max) = ct.values.iter().fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(min < -500.0 && max > 500.0, "{min} .. {max}");
    let mr = crate::data::volume::dicom::read_dicom(&data.join("MR_small.dcm")).unwrap();
    let rle = crate::data::volume::dicom::read_dicom(&data.join("MR_small_RLE.dcm")).unwrap();
    assert_eq!(mr.values, rle.values, "RLE decodes to the same pixels");
    let jp2k = crate::data::volume::dicom::read_dicom(&data.join("MR_small_jp2klossless.dcm")).unwrap_err();
    let jp2k = jp2k.to_string();
    assert!(jp2k.contains("MR_small_jp2klossless.dcm") && jp2k.contains("1.2.840.10008.1.2.4.90"), "{jp2k}");
    // The folder: the readable files, each its own volume; the JPEG 2000 file named, the rest read.
    let (set, rejected) = read_folder(&data, &FolderOptions::default(), SPEC).unwrap();
    assert!(set.ids.iter().any(|id| id == "CT_small.dcm#z=0"), "{:?}", set.ids);
    assert!(rejected.iter().any(|r| r.path.ends_with("MR_small_jp2klossless.dcm")), "{rejected:?}");
}
