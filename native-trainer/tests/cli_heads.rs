//! End-to-end: `daecf fit` and `daecf grade` on the paper's RetinaMNIST latents (read from
//! DAECF_LATENTS when set), and their errors on bad latents files.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{daecf, daecf_ok, temp_dir};

use ndarray::{Array1, Array2};
use ndarray_npy::NpzWriter;

fn latents() -> PathBuf {
    std::env::var_os("DAECF_LATENTS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/retinamnist_dae_latents.npz")
    })
}

fn stdout_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("--json prints one JSON object")
}

fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.starts_with(b"\x89PNG") && b.len() > 2000)
}

#[test]
fn fit_reports_table_4_writes_the_report_and_grade_reads_the_head() {
    let tmp = temp_dir("fit");
    let dir = tmp.path();
    let out = dir.to_str().unwrap();
    let json = stdout_json(&daecf_ok(&["fit", "--latents", latents().to_str().unwrap(), "--out", out, "--json"]));
    let val = &json["val"];
    for (key, want) in
        [("auc", 0.891), ("auc_hard", 0.835), ("f1", 0.878), ("accuracy", 0.850), ("mae", 0.728), ("macro_f1", 0.314)]
    {
        let got = val[key].as_f64().unwrap_or_else(|| panic!("val.{key} missing in {val}"));
        assert!((got - want).abs() <= 0.01, "val.{key} = {got}, want {want}");
    }
    assert!(val["macro_f1_unclipped"].is_f64());
    assert!(json.get("train").is_none(), "--json holds the evaluated splits only");

    for file in ["head.json", "report/report.json", "report/report.md"] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    for png in ["roc_task.png", "distance_grade_task.png", "confusion_task.png", "tsne.png"] {
        assert!(is_png(&dir.join("report").join(png)), "{png} is not a PNG plot");
    }
    let md = std::fs::read_to_string(dir.join("report/report.md")).unwrap();
    assert!(md.contains("AUC (hard)") && md.contains("roc_task.png"));

    let head = dir.join("head.json");
    let rows = stdout_json(&daecf_ok(&[
        "grade",
        "--head",
        head.to_str().unwrap(),
        "--latents",
        latents().to_str().unwrap(),
        "--split",
        "val",
        "--json",
    ]));
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 120);
    assert!(rows.iter().all(|r| (0..=4).contains(&r["grade"].as_i64().unwrap())));
    let agree = rows.iter().filter(|r| r["positive"].as_bool() == Some(r["distance"].as_f64().unwrap() > 0.0)).count();
    assert_eq!(agree, 120);
}

#[test]
fn several_tasks_logreg_and_the_burn_solver() {
    let tmp = temp_dir("tasks");
    let dir = tmp.path();
    let json = stdout_json(&daecf_ok(&[
        "fit",
        "--latents",
        latents().to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
        "--json",
        "--no-plots",
        "--classifier",
        "logreg",
        "--solver",
        "burn",
        "--task",
        "any:positive=1,2,3,4",
        "--task",
        "severe:positive=3,4:exclude=2",
    ]));
    let any = &json["tasks"]["any"]["val"];
    assert!((any["auc"].as_f64().unwrap() - 0.893).abs() <= 0.01, "{any}");
    let severe = &json["tasks"]["severe"]["val"];
    assert_eq!(severe["n"].as_u64(), Some(92), "grade 2 (28 samples) is left out of the binary task");
    let heads: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("head.json")).unwrap()).unwrap();
    assert_eq!(heads["heads"].as_array().unwrap().len(), 2);
}

/// Adds one named array to an archive.
type AddArray<'a> = &'a dyn Fn(&mut NpzWriter<std::fs::File>, &str);

/// A broken archive: its name, its arrays, and what the error must say.
type BadArchive<'a> = (&'a str, Vec<(&'a str, AddArray<'a>)>, &'a str);

fn write_npz(path: &Path, arrays: &[(&str, AddArray)]) {
    let mut npz = NpzWriter::new(std::fs::File::create(path).unwrap());
    for (name, add) in arrays {
        add(&mut npz, name);
    }
    npz.finish().unwrap();
}

#[test]
fn bad_latents_files_fail_with_clear_messages() {
    let tmp = temp_dir("bad");
    let dir = tmp.path();
    let x = |n: &mut NpzWriter<std::fs::File>, name: &str| {
        n.add_array(name, &Array2::from_shape_fn((12, 4), |(i, j)| (i * 4 + j) as f32 / 10.0)).unwrap()
    };
    let grades = |n: &mut NpzWriter<std::fs::File>, name: &str| {
        n.add_array(name, &Array1::from_iter((0..12).map(|i| (i % 4) as i64))).unwrap()
    };
    let cases: Vec<BadArchive> = vec![
        ("keys", vec![("images", &x), ("labels", &grades)], "no <split>_latents"),
        (
            "length",
            vec![("train_latents", &x), ("train_labels", &|n, k| n.add_array(k, &Array1::<i64>::zeros(5)).unwrap())],
            "12 rows but train_labels has 5",
        ),
        (
            "nan",
            vec![
                ("train_latents", &|n, k| {
                    let mut a = Array2::<f32>::ones((12, 4));
                    a[[2, 3]] = f32::NAN;
                    n.add_array(k, &a).unwrap()
                }),
                ("train_labels", &grades),
            ],
            "is NaN",
        ),
        (
            "single",
            vec![
                ("train_latents", &x),
                ("train_labels", &|n, k| n.add_array(k, &Array1::<i64>::from_elem(12, 3)).unwrap()),
            ],
            "both classes",
        ),
        (
            "gap",
            vec![
                ("train_latents", &x),
                ("train_labels", &|n, k| {
                    n.add_array(k, &Array1::from_iter((0..12).map(|i| [0i64, 1, 3][i % 3]))).unwrap()
                }),
            ],
            "grade 2 is empty",
        ),
    ];
    for (name, arrays, message) in cases {
        let path = dir.join(format!("{name}.npz"));
        write_npz(&path, &arrays);
        let out = daecf(&[
            "fit",
            "--latents",
            path.to_str().unwrap(),
            "--out",
            dir.join(name).to_str().unwrap(),
            "--no-plots",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: daecf fit should fail");
        assert!(stderr.contains(message), "{name}: expected '{message}' in: {stderr}");
    }
    let missing = daecf(&["fit", "--latents", dir.join("nope.npz").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.npz"));
    let empty_grade = daecf(&[
        "fit",
        "--latents",
        latents().to_str().unwrap(),
        "--no-plots",
        "--out",
        dir.join("cal").to_str().unwrap(),
        "--calibration",
        "grades:0,7",
    ]);
    assert!(String::from_utf8_lossy(&empty_grade.stderr).contains("no training sample has grade 7"));
}

#[test]
fn a_c_search_keeps_the_best_val_auc_and_writes_every_candidate() {
    let tmp = temp_dir("csearch");
    let out = tmp.path().join("fit");
    let out_s = out.to_str().unwrap();
    let latents = latents();
    let args = ["fit", "--latents", latents.to_str().unwrap(), "--c", "0.01,1", "--no-plots", "--out", out_s];
    let printed = String::from_utf8_lossy(&daecf_ok(&args).stdout).to_string();
    assert!(printed.contains("val ROC-AUC by C: 0.01"), "{printed}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report").join("report.json")).unwrap()).unwrap();
    let search = report["tasks"][0]["c_search"].as_array().unwrap();
    assert_eq!(search.len(), 2);
    let best = search.iter().max_by(|a, b| a["auc"].as_f64().unwrap().total_cmp(&b["auc"].as_f64().unwrap())).unwrap();
    assert_eq!(best["chosen"], true);
    let kept: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("head.json")).unwrap()).unwrap();
    assert_eq!(kept["heads"][0]["c"], best["c"]);
    for c in ["0.01", "1"] {
        let candidate = std::fs::read_to_string(out.join("c-search").join(format!("head-c{c}.json"))).unwrap();
        assert!(candidate.contains("\"c\":") && candidate.contains("daecf-heads"));
    }
    // A file without a val split, none held out: nothing to choose by.
    let train_only = tmp.path().join("train.npz");
    let x = |n: &mut NpzWriter<std::fs::File>, name: &str| {
        n.add_array(name, &Array2::from_shape_fn((12, 4), |(i, j)| ((i * 4 + j) % 7) as f32 / 10.0)).unwrap()
    };
    let y = |n: &mut NpzWriter<std::fs::File>, name: &str| {
        n.add_array(name, &Array1::from_iter((0..12).map(|i| (i % 2) as i64))).unwrap()
    };
    write_npz(&train_only, &[("train_latents", &x), ("train_labels", &y)]);
    let refused = daecf(&[
        "fit",
        "--latents",
        train_only.to_str().unwrap(),
        "--c",
        "auto",
        "--val-fraction",
        "0",
        "--out",
        out_s,
    ]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && err.contains("no labelled val split"), "{err}");
}
