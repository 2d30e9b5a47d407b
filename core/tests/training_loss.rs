//! Training tiny32 for a few hundred steps (batch 2) on generated images lowers the loss: the
//! mean of the last 50 steps' losses is clearly below the mean of the first 50 (no timing here).

use std::f32::consts::TAU;

use burn::tensor::{Device, Tensor, TensorData};
use daecf_core::model::{DaeConfig, DiffusionAutoencoder};
use daecf_core::training::{DaeTrainer, TrainerConfig};

/// Smooth random-looking patterns in [-1, 1]: sums of sines with per-image frequencies.
fn patterns(n: usize, size: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(n * size * size);
    for i in 0..n {
        let (fx, fy, phase) = (1.0 + (i % 3) as f32, 1.0 + (i % 4) as f32 * 0.5, i as f32 * 0.7);
        for y in 0..size {
            for x in 0..size {
                let (u, v) = (x as f32 / size as f32, y as f32 / size as f32);
                out.push(0.8 * (TAU * fx * u + phase).sin() * (TAU * fy * v).cos());
            }
        }
    }
    out
}

#[test]
fn loss_falls_over_a_few_hundred_steps() {
    let device = Device::flex();
    device.seed(0);
    let config = DaeConfig::preset(daecf_core::model::Preset::Tiny32);
    let model = DiffusionAutoencoder::new(&config, &device).unwrap();
    let mut trainer =
        DaeTrainer::new(model, TrainerConfig::new().with_learning_rate(5e-4).with_seed(1), &device).unwrap();
    let (n, batch, steps) = (32, 2, 250);
    let images = patterns(n, 32);
    let mut losses = Vec::with_capacity(steps);
    for step in 0..steps {
        let start = (step * batch) % n;
        let x: Vec<f32> = images[start * 1024..(start + batch) * 1024].to_vec();
        losses.push(trainer.step(Tensor::<4>::from_data(TensorData::new(x, [batch, 1, 32, 32]), &device)));
    }
    let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len() as f32;
    let (first, last) = (mean(&losses[..50]), mean(&losses[steps - 50..]));
    println!("mean loss: first 50 steps {first:.4}, last 50 steps {last:.4}");
    assert!(losses.iter().all(|l| l.is_finite()));
    assert!(last < 0.6 * first, "the loss did not fall: {first} -> {last}");
}
