//! Training checkpoints: everything needed to continue a run exactly where it stopped, written
//! atomically (into a temporary folder that replaces the old checkpoint in one rename).
//!
//! A checkpoint folder holds `online.bpk` and `ema.bpk` (the weights, burnpack, which keeps
//! the parameter ids that the optimiser state and the EMA update are keyed by),
//! `optimizer.bpk` (Adam's moments), `ema.safetensors` (the EMA weights as a daecf model file,
//! loadable on its own for inference) and `state.json` (step, model and trainer config, f16 loss scale). Every random draw of a step is a
//! function of (seed, step), so no random-number state needs saving.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{DaeTrainer, LossScale, Precision, TrainerConfig};
use crate::model::{DaeConfig, DiffusionAutoencoder};
use crate::{DaecfError, Result};

/// The small part of a checkpoint: where the run stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingState {
    /// Optimisation steps taken.
    pub step: usize,
    /// The trainer's settings (seed included).
    pub config: TrainerConfig,
    /// The model's architecture.
    pub model: DaeConfig,
    /// Precision of the passes (f32 in checkpoints older than mixed precision).
    #[serde(default)]
    pub precision: Precision,
    /// The f16 loss scale where training in f16.
    #[serde(default)]
    pub loss_scale: Option<LossScale>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DaecfError + '_ {
    move |source| DaecfError::Io { path: path.display().to_string(), source }
}

fn store_error(path: &Path, e: impl std::fmt::Display) -> DaecfError {
    DaecfError::Format { path: path.display().to_string(), reason: e.to_string() }
}

impl DaeTrainer {
    /// Writes a checkpoint to the folder `dir`, replacing any checkpoint there only once the
    /// new one is complete.
    pub fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        let tmp = sibling(dir, "tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        save_burnpack(&self.model, &tmp.join("online.bpk"))?;
        save_burnpack(&self.ema, &tmp.join("ema.bpk"))?;
        let optimizer = tmp.join("optimizer.bpk");
        self.optimizer.save(&optimizer).map_err(|e| store_error(&optimizer, e))?;
        self.ema.save(tmp.join("ema.safetensors"))?;
        let state = TrainingState {
            step: self.step,
            config: self.config.clone(),
            model: self.ema.config.clone(),
            precision: self.precision,
            loss_scale: self.loss_scale,
        };
        let json = serde_json::to_string_pretty(&state).map_err(|e| store_error(dir, e))?;
        std::fs::write(tmp.join("state.json"), json).map_err(io(&tmp))?;
        // Swap: the old checkpoint stays intact until the new one is in place.
        let old = sibling(dir, "old");
        if dir.exists() {
            std::fs::rename(dir, &old).map_err(io(dir))?;
        }
        std::fs::rename(&tmp, dir).map_err(io(dir))?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(io(&old))?;
        }
        Ok(())
    }

    /// Continues the run saved in `dir` on `device`.
    pub fn resume(dir: &Path, device: &Device) -> Result<Self> {
        let state_path = dir.join("state.json");
        let text = std::fs::read_to_string(&state_path).map_err(io(&state_path))?;
        let state: TrainingState = serde_json::from_str(&text).map_err(|e| store_error(&state_path, e))?;
        let ema = load_burnpack(DiffusionAutoencoder::new(&state.model, device)?, &dir.join("ema.bpk"))?;
        let mut trainer = Self::new(ema.clone(), state.config, device)?;
        let online = load_burnpack(ema.fork(&device.clone().autodiff()), &dir.join("online.bpk"))?;
        trainer.model = online.train();
        let optimizer = dir.join("optimizer.bpk");
        trainer.optimizer = trainer.optimizer.load(&optimizer).map_err(|e| store_error(&optimizer, e))?;
        trainer.step = state.step;
        trainer.set_precision(state.precision, device)?;
        trainer.loss_scale = state.loss_scale.or(trainer.loss_scale);
        Ok(trainer)
    }
}

fn save_burnpack(model: &DiffusionAutoencoder, path: &Path) -> Result<()> {
    let mut store = BurnpackStore::from_file(path).overwrite(true);
    model.save_into(&mut store).map_err(|e| store_error(path, e))
}

/// Loads weights and parameter ids; every tensor must be there.
fn load_burnpack(mut model: DiffusionAutoencoder, path: &Path) -> Result<DiffusionAutoencoder> {
    let mut store = BurnpackStore::from_file(path);
    let result = model.load_from(&mut store).map_err(|e| store_error(path, e))?;
    if !result.missing.is_empty() || !result.errors.is_empty() {
        return Err(store_error(
            path,
            format!("incomplete checkpoint: missing {:?}, errors {:?}", result.missing, result.errors),
        ));
    }
    Ok(model)
}

/// `dir` with a suffix, beside it: `ckpt` -> `ckpt.tmp`.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{suffix}"));
    dir.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state.json written before mixed precision existed (the demo model's run) still reads,
    /// as an f32 run without loss scale.
    #[test]
    fn older_state_files_read_as_f32_runs() {
        let state: TrainingState = serde_json::from_str(OLDER_STATE).unwrap();
        assert_eq!((state.step, state.precision, state.loss_scale), (3500, Precision::F32, None));
        assert_eq!(state.model.num_res_blocks, 1);
    }

    const OLDER_STATE: &str = r#"{
  "step": 3500,
  "config": {
    "learning_rate": 0.0002,
    "weight_decay": 0.0,
    "ema_decay": 0.998,
    "grad_clip": 1.0,
    "timesteps": 1000,
    "seed": 1
  },
  "model": {
    "image_size": 32,
    "in_channels": 1,
    "out_channels": 1,
    "model_channels": 32,
    "channel_mult": [
      1,
      2,
      4
    ],
    "enc_channel_mult": [
      1,
      2,
      4,
      4
    ],
    "attention_resolutions": [
      16
    ],
    "enc_attention_resolutions": null,
    "num_res_blocks": 1,
    "enc_num_res_blocks": 1,
    "num_heads": 1,
    "embed_channels": 512,
    "latent_dim": 512,
    "dropout": 0.1,
    "input_range": "minus_one_to_one"
  }
}"#;
}
