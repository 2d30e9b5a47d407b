#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up, then every test of the workspace
# (unit, integration, end-to-end; the parity tests read ../shared/fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo nextest run --workspace --no-fail-fast "$@"
cargo test --workspace --doc
