//! End-to-end: `daecf phantom` writes a folder with its truth and a MedMNIST archive;
//! `daecf explain`, `daecf evaluate-ce` and `daecf demo` run the shipped demo model on phantoms
//! and write what they promise (few DDIM steps here: these tests check the plumbing, the
//! quality figures of the demo model are in the top-level tests/demo_model.rs).

mod common;

use std::path::Path;

use daecf_core::data::{ImageSpec, read_medmnist};
use serde_json::Value;

use common::{daecf, daecf_ok, temp_dir};

/// The shipped demo bundle.
fn demo_bundle() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared-models/demo/demo.daecf")
}

/// `daecf encode` of `data` with the demo bundle into `out`, with `extra` options.
fn encode_with_demo(data: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let (bundle, data, out) = (demo_bundle(), data.to_str().unwrap(), out.to_str().unwrap());
    let mut args = vec!["encode", "--model", bundle.to_str().unwrap(), "--data", data, "--out", out];
    args.extend_from_slice(extra);
    daecf_ok(&args)
}

/// The shipped demo bundle, and a model file (f32) + head file taken from it.
fn demo_files(dir: &Path) -> (String, String, String) {
    let bundle = demo_bundle();
    let b = daecf_models::Bundle::read(&bundle).unwrap();
    let (model, head) = (dir.join("model.safetensors"), dir.join("head.json"));
    b.model(&burn::tensor::Device::flex()).unwrap().save(&model).unwrap();
    b.heads().save(&head).unwrap();
    (bundle.display().to_string(), model.display().to_string(), head.display().to_string())
}

/// `daecf evaluate-ce` on the bundle `bundle` with 3 phantoms and few DDIM steps, into `out`.
fn evaluate_three(bundle: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    let out = out.to_str().unwrap();
    let mut args = vec!["evaluate-ce", "--bundle", bundle, "--data", "phantom:vertebra:30", "--limit", "3"];
    args.extend_from_slice(&["--t-encode", "3", "--t-render", "2", "--out", out]);
    args.extend_from_slice(extra);
    daecf_ok(&args)
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn phantom_writes_images_truth_and_a_medmnist_archive() {
    let tmp = temp_dir("phantom");
    let dir = tmp.path();
    let (folder, npz) = (dir.join("v"), dir.join("v.npz"));
    daecf_ok(&[
        "phantom",
        "vertebra",
        "--count",
        "10",
        "--size",
        "32",
        "--out",
        folder.to_str().unwrap(),
        "--npz",
        npz.to_str().unwrap(),
    ]);
    let csv = std::fs::read_to_string(folder.join("labels.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "file,label,grade,form,height_ratio,anterior,middle,posterior,neighbour_ratio");
    assert_eq!(lines.len(), 11);
    let sets = read_medmnist(&npz, ImageSpec { size: 32, channels: 1 }).unwrap();
    assert_eq!(sets.iter().map(|s| s.len()).collect::<Vec<_>>(), vec![10, 1, 2]);
    for (line, label) in lines[1..].iter().zip(&sets[0].labels) {
        let cells: Vec<&str> = line.split(',').collect();
        assert!(folder.join(cells[0]).is_file());
        assert_eq!(cells[1].parse::<i64>().ok(), *label, "the archive's labels are the CSV's grades");
    }
    let bad = daecf(&["phantom", "vertebra"]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("--out"));
}

#[test]
fn explain_writes_counterfactuals_and_their_figures() {
    let tmp = temp_dir("explain");
    let dir = tmp.path();
    let (_, model, heads) = demo_files(dir);
    daecf_ok(&["phantom", "vertebra", "--count", "1", "--size", "32", "--out", dir.join("img").to_str().unwrap()]);
    let image = dir.join("img/train-00000.png");
    let out = dir.join("out");
    // Strength 1 (the demo bundle's heads carry 50): the paper's CEs, the binary one the reflection.
    let args = [
        "explain",
        image.to_str().unwrap(),
        "--model",
        &model,
        "--head",
        &heads,
        "--grades",
        "0,3.5",
        "--frames",
        "3",
        "--strength",
        "1",
    ];
    let run = daecf_ok(&[&args[..], &["--t-encode", "4", "--t-render", "3", "--out", out.to_str().unwrap()]].concat());
    let folder = out.join("train-00000");
    let report = json(&folder.join("explanation.json"));
    let binary = &report["counterfactuals"][0];
    let crossed =
        (binary["reencoded_distance"].as_f64().unwrap() > 0.0) == (binary["distance"].as_f64().unwrap() > 0.0);
    let printed = String::from_utf8_lossy(&run.stdout);
    assert_eq!(printed.contains("): valid -> "), crossed, "the binary CE's verdict: {printed}");
    assert_eq!(printed.contains("): not valid"), !crossed, "the binary CE's verdict: {printed}");
    let d = report["distance"].as_f64().unwrap();
    let ces = report["counterfactuals"].as_array().unwrap();
    assert_eq!(
        ces.iter().map(|c| c["name"].as_str().unwrap()).collect::<Vec<_>>(),
        vec!["binary", "grade 0", "grade 3.5"]
    );
    assert!((ces[0]["distance"].as_f64().unwrap() + d).abs() < 1e-4, "the binary CE is the reflection");
    assert!(ces.iter().all(|c| c["reencoded_distance"].as_f64().is_some() && c["step_size"].as_f64().unwrap() >= 0.0));
    assert_eq!(report["progression"].as_array().unwrap().len(), 3);
    for f in report["files"].as_array().unwrap() {
        assert!(folder.join(f.as_str().unwrap()).is_file(), "{f}");
    }
    let gif = image::open(folder.join("progression.gif")).unwrap();
    assert_eq!(gif.width(), 192);
}

/// `--head-limit` measures the head on more images than get counterfactuals: the same figures
/// as when every one of them gets its counterfactuals.
#[test]
fn evaluate_ce_measures_the_head_beyond_the_counterfactuals() {
    let tmp = temp_dir("evaluate-head");
    let dir = tmp.path();
    let (bundle, _, _) = demo_files(dir);
    let summary = |extra: &[&str], out: &str| {
        let out = dir.join(out);
        let mut args = vec![
            "evaluate-ce",
            "--bundle",
            &bundle,
            "--data",
            "phantom:vertebra:60",
            "--t-encode",
            "3",
            "--t-render",
            "2",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        daecf_ok(&args);
        json(&out.join("report.json"))["summary"].clone()
    };
    let all = summary(&["--limit", "12"], "all");
    let few = summary(&["--limit", "4", "--head-limit", "12"], "few");
    assert_eq!(few["n"], 4);
    assert_eq!((few["head_images"].clone(), all["head_images"].clone()), (12.into(), 12.into()));
    for key in ["n", "n_positive", "accuracy"] {
        assert_eq!(few["head"][key], all["head"][key], "{key}");
    }
    let auc = |s: &serde_json::Value| s["head"]["auc"].as_f64().unwrap();
    assert!((auc(&few) - auc(&all)).abs() < 1e-6, "{} vs {}", auc(&few), auc(&all));
}

#[test]
fn evaluate_ce_reports_validity_proximity_and_the_oracle() {
    let tmp = temp_dir("evaluate");
    let dir = tmp.path();
    let (bundle, _, _) = demo_files(dir);
    let out = dir.join("out");
    let run = daecf_ok(&[
        "evaluate-ce",
        "--bundle",
        &bundle,
        "--data",
        "phantom:vertebra:30",
        "--limit",
        "5",
        "--t-encode",
        "4",
        "--t-render",
        "3",
        "--swap",
        "--out",
        out.to_str().unwrap(),
    ]);
    let printed = String::from_utf8_lossy(&run.stdout);
    // The swap test: each image's x_T rendered with another's z_sem, how far it follows.
    assert!(printed.contains("swap test: how far the rendering follows B, by the head"), "{printed}");
    assert!(
        printed.contains("| trust check | verdict |")
            && printed.contains("oracle: grade CEs within one grade of the target"),
        "{printed}"
    );
    let report = json(&out.join("report.json"));
    assert_eq!(report["swap"]["pairs"], 5);
    assert!(
        report["swap"]["follows_distance"].is_number() && report["swap"]["follows_oracle"].is_number(),
        "{}",
        report["swap"]
    );
    let summary = &report["summary"];
    assert_eq!(summary["n"], 5);
    for key in ["binary_validity", "grade_validity", "binary_l1", "recon_psnr"] {
        assert!(summary[key].as_f64().is_some(), "{key}");
    }
    let oracle = &summary["oracle"];
    assert!((0.0..=1.0).contains(&oracle["binary_direction"].as_f64().unwrap()));
    assert_eq!(report["images"].as_array().unwrap().len(), 5);
    // The kept share of the binary move is the median over the images' own figures.
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    let mut shares: Vec<f64> = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (f(&i["binary"]["reencoded"]) - f(&i["distance"]))
                / (f(&i["binary"]["latent_distance"]) - f(&i["distance"]))
        })
        .collect();
    shares.sort_by(f64::total_cmp);
    assert!((f(&summary["binary_realised"]) - shares[2]).abs() < 1e-4, "{} vs {shares:?}", summary["binary_realised"]);
    assert!(printed.contains("share of the latent move kept after re-encoding"), "{printed}");
    let mut moves: Vec<f64> = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (f(&i["binary"]["latent_distance"]) - f(&i["distance"])).abs())
        .collect();
    moves.sort_by(f64::total_cmp);
    assert!((f(&summary["binary_move"]) - moves[2]).abs() < 1e-4, "{} vs {moves:?}", summary["binary_move"]);
    let mut drifts: Vec<f64> = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (f(&i["recon_reencoded"]) - f(&i["distance"])).abs())
        .collect();
    drifts.sort_by(f64::total_cmp);
    assert!((f(&summary["recon_drift"]) - drifts[2]).abs() < 1e-4, "{} vs {drifts:?}", summary["recon_drift"]);
    assert!(drifts[4] > 0.0, "re-encoding a reconstruction moves its distance a little: {drifts:?}");
    // The oracle's own reading of the inputs, beside the reconstructions': its accuracy on this set.
    let at_label = report["images"].as_array().unwrap().iter().filter(|i| i["input_oracle"][1] == i["label"]).count();
    assert_eq!(f(&oracle["input_grade_exact"]), at_label as f64 / 5.0);
    assert!(printed.contains("oracle: input measured at the label's grade"), "{printed}");
    // One row per image and move (the bundle's: covariance at strength 1).
    let csv = std::fs::read_to_string(out.join("per_image.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 6);
    let columns: Vec<&str> = lines[0].split(',').collect();
    let input = columns.iter().position(|&c| c == "severity_input").expect("a severity_input column");
    assert!(lines[1].starts_with("covariance,1.0,"), "{csv}");
    for (line, image) in lines[1..].iter().zip(report["images"].as_array().unwrap()) {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), columns.len(), "{line}");
        assert!((fields[input].parse::<f64>().unwrap() - f(&image["input_oracle"][0])).abs() < 1e-3, "{line}");
    }
}

/// `--strength S` moves the binary and grade CEs S times as far as the paper's (the binary CE of
/// an image at distance d goes to d - 2 S d); reports say which strength they were made with.
#[test]
fn strength_scales_the_counterfactual_moves() {
    let tmp = temp_dir("strength");
    let dir = tmp.path();
    let (bundle, _, _) = demo_files(dir);
    let f = |v: &Value| v.as_f64().unwrap();
    let out = dir.join("evaluate");
    let run = evaluate_three(&bundle, &out, &["--strength", "3"]);
    assert!(String::from_utf8_lossy(&run.stdout).contains("| CE strength (1: the paper's CEs) | 3 |"));
    let report = json(&out.join("report.json"));
    assert_eq!(f(&report["summary"]["strength"]), 3.0);
    for image in report["images"].as_array().unwrap() {
        let d = f(&image["distance"]);
        assert!((f(&image["binary"]["latent_distance"]) + 5.0 * d).abs() < 1e-4, "{image}");
    }
    daecf_ok(&["phantom", "vertebra", "--count", "1", "--size", "32", "--out", dir.join("img").to_str().unwrap()]);
    let explained = dir.join("explain");
    let image = dir.join("img/train-00000.png");
    daecf_ok(&[
        "explain",
        image.to_str().unwrap(),
        "--bundle",
        &bundle,
        "--frames",
        "2",
        "--t-encode",
        "3",
        "--t-render",
        "2",
        "--strength",
        "2",
        "--out",
        explained.to_str().unwrap(),
    ]);
    let report = json(&explained.join("train-00000/explanation.json"));
    assert_eq!(f(&report["strength"]), 2.0);
    // The binary CE shows the reflection, its latent goes three times as far (d - 2 * 2d); each
    // progression frame's latent moves twice as far as the distance it shows.
    let (d, binary) = (f(&report["distance"]), &report["counterfactuals"][0]);
    assert!(
        (f(&binary["distance"]) + d).abs() < 1e-4 && (f(&binary["latent_distance"]) + 3.0 * d).abs() < 1e-4,
        "{report}"
    );
    for frame in report["progression"].as_array().unwrap() {
        assert!((f(&frame["latent_distance"]) - d - 2.0 * (f(&frame["distance"]) - d)).abs() < 1e-4, "{frame}");
    }
    let bad = daecf(&["explain", image.to_str().unwrap(), "--bundle", &bundle, "--strength", "0"]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("'0' is not a positive number"));
    // One image holds one class at most: refused before any rendering, not after it.
    let one = daecf(&[
        "evaluate-ce",
        "--bundle",
        &bundle,
        "--data",
        "phantom:vertebra:30",
        "--limit",
        "1",
        "--out",
        dir.join("one").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&one.stderr);
    assert!(!one.status.success() && err.contains("ROC-AUC needs both") && err.contains("--limit"), "{err}");
    let labels =
        daecf(&["evaluate-ce", "--bundle", &bundle, "--data", "phantom:vertebra:30", "--labels", "grades.csv"]);
    let err = String::from_utf8_lossy(&labels.stderr);
    assert!(
        !labels.status.success() && err.contains("--labels, --group-column and --strict apply to a folder of images"),
        "{err}"
    );
}

/// The demo model's phantom latents through `encode` and `fit` with every figure (the t-SNE of
/// such latents, a young model's, once recursed without end in linfa-tsne's Barnes-Hut tree);
/// the head fitted there carries its CE directions, which evaluate-ce compares in a grid: each
/// reaches the same distances by another path. A head without them refuses them.
#[test]
fn demo_model_latents_fit_a_head_whose_directions_evaluate_ce_compares() {
    let tmp = temp_dir("fit");
    let dir = tmp.path();
    let (_, model, shipped_head) = demo_files(dir);
    // A head as fitted before the directions were stored: the shipped one without them.
    let mut older = json(Path::new(&shipped_head));
    for key in ["directions", "ce_direction"] {
        older["heads"][0].as_object_mut().unwrap().remove(key);
    }
    let old_head = dir.join("old-head.json");
    std::fs::write(&old_head, older.to_string()).unwrap();
    let old_head = old_head.to_str().unwrap().to_string();
    let latents = dir.join("latents.npz");
    daecf_ok(&["encode", "--model", &model, "--data", "phantom:vertebra:300", "--out", latents.to_str().unwrap()]);
    let fit = dir.join("fit");
    daecf_ok(&[
        "fit",
        "--latents",
        latents.to_str().unwrap(),
        "--task",
        "fracture:positive=2,3:exclude=1",
        "--out",
        fit.to_str().unwrap(),
    ]);
    let tsne = std::fs::read(fit.join("report").join("tsne.png")).unwrap();
    assert!(tsne.starts_with(b"\x89PNG") && tsne.len() > 10_000, "{} bytes", tsne.len());
    let head = fit.join("head.json");
    assert_eq!(json(&head)["heads"][0]["directions"]["samples"], 300, "fitted on the training latents");

    let out = dir.join("grid");
    let evaluate = |head: &str, extra: &[&str]| {
        let mut args = vec!["evaluate-ce", "--model", &model, "--head", head, "--data", "phantom:vertebra:30"];
        args.extend_from_slice(&["--limit", "3", "--t-encode", "3", "--t-render", "2", "--out", out.to_str().unwrap()]);
        args.extend_from_slice(extra);
        daecf(&args)
    };
    let directions = ["normal", "covariance", "principal", "random"];
    let run = evaluate(head.to_str().unwrap(), &["--direction", &directions.join(","), "--strength", "3"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let printed = String::from_utf8_lossy(&run.stdout);
    assert!(printed.contains("| covariance | 3 |") && printed.contains("| normal | 1 |"), "{printed}");
    let report = json(&out.join("report.json"));
    let moves: Vec<(String, f64)> = report["moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["direction"].as_str().unwrap().to_string(), m["strength"].as_f64().unwrap()))
        .collect();
    let expected: Vec<(String, f64)> =
        directions.iter().flat_map(|d| [(d.to_string(), 1.0), (d.to_string(), 3.0)]).collect();
    assert_eq!(moves, expected);
    assert_eq!(
        (report["summary"]["direction"].as_str(), report["summary"]["strength"].as_f64()),
        (Some("normal"), Some(3.0))
    );
    // Every move has a COUT, in [-1, 1].
    for m in report["moves"].as_array().unwrap() {
        let cout = m["binary_cout"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&cout), "COUT {cout}");
    }
    // Same latent distances along every path, of other lengths in z_sem.
    let csv = std::fs::read_to_string(out.join("per_image.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains("binary_cout"));
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 24, "3 images under 8 moves");
    for k in 6..24 {
        assert_eq!(rows[k][2], rows[k % 6][2], "same image");
        let (a, b): (f64, f64) = (rows[k][7].parse().unwrap(), rows[k % 6][7].parse().unwrap());
        assert!((a - b).abs() < 1e-3 * a.abs().max(1.0), "latent distance {a} vs {b}");
    }
    let step = |m: usize| report["moves"][m]["binary_step"].as_f64().unwrap();
    assert!((step(1) - step(3)).abs() > 1e-3 * step(1), "other paths: {} vs {}", step(1), step(3));
    // The random control is far from the normal: it takes a longer move to the same distance.
    assert!(step(7) > 2.0 * step(1), "random {} vs normal {}", step(7), step(1));
    // A bundle of the shipped model with this head and its covariance direction: the CLI's
    // default afterwards, shown by inspect.
    let (shipped, moved) = (demo_bundle(), dir.join("covariance.daecf"));
    let (shipped, moved) = (shipped.to_str().unwrap(), moved.to_str().unwrap());
    daecf_ok(&[
        "export",
        "--model",
        shipped,
        "--head",
        head.to_str().unwrap(),
        "--f16",
        "--ce-direction",
        "covariance",
        "--out",
        moved,
    ]);
    assert!(String::from_utf8_lossy(&daecf_ok(&["inspect", moved]).stdout).contains("CE direction covariance"));
    let on_bundle = dir.join("bundle");
    evaluate_three(moved, &on_bundle, &[]);
    assert_eq!(json(&on_bundle.join("report.json"))["summary"]["direction"], "covariance");
    let refused =
        daecf(&["export", "--model", shipped, "--head", &old_head, "--ce-direction", "covariance", "--out", moved]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && err.contains("needs fitted directions"), "{err}");
    let refused = evaluate(&old_head, &["--direction", "covariance"]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && err.contains("daecf fit") && err.contains("--direction normal"), "{err}");
}

#[test]
fn export_and_inspect_a_bundle() {
    let tmp = temp_dir("export");
    let dir = tmp.path();
    let (_, model, heads) = demo_files(dir);
    let out = dir.join("again.daecf");
    daecf_ok(&[
        "export",
        "--model",
        &model,
        "--head",
        &heads,
        "--training-data",
        "phantoms",
        "--steps",
        "7",
        "--out",
        out.to_str().unwrap(),
    ]);
    let half = dir.join("half.daecf");
    daecf_ok(&["export", "--model", &model, "--head", &heads, "--f16", "--out", half.to_str().unwrap()]);
    let (full, small) = (std::fs::metadata(&out).unwrap().len(), std::fs::metadata(&half).unwrap().len());
    assert!(small < full * 6 / 10, "f16 halves the bundle: {small} vs {full}");
    assert!(
        String::from_utf8(daecf_ok(&["inspect", half.to_str().unwrap()]).stdout).unwrap().contains("f16 safetensors")
    );
    let text = String::from_utf8(daecf_ok(&["inspect", out.to_str().unwrap()]).stdout).unwrap();
    assert!(
        text.contains("checksum verified") && text.contains("head 'fracture'") && text.contains("phantoms, 7 steps"),
        "{text}"
    );
    let mut bytes = std::fs::read(&out).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&out, bytes).unwrap();
    let bad = daecf(&["inspect", out.to_str().unwrap()]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("corrupted"));
}

#[test]
fn demo_writes_a_self_contained_report() {
    let tmp = temp_dir("demo");
    let dir = tmp.path();
    let out = dir.join("demo");
    let run = daecf_ok(&[
        "demo",
        "--eval",
        "24",
        "--ce-images",
        "3",
        "--t-encode",
        "3",
        "--t-render",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    for needle in [
        "ROC-AUC",
        "binary CE validity",
        "COUT",
        "oracle",
        "How much of a picture z_sem controls",
        "data:image/png;base64,",
        "data:image/gif;base64,",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    assert!(
        html.contains("Can these counterfactuals be trusted?") && html.contains("(needs 80.0 %)"),
        "the trust checks"
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("trust checks met: "));
    assert!(!html.contains("src=\"http"), "the page loads nothing from elsewhere");
    assert!(html.contains("width=\"160\""), "the 32 px pictures are shown enlarged");
    assert!(String::from_utf8_lossy(&run.stdout).contains("index.html"));
    // The head's trust check is on all 24 graded phantoms, not only the 3 with CEs.
    let report = json(&out.join("evaluate-ce/report.json"));
    let summary = &report["summary"];
    assert_eq!((summary["n"].clone(), summary["head_images"].clone()), (3.into(), 24.into()));
    assert_eq!(report["swap"]["pairs"], 3, "the swap test on the CE images");
}

/// A bundle exported with `--ce-strength` carries it: demo (and explain, evaluate-ce, the
/// browser app) use it unless `--strength` says otherwise.
#[test]
fn demo_runs_another_bundle_at_its_exported_strength() {
    let tmp = temp_dir("demo-bundle");
    let dir = tmp.path();
    let (_, model, heads) = demo_files(dir);
    let other = dir.join("other.daecf");
    daecf_ok(&["export", "--model", &model, "--head", &heads, "--ce-strength", "2", "--out", other.to_str().unwrap()]);
    let other = other.to_str().unwrap();
    assert!(String::from_utf8_lossy(&daecf_ok(&["inspect", other]).stdout).contains(", CE strength 2"));
    let out = dir.join("demo");
    daecf_ok(&[
        "demo",
        "--bundle",
        other,
        "--eval",
        "8",
        "--ce-images",
        "2",
        "--t-encode",
        "3",
        "--t-render",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        html.contains("other.daecf") && html.contains("at strength 2, along the covariance direction"),
        "names the bundle and the strength"
    );
    let report = json(&out.join("evaluate-ce/report.json"));
    assert_eq!(report["summary"]["strength"].as_f64(), Some(2.0));
    let lengths: Vec<f64> =
        report["moves"].as_array().unwrap().iter().map(|m| m["strength"].as_f64().unwrap()).collect();
    assert_eq!(lengths, vec![1.0, 2.0], "the paper's length measured first");
    assert!(html.contains("covariance, strength 1"), "the strength-1 figures on the page");
    let paper = dir.join("paper");
    daecf_ok(&[
        "evaluate-ce",
        "--bundle",
        other,
        "--data",
        "phantom:vertebra:30",
        "--limit",
        "2",
        "--t-encode",
        "3",
        "--t-render",
        "2",
        "--strength",
        "1",
        "--out",
        paper.to_str().unwrap(),
    ]);
    assert_eq!(
        json(&paper.join("report.json"))["summary"]["strength"].as_f64(),
        Some(1.0),
        "--strength overrides the bundle's"
    );
}

/// `daecf shortcut` end to end on a small set: a clean and a confounded head, their AUCs on
/// their own kind of phantoms and on decorrelated ones, each one's binary CEs attributed to the
/// bodies they changed, a report and a page with pictures; impossible rates are refused.
#[test]
fn shortcut_compares_a_clean_and_a_confounded_head() {
    let tmp = temp_dir("shortcut");
    let out = tmp.path().join("shortcut");
    let run = daecf_ok(&[
        "shortcut",
        "--rates",
        "1",
        "--fit-images",
        "80",
        "--test-images",
        "40",
        "--report-images",
        "3",
        "--panel",
        "2",
        "--t-encode",
        "3",
        "--t-render",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&run.stdout).contains("| clean (0) |"));
    let report = json(&out.join("report.json"));
    let heads = report["heads"].as_array().unwrap();
    assert_eq!(heads.iter().map(|h| h["rate"].as_f64().unwrap()).collect::<Vec<_>>(), vec![0.0, 1.0]);
    for h in heads {
        for key in ["auc_own", "auc_decorrelated", "binary_validity", "neighbour_share", "largest_in_neighbour"] {
            assert!(h[key].is_number() || h[key].is_null(), "{key}: {h}");
        }
    }
    // A fully confounded head separates its own kind at least as well as decorrelated phantoms.
    let auc = |h: &Value, k: &str| h[k].as_f64().unwrap();
    assert!(auc(&heads[1], "auc_own") >= auc(&heads[1], "auc_decorrelated") - 0.05, "{}", heads[1]);
    assert_eq!(report["images"].as_array().unwrap().len(), 3);
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("<th>neighbours' share</th>"), "the table");
    assert_eq!(html.matches("<figure>").count(), 12, "two phantoms, six pictures each");
    let bad = daecf(&["shortcut", "--rates", "1.5", "--out", tmp.path().join("bad").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("must lie in [0, 1]"), "{err}");
}

/// A folder labelled in part: `encode` keeps every image with a mask of the labelled ones, and
/// `fit` fits on those, holding out a stratified validation share since there is no val split.
#[test]
fn a_partly_labelled_grouped_folder_is_encoded_whole_and_fitted_on_its_labels_by_patient() {
    let tmp = temp_dir("partial");
    let dir = tmp.path();
    let images = dir.join("images");
    daecf_ok(&["phantom", "vertebra", "--count", "60", "--size", "32", "--out", images.to_str().unwrap()]);
    let csv = std::fs::read_to_string(images.join("labels.csv")).unwrap();
    // Every third image's label cell left empty, as a spreadsheet marks an unlabelled row; three
    // images per patient, in a group column.
    let blanked: Vec<String> = csv
        .lines()
        .enumerate()
        .map(|(k, line)| {
            let mut cells: Vec<String> = line.split(',').map(String::from).collect();
            if k > 0 && k % 3 == 0 {
                cells[1] = String::new();
            }
            cells.push(if k == 0 { "group".into() } else { format!("patient-{}", (k - 1) / 3) });
            cells.join(",")
        })
        .collect();
    std::fs::write(images.join("labels.csv"), blanked.join("\n")).unwrap();
    let latents = dir.join("latents.npz");
    let encoded = encode_with_demo(&images, &latents, &[]);
    let said = String::from_utf8_lossy(&encoded.stderr);
    assert!(said.contains("40 of 60 images labelled"), "{said}");
    let set = daecf_core::data::LatentSet::read(&latents).unwrap();
    let train = &set.splits[0];
    assert_eq!((train.latents.nrows(), train.labelled_rows().unwrap().rows.len()), (60, 40));
    let groups = train.groups.as_ref().expect("train_groups written");
    assert_eq!((groups[0].as_str(), groups[59].as_str()), ("patient-0", "patient-19"));

    let fit = dir.join("fit");
    let fit_with = |extra: &[&str]| {
        let mut args =
            vec!["fit", "--latents", latents.to_str().unwrap(), "--no-plots", "--out", fit.to_str().unwrap()];
        args.extend_from_slice(extra);
        daecf_ok(&args)
    };
    let fitted = fit_with(&["--task", "fracture:positive=2,3:exclude=1"]);
    let report = json(&fit.join("report").join("report.json"));
    // Whole patients (three images each, labelled or not) are held out, about 20 % of 20.
    let held = report["held_out"]["rows"].as_u64().unwrap();
    let held_groups = report["held_out"]["groups"].as_u64().unwrap();
    assert_eq!(held, 3 * held_groups, "whole patients held out");
    assert!((3..=5).contains(&held_groups), "about 20 % of 20 patients: {held_groups}");
    let said = String::from_utf8_lossy(&fitted.stderr);
    assert!(said.contains("of the labelled training latents (20 %, stratified, whole groups (train_groups)"), "{said}");
    let md = std::fs::read_to_string(fit.join("report").join("report.md")).unwrap();
    assert!(md.contains(&format!("{held_groups} whole groups (`train_groups`) are held out")), "{md}");
    // The head is measured on the held-out rows it was not fitted on (grade 1 left out by the task).
    let val_n = report["tasks"][0]["splits"]["val"]["n"].as_u64().unwrap();
    assert!(val_n > 0 && val_n <= held, "val n {val_n} of {held}");
    let untouched = fit_with(&["--val-fraction", "0"]);
    assert!(String::from_utf8_lossy(&untouched.stderr).contains("training figures, not a measure"));
    // Cross-validation over whole patients, C chosen by it.
    let folded = fit_with(&["--folds", "4", "--c", "0.1,10", "--json", "--task", "fracture:positive=2,3"]);
    let summary: serde_json::Value = serde_json::from_slice(&folded.stdout).unwrap();
    let cv = &summary["cv"];
    assert_eq!((cv["folds"].as_u64(), cv["grouped"].as_bool()), (Some(4), Some(true)), "{summary}");
    let per_fold = cv["per_fold"].as_array().unwrap();
    assert_eq!(per_fold.iter().map(|e| e["n"].as_u64().unwrap()).sum::<u64>(), 40, "every labelled latent once");
    assert!(cv["auc"]["mean"].as_f64().unwrap() > 0.5, "{cv}");
    let report = json(&fit.join("report").join("report.json"));
    assert!(report["held_out"].is_null(), "no hold-out beside the folds");
    assert_eq!(report["tasks"][0]["c_search"].as_array().unwrap().len(), 2);
    let too_many = daecf(&["fit", "--latents", latents.to_str().unwrap(), "--folds", "30", "--no-plots"]);
    let said = String::from_utf8_lossy(&too_many.stderr);
    assert!(!too_many.status.success() && said.contains("2 to 20 folds (at most one per group)"), "{said}");
}

#[test]
fn real_nifti_volumes_are_encoded_slice_by_slice_with_their_volume_as_group() {
    let data = common::real_test_data().join("nibabel");
    let tmp = temp_dir("nifti");
    let dir = tmp.path();
    let csv = dir.join("labels.csv");
    std::fs::write(&csv, "file,label\nanatomical.nii,1\nstandard.nii.gz,0\n").unwrap();
    let bundle = demo_bundle();
    let latents = dir.join("latents.npz");
    let extra = ["--labels", csv.to_str().unwrap(), "--window", "percentile", "--slice-every", "5"];
    let encoded = encode_with_demo(&data, &latents, &extra);
    let said = String::from_utf8_lossy(&encoded.stderr);
    assert!(said.contains("example4d.nii.gz: a 4D volume") && said.contains("skipped 2 unreadable"), "{said}");
    let set = daecf_core::data::LatentSet::read(&latents).unwrap();
    let train = &set.splits[0];
    let ids = train.ids.as_ref().unwrap();
    assert_eq!(
        &ids[..5],
        [
            "anatomical.nii#z=0",
            "anatomical.nii#z=5",
            "anatomical.nii#z=10",
            "anatomical.nii#z=15",
            "anatomical.nii#z=20"
        ]
    );
    let groups = train.groups.as_ref().unwrap();
    for (k, id) in ids.iter().enumerate() {
        let volume = id.split_once('#').unwrap().0;
        assert_eq!(groups[k], volume, "a slice's group is its volume");
        assert_eq!(train.label(k), Some(i64::from(volume == "anatomical.nii")), "labelled per volume");
    }
    // One slice of a volume explained, in a folder named after the volume and the slice.
    let volume = data.join("anatomical.nii");
    let out = dir.join("explain");
    let (volume, out) = (volume.to_str().unwrap(), out.to_str().unwrap());
    let args = ["explain", volume, "--slice-range", "10..11", "--window", "percentile", "--bundle"];
    let mut args = args.to_vec();
    args.extend([bundle.to_str().unwrap(), "--t-encode", "3", "--t-render", "2", "--out", out]);
    daecf_ok(&args);
    assert!(dir.join("explain/anatomical_z10/explanation.json").is_file());
}
