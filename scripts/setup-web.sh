#!/usr/bin/env bash
# Installs, idempotently, what building and testing the browser app needs, without any tool
# that downloads its own binaries: the wasm32 target, wasm-bindgen-cli of exactly the
# wasm-bindgen version in Cargo.lock (it also brings wasm-bindgen-test-runner), trunk, Debian's
# chromium, chromedriver and wabt (wasm-strip), and playwright-core (it drives /usr/bin/chromium
# and downloads no browser) and axe-core (accessibility checks) from npm.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    echo "setup-web: adding the wasm32-unknown-unknown target" >&2
    rustup target add wasm32-unknown-unknown
fi

wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
    echo "setup-web: installing wasm-bindgen-cli $wb_version" >&2
    cargo install wasm-bindgen-cli --version "$wb_version" --force
fi

trunk_version=0.21.14
if [ "$(trunk --version 2>/dev/null | awk '{print $2}')" != "$trunk_version" ]; then
    echo "setup-web: installing trunk $trunk_version (about 11 minutes on 2 cores)" >&2
    cargo install --locked trunk --version "$trunk_version"
fi
if ! grep -qx "wasm_bindgen = \"$wb_version\"" web-app/Trunk.toml; then
    echo "setup-web: web-app/Trunk.toml must name wasm_bindgen = \"$wb_version\" (the version in Cargo.lock)" >&2
    exit 1
fi

scripts/apt-install.sh chromium chromium-driver wabt

if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/axe-core ]; then
    echo "setup-web: installing playwright-core (no browser download) and axe-core" >&2
    (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
