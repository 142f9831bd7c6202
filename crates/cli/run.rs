//! `esp-ws run` and `esp-ws validate`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use esp_ws_runner::{RunOptions, TargetSpec, artifacts::Artifacts, report, snapshot};
use esp_ws_target::SimOptions;

use crate::EXIT_USAGE;
use crate::errors::render_scenario_error;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    /// The built-in simulator (no hardware, nothing to install).
    Sim,
}

#[derive(Args)]
pub struct RunArgs {
    /// Scenario files or directories (searched recursively).
    #[arg(default_value = "scenarios")]
    pub paths: Vec<PathBuf>,
    /// What to run against.
    #[arg(long, value_enum, default_value_t = TargetKind::Sim)]
    pub target: TargetKind,
    /// Firmware profile of the simulator (see `esp-ws sim --list-firmware`).
    #[arg(long, default_value = esp_ws_sim::profile::DEFAULT)]
    pub firmware: String,
    /// Log level the simulated firmware is built with (CONFIG_LOG_DEFAULT_LEVEL).
    #[arg(long, default_value = "debug")]
    pub log_level: esp_ws_log::Level,
    /// Target instances to run scenarios on in parallel [default: the number of cores].
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Write new and changed snapshots as accepted (.snap), like INSTA_UPDATE=always.
    #[arg(long)]
    pub accept: bool,
    /// Where run folders with logs and transcripts go.
    #[arg(long, default_value = "esp-ws-artifacts")]
    pub artifacts: PathBuf,
    /// Multiply every step timeout by this factor.
    #[arg(long, default_value_t = 1.0)]
    pub timeout_scale: f64,
    /// The Host header sent in opening handshakes [default: the target's address].
    #[arg(long)]
    pub host_header: Option<String>,
}

pub fn validate(paths: &[PathBuf]) -> ExitCode {
    let files = match esp_ws_runner::discover::find(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match esp_ws_runner::discover::load(&files) {
        Ok(ok) => {
            println!("{} scenario files are valid", ok.len());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors {
                eprint!("{}", render_scenario_error(e));
            }
            eprintln!("{} errors", errors.len());
            ExitCode::from(EXIT_USAGE)
        }
    }
}

pub fn main(args: RunArgs, _verbose: u8) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    rt.block_on(run(args))
}

async fn run(args: RunArgs) -> ExitCode {
    let files = match esp_ws_runner::discover::find(&args.paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if files.is_empty() {
        eprintln!(
            "error: no scenario files (*.json) in {}",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let scenarios = match esp_ws_runner::discover::load(&files) {
        Ok(s) => s,
        Err(errors) => {
            for e in &errors {
                eprint!("{}", render_scenario_error(e));
            }
            eprintln!("{} errors in scenario files; nothing was run", errors.len());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if !(args.timeout_scale > 0.0 && args.timeout_scale <= 100.0) {
        eprintln!(
            "error: --timeout-scale must be greater than 0 and at most 100, not {}",
            args.timeout_scale
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let target = match args.target {
        TargetKind::Sim => {
            let Some(profile) = esp_ws_sim::profile::find(&args.firmware) else {
                eprintln!(
                    "error: --firmware {}: no such profile; known: {}",
                    args.firmware,
                    esp_ws_sim::profile::all()
                        .iter()
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return ExitCode::from(EXIT_USAGE);
            };
            TargetSpec::Sim(SimOptions {
                profile,
                log_level: args.log_level,
                log_colors: false,
                bind: "127.0.0.1:0".parse().expect("valid address"),
            })
        }
    };
    let artifacts = match Artifacts::create(&args.artifacts) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: cannot create {}: {e}", args.artifacts.display());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let update = if args.accept {
        snapshot::Update::Always
    } else {
        snapshot::Update::from_env()
    };
    let force_pass = std::env::var("INSTA_FORCE_PASS").is_ok_and(|v| v == "1");
    let opts = RunOptions {
        target,
        jobs,
        exec: esp_ws_runner::ExecOptions {
            timeout_scale: args.timeout_scale,
            host_header: args.host_header.clone(),
            ..Default::default()
        },
        update,
        force_pass,
        artifacts: artifacts.clone(),
        ready_markers: esp_ws_runner::default_ready_markers(),
        boot_timeout: Duration::from_secs(60),
    };
    let started = Instant::now();
    println!(
        "{:>12} {} scenarios against the {}, {} instance{}",
        "Starting",
        scenarios.len(),
        opts.target.describe(),
        jobs.min(scenarios.len()),
        if jobs.min(scenarios.len()) == 1 {
            ""
        } else {
            "s"
        }
    );
    let results = esp_ws_runner::run_all(scenarios, &opts, |r| {
        println!("{}", report::status_line(r));
        if r.status == esp_ws_runner::Status::Failed {
            print!("{}", report::failure_details(r));
        }
    })
    .await;
    let artifacts_dir = artifacts.dir.clone();
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(d) = &artifacts_dir {
                eprintln!("artifacts: {}", esp_ws_runner::display_path(d));
            }
            return ExitCode::from(EXIT_USAGE);
        }
    };
    print!("{}", report::summary(&results, started.elapsed()));
    if let Some(d) = &artifacts_dir {
        println!("artifacts: {}", esp_ws_runner::display_path(d));
    }
    if report::totals(&results).failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
