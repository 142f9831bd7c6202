//! A panic anywhere in esp-ws kills every supervised child before the
//! process exits. The test runs itself again as a child process that
//! starts a child of its own and then panics on another thread.

use std::io::Write;
use std::process::Command;

use esp_ws_dut::SerialLog;
use esp_ws_dut::process::{Supervised, install_panic_hook};

const MODE: &str = "ESP_WS_PANIC_HOOK_CHILD";

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let st = s.rsplit(')').next().unwrap_or("").trim_start().to_string();
            !st.starts_with('Z') && !st.starts_with('X')
        })
        .unwrap_or(false)
}

#[test]
fn a_panic_kills_every_child_before_exiting() {
    if std::env::var_os(MODE).is_some() {
        install_panic_hook();
        let child = Supervised::spawn(
            "sleeper",
            "sleep",
            &["60".to_string()],
            SerialLog::new(None).unwrap(),
            None,
            None,
        )
        .expect("spawn sleep");
        println!("CHILD {}", child.pid());
        std::io::stdout().flush().unwrap();
        // A worker thread panics; the hook must not wait for this one.
        let _ = std::thread::spawn(|| panic!("injected panic")).join();
        std::thread::sleep(std::time::Duration::from_secs(30));
        unreachable!("the panic hook exits the process");
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_panic_kills_every_child_before_exiting",
            "--nocapture",
        ])
        .env(MODE, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(101),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("injected panic"));
    let pid: i32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("CHILD "))
        .expect("the child's pid")
        .trim()
        .parse()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while alive(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "the child outlived the panic"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
