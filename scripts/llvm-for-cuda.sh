#!/usr/bin/env bash
# LLVM for `cargo build -p daecf --features cuda` on machines that cannot reach github.com.
#
#   scripts/llvm-for-cuda.sh
#   cargo build --release -p daecf --features cuda,fusion
#
# Burn's CUDA runtime (cubecl-cuda 0.11) links LLVM (its NVPTX back end compiles the kernels to
# PTX in the process). cubecl-llvm's build script gets it through tracel-llvm-bundler, which
# downloads an LLVM 23 bundle from GitHub into $XDG_DATA_HOME/tracel/tracel-llvm-23.1.0-4 and
# skips the download when that folder holds its `.tracel-llvm-installed` marker. This script
# fills the folder with Debian's LLVM 22 instead (llvm-22-dev and Polly, from the Debian
# archive): lib/ and include/ link to /usr/lib/llvm-22, and bin/llvm-config wraps Debian's to
# name libz3 as `-lz3` (Debian's prints its path, which the bundler turns into `-llibz3`).
# Idempotent; the LLVM is linked statically, so the binary runs without it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
"$here/apt-install.sh" llvm-22-dev libpolly-22-dev libzstd-dev libz3-dev

llvm=/usr/lib/llvm-22
prefix=${XDG_DATA_HOME:-$HOME/.local/share}/tracel/tracel-llvm-23.1.0-4
mkdir -p "$prefix/bin"
ln -sfn "$llvm/lib" "$prefix/lib"
ln -sfn "$llvm/include" "$prefix/include"
cat > "$prefix/bin/llvm-config" <<EOF
#!/bin/sh
# Debian's LLVM 22 in place of tracel's LLVM 23 bundle (written by daecf's scripts/llvm-for-cuda.sh).
out=\$($llvm/bin/llvm-config "\$@") || exit \$?
echo "\$out" | sed 's#/[^ ]*/libz3\.so#-lz3#'
EOF
chmod +x "$prefix/bin/llvm-config"
touch "$prefix/.tracel-llvm-installed"
echo "LLVM $("$prefix/bin/llvm-config" --version) for the CUDA build in $prefix"
