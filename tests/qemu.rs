//! The QEMU side, checked against a real `qemu-system-xtensa`: Debian's
//! (qemu-system-misc) is real QEMU without Espressif's `esp32` machine, so it
//! shows the "not Espressif's build" path, a taken forwarding port, QMP,
//! signals and `-no-reboot` (on its `lx60` machine). These tests are listed
//! as ignored, with the reason, where no `qemu-system-xtensa` is installed;
//! `.ci/run` installs it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use esp_ws_dut::process::{StopTimeouts, Stopped};
use esp_ws_dut::qemu::{self, Qmp};
use libtest_mimic::{Arguments, Failed, Trial};

mod common;

use common::{check, rt};

fn find_on_path() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(qemu::BINARY))
        .find(|p| p.exists())
}

/// Debian's machine for these tests: `-S` keeps the CPU stopped, so it
/// idles until told otherwise.
fn lx60(qemu: &Path, host_port: u16, qmp_port: u16) -> Vec<String> {
    let mut v: Vec<String> = vec![qemu.display().to_string()];
    v.extend(
        [
            "-M",
            "lx60",
            "-S",
            "-nic",
            &format!("user,model=open_eth,hostfwd=tcp:127.0.0.1:{host_port}-:80"),
            "-nographic",
            "-serial",
            "mon:stdio",
            "-no-reboot",
            "-qmp",
            &format!("tcp:127.0.0.1:{qmp_port},server,wait=off"),
        ]
        .map(String::from),
    );
    v
}

fn stock_qemu_is_not_espressifs(q: &Path) -> Result<(), Failed> {
    let s = qemu::Search {
        explicit: Some(("--qemu".into(), q.to_path_buf())),
        ..Default::default()
    };
    let err = qemu::find(&s)
        .err()
        .ok_or("Debian's QEMU was taken for Espressif's")?
        .to_string();
    check(err.contains("QEMU with the esp32 machine not found"), &err)?;
    check(err.contains("QEMU emulator version 7."), &err)?;
    check(err.contains("lx60"), &err)?;
    check(err.contains("(no esp32: not Espressif's build)"), &err)
}

fn qemu_test_says_where_it_looked(_q: &Path) -> Result<(), Failed> {
    let out = Command::new(env!("CARGO_BIN_EXE_esp-ws"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "scenarios", "--target", "qemu"])
        .env_remove("ESP_WS_QEMU")
        .env_remove("IDF_TOOLS_PATH")
        .env("HOME", "/nonexistent")
        .output()?;
    let e = String::from_utf8_lossy(&out.stderr);
    check(
        out.status.code() == Some(2),
        format!("exit {:?}: {e}", out.status.code()),
    )?;
    check(
        e.contains("error: QEMU with the esp32 machine not found"),
        e.to_string(),
    )?;
    check(
        e.contains("PATH: ") && e.contains("no esp32"),
        e.to_string(),
    )?;
    check(e.contains("ESP_WS_QEMU: not set"), e.to_string())?;
    check(
        e.contains("idf_tools.py install qemu-xtensa"),
        e.to_string(),
    )
}

fn a_taken_port_is_retried_with_another(q: &Path) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let taken = TcpListener::bind("127.0.0.1:0")?;
    let port = taken.local_addr()?.port();
    let qmp = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    rt().block_on(async {
        let started = esp_ws_dut::spawn_qemu(
            "qemu#t",
            |h, m| lx60(q, h, m),
            dir.path(),
            Some((port, qmp)),
        )
        .await
        .map_err(Failed::from)?;
        check(started.host_port != port, "the taken port was used")?;
        let stopped = started
            .child
            .stop(Some(qemu::qmp_quit(started.qmp)), StopTimeouts::default())
            .await;
        check(
            matches!(stopped, Stopped::Graceful(s) if s.success()),
            format!("{stopped:?}"),
        )
    })
}

fn a_port_that_stays_taken_is_reported(q: &Path) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let taken = TcpListener::bind("127.0.0.1:0")?;
    let port = taken.local_addr()?.port();
    let r = rt().block_on(esp_ws_dut::spawn_qemu(
        "qemu#t",
        |_, m| lx60(q, port, m),
        dir.path(),
        None,
    ));
    let err = r
        .err()
        .ok_or("QEMU started although its port was taken")?
        .to_string();
    check(err.contains("could not forward a host port"), &err)?;
    check(
        err.contains(&format!(
            "Could not set up host forwarding rule 'tcp:127.0.0.1:{port}-:80'"
        )),
        &err,
    )
}

fn qmp_speaks_and_quits(q: &Path) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    rt().block_on(async {
        let started = esp_ws_dut::spawn_qemu("qemu#t", |h, m| lx60(q, h, m), dir.path(), None)
            .await
            .map_err(Failed::from)?;
        let mut qmp = Qmp::connect(started.qmp).await?;
        let status = qmp.execute("query-status").await?;
        check(status["status"] == "prelaunch", format!("{status}"))?;
        drop(qmp);
        let stopped = started
            .child
            .stop(Some(qemu::qmp_quit(started.qmp)), StopTimeouts::default())
            .await;
        check(
            matches!(stopped, Stopped::Graceful(s) if s.success()),
            format!("{stopped:?}"),
        )
    })
}

fn sigterm_stops_qemu(q: &Path) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    rt().block_on(async {
        let started = esp_ws_dut::spawn_qemu("qemu#t", |h, m| lx60(q, h, m), dir.path(), None)
            .await
            .map_err(Failed::from)?;
        // No graceful step: straight to SIGTERM.
        let stopped = started
            .child
            .stop(None::<std::future::Ready<()>>, StopTimeouts::default())
            .await;
        check(
            matches!(stopped, Stopped::Terminated(_)),
            format!("{stopped:?}"),
        )?;
        let stderr = started.child.stderr_tail();
        check(stderr.contains("terminating on signal 15"), stderr)
    })
}

fn no_reboot_turns_a_reset_into_an_exit(q: &Path) -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    rt().block_on(async {
        let started = esp_ws_dut::spawn_qemu("qemu#t", |h, m| lx60(q, h, m), dir.path(), None)
            .await
            .map_err(Failed::from)?;
        let mut qmp = Qmp::connect(started.qmp).await?;
        // QEMU may shut down before its reply is written: a reset or closed
        // connection is as good an answer as the reply.
        if let Err(e) = qmp.execute("system_reset").await {
            use std::io::ErrorKind::*;
            check(
                matches!(e.kind(), ConnectionReset | UnexpectedEof | BrokenPipe),
                format!("system_reset: {e}"),
            )?;
        }
        let exited = started.child.wait_exit(Duration::from_secs(10)).await;
        check(exited.is_some_and(|s| s.success()), format!("{exited:?}"))
    })
}

/// One test against the QEMU binary found on PATH.
type QemuTest = fn(&Path) -> Result<(), Failed>;

fn main() {
    let args = Arguments::from_args();
    let qemu = find_on_path();
    let tests: Vec<(&str, QemuTest)> = vec![
        ("stock_qemu_is_not_espressifs", stock_qemu_is_not_espressifs),
        (
            "qemu_test_says_where_it_looked",
            qemu_test_says_where_it_looked,
        ),
        (
            "a_taken_port_is_retried_with_another",
            a_taken_port_is_retried_with_another,
        ),
        (
            "a_port_that_stays_taken_is_reported",
            a_port_that_stays_taken_is_reported,
        ),
        ("qmp_speaks_and_quits", qmp_speaks_and_quits),
        ("sigterm_stops_qemu", sigterm_stops_qemu),
        (
            "no_reboot_turns_a_reset_into_an_exit",
            no_reboot_turns_a_reset_into_an_exit,
        ),
    ];
    if qemu.is_none() {
        eprintln!(
            "qemu tests: no {} on PATH; they are listed as ignored (apt-get install qemu-system-misc)",
            qemu::BINARY
        );
    }
    let trials = tests
        .into_iter()
        .map(|(name, f)| {
            let q = qemu.clone();
            Trial::test(name, move || match &q {
                Some(q) => f(q),
                None => Err(format!("{} is not installed", qemu::BINARY).into()),
            })
            .with_ignored_flag(qemu.is_none())
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
