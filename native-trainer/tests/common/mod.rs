//! Helpers the CLI tests share: a temporary folder that cleans up after itself and `daecf` runs.
//! Every test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::process::{Command, Output};

use tempfile::TempDir;

/// A fresh folder for test `name`, removed with everything in it when the returned guard drops
/// (also when the test fails), so repeated runs do not fill the disk.
pub fn temp_dir(name: &str) -> TempDir {
    tempfile::Builder::new().prefix(&format!("daecf-{name}-")).tempdir().expect("creating a temporary folder")
}

/// Runs the `daecf` binary under test with `args`; the caller checks the status.
pub fn daecf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_daecf")).args(args).output().expect("running daecf")
}

/// Runs `daecf` with `args` and fails the test, showing its stderr, unless it succeeded.
pub fn daecf_ok(args: &[&str]) -> Output {
    let out = daecf(args);
    assert!(out.status.success(), "daecf {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// nibabel's and pydicom's test files, fetched by scripts/fetch-test-data.sh (which
/// scripts/test.sh runs) into `DAECF_TEST_DATA` or ~/.cache/daecf/test-data.
pub fn real_test_data() -> std::path::PathBuf {
    let dir = std::env::var_os("DAECF_TEST_DATA").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/daecf/test-data")
    });
    assert!(
        dir.join("complete").is_file(),
        "{} lacks the real test files: run scripts/fetch-test-data.sh",
        dir.display()
    );
    dir
}
