//! The board target without a board: a pseudo-terminal stands in for the
//! board's USB serial port (the simulator's console is written to one side,
//! esp-ws opens the other), and a network namespace with a veth pair stands
//! in for a board on Wi-Fi (the simulator runs inside it, at an address of
//! its own: another host as far as esp-ws can tell), reached through the
//! impairment proxy with Wi-Fi-like settings.
//!
//! The namespace tests need root and iproute2's `ip`; where either is
//! missing they are listed as ignored and the reason is printed, loudly.

mod common;

use common::{ESP_WS, Reap, check, default_profile_scenarios, root, text};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
/// Never typed anywhere but at the firmware's prompt: it must not show up
/// in any output or artifact.
const PASSWORD: &str = "pw-7c1d9e0b";
const SSID: &str = "esp-ws-lab";

/// A pseudo-terminal pair in raw mode: `master` is the board's side (its
/// UART), `path` names the side esp-ws opens as the serial port; the slave
/// side is held open so that what the board prints before esp-ws opens the
/// port waits in the terminal's buffer, as it would in a USB-UART bridge's.
struct Pty(common::Pty);

impl Pty {
    fn new() -> Pty {
        Pty(common::Pty::open(true))
    }

    fn board_side(&self) -> Stdio {
        self.0.master_stdio()
    }
}

impl std::ops::Deref for Pty {
    type Target = common::Pty;
    fn deref(&self) -> &common::Pty {
        &self.0
    }
}

/// `esp-ws sim` as a board: its console on the pty, Wi-Fi credentials
/// asked on it. `wrap` runs it inside a network namespace. Returns the
/// child and the port it announced.
fn start_board(pty: &Pty, wrap: &[&str], sim_args: &[&str]) -> (Reap, u16) {
    let mut cmd = match wrap.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(ESP_WS);
            c
        }
        None => Command::new(ESP_WS),
    };
    cmd.args([
        "sim",
        "--log-level",
        "debug",
        "--wifi-credentials-from-stdin",
    ])
    .args(sim_args)
    .stdin(pty.board_side())
    .stdout(pty.board_side())
    .stderr(Stdio::piped());
    let mut child = Reap(cmd.spawn().expect("esp-ws sim starts"));
    let mut line = String::new();
    BufReader::new(child.0.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("esp-ws sim: listening on ")
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected announcement: {line:?}"));
    (child, port)
}

fn esp_ws_run(args: &[&str], artifacts: &Path) -> Output {
    esp_ws_run_with_password(args, artifacts, PASSWORD)
}

fn esp_ws_run_with_password(args: &[&str], artifacts: &Path, password: &str) -> Output {
    let mut c = Command::new(ESP_WS);
    c.current_dir(root())
        .env("CI", "1")
        .env_remove("INSTA_UPDATE")
        .env_remove("INSTA_FORCE_PASS")
        .env_remove("ESP_WS_WIFI_SSID")
        .env_remove("ESP_WS_WIFI_PASSWORD");
    // The password as a user should pass it: in the environment.
    if args.contains(&"--wifi-ssid") {
        c.env("ESP_WS_WIFI_PASSWORD", password);
    }
    c.arg("run")
        .args(args)
        .arg("--artifacts")
        .arg(artifacts)
        .output()
        .unwrap()
}

/// No file under `dir` contains the password.
fn password_nowhere(dir: &Path) -> Result<(), Failed> {
    secret_nowhere(dir, PASSWORD)
}

fn secret_nowhere(dir: &Path, secret: &str) -> Result<(), Failed> {
    for e in walk(dir) {
        let bytes = std::fs::read(&e).unwrap_or_default();
        check(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            format!("the Wi-Fi password is in {}", e.display()),
        )?;
    }
    Ok(())
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                v.extend(walk(&p));
            } else {
                v.push(p);
            }
        }
    }
    v
}

fn board_serial_log(artifacts: &Path) -> String {
    walk(artifacts)
        .into_iter()
        .find(|p| p.ends_with("board-1/serial.log"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .unwrap_or_default()
}

// ----- without root ------------------------------------------------------

fn over_a_pty_the_log_is_read_and_the_wifi_prompt_answered() -> Result<(), Failed> {
    let pty = Pty::new();
    let (_board, port) = start_board(&pty, &[], &["--port", "0"]);
    let art = tempfile::tempdir()?;
    let host = format!("127.0.0.1:{port}");
    let serial = pty.path.to_string_lossy().into_owned();
    let out = esp_ws_run(
        &[
            "scenarios/esp-http-server/frame-echo-text.json",
            "scenarios/esp-http-server/app-trigger-async.json",
            "scenarios/esp-http-server/session-client-drops-tcp.json",
            "scenarios/esp-http-server/recorded-v5.5.5-text-echo.json",
            "--target",
            "board",
            "--host",
            &host,
            "--serial",
            &serial,
            "--wifi-ssid",
            SSID,
        ],
        art.path(),
    );
    let o = text(&out.stdout) + &text(&out.stderr);
    check(out.status.success(), &o)?;
    check(o.contains("\n4 passed, 0 failed\n"), &o)?;
    check(o.contains("board at 127.0.0.1"), &o)?;
    let log = board_serial_log(art.path());
    check(
        log.contains(&format!("example_connect: Connecting to {SSID}...")),
        &log,
    )?;
    check(log.contains("Returned from app_main()"), &log)?;
    check(!o.contains(PASSWORD), "the password is in esp-ws's output")?;
    password_nowhere(art.path())
}

/// A password that is a word of the prompt (`Please input ssid password:`)
/// is redacted there too, but the prompt is recognised as the firmware
/// printed it, and answered.
fn a_password_that_is_a_word_of_the_prompt_still_gets_the_prompt_answered() -> Result<(), Failed> {
    let pty = Pty::new();
    let (_board, port) = start_board(&pty, &[], &["--port", "0"]);
    let art = tempfile::tempdir()?;
    let host = format!("127.0.0.1:{port}");
    let serial = pty.path.to_string_lossy().into_owned();
    let out = esp_ws_run_with_password(
        &[
            "scenarios/esp-http-server/frame-echo-text.json",
            "--target",
            "board",
            "--host",
            &host,
            "--serial",
            &serial,
            "--wifi-ssid",
            SSID,
            "--boot-timeout",
            "20s",
        ],
        art.path(),
        "password",
    );
    let o = text(&out.stdout) + &text(&out.stderr);
    check(out.status.success(), &o)?;
    check(o.contains("\n1 passed, 0 failed\n"), &o)?;
    let log = board_serial_log(art.path());
    check(log.contains("Please input ssid [REDACTED]:"), &log)?;
    check(
        log.contains(&format!("example_connect: Connecting to {SSID}...")),
        &log,
    )?;
    secret_nowhere(art.path(), "password")
}

fn reset_on_a_pty_is_refused_with_the_reason() -> Result<(), Failed> {
    let pty = Pty::new();
    let (_board, port) = start_board(&pty, &[], &["--port", "0"]);
    let art = tempfile::tempdir()?;
    let host = format!("127.0.0.1:{port}");
    let serial = pty.path.to_string_lossy().into_owned();
    let out = esp_ws_run(
        &[
            "scenarios/esp-http-server/frame-echo-text.json",
            "--target",
            "board",
            "--host",
            &host,
            "--serial",
            &serial,
            "--reset",
        ],
        art.path(),
    );
    let e = text(&out.stderr);
    check(out.status.code() == Some(2), &e)?;
    check(
        e.contains(&format!("--reset: {serial} refuses to set DTR")),
        &e,
    )?;
    check(e.contains("cannot reset the board"), &e)
}

fn without_serial_log_scenarios_are_skipped_and_the_wire_compared() -> Result<(), Failed> {
    let pty = Pty::new();
    let (board, port) = start_board(&pty, &[], &["--port", "0"]);
    // Give the prompt its answer by hand: esp-ws has no serial port here.
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().write(true).open(&pty.path)?;
        f.write_all(format!("{SSID} {PASSWORD}\n").as_bytes())?;
    }
    let art = tempfile::tempdir()?;
    let host = format!("127.0.0.1:{port}");
    let out = esp_ws_run(
        &[
            "scenarios/esp-http-server/frame-echo-text.json",
            "scenarios/esp-http-server/frame-rsv1-ignored.json",
            "--target",
            "board",
            "--host",
            &host,
        ],
        art.path(),
    );
    drop(board);
    let o = text(&out.stdout) + &text(&out.stderr);
    check(out.status.success(), &o)?;
    check(
        o.contains("SKIP [   0.000s] frame-echo-text (it expects serial-log lines, and the target has no serial log)"),
        &o,
    )?;
    check(o.contains("PASS"), &o)?;
    check(o.contains("\n1 passed, 0 failed\n"), &o)
}

fn a_connection_reset_mid_frame_fails_that_scenario_and_the_next_starts_fresh() -> Result<(), Failed>
{
    let t = tempfile::tempdir()?;
    let sc = t.path().join("sc");
    std::fs::create_dir_all(&sc)?;
    // The handshake request is about 150 bytes; the proxy resets each
    // connection once 200 bytes have gone up.
    std::fs::write(
        sc.join("a-cut.json"),
        r#"{"version": 1, "timeout_ms": 1000, "steps": [
            {"open": {}},
            {"send": {"opcode": "binary", "fill": {"byte": "x", "len": 120}}},
            {"expect_frame": {"opcode": "binary", "len": 120}}
        ]}"#,
    )?;
    std::fs::write(
        sc.join("b-fresh.json"),
        r#"{"version": 1, "steps": [
            {"open": {}},
            {"send": {"text": "hi"}},
            {"expect_frame": {"text": "hi"}}
        ]}"#,
    )?;
    let art = t.path().join("art");
    let started = Instant::now();
    let out = Command::new(ESP_WS)
        .env("CI", "1")
        .args(["run"])
        .arg(&sc)
        .args([
            "--jobs",
            "1",
            "--impair",
            "reset=@200",
            "--accept",
            "--artifacts",
        ])
        .arg(&art)
        .output()?;
    let elapsed = started.elapsed();
    let o = text(&out.stdout);
    check(out.status.code() == Some(1), &o)?;
    check(o.contains("FAIL a-cut"), &o)?;
    check(o.contains("PASS") && o.contains("b-fresh"), &o)?;
    // What was sent and what came back are in the report.
    check(o.contains("closed (RST)"), &o)?;
    check(
        elapsed < Duration::from_secs(20),
        format!("took {elapsed:?}"),
    )?;
    Ok(())
}

fn every_scenario_copes_with_a_link_that_cuts_writes_into_small_pieces() -> Result<(), Failed> {
    // Wi-Fi-like latency, and every write cut into 1 to 64 bytes: frame
    // headers and requests reach the firmware over many reads. Only what
    // depends on whole segments is skipped; debug lines (one per read) are
    // left out of the comparison.
    let art = tempfile::tempdir()?;
    let out = esp_ws_run(
        &[
            "scenarios",
            "--firmware",
            "v5.5.5",
            "--impair",
            "delay=10ms,jitter=5ms,chunk=1..64",
        ],
        art.path(),
    );
    let o = text(&out.stdout) + &text(&out.stderr);
    check(out.status.success(), &o)?;
    check(
        o.contains("SKIP frame-with-handshake (it depends on how the client's writes arrive"),
        &o,
    )?;
    let expected = default_profile_scenarios() - 1;
    check(o.contains(&format!("\n{expected} passed, 0 failed\n")), &o)?;
    // The firmware did read requests in short blocks.
    let re = regex::Regex::new(r"read_block: received HTTP request block size = (\d+)").unwrap();
    let logs: String = walk(art.path())
        .into_iter()
        .filter(|p| p.ends_with("serial.log"))
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
    let short = re
        .captures_iter(&logs)
        .filter(|c| c[1].parse::<usize>().unwrap() < 64)
        .count();
    check(short > 10, format!("{short} short request blocks"))
}

// ----- with root: network namespaces ---------------------------------------

/// Why namespace tests cannot run here, if they cannot.
fn netns_unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root (network namespaces and veth pairs need it)".into());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("iproute2's `ip` is not installed (Debian: apt-get install iproute2)".into()),
    }
}

/// A namespace with a veth pair: the host side is 10.X.Y.1, the
/// namespace's side 10.X.Y.2. Removed on drop.
struct Netns {
    name: String,
    host_if: String,
    addr: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let o = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), text(&o.stderr).trim()))
    }
}

impl Netns {
    fn create(n: u8) -> Result<Netns, String> {
        let pid = std::process::id();
        let name = format!("esp-ws-{pid}-{n}");
        let host_if = format!("ewh{}{n}", pid % 100_000);
        let ns_if = format!("ewn{}{n}", pid % 100_000);
        let net = format!("10.{}.{}", 200 + n, pid % 250);
        let ns = Netns {
            name: name.clone(),
            host_if: host_if.clone(),
            addr: format!("{net}.2"),
        };
        ip(&["netns", "add", &name])?;
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
        ])?;
        ip(&["link", "set", &ns_if, "netns", &name])?;
        ip(&["addr", "add", &format!("{net}.1/24"), "dev", &host_if])?;
        ip(&["link", "set", &host_if, "up"])?;
        ip(&[
            "-n",
            &name,
            "addr",
            "add",
            &format!("{net}.2/24"),
            "dev",
            &ns_if,
        ])?;
        ip(&["-n", &name, "link", "set", &ns_if, "up"])?;
        ip(&["-n", &name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.host_if]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

fn board_test_passes_every_scenario_in_a_namespace_behind_wifi_like_impairment()
-> Result<(), Failed> {
    let ns = Netns::create(1)?;
    let pty = Pty::new();
    let (_board, port) = start_board(
        &pty,
        &["ip", "netns", "exec", &ns.name],
        &["--host", &ns.addr, "--port", "80", "--ip", &ns.addr],
    );
    assert_eq!(port, 80);
    let art = tempfile::tempdir()?;
    let serial = pty.path.to_string_lossy().into_owned();
    // What a user types: cargo xtask board-test, with Wi-Fi-like latency.
    let out = Command::new(env!("CARGO"))
        .current_dir(root())
        .env("CI", "1")
        .env_remove("INSTA_UPDATE")
        .env_remove("INSTA_FORCE_PASS")
        .env("ESP_WS_WIFI_PASSWORD", PASSWORD)
        .args([
            "xtask",
            "board-test",
            "--host",
            &ns.addr,
            "--serial",
            &serial,
        ])
        .args(["--impair", "delay=10ms,jitter=5ms", "--wifi-ssid", SSID])
        .arg("--artifacts")
        .arg(art.path())
        .output()?;
    let o = text(&out.stdout) + &text(&out.stderr);
    check(out.status.success(), &o)?;
    let expected = default_profile_scenarios();
    check(o.contains(&format!("\n{expected} passed, 0 failed\n")), &o)?;
    check(o.contains(&format!("board at {}", ns.addr)), &o)?;
    let log = board_serial_log(art.path());
    check(
        log.contains(&format!(
            "esp_netif_handlers: example_netif_sta ip: {}",
            ns.addr
        )),
        &log,
    )?;
    check(
        log.contains(&format!("example_connect: Connecting to {SSID}...")),
        &log,
    )?;
    check(!o.contains(PASSWORD), "the password is in the output")?;
    password_nowhere(art.path())
}

fn cutting_the_link_mid_scenario_fails_cleanly_within_its_timeout() -> Result<(), Failed> {
    let ns = Netns::create(2)?;
    let pty = Pty::new();
    let (_board, _port) = start_board(
        &pty,
        &["ip", "netns", "exec", &ns.name],
        &["--host", &ns.addr, "--port", "80", "--ip", &ns.addr],
    );
    let t = tempfile::tempdir()?;
    let sc = t.path().join("sc");
    std::fs::create_dir_all(&sc)?;
    std::fs::write(
        sc.join("cut.json"),
        r#"{"version": 1, "timeout_ms": 1000, "steps": [
            {"open": {}},
            {"send": {"text": "before the cut"}},
            {"expect_frame": {"text": "before the cut"}},
            {"sleep": {"ms": 1500}},
            {"send": {"text": "after the cut"}},
            {"expect_frame": {"text": "after the cut"}}
        ]}"#,
    )?;
    let art = t.path().join("art");
    let serial = pty.path.to_string_lossy().into_owned();
    let started = Instant::now();
    let child = Command::new(ESP_WS)
        .env("CI", "1")
        .env("ESP_WS_WIFI_PASSWORD", PASSWORD)
        .arg("run")
        .arg(&sc)
        .args(["--target", "board", "--host", &ns.addr, "--serial", &serial])
        .args(["--wifi-ssid", SSID, "--artifacts"])
        .arg(&art)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let child = Reap(child);
    // Cut the link once the firmware has echoed the first frame (its log
    // reaches the artifacts as it arrives).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !board_serial_log(&art).contains("Got packet with message: before the cut") {
        check(Instant::now() < deadline, "the first frame never arrived")?;
        std::thread::sleep(Duration::from_millis(20));
    }
    ip(&["link", "set", &ns.host_if, "down"])?;
    let out = {
        let mut c = child;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if c.0.try_wait()?.is_some() {
                break;
            }
            check(Instant::now() < deadline, "esp-ws did not finish")?;
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut stdout = String::new();
        std::io::Read::read_to_string(c.0.stdout.as_mut().unwrap(), &mut stdout)?;
        let code = c.0.wait()?.code();
        (code, stdout)
    };
    let elapsed = started.elapsed();
    let (code, o) = out;
    check(code == Some(1), &o)?;
    // Step 6 waits 1 s x the board's timeout scale (3): it fails on its
    // own deadline, and the report says what went out and what came back.
    check(o.contains("steps[5] (expect_frame"), &o)?;
    check(o.contains("no frame within 3000 ms"), &o)?;
    check(o.contains("TEXT fin masked len=13 \"after the cut\""), &o)?;
    check(
        elapsed < Duration::from_secs(45),
        format!("took {elapsed:?}"),
    )?;
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    type Test = fn() -> Result<(), Failed>;
    let plain: Vec<(&str, Test)> = vec![
        (
            "over_a_pty_the_log_is_read_and_the_wifi_prompt_answered",
            over_a_pty_the_log_is_read_and_the_wifi_prompt_answered,
        ),
        (
            "a_password_that_is_a_word_of_the_prompt_still_gets_the_prompt_answered",
            a_password_that_is_a_word_of_the_prompt_still_gets_the_prompt_answered,
        ),
        (
            "reset_on_a_pty_is_refused_with_the_reason",
            reset_on_a_pty_is_refused_with_the_reason,
        ),
        (
            "without_serial_log_scenarios_are_skipped_and_the_wire_compared",
            without_serial_log_scenarios_are_skipped_and_the_wire_compared,
        ),
        (
            "a_connection_reset_mid_frame_fails_that_scenario_and_the_next_starts_fresh",
            a_connection_reset_mid_frame_fails_that_scenario_and_the_next_starts_fresh,
        ),
        (
            "every_scenario_copes_with_a_link_that_cuts_writes_into_small_pieces",
            every_scenario_copes_with_a_link_that_cuts_writes_into_small_pieces,
        ),
    ];
    let netns: Vec<(&str, Test)> = vec![
        (
            "netns_board_test_passes_every_scenario_behind_wifi_like_impairment",
            board_test_passes_every_scenario_in_a_namespace_behind_wifi_like_impairment,
        ),
        (
            "netns_cutting_the_link_mid_scenario_fails_cleanly_within_its_timeout",
            cutting_the_link_mid_scenario_fails_cleanly_within_its_timeout,
        ),
    ];
    let why = netns_unavailable();
    if let Some(w) = &why {
        eprintln!(
            "\n!!! the network-namespace board tests cannot run here: {w}.\n!!! They are listed as ignored; CI runs them as root.\n"
        );
    }
    let mut trials: Vec<Trial> = plain.into_iter().map(|(n, f)| Trial::test(n, f)).collect();
    for (n, f) in netns {
        trials.push(Trial::test(n, f).with_ignored_flag(why.is_some()));
    }
    libtest_mimic::run(&args, trials).exit();
}
