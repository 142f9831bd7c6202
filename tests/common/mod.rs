//! Helpers shared by the integration tests (each test crate uses some).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Child;

/// The `esp-ws` binary under test.
pub const ESP_WS: &str = env!("CARGO_BIN_EXE_esp-ws");

/// `esp-ws`, with the snapshot switches of the test's environment removed:
/// each test decides about snapshot writing itself.
pub fn esp_ws() -> std::process::Command {
    let mut c = std::process::Command::new(ESP_WS);
    c.env_remove("INSTA_UPDATE")
        .env_remove("CI")
        .env_remove("INSTA_FORCE_PASS");
    c
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Writes a file, creating its folder.
pub fn write(path: &std::path::Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// A libtest-mimic assertion: `msg` is the failure when `ok` is false.
pub fn check(ok: bool, msg: impl std::fmt::Display) -> Result<(), libtest_mimic::Failed> {
    if ok {
        Ok(())
    } else {
        Err(msg.to_string().into())
    }
}

/// A multi-threaded tokio runtime for a test.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

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
    let files = esp_ws_runner::discover::find(&[root().join("scenarios")])
        .unwrap()
        .files;
    let default = esp_ws_catalogue::default_firmware();
    files
        .iter()
        .filter(|p| esp_ws_scenario::load_file(p).unwrap().applies_to(default))
        .count()
}

/// The scenarios that apply to the default firmware profile, and how many
/// of them need no more than INFO lines from the firmware.
pub fn default_profile_scenarios_at_info() -> (usize, usize) {
    let files = esp_ws_runner::discover::find(&[root().join("scenarios")])
        .unwrap()
        .files;
    let default = esp_ws_catalogue::default_firmware();
    let scenarios: Vec<_> = files
        .iter()
        .map(|p| esp_ws_scenario::load_file(p).unwrap())
        .filter(|s| s.applies_to(default))
        .collect();
    let at_info = scenarios
        .iter()
        .filter(|s| esp_ws_runner::needed_log_level(s) <= esp_ws_log::Level::Info)
        .count();
    (scenarios.len(), at_info)
}

/// Run options for the in-process simulator running `firmware` at debug
/// level (what the scenario tests and the documented-output test use).
pub fn sim_run_options(firmware: &str, log_colors: Option<bool>) -> esp_ws_runner::RunOptions {
    let fw = esp_ws_catalogue::find(firmware).expect("a catalogue profile");
    let profile = esp_ws_sim::profile::find(firmware).expect("a simulated profile");
    let mut opts = esp_ws_dut::SimOptions {
        log_level: esp_ws_log::Level::Debug,
        ..esp_ws_dut::SimOptions::new(profile)
    };
    if let Some(c) = log_colors {
        opts.log_colors = c;
    }
    esp_ws_runner::RunOptions {
        target: std::sync::Arc::new(esp_ws_dut::SimTarget { opts }),
        firmware: fw,
        jobs: 1,
        exec: Default::default(),
        update: esp_ws_runner::snapshot::Update::No,
        force_pass: false,
        artifacts: esp_ws_runner::artifacts::Artifacts::none(),
        ready_markers: esp_ws_runner::ready_markers(fw),
        boot_timeout: std::time::Duration::from_secs(30),
        impair: None,
        log_level: None,
    }
}

/// Runs a command to its end within `timeout` (a test of a hang must not
/// hang), killing it past that.
pub fn output_within(
    cmd: &mut std::process::Command,
    timeout: std::time::Duration,
) -> std::process::Output {
    use std::process::Stdio;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the command did not finish within {timeout:?}: {cmd:?}");
        }
    }
}
