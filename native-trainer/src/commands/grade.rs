//! `daecf grade`: distance, class and grade of every sample under fitted heads.

use std::path::PathBuf;

use clap::Args;
use daecf_core::data::LatentSet;
use daecf_core::latent::HeadFile;
use serde::Serialize;

/// Options of `daecf grade`.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  daecf grade --head out/fit/head.json --latents latents.npz --split val")]
pub struct GradeArgs {
    /// Head file written by `daecf fit`.
    #[arg(long, value_name = "head.json")]
    head: PathBuf,
    /// Latents file (.npz) with <split>_latents arrays.
    #[arg(long, value_name = "FILE.npz")]
    latents: PathBuf,
    /// Only this split (default: every split in the file).
    #[arg(long)]
    split: Option<String>,
    /// Print JSON (one array of rows) instead of a table.
    #[arg(long)]
    json: bool,
}

/// One sample under one head.
#[derive(Debug, Serialize)]
struct Row<'a> {
    split: &'a str,
    index: usize,
    label: Option<i64>,
    task: &'a str,
    distance: f32,
    positive: bool,
    grade: i64,
    grade_continuous: f64,
}

/// Runs `daecf grade`.
pub fn run(args: GradeArgs) -> anyhow::Result<()> {
    let heads = HeadFile::load(&args.head)?;
    let set = LatentSet::read(&args.latents)?;
    let splits: Vec<_> = set.splits.iter().filter(|s| args.split.as_ref().is_none_or(|n| &s.name == n)).collect();
    if splits.is_empty() {
        let names: Vec<_> = set.splits.iter().map(|s| s.name.as_str()).collect();
        anyhow::bail!(
            "{} has no split {:?} (it has: {})",
            args.latents.display(),
            args.split.unwrap_or_default(),
            names.join(", ")
        );
    }
    let mut rows = Vec::new();
    for split in splits {
        for head in &heads.heads {
            let pred = head.predict(split.view())?;
            for i in 0..pred.distance.len() {
                rows.push(Row {
                    split: &split.name,
                    index: i,
                    label: split.label(i),
                    task: &head.task.name,
                    distance: pred.distance[i],
                    positive: pred.positive[i],
                    grade: pred.grade[i],
                    grade_continuous: pred.grade_continuous[i],
                });
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "{:<6} {:>6} {:>6} {:<12} {:>9} {:>8} {:>6} {:>8}",
            "split", "index", "label", "task", "distance", "class", "grade", "(cont.)"
        );
        for r in rows {
            let label = r.label.map_or("-".into(), |l| l.to_string());
            let class = if r.positive { "positive" } else { "negative" };
            println!(
                "{:<6} {:>6} {:>6} {:<12} {:>9.4} {:>8} {:>6} {:>8.3}",
                r.split, r.index, label, r.task, r.distance, class, r.grade, r.grade_continuous
            );
        }
    }
    Ok(())
}
