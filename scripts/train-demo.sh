#!/usr/bin/env bash
# The demo model's training run as one `daecf train` command that any backend continues: the
# demo preset (tiny32 with one residual block per level, 32 px) on the 20000 vertebra phantoms
# of phantom:vertebra:20000, batch 64, lr 2e-4, EMA 0.999, seed 1, for 42188 steps (2.7M
# samples at batch 64). With a checkpoint in OUT it resumes (--resume), so a run goes on across
# sessions and machines: on 2 CPU cores through LibTorch, on a lent GPU through CUDA
# (scripts/cuda-device-check.sh), its checkpoint carried between them by
# scripts/checkpoint-transfer.sh.
#
#   scripts/train-demo.sh DAECF BACKEND OUT [SECONDS]
#
# DAECF: the daecf binary (a `--features tch` build for libtorch, `--features cuda,fusion` for cuda).
# SECONDS: stop after this long as by Ctrl-C (a checkpoint is written); default: run to the end.
# BATCH (environment): the batch of this stretch; default 256 on cuda, where a step takes about
# as long at 256 as at 64 (docs/benchmarks.md), and 64 elsewhere. The checkpoint counts steps, so
# a run that mixes batches counts its samples per stretch (shared-models/demo/README.md).
set -uo pipefail

daecf=${1:?the daecf binary}
backend=${2:?the backend: libtorch, cuda or cpu}
out=${3:?the run folder}
seconds=${4:-0}
default_batch=64
[[ $backend == cuda ]] && default_batch=256
batch=${BATCH:-$default_batch}
resume=()
[[ -f $out/checkpoint/state.json ]] && resume=(--resume)
exec timeout -s INT -k 120 "$seconds" "$daecf" train --data phantom:vertebra:20000 --preset tiny32 \
    --res-blocks 1 --batch "$batch" --lr 2e-4 --ema-decay 0.999 --seed 1 --steps 42188 \
    --checkpoint-every 500 --backend "$backend" "${resume[@]}" --out "$out"
