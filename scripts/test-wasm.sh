#!/usr/bin/env bash
# Core's unit tests compiled to wasm32 and run in headless Chromium (wasm-bindgen-test-runner
# driving Debian's chromium through chromedriver; flags in core/webdriver.json). The browser
# build's features (flex CPU backend with WebAssembly SIMD, wgpu, bundle loading; no training)
# and profile, so the dependencies compiled for scripts/web.sh are reused. Tests that need a
# file system are skipped there.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-web.sh
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-900}"
cargo test -p daecf-core --lib --target wasm32-unknown-unknown --profile "${WEB_PROFILE:-wasm-release}" \
    --no-default-features --features flex,wgpu,store,simd,fit "$@"
