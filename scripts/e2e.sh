#!/usr/bin/env bash
# The browser app's end-to-end test and benchmark: explains a sample with the native CLI, then
# runs tests/browser/e2e.mjs (Playwright + Debian's chromium) against web-app/dist on the CPU
# (wasm) path and on WebGPU, comparing with the native output, and drives the page's bad-input,
# privacy and accessibility checks (a tiny32 bundle is trained for two steps for the switch
# between models of different sizes). Then tests/browser/update.mjs checks that a second build
# reaches a browser that visited the first, and works offline, and tests/browser/new_task.mjs
# fits a head on labelled phantoms in the page and compares it with `daecf fit`'s. Build the
# app first (scripts/web.sh). Results, screenshots and bench.json go to out/e2e.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-web.sh
target_dir="${CARGO_TARGET_DIR:-target}"
# The same build as the test suite's (`--tests` unifies features as `cargo nextest run
# --workspace` does), so after it this is a no-op.
cargo build --workspace --tests
out=out/e2e
rm -rf "$out"
mkdir -p "$out"
sample=web-app/assets/samples/vertebra_g2.png
# DDIM steps (encode,render) of both runs: few, because SwiftShader's WebGPU is slow (measured
# with 50,20: 4.4 s an encoding step, 20 s a render step of 15 images).
export STEPS="${STEPS:-10,5}"
start=$(date +%s%N)
"$target_dir/debug/daecf" explain "$sample" --bundle shared-models/demo/demo.daecf \
    --t-encode "${STEPS%,*}" --t-render "${STEPS#*,}" --out "$out/native"
native_ms=$(( ($(date +%s%N) - start) / 1000000 ))
# A bundle of another image size (tiny32, two training steps: its quality does not matter), for
# the page's switch between models.
daecf="$target_dir/debug/daecf"
"$daecf" train --data phantom:vertebra:64 --preset tiny32 --steps 2 --batch 8 --out "$out/tiny"
"$daecf" encode --model "$out/tiny/model.safetensors" --data phantom:vertebra:64 --out "$out/tiny/latents.npz"
"$daecf" fit --latents "$out/tiny/latents.npz" --no-plots --out "$out/tiny/fit"
"$daecf" export --model "$out/tiny/model.safetensors" --head "$out/tiny/fit/head.json" --preset tiny32 --out "$out/tiny32.daecf"
# A new task on the page is checked against `daecf fit` on the same 40 labelled phantoms.
"$daecf" phantom vertebra --count 40 --size 64 --seed 11 --out "$out/task"
"$daecf" encode --model shared-models/demo/demo.daecf --data "$out/task" --out "$out/task-latents.npz"
"$daecf" fit --latents "$out/task-latents.npz" --folds 5 --no-plots --out "$out/task-fit"
# A second build of the app (a release named e2e-v2), for the update test.
DAECF_RELEASE=e2e-v2 WEB_DIST="$out/dist-v2" scripts/web.sh > "$out/web-v2.log"
DIST=web-app/dist NATIVE_DIR="$out/native/vertebra_g2" NATIVE_MS="$native_ms" SAMPLE=2 OUT="$out" STEPS="$STEPS" \
    OTHER_BUNDLE="$out/tiny32.daecf" node tests/browser/e2e.mjs
V1=web-app/dist V2="$out/dist-v2" OUT="$out" node tests/browser/update.mjs
DIST=web-app/dist TASK_DIR="$out/task" CLI_FIT="$out/task-fit" OUT="$out" node tests/browser/new_task.mjs
# The bundle made on the page holds the new head ("task") beside the demo's, and explains with it.
"$daecf" inspect "$out/with-heads.daecf" | tee "$out/with-heads.txt"
grep -q "head 'task'" "$out/with-heads.txt"
"$daecf" explain "$sample" --bundle "$out/with-heads.daecf" --task task --t-encode 2 --t-render 1 --out "$out/with-heads-explained"
