//! Data sets: images (folders of PNG/JPEG with a CSV of labels, MedMNIST archives) prepared for
//! a model, phantoms with a known truth, and the latents file that heads are fitted on.

pub mod augment;
pub mod folder;
pub mod images;
pub mod latents;
pub mod medmnist;
mod npz;
pub mod phantom;
pub mod split;

pub use folder::{Rejected, read_folder};
pub use images::{ImageSet, ImageSpec};
pub use latents::{LabelledRows, LatentSet, LatentSplit, UNLABELLED};
pub use medmnist::{read_medmnist, write_medmnist};
