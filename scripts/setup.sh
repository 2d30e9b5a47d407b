#!/usr/bin/env bash
# Installs, idempotently, what building and testing daecf needs on a fresh Debian machine:
# Mesa's Vulkan drivers (wgpu runs on llvmpipe when there is no GPU), cargo-nextest, and the real
# NIfTI and DICOM files the volume tests read.
set -euo pipefail

"$(dirname "$0")/apt-install.sh" mesa-vulkan-drivers

if ! cargo nextest --version >/dev/null 2>&1; then
    echo "setup: installing cargo-nextest" >&2
    cargo install cargo-nextest --locked
fi

"$(dirname "$0")/fetch-test-data.sh"
