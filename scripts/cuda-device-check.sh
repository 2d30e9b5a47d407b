#!/usr/bin/env bash
# The CUDA backend on a lent NVIDIA GPU: does a daecf built with `--features cuda` (linked
# against Debian's LLVM 22, scripts/llvm-for-cuda.sh) run there, how far does `daecf train` get
# with the demo preset, and how fast is its paper64 step beside the reference PyTorch step.
#
#   xz -6 -c "$CARGO_TARGET_DIR/release/daecf" > .devrun/daecf-cuda.xz     # built here, stripped
#   scripts/cuda-device-check.sh .devrun/daecf-cuda.xz DIFFAE SECONDS      # on the GPU machine
#
# SECONDS: how long `daecf train` runs (stopped as by Ctrl-C, which writes a checkpoint whose
# ema.safetensors is the model). Its run folder ($RUN, default out/cuda-train) stays on the machine, so a
# second call on the still-warm machine resumes it (`--resume` is passed when it holds a
# checkpoint). Training comes first so that its model comes back even if the time runs out
# in the benchmarks after it. DIFFAE: a folder with phizaz/diffae's model/, choices.py and
# config_base.py (for the reference step; skipped when absent or empty).
# Everything comes back under $OUT (default ./cuda-check): the GPU, the training log and
# loss.csv, the EMA model split in 15 MiB parts (`cat model.safetensors.part-* >
# model.safetensors`; sha256 beside it), the bench lines and the reference's timings.
set -uo pipefail

binary=${1:?the xz-compressed daecf-cuda binary}
diffae=${2:-}
seconds=${3:-240}
out=${OUT:-cuda-check}
run=${RUN:-out/cuda-train}
mkdir -p "$out" "$run"
daecf=$(mktemp -d)/daecf
xz -T0 -dc "$binary" > "$daecf" && chmod +x "$daecf"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"

# The demo preset with the command shared-models/demo/README.md documents, on the GPU.
resume=()
[[ -f $run/checkpoint/state.json ]] && resume=(--resume)
started=$(date +%s)
timeout -s INT -k 60 "$seconds" "$daecf" train --data phantom:vertebra:20000 --preset tiny32 \
    --res-blocks 1 --batch 256 --lr 2e-4 --ema-decay 0.999 --seed 1 --backend cuda \
    --checkpoint-every 2000 "${resume[@]}" --out "$run" 2>&1 | tr '\r' '\n' | tail -30 | tee "$out/train.txt"
echo "train wall $(( $(date +%s) - started )) s" | tee -a "$out/train.txt"
model=$run/model.safetensors
[[ -f $model ]] || model=$run/checkpoint/ema.safetensors
if [[ -f $model ]]; then
    cp "$run/loss.csv" "$out/"
    split -b 15m "$model" "$out/model.safetensors.part-"
    sha256sum "$model" | tee "$out/model.sha256"
    tail -3 "$run/loss.csv"
fi

# paper64 at the paper's batch: one warm-up step (autotuning) and the mean of the timed ones.
timeout 75 "$daecf" bench --backend cuda --preset paper64 --batch 16 --steps 5 --json 2>&1 | tail -3 | tee "$out/bench.txt"
if [[ -n $diffae && -f $diffae/choices.py ]]; then
    PYTHONUNBUFFERED=1 timeout 60 python3 "$(dirname "$0")/pytorch_reference_step.py" --diffae "$diffae" --steps 10 2>&1 | tail -8 | tee "$out/reference.txt"
fi
