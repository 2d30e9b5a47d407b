//! The reference PyTorch DAE's speed on the machine daecf runs on, for side-by-side ratios: runs
//! scripts/pytorch_reference_step.py (phizaz/diffae's model, built into this crate) with a
//! preset's shapes and reads its JSON. Needs Python with PyTorch and a checkout of
//! phizaz/diffae. `daecf bench --reference` and the `dae` criterion bench use it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{DaecfError, Result};
use crate::model::Preset;

/// The reference timing script (`python -c`).
const SCRIPT: &str = include_str!("../../../scripts/pytorch_reference_step.py");

/// What the reference script measured (its `--json` output).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReferenceSpeed {
    /// PyTorch's version.
    pub torch: String,
    /// The device it ran on.
    pub device: String,
    /// Its intra-op threads.
    pub threads: usize,
    /// A training step per precision (`f32`, `f16`, `bf16`).
    pub modes: BTreeMap<String, ReferenceStep>,
    /// Seconds of a noise prediction per batch size.
    pub eps_seconds: BTreeMap<String, f64>,
}

/// One precision's training step in the reference.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReferenceStep {
    /// Seconds of one training step.
    pub train_step_seconds: f64,
}

/// What to time in the reference.
#[derive(Debug, Clone)]
pub struct ReferenceRun<'a> {
    /// The Python with PyTorch.
    pub python: &'a Path,
    /// The phizaz/diffae checkout the model is imported from.
    pub diffae: &'a Path,
    /// On CUDA rather than the CPU.
    pub cuda: bool,
    /// The model shape.
    pub preset: Preset,
    /// Residual blocks per level instead of the preset's.
    pub res_blocks: Option<usize>,
    /// Batch size of the training steps.
    pub batch: usize,
    /// Timed training steps (at least 3 are run).
    pub steps: usize,
    /// Batch sizes of the timed noise predictions.
    pub eps_batches: &'a [usize],
    /// Precision of the training step (`f32`, `f16`, `bf16`).
    pub precision: &'a str,
}

impl ReferenceSpeed {
    /// Seconds of the reference's training step at `precision`, when it was timed.
    pub fn train_step_seconds(&self, precision: &str) -> Option<f64> {
        self.modes.get(precision).map(|m| m.train_step_seconds)
    }

    /// Seconds of the reference's noise prediction at `batch`, when it was timed.
    pub fn eps_seconds(&self, batch: usize) -> Option<f64> {
        self.eps_seconds.get(&batch.to_string()).copied()
    }

    /// Checks what `measure` needs before a long run: a shape the script knows and a diffae
    /// checkout.
    pub fn check(run: &ReferenceRun) -> Result<()> {
        script_preset(run.preset, run.res_blocks)?;
        if !run.diffae.join("model/unet_autoenc.py").is_file() {
            return Err(DaecfError::Reference(format!(
                "{} is not a phizaz/diffae checkout (no model/unet_autoenc.py); git clone \
                 https://github.com/phizaz/diffae",
                run.diffae.display()
            )));
        }
        Ok(())
    }

    /// Times the reference (minutes for paper64 on a CPU).
    pub fn measure(run: &ReferenceRun) -> Result<Self> {
        Self::check(run)?;
        let batches: Vec<String> = run.eps_batches.iter().map(usize::to_string).collect();
        let output = Command::new(run.python)
            .args(["-c", SCRIPT])
            .args(["--diffae", &run.diffae.to_string_lossy(), "--device", if run.cuda { "cuda" } else { "cpu" }])
            .args(["--json", "--preset", script_preset(run.preset, run.res_blocks)?])
            .args(["--batch", &run.batch.to_string(), "--steps", &run.steps.max(3).to_string()])
            .args(["--modes", run.precision, "--eps-batches", &batches.join(",")])
            .output()
            .map_err(|e| {
                DaecfError::Reference(format!("running {}: {e} (set the Python with PyTorch)", run.python.display()))
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let lines: Vec<&str> = stderr.lines().collect();
            return Err(DaecfError::Reference(format!(
                "it failed (is PyTorch installed for {}?):\n{}",
                run.python.display(),
                lines[lines.len().saturating_sub(5)..].join("\n")
            )));
        }
        Self::parse(&String::from_utf8_lossy(&output.stdout))
    }

    /// Reads the script's output: JSON on its last line.
    fn parse(stdout: &str) -> Result<Self> {
        let line = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(line).map_err(|e| DaecfError::Reference(format!("reading its output ({e}): {line}")))
    }
}

/// The script's preset name for a shape, when it has one.
fn script_preset(preset: Preset, res_blocks: Option<usize>) -> Result<&'static str> {
    match (preset, res_blocks) {
        (Preset::Tiny32, None | Some(2)) => Ok("tiny32"),
        (Preset::Tiny32, Some(1)) => Ok("tiny32-rb1"),
        (Preset::Paper64, None | Some(2)) => Ok("paper64"),
        _ => Err(DaecfError::Reference(format!(
            "it knows tiny32 (1 or 2 residual blocks) and paper64 (2), not {preset}{}; time other shapes without it",
            res_blocks.map_or(String::new(), |n| format!(" with {n} residual blocks"))
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_scripts_json() {
        let out = "loading\n{\"torch\": \"2.9.0\", \"device\": \"cpu\", \"threads\": 2, \"preset\": \"tiny32\", \
                   \"batch\": 16, \"modes\": {\"f32\": {\"train_step_seconds\": 0.5, \"peak_gpu_bytes\": null}}, \
                   \"eps_seconds\": {\"1\": 0.02}}";
        let speed = ReferenceSpeed::parse(out).unwrap();
        assert_eq!((speed.train_step_seconds("f32"), speed.eps_seconds(1)), (Some(0.5), Some(0.02)));
        assert_eq!((speed.train_step_seconds("bf16"), speed.eps_seconds(8)), (None, None));
        assert!(ReferenceSpeed::parse("Traceback").unwrap_err().to_string().contains("Traceback"));
    }

    #[test]
    fn shapes_are_the_scripts_presets() {
        assert_eq!(script_preset(Preset::Tiny32, Some(1)).unwrap(), "tiny32-rb1");
        assert_eq!(script_preset(Preset::Paper64, None).unwrap(), "paper64");
        assert!(script_preset(Preset::Vcf96, None).unwrap_err().to_string().contains("knows tiny32"));
    }

    #[test]
    fn a_folder_that_is_not_diffae_is_refused() {
        let dir = std::env::temp_dir();
        let run = ReferenceRun {
            python: Path::new("python3"),
            diffae: &dir,
            cuda: false,
            preset: Preset::Tiny32,
            res_blocks: None,
            batch: 16,
            steps: 3,
            eps_batches: &[1],
            precision: "f32",
        };
        assert!(ReferenceSpeed::check(&run).unwrap_err().to_string().contains("not a phizaz/diffae checkout"));
    }
}
