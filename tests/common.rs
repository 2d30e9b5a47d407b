//! Helpers of daecf's end-to-end tests: the `daecf` binary the workspace's test build makes, runs
//! of it, and temporary folders that clean up after themselves.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// The repository's root folder: the parent of the folder the tests run in (cargo and nextest
/// run them in the crate's folder). Not the folder the binary was compiled in: a build cache
/// shared by clones at different paths (as `.ci/run`'s) may hold a binary compiled in another.
pub fn repository() -> PathBuf {
    let here = std::env::current_dir().expect("the tests' working folder");
    let crate_dir = if here.join("demo_model.rs").is_file() { here } else { PathBuf::from(env!("CARGO_MANIFEST_DIR")) };
    crate_dir.join("..")
}

/// The `daecf` binary of this build (`cargo nextest run --workspace` and `cargo test --workspace`
/// build it beside the test binaries' folder).
pub fn daecf_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile = exe.parent().and_then(Path::parent).expect("a test binary in target/<profile>/deps");
    let binary = profile.join(format!("daecf{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build --workspace --bin daecf`, or run the tests with --workspace",
        binary.display()
    );
    binary
}

/// A fresh folder for test `name`, removed with everything in it when the returned guard drops
/// (also when the test fails).
pub fn temp_dir(name: &str) -> TempDir {
    tempfile::Builder::new().prefix(&format!("daecf-{name}-")).tempdir().expect("creating a temporary folder")
}

/// Runs `daecf` with `args` and fails the test, showing its stderr, unless it succeeded.
pub fn daecf_ok(args: &[&str]) -> Output {
    let out = Command::new(daecf_binary()).args(args).output().expect("running daecf");
    assert!(out.status.success(), "daecf {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}
