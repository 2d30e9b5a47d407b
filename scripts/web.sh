#!/usr/bin/env bash
# Builds the browser app with trunk (web-app/Trunk.toml, web-app/index.html) into web-app/dist:
# cargo for wasm32, wasm-bindgen of the Cargo.lock version, files named after their content,
# the static assets and the demo bundle, and the offline cache's file list (scripts/web-stamp.sh).
# Prints what a browser downloads, raw and compressed.
#   scripts/web.sh                   # release build (cargo profile wasm-release)
#   WEB_PROFILE=dev scripts/web.sh   # quicker build for development
#   WEB_DIST=/some/folder scripts/web.sh   # build somewhere else than web-app/dist
#   DAECF_RELEASE=name scripts/web.sh      # a release name for the page's footer
# Serve the folder on 127.0.0.1 (a secure context, which WebGPU needs), e.g.
#   python3 -m http.server -d web-app/dist -b 127.0.0.1 8080
# or, while developing, `trunk serve` in web-app/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-web.sh

dist="$(realpath -m "${WEB_DIST:-web-app/dist}")"
release=(--release)
[ "${WEB_PROFILE:-}" = dev ] && release=()
(cd web-app && trunk build "${release[@]}" --dist "$dist")

echo "what a browser downloads on the first visit ($dist):"
total=0; total_gz=0
for f in $(cd "$dist" && find . -type f | sort); do
    raw=$(stat -c %s "$dist/$f")
    gz=$(gzip -9 -c "$dist/$f" | wc -c)
    total=$((total + raw)); total_gz=$((total_gz + gz))
    printf '  %-40s %10d bytes, gzip -9 %10d\n' "$f" "$raw" "$gz"
done
printf '  %-40s %10d bytes, gzip -9 %10d\n' "total" "$total" "$total_gz"
