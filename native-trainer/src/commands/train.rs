//! `daecf train`: unsupervised DAE training with progress, a loss CSV, atomic checkpoints,
//! reconstruction grids, a clean stop on Ctrl-C and exact resumption.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use daecf_core::data::ImageSpec;
use daecf_core::data::augment::{AugmentConfig, augment};
use daecf_core::model::{DaeConfig, DiffusionAutoencoder, InputRange, Preset};
use daecf_core::training::{DaeTrainer, Precision, TrainerConfig};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::backend::{Backend, PrecisionArg};
use crate::data_source::{DataArgs, batch_tensor};
use crate::preview::reconstruction_grid;

/// Options of `daecf train`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  daecf train --data retinamnist_128.npz --preset retina128 --steps 100000
  daecf train --data scans/ --preset paper64 --batch 16 --steps 2000 --out runs/spine
  daecf train --data scans/ --preset paper64 --out runs/spine --resume      # continue after a stop
  daecf train --data new-scans/ --init runs/spine/model.safetensors --lr 2e-5 --steps 5000 --out runs/spine-ft
  daecf train --data retinamnist_128.npz --preset retina128 --backend cuda --precision bf16 --steps 100000
  daecf train --data retinamnist_128.npz --preset retina128 --backend cuda --devices 0,1,2,3 --batch 256 --steps 30000")]
pub struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Model preset.
    #[arg(long, default_value = "tiny32", value_parser = crate::options::named::<Preset>())]
    preset: Preset,
    /// Base width of the UNet and encoder instead of the preset's (a multiple of 32).
    #[arg(long, value_name = "N")]
    channels: Option<usize>,
    /// Residual blocks per level (UNet and encoder) instead of the preset's.
    #[arg(long, value_name = "N")]
    res_blocks: Option<usize>,
    /// Optimisation steps to reach (counting the steps of a resumed run).
    #[arg(long, conflicts_with = "samples")]
    steps: Option<usize>,
    /// Training samples to see instead of --steps (steps = samples / batch).
    #[arg(long)]
    samples: Option<usize>,
    /// Batch size (the paper's 64); clamped, with a warning, to the number of images.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Learning rate (Adam, no weight decay, as the reference) [default: 1e-4]. A resumed run
    /// keeps its own; giving another is refused.
    #[arg(long)]
    lr: Option<f64>,
    /// EMA decay of the weights used for inference [default: 0.9999]. A resumed run keeps its
    /// own.
    #[arg(long)]
    ema_decay: Option<f64>,
    /// Seed of the initial weights, data order, augmentation, timesteps, noise and dropout
    /// [default: 0]. A resumed run keeps its own.
    #[arg(long)]
    seed: Option<u64>,
    /// Intensity range the model sees: minus-one-to-one (the reference) or zero-to-one (the
    /// paper's MONAI pipelines); stored in the model.
    #[arg(long, value_enum, default_value_t = RangeArg::MinusOneToOne)]
    input_range: RangeArg,
    /// Device.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
    /// Train data-parallel on these devices of --backend (CUDA ordinals or wgpu adapters, e.g.
    /// 0,1,2,3): each step's batch is split over them, the gradients are summed on the first,
    /// where Adam and the EMA run. --batch is the total over all devices.
    #[arg(long, value_name = "I,J,..", value_delimiter = ',')]
    devices: Vec<usize>,
    /// Precision of the forward and backward passes: f32 (default), or 16-bit mixed precision
    /// with f32 master weights, Adam and EMA: bf16, or f16 with dynamic loss scaling (the
    /// reference's `fp16`). Meant for GPUs (--backend cuda); CPUs emulate 16-bit arithmetic
    /// slowly. A resumed run keeps its precision unless this is given.
    #[arg(long, value_enum)]
    precision: Option<PrecisionArg>,
    /// Output folder: loss.csv, checkpoint/, reconstructions/, model.safetensors (final EMA).
    #[arg(long, value_name = "DIR", default_value = "out/train")]
    out: PathBuf,
    /// Write a checkpoint and a reconstruction grid every N steps (and at the end).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    checkpoint_every: usize,
    /// Augment the training images as the paper did: rotation up to 30 degrees, horizontal and
    /// vertical flips, grid distortion, zoom 90-110 %, each with probability 0.5 (seeded by
    /// --seed and the step, so resuming stays exact).
    #[arg(long)]
    augment: bool,
    /// Continue from OUT/checkpoint (an exact continuation on CPU).
    #[arg(long)]
    resume: bool,
    /// Start a new run from this model's weights (a daecf model file: a run's model.safetensors
    /// or checkpoint/ema.safetensors), with a fresh optimiser and step 0: fine-tuning on new
    /// images, or carrying a run to another machine without its optimiser state. The model
    /// keeps its own architecture and input range (--preset, --channels, --res-blocks and
    /// --input-range do not apply).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["resume", "channels", "res_blocks"])]
    init: Option<PathBuf>,
}

/// `--input-range`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RangeArg {
    /// [-1, 1], the reference DAE's convention.
    MinusOneToOne,
    /// [0, 1], the paper's MONAI pipelines.
    ZeroToOne,
}

/// The image indices of step `step`: epochs are seeded permutations of the data set, so the
/// order depends on (seed, step) only.
struct BatchOrder {
    seed: u64,
    n: usize,
    epoch: Option<(usize, Vec<usize>)>,
}

impl BatchOrder {
    fn indices(&mut self, step: usize, batch: usize) -> Vec<usize> {
        (step * batch..(step + 1) * batch)
            .map(|pos| {
                let epoch = pos / self.n;
                if self.epoch.as_ref().is_none_or(|(e, _)| *e != epoch) {
                    let mut order: Vec<usize> = (0..self.n).collect();
                    let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                    rng.set_stream(epoch as u64);
                    order.shuffle(&mut rng);
                    self.epoch = Some((epoch, order));
                }
                self.epoch.as_ref().map_or(0, |(_, order)| order[pos % self.n])
            })
            .collect()
    }
}

/// Runs `daecf train`.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let (device, replicas) = match args.devices.split_first() {
        None => (args.backend.device()?, Vec::new()),
        Some(_) => {
            let mut all = args.backend.devices(&args.devices)?;
            let main = all.remove(0);
            (main, all)
        }
    };
    let range = match args.input_range {
        RangeArg::MinusOneToOne => InputRange::MinusOneToOne,
        RangeArg::ZeroToOne => InputRange::ZeroToOne,
    };
    let checkpoint = args.out.join("checkpoint");
    let mut trainer = if args.resume {
        let mut trainer = DaeTrainer::resume(&checkpoint, &device)
            .with_context(|| format!("resuming from {} (drop --resume to start anew)", checkpoint.display()))?;
        check_resumed_settings(trainer.config(), &args)?;
        if let Some(p) = args.precision {
            trainer.set_precision(p.into(), &device)?;
        }
        eprintln!("resumed at step {}", trainer.step_count());
        trainer
    } else {
        let defaults = TrainerConfig::new();
        device.seed(args.seed.unwrap_or(defaults.seed));
        let model = match &args.init {
            Some(path) => {
                let model = DiffusionAutoencoder::load(path, &device)
                    .with_context(|| format!("loading --init {}", path.display()))?;
                eprintln!("starting from the weights of {}", path.display());
                model
            }
            None => {
                let mut config = DaeConfig::preset(args.preset).with_input_range(range);
                if let Some(c) = args.channels {
                    config.model_channels = c;
                }
                if let Some(n) = args.res_blocks {
                    (config.num_res_blocks, config.enc_num_res_blocks) = (n, n);
                }
                DiffusionAutoencoder::new(&config, &device)?
            }
        };
        let config = TrainerConfig::new()
            .with_learning_rate(args.lr.unwrap_or(defaults.learning_rate))
            .with_ema_decay(args.ema_decay.unwrap_or(defaults.ema_decay))
            .with_seed(args.seed.unwrap_or(defaults.seed));
        let mut trainer = DaeTrainer::new(model, config, &device)?;
        trainer.set_precision(args.precision.map_or(Precision::F32, Into::into), &device)?;
        trainer
    };
    if !replicas.is_empty() {
        trainer.set_replicas(&replicas);
        eprintln!("data-parallel on {} devices", replicas.len() + 1);
    }
    let model_config = trainer.ema().config.clone();
    let spec = ImageSpec { size: model_config.image_size, channels: model_config.in_channels };
    let data = args.data.read_training(spec)?;
    let mut batch = args.batch.max(1);
    if batch > data.len() {
        eprintln!("warning: --batch {batch} is more than the {} training images; using {}", data.len(), data.len());
        batch = data.len();
    }
    let total = match (args.steps, args.samples) {
        (Some(steps), _) => steps,
        (None, Some(samples)) => samples.div_ceil(batch),
        (None, None) => anyhow::bail!("say how long to train: --steps N or --samples N"),
    };
    std::fs::create_dir_all(args.out.join("reconstructions"))
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut loss_csv = open_loss_csv(&args.out, args.resume)?;

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).context("installing the Ctrl-C handler")?;

    let bar = crate::progress::bar(total as u64, "training", "steps").with_position(trainer.step_count() as u64);
    // The run's own seed: a resumed run's is its checkpoint's.
    let seed = trainer.config().seed;
    let mut order = BatchOrder { seed, n: data.len(), epoch: None };
    let started = Instant::now();
    let first_step = trainer.step_count();
    while trainer.step_count() < total {
        if stop.load(Ordering::SeqCst) {
            bar.suspend(|| eprintln!("stopping: writing a checkpoint at step {}", trainer.step_count()));
            trainer.save_checkpoint(&checkpoint)?;
            bar.abandon_with_message("stopped; continue with --resume");
            return Ok(());
        }
        let step = trainer.step_count();
        let indices = order.indices(step, batch);
        let x = if args.augment {
            augmented_batch(&data, &indices, range, seed, step, &device)?
        } else {
            batch_tensor(&data, &indices, range, &device)
        };
        let loss = trainer.step(x);
        anyhow::ensure!(loss.is_finite(), "the loss became {loss} at step {step}; lower --lr or check the images");
        let rate = ((step + 1 - first_step) * batch) as f64 / started.elapsed().as_secs_f64();
        writeln!(loss_csv, "{},{loss},{rate:.3}", step + 1)?;
        // Flushed every step so that `tail -f loss.csv` follows a run live.
        loss_csv.flush()?;
        bar.set_message(format!("loss {loss:.4}  {rate:.1} samples/s"));
        bar.inc(1);
        let done = trainer.step_count();
        if done % args.checkpoint_every.max(1) == 0 || done == total {
            trainer.save_checkpoint(&checkpoint)?;
            let grid = args.out.join("reconstructions").join(format!("step-{done:07}.png"));
            reconstruction_grid(trainer.ema(), &data, &grid, &device)?;
        }
    }
    bar.finish_with_message("done");
    let model_path = args.out.join("model.safetensors");
    trainer.ema().save(&model_path)?;
    eprintln!("wrote {} (EMA weights) and {}", model_path.display(), checkpoint.display());
    Ok(())
}

/// Refuses a --seed, --lr or --ema-decay that differs from the resumed run's own: resuming
/// continues a run exactly, so it keeps the settings its checkpoint holds.
fn check_resumed_settings(run: &TrainerConfig, args: &TrainArgs) -> anyhow::Result<()> {
    /// The value given and the run's, written out, where they differ.
    fn differing<T: PartialEq + ToString>(given: Option<T>, own: T) -> Option<(String, String)> {
        given.filter(|g| *g != own).map(|g| (g.to_string(), own.to_string()))
    }
    let asked = [
        ("--seed", differing(args.seed, run.seed)),
        ("--lr", differing(args.lr, run.learning_rate)),
        ("--ema-decay", differing(args.ema_decay, run.ema_decay)),
    ];
    for (flag, differs) in asked {
        if let Some((given, own)) = differs {
            anyhow::bail!(
                "{flag} {given} differs from the resumed run's {own}: a resumed run keeps its own; drop {flag}, \
                 or start a new run from its weights with --init {}",
                args.out.join("checkpoint/ema.safetensors").display()
            );
        }
    }
    Ok(())
}

/// The images at `indices`, each through the paper's augmentations; the random stream depends
/// on (seed, step) only.
fn augmented_batch(
    data: &daecf_core::data::ImageSet,
    indices: &[usize],
    range: InputRange,
    seed: u64,
    step: usize,
    device: &burn::tensor::Device,
) -> anyhow::Result<burn::tensor::Tensor<4>> {
    let config = AugmentConfig::new();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xa96_3e47);
    rng.set_stream(step as u64);
    let images: Vec<_> =
        indices.iter().map(|&i| augment(data.images.index_axis(ndarray::Axis(0), i), &config, &mut rng)).collect();
    let views: Vec<_> = images.iter().map(|a| a.view()).collect();
    let stacked = ndarray::stack(ndarray::Axis(0), &views)?;
    let shape = stacked.shape().to_vec();
    let values: Vec<f32> = stacked.iter().map(|&v| range.from_unit(v)).collect();
    Ok(burn::tensor::Tensor::from_data(burn::tensor::TensorData::new(values, shape), device))
}

fn open_loss_csv(out: &std::path::Path, append: bool) -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
    let path = out.join("loss.csv");
    let exists = path.exists();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    if !(append && exists) {
        writeln!(w, "step,loss,samples_per_s")?;
    }
    Ok(w)
}
