//! Helpers shared by the integration tests (each test crate uses some).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Child;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A child process that is killed on every way out of a test.
pub struct Reap(pub Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The scenarios under `scenarios/` that apply to the default firmware
/// profile (the others are reported as skipped on it).
pub fn default_profile_scenarios() -> usize {
    std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter(|p| {
            esp_ws_scenario::load_file(p)
                .unwrap()
                .firmware
                .is_none_or(|l| l.iter().any(|f| f == esp_ws_sim::profile::DEFAULT))
        })
        .count()
}
