//! The shipped demo bundle's quality on held-out vertebra phantoms (the test split of the report
//! seed, `phantom:vertebra:1000:seed=2`: never used in training nor to choose the CE settings), measured by `daecf evaluate-ce` with the
//! phantom oracle at the bundle's CE strength. DDIM steps are fewer than the paper's 250 / 100
//! to keep the run short (stated in the report); the thresholds are the
//! trust checks': head AUC >= 0.9, binary validity >= 80 %, oracle direction >= 80 %, grade
//! within one >= 70 %.

use daecf_e2e::{daecf_ok, repository, temp_dir};

/// Runs evaluate-ce on the first `limit` held-out phantoms and checks the trust checks; the
/// head's AUC always on 200 (`--head-limit`: the semantic encoder alone past `limit`).
fn check_demo_bundle(limit: usize) {
    let bundle = repository().join("shared-models/demo/demo.daecf");
    let tmp = temp_dir("demo-quality");
    let out = tmp.path();
    let run = daecf_ok(&[
        "evaluate-ce",
        "--bundle",
        bundle.to_str().unwrap(),
        "--data",
        "phantom:vertebra:1000:seed=2",
        "--limit",
        &limit.to_string(),
        "--head-limit",
        "200",
        "--t-encode",
        "50",
        "--t-render",
        "20",
        "--out",
        out.to_str().unwrap(),
    ]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let s = &report["summary"];
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    println!("{}", String::from_utf8_lossy(&run.stdout));
    assert_eq!((s["n"].clone(), s["head_images"].clone()), (limit.into(), 200.into()));
    assert!(f(&s["recon_psnr"]) > 30.0, "reconstruction PSNR {}", s["recon_psnr"]);
    assert!(f(&s["head"]["auc"]) >= 0.9, "fracture AUC {}", s["head"]["auc"]);
    assert!(f(&s["binary_validity"]) >= 0.8, "binary CE validity {}", s["binary_validity"]);
    assert!(f(&s["oracle"]["binary_direction"]) >= 0.8, "oracle direction {}", s["oracle"]["binary_direction"]);
    assert!(f(&s["oracle"]["grade_within_one"]) >= 0.7, "grade CE within one {}", s["oracle"]["grade_within_one"]);
}

/// The trust checks on a CI-sized share of the held-out set (299 s on 2 CPU cores).
#[test]
fn demo_bundle_meets_the_quality_targets_on_40_phantoms() {
    check_demo_bundle(40);
}

/// The model card's measurement: 200 held-out phantoms (766 s on 2 CPU cores).
#[test]
#[ignore = "13 minutes on 2 cores: run with --run-ignored all; figures in shared-models/demo/README.md"]
fn demo_bundle_meets_the_quality_targets_on_200_phantoms() {
    check_demo_bundle(200);
}
