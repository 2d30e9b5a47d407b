//! The `--data` option shared by the commands that read images: a folder of PNG/JPEG (with an
//! optional labels CSV), a MedMNIST .npz, or a generated phantom set.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use burn::tensor::{Device, Tensor, TensorData};
use daecf_core::data::phantom::{PhantomKind, phantom_splits};
use daecf_core::data::{ImageSet, ImageSpec, read_folder, read_medmnist};
use daecf_core::model::InputRange;
use daecf_core::named::Named;

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
    pub data: DataSource,
    /// CSV of labels for a folder: file,label per line (header optional).
    #[arg(long, value_name = "FILE.csv")]
    pub labels: Option<PathBuf>,
    /// Stop at the first unreadable image instead of skipping it.
    #[arg(long)]
    pub strict: bool,
}

/// A source of images, as `--data` names it.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    /// A folder of PNG/JPEG images.
    Folder(PathBuf),
    /// A MedMNIST .npz archive.
    MedMnist(PathBuf),
    /// A generated phantom set.
    Phantom(PhantomSource),
}

/// `phantom:NAME[:N][:seed=S]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhantomSource {
    /// The phantom.
    pub kind: PhantomKind,
    /// Training images (plus a tenth for validation and a fifth for testing).
    pub count: usize,
    /// The seed of the set.
    pub seed: u64,
}

/// The default number of training images of `--data phantom:NAME`.
const PHANTOM_DEFAULT_COUNT: usize = 2000;

impl FromStr for DataSource {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Self> {
        if let Some(spec) = text.strip_prefix("phantom:") {
            return Ok(Self::Phantom(parse_phantom(spec)?));
        }
        let path = PathBuf::from(text);
        Ok(if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("npz")) {
            Self::MedMnist(path)
        } else {
            Self::Folder(path)
        })
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Folder(path) | Self::MedMnist(path) => write!(f, "{}", path.display()),
            Self::Phantom(p) => write!(f, "phantom:{}:{}:seed={}", p.kind, p.count, p.seed),
        }
    }
}

/// `NAME[:N][:seed=S]`, after `phantom:`.
fn parse_phantom(text: &str) -> anyhow::Result<PhantomSource> {
    let mut parts = text.split(':');
    let kind =
        PhantomKind::from_name(parts.next().unwrap_or_default()).map_err(|e| anyhow::anyhow!("phantom:{text}: {e}"))?;
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
    Ok(PhantomSource { kind, count, seed })
}

impl DataArgs {
    /// Reads every split, converted to `spec`; skipped files are listed on stderr.
    pub fn read(&self, spec: ImageSpec) -> anyhow::Result<Vec<ImageSet>> {
        let labelled_already = || {
            anyhow::ensure!(
                self.labels.is_none() && !self.strict,
                "--labels and --strict apply to a folder of images; {} carries its own labels",
                self.data
            );
            Ok(())
        };
        match &self.data {
            DataSource::Phantom(phantom) => {
                labelled_already()?;
                read_phantom(*phantom, spec)
            }
            DataSource::MedMnist(path) => {
                labelled_already()?;
                Ok(read_medmnist(path, spec)?)
            }
            DataSource::Folder(path) if path.is_dir() => {
                let (set, rejected) = read_folder(path, self.labels.as_deref(), spec, self.strict)?;
                for r in &rejected {
                    eprintln!("skipped {}: {}", r.path.display(), r.reason);
                }
                if !rejected.is_empty() {
                    eprintln!("skipped {} unreadable image(s); --strict stops at the first instead", rejected.len());
                }
                Ok(vec![set])
            }
            DataSource::Folder(path) if !path.exists() => anyhow::bail!("{}: no such file or folder", path.display()),
            DataSource::Folder(path) => {
                anyhow::bail!("{}: --data takes a folder of images or a MedMNIST .npz", path.display())
            }
        }
    }

    /// The phantom when the source is `phantom:NAME[:N][:seed=S]`.
    pub fn phantom(&self) -> Option<PhantomKind> {
        match &self.data {
            DataSource::Phantom(p) => Some(p.kind),
            _ => None,
        }
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
            self.data,
            sets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
        );
        Ok(sets.swap_remove(i.unwrap_or(0)))
    }

    /// The split to train on: `train` when the source has one, else the only one.
    pub fn read_training(&self, spec: ImageSpec) -> anyhow::Result<ImageSet> {
        let mut sets = self.read(spec)?;
        let i = sets.iter().position(|s| s.name == "train").unwrap_or(0);
        let set = sets.swap_remove(i);
        anyhow::ensure!(!set.is_empty(), "{} holds no training images", self.data);
        Ok(set)
    }
}

/// A phantom set at the model's size.
fn read_phantom(phantom: PhantomSource, spec: ImageSpec) -> anyhow::Result<Vec<ImageSet>> {
    let sets = phantom_splits(phantom.kind, phantom.count, spec.size, phantom.seed)?;
    let channels = sets[0].images.dim().1;
    anyhow::ensure!(
        channels == spec.channels,
        "phantom:{} has {channels} channel(s) but the model takes {}; choose a preset with {channels}",
        phantom.kind,
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
        DataArgs { data: text.parse()?, labels: None, strict: false }.read(ImageSpec { size: 32, channels: 1 })
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
            ("phantom:skull:20", "'skull' is not a phantom; choose one of vertebra, retina"),
        ] {
            let err = read(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn sources_are_told_apart_by_their_text() {
        let parse = |t: &str| t.parse::<DataSource>().unwrap();
        assert_eq!(parse("scans/"), DataSource::Folder("scans/".into()));
        assert_eq!(parse("retina.NPZ"), DataSource::MedMnist("retina.NPZ".into()));
        let phantom = parse("phantom:retina:30:seed=1");
        assert_eq!(phantom, DataSource::Phantom(PhantomSource { kind: PhantomKind::Retina, count: 30, seed: 1 }));
        assert_eq!(phantom.to_string(), "phantom:retina:30:seed=1");
        assert_eq!(parse("phantom:vertebra").to_string(), "phantom:vertebra:2000:seed=0");
        let missing = read("no/such/folder").unwrap_err().to_string();
        assert!(missing.contains("no such file or folder"), "{missing}");
    }
}
