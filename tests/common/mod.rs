//! Shared by the integration tests: paths in the repository and fresh
//! temporary paths. Each test file uses part of it.
#![allow(
    dead_code,
    reason = "each test or bench crate uses part of it; every item is used by one"
)]

use std::path::{Path, PathBuf};

/// A path inside the repository.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A fresh path (nothing there) in this test process's temporary directory.
pub fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spikesim-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}
