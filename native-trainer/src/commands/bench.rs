//! `daecf bench`: training throughput (samples/s) and peak memory of a preset on a device, and
//! the time of one noise prediction (a DDIM step). With `--reference` it runs the reference
//! PyTorch DAE (scripts/pytorch_reference_step.py, built into the binary) on the same machine in
//! the same run and prints daecf's time over PyTorch's for both.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use burn::tensor::{Distribution, Tensor};
use clap::Args;
use daecf_core::diffusion::DdimSampler;
use daecf_core::model::{DaeConfig, DiffusionAutoencoder, Preset};
use daecf_core::training::reference_speed::{ReferenceRun, ReferenceSpeed};
use daecf_core::training::{DaeTrainer, TrainerConfig};
use serde::Serialize;

use crate::backend::{Backend, PrecisionArg};

/// Timed noise predictions, after one untimed warm-up.
const EPS_REPEATS: usize = 5;

/// Options of `daecf bench`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  daecf bench --preset tiny32
  daecf bench --preset paper64 --steps 3 --json
  daecf bench --preset tiny32 --backend wgpu
  daecf bench --preset tiny32 --reference --diffae ~/diffae   # PyTorch on the same machine")]
pub struct BenchArgs {
    /// Model preset.
    #[arg(long, default_value = "tiny32", value_parser = crate::options::named::<Preset>())]
    preset: Preset,
    /// Residual blocks per level instead of the preset's.
    #[arg(long)]
    res_blocks: Option<usize>,
    /// Batch size of the training steps.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Timed training steps (after one untimed warm-up step).
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Batch size of the timed noise prediction (one DDIM step).
    #[arg(long, default_value_t = 1)]
    eps_batch: usize,
    /// Device.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// Precision of the training step's passes (see `daecf train --help`).
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    precision: PrecisionArg,
    /// Also time the reference PyTorch DAE at the same preset, batches and precision on this
    /// machine (CPU, or CUDA for `--backend cuda`/`wgpu`), and print the ratios. Needs Python with
    /// PyTorch (`--python`) and a checkout of phizaz/diffae (`--diffae`).
    #[arg(long)]
    reference: bool,
    /// The phizaz/diffae checkout for `--reference` (default: $DAECF_DIFFAE).
    #[arg(long, env = "DAECF_DIFFAE")]
    diffae: Option<PathBuf>,
    /// The Python with PyTorch for `--reference`.
    #[arg(long, env = "DAECF_PYTHON", default_value = "python3")]
    python: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// daecf's time over the reference's, measured in the same run.
#[derive(Debug, Serialize)]
struct Ratios {
    train_step: f64,
    noise_prediction: f64,
}

/// What `daecf bench` measured.
#[derive(Debug, Serialize)]
struct BenchReport {
    preset: Preset,
    backend: String,
    precision: String,
    batch: usize,
    seconds_per_step: f64,
    samples_per_second: f64,
    /// Batch of the timed noise prediction.
    eps_batch: usize,
    /// Seconds of one DDIM step (one UNet evaluation) at `eps_batch`.
    ddim_step_seconds: f64,
    /// Peak resident memory of the process in bytes (Linux), when known.
    peak_rss_bytes: Option<u64>,
    /// The reference PyTorch DAE on the same machine (`--reference`).
    reference: Option<ReferenceSpeed>,
    /// daecf's times over the reference's (`--reference`).
    slower_than_pytorch: Option<Ratios>,
}

/// The name of `args`' precision, as the reference script and the report spell it.
fn precision_name(args: &BenchArgs) -> String {
    format!("{:?}", args.precision).to_lowercase()
}

/// The reference run of `args`' shapes at `precision` (`--reference`).
fn reference_run<'a>(args: &'a BenchArgs, precision: &'a str) -> anyhow::Result<ReferenceRun<'a>> {
    let diffae = args.diffae.as_deref().context(
        "--reference needs a checkout of phizaz/diffae: pass --diffae DIR or set DAECF_DIFFAE \
         (git clone https://github.com/phizaz/diffae)",
    )?;
    Ok(ReferenceRun {
        python: &args.python,
        diffae,
        cuda: !args.backend.is_cpu(),
        preset: args.preset,
        res_blocks: args.res_blocks,
        batch: args.batch,
        steps: args.steps,
        eps_batches: std::slice::from_ref(&args.eps_batch),
        precision,
    })
}

/// daecf's times over the reference's.
fn ratios(report: &BenchReport, reference: &ReferenceSpeed) -> Option<Ratios> {
    let step = reference.train_step_seconds(&report.precision)?;
    let eps = reference.eps_seconds(report.eps_batch)?;
    Some(Ratios { train_step: report.seconds_per_step / step, noise_prediction: report.ddim_step_seconds / eps })
}

/// The process's peak resident set size (VmHWM) on Linux.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Runs `daecf bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.batch > 0 && args.steps > 0 && args.eps_batch > 0,
        "--batch, --steps and --eps-batch must be at least 1"
    );
    if args.reference {
        ReferenceSpeed::check(&reference_run(&args, &precision_name(&args))?)?;
    }
    let device = args.backend.device()?;
    let mut config = DaeConfig::preset(args.preset);
    if let Some(n) = args.res_blocks {
        (config.num_res_blocks, config.enc_num_res_blocks) = (n, n);
    }
    device.seed(0);
    let model = DiffusionAutoencoder::new(&config, &device)?;
    let size = config.image_size;
    let shape = [args.eps_batch, config.in_channels, size, size];

    let sampler = DdimSampler::new(&config.noise_schedule()?, 10)?;
    let z = model.encode(Tensor::<4>::zeros(shape, &device));
    let cond = model.conditioned(z);
    let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let _ = sampler.render_step(&cond, x.clone(), 9).into_data();
    let started = Instant::now();
    for _ in 0..EPS_REPEATS {
        let _ = sampler.render_step(&cond, x.clone(), 9).into_data();
    }
    let ddim_step_seconds = started.elapsed().as_secs_f64() / EPS_REPEATS as f64;

    let mut trainer = DaeTrainer::new(model, TrainerConfig::new(), &device)?;
    trainer.set_precision(args.precision.into(), &device)?;
    let batch =
        Tensor::<4>::random([args.batch, config.in_channels, size, size], Distribution::Uniform(-1.0, 1.0), &device);
    trainer.step(batch.clone());
    let bar = crate::progress::bar(args.steps as u64, "benchmarking", "steps");
    let started = Instant::now();
    for _ in 0..args.steps {
        trainer.step(batch.clone());
        bar.inc(1);
    }
    bar.finish_and_clear();
    let seconds_per_step = started.elapsed().as_secs_f64() / args.steps as f64;
    let mut report = BenchReport {
        preset: args.preset,
        backend: format!("{:?}", args.backend).to_lowercase(),
        precision: precision_name(&args),
        batch: args.batch,
        seconds_per_step,
        samples_per_second: args.batch as f64 / seconds_per_step,
        eps_batch: args.eps_batch,
        ddim_step_seconds,
        peak_rss_bytes: peak_rss(),
        reference: None,
        slower_than_pytorch: None,
    };
    if args.reference {
        let precision = precision_name(&args);
        let reference = ReferenceSpeed::measure(&reference_run(&args, &precision)?)?;
        report.slower_than_pytorch = ratios(&report, &reference);
        report.reference = Some(reference);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

/// Prints the report as lines.
fn print_report(report: &BenchReport) {
    println!(
        "{} on {} ({}): train step (batch {}) {:.3} s = {:.2} samples/s; DDIM step (batch {}) {:.1} ms; peak memory {}",
        report.preset,
        report.backend,
        report.precision,
        report.batch,
        report.seconds_per_step,
        report.samples_per_second,
        report.eps_batch,
        1e3 * report.ddim_step_seconds,
        report.peak_rss_bytes.map_or("unknown".into(), |b| format!("{:.2} GB", b as f64 / 1e9)),
    );
    if let (Some(reference), Some(r)) = (&report.reference, &report.slower_than_pytorch) {
        println!(
            "PyTorch {} on {} ({} threads), same run: train step {:.3} s, noise prediction {:.1} ms; daecf takes {:.2}x and {:.2}x as long",
            reference.torch,
            reference.device,
            reference.threads,
            report.seconds_per_step / r.train_step,
            1e3 * report.ddim_step_seconds / r.noise_prediction,
            r.train_step,
            r.noise_prediction,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_divide_by_the_reference_at_the_same_batch_and_precision() {
        let line = r#"{"torch": "2.9.0", "device": "cpu", "threads": 2,
            "modes": {"f32": {"train_step_seconds": 0.5}}, "eps_seconds": {"1": 0.02}}"#;
        let reference: ReferenceSpeed = serde_json::from_str(line).unwrap();
        let report = BenchReport {
            preset: Preset::Tiny32,
            backend: "cpu".into(),
            precision: "f32".into(),
            batch: 16,
            seconds_per_step: 1.0,
            samples_per_second: 16.0,
            eps_batch: 1,
            ddim_step_seconds: 0.03,
            peak_rss_bytes: None,
            reference: None,
            slower_than_pytorch: None,
        };
        let r = ratios(&report, &reference).unwrap();
        assert!((r.train_step - 2.0).abs() < 1e-12 && (r.noise_prediction - 1.5).abs() < 1e-9);
        let other_batch = BenchReport { eps_batch: 8, ..report };
        assert!(ratios(&other_batch, &reference).is_none(), "no reference at another batch");
    }
}
