#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, then every test of the workspace
# (unit, integration, end-to-end; the parity tests read ../shared/fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo nextest run --workspace --no-fail-fast "$@"
cargo test --workspace --doc
# The CUDA backend must at least type-check. DOCS_RS=1 makes cubecl-llvm's build script skip
# downloading LLVM (it cannot be fetched here); linking a CUDA build needs that download.
DOCS_RS=1 cargo check --workspace --features daecf/cuda
