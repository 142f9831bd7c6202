//! `cargo xtask fuzz`: the fuzz targets of crates/fuzz under cargo-bolero's
//! libFuzzer engine (no sanitizer, so stable Rust does), each corpus seeded
//! from the project's scenarios and snapshots and from the sessions
//! recorded on real firmware (../shared/real-firmware/, when present).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context, Result, bail};

#[derive(clap::Args)]
pub struct Args {
    /// List the targets, one a line, and exit.
    #[arg(long)]
    list: bool,
    /// The target to fuzz.
    target: Option<String>,
    /// How long to fuzz.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    time: Duration,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if args.list {
        for (name, _) in esp_ws_fuzz::TARGETS {
            println!("{name}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(target) = args.target else {
        bail!("name a target (cargo xtask fuzz --list shows them)");
    };
    if !esp_ws_fuzz::TARGETS.iter().any(|(n, _)| *n == target) {
        bail!(
            "no fuzz target {target:?}; the targets: {}",
            esp_ws_fuzz::TARGETS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let has_bolero = Command::new("cargo")
        .args(["bolero", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_bolero {
        bail!(
            "cargo-bolero is not installed: `cargo install cargo-bolero --no-default-features --locked` (it builds libFuzzer from source; it needs a C++ compiler)"
        );
    }
    let root = crate::project_root();
    let corpus = corpus_dir(&root, &target);
    let seeds = seed(&root, &target, &corpus)?;
    println!(
        "{target}: {seeds} seed inputs in {}; fuzzing for {}",
        corpus.display(),
        humantime::format_duration(args.time)
    );
    let status = Command::new("cargo")
        .current_dir(&root)
        .args([
            "bolero",
            "test",
            "--package",
            "esp-ws-fuzz",
            "--engine",
            "libfuzzer",
            "--sanitizer",
            "NONE",
            "--corpus-dir",
        ])
        .arg(&corpus)
        .arg("--crashes-dir")
        .arg(crashes_dir(&root, &target))
        .arg("-T")
        .arg(format!("{}s", args.time.as_secs().max(1)))
        .arg(&target)
        .status()
        .context("cargo bolero test")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        println!(
            "{target}: a finding; its input is in {}",
            crashes_dir(&root, &target).display()
        );
        ExitCode::FAILURE
    })
}

/// Where a target's corpus is kept (beside the test file, as bolero does;
/// not committed).
fn corpus_dir(root: &Path, target: &str) -> PathBuf {
    root.join("crates/fuzz/tests/__fuzz__")
        .join(target)
        .join("corpus")
}

/// Where the inputs of findings go.
fn crashes_dir(root: &Path, target: &str) -> PathBuf {
    root.join("crates/fuzz/tests/__fuzz__")
        .join(target)
        .join("crashes")
}

/// Writes the seed inputs of `target` into its corpus; returns how many.
fn seed(root: &Path, target: &str, corpus: &Path) -> Result<usize> {
    std::fs::create_dir_all(corpus)?;
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    let sessions = recorded_sessions(root);
    match target {
        "scenario_loader" => {
            for f in files(&root.join("scenarios"), "json") {
                inputs.push(std::fs::read(f)?);
            }
        }
        "serial_lines" => {
            for f in files(&root.join("scenarios"), "snap") {
                // The first byte says how the rest is cut into reads.
                inputs.push([&[7u8][..], &std::fs::read(f)?].concat());
            }
            for s in &sessions {
                if let Some(log) = s["log"].as_str() {
                    inputs.push([&[13u8][..], log.as_bytes()].concat());
                }
            }
        }
        "frame_decoder" => {
            for s in &sessions {
                for bytes in wire(s, "S->C") {
                    inputs.push([&[5u8][..], &bytes].concat());
                }
            }
        }
        "http_request" | "websocket_frames" => {
            for s in &sessions {
                let sent = wire(s, "C->S");
                let mut all: Vec<u8> = sent.concat();
                if target == "websocket_frames" {
                    // After the handshake the target adds itself.
                    if let Some(end) = all.windows(4).position(|w| w == b"\r\n\r\n") {
                        all.drain(..end + 4);
                    }
                }
                inputs.push(all);
            }
        }
        _ => {}
    }
    for (i, input) in inputs.iter().enumerate() {
        std::fs::write(corpus.join(format!("seed-{i:04}")), input)?;
    }
    Ok(inputs.len())
}

/// The sessions recorded on real firmware, if the recordings are beside
/// the repository.
fn recorded_sessions(root: &Path) -> Vec<serde_json::Value> {
    let dir = root.join("../shared/real-firmware");
    files(&dir, "json")
        .into_iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .filter_map(|t| serde_json::from_str(&t).ok())
        .collect()
}

/// The bytes one side wrote in a recorded session.
fn wire(session: &serde_json::Value, dir: &str) -> Vec<Vec<u8>> {
    session["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["dir"] == dir)
        .filter_map(|e| hex::decode(e["hex"].as_str()?).ok())
        .collect()
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
