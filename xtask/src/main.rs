//! `cargo xtask`: the project's own commands (rust-analyzer's xtask pattern:
//! plain Rust instead of shell scripts, run with `cargo xtask <command>`).

mod bench;
mod conformance;
mod firmware;
mod fuzz;
mod real_firmware;
mod real_firmware_client;
mod snapshots;
mod soak;

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
    /// Measure speed and memory as ratios taken side by side (writes
    /// target/bench/bench.json); exits 1 when a target is missed.
    Bench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The measuring half of `bench`, run from an optimised build.
    #[command(hide = true)]
    BenchRun,
    /// Fuzz one target with cargo-bolero's libFuzzer engine (stable Rust),
    /// its corpus seeded from the scenarios and the recorded sessions.
    Fuzz(fuzz::Args),
    /// Run the whole suite N times (every other run impaired) and report
    /// flaky scenarios and whatever the runs left behind.
    Soak(soak::Args),
    /// Regenerate the checked-in RFC 6455 conformance reports of each
    /// server family's default profile (conformance/reports/PROFILE/) and
    /// the README's table of them.
    ConformanceReport,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = project_root();
    std::env::set_current_dir(&root).expect("cd to the project root");
    let result = match cli.cmd {
        Cmd::Test { args } => esp_ws(TEST, &args),
        Cmd::QemuTest { args } => esp_ws(QEMU_TEST, &qemu_test_args(args)),
        Cmd::BoardTest { args } => esp_ws(BOARD_TEST, &args),
        Cmd::BuildFirmware(a) => firmware::run(a, std::env::var_os("IDF_PATH").map(Into::into)),
        Cmd::Snapshots { args } => snapshots::run(&args),
        Cmd::CompareRealFirmware(a) => real_firmware::run(a),
        Cmd::Bench { args } => bench::run(&args),
        Cmd::BenchRun => bench::measure(),
        Cmd::Fuzz(a) => fuzz::run(a),
        Cmd::Soak(a) => soak::run(a),
        Cmd::ConformanceReport => conformance::run(),
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

/// `qemu-test`'s arguments: the firmware `build-firmware` built by default,
/// when the caller names none and it is there.
fn qemu_test_args(mut args: Vec<String>) -> Vec<String> {
    let named = args
        .iter()
        .any(|a| a == "--firmware" || a.starts_with("--firmware="));
    let built = std::path::Path::new(firmware::DEFAULT_BUILD_DIR);
    if !named && built.join("flasher_args.json").is_file() {
        eprintln!(
            "qemu-test: the firmware built by build-firmware, {}",
            built.display()
        );
        args.extend(["--firmware".into(), built.display().to_string()]);
    }
    args
}

pub fn project_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the project root")
        .to_path_buf()
}

/// Builds and runs the `esp-ws` binary of this workspace.
pub fn esp_ws(first: &[&str], rest: &[String]) -> anyhow::Result<ExitCode> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        // Not --quiet: a first build takes minutes, and cargo's progress
        // says what is going on.
        .args(["run", "--package", "esp-ws", "--bin", "esp-ws", "--"])
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
