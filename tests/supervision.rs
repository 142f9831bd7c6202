//! Child targets end to end, with real processes: `esp-ws run --target exec`
//! running `esp-ws sim` goes through the same launch, serial capture,
//! readiness, crash detection and teardown as QEMU; and no child survives
//! any way esp-ws can end (success, failure, SIGINT, SIGTERM, SIGKILL, a
//! panic).

mod common;

use common::{ESP_WS, Reap, default_profile_scenarios, esp_ws, root, text, write};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Is `pid` a live process (not gone, not a zombie)?
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // "pid (comm) S ...": the state follows the last ')'.
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    }
}

/// The child of `pid` whose command line begins with `argv` (so that the
/// guard esp-ws forks for a child's process group, a copy of esp-ws with
/// esp-ws's command line, or a shell's fork before its exec is not taken
/// for the program).
fn child_running(pid: i32, argv: &[&str]) -> Option<i32> {
    children_of(pid).into_iter().find(|&c| {
        std::fs::read_to_string(format!("/proc/{c}/cmdline")).is_ok_and(|cmd| {
            let args: Vec<&str> = cmd.split('\0').take(argv.len()).collect();
            args == argv
        })
    })
}

fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(c) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(c.split_whitespace().filter_map(|s| s.parse::<i32>().ok()));
            }
        }
    }
    out
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn every_scenario_passes_against_esp_ws_sim_run_as_a_child() {
    let t = tempfile::tempdir().unwrap();
    let out = esp_ws()
        .current_dir(root())
        .args([
            "run",
            "scenarios",
            "--target",
            "exec",
            "--jobs",
            "2",
            "--artifacts",
        ])
        .arg(t.path())
        .args([
            "--",
            ESP_WS,
            "sim",
            "--port",
            "{port}",
            "--log-level",
            "debug",
        ])
        .output()
        .unwrap();
    let o = text(&out.stdout);
    assert!(out.status.success(), "{o}\n{}", text(&out.stderr));
    assert!(
        o.contains(&format!(
            "\n{} passed, 0 failed\n",
            default_profile_scenarios()
        )),
        "{o}"
    );
    assert!(o.contains("against the program "), "{o}");
}

/// The program of `--target exec` on a port of its own choosing (no
/// `{port}`): every scenario runs on its one instance, with a note saying
/// why there is one, however many cores there are.
#[test]
fn a_fixed_port_runs_the_whole_suite_on_one_instance() {
    let t = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let out = esp_ws()
        .current_dir(root())
        .args(["run", "scenarios", "--target", "exec", "--jobs", "4"])
        .args(["--port", &port, "--artifacts"])
        .arg(t.path())
        .args(["--", ESP_WS, "sim", "--port", &port, "--log-level", "debug"])
        .output()
        .unwrap();
    let o = text(&out.stdout);
    assert!(out.status.success(), "{o}\n{}", text(&out.stderr));
    assert!(
        o.contains(&format!(
            "1 instance: the program serves on the fixed port {port}"
        )),
        "{o}"
    );
    assert!(o.contains(", 1 instance\n"), "{o}");
    assert!(
        o.contains(&format!(
            "\n{} passed, 0 failed\n",
            default_profile_scenarios()
        )),
        "{o}"
    );
}

/// A firmware built at INFO level (as a board is flashed by default): the
/// scenarios whose snapshots hold debug lines are skipped, saying why, and
/// the others pass.
#[test]
fn a_firmware_that_logs_at_info_skips_the_scenarios_that_need_debug_lines() {
    let t = tempfile::tempdir().unwrap();
    let out = esp_ws()
        .current_dir(root())
        .args(["run", "scenarios", "--target", "exec", "--artifacts"])
        .arg(t.path())
        .args(["--", ESP_WS, "sim", "--port", "{port}"])
        .output()
        .unwrap();
    let o = text(&out.stdout);
    assert!(out.status.success(), "{o}\n{}", text(&out.stderr));
    let (all, at_info) = common::default_profile_scenarios_at_info();
    assert!(at_info < all, "some default scenarios need debug lines");
    assert!(
        o.contains(&format!("\n{at_info} passed, 0 failed\n")),
        "{o}"
    );
    assert!(
        o.contains(
            "it needs debug lines, but the firmware logs at info; CONFIG_LOG_DEFAULT_LEVEL_DEBUG=y, the QEMU overlay's setting"
        ),
        "{o}"
    );
}

#[test]
fn a_fixed_port_works_as_in_the_readme() {
    let t = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let out = esp_ws()
        .current_dir(root())
        .args([
            "run",
            "scenarios/esp-http-server/frame-echo-text.json",
            "--target",
            "exec",
            "--port",
            &port,
            "--artifacts",
        ])
        .arg(t.path())
        .args(["--", ESP_WS, "sim", "--port", &port])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("\n1 passed, 0 failed\n"));
    // The program's command line and serial log are kept.
    let run = std::fs::read_dir(t.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let cmd = std::fs::read_to_string(run.join("exec-1/command.txt")).unwrap();
    assert!(cmd.contains(&format!("sim --port {port}")), "{cmd}");
    let serial = std::fs::read_to_string(run.join("exec-1/serial.log")).unwrap();
    assert!(
        serial.contains("Got packet with message: hello"),
        "{serial}"
    );
}

#[test]
fn a_firmware_panic_without_reboot_ends_the_run_quoting_the_panic() {
    let t = tempfile::tempdir().unwrap();
    let sc = t.path().join("sc");
    write(
        &sc.join("a-boom.json"),
        r#"{"version": 1, "steps": [{"open": {}}, {"send": {"text": "boom"}}, {"expect_frame": {"text": "boom"}}]}"#,
    );
    write(
        &sc.join("b-after.json"),
        r#"{"version": 1, "steps": [{"open": {}}]}"#,
    );
    let art = t.path().join("art");
    let out = esp_ws()
        .arg("run")
        .arg(&sc)
        .args(["--target", "exec", "--jobs", "1", "--artifacts"])
        .arg(&art)
        .args([
            "--",
            ESP_WS,
            "sim",
            "--port",
            "{port}",
            "--panic-on-message",
            "boom",
            "--no-reboot",
        ])
        .output()
        .unwrap();
    let o = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{o}");
    assert!(o.contains("exec#1: the firmware crashed"), "{o}");
    assert!(o.contains("it did not reboot"), "{o}");
    assert!(
        o.contains(
            "Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled."
        ),
        "{o}"
    );
    assert!(o.contains("SKIP"), "{o}");
    assert!(o.contains("not run: the target crashed earlier"), "{o}");
    assert!(o.contains("artifacts: "), "{o}");
}

/// A chip that reboots after its panic (a board, the simulator by default)
/// fails the scenario that crashed it and serves the next one.
#[test]
fn after_a_panic_reboot_the_run_goes_on_with_the_next_scenario() {
    let t = tempfile::tempdir().unwrap();
    let sc = t.path().join("sc");
    write(
        &sc.join("a-boom.json"),
        r#"{"version": 1, "steps": [{"open": {}}, {"send": {"text": "boom"}}, {"expect_frame": {"text": "boom"}}]}"#,
    );
    write(
        &sc.join("b-after.json"),
        r#"{"version": 1, "steps": [{"open": {}}, {"send": {"text": "hi"}}, {"expect_frame": {"text": "hi"}}]}"#,
    );
    let art = t.path().join("art");
    let out = esp_ws()
        .arg("run")
        .arg(&sc)
        .args(["--target", "exec", "--jobs", "1", "--accept", "--artifacts"])
        .arg(&art)
        .args([
            "--",
            ESP_WS,
            "sim",
            "--port",
            "{port}",
            "--panic-on-message",
            "boom",
        ])
        .output()
        .unwrap();
    let o = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{o}");
    assert!(o.contains("exec#1: the firmware crashed"), "{o}");
    assert!(o.contains("exec#1: the firmware rebooted"), "{o}");
    assert!(o.contains("1 passed"), "{o}");
    assert!(o.contains("1 failed"), "{o}");
    assert!(!o.contains("not run"), "{o}");
    // The serial log shows the reset as an ESP32 prints it.
    let run = std::fs::read_dir(&art)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let serial = std::fs::read_to_string(run.join("exec-1/serial.log")).unwrap();
    let reset = serial.find("rst:0xc (SW_CPU_RESET)").expect(&serial);
    assert!(serial[..reset].contains("Rebooting..."), "{serial}");
    assert!(
        serial[reset..].contains("Returned from app_main()"),
        "{serial}"
    );
}

#[test]
fn a_program_that_dies_at_start_is_reported_with_its_last_words() {
    let t = tempfile::tempdir().unwrap();
    let out = esp_ws()
        .current_dir(root())
        .args([
            "run",
            "scenarios/esp-http-server/frame-echo-text.json",
            "--target",
            "exec",
            "--artifacts",
        ])
        .arg(t.path())
        .args([
            "--",
            "sh",
            "-c",
            "echo 'I (10) boot: starting'; echo 'bad config' >&2; exit 3",
            "{port}",
        ])
        .output()
        .unwrap();
    let e = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains("exec#1: the process exited (exit status: 3)"),
        "{e}"
    );
    assert!(e.contains("bad config"), "{e}");
}

#[test]
fn a_target_that_never_gets_ready_is_stopped_after_the_boot_timeout() {
    let t = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let out = esp_ws()
        .current_dir(root())
        .args([
            "run",
            "scenarios/esp-http-server/frame-echo-text.json",
            "--target",
            "exec",
            "--boot-timeout",
            "1s",
            "--artifacts",
        ])
        .arg(t.path())
        .args([
            "--",
            "sh",
            "-c",
            "echo 'I (10) main_task: Calling app_main()'; exec sleep 60",
            "{port}",
        ])
        .output()
        .unwrap();
    let e = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("exec#1: not ready after 1s"), "{e}");
    assert!(e.contains("IPv4 address"), "{e}");
    assert!(e.contains("Calling app_main()"), "{e}");
    assert!(e.contains("full log: "), "{e}");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "the 60 s sleep was waited for"
    );
}

/// Starts `esp-ws run --target exec -- esp-ws sim` on a scenario that sleeps,
/// and returns esp-ws and the pid of its sim child once the run is under way.
fn start_sleeping_run(t: &Path) -> (Reap, i32) {
    start_sleeping_run_of(t, &[ESP_WS, "sim", "--port", "{port}"])
}

/// [`start_sleeping_run`] with `program` as the target (it must run
/// `esp-ws sim` on `{port}`, at some depth): returns esp-ws and its direct
/// child (found by the program's first two words) once the run is under
/// way.
fn start_sleeping_run_of(t: &Path, program: &[&str]) -> (Reap, i32) {
    let sc = t.join("sleepy.json");
    write(
        &sc,
        r#"{"version": 1, "steps": [{"open": {}}, {"sleep": {"ms": 30000}}]}"#,
    );
    let mut child = esp_ws()
        .arg("run")
        .arg(&sc)
        .args(["--target", "exec", "--artifacts"])
        .arg(t.join("art"))
        .arg("--")
        .args(program)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    // The run is under way once it announces itself; the sim child is up by
    // then (readiness came from its log).
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("Starting"), "{first}");
    std::thread::spawn(move || for _ in lines {});
    let mut target = None;
    wait_until("the target child", Duration::from_secs(20), || {
        target = child_running(pid, &program[..2]);
        target.is_some()
    });
    // Let the scenario reach its sleep.
    std::thread::sleep(Duration::from_millis(500));
    (Reap(child), target.unwrap())
}

/// A process the test itself kills on its way out, whether it passed or not.
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if alive(self.0) {
            let _ = Command::new("kill")
                .args(["-KILL", &self.0.to_string()])
                .status();
        }
    }
}

fn signal(pid: i32, sig: &str) {
    assert!(
        Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

fn ends_within(mut esp: Reap, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = esp.0.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "esp-ws did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_stops_the_child_and_exits_143() {
    let t = tempfile::tempdir().unwrap();
    let (esp, sim) = start_sleeping_run(t.path());
    assert!(alive(sim));
    signal(esp.0.id() as i32, "-TERM");
    let status = ends_within(esp, Duration::from_secs(20));
    assert_eq!(status.code(), Some(143));
    wait_until("the sim child to be gone", Duration::from_secs(5), || {
        !alive(sim)
    });
}

#[test]
fn sigint_stops_the_child_and_exits_130() {
    let t = tempfile::tempdir().unwrap();
    let (esp, sim) = start_sleeping_run(t.path());
    signal(esp.0.id() as i32, "-INT");
    let status = ends_within(esp, Duration::from_secs(20));
    assert_eq!(status.code(), Some(130));
    wait_until("the sim child to be gone", Duration::from_secs(5), || {
        !alive(sim)
    });
}

#[test]
fn sigkill_of_esp_ws_still_takes_the_child_down() {
    let t = tempfile::tempdir().unwrap();
    let (esp, sim) = start_sleeping_run(t.path());
    signal(esp.0.id() as i32, "-KILL");
    ends_within(esp, Duration::from_secs(5));
    // PR_SET_PDEATHSIG: the kernel kills the orphan.
    wait_until("the sim child to be gone", Duration::from_secs(5), || {
        !alive(sim)
    });
}

/// The parent-death signal reaches only the direct child (here bash), so
/// the `esp-ws sim` that bash started must be taken down by the guard
/// process that holds the child's process group (process.rs).
#[test]
fn sigkill_of_esp_ws_takes_the_grandchildren_down_too() {
    let t = tempfile::tempdir().unwrap();
    // Not the last command of the script, so bash forks for it instead of
    // replacing itself: the sim is bash's child, esp-ws's grandchild.
    let script = format!("{ESP_WS} sim --port \"$0\" --log-level debug; echo done");
    let (esp, bash) = start_sleeping_run_of(t.path(), &["bash", "-c", &script, "{port}"]);
    let mut sim = None;
    wait_until("the sim grandchild", Duration::from_secs(20), || {
        sim = child_running(bash, &[ESP_WS, "sim"]);
        sim.is_some()
    });
    // Should the guard fail, the test must not leave the sim behind.
    let sim = sim.unwrap();
    let _cleanup = KillOnDrop(sim);
    assert!(alive(sim));
    signal(esp.0.id() as i32, "-KILL");
    ends_within(esp, Duration::from_secs(5));
    wait_until(
        "the sim grandchild to be gone",
        Duration::from_secs(5),
        || !alive(sim),
    );
    wait_until("the bash child to be gone", Duration::from_secs(5), || {
        !alive(bash)
    });
}

#[test]
fn the_child_is_gone_after_a_normal_run() {
    let t = tempfile::tempdir().unwrap();
    let mut child = esp_ws()
        .current_dir(root())
        .args([
            "run",
            "scenarios/esp-http-server/frame-echo-text.json",
            "--target",
            "exec",
            "--artifacts",
        ])
        .arg(t.path())
        .args(["--", ESP_WS, "sim", "--port", "{port}"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut seen = Vec::new();
    let status = loop {
        seen.extend(children_of(pid));
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success());
    seen.sort();
    seen.dedup();
    assert!(!seen.is_empty(), "never saw the sim child");
    for c in seen {
        assert!(!alive(c), "child {c} survived");
    }
}

/// A stand-in for Espressif's QEMU: it answers the probes like the real one
/// and, when launched, checks the drives it was given and runs `esp-ws sim`
/// on the forwarded host port (UART0 on stdout, like `-serial mon:stdio`).
fn qemu_stand_in(dir: &Path, version: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("qemu-system-xtensa");
    let script = format!(
        r#"#!/bin/sh
case "$1" in
--version) echo "QEMU emulator version {version}"; exit 0;;
-machine) printf 'Supported machines are:\nesp32                Espressif ESP32 machine\nesp32s3              Espressif ESP32-S3 machine\n'; exit 0;;
esac
for a in "$@"; do
  case "$a" in
  *hostfwd=tcp:127.0.0.1:*) port=${{a#*hostfwd=tcp:127.0.0.1:}}; port=${{port%%-*}};;
  file=*if=mtd*) flash=${{a#file=}}; flash=${{flash%%,*}};;
  file=*id=efuse*) efuse=${{a#file=}}; efuse=${{efuse%%,*}};;
  esac
done
[ "$(wc -c < "$flash")" -eq 4194304 ] || {{ echo "qemu: flash image is not 4MB" >&2; exit 1; }}
[ "$(wc -c < "$efuse")" -eq 124 ] || {{ echo "qemu: efuse file is not 124 bytes" >&2; exit 1; }}
exec {esp_ws} sim --port "$port" --log-level debug
"#,
        esp_ws = ESP_WS
    );
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn the_qemu_launch_path_boots_a_build_directory_and_passes() {
    let t = tempfile::tempdir().unwrap();
    let build = t.path().join("build");
    std::fs::create_dir_all(&build).unwrap();
    esp_ws_image::synthetic::write_build_dir(&build, "4MB").unwrap();
    let before: Vec<_> = std::fs::read_dir(&build)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let qemu = qemu_stand_in(t.path(), "9.2.2 (esp_develop_9.2.2_20250817)");
    let art = t.path().join("art");
    let out = esp_ws()
        .current_dir(root())
        .args([
            "run",
            "scenarios/esp-http-server/frame-echo-text.json",
            "scenarios/esp-http-server/recorded-v5.5.5-text-echo.json",
            "--target",
            "qemu",
            "--jobs",
            "1",
        ])
        .arg("--qemu")
        .arg(&qemu)
        .arg("--firmware")
        .arg(&build)
        .arg("--artifacts")
        .arg(&art)
        .output()
        .unwrap();
    let o = text(&out.stdout);
    assert!(out.status.success(), "{o}\n{}", text(&out.stderr));
    assert!(
        o.contains("which accepts 2MB, 4MB, 8MB, 16MB flash images"),
        "{o}"
    );
    assert!(o.contains("\n2 passed, 0 failed\n"), "{o}");
    let run = std::fs::read_dir(&art)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let inst = run.join("qemu-1");
    let flash = std::fs::read(inst.join("flash.bin")).unwrap();
    assert_eq!(flash.len(), 4 << 20);
    let boot = esp_ws_image::synthetic::bootloader(0);
    assert_eq!(&flash[0x1000..0x1000 + boot.len()], boot.as_slice());
    assert!(flash[..0x1000].iter().all(|&b| b == 0xFF));
    assert_eq!(
        std::fs::read(inst.join("efuse.bin")).unwrap(),
        esp_ws_image::esp32_default_efuse()
    );
    let cmd = std::fs::read_to_string(inst.join("qemu-command.txt")).unwrap();
    for want in [
        "-M esp32 -m 4M",
        "if=mtd,format=raw",
        "driver=nvram.esp32.efuse,property=drive,value=efuse",
        "driver=timer.esp32.timg,property=wdt_disable,value=true",
        "user,model=open_eth,hostfwd=tcp:127.0.0.1:",
        "-nographic -serial mon:stdio -no-reboot -qmp tcp:127.0.0.1:",
    ] {
        assert!(cmd.contains(want), "{want:?} not in {cmd}");
    }
    // The user's build directory was only read.
    let after: Vec<_> = std::fs::read_dir(&build)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after);
}

#[test]
fn an_image_size_the_qemu_version_refuses_is_an_input_error() {
    let t = tempfile::tempdir().unwrap();
    let build = t.path().join("build");
    std::fs::create_dir_all(&build).unwrap();
    esp_ws_image::synthetic::write_build_dir(&build, "2MB").unwrap();
    let qemu = qemu_stand_in(t.path(), "7.2.0 (esp_develop_7.2.0_20230223)");
    let out = esp_ws()
        .current_dir(root())
        .args([
            "run",
            "scenarios/esp-http-server/frame-echo-text.json",
            "--target",
            "qemu",
        ])
        .arg("--qemu")
        .arg(&qemu)
        .arg("--firmware")
        .arg(&build)
        .arg("--artifacts")
        .arg(t.path().join("art"))
        .output()
        .unwrap();
    let e = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("the flash image is 2MB"), "{e}");
    assert!(e.contains("accepts 4MB images only"), "{e}");
}

/// `qemu-test` in a checkout where nothing was built yet: the error says
/// what to build and what to pass.
#[test]
fn a_missing_firmware_says_how_to_build_it() {
    let t = tempfile::tempdir().unwrap();
    let qemu = qemu_stand_in(t.path(), "9.2.2 (esp_develop_9.2.2_20250817)");
    let out = esp_ws()
        .current_dir(t.path())
        .args(["run", "--target", "qemu", "--qemu"])
        .arg(&qemu)
        .arg(root().join("scenarios/esp-http-server/frame-echo-text.json"))
        .output()
        .unwrap();
    let e = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains("--firmware build: no such build directory or flash image (--firmware is ./build unless given)"),
        "{e}"
    );
    assert!(e.contains("cargo xtask build-firmware"), "{e}");
    assert!(e.contains("--firmware build-qemu"), "{e}");
}

#[test]
fn flash_image_assembles_a_build_directory_and_rejects_a_broken_one() {
    let t = tempfile::tempdir().unwrap();
    let build = t.path().join("build");
    std::fs::create_dir_all(&build).unwrap();
    esp_ws_image::synthetic::write_build_dir(&build, "4MB").unwrap();
    let out_file = t.path().join("flash.bin");
    let out = esp_ws()
        .arg("flash-image")
        .arg(&build)
        .arg("-o")
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::metadata(&out_file).unwrap().len(), 4 << 20);
    let o = text(&out.stdout);
    assert!(
        o.contains("0x010000") && o.contains("ws_echo_server.bin"),
        "{o}"
    );
    assert!(o.contains("partition factory"), "{o}");
    // Truncate the app: the error names the file and its offset.
    let app = build.join("ws_echo_server.bin");
    let bytes = std::fs::read(&app).unwrap();
    std::fs::write(&app, &bytes[..100]).unwrap();
    let out = esp_ws()
        .arg("flash-image")
        .arg(&build)
        .arg("-o")
        .arg(&out_file)
        .output()
        .unwrap();
    let e = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("ws_echo_server.bin at 0x10000"), "{e}");
}
