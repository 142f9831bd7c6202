//! `cargo xtask soak --runs N`: the whole suite N times, every other run
//! through the impairment proxy, and what repeating it shows: scenarios
//! whose verdict changes between runs (flaky), processes left behind, the
//! descriptors they hold, and temporary folders left behind.

use std::collections::BTreeMap;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

#[derive(clap::Args)]
pub struct Args {
    /// How many times to run the suite.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// The impairment of every other run (`esp-ws run --impair`).
    #[arg(long, default_value = "delay=2ms,jitter=2ms,chunk=1..64,seed=7")]
    impair: String,
    /// Longest time one run of the suite may take.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    run_timeout: Duration,
}

/// The environment variable that marks every process of a soak run, so
/// that what a run leaves behind can be told from anything else.
const MARK: &str = "ESP_WS_SOAK_RUN";

pub fn run(args: Args) -> Result<ExitCode> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let root = crate::project_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("building esp-ws with optimisations…");
    if !Command::new(&cargo)
        .args(["build", "--release", "--locked", "--bin", "esp-ws"])
        .status()?
        .success()
    {
        bail!("cargo build --release --bin esp-ws failed");
    }
    let esp_ws = root.join("target/release/esp-ws");
    let work = root.join("target/soak");
    let _ = std::fs::remove_dir_all(&work);
    let tmp = work.join("tmp");
    std::fs::create_dir_all(&tmp)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut verdicts: BTreeMap<String, BTreeMap<&'static str, usize>> = BTreeMap::new();
    let (mut leaked_procs, mut leaked_fds, mut leaked_tmp) = (0, 0, 0);
    let mut failed_runs = 0;
    for i in 1..=args.runs {
        let impaired = i % 2 == 0;
        let mark = format!("{}-{i}", std::process::id());
        let mut cmd = Command::new(&esp_ws);
        cmd.current_dir(&root)
            .args([
                "run",
                "scenarios",
                "--jobs",
                &cores.to_string(),
                "--artifacts",
            ])
            .arg(work.join("artifacts"))
            .env(MARK, &mark)
            .env("TMPDIR", &tmp)
            .env_remove("CI")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if impaired {
            cmd.args(["--impair", &args.impair]);
        }
        let start = Instant::now();
        let output = run_bounded(cmd, args.run_timeout)?;
        let text = String::from_utf8_lossy(&output.stdout);
        let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
        for (verdict, name) in text.lines().filter_map(verdict_line) {
            *counts.entry(verdict).or_default() += 1;
            *verdicts
                .entry(name)
                .or_default()
                .entry(verdict)
                .or_default() += 1;
        }
        if !output.status.success() {
            failed_runs += 1;
        }
        // Whatever the run started must be gone with it.
        let left = marked_processes(&mark);
        let fds: usize = left.iter().map(|p| fd_count(*p)).sum();
        let tmp_left = std::fs::read_dir(&tmp)?.count();
        leaked_procs += left.len();
        leaked_fds += fds;
        leaked_tmp += tmp_left;
        for p in &left {
            // Do not let one run's leftovers spoil the next.
            unsafe { libc::kill(*p, libc::SIGKILL) };
        }
        for e in std::fs::read_dir(&tmp)?.flatten() {
            let _ = std::fs::remove_dir_all(e.path()).or_else(|_| std::fs::remove_file(e.path()));
        }
        println!(
            "run {i:>3}/{}{}: {:.1}s, {} (exit {}), {} processes, {} descriptors, {} temporary entries left",
            args.runs,
            if impaired { " (impaired)" } else { "" },
            start.elapsed().as_secs_f64(),
            counts
                .iter()
                .map(|(v, n)| format!("{n} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
            output
                .status
                .code()
                .map_or("signal".into(), |c| c.to_string()),
            left.len(),
            fds,
            tmp_left
        );
    }
    let flaky: Vec<(&String, &BTreeMap<&str, usize>)> = verdicts
        .iter()
        .filter(|(_, v)| v.keys().filter(|k| **k != "SKIP").count() > 1)
        .collect();
    println!();
    for (name, v) in &flaky {
        println!(
            "flaky: {name} ({})",
            v.iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "{} flaky, {} leaked processes, {} leaked file descriptors, {} leaked temporary folders, {} of {} runs failed",
        flaky.len(),
        leaked_procs,
        leaked_fds,
        leaked_tmp,
        failed_runs,
        args.runs
    );
    Ok(
        if flaky.is_empty() && leaked_procs + leaked_fds + leaked_tmp + failed_runs == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

/// `PASS [   0.012s] name` (and FAIL, SKIP, XFAIL) → (verdict, name).
fn verdict_line(line: &str) -> Option<(&'static str, String)> {
    let t = line.trim_start();
    let verdict = ["PASS", "FAIL", "SKIP", "XFAIL"]
        .into_iter()
        .find(|v| t.starts_with(&format!("{v} [")))?;
    let rest = t.split_once("] ")?.1;
    let name = rest.split(" (").next()?.trim().to_string();
    Some((verdict, name))
}

/// Runs a command to its end, killing it (and its group) past `timeout`.
fn run_bounded(mut cmd: Command, timeout: Duration) -> Result<std::process::Output> {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    let child = cmd.spawn()?;
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => Ok(out?),
        Err(_) => {
            // SIGINT first: esp-ws stops its targets and keeps its artifacts.
            unsafe { libc::killpg(pid, libc::SIGINT) };
            match rx.recv_timeout(Duration::from_secs(15)) {
                Ok(out) => Ok(out?),
                Err(_) => {
                    unsafe { libc::killpg(pid, libc::SIGKILL) };
                    bail!("a run took longer than {timeout:?} and did not stop on SIGINT")
                }
            }
        }
    }
}

/// Processes whose environment carries the run's mark.
fn marked_processes(mark: &str) -> Vec<i32> {
    let needle = format!("{MARK}={mark}");
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(e.path().join("stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        if !zombie && env.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_lines_are_read_as_the_reporter_prints_them() {
        assert_eq!(
            verdict_line("        PASS [   0.012s] frame-echo-text"),
            Some(("PASS", "frame-echo-text".into()))
        );
        assert_eq!(
            verdict_line(
                "        SKIP [   0.000s] app-handshake-done (only for firmware v4.4, v5.5.2)"
            ),
            Some(("SKIP", "app-handshake-done".into()))
        );
        assert_eq!(
            verdict_line(
                "       XFAIL [   0.020s] close-empty (known bug: esp-idf b9b1a7aba8c on v4.2)"
            ),
            Some(("XFAIL", "close-empty".into()))
        );
        assert_eq!(
            verdict_line("--- FAIL frame-echo-text (x.json, on sim#1)"),
            None
        );
        assert_eq!(verdict_line("58 passed, 0 failed"), None);
    }
}
