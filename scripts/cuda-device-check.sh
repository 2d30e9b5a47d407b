#!/usr/bin/env bash
# The CUDA backend on a lent NVIDIA GPU: does a daecf built with `--features cuda` (linked
# against Debian's LLVM 22, scripts/llvm-for-cuda.sh) run there, how fast does it train beside
# the reference PyTorch step, and how far does `daecf train` get with the demo preset.
#
#   xz -6 -c "$CARGO_TARGET_DIR/release/daecf" > .devrun/daecf-cuda.xz     # built here, stripped
#   scripts/cuda-device-check.sh .devrun/daecf-cuda.xz DIFFAE SECONDS      # on the GPU machine
#
# DIFFAE: a folder with phizaz/diffae's model/, choices.py and config_base.py (for the reference
# step; skipped when absent). SECONDS: how long `daecf train` runs (stopped as by Ctrl-C, which
# writes a checkpoint and model.safetensors). Everything goes to $OUT (default ./cuda-check):
# bench.json lines, the reference's timings, the run's loss.csv and its model.
set -uo pipefail

binary=${1:?the xz-compressed daecf-cuda binary}
diffae=${2:-}
seconds=${3:-240}
out=${OUT:-cuda-check}
mkdir -p "$out"
daecf=$(mktemp -d)/daecf
xz -dc "$binary" > "$daecf" && chmod +x "$daecf"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"

# One warm-up step (autotuning) and the mean of the timed ones.
for run in "tiny32 --res-blocks 1 --batch 64" "tiny32 --res-blocks 1 --batch 256" "paper64 --batch 16"; do
    # shellcheck disable=SC2086
    timeout 300 "$daecf" bench --backend cuda --preset $run --steps 10 --json 2>&1 | tail -3 | tee -a "$out/bench.txt"
done
if [[ -n $diffae && -d $diffae ]]; then
    timeout 120 python3 "$(dirname "$0")/pytorch_reference_step.py" --diffae "$diffae" --steps 20 2>&1 | tail -6 | tee "$out/reference.txt"
fi

# The demo preset with the command shared-models/demo/README.md documents, on the GPU.
timeout -s INT "$seconds" "$daecf" train --data phantom:vertebra:20000 --preset tiny32 --res-blocks 1 \
    --batch 256 --lr 2e-4 --ema-decay 0.999 --seed 1 --backend cuda --checkpoint-every 2000 \
    --out "$out/train" 2>&1 | tail -5
tail -3 "$out/train/loss.csv"
rm -rf "$out/train/checkpoint" "$out/train/reconstructions"
