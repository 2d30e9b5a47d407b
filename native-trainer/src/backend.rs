//! The `--backend` option: which Burn device runs the work.

use burn::tensor::{Device, DeviceType};
use clap::ValueEnum;

/// A Burn backend the CLI can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// The default CPU backend (Burn's flex: multi-threaded, SIMD; the fastest built by default, docs/benchmarks.md).
    Cpu,
    /// Burn's ndarray CPU backend (slower; for comparison).
    Ndarray,
    /// wgpu: Vulkan, Metal or DirectX GPUs (Mesa's llvmpipe on machines without one).
    Wgpu,
    /// NVIDIA GPUs through CUDA (build with `--features cuda`).
    Cuda,
    /// PyTorch's LibTorch on the CPU (build with `--features tch`; the fastest CPU training).
    Libtorch,
}

impl Backend {
    /// Whether this backend runs on the CPU (one device using every core).
    pub fn is_cpu(self) -> bool {
        match self {
            Self::Cpu | Self::Ndarray | Self::Libtorch => true,
            Self::Wgpu | Self::Cuda => false,
        }
    }

    /// The device of this backend.
    pub fn device(self) -> anyhow::Result<Device> {
        Ok(match self {
            Self::Cpu => Device::flex(),
            #[allow(deprecated)] // offered for comparison only
            Self::Ndarray => Device::ndarray(),
            Self::Wgpu => {
                warn_untuned();
                Device::wgpu(Default::default())
            }
            Self::Cuda => cuda(0)?,
            Self::Libtorch => libtorch()?,
        })
    }

    /// The devices numbered `indices` of this backend (for data-parallel training): CUDA
    /// ordinals, or positions in the list of wgpu adapters. CPUs are one device each.
    pub fn devices(self, indices: &[usize]) -> anyhow::Result<Vec<Device>> {
        match self {
            Self::Cuda => indices.iter().map(|&i| cuda(i)).collect(),
            Self::Wgpu => {
                warn_untuned();
                let all = Device::enumerate(DeviceType::Wgpu);
                indices
                    .iter()
                    .map(|&i| {
                        all.get(i).cloned().ok_or_else(|| {
                            anyhow::anyhow!("--devices {i}: wgpu found {} adapter(s), numbered from 0", all.len())
                        })
                    })
                    .collect()
            }
            Self::Cpu | Self::Ndarray | Self::Libtorch => {
                anyhow::bail!(
                    "--devices needs several GPUs (--backend cuda or wgpu); a CPU backend is one device that already uses every core"
                )
            }
        }
    }
}

/// Tells a wgpu user when this build runs untuned kernels (see the `autotune` feature).
fn warn_untuned() {
    if !cfg!(feature = "autotune") {
        eprintln!(
            "note: this daecf was built without kernel autotuning: on a real GPU, wgpu runs direct convolutions, \
             several times slower; for GPU work rebuild with `cargo build --release -p daecf --features autotune`"
        );
    }
}

/// CUDA device `index`, after checking that the driver loads and has that GPU: Burn's CUDA
/// runtime starts on a thread of its own and only panics there when either is missing.
#[cfg(feature = "cuda")]
fn cuda(index: usize) -> anyhow::Result<Device> {
    use cudarc::driver::{result, sys};
    // SAFETY: only tries to open the driver library by its known names.
    anyhow::ensure!(
        unsafe { sys::is_culib_present() },
        "--backend cuda: no NVIDIA driver found (libcuda.so.1); it needs an NVIDIA GPU and its driver \
         (if the driver is installed outside the loader's path, add its folder to LD_LIBRARY_PATH)"
    );
    result::init().map_err(|e| anyhow::anyhow!("--backend cuda: the NVIDIA driver did not start: {e}"))?;
    let count =
        result::device::get_count().map_err(|e| anyhow::anyhow!("--backend cuda: counting GPUs failed: {e}"))?;
    anyhow::ensure!(
        index < count as usize,
        "CUDA device {index} does not exist: the driver sees {count} GPU(s), numbered from 0"
    );
    Ok(Device::cuda(index))
}

#[cfg(not(feature = "cuda"))]
fn cuda(_: usize) -> anyhow::Result<Device> {
    anyhow::bail!("this daecf was built without CUDA; rebuild with `cargo build --release -p daecf --features cuda`")
}

#[cfg(feature = "tch")]
#[allow(deprecated)] // burn-tch is deprecated upstream; it is the fastest CPU trainer measured (docs/benchmarks.md)
fn libtorch() -> anyhow::Result<Device> {
    Ok(Device::libtorch())
}

#[cfg(not(feature = "tch"))]
fn libtorch() -> anyhow::Result<Device> {
    anyhow::bail!(
        "this daecf was built without LibTorch; rebuild with `cargo build --release -p daecf --features tch` \
         (README, \"Faster CPU training with LibTorch\")"
    )
}

/// `--precision`: the precision of training's forward and backward passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    /// f32 throughout (exact resumption on CPU).
    F32,
    /// bfloat16 passes, f32 master weights, Adam and EMA (GPUs from NVIDIA Ampere on).
    Bf16,
    /// float16 passes with dynamic loss scaling, f32 master weights (the reference's `fp16`).
    F16,
}

impl From<PrecisionArg> for daecf_core::training::Precision {
    fn from(p: PrecisionArg) -> Self {
        match p {
            PrecisionArg::F32 => Self::F32,
            PrecisionArg::Bf16 => Self::Bf16,
            PrecisionArg::F16 => Self::F16,
        }
    }
}
