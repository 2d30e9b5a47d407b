#!/usr/bin/env bash
# trunk's post-build hook (web-app/Trunk.toml): finishes the build.
#   - the wasm module: its custom sections (function names, 7.8 MB of 25) removed with wabt's
#     wasm-strip (trunk's wasm-bindgen call keeps them, and Debian's wasm-opt breaks the module),
#     and its integrity hash in index.html updated;
#   - sw.js: the offline cache is named after the build's hash (of every file it keeps), and
#     keeps the build's files;
#   - index.html: <meta name="daecf-build">, the build the page shows in its footer.
set -euo pipefail
cd "${TRUNK_STAGING_DIR:?scripts/web-stamp.sh is run by trunk build (scripts/web.sh)}"
sri() { echo "sha384-$(openssl dgst -sha384 -binary "$1" | base64 -w0)"; }
for wasm in *_bg.wasm; do
    before=$(sri "$wasm")
    wasm-strip "$wasm"
    sed -i "s|$before|$(sri "$wasm")|" index.html
done
mapfile -t files < <(find . -type f ! -name sw.js ! -name index.html -printf '%P\n' | LC_ALL=C sort)
build=$(sha256sum "${files[@]}" | sha256sum | cut -c1-16)
list=$(printf '"%s", ' "${files[@]}")
sed -i -e "s|__BUILD__|$build|" -e "s|\"__FILES__\"|${list%, }|" sw.js
sed -i "s|</head>|<meta name=\"daecf-build\" content=\"$build\" /></head>|" index.html
echo "web-stamp: build $build, ${#files[@]} files kept offline"
