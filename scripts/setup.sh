#!/usr/bin/env bash
# Installs, idempotently, what building and testing daecf needs on a fresh Debian machine:
# Mesa's Vulkan drivers (wgpu runs on llvmpipe when there is no GPU) and cargo-nextest.
set -euo pipefail

apt_packages=(mesa-vulkan-drivers)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}" >&2
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

if ! cargo nextest --version >/dev/null 2>&1; then
    echo "setup: installing cargo-nextest" >&2
    cargo install cargo-nextest --locked
fi
