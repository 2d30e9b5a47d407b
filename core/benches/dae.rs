//! Speed of the DAE on each backend: one training step (batch 16: forward, backward,
//! global-norm clipping, Adam, EMA) and one noise prediction (batch 1 and 8), for the tiny32
//! and paper64 presets on flex, ndarray and wgpu.
//!
//! `cargo bench -p daecf-core --bench dae` runs all; a filter picks some, e.g.
//! `cargo bench -p daecf-core --bench dae -- tiny32/flex`.

use std::time::Duration;

use burn::tensor::{Device, Distribution, Tensor};
use criterion::{BenchmarkId, Criterion};
use daecf_core::model::{DaeConfig, DiffusionAutoencoder, Preset};
use daecf_core::training::{DaeTrainer, TrainerConfig};

#[allow(deprecated)] // ndarray is measured beside flex on purpose
fn backends() -> Vec<(&'static str, Device)> {
    vec![("flex", Device::flex()), ("ndarray", Device::ndarray()), ("wgpu", Device::wgpu(Default::default()))]
}

fn bench(c: &mut Criterion) {
    for preset in [Preset::Tiny32, Preset::Paper64] {
        let config = DaeConfig::preset(preset);
        let size = config.image_size;
        for (name, device) in backends() {
            let mut group = c.benchmark_group(format!("{preset}/{name}"));
            group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
            device.seed(0);
            let model = DiffusionAutoencoder::new(&config, &device).unwrap();

            for batch in [1, 8] {
                let x = Tensor::<4>::random([batch, 1, size, size], Distribution::Normal(0.0, 1.0), &device);
                let t = Tensor::<1>::full([batch], 500.0, &device);
                let z = Tensor::<2>::random([batch, config.latent_dim], Distribution::Normal(0.0, 1.0), &device);
                group.bench_function(BenchmarkId::new("eps", batch), |b| {
                    b.iter(|| model.predict_noise(x.clone(), t.clone(), &z).into_data())
                });
            }

            let mut trainer = DaeTrainer::new(model, TrainerConfig::new(), &device).unwrap();
            let x = Tensor::<4>::random([16, 1, size, size], Distribution::Uniform(-1.0, 1.0), &device);
            group.bench_function(BenchmarkId::new("train_step", 16), |b| b.iter(|| trainer.step(x.clone())));
            group.finish();
        }
    }
}

// criterion_group! defines the group function, which cannot carry a doc comment.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion::criterion_main!(group::benches);
