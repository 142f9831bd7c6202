//! `cargo xtask`: the project's own commands (rust-analyzer's xtask pattern:
//! plain Rust instead of shell scripts, run with `cargo xtask <command>`).

mod firmware;
mod real_firmware;
mod snapshots;

use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "esp-ws project commands")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run every scenario against the simulator (= esp-ws run scenarios/).
    /// Extra arguments go to `esp-ws run`.
    Test {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run every scenario against real firmware under Espressif's QEMU
    /// (= esp-ws run scenarios/ --target qemu). Extra arguments go to
    /// `esp-ws run`, e.g. --firmware BUILD_DIR, --qemu PATH, --jobs N.
    QemuTest {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run every scenario against a real board over the network (= esp-ws
    /// run scenarios/ --target board). Extra arguments go to `esp-ws run`:
    /// --host ADDR[:PORT] (required), --serial PORT, --baud N, --reset,
    /// --wifi-ssid/--wifi-password, --impair SPEC, --profile P.
    BoardTest {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build an ESP-IDF project (default: the ws_echo_server example) for
    /// Espressif's QEMU with the sdkconfig overlay in fixtures/qemu/.
    BuildFirmware(firmware::Args),
    /// Regenerate every snapshot and print what changed.
    Snapshots {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Replay sessions recorded on real firmware against the simulator and
    /// show where the bytes, closes or the debug log differ.
    CompareRealFirmware(real_firmware::Args),
    /// Regenerate the checked-in RFC 6455 conformance report of the
    /// simulator's v5.5.5 profile (conformance/reports/v5.5.5/).
    ConformanceReport,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = project_root();
    std::env::set_current_dir(&root).expect("cd to the project root");
    let result = match cli.cmd {
        Cmd::Test { args } => esp_ws(TEST, &args),
        Cmd::QemuTest { args } => esp_ws(QEMU_TEST, &args),
        Cmd::BoardTest { args } => esp_ws(BOARD_TEST, &args),
        Cmd::BuildFirmware(a) => firmware::run(a, std::env::var_os("IDF_PATH").map(Into::into)),
        Cmd::Snapshots { args } => snapshots::run(&args),
        Cmd::CompareRealFirmware(a) => real_firmware::run(a),
        Cmd::ConformanceReport => conformance_report(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// What `test`, `qemu-test` and `board-test` run (the caller's arguments
/// follow).
const TEST: &[&str] = &["run", "scenarios"];
const QEMU_TEST: &[&str] = &["run", "scenarios", "--target", "qemu"];
const BOARD_TEST: &[&str] = &["run", "scenarios", "--target", "board"];

fn project_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the project root")
        .to_path_buf()
}

/// The files of the checked-in report (the rest of a report folder, JSON
/// per case and JUnit, is left out: JUnit carries times).
const REPORT_FILES: &[&str] = &["summary.md", "index.html"];

/// `esp-ws conform --firmware v5.5.5` into a scratch folder, then its
/// Markdown and HTML into conformance/reports/v5.5.5/.
fn conformance_report() -> anyhow::Result<ExitCode> {
    let scratch = std::env::temp_dir().join(format!("esp-ws-conformance-{}", std::process::id()));
    let dir = scratch.to_string_lossy().to_string();
    let artifacts = scratch.join("artifacts").to_string_lossy().to_string();
    let code = esp_ws(
        &[
            "conform",
            "--firmware",
            "v5.5.5",
            "--report-dir",
            &dir,
            "--artifacts",
            &artifacts,
        ],
        &[],
    )?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    let dest = std::path::Path::new("conformance/reports/v5.5.5");
    std::fs::create_dir_all(dest)?;
    for f in REPORT_FILES {
        std::fs::copy(scratch.join(f), dest.join(f))?;
        println!("wrote {}", dest.join(f).display());
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(ExitCode::SUCCESS)
}

/// Builds and runs the `esp-ws` binary of this workspace.
pub fn esp_ws(first: &[&str], rest: &[String]) -> anyhow::Result<ExitCode> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "run",
            "--quiet",
            "--package",
            "esp-ws",
            "--bin",
            "esp-ws",
            "--",
        ])
        .args(first)
        .args(rest)
        .status()?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(c.clamp(1, 255) as u8),
        None => ExitCode::from(2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_test_command_is_esp_ws_run_on_its_target() {
        let parse = |argv: &[&str]| match Cli::try_parse_from(argv).unwrap().cmd {
            Cmd::BoardTest { args } => args,
            _ => panic!("not board-test"),
        };
        assert_eq!(
            parse(&[
                "xtask",
                "board-test",
                "--host",
                "10.0.0.2",
                "--serial",
                "/dev/ttyUSB0"
            ]),
            ["--host", "10.0.0.2", "--serial", "/dev/ttyUSB0"]
        );
        assert_eq!(BOARD_TEST, ["run", "scenarios", "--target", "board"]);
        // CI's reports pass through to `esp-ws run`.
        let qemu = match Cli::try_parse_from([
            "xtask",
            "qemu-test",
            "--junit",
            "junit.xml",
            "--report-json",
            "results.json",
        ])
        .unwrap()
        .cmd
        {
            Cmd::QemuTest { args } => args,
            _ => panic!("not qemu-test"),
        };
        assert_eq!(
            qemu,
            ["--junit", "junit.xml", "--report-json", "results.json"]
        );
        assert_eq!(QEMU_TEST, ["run", "scenarios", "--target", "qemu"]);
        assert_eq!(TEST, ["run", "scenarios"]);
    }
}
