//! Loading weights: safetensors files with the reference PyTorch DAE's parameter names, the
//! reference's PyTorch Lightning checkpoints (`state_dict` holding `ema_model.*` and
//! `model.*`), and daecf's own checkpoints (safetensors with the config in the header).
//!
//! All reading and name mapping goes through burn-store; this module only says how the
//! reference's names map onto daecf's modules and turns a partial load into a clear error.

use std::path::Path;

use burn::store::{
    ApplyResult, FloatCastAdapter, KeyRemapper, ModuleAdapter, ModuleSnapshot, PyTorchToBurnAdapter, PytorchStore,
    SafetensorsStore,
};
use burn::tensor::{DType, Device};

use super::autoencoder::DiffusionAutoencoder;
use super::config::DaeConfig;
use crate::error::{DaecfError, Result};

/// Which of the two weight copies of a Lightning checkpoint to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckpointCopy {
    /// The exponential moving average (`ema_model.*`): what the papers use for inference.
    #[default]
    Ema,
    /// The online training weights (`model.*`).
    Online,
}

impl CheckpointCopy {
    fn prefix(self) -> &'static str {
        match self {
            Self::Ema => "ema_model.",
            Self::Online => "model.",
        }
    }
}

/// Rules from the reference's parameter names to daecf's module paths.
const REFERENCE_NAMES: [(&str, &str); 17] = [
    (r"^time_embed\.time_embed\.0\.", "unet.time_embed.linear_in."),
    (r"^time_embed\.time_embed\.2\.", "unet.time_embed.linear_out."),
    (r"^(input_blocks|middle_block|output_blocks)\.", "unet.$1."),
    (r"^out\.0\.", "unet.out_norm."),
    (r"^out\.2\.", "unet.out_conv."),
    (r"^encoder\.out\.0\.", "encoder.out_norm."),
    (r"^encoder\.out\.3\.", "encoder.out_conv."),
    (r"\.in_layers\.0\.", ".in_norm."),
    (r"\.in_layers\.2\.", ".in_conv."),
    (r"\.emb_layers\.1\.", ".cond.emb_linear."),
    (r"\.cond_emb_layers\.1\.", ".cond.cond_linear."),
    (r"\.out_layers\.0\.", ".cond.out_norm."),
    (r"\.out_layers\.3\.", ".cond.out_conv."),
    (r"\.skip_connection\.", ".skip."),
    // Buffers of the reference's LitModel that are not model weights.
    (r"^x_T$", "buffers.x_T"),
    (r"^conds_mean$", "buffers.conds_mean"),
    (r"^conds_std$", "buffers.conds_std"),
];

/// The key remapper from reference names, after stripping `prefix` (e.g. `ema_model.`).
fn reference_remapper(prefix: Option<&str>) -> KeyRemapper {
    let strip = prefix.map(|p| (format!("^{}", regex_escape(p)), String::new()));
    let rules = strip.into_iter().chain(REFERENCE_NAMES.iter().map(|(a, b)| (a.to_string(), b.to_string())));
    KeyRemapper::from_pattern_iter(rules).expect("the built-in patterns are valid regexes")
}

fn regex_escape(s: &str) -> String {
    s.replace('.', r"\.")
}

/// Turns a partial load into an error listing every missing, unexpected and mis-shaped tensor.
/// Unused entries accepted by `ignore` (the other checkpoint copy, LitModel buffers) are fine.
fn check(result: ApplyResult, path: &Path, ignore: impl Fn(&str) -> bool) -> Result<()> {
    let mut lines: Vec<String> = result.missing.iter().map(|(p, _)| format!("  missing: {p}")).collect();
    lines.extend(result.unused.iter().filter(|p| !ignore(p)).map(|p| format!("  unexpected: {p}")));
    lines.extend(result.errors.iter().map(|e| format!("  {e}")));
    if lines.is_empty() {
        return Ok(());
    }
    lines.push(
        "(names are daecf module paths; does the model config match the one the weights were trained with?)".into(),
    );
    Err(DaecfError::Weights { path: path.display().to_string(), details: lines.join("\n") })
}

fn missing_file(path: &Path) -> Result<()> {
    if path.is_file() {
        Ok(())
    } else {
        Err(DaecfError::Io {
            path: path.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        })
    }
}

fn store_error(path: &Path, e: impl std::fmt::Display) -> DaecfError {
    DaecfError::Format { path: path.display().to_string(), reason: e.to_string() }
}

impl DiffusionAutoencoder {
    /// Loads a safetensors file with the reference PyTorch DAE's parameter names
    /// (`input_blocks.1.0.in_layers.0.weight`, ...; an `ema_model.` or `model.` prefix is
    /// also accepted, preferring the EMA copy). Float16 weights are cast to float32.
    pub fn load_reference_safetensors(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        missing_file(path)?;
        let mut store = SafetensorsStore::from_file(path)
            .with_from_adapter(PyTorchToBurnAdapter.chain(FloatCastAdapter::to(DType::F32)))
            .skip_enum_variants(true)
            .remap(reference_remapper(Some(CheckpointCopy::Ema.prefix())))
            .allow_partial(true)
            .validate(false);
        let result = self.load_from(&mut store).map_err(|e| store_error(path, e))?;
        check(result, path, is_reference_extra)
    }

    /// Loads a PyTorch Lightning checkpoint of the reference DAE (`.ckpt`: a torch.save'd dict
    /// whose `state_dict` holds `ema_model.*` and `model.*`), taking the chosen copy.
    pub fn load_lightning_checkpoint(&mut self, path: impl AsRef<Path>, copy: CheckpointCopy) -> Result<()> {
        let path = path.as_ref();
        missing_file(path)?;
        let other = match copy {
            CheckpointCopy::Ema => CheckpointCopy::Online.prefix(),
            CheckpointCopy::Online => CheckpointCopy::Ema.prefix(),
        };
        let mut store = PytorchStore::from_file(path)
            .with_top_level_key("state_dict")
            .skip_enum_variants(true)
            .map_indices_contiguous(false)
            .remap(reference_remapper(Some(copy.prefix())))
            .allow_partial(true)
            .validate(false);
        let result = self.load_from(&mut store).map_err(|e| store_error(path, e))?;
        let selected = result.applied.len();
        check(result, path, |p| p.starts_with(other) || is_reference_extra(p))?;
        if selected == 0 {
            return Err(store_error(path, format!("no tensors under '{}' in state_dict", copy.prefix())));
        }
        Ok(())
    }

    /// Loads reference weights by file type: `.ckpt`/`.pt`/`.pth` as a Lightning checkpoint
    /// (EMA copy), anything else as safetensors.
    pub fn load_reference(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        match path.extension().and_then(|e| e.to_str()) {
            Some("ckpt" | "pt" | "pth") => self.load_lightning_checkpoint(path, CheckpointCopy::Ema),
            _ => self.load_reference_safetensors(path),
        }
    }

    /// Saves the model as a daecf checkpoint: safetensors with daecf's parameter names and the
    /// config (JSON) in the header, so [`load`](Self::load) needs nothing else.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.save_as(path.as_ref(), false)
    }

    /// [`save`](Self::save) with every weight stored as f16 (half the size; loading casts them
    /// back to f32).
    pub fn save_f16(&self, path: impl AsRef<Path>) -> Result<()> {
        self.save_as(path.as_ref(), true)
    }

    fn save_as(&self, path: &Path, half: bool) -> Result<()> {
        let config = serde_json::to_string(&self.config).expect("a config serialises");
        let store = SafetensorsStore::from_file(path).metadata(CONFIG_KEY, config).overwrite(true);
        let mut store = if half { store.with_to_adapter(FloatCastAdapter::to(DType::F16)) } else { store };
        self.save_into(&mut store).map_err(|e| store_error(path, e))
    }

    /// Loads a daecf checkpoint written by [`save`](Self::save) or [`save_f16`](Self::save_f16)
    /// onto `device`.
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let path = path.as_ref();
        missing_file(path)?;
        let bytes =
            std::fs::read(path).map_err(|source| DaecfError::Io { path: path.display().to_string(), source })?;
        Self::load_bytes(&bytes, &path.display().to_string(), device)
    }
}

/// The header key of a daecf checkpoint's config.
const CONFIG_KEY: &str = "daecf_config";

/// Entries of reference files that are not weights of the model.
fn is_reference_extra(path: &str) -> bool {
    path.starts_with("buffers.")
}

/// Reads the config stored in a daecf checkpoint's header (only the header is read).
pub fn read_checkpoint_config(path: &Path) -> Result<DaeConfig> {
    use std::io::Read;
    let io = |source| DaecfError::Io { path: path.display().to_string(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(io)?;
    let len = u64::from_le_bytes(len);
    if len > 100 << 20 {
        return Err(store_error(path, "not a safetensors file (header length out of range)"));
    }
    let mut header = vec![0u8; len as usize];
    file.read_exact(&mut header).map_err(io)?;
    config_from_header(&header, path)
}

/// The daecf config in a safetensors header (the JSON after the 8-byte length).
fn config_from_header(header: &[u8], path: &Path) -> Result<DaeConfig> {
    let header: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| store_error(path, format!("not a safetensors file ({e})")))?;
    let json =
        header.get("__metadata__").and_then(|m| m.get(CONFIG_KEY)).and_then(|c| c.as_str()).ok_or_else(|| {
            store_error(
                path,
                "no daecf config in the header: is this a reference PyTorch file? \
                 Convert it first with `daecf import` (or, in Rust, load_reference with its config)",
            )
        })?;
    serde_json::from_str(json).map_err(|e| store_error(path, format!("bad daecf config: {e}")))
}

impl DiffusionAutoencoder {
    /// Loads a daecf checkpoint from its bytes (as written by [`save`](Self::save)); `name`
    /// only labels errors.
    pub fn load_bytes(bytes: &[u8], name: &str, device: &Device) -> Result<Self> {
        let path = Path::new(name);
        let len = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize);
        let header = len
            .and_then(|len| bytes.get(8..8usize.checked_add(len)?))
            .ok_or_else(|| store_error(path, "not a safetensors file (truncated header)"))?;
        let config = config_from_header(header, path)?;
        let mut model = Self::new(&config, device)?;
        let mut store = SafetensorsStore::from_bytes(Some(bytes.to_vec()))
            .with_from_adapter(FloatCastAdapter::to(DType::F32))
            .allow_partial(true)
            .validate(false);
        let result = model.load_from(&mut store).map_err(|e| store_error(path, e))?;
        check(result, path, |_| false)?;
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Tensor;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    #[cfg_attr(target_arch = "wasm32", ignore = "no file system in the browser")]
    fn own_checkpoints_round_trip_with_their_config() {
        let device = Device::flex();
        device.seed(7);
        let config =
            DaeConfig::preset(crate::model::Preset::Tiny32).with_input_range(super::super::InputRange::ZeroToOne);
        let model = DiffusionAutoencoder::new(&config, &device).unwrap();
        let path = std::env::temp_dir().join(format!("daecf-ckpt-{}.safetensors", std::process::id()));
        model.save(&path).unwrap();
        let loaded = DiffusionAutoencoder::load(&path, &device).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(loaded.config, config);
        let from_bytes = DiffusionAutoencoder::load_bytes(&bytes, "model", &device).unwrap();
        assert!(DiffusionAutoencoder::load_bytes(&bytes[..100], "cut", &device).is_err());
        let x = Tensor::<4>::ones([1, 1, 32, 32], &device) * 0.5;
        let a: Vec<f32> = model.encode(x.clone()).into_data().try_to_vec().unwrap();
        let b: Vec<f32> = loaded.encode(x.clone()).into_data().try_to_vec().unwrap();
        assert_eq!(a, b);
        let c: Vec<f32> = from_bytes.encode(x.clone()).into_data().try_to_vec().unwrap();
        assert_eq!(a, c);
        // Half-precision weights: half the file, outputs within f16 rounding.
        let half = path.with_extension("f16.safetensors");
        model.save_f16(&half).unwrap();
        assert!(std::fs::metadata(&half).unwrap().len() < bytes.len() as u64 * 6 / 10);
        let from_half = DiffusionAutoencoder::load(&half, &device).unwrap();
        std::fs::remove_file(&half).ok();
        let h: Vec<f32> = from_half.encode(x).into_data().try_to_vec().unwrap();
        let err = a.iter().zip(&h).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-2 && err > 0.0, "f16 round trip error {err}");
    }

    #[test]
    #[cfg_attr(target_arch = "wasm32", ignore = "no file system in the browser")]
    fn a_reference_file_is_not_a_daecf_checkpoint() {
        let path = std::env::temp_dir().join(format!("daecf-notckpt-{}.bin", std::process::id()));
        std::fs::write(&path, b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":1}         ").unwrap();
        let err = read_checkpoint_config(&path).unwrap_err().to_string();
        std::fs::remove_file(&path).ok();
        assert!(err.contains("no daecf config"), "{err}");
    }
}
