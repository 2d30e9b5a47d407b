//! Parity with the reference PyTorch Diffusion Autoencoder.
//!
//! Loads the fixture folder named by `DAECF_PARITY_FIXTURE` (default
//! `../shared/fixtures/diffae-tiny`, relative to the workspace root), builds the model from its
//! `config.json`, loads its weights from `model.safetensors` and from `model.ckpt` (EMA copy),
//! and compares every reference output in `io.safetensors`, on the default CPU backend, on
//! ndarray and on wgpu. Prints the max abs errors. Training has no reference gradients, so the
//! GPU's backward pass (wgpu here; the same kernels as CUDA, fused when built with Burn's
//! `fusion`) is held to the CPU's on the same loss.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use daecf_core::diffusion::{DdimSampler, noise_prediction_loss};
use daecf_core::model::{DiffusionAutoencoder, ReferenceConfig};
use daecf_core::training::grad_clip::map_grads;

/// The fixture folder.
fn fixture_dir() -> PathBuf {
    let dir = std::env::var_os("DAECF_PARITY_FIXTURE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/diffae-tiny"));
    assert!(
        dir.join("config.json").is_file(),
        "parity fixture not found at {} (set DAECF_PARITY_FIXTURE)",
        dir.display()
    );
    dir
}

/// The reference tensors of io.safetensors, as (shape, values).
fn reference_io(dir: &Path) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(dir.join("io.safetensors")).expect("io.safetensors");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("valid safetensors");
    st.tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = match view.dtype() {
                safetensors::Dtype::F32 => {
                    view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
                }
                safetensors::Dtype::I64 => {
                    view.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f32).collect()
                }
                other => panic!("{name}: unexpected dtype {other:?}"),
            };
            (name, (view.shape().to_vec(), values))
        })
        .collect()
}

struct Fixture {
    config: ReferenceConfig,
    io: HashMap<String, (Vec<usize>, Vec<f32>)>,
    dir: PathBuf,
}

impl Fixture {
    fn load() -> Self {
        let dir = fixture_dir();
        let text = std::fs::read_to_string(dir.join("config.json")).expect("config.json");
        let config = ReferenceConfig::from_json(&text).expect("a supported reference config");
        Self { config, io: reference_io(&dir), dir }
    }

    fn tensor<const D: usize>(&self, name: &str, device: &Device) -> Tensor<D> {
        let (shape, values) = &self.io[name];
        Tensor::from_data(TensorData::new(values.clone(), shape.clone()), device)
    }

    fn values(&self, name: &str) -> &[f32] {
        &self.io[name].1
    }
}

fn max_abs_err<const D: usize>(got: Tensor<D>, want: &[f32]) -> f32 {
    let got: Vec<f32> = got.into_data().convert::<f32>().try_to_vec().unwrap();
    assert_eq!(got.len(), want.len(), "length");
    got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
}

/// How much of the reference a parity check compares.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    /// Every kernel once: z_sem, one noise prediction, one DDIM step each way, the loss.
    Steps,
    /// The steps and the 20-step DDIM chains (encoding, rendering, a shifted rendering): the same
    /// kernels run 60 times more, so errors that build up along a chain show.
    StepsAndChains,
}

/// Runs the comparisons of `scope` on `device` with weights from `weights`; returns failures.
fn check(fx: &Fixture, device: &Device, weights: &str, scope: Scope) -> Vec<String> {
    let mut model = DiffusionAutoencoder::new(&fx.config.model, device).unwrap();
    model.load_reference(fx.dir.join(weights)).unwrap();
    let base = fx.config.model.noise_schedule().unwrap();
    let sampler = DdimSampler::new(&base, 20).unwrap();

    let x0: Tensor<4> = fx.tensor("x0", device);
    let z = model.encode(x0.clone());
    let mut results = vec![("z_sem", max_abs_err(z.clone(), fx.values("z_sem")), 1e-4)];

    let eps = model.predict_noise(fx.tensor("x_t", device), fx.tensor("t", device), &z);
    results.push(("eps", max_abs_err(eps, fx.values("eps")), 1e-4));

    let map: Vec<f32> = sampler.schedule().timesteps.iter().map(|&t| t as f32).collect();
    let map_err = map.iter().zip(fx.values("timestep_map_20")).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert_eq!(map.len(), fx.values("timestep_map_20").len());
    results.push(("timestep_map_20", map_err, 1e-4));

    let cond = model.conditioned(z.clone());
    let inv = sampler.reverse_step(&cond, x0.clone(), 0);
    results.push(("inv_step_first", max_abs_err(inv, fx.values("inv_step_first")), 1e-4));
    let x_t_ref: Tensor<4> = fx.tensor("x_T_20", device);
    let last = sampler.steps() - 1;
    let step = sampler.render_step(&cond, x_t_ref.clone(), last);
    results.push(("render_step_first", max_abs_err(step, fx.values("render_step_first")), 1e-4));

    if scope == Scope::StepsAndChains {
        let x_t = sampler.encode(&cond, x0.clone());
        results.push(("x_T_20", max_abs_err(x_t, fx.values("x_T_20")), 1e-3));
        let render = sampler.render(&cond, x_t_ref.clone());
        results.push(("render_20", max_abs_err(render, fx.values("render_20")), 1e-3));
        let z_shift: Tensor<1> = fx.tensor("z_shift", device);
        let shifted = model.conditioned(z.clone() + z_shift.unsqueeze::<2>());
        let render = sampler.render(&shifted, x_t_ref);
        results.push(("render_20_shifted", max_abs_err(render, fx.values("render_20_shifted")), 1e-3));
    }

    let t: Vec<usize> = fx.values("loss_t").iter().map(|&t| t as usize).collect();
    let loss = noise_prediction_loss(&base, &cond, x0, &t, fx.tensor("noise", device));
    results.push(("loss_eps_mse", max_abs_err(loss, fx.values("loss_eps_mse")), 1e-4));

    let mut failures = Vec::new();
    for (name, err, tol) in results {
        let verdict = if err <= tol { "ok" } else { "FAIL" };
        println!("{device:?} {weights:>18} {name:>18}: max abs err {err:.3e} (tol {tol:.0e}) {verdict}");
        if err > tol {
            failures.push(format!("{weights} {name}: {err:.3e} > {tol:.0e}"));
        }
    }
    failures
}

fn assert_parity(device: Device, weight_files: &[&str], scope: Scope) {
    let fx = Fixture::load();
    let failures: Vec<String> = weight_files.iter().flat_map(|w| check(&fx, &device, w, scope)).collect();
    assert!(failures.is_empty(), "parity failures on {device:?}:\n{}", failures.join("\n"));
}

#[test]
fn parity_on_the_default_cpu_backend() {
    assert_parity(Device::flex(), &["model.safetensors", "model.ckpt"], Scope::StepsAndChains);
}

#[test]
#[allow(deprecated)] // ndarray is the second CPU backend daecf supports
fn parity_on_ndarray() {
    assert_parity(Device::ndarray(), &["model.safetensors"], Scope::StepsAndChains);
}

/// Every kernel of the GPU path once. Loading the checkpoint and running the chains are the
/// same on every device and checked on the CPU backends above.
#[test]
fn parity_on_wgpu() {
    assert_parity(Device::wgpu(Default::default()), &["model.safetensors"], Scope::Steps);
}

/// The 20-step chains on wgpu too: 13 minutes on llvmpipe (2 CPU cores), minutes less on a GPU.
#[test]
#[ignore = "the 20-step DDIM chains on wgpu: slow on llvmpipe; scripts/test.sh --run-ignored all"]
fn parity_of_the_ddim_chains_on_wgpu() {
    assert_parity(Device::wgpu(Default::default()), &["model.safetensors", "model.ckpt"], Scope::StepsAndChains);
}

/// The fixture's training loss (its x0, noise and timesteps) on `device` and its gradient with
/// respect to every weight, flattened in the model's order. Dropout is off, so the two devices
/// compute the same function.
fn loss_and_gradients(fx: &Fixture, device: &Device) -> (f32, Vec<Vec<f32>>) {
    let config = fx.config.model.clone().with_dropout(0.0);
    let mut model = DiffusionAutoencoder::new(&config, device).unwrap();
    model.load_reference(fx.dir.join("model.safetensors")).unwrap();
    let device = device.clone().autodiff();
    let model = model.fork(&device).train();
    let base = fx.config.model.noise_schedule().unwrap();
    let x0: Tensor<4> = fx.tensor("x0", &device);
    let t: Vec<usize> = fx.values("loss_t").iter().map(|&t| t as usize).collect();
    let loss =
        noise_prediction_loss(&base, &model.conditioned(model.encode(x0.clone())), x0, &t, fx.tensor("noise", &device))
            .mean();
    let value = loss.clone().into_scalar::<f32>();
    let mut grads = GradientsParams::from_grads(loss.backward(), &model);
    let mut flat = Vec::new();
    map_grads(&model, &mut grads, &mut |g| {
        flat.push(g.clone().into_data().convert::<f32>().try_to_vec().unwrap());
        g
    });
    (value, flat)
}

#[test]
fn training_gradients_on_wgpu_match_the_cpu() {
    let fx = Fixture::load();
    let (cpu_loss, cpu) = loss_and_gradients(&fx, &Device::flex());
    let (gpu_loss, gpu) = loss_and_gradients(&fx, &Device::wgpu(Default::default()));
    assert!((cpu_loss - gpu_loss).abs() <= 1e-5 * cpu_loss.abs().max(1.0), "loss: cpu {cpu_loss}, wgpu {gpu_loss}");
    assert_eq!(cpu.len(), gpu.len(), "gradients of every weight on both");
    assert!(cpu.len() > 100, "{} weights", cpu.len());
    // Each weight tensor's gradient, relative to its own size (or to a thousandth of the
    // largest, for weights whose gradient is nearly zero, as a bias before a group norm):
    // summation order differs between the backends, a wrong kernel is off by far more.
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let floor = 1e-3 * cpu.iter().map(|c| norm(c)).fold(0.0, f32::max);
    let mut worst = (0.0f32, 0);
    for (k, (c, g)) in cpu.iter().zip(&gpu).enumerate() {
        assert_eq!(c.len(), g.len());
        let diff: Vec<f32> = c.iter().zip(g).map(|(a, b)| a - b).collect();
        let relative = norm(&diff) / norm(c).max(floor);
        if relative > worst.0 {
            worst = (relative, k);
        }
    }
    println!(
        "loss {cpu_loss} / {gpu_loss}; worst relative gradient error {:.2e} (weight {} of {})",
        worst.0,
        worst.1,
        cpu.len()
    );
    assert!(worst.0 < 1e-3, "gradient of weight {} differs by {:.2e} of its norm", worst.1, worst.0);
}
