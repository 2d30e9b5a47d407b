#!/usr/bin/env bash
# Wall time per kind of operation of daecf's training step and noise prediction on the CPU
# (the table "Where the time goes" in docs/benchmarks.md). Records `daecf bench` with perf
# (CPU clock samples and context switches with call stacks) and attributes the time with
# scripts/profile_ops.py. Needs Linux perf (Debian: linux-perf) and
# kernel.perf_event_paranoid <= 1, or root, for the context switches.
#
#   scripts/profile-ops.sh PRESET TRAIN_BATCH EPS_BATCH [TRAIN_STEPS]
#   scripts/profile-ops.sh tiny32 16 1
#   PERF_FREQ=50 scripts/profile-ops.sh paper64 16 1 1   # fewer samples for a long run
#
# The PyTorch side: python3 scripts/pytorch_reference_step.py --device cpu --preset PRESET
# --batch TRAIN_BATCH --eps-batches EPS_BATCH --profile --diffae DIFFAE.
set -euo pipefail
cd "$(dirname "$0")/.."

preset=${1:?preset}
batch=${2:?training batch}
eps_batch=${3:?noise prediction batch}
steps=${4:-2}
daecf=${DAECF:-${CARGO_TARGET_DIR:-target}/release/daecf}
[[ -x $daecf ]] || { echo "no daecf binary at $daecf: cargo build --release -p daecf, or set DAECF" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

perf record -q -e cpu-clock/freq=${PERF_FREQ:-1000}/ -e sched:sched_switch -c 1 --call-graph dwarf,65528 -o "$work/perf.data" \
    "$daecf" bench --preset "$preset" --batch "$batch" --steps "$steps" --eps-batch "$eps_batch"
perf script -F tid,time,event,ip,sym --no-inline -i "$work/perf.data" 2>/dev/null |
    python3 scripts/profile_ops.py --train-steps $((steps + 1)) --eps-steps 6
