//! `daecf phantom`: writes a phantom data set with its ground truth, as a folder of PNGs with
//! a labels CSV (file, label, then every true quantity) and, optionally, a MedMNIST .npz.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use daecf_core::data::images::to_picture;
use daecf_core::data::phantom::{PhantomKind, RetinaConfig, VertebraConfig, retina, split_seed, vertebra};
use daecf_core::data::{ImageSet, write_medmnist};
use ndarray::Axis;

/// Options of `daecf phantom`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  daecf phantom vertebra --count 500 --out phantoms/vertebra
  daecf phantom vertebra --count 2000 --size 96 --neighbour-fracture 0.3 --npz vertebra_96.npz
  daecf phantom vertebra --count 2000 --neighbour-fracture 0.5 --neighbour-confounding 0.8 --out confounded
  daecf phantom retina --count 1000 --size 128 --npz retina_128.npz")]
pub struct PhantomArgs {
    /// The phantom: vertebra (a sagittal slice of three vertebrae; the centre one has a Genant
    /// grade 0-3 by height loss) or retina (an RGB fundus; retinopathy grade 0-4 by the number of
    /// lesions).
    #[arg(value_parser = crate::options::named::<PhantomKind>())]
    kind: PhantomKind,
    /// Training images (the npz also gets count/10 validation and count/5 test images).
    #[arg(long, default_value_t = 200)]
    count: usize,
    /// Image side in pixels.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Seed: images depend only on (seed, index).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Vertebra: probability that the upper neighbour is fractured too (the paper's Fig. 5
    /// confounder).
    #[arg(long, default_value_t = 0.0)]
    neighbour_fracture: f64,
    /// Vertebra: how strongly the neighbour's fracture follows the centre's (grade 2-3), a
    /// shortcut for a head to take: with this probability the neighbour is fractured exactly
    /// when the centre is, else as --neighbour-fracture says (0.8 with --neighbour-fracture 0.5:
    /// 90 % of fractured and 10 % of healthy centres have a fractured neighbour).
    #[arg(long, default_value_t = 0.0)]
    neighbour_confounding: f64,
    /// Folder for the PNGs and labels.csv (the training images only).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Also (or only) write a MedMNIST-layout .npz with train, val and test splits.
    #[arg(long, value_name = "FILE.npz")]
    npz: Option<PathBuf>,
}

/// A set with one CSV row of truth per image (after `file,label`).
type WithTruth = (ImageSet, String, Vec<String>);

fn generate(args: &PhantomArgs, name: &str, count: usize, seed: u64) -> anyhow::Result<WithTruth> {
    Ok(match args.kind {
        PhantomKind::Vertebra => {
            let config = VertebraConfig::new()
                .with_size(args.size)
                .with_neighbour_fracture(args.neighbour_fracture)
                .with_neighbour_confounding(args.neighbour_confounding);
            let (set, truths) = vertebra::generate_set(&config, name, count, seed)?;
            let rows = truths
                .iter()
                .map(|t| {
                    let [a, m, p] = t.heights;
                    format!(
                        "{},{},{:.4},{a:.4},{m:.4},{p:.4},{:.4}",
                        t.grade,
                        t.form.name(),
                        t.height_ratio,
                        t.neighbour_ratio
                    )
                })
                .collect();
            (set, "grade,form,height_ratio,anterior,middle,posterior,neighbour_ratio".into(), rows)
        }
        PhantomKind::Retina => {
            let config = RetinaConfig::new().with_size(args.size);
            let (set, truths) = retina::generate_set(&config, name, count, seed)?;
            let rows = truths
                .iter()
                .map(|t| format!("{},{},{},{}", t.grade, t.microaneurysms, t.haemorrhages, t.exudates))
                .collect();
            (set, "grade,microaneurysms,haemorrhages,exudates".into(), rows)
        }
    })
}

/// Runs `daecf phantom`.
pub fn run(args: PhantomArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.out.is_some() || args.npz.is_some(), "say where to write: --out DIR and/or --npz FILE.npz");
    anyhow::ensure!(args.count > 0 && args.size >= 16, "--count must be positive and --size at least 16");
    let (train, header, rows) = generate(&args, "train", args.count, split_seed(args.seed, 0))?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut csv = crate::files::create(&dir.join("labels.csv"))?;
        writeln!(csv, "file,label,{header}")?;
        let bar = crate::progress::bar(train.len() as u64, "writing", "images");
        for (i, image) in train.images.axis_iter(Axis(0)).enumerate() {
            let file = format!("{}.png", train.ids[i]);
            to_picture(image)?.save(dir.join(&file)).with_context(|| format!("writing {file}"))?;
            writeln!(csv, "{file},{},{}", train.labels[i].unwrap_or(0), rows[i])?;
            bar.inc(1);
        }
        bar.finish();
        csv.flush()?;
        println!("wrote {} images and labels.csv to {}", train.len(), dir.display());
    }
    if let Some(npz) = &args.npz {
        let val = generate(&args, "val", (args.count / 10).max(1), split_seed(args.seed, 1))?.0;
        let test = generate(&args, "test", (args.count / 5).max(1), split_seed(args.seed, 2))?.0;
        write_medmnist(npz, &[train, val, test])?;
        println!("wrote {}", npz.display());
    }
    Ok(())
}
