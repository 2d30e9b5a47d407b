//! Writing, reading and validating bundles.

use burn::tensor::Device;
use daecf_core::latent::{Head, HeadFile};
use daecf_core::model::{DaeConfig, DiffusionAutoencoder, Preset};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// The first 8 bytes of every bundle.
pub const BUNDLE_MAGIC: &[u8; 8] = b"DAECFBND";
/// The format version this build writes and the newest it reads.
pub const BUNDLE_VERSION: u32 = 1;
/// The largest bundle accepted (2 GiB): anything bigger is refused before it is read.
pub const MAX_BUNDLE_BYTES: u64 = 2 << 30;
/// The largest header accepted.
const MAX_HEADER_BYTES: u64 = 1 << 20;
/// Bytes before the header: magic, version, header length.
const PREAMBLE: usize = 8 + 4 + 8;
/// Bytes of the trailing checksum.
const CHECKSUM: usize = 32;

/// Why a bundle cannot be used.
#[derive(Debug, Error)]
pub enum BundleError {
    /// Too short to be a bundle, or cut off.
    #[error("the bundle is truncated: {0}; download or export it again")]
    Truncated(String),
    /// Not a daecf bundle at all.
    #[error("not a daecf bundle (no DAECFBND magic); export one with `daecf export`")]
    NotABundle,
    /// Written by a newer daecf.
    #[error("bundle format version {found} is newer than this build reads ({BUNDLE_VERSION}); update daecf")]
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
    },
    /// Larger than allowed.
    #[error(
        "the bundle is {0} bytes, more than the {MAX_BUNDLE_BYTES} allowed; check that this is a daecf bundle (`daecf export` writes one)"
    )]
    Oversized(u64),
    /// The content does not match its checksum.
    #[error("the bundle is corrupted (checksum mismatch); download or export it again")]
    Corrupted,
    /// The header is not valid JSON of the expected shape, or is inconsistent.
    #[error("the bundle header is invalid: {0}; export the bundle again with `daecf export`")]
    Header(String),
    /// The weights do not load into the model the header describes.
    #[error("the bundle's weights do not load: {0}; export the bundle again with `daecf export`")]
    Weights(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Where a bundle's model came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Provenance {
    /// What the DAE was trained on (a data set name or description).
    pub training_data: String,
    /// Optimisation steps of the training run, when known.
    pub steps: Option<u64>,
    /// When the bundle was written (UTC, ISO 8601).
    pub date: String,
    /// The daecf version that wrote it.
    pub daecf_version: String,
    /// Free-form notes (the training command, hardware, ...).
    #[serde(default)]
    pub notes: String,
}

/// The JSON header of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleHeader {
    /// The architecture (image size, channels, intensity range included).
    pub model: DaeConfig,
    /// The preset it was built from, when it was one.
    pub preset: Option<Preset>,
    /// The heads fitted on the model's latents.
    pub heads: Vec<Head>,
    /// Where it came from.
    pub provenance: Provenance,
    /// Length of the weights blob (a daecf safetensors checkpoint).
    pub weights_bytes: u64,
    /// Whether the weights are stored as f16 (they load as f32 either way).
    #[serde(default)]
    pub half_precision: bool,
}

/// A validated bundle: header and weights bytes.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The header.
    pub header: BundleHeader,
    /// The weights blob (a daecf safetensors checkpoint).
    pub weights: Vec<u8>,
}

impl Bundle {
    /// Assembles a bundle from a model's checkpoint bytes (as `DiffusionAutoencoder::save` or
    /// `save_f16` writes them), its heads and provenance; checks that the heads fit the model.
    pub fn new(
        model: DaeConfig,
        preset: Option<Preset>,
        weights: Vec<u8>,
        half_precision: bool,
        heads: &HeadFile,
        provenance: Provenance,
    ) -> Result<Self, BundleError> {
        let header = BundleHeader {
            model,
            preset,
            heads: heads.heads.clone(),
            provenance,
            weights_bytes: weights.len() as u64,
            half_precision,
        };
        header.check()?;
        Ok(Self { header, weights })
    }

    /// The bundle's bytes, checksum included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).expect("a bundle header serialises");
        let mut out = Vec::with_capacity(PREAMBLE + header.len() + self.weights.len() + CHECKSUM);
        out.extend_from_slice(BUNDLE_MAGIC);
        out.extend_from_slice(&BUNDLE_VERSION.to_le_bytes());
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.weights);
        let digest = Sha256::digest(&out);
        out.extend_from_slice(&digest);
        out
    }

    /// Reads and validates a bundle from its bytes: size, magic, version and checksum first,
    /// then the header; the weights are checked when the model is built.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BundleError> {
        if bytes.len() as u64 > MAX_BUNDLE_BYTES {
            return Err(BundleError::Oversized(bytes.len() as u64));
        }
        if bytes.len() < 8 || &bytes[..8] != BUNDLE_MAGIC {
            return if bytes.len() < 8 && BUNDLE_MAGIC.starts_with(bytes) {
                Err(BundleError::Truncated(format!("{} bytes", bytes.len())))
            } else {
                Err(BundleError::NotABundle)
            };
        }
        if bytes.len() < PREAMBLE + CHECKSUM {
            return Err(BundleError::Truncated(format!("{} bytes, less than the fixed parts", bytes.len())));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version == 0 || version > BUNDLE_VERSION {
            return Err(BundleError::UnsupportedVersion { found: version });
        }
        let header_len = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
        if header_len > MAX_HEADER_BYTES {
            return Err(BundleError::Header(format!("header length {header_len} exceeds {MAX_HEADER_BYTES} bytes")));
        }
        let header_end = PREAMBLE + header_len as usize;
        if bytes.len() < header_end + CHECKSUM {
            return Err(BundleError::Truncated(format!("the header needs {header_len} bytes but the file ends first")));
        }
        let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM);
        if Sha256::digest(body).as_slice() != checksum {
            return Err(BundleError::Corrupted);
        }
        let header: BundleHeader =
            serde_json::from_slice(&body[PREAMBLE..header_end]).map_err(|e| BundleError::Header(e.to_string()))?;
        let weights = &body[header_end..];
        if weights.len() as u64 != header.weights_bytes {
            return Err(BundleError::Header(format!(
                "the header announces {} bytes of weights but the bundle holds {}",
                header.weights_bytes,
                weights.len()
            )));
        }
        header.check()?;
        Ok(Self { header, weights: weights.to_vec() })
    }

    /// Reads a bundle file; refuses oversized files before reading them.
    pub fn read(path: &std::path::Path) -> Result<Self, BundleError> {
        let io = |source| BundleError::Io { path: path.display().to_string(), source };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_BUNDLE_BYTES {
            return Err(BundleError::Oversized(len));
        }
        Self::from_bytes(&std::fs::read(path).map_err(io)?)
    }

    /// Writes the bundle to `path`.
    pub fn write(&self, path: &std::path::Path) -> Result<(), BundleError> {
        std::fs::write(path, self.to_bytes())
            .map_err(|source| BundleError::Io { path: path.display().to_string(), source })
    }

    /// The model on `device`, with its weights checked against the header's config.
    pub fn model(&self, device: &Device) -> Result<DiffusionAutoencoder, BundleError> {
        let model = DiffusionAutoencoder::load_bytes(&self.weights, "bundle weights", device)
            .map_err(|e| BundleError::Weights(e.to_string()))?;
        if model.config != self.header.model {
            return Err(BundleError::Header("the weights' own config differs from the header's".into()));
        }
        Ok(model)
    }

    /// The heads as a head file.
    pub fn heads(&self) -> HeadFile {
        HeadFile::new(self.header.heads.clone())
    }
}

impl BundleHeader {
    /// Checks the header's own consistency.
    fn check(&self) -> Result<(), BundleError> {
        self.model.validate().map_err(|e| BundleError::Header(e.to_string()))?;
        if self.heads.is_empty() {
            return Err(BundleError::Header("no heads; fit one with `daecf fit`".into()));
        }
        for h in &self.heads {
            h.check().map_err(|e| BundleError::Header(e.to_string()))?;
            if h.dim() != self.model.latent_dim {
                return Err(BundleError::Header(format!(
                    "head '{}' takes {}-d latents but the model makes {}-d ones",
                    h.task.name,
                    h.dim(),
                    self.model.latent_dim
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use daecf_core::latent::{Calibration, CalibrationKind, ClassifierKind, Hyperplane, TaskSpec};
    use proptest::prelude::*;

    fn config() -> DaeConfig {
        DaeConfig::new(16, 1, 1, 32, vec![1, 2], vec![1, 2])
            .with_attention_resolutions(vec![8])
            .with_num_res_blocks(1)
            .with_enc_num_res_blocks(1)
            .with_latent_dim(8)
    }

    fn head(dim: usize) -> Head {
        Head {
            task: TaskSpec::new("fracture"),
            classifier: ClassifierKind::Svm,
            c: 1.0,
            hyperplane: Hyperplane::new((0..dim).map(|i| i as f32 - 3.0).collect(), 0.5).unwrap(),
            standardizer: None,
            calibration: Calibration {
                kind: CalibrationKind::Linear,
                coefficients: vec![1.0, 0.8],
                grade_range: (0, 3),
                distance_range: (-2.0, 2.0),
            },
            ce_strength: 1.0,
            ce_direction: Default::default(),
            directions: None,
        }
    }

    /// A valid bundle of a small random model, and the model.
    fn bundle() -> (Bundle, DiffusionAutoencoder) {
        let device = Device::flex();
        device.seed(1);
        let model = DiffusionAutoencoder::new(&config(), &device).unwrap();
        let path = std::env::temp_dir().join(format!("daecf-bundle-{}.safetensors", std::process::id()));
        model.save(&path).unwrap();
        let weights = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).ok();
        let provenance = Provenance {
            training_data: "test".into(),
            steps: Some(3),
            date: "2026-11-25".into(),
            daecf_version: "0.1.0".into(),
            notes: String::new(),
        };
        (Bundle::new(config(), None, weights, false, &HeadFile::new(vec![head(8)]), provenance).unwrap(), model)
    }

    #[test]
    fn round_trip_gives_the_same_model_and_heads() {
        let (b, model) = bundle();
        let bytes = b.to_bytes();
        let back = Bundle::from_bytes(&bytes).unwrap();
        assert_eq!(back.header, b.header);
        let device = Device::flex();
        let loaded = back.model(&device).unwrap();
        let x = burn::tensor::Tensor::<4>::ones([1, 1, 16, 16], &device);
        let a: Vec<f32> = model.encode(x.clone()).into_data().try_to_vec::<f32>().unwrap();
        let c: Vec<f32> = loaded.encode(x).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(a, c);
        assert_eq!(back.heads().heads[0].task.name, "fracture");
    }

    #[test]
    fn damaged_bundles_fail_with_the_reason() {
        let (b, _) = bundle();
        let bytes = b.to_bytes();
        assert!(matches!(Bundle::from_bytes(&bytes[..bytes.len() - 1]), Err(BundleError::Corrupted)));
        assert!(matches!(Bundle::from_bytes(&bytes[..30]), Err(BundleError::Truncated(_))));
        assert!(matches!(Bundle::from_bytes(&bytes[..5]), Err(BundleError::Truncated(_))));
        assert!(matches!(Bundle::from_bytes(b"PK\x03\x04 a zip file"), Err(BundleError::NotABundle)));
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 2] ^= 0x40;
        assert!(matches!(Bundle::from_bytes(&flipped), Err(BundleError::Corrupted)));
        let mut newer = bytes.clone();
        newer[8] = 9;
        assert!(matches!(Bundle::from_bytes(&newer), Err(BundleError::UnsupportedVersion { found: 9 })));
        let mut wrong_head = b.clone();
        wrong_head.header.heads = vec![head(5)];
        let err = Bundle::from_bytes(&wrong_head.to_bytes()).unwrap_err().to_string();
        assert!(err.contains("5-d latents"), "{err}");
        let mut one_grade = head(8);
        one_grade.calibration.grade_range = (2, 2);
        wrong_head.header.heads = vec![one_grade];
        let err = Bundle::from_bytes(&wrong_head.to_bytes()).unwrap_err().to_string();
        assert!(err.contains("at least two grades"), "{err}");
        let mut cut_weights = b.clone();
        cut_weights.weights.truncate(100);
        cut_weights.header.weights_bytes = 100;
        let reread = Bundle::from_bytes(&cut_weights.to_bytes()).unwrap();
        assert!(matches!(reread.model(&Device::flex()), Err(BundleError::Weights(_))));
    }

    #[test]
    fn oversized_files_are_refused_before_reading() {
        let path = std::env::temp_dir().join(format!("daecf-huge-{}.daecf", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_BUNDLE_BYTES + 1).unwrap(); // sparse: takes no disk space
        assert!(matches!(Bundle::read(&path), Err(BundleError::Oversized(_))));
        std::fs::remove_file(&path).ok();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            prop_assert!(Bundle::from_bytes(&bytes).is_err());
        }

        #[test]
        fn random_bytes_after_the_magic_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let bytes = [BUNDLE_MAGIC.as_slice(), &tail].concat();
            prop_assert!(Bundle::from_bytes(&bytes).is_err());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Mutations with the checksum recomputed, so they reach the header and weights checks.
        #[test]
        fn mutated_bundles_fail_cleanly(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>()) {
            let (b, _) = bundle();
            let bytes = b.to_bytes();
            let mut body = bytes[..bytes.len() - CHECKSUM].to_vec();
            for (at, v) in &edits {
                let i = at.index(body.len().min(PREAMBLE + 2048));
                body[i] = *v;
            }
            body.truncate(body.len() - cut.index(64));
            let digest = Sha256::digest(&body);
            body.extend_from_slice(&digest);
            if let Ok(reread) = Bundle::from_bytes(&body) {
                let _ = reread.model(&Device::flex());
            }
        }
    }
}
