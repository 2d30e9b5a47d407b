//! Helpers the CLI tests share: a fresh temporary folder and a `daecf` run.

use std::path::PathBuf;
use std::process::{Command, Output};

/// An empty folder for test `name`, unique to this test process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("daecf-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the `daecf` binary under test with `args`; the caller checks the status.
pub fn daecf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_daecf")).args(args).output().expect("running daecf")
}
