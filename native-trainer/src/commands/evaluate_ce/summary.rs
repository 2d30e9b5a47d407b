//! What `daecf evaluate-ce` measured: each image's figures, their means over the set, and the
//! trust checks a model must pass before its counterfactuals can be read.

use daecf_core::latent::{CeDirection, CeMove, Evaluation, Head, lands_on_asked_side, realised_share};
use daecf_core::pipeline::CeSteps;
use serde::Serialize;

/// One image's counterfactual figures.
#[derive(Debug, Clone, Serialize)]
pub struct CeRow {
    /// Image id.
    pub id: String,
    /// Its label.
    pub label: i64,
    /// Its signed distance.
    pub distance: f32,
    /// Reconstruction PSNR, SSIM and MSE against the input.
    pub recon: [f64; 3],
    /// Signed distance of the reconstruction encoded again: how far re-encoding alone moves an
    /// unedited picture (the noise floor under validity).
    pub recon_reencoded: f32,
    /// Binary CE: target distance, re-encoded distance, L1 and SSIM to the reconstruction, step.
    pub binary: CeFigures,
    /// Grade CE: as for the binary one, with its target grade.
    pub grade: CeFigures,
    /// The grade CE's target.
    pub target_grade: i64,
    /// Oracle severity and grade of the input image, on phantoms: the oracle's own reading,
    /// against which the reconstruction's and the CEs' are compared.
    pub input_oracle: Option<(f32, u8)>,
    /// Oracle grade of the reconstruction, on phantoms.
    pub recon_oracle_grade: Option<u8>,
}

/// The figures of one counterfactual.
#[derive(Debug, Clone, Serialize)]
pub struct CeFigures {
    /// Signed distance the CE should show (the paper's target; what validity is judged by,
    /// as in `daecf explain`'s report).
    pub distance: f32,
    /// Signed distance of the moved latent (`distance` at strength 1).
    pub latent_distance: f32,
    /// Signed distance of the CE encoded again.
    pub reencoded: f32,
    /// The calibrated grade of the re-encoded CE.
    pub reencoded_grade: i64,
    /// Mean |CE - reconstruction| per pixel.
    pub l1: f64,
    /// SSIM between CE and reconstruction.
    pub ssim: f64,
    /// L2 length of the move in z_sem.
    pub step: f32,
    /// Oracle severity of reconstruction and CE, and the CE's oracle grade.
    pub oracle: Option<(f32, f32, u8)>,
    /// COUT, the counterfactual-transition score in [-1, 1], for a binary CE.
    pub cout: Option<f64>,
}

/// Means over a set.
#[derive(Debug, Clone, Serialize)]
pub struct CeSummary {
    /// Images evaluated.
    pub n: usize,
    /// DDIM steps (encode, render).
    pub steps: (usize, usize),
    /// Strength of the CEs (1: the paper's).
    pub strength: f32,
    /// Path of the CE moves.
    pub direction: CeDirection,
    /// The head on these images, or on the `head_images` of `--head-limit`.
    pub head: Evaluation,
    /// Labelled images the head was measured on: `n`, or more with `--head-limit`.
    pub head_images: usize,
    /// Reconstruction: mean MSE, PSNR (dB), SSIM.
    pub recon_mse: f64,
    /// Mean PSNR.
    pub recon_psnr: f64,
    /// Mean SSIM.
    pub recon_ssim: f64,
    /// Fraction of binary CEs whose re-encoding lands on the target side.
    pub binary_validity: f64,
    /// Fraction of grade CEs whose re-encoding has the target grade.
    pub grade_validity: f64,
    /// Fraction of grade CEs whose re-encoding is within one grade of the target.
    pub grade_validity_within_one: f64,
    /// Mean L1 and SSIM between binary CE and reconstruction.
    pub binary_l1: f64,
    /// Mean SSIM between binary CE and reconstruction.
    pub binary_ssim: f64,
    /// Mean L1 between grade CE and reconstruction.
    pub grade_l1: f64,
    /// Mean SSIM between grade CE and reconstruction.
    pub grade_ssim: f64,
    /// Mean latent step of the binary CEs.
    pub binary_step: f64,
    /// Median share of the binary CE's move along the head's normal that its re-encoding keeps
    /// (1: the picture carries the whole move; near 0: the decoder ignores it).
    pub binary_realised: f64,
    /// Mean COUT of the binary CEs: their changes pasted into the image, largest first, move the
    /// head from the image's class to the other (1), not at all (about 0), or back (-1).
    pub binary_cout: f64,
    /// Median size of the binary CE's asked move in signed distance, |reflection - distance|.
    pub binary_move: f64,
    /// Median |distance change| of the reconstruction encoded again: moves smaller than this
    /// cannot be told from re-encoding noise.
    pub recon_drift: f64,
    /// Oracle figures, on phantoms.
    pub oracle: Option<OracleSummary>,
}

/// What the oracle says about the counterfactuals.
#[derive(Debug, Clone, Serialize)]
pub struct OracleSummary {
    /// Fraction of binary CEs whose measured severity moved the way the head's grade moved.
    pub binary_direction: f64,
    /// The same for grade CEs (whose target differs from the reconstruction's grade).
    pub grade_direction: f64,
    /// Fraction of grade CEs whose measured grade equals the target.
    pub grade_exact: f64,
    /// Fraction of grade CEs whose measured grade is within one of the target.
    pub grade_within_one: f64,
    /// Fraction of input images whose measured grade equals their label (the oracle's own
    /// accuracy on this set: the ceiling for the reconstruction's).
    pub input_grade_exact: f64,
    /// Fraction of reconstructions whose measured grade equals the image's label.
    pub recon_grade_exact: f64,
    /// Images where the oracle could not measure the input, the reconstruction or a CE; each
    /// counts as a failure of the checks it enters.
    pub unmeasured: usize,
}

/// A bar a model must clear before its counterfactuals can be read as what its head relies on:
/// the targets the demo model is held to (README, "Trusting counterfactuals").
#[derive(Debug, Clone, Serialize)]
pub struct TrustCheck {
    /// What is measured.
    pub measure: &'static str,
    /// The measured value: a fraction, or the AUC.
    pub value: f64,
    /// The least value that passes.
    pub bar: f64,
    /// Whether value and bar are fractions, written as percentages (else written as numbers).
    pub percent: bool,
}

impl TrustCheck {
    /// Whether the measured value clears the bar.
    pub fn met(&self) -> bool {
        self.value >= self.bar
    }

    /// Checks as (check, verdict) table rows.
    pub fn rows(checks: &[TrustCheck]) -> Vec<(String, String)> {
        checks.iter().map(|c| (c.measure.to_string(), c.verdict())).collect()
    }

    /// "16.0 % (needs 80.0 %): not met"; an AUC is written as a number.
    pub fn verdict(&self) -> String {
        let show = |v: f64| if self.percent { format!("{:.1} %", 100.0 * v) } else { format!("{v:.3}") };
        format!("{} (needs {}): {}", show(self.value), show(self.bar), if self.met() { "met" } else { "not met" })
    }
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

/// The median of the defined (not NaN) values, NaN when there is none.
pub(super) fn median(v: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = v.filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn fraction(v: impl Iterator<Item = bool>) -> f64 {
    mean(v.map(|b| if b { 1.0 } else { 0.0 }))
}

/// The set's figures from its rows and the head's evaluation on the same images.
pub(super) fn summarise(
    head: &Head,
    rows: &[CeRow],
    evaluation: Evaluation,
    steps: &CeSteps,
    how: CeMove,
    with_oracle: bool,
) -> CeSummary {
    let grade_at = |d: f32| head.calibration.predict(d as f64);
    // Did the severity move the way the CE's grade moves (and move at all)?
    let direction = |r: &CeRow, f: &CeFigures| {
        let want = grade_at(f.distance) - grade_at(r.distance);
        f.oracle.is_some_and(|(before, after, _)| want != 0.0 && (after - before) as f64 * want > 0.0)
    };
    let oracle = with_oracle.then(|| OracleSummary {
        binary_direction: fraction(rows.iter().map(|r| direction(r, &r.binary))),
        grade_direction: fraction(
            rows.iter()
                .filter(|r| head.calibration.grade(r.distance as f64) != r.target_grade)
                .map(|r| direction(r, &r.grade)),
        ),
        grade_exact: fraction(rows.iter().map(|r| r.grade.oracle.is_some_and(|o| o.2 as i64 == r.target_grade))),
        grade_within_one: fraction(
            rows.iter().map(|r| r.grade.oracle.is_some_and(|o| (o.2 as i64 - r.target_grade).abs() <= 1)),
        ),
        input_grade_exact: fraction(rows.iter().map(|r| r.input_oracle.is_some_and(|(_, g)| g as i64 == r.label))),
        recon_grade_exact: fraction(rows.iter().map(|r| r.recon_oracle_grade.is_some_and(|g| g as i64 == r.label))),
        unmeasured: rows
            .iter()
            .filter(|r| {
                r.input_oracle.is_none()
                    || r.recon_oracle_grade.is_none()
                    || r.binary.oracle.is_none()
                    || r.grade.oracle.is_none()
            })
            .count(),
    });
    CeSummary {
        n: rows.len(),
        steps: (steps.encode, steps.render),
        strength: how.strength,
        direction: how.direction,
        head: evaluation,
        head_images: rows.len(),
        recon_mse: mean(rows.iter().map(|r| r.recon[2])),
        recon_psnr: mean(rows.iter().map(|r| r.recon[0])),
        recon_ssim: mean(rows.iter().map(|r| r.recon[1])),
        binary_validity: fraction(rows.iter().map(|r| lands_on_asked_side(r.binary.distance, r.binary.reencoded))),
        grade_validity: fraction(rows.iter().map(|r| r.grade.reencoded_grade == r.target_grade)),
        grade_validity_within_one: fraction(rows.iter().map(|r| (r.grade.reencoded_grade - r.target_grade).abs() <= 1)),
        binary_l1: mean(rows.iter().map(|r| r.binary.l1)),
        binary_ssim: mean(rows.iter().map(|r| r.binary.ssim)),
        grade_l1: mean(rows.iter().map(|r| r.grade.l1)),
        grade_ssim: mean(rows.iter().map(|r| r.grade.ssim)),
        binary_step: mean(rows.iter().map(|r| r.binary.step as f64)),
        binary_realised: median(
            rows.iter().filter_map(|r| realised_share(r.distance, r.binary.latent_distance, r.binary.reencoded)),
        ),
        binary_cout: mean(rows.iter().filter_map(|r| r.binary.cout)),
        binary_move: median(rows.iter().map(|r| (r.binary.latent_distance - r.distance).abs() as f64)),
        recon_drift: median(rows.iter().map(|r| (r.recon_reencoded - r.distance).abs() as f64)),
        oracle,
    }
}

/// Moves side by side, one row each: what a choice of direction and strength rests on.
pub fn moves_markdown<'a>(summaries: impl Iterator<Item = &'a CeSummary>) -> String {
    let pct = |v: f64| format!("{:.1} %", 100.0 * v);
    let mut md = String::from(
        "| direction | strength | binary validity | share of the move kept (median) | COUT | oracle: right way | \
         oracle: grade within one | trust checks met |\n|---|---|---|---|---|---|---|---|\n",
    );
    for s in summaries {
        let checks = s.trust_checks();
        let oracle = |f: fn(&OracleSummary) -> f64| s.oracle.as_ref().map_or("-".into(), |o| pct(f(o)));
        md.push_str(&format!(
            "| {} | {} | {} | {} | {:.3} | {} | {} | {} of {} |\n",
            s.direction,
            s.strength,
            pct(s.binary_validity),
            pct(s.binary_realised),
            s.binary_cout,
            oracle(|o| o.binary_direction),
            oracle(|o| o.grade_within_one),
            checks.iter().filter(|c| c.met()).count(),
            checks.len()
        ));
    }
    md
}

impl CeSummary {
    /// The figures a move is judged by, in one line.
    pub fn headline(&self) -> String {
        let pct = |v: f64| format!("{:.0} %", 100.0 * v);
        let mut line = format!(
            "binary validity {}, share of the move kept {:.1} %",
            pct(self.binary_validity),
            100.0 * self.binary_realised
        );
        if let Some(o) = &self.oracle {
            line.push_str(&format!(
                ", oracle: right way {}, grade within one {}",
                pct(o.binary_direction),
                pct(o.grade_within_one)
            ));
        }
        line
    }

    /// The summary as (measure, value) rows.
    pub fn rows(&self) -> Vec<(String, String)> {
        let pct = |v: f64| format!("{:.1} %", 100.0 * v);
        let mut rows = vec![
            ("images".to_string(), self.n.to_string()),
            ("DDIM steps (encode / render)".into(), format!("{} / {}", self.steps.0, self.steps.1)),
            ("CE strength (1: the paper's CEs)".into(), format!("{}", self.strength)),
            ("CE direction (normal: the paper's)".into(), self.direction.to_string()),
            ("images the head was measured on".into(), self.head_images.to_string()),
            ("head ROC-AUC".into(), format!("{:.3}", self.head.auc)),
            ("head accuracy".into(), format!("{:.3}", self.head.accuracy)),
            ("reconstruction PSNR".into(), format!("{:.2} dB", self.recon_psnr)),
            ("reconstruction SSIM".into(), format!("{:.3}", self.recon_ssim)),
            ("reconstruction MSE".into(), format!("{:.5}", self.recon_mse)),
            ("binary CE validity (re-encoded on the target side)".into(), pct(self.binary_validity)),
            ("grade CE validity (re-encoded at the target grade)".into(), pct(self.grade_validity)),
            ("grade CE validity within one grade".into(), pct(self.grade_validity_within_one)),
            (
                "binary CE proximity: L1 / SSIM to the reconstruction".into(),
                format!("{:.4} / {:.3}", self.binary_l1, self.binary_ssim),
            ),
            (
                "grade CE proximity: L1 / SSIM to the reconstruction".into(),
                format!("{:.4} / {:.3}", self.grade_l1, self.grade_ssim),
            ),
            ("binary CE latent step (L2)".into(), format!("{:.3}", self.binary_step)),
            ("binary CE: share of the latent move kept after re-encoding (median)".into(), pct(self.binary_realised)),
            (
                "strength at which that share carries the paper's move whole".into(),
                if self.binary_realised > 0.0 {
                    format!("{:.1}", 1.0 / self.binary_realised)
                } else {
                    "none (the move is not kept)".into()
                },
            ),
            (
                "binary CE: COUT, the counterfactual transition (mean, -1 to 1)".into(),
                format!("{:.3}", self.binary_cout),
            ),
            (
                "binary CE: asked move in distance / re-encoded reconstruction's drift (medians)".into(),
                format!("{:.3} / {:.3}", self.binary_move, self.recon_drift),
            ),
        ];
        if let Some(o) = &self.oracle {
            rows.extend([
                ("oracle: binary CEs moving the measured finding the right way".to_string(), pct(o.binary_direction)),
                ("oracle: grade CEs moving it the right way".into(), pct(o.grade_direction)),
                ("oracle: grade CE measured at the target grade".into(), pct(o.grade_exact)),
                ("oracle: grade CE measured within one grade of the target".into(), pct(o.grade_within_one)),
                (
                    "oracle: input measured at the label's grade (its own accuracy here)".into(),
                    pct(o.input_grade_exact),
                ),
                ("oracle: reconstruction measured at the label's grade".into(), pct(o.recon_grade_exact)),
                ("oracle: images it could not measure (counted as failures)".into(), o.unmeasured.to_string()),
            ]);
        }
        rows
    }

    /// The trust checks: head AUC >= 0.9 and binary CE validity >= 80 %; where an oracle
    /// measured the images, binary CEs moving the finding the right way >= 80 % and grade CEs
    /// measured within one grade of the target >= 70 %.
    pub fn trust_checks(&self) -> Vec<TrustCheck> {
        let mut checks = vec![
            TrustCheck { measure: "head ROC-AUC", value: self.head.auc, bar: 0.9, percent: false },
            TrustCheck { measure: "binary CE validity", value: self.binary_validity, bar: 0.8, percent: true },
        ];
        if let Some(o) = &self.oracle {
            checks.push(TrustCheck {
                measure: "oracle: binary CEs moving the finding the right way",
                value: o.binary_direction,
                bar: 0.8,
                percent: true,
            });
            checks.push(TrustCheck {
                measure: "oracle: grade CEs within one grade of the target",
                value: o.grade_within_one,
                bar: 0.7,
                percent: true,
            });
        }
        checks
    }

    /// The summary and its trust checks as Markdown tables.
    pub fn markdown(&self) -> String {
        let mut md = String::from("| measure | value |\n|---|---|\n");
        for (k, v) in self.rows() {
            md.push_str(&format!("| {k} | {v} |\n"));
        }
        md.push_str("\n| trust check | verdict |\n|---|---|\n");
        for (k, v) in TrustCheck::rows(&self.trust_checks()) {
            md.push_str(&format!("| {k} | {v} |\n"));
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::{CeFigures, CeRow, TrustCheck, median, summarise};
    use daecf_core::latent::{Calibration, CalibrationKind, CeMove, ClassifierKind, Head, Hyperplane, TaskSpec};
    use daecf_core::pipeline::CeSteps;

    #[test]
    fn median_skips_undefined_values() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
        assert_eq!(median([4.0, 1.0, f64::NAN, 2.0, 3.0].into_iter()), 2.5);
        assert!(median(std::iter::empty()).is_nan());
    }

    #[test]
    fn a_check_gives_its_value_bar_and_verdict() {
        let validity = TrustCheck { measure: "binary CE validity", value: 0.16, bar: 0.8, percent: true };
        assert!(!validity.met());
        assert_eq!(validity.verdict(), "16.0 % (needs 80.0 %): not met");
        let auc = TrustCheck { measure: "head ROC-AUC", value: 0.912, bar: 0.9, percent: false };
        assert!(auc.met());
        assert_eq!(auc.verdict(), "0.912 (needs 0.900): met");
    }

    /// A row for an image at `distance` whose binary CE (strength 0.4) was rendered from a latent
    /// at `0.2 * distance` and re-encoded at `reencoded`.
    fn weak_binary_row(distance: f32, reencoded: f32) -> CeRow {
        let figures = |shown: f32| CeFigures {
            distance: shown,
            latent_distance: distance + 0.4 * (shown - distance),
            reencoded,
            reencoded_grade: 0,
            l1: 0.0,
            ssim: 1.0,
            step: 0.1,
            oracle: None,
            cout: None,
        };
        CeRow {
            id: format!("{distance}"),
            label: i64::from(distance > 0.0),
            distance,
            recon: [30.0, 0.9, 0.001],
            recon_reencoded: distance,
            binary: figures(-distance),
            grade: figures(-distance),
            target_grade: 0,
            input_oracle: None,
            recon_oracle_grade: None,
        }
    }

    fn one_d_head() -> Head {
        Head {
            task: TaskSpec::new("fracture"),
            classifier: ClassifierKind::Svm,
            c: 1.0,
            hyperplane: Hyperplane::new(vec![1.0], 0.0).unwrap(),
            standardizer: None,
            calibration: Calibration {
                kind: CalibrationKind::Linear,
                coefficients: vec![0.5, 1.0],
                grade_range: (0, 1),
                distance_range: (-1.0, 1.0),
            },
            ce_strength: 1.0,
            ce_direction: Default::default(),
            directions: None,
        }
    }

    #[test]
    fn binary_validity_is_judged_by_the_side_the_ce_should_show() {
        let head = one_d_head();
        // A weak CE's latent stays on the image's side: re-encoding there is not a valid CE,
        // crossing to the reflection's side is (as `daecf explain`'s report judges it).
        let rows = [weak_binary_row(0.5, 0.12), weak_binary_row(-0.5, -0.1), weak_binary_row(0.3, -0.05)];
        let latents = ndarray::array![[0.5f32], [-0.5], [0.3]];
        let evaluation = head.evaluate(latents.view(), &[1, 0, 1]).unwrap();
        let steps = CeSteps { encode: 10, render: 10, max_batch: 4 };
        let summary = summarise(&head, &rows, evaluation, &steps, CeMove { strength: 0.4, ..CeMove::PAPER }, false);
        assert!((summary.binary_validity - 1.0 / 3.0).abs() < 1e-12, "validity {}", summary.binary_validity);
        assert!((summary.binary_move - 0.4).abs() < 1e-6, "latent move {}", summary.binary_move);
    }

    #[test]
    fn an_image_the_oracle_cannot_measure_counts_as_a_failure() {
        let head = one_d_head();
        // Both binary CEs should lower the grade (d = 0.5 -> -0.5); the oracle saw the first
        // one's severity fall and could not measure the second.
        let mut measured = weak_binary_row(0.5, -0.4);
        measured.input_oracle = Some((0.3, 1));
        measured.recon_oracle_grade = Some(1);
        measured.binary.oracle = Some((0.3, 0.1, 0));
        measured.grade.oracle = Some((0.3, 0.1, 0));
        let mut lost = measured.clone();
        lost.binary.oracle = None;
        let rows = [measured, lost];
        let evaluation = head.evaluate(ndarray::array![[0.5f32], [-0.5]].view(), &[1, 0]).unwrap();
        let steps = CeSteps { encode: 10, render: 10, max_batch: 4 };
        let oracle = summarise(&head, &rows, evaluation, &steps, CeMove::PAPER, true).oracle.unwrap();
        assert_eq!((oracle.binary_direction, oracle.unmeasured), (0.5, 1));
    }
}
