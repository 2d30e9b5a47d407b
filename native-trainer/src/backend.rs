//! The `--backend` option: which Burn device runs the work.

use burn::tensor::Device;
use clap::ValueEnum;

/// A Burn backend the CLI can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// The default CPU backend (Burn's flex: multi-threaded, SIMD; fastest measured here).
    Cpu,
    /// Burn's ndarray CPU backend (slower; for comparison).
    Ndarray,
    /// wgpu: Vulkan, Metal or DirectX GPUs (Mesa's llvmpipe on machines without one).
    Wgpu,
    /// NVIDIA GPUs through CUDA (build with `--features cuda`).
    Cuda,
}

impl Backend {
    /// The device of this backend.
    pub fn device(self) -> anyhow::Result<Device> {
        Ok(match self {
            Self::Cpu => Device::flex(),
            #[allow(deprecated)] // offered for comparison only
            Self::Ndarray => Device::ndarray(),
            Self::Wgpu => Device::wgpu(Default::default()),
            Self::Cuda => cuda()?,
        })
    }
}

#[cfg(feature = "cuda")]
fn cuda() -> anyhow::Result<Device> {
    Ok(Device::cuda(0))
}

#[cfg(not(feature = "cuda"))]
fn cuda() -> anyhow::Result<Device> {
    anyhow::bail!("this daecf was built without CUDA; rebuild with `cargo build --release -p daecf --features cuda`")
}
