//! `esp-ws`: the command-line front end. Glue only: every behaviour lives in
//! the library crates under crates/.

mod conform;
mod errors;
mod flash;
mod init;
mod review;
mod run;
mod serve;
mod sim;
mod ui;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "esp-ws",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("ESP_WS_GIT_COMMIT"), ")"),
    about = "Simulator and conformance harness for WebSocket servers on the ESP32 (ESP-IDF esp_http_server)",
    long_about = None
)]
struct Cli {
    /// More diagnostics from esp-ws itself on stderr (repeat for more).
    /// RUST_LOG works too. Never mixed into the serial log.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Colour esp-ws's own output and diagnostics: auto (on a terminal,
    /// unless NO_COLOR is set), always or never. The serial log keeps the
    /// firmware's own colours (see `sim --log-colors`).
    #[arg(long, value_enum, default_value_t = ui::ColorWhen::Auto, global = true, value_name = "WHEN")]
    color: ui::ColorWhen,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run scenarios against a target and assert their log snapshots.
    Run(Box<run::RunArgs>),
    /// Run the RFC 6455 conformance suite against a target: verdicts,
    /// baselines, reports.
    Conform(Box<conform::ConformArgs>),
    /// Play the WebSocket server a firmware dials: run server-role
    /// scenarios, or (without paths) echo and print each connection.
    Serve(Box<serve::ServeArgs>),
    /// Serve the simulated firmware on a TCP port, serial log on stdout.
    Sim(sim::SimArgs),
    /// Review pending snapshots (.snap.new): accept, reject or skip each,
    /// or --accept / --reject by name.
    Review(review::ReviewArgs),
    /// Scaffold esp-ws in a firmware repository: a first scenario for its
    /// WebSocket route and, with --ci github, a CI workflow.
    Init(init::InitArgs),
    /// Check scenario files without running them.
    Validate {
        /// Scenario files or directories.
        #[arg(required = true)]
        paths: Vec<std::path::PathBuf>,
    },
    /// Print the JSON Schema of the scenario format.
    Schema,
    /// Assemble the flash image QEMU boots from an ESP-IDF build directory.
    FlashImage(flash::FlashImageArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
}

/// Exit code for a usage or input error (bad arguments, bad scenario file,
/// a target that cannot start).
pub const EXIT_USAGE: u8 = 2;

fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info,esp_ws=debug,esp_ws_runner=debug,esp_ws_dut=debug",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // A message that cannot be written is dropped. By default the
    // subscriber reports a failed write with eprintln!, which panics when
    // stderr is gone (a parent that read `esp-ws sim`'s announcement and
    // closed the pipe): the task that logged would die with it, the
    // simulator's accept loop and its listener among them.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ui::stderr_colored())
        .log_internal_errors(false)
        .try_init();
}

fn main() -> ExitCode {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|c| (c, m)));
    let (cli, matches) = match parsed {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    ui::init_color(cli.color);
    init_tracing(cli.verbose);
    if let Some(("run" | "conform" | "serve", sub)) = matches.subcommand()
        && sub.value_source("wifi_password") == Some(clap::parser::ValueSource::CommandLine)
    {
        // A secret in the arguments is in every process listing.
        eprintln!(
            "warning: --wifi-password on the command line can be read by anyone on this machine (ps, /proc/PID/cmdline); set ESP_WS_WIFI_PASSWORD instead"
        );
    }
    match cli.cmd {
        Cmd::Run(a) => run::main(*a, cli.verbose),
        Cmd::Conform(a) => conform::main(*a),
        Cmd::Serve(a) => serve::main(*a, cli.verbose),
        Cmd::Sim(a) => sim::main(a),
        Cmd::Validate { paths } => run::validate(&paths),
        Cmd::Review(a) => review::main(a),
        Cmd::FlashImage(a) => flash::main(a),
        Cmd::Init(a) => init::main(a),
        Cmd::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "esp-ws", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Cmd::Schema => {
            let schema = esp_ws_scenario::json_schema();
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).expect("schema is JSON")
            );
            ExitCode::SUCCESS
        }
    }
}
