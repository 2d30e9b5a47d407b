//! Fit time of heads: the linear SVM and logistic regression on the paper's RetinaMNIST
//! latents (1080 x 512) with linfa and with the Burn solver, and the Burn solver on 100k x 512
//! generated latents (the scale of the paper's chest X-ray tasks).
//!
//! `cargo bench --workspace --profile dev --bench heads` runs all; `-- retinamnist` or `-- 100k` picks.
//! scikit-learn's times on the same file: `python3 core/benches/sklearn_heads.py`.
//! The RetinaMNIST file is read from DAECF_LATENTS, default ../shared/data/.

use std::path::PathBuf;
use std::time::Duration;

use burn::tensor::{Device, Distribution, Tensor};
use criterion::Criterion;
use daecf_core::data::LatentSet;
use daecf_core::latent::fit::{HeadConfig, Solver, fit_head};
use daecf_core::latent::{ClassifierKind, TaskSpec};
use ndarray::Array2;

fn latents_path() -> PathBuf {
    std::env::var_os("DAECF_LATENTS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/retinamnist_dae_latents.npz")
    })
}

/// `n` latents of dimension 512 in two overlapping Gaussian classes, graded 0..4 by position.
fn generated(n: usize, device: &Device) -> (Array2<f32>, Vec<i64>) {
    device.seed(7);
    let dim = 512;
    let noise = Tensor::<2>::random([n, dim], Distribution::Normal(0.0, 1.0), device);
    let position = Tensor::<2>::random([n, 1], Distribution::Uniform(0.0, 5.0), device);
    let direction = Tensor::<2>::random([1, dim], Distribution::Normal(0.0, 0.1), device);
    let x = noise.add(position.clone().matmul(direction));
    let x: Vec<f32> = x.into_data().try_into_vec().unwrap_or_default();
    let grades = position.into_data().try_into_vec::<f32>().unwrap_or_default().iter().map(|p| *p as i64).collect();
    (Array2::from_shape_vec((n, dim), x).unwrap_or_default(), grades)
}

fn bench(c: &mut Criterion) {
    let device = Device::flex();
    let task = TaskSpec::new("task");
    let set = LatentSet::read(&latents_path()).expect("the RetinaMNIST latents (set DAECF_LATENTS)");
    let train = set.split("train").expect("train split");
    let labels = train.labels.clone().expect("train labels");

    let mut group = c.benchmark_group("retinamnist");
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    for classifier in [ClassifierKind::Svm, ClassifierKind::Logreg] {
        for solver in [Solver::Linfa, Solver::Burn] {
            let config = HeadConfig { classifier, solver, ..HeadConfig::default() };
            group.bench_function(format!("{classifier:?}/{solver:?}").to_lowercase(), |b| {
                b.iter(|| fit_head(&task, train.view(), &labels, &config, &device).unwrap())
            });
        }
    }
    group.finish();

    let (x, grades) = generated(100_000, &device);
    let mut group = c.benchmark_group("100k");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(60));
    for classifier in [ClassifierKind::Svm, ClassifierKind::Logreg] {
        let config = HeadConfig { classifier, solver: Solver::Burn, ..HeadConfig::default() };
        group.bench_function(format!("{classifier:?}/burn-flex").to_lowercase(), |b| {
            b.iter(|| fit_head(&task, x.view(), &grades, &config, &device).unwrap())
        });
    }
    group.finish();
}

// criterion_group! defines the group function, which cannot carry a doc comment.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion::criterion_main!(group::benches);
