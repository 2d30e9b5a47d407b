//! The files `daecf evaluate-ce` writes: report.json, report.md and per_image.csv.

use std::path::Path;

use anyhow::Context;
use daecf_core::named::Named;
use serde::Serialize;

use super::summary::{CeFigures, CeRow};
use super::{MoveResult, SwapSummary};
use crate::files;

/// Writes report.json, report.md and per_image.csv into `dir` for the moves of `results`, of
/// which `chosen` is the one the trust checks judge, with the swap test's figures if it ran.
pub fn write_report(
    dir: &Path,
    results: &[MoveResult],
    chosen: usize,
    swap: Option<&SwapSummary>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (summary, rows) = &results[chosen];
    let moves: Vec<_> = results.iter().map(|(s, _)| s).collect();
    let json = serde_json::json!({ "summary": summary, "moves": moves, "swap": swap, "images": rows });
    files::write(&dir.join("report.json"), serde_json::to_string_pretty(&json)?)?;
    files::write(
        &dir.join("report.md"),
        format!("# Counterfactual evaluation\n\n{}", report_markdown(results, chosen, swap)),
    )?;
    let path = dir.join("per_image.csv");
    let mut csv = csv::Writer::from_path(&path).with_context(|| format!("writing {}", path.display()))?;
    for (summary, rows) in results {
        for r in rows {
            csv.serialize(CsvRow::new(summary.direction.name(), summary.strength, r))?;
        }
    }
    csv.flush()?;
    Ok(())
}

/// The report as Markdown: with several moves, a table of all of them (strength 1 first) before
/// the chosen one's figures and trust checks; then the swap test's figures, if it ran.
pub fn report_markdown(results: &[MoveResult], chosen: usize, swap: Option<&SwapSummary>) -> String {
    let (summary, _) = &results[chosen];
    let mut md = String::new();
    if results.len() > 1 {
        md.push_str("## Every move measured\n\n");
        md.push_str(&super::summary::moves_markdown(results.iter().map(|(s, _)| s)));
        md.push_str(&format!("\n## Along the {} direction at strength {}\n\n", summary.direction, summary.strength));
    }
    md.push_str(&summary.markdown());
    if let Some(swap) = swap {
        md.push_str("\n## How much of a picture z_sem controls\n\n| measure | value |\n|---|---|\n");
        for (k, v) in swap.rows() {
            md.push_str(&format!("| {k} | {v} |\n"));
        }
    }
    md
}

/// One line of per_image.csv: an image's figures under one move.
#[derive(Serialize)]
struct CsvRow<'a> {
    direction: &'a str,
    strength: f32,
    id: &'a str,
    label: i64,
    distance: f32,
    psnr: f64,
    recon_reencoded: f32,
    binary_latent_distance: f32,
    binary_reencoded: f32,
    binary_l1: f64,
    binary_cout: Option<f64>,
    grade_target: i64,
    grade_reencoded: i64,
    grade_l1: f64,
    severity_input: Option<f32>,
    severity_recon: Option<f32>,
    severity_binary: Option<f32>,
    severity_grade: Option<f32>,
    oracle_grade: Option<u8>,
}

impl<'a> CsvRow<'a> {
    fn new(direction: &'a str, strength: f32, r: &'a CeRow) -> Self {
        let severity = |f: &CeFigures| f.oracle.map(|o| o.1);
        Self {
            direction,
            strength,
            id: &r.id,
            label: r.label,
            distance: r.distance,
            psnr: r.recon[0],
            recon_reencoded: r.recon_reencoded,
            binary_latent_distance: r.binary.latent_distance,
            binary_reencoded: r.binary.reencoded,
            binary_l1: r.binary.l1,
            binary_cout: r.binary.cout,
            grade_target: r.target_grade,
            grade_reencoded: r.grade.reencoded_grade,
            grade_l1: r.grade.l1,
            severity_input: r.input_oracle.map(|o| o.0),
            severity_recon: r.binary.oracle.map(|o| o.0),
            severity_binary: severity(&r.binary),
            severity_grade: severity(&r.grade),
            oracle_grade: r.grade.oracle.map(|o| o.2),
        }
    }
}
