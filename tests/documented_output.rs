//! The first hard yardstick: the "Example Output" of ESP-IDF's README for
//! ws_echo_server (`fixtures/documented/`), reproduced line for line by the
//! simulator's v4.2 profile, driven by the documented session
//! (`scenarios/esp-idf-readme-documented-session.json`). See
//! `fixtures/documented/README.md` for what is compared and why.

use std::path::PathBuf;
use std::time::Duration;

use esp_ws_dut::SimOptions;
use esp_ws_runner::{RunOptions, TargetSpec, artifacts::Artifacts, exec, snapshot};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `L (1234) tag: msg` → `L (T) tag: msg`: the timestamp is the only thing
/// that differs from run to run.
fn normalize(line: &str) -> String {
    let re = regex::Regex::new(r"^([EWIDV]) \(\d+\) ").unwrap();
    re.replace(line.trim_end_matches('\r'), "$1 (T) ")
        .into_owned()
}

/// A README entry (`L tag: msg`, without timestamp) in normalized form.
fn entry(line: &str) -> String {
    let (level, rest) = line.split_at(1);
    format!("{level} (T){rest}")
}

struct Omission {
    line: String,
    after: String,
}

/// The "Lines the README leaves out" list of the fixture's README:
/// `` - `LINE` after `PREVIOUS LINE`: why ``.
fn omissions(readme: &str) -> Vec<Omission> {
    let section = readme
        .split("## Lines the README leaves out")
        .nth(1)
        .expect("the fixture README has its list of left-out lines");
    let section = section.split("\n## ").next().unwrap_or(section);
    let re = regex::Regex::new(r"(?m)^- `([^`]+)` after `([^`]+)`").unwrap();
    let v: Vec<Omission> = re
        .captures_iter(section)
        .map(|c| Omission {
            line: entry(&c[1]),
            after: entry(&c[2]),
        })
        .collect();
    assert!(!v.is_empty(), "no entries found in the README's list");
    v
}

#[test]
fn the_documented_session_prints_the_documented_log_line_for_line() {
    // v4.2 as the README's log shows it: debug level, no colour codes.
    let profile = esp_ws_sim::profile::find("v4.2").unwrap();
    let opts = RunOptions {
        target: TargetSpec::Sim(SimOptions {
            log_level: esp_ws_log::Level::Debug,
            log_colors: false,
            ..SimOptions::new(profile)
        }),
        jobs: 1,
        exec: Default::default(),
        update: snapshot::Update::No,
        force_pass: false,
        artifacts: Artifacts::none(),
        ready_markers: esp_ws_runner::default_ready_markers(Some("v4.2")),
        boot_timeout: Duration::from_secs(30),
        impair: None,
    };
    let scenario = esp_ws_scenario::load_file(
        &root().join("scenarios/esp-idf-readme-documented-session.json"),
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let serial: Vec<String> = rt.block_on(async {
        let inst = esp_ws_runner::start_instance(&opts, "sim".into())
            .await
            .unwrap();
        let run = exec::run_scenario(&scenario, &inst, &opts.exec).await;
        assert!(run.failure.is_none(), "{:?}", run.failure);
        let lines = inst.serial.lines(0, usize::MAX);
        inst.stop().await;
        lines.iter().map(|l| normalize(&l.text())).collect()
    });

    assert_matches_documented(&serial);
}

/// The README's block (from `Starting server on port` on), and its list of
/// left-out lines.
fn documented() -> (Vec<String>, usize, Vec<Omission>) {
    let fixture_dir = root().join("fixtures/documented");
    let documented: Vec<String> =
        std::fs::read_to_string(fixture_dir.join("ws_echo_server-example-output.log"))
            .unwrap()
            .lines()
            .map(normalize)
            .collect();
    let start = documented
        .iter()
        .position(|l| l.contains("Starting server on port"))
        .expect("the block shows the server starting");
    let omitted = omissions(&std::fs::read_to_string(fixture_dir.join("README.md")).unwrap());
    (documented[start..].to_vec(), start, omitted)
}

/// Holds a serial log (normalized lines, from power-on) against the block.
fn assert_matches_documented(serial: &[String]) {
    let (documented, start, omitted) = documented();
    let from = serial
        .iter()
        .position(|l| l.contains("Starting server on port"))
        .expect("the simulator starts the server");
    let mut printed: Vec<String> = serial[from..].to_vec();
    // Take out each line the code prints and the README does not show, at
    // the place the README's list gives for it.
    for o in &omitted {
        let at = printed
            .iter()
            .position(|l| *l == o.after)
            .unwrap_or_else(|| panic!("the simulator never printed {:?}", o.after));
        assert_eq!(
            printed.get(at + 1),
            Some(&o.line),
            "the simulator does not print the left-out line where the fixture's README says"
        );
        printed.remove(at + 1);
    }

    let matched = documented
        .iter()
        .zip(&printed)
        .take_while(|(d, p)| d == p)
        .count();
    println!(
        "{matched} of {} documented lines match (from `Starting server on port` on, {} left-out line(s) skipped)",
        documented.len(),
        omitted.len()
    );
    if matched < documented.len() {
        let context: Vec<String> = printed
            .iter()
            .skip(matched.saturating_sub(3))
            .take(8)
            .map(|l| format!("    {l}"))
            .collect();
        panic!(
            "line {} of the block differs:\n  README:    {}\n  simulator: {}\nthe simulator printed around there:\n{}",
            start + matched + 1,
            documented[matched],
            printed.get(matched).map_or("(nothing)", String::as_str),
            context.join("\n")
        );
    }
}

/// `esp-ws sim --firmware v4.2 --log-level debug`, driven by a plain TCP
/// client sending the documented request and frame, prints the documented
/// lines on its stdout.
#[test]
fn esp_ws_sim_prints_the_documented_lines_to_a_plain_client() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_esp-ws"))
        .args([
            "sim",
            "--firmware",
            "v4.2",
            "--log-level",
            "debug",
            "--no-log-colors",
            "--port",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill it on every way out of this test.
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let child = Kill(child);
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let (port_tx, port_rx) = std::sync::mpsc::channel::<u16>();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines() {
            let Ok(l) = l else { break };
            if let Some(addr) = l.strip_prefix("esp-ws sim: listening on ") {
                let _ = port_tx.send(addr.rsplit(':').next().unwrap().parse().unwrap());
            }
        }
    });
    let port = port_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("esp-ws sim announces its port");
    let mut lines = Vec::new();
    let collect_until = |lines: &mut Vec<String>, done: &dyn Fn(&[String]) -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !done(lines) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => lines.push(normalize(&l)),
                Err(_) => panic!("esp-ws sim stopped printing; so far:\n{}", lines.join("\n")),
            }
        }
    };
    // The handlers are registered after this line (v4.2 prints nothing later).
    collect_until(&mut lines, &|l| {
        l.iter().any(|l| l.contains("installed /ws"))
    });

    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET /ws HTTP/1.1\r\nHost: 192.168.4.2\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: gfhjgfhjfj\r\nSec-WebSocket-Protocol: echo\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
    let mut response = Vec::new();
    let mut b = [0u8; 1];
    while !response.ends_with(b"\r\n\r\n") {
        c.read_exact(&mut b).unwrap();
        response.push(b[0]);
    }
    assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    // "Trigger async", masked.
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x81, 0x80 | 13];
    frame.extend_from_slice(&key);
    frame.extend(
        b"Trigger async"
            .iter()
            .enumerate()
            .map(|(i, x)| x ^ key[i % 4]),
    );
    c.write_all(&frame).unwrap();
    let mut reply = [0u8; 12];
    c.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"\x81\x0aAsync data");
    // The block ends with the select after the work item.
    collect_until(&mut lines, &|l| {
        l.iter()
            .position(|x| x.ends_with("httpd_process_ctrl_msg: work"))
            .is_some_and(|i| l.len() > i + 1)
    });
    drop(child);
    assert_matches_documented(&lines);
}

#[test]
fn normalization_only_touches_the_timestamp() {
    assert_eq!(
        normalize("D (17772) httpd_parse: cb_headers_complete: bytes read     = 169"),
        "D (T) httpd_parse: cb_headers_complete: bytes read     = 169"
    );
    // A line without a log header (ROM output) is left alone.
    assert_eq!(
        normalize("rst:0x1 (POWERON_RESET)"),
        "rst:0x1 (POWERON_RESET)"
    );
    assert_eq!(entry("D httpd: x"), "D (T) httpd: x");
}
