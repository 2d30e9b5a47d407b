#!/usr/bin/env bash
# The main job on a fresh machine: set-up, build the `daecf` CLI, and run `daecf demo` (held-out
# vertebra phantoms, the shipped demo model, counterfactuals, an HTML report in daecf-demo/).
# Arguments go to `daecf demo` (e.g. --out DIR, --t-encode 250 --t-render 100).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The features the test suite builds with, so that `scripts/test.sh` reuses this build: a dev
# dependency (proptest, criterion, tempfile) adds features to crates under burn, and cargo
# resolves dev dependencies' features only for a build that selects test-like targets.
# `--examples` selects such targets; the workspace has no examples, so nothing more is built.
cargo build --workspace --bin daecf --examples
"${CARGO_TARGET_DIR:-target}/debug/daecf" demo "$@"
