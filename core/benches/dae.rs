//! Speed of the DAE on each backend: one training step (batch 16: forward, backward,
//! global-norm clipping, Adam, EMA) and one noise prediction (batch 1 and 8), for the tiny32
//! and paper64 presets on flex, ndarray and wgpu.
//!
//! `cargo bench --workspace --profile dev --bench dae` runs all; a filter picks some, e.g.
//! `cargo bench --workspace --profile dev --bench dae -- tiny32/flex`.
//!
//! With `DAECF_DIFFAE` set to a checkout of phizaz/diffae (and `DAECF_PYTHON` to a Python with
//! PyTorch, default `python3`), it then times the reference PyTorch DAE on the CPU at the same
//! shapes and prints flex's mean time over PyTorch's for each operation it ran.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use burn::tensor::{Device, Distribution, Tensor};
use criterion::{BenchmarkId, Criterion};
use daecf_core::model::{DaeConfig, DiffusionAutoencoder, Preset};
use daecf_core::training::reference_speed::{ReferenceRun, ReferenceSpeed};
use daecf_core::training::{DaeTrainer, TrainerConfig};

/// Total time and iterations of each flex measurement, by (preset, operation, batch).
type Totals = RefCell<BTreeMap<(Preset, &'static str, usize), (Duration, u64)>>;

/// Times `iters` runs of `f`, and adds them to `totals` under `key` when given.
fn timed(totals: Option<&Totals>, key: (Preset, &'static str, usize), iters: u64, mut f: impl FnMut()) -> Duration {
    let started = Instant::now();
    for _ in 0..iters {
        f();
    }
    let elapsed = started.elapsed();
    if let Some(totals) = totals {
        let mut totals = totals.borrow_mut();
        let total = totals.entry(key).or_default();
        total.0 += elapsed;
        total.1 += iters;
    }
    elapsed
}

/// Prints flex's mean times over the reference PyTorch DAE's, timed after flex's on the CPU
/// (`DAECF_DIFFAE`, `DAECF_PYTHON`).
fn print_pytorch_ratios(totals: &Totals) {
    let Some(diffae) = std::env::var_os("DAECF_DIFFAE").map(PathBuf::from) else { return };
    let python = std::env::var_os("DAECF_PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    let totals = totals.borrow();
    for preset in [Preset::Tiny32, Preset::Paper64] {
        let means: Vec<_> = totals
            .iter()
            .filter(|((p, _, _), _)| *p == preset)
            .map(|(&(_, op, batch), &(time, iters))| (op, batch, time.as_secs_f64() / iters.max(1) as f64))
            .collect();
        if means.is_empty() {
            continue;
        }
        let eps_batches: Vec<usize> = means.iter().filter(|m| m.0 == "eps").map(|m| m.1).collect();
        let run = ReferenceRun {
            python: &python,
            diffae: &diffae,
            cuda: false,
            preset,
            res_blocks: None,
            batch: TRAIN_BATCH,
            steps: 3,
            eps_batches: &eps_batches,
            precision: "f32",
        };
        let reference = match ReferenceSpeed::measure(&run) {
            Ok(reference) => reference,
            Err(e) => return eprintln!("no PyTorch ratios: {e}"),
        };
        for (op, batch, seconds) in means {
            let pytorch = if op == "eps" { reference.eps_seconds(batch) } else { reference.train_step_seconds("f32") };
            if let Some(pytorch) = pytorch {
                println!(
                    "{preset}/flex/{op}/{batch}: {:.1} ms, PyTorch {} ({} threads) {:.1} ms: {:.2}x",
                    1e3 * seconds,
                    reference.torch,
                    reference.threads,
                    1e3 * pytorch,
                    seconds / pytorch
                );
            }
        }
    }
}

/// Batch size of the timed training step.
const TRAIN_BATCH: usize = 16;

#[allow(deprecated)] // ndarray is measured beside flex on purpose
fn backends() -> Vec<(&'static str, Device)> {
    vec![("flex", Device::flex()), ("ndarray", Device::ndarray()), ("wgpu", Device::wgpu(Default::default()))]
}

fn bench(c: &mut Criterion) {
    let totals = Totals::default();
    for preset in [Preset::Tiny32, Preset::Paper64] {
        let config = DaeConfig::preset(preset);
        let size = config.image_size;
        for (name, device) in backends() {
            let mut group = c.benchmark_group(format!("{preset}/{name}"));
            group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
            device.seed(0);
            let model = DiffusionAutoencoder::new(&config, &device).unwrap();
            let record = (name == "flex").then_some(&totals);

            for batch in [1, 8] {
                let x = Tensor::<4>::random([batch, 1, size, size], Distribution::Normal(0.0, 1.0), &device);
                let t = Tensor::<1>::full([batch], 500.0, &device);
                let z = Tensor::<2>::random([batch, config.latent_dim], Distribution::Normal(0.0, 1.0), &device);
                group.bench_function(BenchmarkId::new("eps", batch), |b| {
                    b.iter_custom(|iters| {
                        timed(record, (preset, "eps", batch), iters, || {
                            let _ = model.predict_noise(x.clone(), t.clone(), &z).into_data();
                        })
                    })
                });
            }

            let mut trainer = DaeTrainer::new(model, TrainerConfig::new(), &device).unwrap();
            let x = Tensor::<4>::random([TRAIN_BATCH, 1, size, size], Distribution::Uniform(-1.0, 1.0), &device);
            group.bench_function(BenchmarkId::new("train_step", TRAIN_BATCH), |b| {
                b.iter_custom(|iters| {
                    timed(record, (preset, "train_step", TRAIN_BATCH), iters, || {
                        trainer.step(x.clone());
                    })
                })
            });
            group.finish();
        }
    }
    print_pytorch_ratios(&totals);
}

// criterion_group! defines the group function, which cannot carry a doc comment.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion::criterion_main!(group::benches);
