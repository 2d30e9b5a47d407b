//! What a user takes away from an explanation, the same from the CLI and the browser: the
//! JSON report of one image and its pictures (difference overlays, looping animations).

pub mod explanation;
pub mod pictures;

pub use explanation::{CeReport, ImageReport};
pub use pictures::{difference_overlay, enlarge, gif_bytes, outlined};
