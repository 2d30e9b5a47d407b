//! `daecf reconstruct`: images -> reconstructions through the DAE (stochastic encoding, then
//! render; the paper's 250 and 100 DDIM steps by default), with MSE, PSNR and SSIM per image
//! and on average.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use daecf_core::data::ImageSpec;
use daecf_core::metrics::image::{mse, psnr, ssim};
use daecf_core::pipeline::{CeSteps, reconstruct};
use ndarray::Axis;

use crate::backend::Backend;
use crate::data_source::{DataArgs, batch_tensor};
use crate::preview::{to_images, to_unit_array};

/// Options of `daecf reconstruct`.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  daecf reconstruct --model out/train/model.safetensors --data scans/ --limit 16 --out out/rec")]
pub struct ReconstructArgs {
    /// A daecf model file (model.safetensors from `daecf train`), or a bundle (its model).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Split of a MedMNIST archive (default: test, else the first).
    #[arg(long)]
    split: Option<String>,
    /// At most this many images.
    #[arg(long)]
    limit: Option<usize>,
    /// DDIM steps of the stochastic encoding x0 -> x_T.
    #[arg(long, default_value_t = CeSteps::PAPER.encode)]
    t_encode: usize,
    /// DDIM steps of the render x_T -> x0.
    #[arg(long, default_value_t = CeSteps::PAPER.render)]
    t_render: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Output folder: one PNG per image (original | reconstruction) and metrics.csv.
    #[arg(long, value_name = "DIR", default_value = "out/reconstruct")]
    out: PathBuf,
    /// Device.
    #[arg(long, value_enum, default_value_t = Backend::Cpu)]
    backend: Backend,
}

/// Runs `daecf reconstruct`.
pub fn run(args: ReconstructArgs) -> anyhow::Result<()> {
    let device = args.backend.device()?;
    let model = crate::model_source::load_model(&args.model, &device)?;
    let range = model.config.input_range;
    let set = args.data.read_split(
        ImageSpec { size: model.config.image_size, channels: model.config.in_channels },
        args.split.as_deref(),
    )?;
    let n = args.limit.map_or(set.len(), |l| l.min(set.len()));
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut csv = crate::files::create(&args.out.join("metrics.csv"))?;
    writeln!(csv, "id,mse,psnr,ssim")?;
    let bar = crate::progress::bar(n as u64, "reconstructing", "images");
    let mut sums = [0.0f64; 3];
    for chunk in (0..n).collect::<Vec<_>>().chunks(args.batch.max(1)) {
        let x = batch_tensor(&set, chunk, range, &device);
        let originals = to_images(x.clone(), range)?;
        let rec = reconstruct(&model, x, args.t_encode, args.t_render)?;
        let restored = to_unit_array(rec.image.clone(), range)?;
        let (_, _, h, w) = set.images.dim();
        let pictures = to_images(rec.image, range)?;
        for (k, &i) in chunk.iter().enumerate() {
            let original = set.images.index_axis(Axis(0), i);
            let restored = restored.index_axis(Axis(0), k);
            let (m, p, s) = (mse(original, restored), psnr(original, restored), ssim(original, restored));
            sums = [sums[0] + m, sums[1] + p, sums[2] + s];
            writeln!(csv, "{},{m:.6},{p:.3},{s:.4}", set.ids[i])?;
            let mut pair = image::RgbImage::new(2 * w as u32, h as u32);
            image::imageops::replace(&mut pair, &originals[k], 0, 0);
            image::imageops::replace(&mut pair, &pictures[k], w as i64, 0);
            crate::files::save_picture(&pair, &args.out.join(format!("{i:04}.png")))?;
            bar.inc(1);
        }
    }
    bar.finish();
    csv.flush()?;
    let mean = |k: usize| sums[k] / n.max(1) as f64;
    println!(
        "{n} images: MSE {:.5}, PSNR {:.2} dB, SSIM {:.4} (per image in {})",
        mean(0),
        mean(1),
        mean(2),
        args.out.join("metrics.csv").display()
    );
    Ok(())
}
