//! `esp-ws conform`: the simulator's baselines, a deviation that shows as a
//! regression, the checked-in v5.5.5 report, the calibration against a
//! strict server esp-ws does not implement (Python's websockets), and the
//! JUnit output of `esp-ws run` read by a JUnit parser.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{esp_ws, root, text};

fn conform(args: &[&str], report_dir: &Path) -> Output {
    esp_ws()
        .arg("conform")
        .args(["--report-dir", report_dir.to_str().unwrap()])
        .args([
            "--artifacts",
            report_dir.join("artifacts").to_str().unwrap(),
        ])
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn baseline(profile: &str) -> PathBuf {
    root()
        .join("conformance/baselines")
        .join(format!("{profile}.json"))
}

/// Every simulator profile that serves earns exactly the verdicts its
/// checked-in baseline records: no regression, and no improvement either (a
/// model that changes must change its baseline in the same commit). A
/// firmware that dials out has no server to test.
#[test]
fn every_simulator_profile_earns_its_baseline() {
    let profiles: Vec<&str> = esp_ws_catalogue::servers().map(|f| f.name).collect();
    let mut problems = Vec::new();
    // Two at a time: each run uses two instances, the machine has two
    // cores.
    for pair in profiles.chunks(2) {
        let runs: Vec<_> = pair
            .iter()
            .map(|p| {
                let p = p.to_string();
                std::thread::spawn(move || {
                    let dir = tempfile::tempdir().unwrap();
                    let b = baseline(&p);
                    assert!(b.is_file(), "{} is missing", b.display());
                    let out = conform(
                        &["--firmware", &p, "--baseline", b.to_str().unwrap()],
                        dir.path(),
                    );
                    (p, out)
                })
            })
            .collect();
        for r in runs {
            let (p, out) = r.join().unwrap();
            let stdout = text(&out.stdout);
            let changes: Vec<&str> = stdout
                .lines()
                .filter(|l| {
                    let l = l.trim_start();
                    ["REGRESSED", "IMPROVED", "CHANGED", "NEW"]
                        .iter()
                        .any(|w| l.starts_with(w))
                })
                .collect();
            if !out.status.success() || !changes.is_empty() {
                problems.push(format!(
                    "{p}: exit {:?}\n  {}\n  {}",
                    out.status.code(),
                    changes.join("\n  "),
                    text(&out.stderr)
                ));
            }
            assert!(
                stdout.contains("314 cases") || !out.status.success(),
                "{stdout}"
            );
        }
    }
    assert!(
        problems.is_empty(),
        "verdicts differ from conformance/baselines/ (if the model changed on purpose, rewrite them with `esp-ws conform --firmware P --write-baseline conformance/baselines/P.json`):\n{}",
        problems.join("\n")
    );
}

/// A deviation added to the simulator (a firmware that crashes on the TEXT
/// message "Hello, world!", run as a program through the exec target) is
/// reported as a regression against the v5.5.5 baseline, with exit 1; the
/// firmware reboots and the cases after it still run.
#[test]
fn a_deviation_in_the_simulator_shows_as_a_regression() {
    let dir = tempfile::tempdir().unwrap();
    let b = baseline("v5.5.5");
    let out = conform(
        &[
            "--target",
            "exec",
            "--cases",
            "2.*,3.*",
            "--quiet",
            "100ms",
            "--baseline",
            b.to_str().unwrap(),
            "--",
            common::ESP_WS,
            "sim",
            "--port",
            "{port}",
            "--log-level",
            "info",
            "--panic-on-message",
            "Hello, world!",
        ],
        dir.path(),
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    // 3.4 sends "Hello, world!" as its first TEXT: the crash is its verdict.
    let regressed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("REGRESSED"))
        .collect();
    assert!(regressed.iter().any(|l| l.contains("3.4 (")), "{stdout}");
    assert!(
        regressed.iter().all(|l| !l.contains(" 2.1 (")),
        "a PING case is not affected: {stdout}"
    );
    assert!(stdout.contains("the firmware crashed"), "{stdout}");
    // The cases after the crash ran on the rebooted firmware.
    let last = stdout
        .lines()
        .find(|l| l.contains("] 3.8 "))
        .unwrap_or_else(|| panic!("3.8 did not run: {stdout}"));
    assert!(!last.contains("not run"), "{last}");
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(summary.contains("## Crashes"), "{summary}");
}

/// The reports in the repository (each server family's default firmware,
/// as `cargo xtask conformance-report` makes them) are what `esp-ws
/// conform` writes today (they carry no times, so they are reproducible).
#[test]
fn the_checked_in_reports_are_up_to_date() {
    let profiles: Vec<&str> = esp_ws_catalogue::families()
        .iter()
        .filter(|f| f.role == esp_ws_catalogue::Role::Server)
        .map(|f| f.default_firmware)
        .collect();
    assert!(profiles.contains(&"v5.5.5"), "{profiles:?}");
    let runs: Vec<_> = profiles
        .iter()
        .map(|p| {
            let p = p.to_string();
            std::thread::spawn(move || {
                let dir = tempfile::tempdir().unwrap();
                let out = conform(&["--firmware", &p, "--jobs", "1"], dir.path());
                (p, dir, out)
            })
        })
        .collect();
    for r in runs {
        let (p, dir, out) = r.join().unwrap();
        assert!(out.status.success(), "{p}: {}", text(&out.stderr));
        let checked_in = root().join("conformance/reports").join(&p);
        for name in ["summary.md", "index.html"] {
            let new = std::fs::read_to_string(dir.path().join(name)).unwrap();
            let old = std::fs::read_to_string(checked_in.join(name)).unwrap_or_default();
            if new != old {
                let diff = similar::TextDiff::from_lines(&old, &new)
                    .unified_diff()
                    .context_radius(1)
                    .to_string();
                panic!(
                    "conformance/reports/{p}/{name} is out of date; regenerate it with `cargo xtask conformance-report`:\n{}",
                    diff.chars().take(4000).collect::<String>()
                );
            }
        }
        // Readable offline: nothing fetched from elsewhere.
        let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
        for remote in ["<script", "src=\"http", "href=\"http", "@import", "url("] {
            assert!(!html.contains(remote), "{p}: index.html has {remote}");
        }
    }
}

/// The version of Python's websockets the judge is calibrated against.
const WEBSOCKETS: &str = "websockets==17.4";

/// A venv with websockets, made once per target folder. Fails (never
/// skips) when Python or the package cannot be had: CI has both.
fn python_with_websockets() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("conform-venv");
    let python = venv.join("bin/python");
    let ready = std::process::Command::new(&python)
        .args([
            "-c",
            "import websockets, sys; sys.exit(websockets.version.version != '17.4')",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if ready {
        return python;
    }
    let made = std::process::Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv)
        .output()
        .expect("python3 is needed for the calibration against websockets (CI installs it)");
    assert!(
        made.status.success(),
        "python3 -m venv: {}",
        text(&made.stderr)
    );
    let pip = std::process::Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            WEBSOCKETS,
        ])
        .output()
        .unwrap();
    assert!(
        pip.status.success(),
        "pip install {WEBSOCKETS}: {}",
        text(&pip.stderr)
    );
    python
}

/// NON-STRICT verdicts the reference server may earn, each with why it is
/// not a failure of the server (nor a lenient judge).
const REFERENCE_NON_STRICT: &[(&str, &str)] = &[
    // websockets fails the connection as soon as its protocol layer reads
    // the bad frame; the echo of the message before it, sent by the
    // application task, can come too late. Autobahn allows it too.
    ("3.2", "failed before the earlier echo"),
    ("3.3", "failed before the earlier echo"),
    ("4.1.3", "failed before the earlier echo"),
    ("4.1.4", "failed before the earlier echo"),
    ("4.1.5", "failed before the earlier echo"),
    ("4.2.3", "failed before the earlier echo"),
    ("4.2.4", "failed before the earlier echo"),
    ("4.2.5", "failed before the earlier echo"),
    ("5.15", "failed before the earlier echo"),
    // The client's CLOSE is answered before the echo of the TEXT before it.
    ("7.1.1", "closing handshake before the echo"),
    // A CLOSE in the middle of a fragmented message is answered with 1002
    // ("incomplete fragmented message") rather than 1000.
    ("7.1.5", "answered the CLOSE with 1002"),
    // An unsupported version is refused with 400, without the
    // Sec-WebSocket-Version header RFC 6455 §4.4 asks for.
    ("H.3.2", "400 without Sec-WebSocket-Version"),
    ("H.3.3", "400 without Sec-WebSocket-Version"),
    ("H.3.4", "400 without Sec-WebSocket-Version"),
    ("H.3.5", "400 without Sec-WebSocket-Version"),
    ("H.3.6", "400 without Sec-WebSocket-Version"),
    // An HTTP/2.0 request line is refused by closing without a response.
    ("H.6.2", "closed without a response"),
];

/// The judge, run against a strict server esp-ws does not implement
/// (conformance/reference_server.py: Python's websockets as an echo
/// server), finds no FAILED case: every case is OK, an allowed NON-STRICT,
/// or INFORMATIONAL where RFC 6455 leaves the server free.
#[test]
fn a_strict_reference_server_fails_no_case() {
    let python = python_with_websockets();
    let dir = tempfile::tempdir().unwrap();
    let out = conform(
        &[
            "--target",
            "exec",
            "--ready",
            "listening on",
            "--jobs",
            "4",
            "--",
            python.to_str().unwrap(),
            "conformance/reference_server.py",
            "{port}",
        ],
        dir.path(),
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    let results = results["results"].as_array().unwrap();
    assert_eq!(results.len(), esp_ws_conform::table::all().len());
    let mut problems = Vec::new();
    for r in results {
        let id = r["id"].as_str().unwrap();
        let behavior = r["behavior"].as_str().unwrap();
        let allowed = match behavior {
            "OK" => true,
            "NON-STRICT" => REFERENCE_NON_STRICT.iter().any(|(i, _)| *i == id),
            "INFORMATIONAL" => id.starts_with("7.13."),
            _ => false,
        };
        if !allowed {
            problems.push(format!("{id}: {behavior}: {}", r["reason"]));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `esp-ws run --junit` writes JUnit XML a JUnit parser reads: one
/// testcase per scenario, the failure with its message and the scenario's
/// serial lines as its output; `--report-json` the same results as JSON.
#[test]
fn run_writes_junit_a_parser_reads_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    common::write(
        &scenarios.join("echo.json"),
        r#"{"version": 1, "steps": [{"open": {}}, {"send": {"opcode": "text", "text": "hi"}}, {"expect_frame": {"opcode": "text", "text": "hi"}}]}"#,
    );
    common::write(
        &scenarios.join("wrong.json"),
        r#"{"version": 1, "steps": [{"open": {}}, {"send": {"opcode": "text", "text": "hi"}}, {"expect_frame": {"opcode": "text", "text": "bye"}}]}"#,
    );
    let junit = dir.path().join("out/junit.xml");
    let json = dir.path().join("out/results.json");
    let out = esp_ws()
        .arg("run")
        .arg(&scenarios)
        .args(["--accept", "--jobs", "1"])
        .arg("--junit")
        .arg(&junit)
        .arg("--report-json")
        .arg(&json)
        .arg("--artifacts")
        .arg(dir.path().join("artifacts"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let suites = junit_parser::from_reader(std::io::Cursor::new(xml.as_bytes()))
        .unwrap_or_else(|e| panic!("not JUnit XML a parser reads: {e}\n{xml}"));
    assert_eq!(suites.tests, 2, "{xml}");
    assert_eq!(suites.failures, 1, "{xml}");
    let cases: Vec<_> = suites.suites.iter().flat_map(|s| &s.cases).collect();
    let wrong = cases
        .iter()
        .find(|c| c.original_name == "wrong")
        .expect("wrong");
    assert_eq!(wrong.classname.as_deref(), Some("v5.5.5"));
    match &wrong.status {
        junit_parser::TestStatus::Failure(f) => {
            assert!(f.message.contains("steps[2]"), "{}", f.message)
        }
        other => panic!("{other:?}"),
    }
    assert!(
        wrong
            .system_out
            .as_deref()
            .is_some_and(|o| o.contains("Got packet with message: hi")),
        "{:?}",
        wrong.system_out
    );
    let echo = cases
        .iter()
        .find(|c| c.original_name == "echo")
        .expect("echo");
    assert!(echo.status.is_success(), "{:?}", echo.status);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["passed"], 1);
    assert_eq!(report["failed"], 1);
    let wrong = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "wrong")
        .unwrap();
    assert_eq!(wrong["status"], "failed");
    // steps[2], counted as the file counts them.
    assert_eq!(wrong["failure"]["step"], 2);
}

/// `esp-ws conform`'s JUnit XML reads as JUnit too: a testcase per case,
/// FAILED as failures.
#[test]
fn conform_junit_is_read_by_a_junit_parser() {
    let dir = tempfile::tempdir().unwrap();
    let out = conform(&["--cases", "1.1.*,3.1"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    let suites = junit_parser::from_reader(std::io::Cursor::new(xml.as_bytes())).unwrap();
    assert_eq!(suites.tests, 9);
    // 1.1.6 (65535 bytes echoed in the 64-bit length form) and 3.1.
    assert_eq!(suites.failures, 2, "{xml}");
}
