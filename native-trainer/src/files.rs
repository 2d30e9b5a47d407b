//! Writing the CLI's output files, each error naming the file; and file names made from
//! user-given names.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::Context;
use image::RgbImage;

/// Writes `bytes` to `path`.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Creates `path` for buffered writing (a CSV, say).
pub fn create(path: &Path) -> anyhow::Result<BufWriter<File>> {
    Ok(BufWriter::new(File::create(path).with_context(|| format!("writing {}", path.display()))?))
}

/// Saves `picture` to `path`, in the format its extension names.
pub fn save_picture(picture: &RgbImage, path: &Path) -> anyhow::Result<()> {
    picture.save(path).with_context(|| format!("writing {}", path.display()))
}

/// `name` as a file-name stem: letters, digits, `-` and `_` kept, anything else (a path
/// separator included) replaced by `_`.
pub fn safe_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}
