//! The `--data` option shared by the commands that read images: a folder of PNG/JPEG (with an
//! optional labels CSV), a MedMNIST .npz, or a generated phantom set.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use daecf_core::data::phantom::{PHANTOMS, phantom_splits};
use daecf_core::data::{ImageSet, ImageSpec, read_folder, read_medmnist};
use daecf_core::model::InputRange;

/// Where images come from.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Images: a folder of PNG/JPEG (8/16-bit, grey or RGB; labels from --labels or
    /// DIR/labels.csv), a MedMNIST .npz (train_images, val_images, test_images), or
    /// phantom:NAME[:N][:seed=S] (vertebra or retina; N training images, default 2000, plus
    /// N/10 validation and N/5 test images, labelled with their grade; seed S, default 0: the
    /// demo model trained on seed 0, its CE settings were chosen on seed 1 and are reported on
    /// seed 2).
    #[arg(long, value_name = "DIR|FILE.npz|phantom:NAME[:N][:seed=S]")]
    pub data: PathBuf,
    /// CSV of labels for a folder: file,label per line (header optional).
    #[arg(long, value_name = "FILE.csv")]
    pub labels: Option<PathBuf>,
    /// Stop at the first unreadable image instead of skipping it.
    #[arg(long)]
    pub strict: bool,
}

impl DataArgs {
    /// Reads every split, converted to `spec`; skipped files are listed on stderr.
    pub fn read(&self, spec: ImageSpec) -> anyhow::Result<Vec<ImageSet>> {
        let path: &Path = &self.data;
        let labelled_already = || {
            anyhow::ensure!(
                self.labels.is_none() && !self.strict,
                "--labels and --strict apply to a folder of images; {} carries its own labels",
                path.display()
            );
            Ok(())
        };
        if let Some(spec_text) = path.to_str().and_then(|p| p.strip_prefix("phantom:")) {
            labelled_already()?;
            read_phantom(spec_text, spec)
        } else if path.is_dir() {
            let (set, rejected) = read_folder(path, self.labels.as_deref(), spec, self.strict)?;
            for r in &rejected {
                eprintln!("skipped {}: {}", r.path.display(), r.reason);
            }
            if !rejected.is_empty() {
                eprintln!("skipped {} unreadable image(s); --strict stops at the first instead", rejected.len());
            }
            Ok(vec![set])
        } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npz")) {
            labelled_already()?;
            Ok(read_medmnist(path, spec)?)
        } else if !path.exists() {
            anyhow::bail!("{}: no such file or folder", path.display())
        } else {
            anyhow::bail!("{}: --data takes a folder of images or a MedMNIST .npz", path.display())
        }
    }

    /// The phantom's name when the source is `phantom:NAME[:N]`.
    pub fn phantom_name(&self) -> Option<&str> {
        let rest = self.data.to_str()?.strip_prefix("phantom:")?;
        Some(rest.split(':').next().unwrap_or(rest))
    }

    /// One split: `split` when given (an error if absent), else `test` when the source has one,
    /// else the first.
    pub fn read_split(&self, spec: ImageSpec, split: Option<&str>) -> anyhow::Result<ImageSet> {
        let mut sets = self.read(spec)?;
        let wanted = split.unwrap_or("test");
        let i = sets.iter().position(|s| s.name == wanted);
        anyhow::ensure!(
            i.is_some() || split.is_none(),
            "{} has no split '{wanted}' (it has: {})",
            self.data.display(),
            sets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
        );
        Ok(sets.swap_remove(i.unwrap_or(0)))
    }

    /// The split to train on: `train` when the source has one, else the only one.
    pub fn read_training(&self, spec: ImageSpec) -> anyhow::Result<ImageSet> {
        let mut sets = self.read(spec)?;
        let i = sets.iter().position(|s| s.name == "train").unwrap_or(0);
        let set = sets.swap_remove(i);
        anyhow::ensure!(!set.is_empty(), "{} holds no training images", self.data.display());
        Ok(set)
    }
}

/// The default number of training images of `--data phantom:NAME`.
const PHANTOM_DEFAULT_COUNT: usize = 2000;

/// `phantom:NAME[:N][:seed=S]` at the model's size.
fn read_phantom(text: &str, spec: ImageSpec) -> anyhow::Result<Vec<ImageSet>> {
    let mut parts = text.split(':');
    let name = parts.next().unwrap_or_default();
    let (mut count, mut seed) = (PHANTOM_DEFAULT_COUNT, 0u64);
    for (k, part) in parts.enumerate() {
        match (k, part.strip_prefix("seed=")) {
            (_, Some(s)) => {
                seed =
                    s.parse().map_err(|_| anyhow::anyhow!("phantom:{text}: seed={s} is not a non-negative integer"))?
            }
            (0, None) => {
                count = part.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| {
                    anyhow::anyhow!("phantom:{text}: the count after the name must be a positive integer")
                })?
            }
            _ => anyhow::bail!("phantom:{text}: expected phantom:NAME[:N][:seed=S], not '{part}'"),
        }
    }
    anyhow::ensure!(PHANTOMS.contains(&name), "phantom:{name}: unknown phantom; choose one of {}", PHANTOMS.join(", "));
    let sets = phantom_splits(name, count, spec.size, seed)?;
    let channels = sets[0].images.dim().1;
    anyhow::ensure!(
        channels == spec.channels,
        "phantom:{name} has {channels} channel(s) but the model takes {}; choose a preset with {channels}",
        spec.channels
    );
    Ok(sets)
}

/// The images at `indices` as a [B, C, H, W] tensor in the model's range.
pub fn batch_tensor(data: &ImageSet, indices: &[usize], range: InputRange, device: &Device) -> Tensor<4> {
    let (_, c, h, w) = data.images.dim();
    Tensor::from_data(TensorData::new(data.batch(indices, range), [indices.len(), c, h, w]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> anyhow::Result<Vec<ImageSet>> {
        DataArgs { data: PathBuf::from(text), labels: None, strict: false }.read(ImageSpec { size: 32, channels: 1 })
    }

    #[test]
    fn phantom_sources_take_a_count_and_a_seed() {
        let plain = read("phantom:vertebra:20").unwrap();
        assert_eq!(plain.iter().map(|s| s.len()).collect::<Vec<_>>(), vec![20, 2, 4]);
        assert_eq!(read("phantom:vertebra:20:seed=0").unwrap()[0].images, plain[0].images);
        let other = read("phantom:vertebra:20:seed=2").unwrap();
        assert_ne!(other[0].images, plain[0].images, "another seed, other phantoms");
        for (bad, why) in [
            ("phantom:vertebra:20:seed=-1", "non-negative integer"),
            ("phantom:vertebra:0", "positive integer"),
            ("phantom:vertebra:20:7", "phantom:NAME[:N][:seed=S]"),
            ("phantom:skull:20", "unknown phantom"),
        ] {
            let err = read(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
