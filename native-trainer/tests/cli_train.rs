//! End-to-end: `daecf train` on generated images writes its outputs, stops and resumes
//! exactly (bit-identical weights on CPU); `daecf reconstruct` reports MSE, PSNR and SSIM, and
//! `daecf encode` turns the model and images into a latents file that `daecf fit` reads.

mod common;

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use burn::tensor::Device;
use daecf_core::training::DaeTrainer;
use image::{GrayImage, Luma};
use safetensors::SafeTensors;

use common::{daecf, daecf_ok, temp_dir};

/// Every tensor of a safetensors file, by name, as raw bytes.
fn tensors(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    file.tensors().into_iter().map(|(name, view)| (name, view.data().to_vec())).collect()
}

/// A folder of 12 grey 40x40 PNGs (resized to tiny32's 32x32 on reading) with labels 0-2.
fn image_folder(dir: &Path) -> PathBuf {
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let mut csv = String::from("file,label\n");
    for i in 0..12u32 {
        let img = GrayImage::from_fn(40, 40, |x, y| {
            let v = ((x as f32 * (1.0 + (i % 3) as f32) / 7.0).sin() * (y as f32 / 9.0 + i as f32).cos() + 1.0) * 127.0;
            Luma([v as u8])
        });
        img.save(images.join(format!("img{i:02}.png"))).unwrap();
        csv.push_str(&format!("img{i:02}.png,{}\n", i % 3));
    }
    std::fs::write(images.join("labels.csv"), csv).unwrap();
    images
}

fn train(data: &Path, out: &Path, steps: usize, resume: bool) {
    let (data, out, steps) = (data.to_str().unwrap(), out.to_str().unwrap(), steps.to_string());
    let mut args = vec!["train", "--data", data, "--preset", "tiny32", "--batch", "4", "--steps", &steps];
    args.extend(["--checkpoint-every", "3", "--out", out]);
    // A resumed run keeps the seed of its checkpoint (its data order included).
    args.extend(if resume { ["--resume"].as_slice() } else { ["--seed", "5"].as_slice() });
    daecf_ok(&args);
}

/// In `dir`: the image folder, a run of `steps` steps ("whole") and one stopped halfway ("half").
fn whole_and_stopped_run(dir: &Path, steps: usize) -> (PathBuf, PathBuf, PathBuf) {
    let data = image_folder(dir);
    let (whole, half) = (dir.join("whole"), dir.join("half"));
    train(&data, &whole, steps, false);
    train(&data, &half, steps / 2, false);
    (data, whole, half)
}

#[test]
fn resumed_training_equals_an_uninterrupted_run_and_encode_feeds_fit() {
    let tmp = temp_dir("resume");
    let dir = tmp.path();
    let (data, whole, parts) = whole_and_stopped_run(dir, 6);
    let other_seed = daecf(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--steps",
        "6",
        "--seed",
        "6",
        "--resume",
        "--out",
        parts.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&other_seed.stderr);
    assert!(!other_seed.status.success() && err.contains("--seed 6 differs from the resumed run's 5"), "{err}");
    train(&data, &parts, 6, true);
    // The EMA weights written at the end and the online weights of the last checkpoints
    // (re-saved as safetensors) must be equal to the last bit.
    for run in [&whole, &parts] {
        let trainer = DaeTrainer::resume(&run.join("checkpoint"), &Device::flex()).unwrap();
        assert_eq!(trainer.step_count(), 6);
        trainer.online().save(run.join("online.safetensors")).unwrap();
    }
    for file in ["model.safetensors", "online.safetensors"] {
        let (a, b) = (tensors(&whole.join(file)), tensors(&parts.join(file)));
        assert!(a.len() > 100, "{file} holds {} tensors", a.len());
        assert!(a == b, "{file}: the resumed run's weights differ from the uninterrupted run's");
    }
    let csv = std::fs::read_to_string(parts.join("loss.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7, "header + 6 steps:\n{csv}");
    assert!(whole.join("reconstructions/step-0000006.png").is_file());

    let rec = dir.join("rec");
    let out = daecf_ok(&[
        "reconstruct",
        "--model",
        whole.join("model.safetensors").to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--limit",
        "3",
        "--t-encode",
        "5",
        "--t-render",
        "5",
        "--out",
        rec.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 images: MSE"));
    let metrics = std::fs::read_to_string(rec.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 4, "{metrics}");
    assert!(
        metrics.lines().skip(1).all(|l| l
            .split(',')
            .nth(3)
            .and_then(|s| s.parse::<f64>().ok())
            .is_some_and(|s| s <= 1.0))
    );
    assert!(rec.join("0002.png").is_file());

    let latents = dir.join("latents.npz");
    let model = whole.join("model.safetensors");
    daecf_ok(&[
        "encode",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        latents.to_str().unwrap(),
    ]);
    let fit = daecf_ok(&[
        "fit",
        "--latents",
        latents.to_str().unwrap(),
        "--out",
        dir.join("fit").to_str().unwrap(),
        "--no-plots",
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_slice(&fit.stdout).unwrap();
    assert!(json.is_object(), "{json}");
    assert!(dir.join("fit/head.json").is_file());
}

#[test]
fn bench_reports_throughput_and_memory() {
    let out = daecf_ok(&["bench", "--preset", "tiny32", "--res-blocks", "1", "--batch", "2", "--steps", "1", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["samples_per_second"].as_f64().unwrap() > 0.0);
    assert!(report["ddim_step_seconds"].as_f64().unwrap() > 0.0);
    assert!(report["peak_rss_bytes"].as_u64().unwrap() > 10_000_000, "peak memory is read on Linux");
    assert!(report["reference"].is_null() && report["slower_than_pytorch"].is_null(), "no reference unless asked");
}

/// `--reference` says what it needs before benchmarking anything.
#[test]
fn bench_reference_needs_a_diffae_checkout() {
    let tmp = temp_dir("bench-reference");
    let out = daecf(&["bench", "--reference", "--diffae", tmp.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a phizaz/diffae checkout"), "{stderr}");
    let out = daecf(&["bench", "--reference", "--preset", "vcf96", "--diffae", tmp.path().to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("reference: it knows tiny32"));
}

/// `--precision`: a bf16 run checkpoints f32 weights and the precision; resumed in f16 it keeps
/// a loss scale in the checkpoint and still writes an f32 model.
#[test]
fn mixed_precision_runs_checkpoint_and_resume() {
    let tmp = temp_dir("precision");
    let dir = tmp.path();
    let data = image_folder(dir);
    let out = dir.join("run");
    let common = ["--preset", "tiny32", "--res-blocks", "1", "--batch", "2", "--checkpoint-every", "2", "--out"];
    let run = |steps: &str, precision: &str, resume: bool| {
        let mut args = vec!["train", "--data", data.to_str().unwrap(), "--steps", steps, "--precision", precision];
        args.extend(common);
        args.push(out.to_str().unwrap());
        if resume {
            args.push("--resume");
        }
        daecf_ok(&args);
    };
    run("2", "bf16", false);
    let state = |key: &str| -> serde_json::Value {
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("checkpoint/state.json")).unwrap()).unwrap();
        json.pointer(key).cloned().unwrap_or_default()
    };
    assert_eq!(state("/precision"), "bf16");
    assert!(state("/loss_scale").is_null());
    run("3", "f16", true);
    assert_eq!(state("/precision"), "f16");
    assert_eq!(state("/step"), 3);
    assert!(state("/loss_scale/scale").as_f64().is_some_and(|s| s >= 1.0), "{}", state("/loss_scale"));
    let model = daecf_core::model::DiffusionAutoencoder::load(out.join("model.safetensors"), &Device::flex()).unwrap();
    assert_eq!(model.unet.out_conv.weight.val().dtype(), burn::tensor::DType::F32);
    let losses = std::fs::read_to_string(out.join("loss.csv")).unwrap();
    assert!(
        losses.lines().skip(1).all(|l| l
            .split(',')
            .nth(1)
            .and_then(|v| v.parse::<f32>().ok())
            .is_some_and(f32::is_finite)),
        "{losses}"
    );
}

/// `--devices` refuses CPU backends and names what it found on wgpu.
#[test]
fn devices_name_gpus_and_refuse_cpus() {
    let tmp = temp_dir("devices");
    let dir = tmp.path();
    let data = image_folder(dir);
    let run = |backend: &str, devices: &str| {
        let out = dir.join(backend);
        let args = [
            "train",
            "--data",
            data.to_str().unwrap(),
            "--steps",
            "1",
            "--backend",
            backend,
            "--devices",
            devices,
            "--out",
            out.to_str().unwrap(),
        ];
        let out = daecf(&args);
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(run("cpu", "0,1").contains("--devices needs several GPUs"));
    assert!(run("wgpu", "0,99").contains("--devices 99: wgpu found"));
}

/// `--backend libtorch`: a `--features tch` build trains on LibTorch; any other build refuses
/// and says how to get one.
#[test]
fn libtorch_backend_trains_or_says_how_to_build_it() {
    let args = [
        "bench",
        "--backend",
        "libtorch",
        "--preset",
        "tiny32",
        "--res-blocks",
        "1",
        "--batch",
        "2",
        "--steps",
        "1",
        "--json",
    ];
    let out = daecf(&args);
    if cfg!(feature = "tch") {
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(report["samples_per_second"].as_f64().unwrap() > 0.0, "{report}");
    } else {
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("--features tch"));
    }
}

/// `--init`: a new run starts from a model file's weights and architecture (step 0 writes them
/// back unchanged), trains on from there, and cannot be combined with --resume.
#[test]
fn init_starts_a_new_run_from_a_models_weights() {
    let tmp = temp_dir("init");
    let dir = tmp.path();
    let data = image_folder(dir);
    let data = data.to_str().unwrap();
    let first = dir.join("first");
    daecf_ok(&[
        "train",
        "--data",
        data,
        "--preset",
        "tiny32",
        "--res-blocks",
        "1",
        "--batch",
        "2",
        "--steps",
        "2",
        "--seed",
        "3",
        "--out",
        first.to_str().unwrap(),
    ]);
    let start = first.join("model.safetensors");
    let run = |steps: &str, out: &Path| {
        daecf_ok(&[
            "train",
            "--data",
            data,
            "--init",
            start.to_str().unwrap(),
            "--batch",
            "2",
            "--steps",
            steps,
            "--seed",
            "4",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let copy = dir.join("copy");
    run("0", &copy);
    assert!(
        tensors(&start) == tensors(&copy.join("model.safetensors")),
        "step 0 of an --init run must hold the given weights"
    );
    let tuned = dir.join("tuned");
    let out = run("1", &tuned);
    assert!(String::from_utf8_lossy(&out.stderr).contains("starting from the weights of"));
    let model =
        daecf_core::model::DiffusionAutoencoder::load(tuned.join("model.safetensors"), &Device::flex()).unwrap();
    assert_eq!(model.config.num_res_blocks, 1, "the model file's architecture, not the default preset's");
    assert!(tensors(&start) != tensors(&tuned.join("model.safetensors")), "one step must move the weights");
    let both = daecf(&[
        "train",
        "--data",
        data,
        "--init",
        start.to_str().unwrap(),
        "--resume",
        "--out",
        tuned.to_str().unwrap(),
    ]);
    assert!(!both.status.success() && String::from_utf8_lossy(&both.stderr).contains("--resume"));
}

/// A model carried at f16: `export` without a head writes the EMA weights alone at half the
/// size, and `train --init` starts from them within f16 rounding.
#[test]
fn a_run_carried_at_f16_starts_again_from_its_weights() {
    let tmp = temp_dir("carry");
    let dir = tmp.path();
    let data = image_folder(dir);
    let data = data.to_str().unwrap();
    let first = dir.join("first");
    daecf_ok(&[
        "train",
        "--data",
        data,
        "--preset",
        "tiny32",
        "--res-blocks",
        "1",
        "--batch",
        "2",
        "--steps",
        "2",
        "--out",
        first.to_str().unwrap(),
    ]);
    let ema = first.join("checkpoint/ema.safetensors");
    let half = dir.join("ema.f16.safetensors");
    daecf_ok(&["export", "--model", ema.to_str().unwrap(), "--f16", "--out", half.to_str().unwrap()]);
    let (full, small) = (std::fs::metadata(&ema).unwrap().len(), std::fs::metadata(&half).unwrap().len());
    assert!(small < full * 6 / 10, "f16 halves the model: {small} vs {full}");
    let again = dir.join("again");
    daecf_ok(&[
        "train",
        "--data",
        data,
        "--init",
        half.to_str().unwrap(),
        "--batch",
        "2",
        "--steps",
        "0",
        "--out",
        again.to_str().unwrap(),
    ]);
    let floats =
        |bytes: &[u8]| bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect::<Vec<_>>();
    let (before, after) = (tensors(&ema), tensors(&again.join("model.safetensors")));
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    for (name, bytes) in &before {
        let (a, b) = (floats(bytes), floats(&after[name]));
        let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs() / x.abs().max(1e-4)).fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "{name}: {worst} of the weight, more than f16 rounding");
    }
    let bundle = daecf(&["export", "--model", ema.to_str().unwrap(), "--out", dir.join("x.daecf").to_str().unwrap()]);
    assert!(
        !bundle.status.success() && String::from_utf8_lossy(&bundle.stderr).contains("--head"),
        "a bundle needs a head"
    );
    let strength =
        daecf(&["export", "--model", ema.to_str().unwrap(), "--ce-strength", "2", "--out", half.to_str().unwrap()]);
    assert!(!strength.status.success(), "--ce-strength without a head has nothing to go to");
}
