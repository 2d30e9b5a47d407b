//! Data sets: the latents file that heads are fitted on (and, in later modules, images,
//! MedMNIST archives and phantoms).

pub mod latents;
mod npz;

pub use latents::{LatentSet, LatentSplit};
