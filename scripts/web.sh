#!/usr/bin/env bash
# Builds the browser app into web-app/dist without trunk (the same files `trunk build` makes
# from web-app/index.html): cargo for wasm32, wasm-bindgen of the Cargo.lock version, the
# static assets and the demo bundle. Prints what a browser downloads, raw and compressed.
#   scripts/web.sh            # release build (profile wasm-release)
#   WEB_PROFILE=dev scripts/web.sh   # quicker build for development
# Serve web-app/dist on 127.0.0.1 (a secure context, which WebGPU needs), e.g.
#   python3 -m http.server -d web-app/dist -b 127.0.0.1 8080
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-web.sh

profile="${WEB_PROFILE:-wasm-release}"
target_dir="${CARGO_TARGET_DIR:-target}"
cargo build -p daecf-web --target wasm32-unknown-unknown --profile "$profile"
built_dir="$profile"
[ "$profile" = dev ] && built_dir=debug

dist=web-app/dist
rm -rf "$dist"
mkdir -p "$dist"
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
    --out-dir "$dist" --out-name daecf-web \
    "$target_dir/wasm32-unknown-unknown/$built_dir/daecf_web.wasm"
cp -r web-app/assets/samples web-app/assets/style.css web-app/assets/sw.js web-app/assets/boot.js web-app/assets/worker.js \
    web-app/assets/manifest.webmanifest web-app/assets/icon.svg "$dist/"
cp shared-models/demo/demo.daecf "$dist/"
# index.html without trunk: boot.js checks for WebAssembly SIMD and loads the bound module.
sed -e 's|<link data-trunk rel="rust"[^>]*>|<script type="module" src="boot.js"></script>|' \
    -e '/<link data-trunk /d' web-app/index.html > "$dist/index.html"

echo "what a browser downloads on the first visit (web-app/dist):"
total=0; total_gz=0
for f in $(cd "$dist" && find . -type f | sort); do
    raw=$(stat -c %s "$dist/$f")
    gz=$(gzip -9 -c "$dist/$f" | wc -c)
    total=$((total + raw)); total_gz=$((total_gz + gz))
    printf '  %-32s %10d bytes, gzip -9 %10d\n' "$f" "$raw" "$gz"
done
printf '  %-32s %10d bytes, gzip -9 %10d\n' "total" "$total" "$total_gz"
