#!/usr/bin/env bash
# daecf's CUDA backend on a lent NVIDIA GPU: the demo model's training run (scripts/train-demo.sh)
# through `--backend cuda`, then optionally daecf's paper64 step beside the reference PyTorch step.
#
#   xz -6 -c "$CARGO_TARGET_DIR/release/daecf" > .devrun/daecf-cuda.xz     # built here, stripped
#   scripts/cuda-device-check.sh BINARY[.xz] DIFFAE SECONDS                # on the GPU machine
#
# BINARY: a `--features cuda,fusion` build (linked against Debian's LLVM 22, scripts/llvm-for-cuda.sh),
# xz-compressed or not. SECONDS: how long the training runs before it is stopped as by Ctrl-C
# (which writes a checkpoint). The stretch starts from the relay's weights, which travel with the
# working tree (shared-models/demo/run, see train-demo.sh). The run folder ($RUN, default
# out/cuda-train) stays on the machine while it is warm: a run left by an earlier call is
# resumed. Back here, the stretch is handed on with
#   mkdir -p r/checkpoint && cat OUT/model.safetensors.part-* > r/checkpoint/ema.safetensors
#   cp OUT/loss.csv r/ && scripts/train-demo.sh record r cuda 256
# PAPER64_SECONDS (default 0: skipped): time for `daecf bench --preset paper64 --batch 16`,
# whose first step compiles and autotunes (152 s for the whole bench on an H200, session 16).
# DIFFAE: a folder with phizaz/diffae's model/, choices.py and config_base.py for the reference
# step ("" skips it).
# Back under $OUT (default ./cuda-check): the GPU, the training log and loss.csv, the EMA model
# in 15 MiB parts (`cat model.safetensors.part-* > model.safetensors`, sha256 beside it), the
# bench and the reference's lines.
set -uo pipefail

binary=${1:?the daecf-cuda binary, or it xz-compressed}
diffae=${2:-}
seconds=${3:-240}
out=${OUT:-cuda-check}
run=${RUN:-out/cuda-train}
here=$(dirname "$0")
mkdir -p "$out" "$run"
daecf=$binary
if [[ $binary == *.xz ]]; then
    daecf=$(mktemp -d)/daecf
    xz -T0 -dc "$binary" > "$daecf" && chmod +x "$daecf"
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"

started=$(date +%s)
"$here/train-demo.sh" "$daecf" cuda "$run" "$seconds" 2>&1 | tr '\r' '\n' | tail -30 | tee "$out/train.txt"
echo "train wall $(( $(date +%s) - started )) s" | tee -a "$out/train.txt"
model=$run/model.safetensors
[[ -f $model ]] || model=$run/checkpoint/ema.safetensors
if [[ -f $model ]]; then
    cp "$run/loss.csv" "$out/"
    split -b 15m "$model" "$out/model.safetensors.part-"
    sha256sum "$model" | tee "$out/model.sha256"
    tail -3 "$run/loss.csv"
fi

if (( ${PAPER64_SECONDS:-0} > 0 )); then
    timeout "$PAPER64_SECONDS" "$daecf" bench --backend cuda --preset paper64 --batch 16 --steps 5 --json 2>&1 | tail -3 | tee "$out/bench.txt"
fi
if [[ -n $diffae && -f $diffae/choices.py ]]; then
    PYTHONUNBUFFERED=1 timeout 60 python3 "$here/pytorch_reference_step.py" --diffae "$diffae" --steps 10 2>&1 | tail -8 | tee "$out/reference.txt"
fi
