//! The files `daecf evaluate-ce` writes: report.json, report.md and per_image.csv.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::summary::{CeFigures, CeRow, CeSummary};
use crate::files;

/// Writes report.json, report.md and per_image.csv into `dir`.
pub fn write_report(dir: &Path, summary: &CeSummary, rows: &[CeRow]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    files::write(
        &dir.join("report.json"),
        serde_json::to_string_pretty(&serde_json::json!({ "summary": summary, "images": rows }))?,
    )?;
    files::write(&dir.join("report.md"), format!("# Counterfactual evaluation\n\n{}", summary.markdown()))?;
    let mut csv = files::create(&dir.join("per_image.csv"))?;
    writeln!(
        csv,
        "id,label,distance,psnr,recon_reencoded,binary_latent_distance,binary_reencoded,binary_l1,grade_target,grade_reencoded,grade_l1,severity_input,severity_recon,severity_binary,severity_grade,oracle_grade"
    )?;
    for r in rows {
        let sev = |f: &CeFigures| f.oracle.map_or(String::new(), |o| format!("{:.4}", o.1));
        writeln!(
            csv,
            "{},{},{:.4},{:.2},{:.4},{:.4},{:.4},{:.4},{},{},{:.4},{},{},{},{},{}",
            r.id,
            r.label,
            r.distance,
            r.recon[0],
            r.recon_reencoded,
            r.binary.latent_distance,
            r.binary.reencoded,
            r.binary.l1,
            r.target_grade,
            r.grade.reencoded_grade,
            r.grade.l1,
            r.input_oracle.map_or(String::new(), |o| format!("{:.4}", o.0)),
            r.binary.oracle.map_or(String::new(), |o| format!("{:.4}", o.0)),
            sev(&r.binary),
            sev(&r.grade),
            r.grade.oracle.map_or(String::new(), |o| o.2.to_string())
        )?;
    }
    csv.flush()?;
    Ok(())
}
