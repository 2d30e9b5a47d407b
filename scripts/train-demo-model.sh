#!/usr/bin/env bash
# Reproduces the demo bundle from nothing: trains the demo DAE with `daecf train` on vertebra
# phantoms, encodes phantoms, fits the fracture head and exports a bundle. Resumable: run it
# again with the same OUT after a stop (Ctrl-C, a lost machine) and training continues from its
# last checkpoint exactly; finished stages are skipped.
#
#   scripts/train-demo-model.sh OUT [BACKEND]     # BACKEND: cpu (default), libtorch, cuda, wgpu
#
# DAECF names the daecf binary (default: daecf on PATH; `--features tch` for libtorch, `--features
# cuda` for cuda). SAMPLES (default 1881280, the shipped model's training length) and BATCH
# (default 64) set the run's length. On 2 CPU cores through LibTorch the default takes about
# 18 hours (29 samples/s); on the default CPU backend about 2.5 times longer; on an NVIDIA H200
# with cuda and BATCH=256 about 35 minutes (at batch 64 a step takes as long: 2.4 hours;
# docs/benchmarks.md).
#
# The recipe: the demo preset (tiny32 with one residual block per level, 32x32 grey), 20000
# training phantoms, Adam at lr 2e-4, EMA 0.999, batch 64; then the SVM fracture head (G2/G3
# against G0, G1 left to the calibration, C = 1000) on 8000 phantoms' latents, CEs along the
# covariance direction at strength 1 (shared-models/demo/README.md says how they were chosen).
set -euo pipefail
out=${1:?the output folder}
backend=${2:-cpu}
daecf=${DAECF:-daecf}
samples=${SAMPLES:-1881280}
batch=${BATCH:-64}
steps=$(( (samples + batch - 1) / batch ))

if [[ ! -f $out/model.safetensors ]]; then
    start=(--preset tiny32 --res-blocks 1 --seed 0 --lr 2e-4 --ema-decay 0.999)
    [[ -f $out/checkpoint/state.json ]] && start=(--resume)
    "$daecf" train --data phantom:vertebra:20000 --batch "$batch" --steps "$steps" --checkpoint-every 500 \
        --backend "$backend" "${start[@]}" --out "$out"
fi
[[ -f $out/latents.npz ]] || "$daecf" encode --model "$out/model.safetensors" --data phantom:vertebra:8000 \
    --backend "$backend" --out "$out/latents.npz"
[[ -f $out/fit/head.json ]] || "$daecf" fit --latents "$out/latents.npz" --task fracture:positive=2,3:exclude=1 \
    --c 1000 --out "$out/fit"
"$daecf" export --model "$out/model.safetensors" --head "$out/fit/head.json" --f16 --preset tiny32 \
    --ce-direction covariance --ce-strength 1 --steps "$steps" --training-data "vertebra phantoms (phantom:vertebra:20000, seed 0), 32 px" \
    --out "$out/demo.daecf"
echo "bundle: $out/demo.daecf (daecf evaluate-ce --bundle $out/demo.daecf --data phantom:vertebra:1000:seed=2 --limit 200 measures it)"
