//! `cargo xtask`: the project's own commands (rust-analyzer's xtask pattern:
//! plain Rust instead of shell scripts, run with `cargo xtask <command>`).

mod real_firmware;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "esp-ws project commands")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Replay sessions recorded on real firmware against the simulator and
    /// show where the bytes, closes or the debug log differ.
    CompareRealFirmware(real_firmware::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let root = project_root();
    std::env::set_current_dir(&root).expect("cd to the project root");
    let result = match cli.cmd {
        Cmd::CompareRealFirmware(a) => real_firmware::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn project_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the project root")
        .to_path_buf()
}
