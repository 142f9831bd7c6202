//! esp-ws as the server a firmware dials: server-role scenarios run with
//! `esp-ws run` (and `esp-ws serve`) against an `exec` target whose
//! program is a small WebSocket client (tests/fixtures/ws_client.py,
//! Python's standard library only) given the URI as `{uri}`; a client that
//! does not reconnect, or reconnects too early, fails with the step and
//! its time window named; `esp-ws serve` without scenarios echoes and
//! prints each connection live.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{esp_ws, output_within, root, text};

const PROFILE: &str = "esp-websocket-client-1.8.0";

/// A folder holding a copy of the named server-role fixtures (their
/// snapshots go next to them).
fn scenarios(names: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let sc = dir.path().join("sc");
    std::fs::create_dir_all(&sc).unwrap();
    for n in names {
        std::fs::copy(
            root().join("tests/fixtures/server-role").join(n),
            sc.join(n),
        )
        .unwrap();
    }
    (dir, sc)
}

/// `esp-ws <cmd> <sc> --target exec --profile esp_websocket_client … --
/// python3 ws_client.py <client args> {uri}`, within a minute.
fn run_client(cmd: &str, dir: &Path, sc: &Path, extra: &[&str], client: &[&str]) -> Output {
    let script = root().join("tests/fixtures/ws_client.py");
    let mut c = esp_ws();
    c.current_dir(dir)
        .arg(cmd)
        .arg(sc)
        .args(["--target", "exec", "--profile", PROFILE, "--artifacts"])
        .arg(dir.join("artifacts"))
        .args(extra)
        .arg("--")
        .arg("python3")
        .arg(script)
        .args(client)
        .arg("{uri}");
    output_within(&mut c, Duration::from_secs(60))
}

fn both(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

#[test]
fn a_well_behaved_client_passes_and_its_snapshot_holds_no_random_value() {
    let (dir, sc) = scenarios(&["reconnect.json"]);
    let first = run_client(
        "run",
        dir.path(),
        &sc,
        &["--accept"],
        &["--reconnect-after", "1.2"],
    );
    assert!(first.status.success(), "{}", both(&first));
    assert!(
        text(&first.stdout).contains("PASS") && text(&first.stdout).contains("1 passed, 0 failed"),
        "{}",
        both(&first)
    );
    let snap = std::fs::read_to_string(sc.join("snapshots/reconnect.snap")).unwrap();
    for want in [
        "wire (as seen by the server):",
        "c1 = the firmware connected",
        "c1 <   Sec-WebSocket-Key: [KEY]",
        "c1 >   Sec-WebSocket-Accept: [ACCEPT]",
        "c1 < TEXT fin masked len=7 \"hello 1\"",
        "c1 > TEXT fin len=7 \"ping me\"",
        "c1 > close TCP (FIN)",
        "c2 = the firmware connected",
        "c2 < CLOSE fin masked len=2 code=1000",
        "I (T) websocket: Connecting to ws://[IP]:[PORT]/...",
        "I (T) wsclient: reconnect after 1200 ms",
    ] {
        assert!(snap.contains(want), "{want:?} is not in\n{snap}");
    }
    // Keys, accepts, ports and times differ per run: none reaches the
    // snapshot, so a second run (through `serve`, which runs scenarios as
    // `run` does) matches it without accepting anything.
    let again = run_client("serve", dir.path(), &sc, &[], &["--reconnect-after", "1.2"]);
    assert!(again.status.success(), "{}", both(&again));
    assert!(
        !sc.join("snapshots/reconnect.snap.new").exists(),
        "{}",
        both(&again)
    );
}

#[test]
fn a_client_that_does_not_reconnect_fails_naming_the_step_and_the_window() {
    let (dir, sc) = scenarios(&["reconnect.json"]);
    let out = run_client("run", dir.path(), &sc, &[], &["--no-reconnect"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "steps[10] (expect_connect, sc/reconnect.json:19:5): no connection within 0.7–1.7 s after step 9 (drop) dropped c1; the firmware last connected at +"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
}

#[test]
fn a_client_that_reconnects_too_early_fails_before_the_window() {
    let (dir, sc) = scenarios(&["reconnect.json"]);
    let out = run_client("run", dir.path(), &sc, &[], &["--reconnect-after", "0.1"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("steps[10] (expect_connect"))
        .unwrap_or_else(|| panic!("no failed step in\n{stdout}"));
    assert!(
        line.contains("s after step 9 (drop) dropped c1, before the window (0.7–1.7 s after step 9 (drop) dropped c1)"),
        "{line}"
    );
}

#[test]
fn wrong_answers_make_the_client_reconnect_with_a_fresh_key() {
    let (dir, sc) = scenarios(&["bad-answers.json"]);
    let out = run_client("run", dir.path(), &sc, &["--accept"], &[]);
    assert!(out.status.success(), "{}", both(&out));
    let snap = std::fs::read_to_string(sc.join("snapshots/bad-answers.snap")).unwrap();
    for want in [
        "c1 >   Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "c2 > HTTP/1.1 404 Not Found",
        "c2 >   body: \"no such route\"",
        "c3 > CLOSE fin len=12 code=1001 reason=\"going away\"",
        "E (T) wsclient: invalid Sec-WebSocket-Accept",
    ] {
        assert!(snap.contains(want), "{want:?} is not in\n{snap}");
    }
}

#[test]
fn server_role_scenarios_are_skipped_on_a_firmware_that_serves() {
    let (dir, sc) = scenarios(&["reconnect.json"]);
    let mut c = esp_ws();
    c.current_dir(dir.path())
        .arg("run")
        .arg(&sc)
        .arg("--artifacts")
        .arg(dir.path().join("artifacts"));
    let out = output_within(&mut c, Duration::from_secs(60));
    assert!(
        text(&out.stdout)
            .contains("esp-ws plays the server in it, and v5.5.5 serves WebSocket itself"),
        "{}",
        both(&out)
    );
}

#[test]
fn conform_refuses_a_firmware_that_dials_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = esp_ws();
    c.current_dir(dir.path())
        .args(["conform", "--firmware", PROFILE]);
    let out = output_within(&mut c, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        text(&out.stderr).contains(
            "--firmware esp-websocket-client-1.8.0: that firmware dials out, and `esp-ws conform` tests WebSocket servers"
        ),
        "{}",
        both(&out)
    );
}

#[test]
fn a_board_that_dials_out_needs_the_address_to_listen_on() {
    let (dir, sc) = scenarios(&["reconnect.json"]);
    let mut c = esp_ws();
    c.current_dir(dir.path())
        .arg("run")
        .arg(&sc)
        .args(["--target", "board", "--profile", PROFILE]);
    let out = output_within(&mut c, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("name this machine's LAN address, the one the firmware dials, with --listen ADDR[:PORT] (the port defaults to 18080)"),
        "{}",
        both(&out)
    );
}

/// Kills the child on every way out of the test.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_without_scenarios_echoes_and_prints_each_connection_live() {
    let mut child = Child(
        esp_ws()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Its lines, as they come, on a channel (a read never blocks the test
    // past its timeouts).
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = |what: &str| -> String {
        loop {
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(l) if l.contains(what) => return l,
                Ok(_) => {}
                Err(e) => panic!("no line with {what:?}: {e}"),
            }
        }
    };
    let listening = next("Listening");
    let addr = listening
        .split("ws://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {listening:?}"))
        .to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        format!(
            "GET /chat HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // RFC 6455's example key and its accept value.
    assert!(
        head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{head}"
    );
    // A masked TEXT "hello" comes back unmasked.
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x85];
    frame.extend_from_slice(&mask);
    frame.extend(b"hello".iter().enumerate().map(|(i, c)| c ^ mask[i % 4]));
    s.write_all(&frame).unwrap();
    let mut echo = [0u8; 7];
    s.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"\x81\x05hello");
    // CLOSE 1000 is answered with CLOSE 1000, then the server closes.
    let mut close = vec![0x88, 0x82];
    close.extend_from_slice(&mask);
    close.extend([0x03 ^ 1, 0xe8 ^ 2]);
    s.write_all(&close).unwrap();
    let mut reply = [0u8; 4];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(reply, [0x88, 0x02, 0x03, 0xe8]);
    drop(s);
    for want in [
        "c1 < GET /chat HTTP/1.1",
        "c1 <   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "c1 > HTTP/1.1 101 Switching Protocols",
        "c1 < TEXT fin masked len=5 \"hello\"",
        "c1 > TEXT fin len=5 \"hello\"",
        "c1 < CLOSE fin masked len=2 code=1000",
        "c1 > CLOSE fin len=2 code=1000",
        "c1 > close TCP (FIN)",
    ] {
        next(want);
    }
    // Ctrl-C stops it.
    unsafe { libc::kill(child.0.id() as i32, libc::SIGINT) };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "esp-ws serve did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
}
