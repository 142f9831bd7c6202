//! The `esp-ws` binary as a user runs it: exit codes, error messages that
//! point at the line, snapshot review flow, and `esp-ws sim` with a standard
//! WebSocket client.

mod common;

use common::{Reap, esp_ws, text, write};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("esp-ws runs")
}

#[test]
fn validate_points_at_the_line_of_an_unknown_step_kind() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("broken.json");
    write(
        &f,
        "{\n  \"version\": 1,\n  \"steps\": [\n    {\"open\": {}},\n    {\"sned\": {\"text\": \"hi\"}}\n  ]\n}\n",
    );
    let out = run(esp_ws().arg("validate").arg(&f));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let loc = format!("{}:5:", f.display());
    assert!(err.contains(&loc), "no {loc} in:\n{err}");
    assert!(err.contains("steps[1]"), "{err}");
    assert!(err.contains("unknown variant `sned`"), "{err}");
    for kind in ["open", "send", "expect_frame", "expect_log", "sleep"] {
        assert!(
            err.contains(&format!("`{kind}`")),
            "{kind} not listed in:\n{err}"
        );
    }
    // The source line is quoted with a caret under the column.
    assert!(err.contains("5 |     {\"sned\""), "{err}");
    assert!(err.contains('^'), "{err}");
}

#[test]
fn validate_names_the_field_of_a_bad_value() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad-opcode.json");
    write(
        &f,
        "{\"version\": 1, \"steps\": [\n  {\"open\": {}},\n  {\"send\": {\"opcode\": \"txt\"}}\n]}\n",
    );
    let out = run(esp_ws().arg("validate").arg(&f));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{}:3:", f.display())), "{err}");
    assert!(err.contains("steps[1].send.opcode"), "{err}");
}

#[test]
fn validate_accepts_the_shipped_scenarios() {
    let out = run(esp_ws()
        .arg("validate")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("scenario files are valid"));
}

#[test]
fn schema_is_a_json_schema() {
    let out = run(esp_ws().arg("schema"));
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(v.get("$schema").is_some(), "{v}");
}

#[test]
fn bad_arguments_exit_with_2() {
    let out = run(esp_ws().args(["run", "--jobs", "many"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(esp_ws().args(["run", "no/such/dir"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no/such/dir"));
    let out = run(esp_ws().args(["run", "--firmware", "v0.1", "scenarios"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("v5.5.5"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_misspelt_firmware_profile_is_an_input_error_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("typo.json");
    write(
        &f,
        "{\n  \"version\": 1,\n  \"firmware\": [\"v5.5.6\"],\n  \"steps\": [{\"open\": {}}]\n}\n",
    );
    let expected = format!(
        "{}:3:16: firmware[0]: unknown firmware profile \"v5.5.6\" (did you mean \"v5.5.5\"?)",
        f.display()
    );
    // `validate` and `run` reject it alike, before anything runs.
    let art = dir.path().join("art");
    let run_args = vec!["run", "--artifacts", art.to_str().unwrap()];
    for args in [vec!["validate"], run_args] {
        let out = run(esp_ws().args(&args).arg(&f));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains(&expected),
            "{args:?}: no {expected} in:\n{err}"
        );
        assert!(err.contains("3 |   \"firmware\": [\"v5.5.6\"],"), "{err}");
    }
    // As does a real firmware declared to be an unknown profile.
    let ok = dir.path().join("ok.json");
    write(&ok, "{\"version\": 1, \"steps\": [{\"open\": {}}]}\n");
    let out = run(esp_ws()
        .args(["run", "--target", "exec", "--profile", "v5.5.6"])
        .arg(&ok)
        .args(["--", "true", "{port}"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--profile v5.5.6: unknown firmware profile"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_exec_program_whose_port_is_unknown_is_refused() {
    let out = run(esp_ws().args([
        "run",
        "scenarios",
        "--target",
        "exec",
        "--",
        "some-firmware",
    ]));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("put {port} in its arguments"), "{err}");
}

const ECHO: &str = r#"{
  "version": 1,
  "steps": [
    {"open": {}},
    {"send": {"text": "hello"}},
    {"expect_frame": {"opcode": "text", "text": "EXPECTED"}}
  ]
}
"#;

#[test]
fn new_snapshots_wait_for_review_and_accept_makes_them_pass() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("echo.json"),
        &ECHO.replace("EXPECTED", "hello"),
    );
    let art = dir.path().join("art");
    let first = run(esp_ws()
        .arg("run")
        .arg(dir.path())
        .arg("--artifacts")
        .arg(&art));
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stdout));
    let pending = dir.path().join("snapshots/echo.snap.new");
    assert!(pending.exists(), "{}", text(&first.stdout));
    // With no old snapshot to diff against, the new one is shown whole.
    assert!(
        text(&first.stdout).contains("    + serial log (info and above):"),
        "{}",
        text(&first.stdout)
    );
    let pending_text = std::fs::read_to_string(&pending).unwrap();
    assert!(!pending_text.contains("assertion_line"), "{pending_text}");
    assert!(text(&first.stdout).ends_with(&format!(
        "0 passed, 1 failed\nartifacts: {}\n",
        art.join(std::fs::read_dir(&art).unwrap().next().unwrap().unwrap().file_name())
            .display()
    )));

    let accept = run(esp_ws()
        .arg("run")
        .arg(dir.path())
        .arg("--accept")
        .arg("--artifacts")
        .arg(&art));
    assert!(accept.status.success(), "{}", text(&accept.stdout));
    let snap = std::fs::read_to_string(dir.path().join("snapshots/echo.snap")).unwrap();
    // Its source is the scenario, not a test harness.
    let scenario = dir.path().join("echo.json");
    assert!(
        snap.starts_with(&format!("---\nsource: {}\n", scenario.display())),
        "{snap}"
    );
    assert!(
        snap.contains("I (T) ws_echo_server: Got packet with message: hello"),
        "{snap}"
    );
    assert!(!pending.exists());

    let again = run(esp_ws()
        .arg("run")
        .arg(dir.path())
        .arg("--artifacts")
        .arg(&art));
    assert!(again.status.success(), "{}", text(&again.stdout));
    assert!(text(&again.stdout).contains("\n1 passed, 0 failed\n"));
}

#[test]
fn a_changed_echo_fails_the_step_and_the_snapshot_with_diffs() {
    let dir = tempfile::tempdir().unwrap();
    let art = dir.path().join("art");
    write(
        &dir.path().join("echo.json"),
        &ECHO.replace("EXPECTED", "hello"),
    );
    let ok = run(esp_ws()
        .arg("run")
        .arg(dir.path())
        .arg("--accept")
        .arg("--artifacts")
        .arg(&art));
    assert!(ok.status.success());
    // Now the scenario expects a different echo, and the snapshot on disk
    // records a different one: both must fail, each with a diff.
    write(
        &dir.path().join("echo.json"),
        &ECHO.replace("EXPECTED", "hellp"),
    );
    let snap_path = dir.path().join("snapshots/echo.snap");
    let snap = std::fs::read_to_string(&snap_path).unwrap();
    std::fs::write(
        &snap_path,
        snap.replace("< TEXT fin len=5 \"hello\"", "< TEXT fin len=5 \"hellp\""),
    )
    .unwrap();
    let out = run(esp_ws()
        .arg("run")
        .arg(dir.path())
        .arg("--artifacts")
        .arg(&art));
    assert_eq!(out.status.code(), Some(1));
    let o = text(&out.stdout);
    assert!(o.contains("steps[2] (expect_frame"), "{o}");
    assert!(o.contains("- TEXT \"hellp\""), "{o}");
    assert!(o.contains("+ TEXT fin len=5 \"hello\""), "{o}");
    assert!(o.contains("does not match"), "{o}");
    assert!(o.contains("-  c < TEXT fin len=5 \"hellp\""), "{o}");
    assert!(o.contains("+  c < TEXT fin len=5 \"hello\""), "{o}");
    assert!(o.contains("artifacts: "), "{o}");
    assert!(o.contains("\n0 passed, 1 failed\n"), "{o}");
}

#[tokio::test]
async fn sim_serves_a_standard_websocket_client_and_stops_on_sigterm() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let child = esp_ws()
        .args(["sim", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Reap(child);
    let stderr = child.0.stderr.take().unwrap();
    let mut line = String::new();
    BufReader::new(stderr).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("esp-ws sim: listening on ")
        .unwrap_or_else(|| panic!("unexpected announcement: {line:?}"))
        .to_string();
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let wait_line = |pat: &str| -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
                let hit = l.contains(pat);
                seen.push(l);
                if hit {
                    return seen;
                }
            }
        }
        panic!(
            "{pat:?} never appeared in the serial log; saw:\n{}",
            seen.join("\n")
        );
    };
    let boot = wait_line("Returned from app_main()");
    let port = addr.rsplit(':').next().unwrap().to_string();
    assert!(
        boot.iter()
            .any(|l| l.contains("Starting server on port: '80'")),
        "{boot:?}"
    );
    assert!(
        !boot.iter().any(|l| l.contains(&port)),
        "the host port leaked into the serial log"
    );

    let (mut ws, resp) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("a standard client completes the handshake");
    assert_eq!(resp.status(), 101);
    ws.send(Message::text("hello from tungstenite"))
        .await
        .unwrap();
    let echo = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("an echo within 5 s")
        .expect("a message")
        .expect("no error");
    assert_eq!(echo, Message::text("hello from tungstenite"));
    wait_line("Got packet with message: hello from tungstenite");
    ws.send(Message::text("Trigger async")).await.unwrap();
    let async_data = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(async_data, Message::text("Async data"));

    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "esp-ws sim did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn list_firmware_names_each_profile_then_its_esp_idf_version() {
    let out = run(esp_ws().args(["sim", "--list-firmware"]));
    assert!(out.status.success());
    let o = text(&out.stdout);
    let names: Vec<&str> = o
        .lines()
        .map(|l| {
            let mut f = l.split('\t');
            let name = f.next().unwrap();
            let version = f.next().unwrap_or_default();
            // The firmware's release, then the SDK release under it
            // (NodeMCU's revision on ESP-IDF v5.0.2, say; NodeMCU's
            // websocket client exists for the ESP8266 only).
            assert!(
                version.contains("ESP-IDF ") || version.contains("ESP8266 NONOS SDK"),
                "{l:?}"
            );
            name
        })
        .collect();
    assert_eq!(
        names,
        [
            "v5.5.5",
            "v4.2",
            "v4.4",
            "v5.5.2",
            "master",
            "master-strict",
            "nodemcu-pr3514",
            "nodemcu-pr3514-probe",
            "nodemcu-pr3514-stop",
            "netconn-hx",
            "esp-websocket-client-1.8.0",
            "nodemcu-websocket-client"
        ],
        "{o}"
    );
    assert!(
        o.contains("nodemcu-pr3514\tNodeMCU dev-esp32 + PR #3514 (affed3f8) on ESP-IDF v5.0.2\t"),
        "{o}"
    );
}

#[test]
fn sim_script_is_refused_for_a_firmware_that_runs_none_and_when_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("init.lua");
    std::fs::write(&script, "print('x')\n").unwrap();
    let out = run(esp_ws()
        .args(["sim", "--firmware", "v5.5.5", "--script"])
        .arg(&script));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("the v5.5.5 profile runs no script"),
        "{}",
        text(&out.stderr)
    );
    let missing = dir.path().join("missing.lua");
    let out = run(esp_ws()
        .args(["sim", "--firmware", "nodemcu-pr3514", "--script"])
        .arg(&missing));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("missing.lua: cannot read it"), "{err}");
}

#[test]
fn sim_uri_is_required_for_a_client_firmware_and_refused_for_a_server() {
    let out = run(esp_ws().args(["sim", "--firmware", "esp-websocket-client-1.8.0"]));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("dials out to a WebSocket server; give it one with --uri ws://HOST:PORT/PATH"),
        "{err}"
    );
    for flag in [["--uri", "ws://127.0.0.1:9/"], ["--destroy-after", "3"]] {
        let out = run(esp_ws().args(["sim", "--firmware", "v5.5.5"]).args(flag));
        assert_eq!(out.status.code(), Some(2));
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!(
                "error: {}: the v5.5.5 profile serves WebSocket and dials nowhere",
                flag[0]
            )),
            "{err}"
        );
    }
}

/// The first connection to `listener` (within 20 s) and its handshake
/// request, read to its blank line (each read within 10 s).
fn accept_request(listener: &std::net::TcpListener) -> (std::net::TcpStream, String) {
    use std::io::Read;
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut s = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "the firmware never dialled");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("{e}"),
        }
    };
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = Vec::new();
    let mut buf = [0u8; 512];
    while !req.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the request ends");
        req.extend_from_slice(&buf[..n]);
    }
    (s, String::from_utf8(req).unwrap())
}

/// NodeMCU's client with a script that names its own server needs no
/// `--uri`: the script's URL is dialled as written.
#[test]
fn sim_runs_a_nodemcu_client_script_that_names_its_server_without_uri() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("init.lua");
    std::fs::write(
        &script,
        format!("local ws = websocket.createClient()\nws:connect('ws://{addr}/own')\n"),
    )
    .unwrap();
    let _child = Reap(
        esp_ws()
            .args(["sim", "--firmware", "nodemcu-websocket-client", "--script"])
            .arg(&script)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (_s, req) = accept_request(&listener);
    assert!(req.starts_with("GET /own HTTP/1.1\r\n"), "{req}");
    assert!(req.contains("\r\nUser-Agent: ESP8266\r\n"), "{req}");
}

/// `esp-ws sim --uri` runs the client model against a real server: its
/// handshake arrives with the URI's path and host, and its console is on
/// stdout.
#[test]
fn sim_with_uri_dials_the_server_and_prints_its_console() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut child = Reap(
        esp_ws()
            .args(["sim", "--firmware", "esp-websocket-client-1.8.0", "--uri"])
            .arg(format!("ws://{addr}/chat"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (s, req) = accept_request(&listener);
    assert!(req.starts_with("GET /chat HTTP/1.1\r\n"), "{req}");
    assert!(req.contains(&format!("\r\nHost: {addr}\r\n")), "{req}");
    drop(s);
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        let done = line.contains("WEBSOCKET_EVENT_DISCONNECTED");
        seen.push(line);
        if done {
            break;
        }
    }
    assert!(
        seen.iter()
            .any(|l| l.ends_with(&format!("websocket: Connecting to ws://{addr}/chat..."))),
        "{seen:#?}"
    );
    assert!(
        seen.iter().any(|l| l.contains("E (")
            && l.ends_with("transport_ws: Error read response for Upgrade header")),
        "{seen:#?}"
    );
}

/// `esp-ws sim` as a child: its serial lines, and a raw client that opens
/// a WebSocket and goes away without a CLOSE (which the firmware logs as a
/// warning at every level down to W).
struct SimChild {
    child: Reap,
    lines: std::sync::mpsc::Receiver<String>,
    port: u16,
}

impl SimChild {
    fn start(args: &[&str]) -> SimChild {
        SimChild::spawn(esp_ws(), args)
    }

    /// `esp-ws sim --port 0 ARGS` run by `cmd` (`esp-ws`, maybe with
    /// settings of its own process).
    fn spawn(mut cmd: Command, args: &[&str]) -> SimChild {
        let mut child = Reap(
            cmd.args(["sim", "--port", "0"])
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let mut line = String::new();
        BufReader::new(child.0.stderr.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected announcement: {line:?}"));
        let stdout = child.0.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        SimChild {
            child,
            lines: rx,
            port,
        }
    }

    /// Opens /ws, then closes TCP without a CLOSE frame.
    fn connect_and_drop(&self) {
        let mut c = common::connect(self.port, Duration::from_secs(10)).unwrap();
        common::ws_handshake(&mut c).unwrap();
    }

    fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// Every line printed until `pat` shows up (which it must, in 10 s),
    /// then whatever follows within `linger`.
    fn lines_until(&self, pat: &str, linger: Duration) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(pat);
                    seen.push(l);
                    if hit {
                        break;
                    }
                }
                Err(_) => panic!("{pat:?} never appeared; saw:\n{}", seen.join("\n")),
            }
        }
        while let Ok(l) = self.lines.recv_timeout(linger) {
            seen.push(l);
        }
        seen
    }
}

fn levels(lines: &[String]) -> std::collections::BTreeSet<char> {
    lines
        .iter()
        .filter_map(|l| match esp_ws_log::parse_line(l) {
            esp_ws_log::Line::Log(r) => Some(r.level.letter()),
            _ => None,
        })
        .collect()
}

#[test]
fn log_level_shows_that_level_and_the_more_severe_ones() {
    // Info: the start-up and the warning, no debug lines.
    let sim = SimChild::start(&["--log-level", "info"]);
    let boot = sim.lines_until("Returned from app_main()", Duration::ZERO);
    sim.connect_and_drop();
    let after = sim.lines_until("Failed to read header byte", Duration::from_millis(300));
    let all: Vec<String> = boot.into_iter().chain(after).collect();
    assert_eq!(levels(&all), ['I', 'W'].into(), "{all:#?}");
    drop(sim.child);

    // Warn: only the warning (and the ROM's own lines, which are not logs).
    let sim = SimChild::start(&["--log-level", "warn"]);
    std::thread::sleep(Duration::from_millis(300));
    sim.connect_and_drop();
    let lines = sim.lines_until("Failed to read header byte", Duration::from_millis(300));
    assert_eq!(levels(&lines), ['W'].into(), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("rst:0x1 (POWERON_RESET)"))
    );
    drop(sim.child);

    // Debug: everything the server says, down to D.
    let sim = SimChild::start(&["--log-level", "debug"]);
    let lines = sim.lines_until("Returned from app_main()", Duration::from_millis(300));
    assert!(levels(&lines).contains(&'D'), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("httpd_thread: web server started")),
        "{lines:#?}"
    );
}

#[test]
fn log_colors_are_esp_idfs_and_the_parser_strips_them() {
    let sim = SimChild::start(&["--log-colors"]);
    let lines = sim.lines_until("Returned from app_main()", Duration::ZERO);
    let start = lines
        .iter()
        .find(|l| l.contains("Starting server on port"))
        .unwrap();
    // LOG_COLOR_I "I (ts) tag: msg" LOG_RESET_COLOR
    assert!(start.starts_with("\x1b[0;32mI ("), "{start:?}");
    assert!(start.ends_with("\x1b[0m"), "{start:?}");
    match esp_ws_log::parse_line(start) {
        esp_ws_log::Line::Log(r) => {
            assert_eq!(r.tag, "ws_echo_server");
            assert_eq!(r.message, "Starting server on port: '80'");
        }
        other => panic!("not parsed as a log line: {other:?}"),
    }
    drop(sim.child);

    // v4.x builds colour by default (CONFIG_LOG_COLORS=y); --no-log-colors
    // is the n of the same option.
    let sim = SimChild::start(&["--firmware", "v4.2"]);
    let lines = sim.lines_until("Registering URI handlers", Duration::ZERO);
    assert!(lines.last().unwrap().starts_with("\x1b[0;32mI ("));
    drop(sim.child);
    let sim = SimChild::start(&["--firmware", "v4.2", "--no-log-colors"]);
    let lines = sim.lines_until("Registering URI handlers", Duration::ZERO);
    assert!(lines.iter().all(|l| !l.contains('\x1b')), "{lines:#?}");
}

/// The README's `esp-ws validate` example is what esp-ws prints: its
/// scenario is the JSON block after the sentence introducing it, its output
/// the block after that.
#[test]
fn the_readme_error_example_is_real_output() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let from = readme
        .find("`esp-ws validate` reports every problem")
        .expect("the README's validate example");
    let mut blocks = readme[from..].split("```").skip(1).step_by(2);
    let input = blocks.next().unwrap().strip_prefix("json\n").unwrap();
    let output = blocks.next().unwrap().strip_prefix('\n').unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("scenarios/x.json"), input);
    let out = run(esp_ws()
        .current_dir(dir.path())
        .args(["validate", "scenarios/x.json"]));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr), output);
}

const HELLO: &str = r#"{"version": 1, "steps": [{"open": {}}, {"close": {}}]}"#;

/// `validate` and `run` on the same paths: exit codes and stderr.
fn validate_and_run(cwd: &Path, args: &[&str]) -> [(Option<i32>, String, String); 2] {
    let art = cwd.join("art");
    let within = Duration::from_secs(60);
    let v = common::output_within(esp_ws().current_dir(cwd).arg("validate").args(args), within);
    let r = common::output_within(
        esp_ws()
            .current_dir(cwd)
            .args(["run", "--accept", "--artifacts"])
            .arg(&art)
            .args(args),
        within,
    );
    [v, r].map(|o| (o.status.code(), text(&o.stdout), text(&o.stderr)))
}

#[test]
fn what_is_not_a_regular_file_in_a_scenario_folder_is_skipped_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s");
    write(&s.join("hello.json"), HELLO);
    let fifo = s.join("fifo.json");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o644) }, 0);
    std::os::unix::fs::symlink("/dev/zero", s.join("zero.json")).unwrap();
    std::os::unix::fs::symlink("nowhere.json", s.join("dangling.json")).unwrap();
    // A link back up the tree: the folder is searched once.
    std::os::unix::fs::symlink(".", s.join("self")).unwrap();
    let [(vc, vo, ve), (rc, ro, re)] = validate_and_run(dir.path(), &["s"]);
    assert_eq!(vc, Some(0), "{ve}");
    assert!(vo.contains("1 scenario file is valid"), "{vo}");
    assert_eq!(rc, Some(0), "{ro}{re}");
    assert!(ro.contains("\n1 passed, 0 failed\n"), "{ro}");
    for e in [&ve, &re] {
        assert!(
            e.contains("note: skipped s/fifo.json: a FIFO, not a regular file"),
            "{e}"
        );
        assert!(
            e.contains("note: skipped s/zero.json: a character device, not a regular file"),
            "{e}"
        );
        assert!(
            e.contains("note: skipped s/dangling.json: no such file or directory"),
            "{e}"
        );
    }
}

#[test]
fn paths_that_are_no_scenarios_are_refused_alike_by_validate_and_run_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("empty")).unwrap();
    std::fs::create_dir_all(d.join("only-dir/x.json")).unwrap();
    let fifo = std::ffi::CString::new(d.join("fifo.json").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    std::os::unix::fs::symlink("b.json", d.join("a.json")).unwrap();
    std::os::unix::fs::symlink("a.json", d.join("b.json")).unwrap();
    std::fs::write(d.join("big.json"), vec![b' '; 2 * 1024 * 1024]).unwrap();
    std::fs::write(
        d.join("latin1.json"),
        b"{\"version\": 1,\n \"name\": \"caf\xe9\"}",
    )
    .unwrap();
    write(
        &d.join("escape.json"),
        r#"{"version": 1, "name": "../../elsewhere/victim", "steps": [{"open": {}}]}"#,
    );
    let cases: &[(&str, &str)] = &[
        ("empty", "error: no scenario files (*.json) in empty"),
        ("only-dir", "error: no scenario files (*.json) in only-dir"),
        (
            "fifo.json",
            "error: fifo.json: a FIFO, not a scenario file or a folder of them",
        ),
        ("a.json", "error: a.json: too many levels of symbolic links"),
        (
            "big.json",
            "big.json:0:0: (root): the scenario file is 2097152 bytes, more than the 1048576 a scenario may have",
        ),
        (
            "latin1.json",
            "latin1.json:2:14: (root): the file is not UTF-8 text: byte 0xe9",
        ),
        (
            "escape.json",
            "escape.json:1:24: name: \"../../elsewhere/victim\" contains a path separator",
        ),
    ];
    for (arg, want) in cases {
        for (code, out, err) in validate_and_run(d, &[arg]) {
            assert_eq!(code, Some(2), "{arg}: {out}{err}");
            assert!(err.contains(want), "{arg}: no {want:?} in\n{err}");
        }
    }
    // Nothing was written for the scenario whose name would escape.
    assert!(
        !d.join("../elsewhere").exists()
            && !dir.path().parent().unwrap().join("elsewhere").exists()
    );
}

#[test]
fn a_wifi_password_on_the_command_line_draws_a_warning_and_the_environment_none() {
    let args = ["run", "--target", "board", "--host", "127.0.0.1:9"];
    let warning = "warning: --wifi-password on the command line can be read by anyone";
    let out = run(esp_ws().args(args).args(["--wifi-password", "hunter2"]));
    assert!(text(&out.stderr).contains(warning), "{}", text(&out.stderr));
    let out = run(esp_ws().args(args).env("ESP_WS_WIFI_PASSWORD", "hunter2"));
    assert!(
        !text(&out.stderr).contains(warning),
        "{}",
        text(&out.stderr)
    );
}

/// How each of the resetting clients below behaves before its RST.
#[derive(Clone, Copy, Debug)]
enum BeforeRst {
    Nothing,
    HalfARequest,
    Handshake,
}

/// Opens a connection, does `what`, and resets it. Whether the handshake,
/// if there was one, got its 101: under this churn the firmware may close
/// the connection first, as a close httpd queued for a session slot hits
/// the next connection given that slot (esp-idf#19103, which the simulator
/// reproduces).
fn open_and_reset(port: u16, what: BeforeRst) -> std::io::Result<bool> {
    let mut c = common::connect(port, Duration::from_secs(5))?;
    let upgraded = match what {
        BeforeRst::Nothing => false,
        BeforeRst::HalfARequest => {
            use std::io::Write;
            c.write_all(&common::WS_REQUEST[..common::WS_REQUEST.len() / 2])?;
            false
        }
        BeforeRst::Handshake => match common::ws_handshake(&mut c) {
            Ok(()) => true,
            Err(e) if common::closed_by_peer(&e) => false,
            Err(e) => return Err(e),
        },
    };
    common::close_with_rst(c);
    Ok(upgraded)
}

#[test]
fn sim_frees_the_socket_of_every_client_that_resets() {
    const CLIENTS: usize = 1000;
    const THREADS: usize = 4;
    const KINDS: [BeforeRst; 3] = [
        BeforeRst::Nothing,
        BeforeRst::HalfARequest,
        BeforeRst::Handshake,
    ];
    let sim = SimChild::start(&[]);
    sim.lines_until("Returned from app_main()", Duration::ZERO);
    let pid = sim.pid();
    let at_start = common::fd_count_at_rest(pid);

    // Clients on a few threads at once, so that some are reset while they
    // still wait in the firmware's listen backlog.
    let deadline = Instant::now() + Duration::from_secs(120);
    let port = sim.port;
    let (failures, upgraded) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    let mut upgraded = 0;
                    for i in (t..CLIENTS).step_by(THREADS) {
                        if Instant::now() >= deadline {
                            return (Some(format!("client {i}: out of time")), upgraded);
                        }
                        let what = KINDS[i % KINDS.len()];
                        match open_and_reset(port, what) {
                            Ok(u) => upgraded += usize::from(u),
                            Err(e) => {
                                return (Some(format!("client {i} ({what:?}): {e}")), upgraded);
                            }
                        }
                    }
                    (None, upgraded)
                })
            })
            .collect();
        let mut failures = Vec::new();
        let mut upgraded = 0;
        for w in workers {
            let (f, u) = w.join().unwrap();
            failures.extend(f);
            upgraded += u;
        }
        (failures, upgraded)
    });
    assert!(failures.is_empty(), "{failures:#?}");
    let handshakes = CLIENTS / KINDS.len();
    assert!(
        upgraded >= handshakes / 2,
        "only {upgraded} of {handshakes} handshakes got their 101"
    );

    let settled = common::wait_for(Duration::from_secs(10), || {
        common::fd_count(pid) <= at_start
    });
    assert!(
        settled,
        "{CLIENTS} clients that reset left esp-ws sim with {} descriptors; it had {at_start} at start",
        common::fd_count(pid)
    );
    let mut c = common::connect(port, Duration::from_secs(10)).unwrap();
    common::ws_handshake(&mut c).expect("a handshake after the resets");
}

#[test]
fn sim_out_of_descriptors_waits_without_spinning_and_recovers() {
    const LIMIT: u64 = 64;
    const BURST: usize = 100;
    // The idle simulator uses next to no CPU; spinning in accept() takes a
    // whole core.
    const IDLE_CPU: Duration = Duration::from_millis(250);
    let mut cmd = esp_ws();
    common::limit_descriptors(&mut cmd, LIMIT);
    let sim = SimChild::spawn(cmd, &[]);
    sim.lines_until("Returned from app_main()", Duration::ZERO);
    let pid = sim.pid();

    // More connections than the process may hold descriptors: the kernel
    // queues those it cannot accept.
    let burst: Vec<_> = (0..BURST)
        .map(|i| {
            common::connect(sim.port, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("connection {i} of the burst: {e}"))
        })
        .collect();
    // It has taken what it can: every descriptor it may have is in use, and
    // its accept() fails (EMFILE) for the rest.
    let full = common::wait_for(Duration::from_secs(10), || {
        common::fd_count(pid) as u64 >= LIMIT
    });
    assert!(
        full,
        "esp-ws sim holds {} descriptors, never its limit {LIMIT}",
        common::fd_count(pid)
    );
    let cpu = common::cpu_used_over(pid, Duration::from_secs(1));
    assert!(
        cpu < IDLE_CPU,
        "out of descriptors, esp-ws sim used {cpu:?} of CPU in 1 s"
    );

    // The burst goes away, half with FIN, half with RST.
    for (i, c) in burst.into_iter().enumerate() {
        if i % 2 == 0 {
            drop(c);
        } else {
            common::close_with_rst(c);
        }
    }
    let mut c = common::connect(sim.port, Duration::from_secs(10)).unwrap();
    common::ws_handshake(&mut c).expect("a handshake once the burst has gone");
    drop(c);
    let cpu = common::cpu_used_over(pid, Duration::from_secs(1));
    assert!(
        cpu < IDLE_CPU,
        "idle, esp-ws sim used {cpu:?} of CPU in 1 s"
    );
}

#[test]
fn version_names_the_commit_and_completions_are_scripts_for_each_shell() {
    let out = run(esp_ws().arg("--version"));
    let v = text(&out.stdout);
    assert!(
        v.starts_with(&format!("esp-ws {} (", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(common::root())
        .output();
    if let Ok(h) = head
        && h.status.success()
    {
        let commit = text(&h.stdout).trim().to_string();
        assert!(v.contains(&commit), "{v} does not name {commit}");
    }
    for (shell, mark) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef esp-ws"),
        ("fish", "complete -c esp-ws"),
    ] {
        let out = run(esp_ws().args(["completions", shell]));
        assert!(out.status.success(), "{shell}");
        let script = text(&out.stdout);
        assert!(script.contains(mark), "{shell}: {script}");
        assert!(script.contains("validate"), "{shell}: no subcommands");
    }
}

#[test]
fn insta_force_pass_passes_a_changed_snapshot_but_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let art = dir.path().join("art");
    let f = dir.path().join("echo.json");
    write(&f, &ECHO.replace("EXPECTED", "hello"));
    let ok = run(esp_ws()
        .arg("run")
        .arg(&f)
        .arg("--accept")
        .arg("--artifacts")
        .arg(&art));
    assert!(ok.status.success(), "{}", text(&ok.stdout));
    // The same steps, a different log level: the snapshot changes.
    write(
        &f,
        &ECHO.replace("EXPECTED", "hello").replace(
            "\"version\": 1,",
            "\"version\": 1, \"log_level\": \"warn\",",
        ),
    );
    let out = run(esp_ws()
        .arg("run")
        .arg(&f)
        .arg("--artifacts")
        .arg(&art)
        .env("INSTA_FORCE_PASS", "1"));
    let o = text(&out.stdout);
    assert!(out.status.success(), "{o}");
    assert!(
        o.contains("(the snapshot differs; passed because INSTA_FORCE_PASS=1)"),
        "{o}"
    );
    assert!(o.contains("does not match:"), "{o}");
    assert!(
        o.contains("-  I (T) ws_echo_server: Got packet with message: hello"),
        "{o}"
    );
    assert!(dir.path().join("snapshots/echo.snap.new").exists());
    // And a value insta would refuse is refused.
    for (var, value) in [("INSTA_FORCE_PASS", "yes"), ("INSTA_UPDATE", "sometimes")] {
        let out = run(esp_ws()
            .arg("run")
            .arg(&f)
            .arg("--artifacts")
            .arg(&art)
            .env(var, value));
        assert_eq!(out.status.code(), Some(2), "{var}");
        assert!(
            text(&out.stderr).contains(&format!("{var}=\"{value}\"")),
            "{}",
            text(&out.stderr)
        );
    }
}

/// In a firmware repository (no Cargo.toml anywhere): a run leaves two
/// pending snapshots, and `esp-ws review` on a terminal shows each and
/// accepts one and rejects the other as typed.
#[test]
fn review_on_a_terminal_accepts_one_snapshot_and_rejects_another() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        &d.join("scenarios/a-echo.json"),
        &ECHO.replace("EXPECTED", "hello"),
    );
    write(
        &d.join("scenarios/b-echo.json"),
        &ECHO.replace("EXPECTED", "hello"),
    );
    let first = run(esp_ws()
        .current_dir(d)
        .args(["run", "scenarios", "--artifacts", "art"]));
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stdout));
    assert!(
        text(&first.stdout).contains("review: esp-ws review"),
        "{}",
        text(&first.stdout)
    );
    let snaps = d.join("scenarios/snapshots");
    assert!(snaps.join("a-echo.snap.new").exists() && snaps.join("b-echo.snap.new").exists());

    let pty = common::Pty::open(false);
    let mut child = Reap(
        esp_ws()
            .current_dir(d)
            .arg("review")
            .stdin(pty.slave_stdio())
            .stdout(pty.slave_stdio())
            .stderr(pty.slave_stdio())
            .spawn()
            .unwrap(),
    );
    // The prompt itself: the snapshots' wire lines hold "> " too.
    const PROMPT: &str = "s skip > ";
    let shown = pty.read_until(PROMPT, Duration::from_secs(20));
    assert!(
        shown.contains("snapshot 1/2: scenarios/snapshots/a-echo.snap"),
        "{shown}"
    );
    assert!(
        shown.contains("+  I (T) ws_echo_server: Got packet with message: hello"),
        "{shown}"
    );
    pty.type_in("a\n");
    let shown = pty.read_until(PROMPT, Duration::from_secs(20));
    assert!(
        shown.contains("snapshot 2/2: scenarios/snapshots/b-echo.snap"),
        "{shown}"
    );
    pty.type_in("r\n");
    let end = pty.read_until("skipped", Duration::from_secs(20));
    assert!(end.contains("1 accepted, 1 rejected, 0 skipped"), "{end}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "review did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(snaps.join("a-echo.snap").exists() && !snaps.join("a-echo.snap.new").exists());
    assert!(!snaps.join("b-echo.snap").exists() && !snaps.join("b-echo.snap.new").exists());
    // The accepted one now passes; the other is new again.
    let again = run(esp_ws()
        .current_dir(d)
        .args(["run", "scenarios", "--artifacts", "art"]));
    assert!(
        text(&again.stdout).contains("\n1 passed, 1 failed\n"),
        "{}",
        text(&again.stdout)
    );
    // Without a terminal, review says how to do it by name.
    let piped = run(esp_ws().current_dir(d).arg("review").stdin(Stdio::null()));
    assert_eq!(piped.status.code(), Some(2));
    assert!(
        text(&piped.stderr).contains("use --accept NAME"),
        "{}",
        text(&piped.stderr)
    );
    let named = run(esp_ws()
        .current_dir(d)
        .args(["review", "--accept", "b-echo"]));
    assert!(
        text(&named.stdout).contains("1 accepted, 0 rejected, 0 skipped"),
        "{}",
        text(&named.stdout)
    );
    let unknown = run(esp_ws().current_dir(d).args(["review", "--reject", "c"]));
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        text(&unknown.stderr).contains("not pending: c"),
        "{}",
        text(&unknown.stderr)
    );
}

/// A missing log line: what came instead is quoted at the scenario's level,
/// not buried in the debug lines of a debug-level firmware.
#[test]
fn an_expect_log_failure_quotes_the_log_at_the_scenarios_level() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("missing-line.json");
    write(
        &f,
        r#"{"version": 1, "timeout_ms": 300, "steps": [
            {"open": {}},
            {"send": {"text": "hello"}},
            {"expect_frame": {"text": "hello"}},
            {"expect_log": {"regex": "^never printed$"}}
        ]}"#,
    );
    let out = run(esp_ws()
        .arg("run")
        .arg(&f)
        .args(["--log-level", "debug", "--artifacts"])
        .arg(dir.path().join("art")));
    let o = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{o}");
    let got: Vec<&str> = o
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("got:"))
        .skip(1)
        .take_while(|l| l.trim_start().starts_with("+ "))
        .collect();
    assert!(
        got.iter()
            .any(|l| l.contains("I (") && l.contains("Got packet with message: hello")),
        "{o}"
    );
    assert!(got.iter().all(|l| !l.contains("D (")), "{o}");
    assert!(
        got.iter()
            .any(|l| l.contains("more verbose lines than info not shown")),
        "{o}"
    );
}
