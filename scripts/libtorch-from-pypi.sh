#!/usr/bin/env bash
# LibTorch 2.9.0 for the CPU, for `cargo build --release -p daecf --features tch`, assembled from
# PyPI's torch wheel: for machines that reach PyPI but not download.pytorch.org (where the
# official libtorch-shared-with-deps-2.9.0+cpu.zip lives; with that zip, skip this script and
# point LIBTORCH at it).
#
#   scripts/libtorch-from-pypi.sh [DIR]       # default DIR: ~/.cache/daecf/libtorch-2.9.0
#   export LIBTORCH=DIR LD_LIBRARY_PATH=DIR/lib
#
# PyPI's Linux wheel is PyTorch's CUDA build. Only its CPU half is kept: include/, libc10,
# libtorch_cpu, its OpenMP, and the two CUDA runtime libraries libtorch_cpu is linked against
# (cudart, cupti: loaded, never used on a CPU). The wheel's libtorch.so is only a link to
# libtorch_cpu and libtorch_cuda (1 GB, with cuDNN and cuBLAS behind it); it is replaced by the
# CPU distribution's equivalent, a library that links libtorch_cpu alone. About 1.4 GB on disk;
# the 900 MB wheel goes to a temporary folder, deleted at the end.
set -euo pipefail

dest=${1:-$HOME/.cache/daecf/libtorch-2.9.0}
if [[ -f $dest/lib/libtorch_cpu.so && -f $dest/include/torch/script.h ]]; then
    echo "LibTorch already in $dest"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    pip download --no-deps --quiet -d "$work" \
        torch==2.9.0 nvidia-cuda-runtime-cu12==12.8.90 nvidia-cuda-cupti-cu12==12.8.90
    unzip -q -o "$work"/torch-2.9.0-*.whl 'torch/include/*' 'torch/lib/libc10.so' \
        'torch/lib/libtorch_cpu.so' 'torch/lib/libgomp.so.1' -d "$work/x"
    for w in "$work"/nvidia_cuda_*.whl; do unzip -q -o "$w" -d "$work/x"; done
    lib=$work/x/torch/lib
    cp "$work"/x/nvidia/cuda_runtime/lib/libcudart.so.12 "$work"/x/nvidia/cuda_cupti/lib/libcupti.so.12 "$lib"
    echo > "$work/empty.c"
    gcc -shared -fPIC -o "$lib/libtorch.so" "$work/empty.c" -Wl,--no-as-needed -L"$lib" -ltorch_cpu \
        -Wl,-rpath,'$ORIGIN'
    mkdir -p "$(dirname "$dest")"
    rm -rf "$dest"
    mv "$work/x/torch" "$dest"
    echo "LibTorch 2.9.0 (CPU) in $dest"
fi
echo "export LIBTORCH=$dest LD_LIBRARY_PATH=$dest/lib"
