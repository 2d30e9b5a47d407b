//! The `--data` option shared by the commands that read images: a folder of PNG/JPEG images,
//! NIfTI volumes and DICOM series (with an optional labels CSV) or one volume file, a MedMNIST
//! .npz, or a generated phantom set.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use burn::tensor::{Device, Tensor, TensorData};
use daecf_core::data::phantom::{PhantomKind, phantom_splits};
use daecf_core::data::volume::{SliceAxis, Slicing, Window};
use daecf_core::data::{FolderOptions, ImageSet, ImageSpec, read_folder, read_medmnist};
use daecf_core::model::InputRange;
use daecf_core::named::Named;

/// Where images come from.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Images: a folder of PNG/JPEG (8/16-bit, grey or RGB), NIfTI volumes (.nii, .nii.gz) and
    /// DICOM files or series (one series per folder), cut into 2D slices (see --window and
    /// --slice-*), with labels from --labels or DIR/labels.csv; one NIfTI or DICOM file; a
    /// MedMNIST .npz (train_images, val_images, test_images); or phantom:NAME[:N][:seed=S]
    /// (vertebra or retina; N training images, default 2000, plus N/10 validation and N/5 test
    /// images, labelled with their grade; seed S, default 0: the demo model trained on seed 0,
    /// its CE settings were chosen on seed 1 and are reported on seed 2).
    #[arg(long, value_name = "DIR|FILE.nii.gz|FILE.dcm|FILE.npz|phantom:NAME[:N][:seed=S]")]
    pub data: DataSource,
    /// CSV of labels for a folder: file,label per line, header optional. The file is an image's
    /// path in the folder, a volume's (NIfTI file or DICOM series folder: all its slices), or a
    /// slice's id (VOLUME#z=INDEX); an empty label or NA marks an unlabelled image.
    #[arg(long, value_name = "FILE.csv")]
    pub labels: Option<PathBuf>,
    /// The labels CSV's column of groups (patient or study ids), by its header (default: a
    /// column headed `group`, when there is one). Every split daecf makes keeps a group on one
    /// side; a volume's slices are grouped by their volume unless the CSV says otherwise.
    #[arg(long, value_name = "NAME")]
    pub group_column: Option<String>,
    /// Stop at the first unreadable image or volume instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    /// How volumes are cut into slices.
    #[command(flatten)]
    pub slicing: SliceArgs,
}

/// How NIfTI volumes and DICOM series become 2D images.
#[derive(Debug, Clone, clap::Args)]
pub struct SliceArgs {
    /// Intensity window: auto (the DICOM file's stored window, else the 1st to 99th percentile
    /// of each volume), ct-bone (1800,400), ct-brain (80,40), ct-soft (400,40), ct-lung
    /// (1500,-600), WIDTH,LEVEL in the volume's units (Hounsfield units for CT), or
    /// percentile[:LOW,HIGH] of each volume (for MR).
    #[arg(long, value_name = "WINDOW", default_value = "auto", value_parser = parse_window)]
    pub window: Window,
    /// The voxel axis slices are cut across: z (axial for the usual acquisitions), y or x.
    #[arg(long, value_name = "AXIS", default_value = "z", value_parser = crate::options::named::<SliceAxis>())]
    pub slice_axis: SliceAxis,
    /// Every k-th slice.
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub slice_every: u64,
    /// Only slices START..END (indices along the axis, END excluded).
    #[arg(long, value_name = "START..END", value_parser = parse_slice_range)]
    pub slice_range: Option<(usize, usize)>,
    /// Leave out slices that are background after windowing (fewer than 1 % of pixels above 5 %
    /// grey).
    #[arg(long)]
    pub skip_empty_slices: bool,
}

impl SliceArgs {
    /// The slicing these options ask for.
    pub fn slicing(&self) -> Slicing {
        Slicing {
            axis: self.slice_axis,
            window: self.window,
            every: self.slice_every as usize,
            range: self.slice_range,
            skip_empty: self.skip_empty_slices,
        }
    }
}

fn parse_window(text: &str) -> Result<Window, String> {
    text.parse().map_err(|e: daecf_core::DaecfError| e.to_string())
}

fn parse_slice_range(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("'{text}' is not a slice range; give START..END, e.g. 20..80");
    let (start, end) = text.split_once("..").ok_or_else(bad)?;
    let (start, end): (usize, usize) =
        (start.trim().parse().map_err(|_| bad())?, end.trim().parse().map_err(|_| bad())?);
    if start >= end {
        return Err(format!("slice range {text}: START must be below END"));
    }
    Ok((start, end))
}

/// A source of images, as `--data` names it.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    /// A folder of images and volumes, or one NIfTI or DICOM file.
    Files(PathBuf),
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
            Self::Files(path)
        })
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Files(path) | Self::MedMnist(path) => write!(f, "{}", path.display()),
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
                self.labels.is_none() && self.group_column.is_none() && !self.strict,
                "--labels, --group-column and --strict apply to a folder of images or volumes; {} carries its own \
                 labels",
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
            DataSource::Files(path) if path.exists() => {
                let options = FolderOptions {
                    labels_csv: self.labels.clone(),
                    group_column: self.group_column.clone(),
                    strict: self.strict,
                    slicing: self.slicing.slicing(),
                };
                let (set, rejected) = read_folder(path, &options, spec)?;
                for r in &rejected {
                    eprintln!("skipped {}: {}", r.path.display(), r.reason);
                }
                if !rejected.is_empty() {
                    eprintln!("skipped {} unreadable file(s); --strict stops at the first instead", rejected.len());
                }
                Ok(vec![set])
            }
            DataSource::Files(path) => anyhow::bail!("{}: no such file or folder", path.display()),
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
        let slicing = SliceArgs {
            window: Window::Auto,
            slice_axis: SliceAxis::Z,
            slice_every: 1,
            slice_range: None,
            skip_empty_slices: false,
        };
        DataArgs { data: text.parse()?, labels: None, group_column: None, strict: false, slicing }
            .read(ImageSpec { size: 32, channels: 1 })
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
        assert_eq!(parse("scans/"), DataSource::Files("scans/".into()));
        assert_eq!(parse("retina.NPZ"), DataSource::MedMnist("retina.NPZ".into()));
        let phantom = parse("phantom:retina:30:seed=1");
        assert_eq!(phantom, DataSource::Phantom(PhantomSource { kind: PhantomKind::Retina, count: 30, seed: 1 }));
        assert_eq!(phantom.to_string(), "phantom:retina:30:seed=1");
        assert_eq!(parse("phantom:vertebra").to_string(), "phantom:vertebra:2000:seed=0");
        let missing = read("no/such/folder").unwrap_err().to_string();
        assert!(missing.contains("no such file or folder"), "{missing}");
    }
}
