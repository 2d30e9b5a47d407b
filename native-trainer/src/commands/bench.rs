//! `daecf bench`: training throughput (samples/s) and peak memory of a preset on a device, and
//! the time of one DDIM step. On the CPU backends it also gives the ratio to the PyTorch
//! reference measured on the project's 2-core machine (shared/fixtures/README.md: train step at
//! batch 16, tiny32 0.415 s, paper64 6.26 s); a GPU's figure is compared with PyTorch on the same
//! GPU, beside it (docs/benchmarks.md), not with that CPU figure.

use std::time::Instant;

use burn::tensor::{Distribution, Tensor};
use clap::Args;
use daecf_core::diffusion::DdimSampler;
use daecf_core::model::{DaeConfig, DiffusionAutoencoder, Preset};
use daecf_core::training::{DaeTrainer, TrainerConfig};
use serde::Serialize;

use crate::backend::{Backend, PrecisionArg};

/// Options of `daecf bench`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  daecf bench --preset tiny32
  daecf bench --preset paper64 --steps 3 --json
  daecf bench --preset tiny32 --backend wgpu")]
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
    /// Device.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// Precision of the training step's passes (see `daecf train --help`).
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    precision: PrecisionArg,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The PyTorch reference's training step at batch 16 on the project machine's 2 CPU cores, in
/// seconds.
fn pytorch_cpu_step_b16(preset: Preset) -> Option<f64> {
    match preset {
        Preset::Tiny32 => Some(0.415),
        Preset::Paper64 => Some(6.26),
        _ => None,
    }
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
    /// Seconds of one DDIM step (one UNet evaluation) at batch 1.
    ddim_step_seconds: f64,
    /// Peak resident memory of the process in bytes (Linux), when known.
    peak_rss_bytes: Option<u64>,
    /// daecf's step time over PyTorch's at batch 16 on the project machine's 2 CPU cores: for
    /// the CPU backends at a preset's own shape and f32 only.
    slower_than_pytorch_cpu: Option<f64>,
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
    anyhow::ensure!(args.batch > 0 && args.steps > 0, "--batch and --steps must be at least 1");
    let device = args.backend.device()?;
    let mut config = DaeConfig::preset(args.preset);
    if let Some(n) = args.res_blocks {
        (config.num_res_blocks, config.enc_num_res_blocks) = (n, n);
    }
    device.seed(0);
    let model = DiffusionAutoencoder::new(&config, &device)?;
    let size = config.image_size;
    let shape = [1, config.in_channels, size, size];

    let sampler = DdimSampler::new(&config.noise_schedule()?, 10)?;
    let z = model.encode(Tensor::<4>::zeros(shape, &device));
    let cond = model.conditioned(z);
    let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let _ = sampler.render_step(&cond, x.clone(), 9).into_data();
    let started = Instant::now();
    let _ = sampler.render_step(&cond, x, 9).into_data();
    let ddim_step_seconds = started.elapsed().as_secs_f64();

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
    let comparable =
        args.backend.is_cpu() && args.batch == 16 && args.res_blocks.is_none() && args.precision == PrecisionArg::F32;
    let reference = comparable.then(|| pytorch_cpu_step_b16(args.preset)).flatten();
    let report = BenchReport {
        preset: args.preset,
        backend: format!("{:?}", args.backend).to_lowercase(),
        precision: format!("{:?}", args.precision).to_lowercase(),
        batch: args.batch,
        seconds_per_step,
        samples_per_second: args.batch as f64 / seconds_per_step,
        ddim_step_seconds,
        peak_rss_bytes: peak_rss(),
        slower_than_pytorch_cpu: reference.map(|r| seconds_per_step / r),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} on {} ({}): train step (batch {}) {:.3} s = {:.2} samples/s; DDIM step (batch 1) {:.1} ms; peak memory {}",
            report.preset,
            report.backend,
            report.precision,
            report.batch,
            report.seconds_per_step,
            report.samples_per_second,
            1e3 * report.ddim_step_seconds,
            report.peak_rss_bytes.map_or("unknown".into(), |b| format!("{:.2} GB", b as f64 / 1e9)),
        );
        if let Some(r) = report.slower_than_pytorch_cpu {
            println!(
                "PyTorch reference on the project machine's 2 CPU cores (shared/fixtures): {:.3} s a step: daecf takes {r:.1}x as long",
                reference.unwrap_or(0.0)
            );
        }
    }
    Ok(())
}
