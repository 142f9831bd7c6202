//! A firmware developer's loop with `esp-ws run`: picking scenarios by name
//! (`--filter`, `--skip`, `--list`), re-running the last failures, progress
//! in a CI log, and colour only where it is wanted.

mod common;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::process::Output;
use std::time::{Duration, Instant};

use common::{esp_ws, root, text, write};

fn run(cmd: &mut std::process::Command) -> Output {
    cmd.output().expect("esp-ws runs")
}

/// Every scenario name under scenarios/, read from the files as a user
/// would read them (the `name` field, else the file name).
fn all_names() -> BTreeSet<String> {
    let found = esp_ws_runner::discover::find(&[root().join("scenarios")]).unwrap();
    esp_ws_runner::discover::load(&found.files)
        .unwrap()
        .into_iter()
        .map(|s| s.scenario.name)
        .collect()
}

/// The names `run --list` printed (a name line starts in column 0; its
/// description follows indented; the count ends the list).
fn listed(out: &Output) -> BTreeSet<String> {
    let stdout = text(&out.stdout);
    let mut lines: Vec<&str> = stdout.lines().filter(|l| !l.starts_with(' ')).collect();
    let last = lines.pop().unwrap_or_default();
    assert!(
        last.ends_with("scenarios") || last.ends_with("scenario"),
        "{stdout}"
    );
    lines
        .iter()
        .map(|l| l.split("  ").next().unwrap().to_string())
        .collect()
}

#[test]
fn filter_echo_list_lists_exactly_the_scenarios_whose_names_contain_echo() {
    let out = run(esp_ws()
        .current_dir(root())
        .args(["run", "--filter", "echo", "--list"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let want: BTreeSet<String> = all_names()
        .into_iter()
        .filter(|n| n.contains("echo"))
        .collect();
    assert!(want.len() > 3, "{want:?}");
    assert_eq!(listed(&out), want);
    let stdout = text(&out.stdout);
    assert!(
        stdout.ends_with(&format!("\n{} scenarios\n", want.len())),
        "{stdout}"
    );
    // Each line names the file and the profiles the scenario applies to.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("frame-echo-text  "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.contains("scenarios/esp-http-server/frame-echo-text.json")
            && line.contains("v5.5.5")
            && !line.contains("netconn-hx"),
        "{line}"
    );
}

#[test]
fn skip_and_globs_narrow_the_list_and_a_pattern_matching_nothing_is_an_error() {
    let out = run(esp_ws()
        .current_dir(root())
        .args(["run", "--filter", "frame-*", "--skip", "echo", "--list"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let want: BTreeSet<String> = all_names()
        .into_iter()
        .filter(|n| n.starts_with("frame-") && !n.contains("echo"))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(listed(&out), want);

    let none = run(esp_ws()
        .current_dir(root())
        .args(["run", "-k", "no-such-scenario"]));
    assert_eq!(none.status.code(), Some(2));
    assert!(
        text(&none.stderr).contains("matches --filter [\"no-such-scenario\"]"),
        "{}",
        text(&none.stderr)
    );
    // A name where a path goes: the error says how to pick by name.
    let name = run(esp_ws()
        .current_dir(root())
        .args(["run", "frame-echo-text"]));
    assert_eq!(name.status.code(), Some(2));
    assert!(
        text(&name.stderr).contains(
            "tip: to pick scenarios by name, use --filter: esp-ws run --filter frame-echo-text"
        ),
        "{}",
        text(&name.stderr)
    );
    let bad = run(esp_ws()
        .current_dir(root())
        .args(["run", "--filter", "frame-[", "--list"]));
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("\"frame-[\" is not a valid glob"),
        "{}",
        text(&bad.stderr)
    );
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
fn rerun_failed_runs_what_the_last_run_failed_and_nothing_once_it_passes() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    write(
        &scenarios.join("good.json"),
        &ECHO.replace("EXPECTED", "hello"),
    );
    write(
        &scenarios.join("bad.json"),
        &ECHO.replace("EXPECTED", "goodbye"),
    );
    let art = dir.path().join("art");
    let esp = || {
        let mut c = esp_ws();
        c.arg("run")
            .arg(&scenarios)
            .arg("--accept")
            .arg("--artifacts")
            .arg(&art);
        c
    };
    // Without a finished run there is nothing to re-run: the error says
    // where it looked.
    let early = run(esp().arg("--rerun-failed"));
    assert_eq!(early.status.code(), Some(2));
    assert!(
        text(&early.stderr).contains("no finished run under"),
        "{}",
        text(&early.stderr)
    );

    let first = run(&mut esp());
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stdout));
    let again = run(esp().arg("--rerun-failed"));
    let stdout = text(&again.stdout);
    assert_eq!(again.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("Starting 1 scenario against"), "{stdout}");
    assert!(
        stdout.contains("FAIL") && stdout.contains("] bad"),
        "{stdout}"
    );
    assert!(!stdout.contains("] good"), "{stdout}");

    // Fixed: the re-run passes, and after it nothing is left to re-run.
    write(
        &scenarios.join("bad.json"),
        &ECHO.replace("EXPECTED", "hello"),
    );
    let fixed = run(esp().arg("--rerun-failed"));
    assert!(fixed.status.success(), "{}", text(&fixed.stdout));
    assert!(text(&fixed.stdout).contains("1 passed, 0 failed"));
    let done = run(esp().arg("--rerun-failed"));
    assert!(done.status.success());
    assert!(
        text(&done.stdout).contains("failed no scenario: nothing to run"),
        "{}",
        text(&done.stdout)
    );
}

/// A board address that accepts connections and never answers: `run`,
/// piped as in CI, says every few seconds what it waits for and for how
/// long.
#[test]
fn a_piped_run_waiting_on_a_silent_board_prints_progress_lines() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Hold every connection open, saying nothing, until the test ends.
    let holder = std::thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let mut held = Vec::new();
        let end = Instant::now() + Duration::from_secs(30);
        while Instant::now() < end {
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
            if held.len() > 10 {
                break;
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = run(esp_ws().current_dir(root()).args([
        "run",
        "scenarios/esp-http-server/frame-echo-text.json",
        "--target",
        "board",
        "--host",
        &addr.to_string(),
        "--boot-timeout",
        "12s",
        "--artifacts",
        dir.path().to_str().unwrap(),
    ]));
    assert!(started.elapsed() < Duration::from_secs(30));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let waiting: Vec<&str> = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("Waiting board#1 for "))
        .collect();
    assert!(waiting.len() >= 2, "{stderr}");
    assert!(
        waiting[0].contains(&format!("a WebSocket handshake with {addr}, attempt")),
        "{stderr}"
    );
    // How long, growing.
    let secs: Vec<u64> = waiting
        .iter()
        .map(|l| {
            l.split(" for ")
                .nth(1)
                .unwrap()
                .split('s')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        secs.windows(2).all(|w| w[0] < w[1]) && secs[0] >= 5,
        "{secs:?}"
    );
    // Plain text in a pipe.
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    drop(holder);
}

fn has_ansi(s: &str) -> bool {
    s.contains("\x1b[")
}

const RED_BOLD: &str = "\x1b[1m\x1b[31m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

/// The run folder a run printed (it differs between runs).
fn run_dir(out: &Output) -> String {
    let stdout = String::from_utf8(strip_ansi(&out.stdout)).unwrap();
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("artifacts: "))
        .unwrap_or_else(|| panic!("{stdout}"))
        .to_string()
}

/// On a terminal, auto colours the verdicts; NO_COLOR turns that off.
#[test]
fn on_a_terminal_auto_colours_and_no_color_turns_it_off() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("good.json");
    write(&scenario, &ECHO.replace("EXPECTED", "hello"));
    let on_terminal = |no_color: bool| {
        let pty = common::Pty::open(false);
        let mut c = esp_ws();
        c.arg("run")
            .arg(&scenario)
            .arg("--accept")
            .arg("--artifacts")
            .arg(dir.path().join("art"))
            .stdin(std::process::Stdio::null())
            .stdout(pty.slave_stdio())
            .stderr(pty.slave_stdio());
        if no_color {
            c.env("NO_COLOR", "1");
        } else {
            c.env_remove("NO_COLOR").env("TERM", "xterm");
        }
        let child = common::Reap(c.spawn().unwrap());
        let shown = pty.read_until("artifacts:", Duration::from_secs(30));
        drop(child);
        shown
    };
    let coloured = on_terminal(false);
    assert!(
        coloured.contains("\x1b[1m\x1b[32mPASS\x1b[0m"),
        "{coloured:?}"
    );
    let plain = on_terminal(true);
    assert!(
        plain.contains("PASS") && !plain.contains("\x1b["),
        "{plain:?}"
    );
}

#[test]
fn color_is_off_in_a_pipe_on_when_asked_and_no_color_wins_over_auto() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("bad.json");
    write(&scenario, &ECHO.replace("EXPECTED", "goodbye"));
    let art = dir.path().join("art");
    let go = |extra: &[&str], no_color: bool| {
        let mut c = esp_ws();
        c.arg("run")
            .arg(&scenario)
            .arg("--artifacts")
            .arg(&art)
            .arg("-v")
            .args(extra);
        if no_color {
            c.env("NO_COLOR", "1");
        } else {
            c.env_remove("NO_COLOR");
        }
        run(&mut c)
    };
    let plain = go(&[], false);
    assert_eq!(plain.status.code(), Some(1));
    assert!(!has_ansi(&text(&plain.stdout)), "{}", text(&plain.stdout));
    // -v's diagnostics too.
    assert!(!text(&plain.stderr).is_empty());
    assert!(!has_ansi(&text(&plain.stderr)), "{:?}", text(&plain.stderr));

    let always = go(&["--color", "always"], false);
    let stdout = text(&always.stdout);
    // The verdict and the diff lines are coloured; the text is the same.
    assert!(
        stdout.contains(&format!("{RED_BOLD}FAIL{RESET}")),
        "{stdout:?}"
    );
    assert!(stdout.contains(&format!("{RED}- TEXT")), "{stdout:?}");
    assert!(
        has_ansi(&text(&always.stderr)),
        "{:?}",
        text(&always.stderr)
    );
    let stripped = String::from_utf8(strip_ansi(&always.stdout)).unwrap();
    assert!(stripped.contains("--- FAIL bad"), "{stripped}");
    // The same text as the plain run (times and the run folder aside).
    let times = regex::Regex::new(r"\[ *[0-9.]+s\]").unwrap();
    let same = |s: &str| times.replace_all(s, "[T]").into_owned();
    assert_eq!(
        same(&stripped),
        same(&text(&plain.stdout).replace(&run_dir(&plain), &run_dir(&always)))
    );

    let never = go(&["--color", "never"], false);
    assert!(!has_ansi(&text(&never.stdout)) && !has_ansi(&text(&never.stderr)));
    // An explicit choice stands over NO_COLOR (which sets the default).
    let no_color_always = go(&["--color", "always"], true);
    assert!(has_ansi(&text(&no_color_always.stdout)));

    // Diagnostics: `error:` is coloured only when asked.
    let err = run(esp_ws().args(["--color", "always", "run", "--partition", "0/1"]));
    assert_eq!(err.status.code(), Some(2));
    assert!(has_ansi(&text(&err.stderr)), "{:?}", text(&err.stderr));
    let err = run(esp_ws().args(["run", "--partition", "0/1"]));
    assert!(
        text(&err.stderr).starts_with("error: --partition 0/1"),
        "{:?}",
        text(&err.stderr)
    );
}

/// The bytes without ANSI escape sequences.
fn strip_ansi(b: &[u8]) -> Vec<u8> {
    let s = text(b);
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out.into_bytes()
}

/// `esp-ws init` in a firmware repository that has never seen esp-ws: a
/// first scenario that validates and runs (here against the simulator,
/// whose example serves /ws), a GitHub workflow with a QEMU job and, since
/// the project builds for the linux target, a linux job; nothing is
/// overwritten on a second run.
#[test]
fn init_scaffolds_a_scenario_that_runs_and_a_ci_workflow() {
    let repo = tempfile::tempdir().unwrap();
    let d = repo.path();
    write(
        &d.join("CMakeLists.txt"),
        "cmake_minimum_required(VERSION 3.16)\ninclude($ENV{IDF_PATH}/tools/cmake/project.cmake)\nproject(my_fw)\n",
    );
    write(
        &d.join("sdkconfig.defaults.linux"),
        "CONFIG_IDF_TARGET=\"linux\"\n",
    );
    let init = run(esp_ws().current_dir(d).args([
        "init",
        "--uri",
        "/ws",
        "--ci",
        "github",
        "--esp-ws-git",
        "https://git.example.com/tools/esp-ws.git",
    ]));
    assert!(init.status.success(), "{}", text(&init.stderr));
    let said = text(&init.stdout);
    assert!(said.contains("Wrote scenarios/ws-first.json"), "{said}");
    assert!(said.contains("linux-target job too"), "{said}");

    let validate = run(esp_ws().current_dir(d).args(["validate", "scenarios"]));
    assert!(validate.status.success(), "{}", text(&validate.stderr));
    let first = run(esp_ws()
        .current_dir(d)
        .args(["run", "scenarios", "--accept"]));
    assert!(first.status.success(), "{}", text(&first.stdout));
    assert!(
        text(&first.stdout).contains("PASS"),
        "{}",
        text(&first.stdout)
    );
    let snap = std::fs::read_to_string(d.join("scenarios/snapshots/ws-first.snap")).unwrap();
    assert!(snap.contains("hello from esp-ws"), "{snap}");

    let yaml = std::fs::read_to_string(d.join(".github/workflows/esp-ws.yml")).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&yaml)
        .unwrap_or_else(|e| panic!("not YAML: {e}\n{yaml}"));
    let wf = &docs[0];
    assert_eq!(
        wf["env"]["ESP_WS_GIT"].as_str(),
        Some("https://git.example.com/tools/esp-ws.git")
    );
    let steps = |job: &str| -> String {
        wf["jobs"][job]["steps"]
            .as_vec()
            .unwrap_or_else(|| panic!("no job {job}:\n{yaml}"))
            .iter()
            .filter_map(|s| s["run"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let qemu = steps("qemu");
    assert!(
        qemu.contains("esp-ws run scenarios --target qemu --firmware build-qemu")
            && qemu.contains("ci/sdkconfig.qemu")
            && qemu.contains("--junit"),
        "{qemu}"
    );
    let linux = steps("linux");
    assert!(
        linux.contains("--target exec") && linux.contains("-- build-linux/my_fw.elf"),
        "{linux}"
    );
    // The overlay the QEMU job builds with is the project's own.
    assert_eq!(
        std::fs::read_to_string(d.join("ci/sdkconfig.qemu")).unwrap(),
        std::fs::read_to_string(root().join("fixtures/qemu/sdkconfig.qemu")).unwrap()
    );

    // A second run keeps what is there.
    write(&d.join("scenarios/ws-first.json"), "{\"edited\": true}");
    let again = run(esp_ws().current_dir(d).args(["init"]));
    assert!(again.status.success());
    assert!(
        text(&again.stdout).contains("Kept scenarios/ws-first.json (it exists)"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(
        std::fs::read_to_string(d.join("scenarios/ws-first.json")).unwrap(),
        "{\"edited\": true}"
    );

    // Without a linux build there is no linux job, and the note says why.
    let plain = tempfile::tempdir().unwrap();
    let out = run(esp_ws().current_dir(plain.path()).args([
        "init",
        "--uri",
        "/chat",
        "--ci",
        "github",
        "--no-echo",
    ]));
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("no linux-target job"),
        "{}",
        text(&out.stdout)
    );
    let scenario = std::fs::read_to_string(plain.path().join("scenarios/chat-first.json")).unwrap();
    assert!(scenario.contains("\"path\": \"/chat\"") && !scenario.contains("expect_frame"));
    let yaml = std::fs::read_to_string(plain.path().join(".github/workflows/esp-ws.yml")).unwrap();
    let wf = &yaml_rust2::YamlLoader::load_from_str(&yaml).unwrap()[0];
    assert!(wf["jobs"]["linux"].is_badvalue());
    assert_eq!(
        wf["env"]["ESP_WS_GIT"].as_str(),
        Some("${{ vars.ESP_WS_GIT }}")
    );

    let bad = run(esp_ws()
        .current_dir(plain.path())
        .args(["init", "--uri", "ws"]));
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("--uri ws: expected a path starting with /"));
}

/// The README's `esp-ws run` section names every option `run --help` has.
#[test]
fn the_readme_lists_every_run_option() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("### `esp-ws run`").expect("the run section");
    let end = start + readme[start..].find("\n### ").expect("a next section");
    let section = &readme[start..end];
    let help = text(&run(esp_ws().args(["run", "--help"])).stdout);
    let flags: BTreeSet<&str> = help
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .collect();
    assert!(flags.len() > 25, "{flags:?}");
    let missing: Vec<&&str> = flags.iter().filter(|f| !section.contains(**f)).collect();
    assert!(
        missing.is_empty(),
        "README's `esp-ws run` section does not mention {missing:?}"
    );
}
