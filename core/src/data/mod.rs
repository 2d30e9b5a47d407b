//! Data sets: images (folders of PNG/JPEG, NIfTI volumes and DICOM series with a CSV of labels
//! and groups, MedMNIST archives) prepared for a model, phantoms with a known truth, the latents
//! file that heads are fitted on, and the splits made of it.

pub mod augment;
pub mod folder;
pub mod images;
pub mod latents;
pub mod medmnist;
mod npz;
pub mod phantom;
pub mod split;
pub mod volume;

pub use folder::{FolderOptions, Rejected, read_folder};
pub use images::{ImageSet, ImageSpec};
pub use latents::{LabelledRows, LatentSet, LatentSplit, UNLABELLED};
pub use medmnist::{read_medmnist, write_medmnist};
