#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, formatting and lints, then every test of the workspace
# (unit, integration, end-to-end; the parity tests read ../shared/fixtures), core's unit tests
# on wasm32 in headless Chromium, and the browser app's end-to-end test against the native CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all --check
# Lints on every target, built with the CUDA backend, so that it type-checks in the same pass. DOCS_RS=1 makes cubecl-llvm's build script skip
# downloading LLVM (github.com may be out of reach); linking a CUDA build needs that download.
DOCS_RS=1 cargo clippy --workspace --all-targets --features daecf/cuda -- -D warnings
cargo nextest run --workspace --no-fail-fast "$@"
cargo test --workspace --doc
# The browser: core on wasm32, then the app built as shipped and driven by Playwright.
scripts/test-wasm.sh
# The browser app only builds for wasm32 (natively it is empty): its lints, on that target.
cargo clippy -p daecf-web --target wasm32-unknown-unknown --profile wasm-release -- -D warnings
scripts/web.sh
scripts/e2e.sh
