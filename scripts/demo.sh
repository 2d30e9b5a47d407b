#!/usr/bin/env bash
# The main job on a fresh machine: set-up, build the `daecf` CLI, and run `daecf demo` (held-out
# vertebra phantoms, the shipped demo model, counterfactuals, an HTML report in daecf-demo/).
# Arguments go to `daecf demo` (e.g. --out DIR, --t-encode 250 --t-render 100).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# --workspace keeps the features the tests build with, so the test build is reused.
cargo build --workspace --bin daecf
"${CARGO_TARGET_DIR:-target}/debug/daecf" demo "$@"
