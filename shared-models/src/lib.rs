//! # daecf-models
//!
//! The daecf model bundle: one file that holds everything needed to explain images with a
//! trained Diffusion Autoencoder — the model config, image size, channels and intensity range,
//! the weights (a safetensors blob, f32 or f16), the heads (task, hyperplane, standardisation,
//! calibration), provenance (training data, steps, date, daecf version) and a SHA-256
//! checksum. It reads from bytes, so the browser app and the CLI load it the same way.
//!
//! Layout (all integers little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `DAECFBND` |
//! | 4 | format version (u32), currently 1 |
//! | 8 | header length H (u64), at most 1 MiB |
//! | H | header: UTF-8 JSON, [`BundleHeader`] |
//! | W | weights: a daecf safetensors checkpoint (f32, or f16 when `header.half_precision`), W = `header.weights_bytes` |
//! | 32 | SHA-256 of everything before it |
//!
//! [`Bundle::from_bytes`] checks sizes, the magic, the version and the checksum before it
//! parses the header or touches the weights, and fails with a [`BundleError`] that says what
//! is wrong and what to do.

mod bundle;

/// The shipped demo bundle: a DAE trained on vertebra phantoms with its fracture head (see
/// demo/README.md for how it was made). `daecf demo` and the browser app open with it.
pub const DEMO_BUNDLE: &[u8] = include_bytes!("../demo/demo.daecf");

pub use bundle::{BUNDLE_MAGIC, BUNDLE_VERSION, Bundle, BundleError, BundleHeader, MAX_BUNDLE_BYTES, Provenance};
