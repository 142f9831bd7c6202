//! `esp-ws conform`: the RFC 6455 conformance suite against any target.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use esp_ws_conform::{Baseline, Behavior, report, table};
use esp_ws_dut::process::StopTimeouts;
use esp_ws_runner::snapshot;

use crate::EXIT_USAGE;
use crate::errors::render_run_error;
use crate::run::{Prepared, TargetArgs, TargetKind, prepare, shutdown_signal, usage};

#[derive(Args)]
pub struct ConformArgs {
    /// The cases to run, as id patterns separated by commas (`*` stands for
    /// any text), e.g. 1.*,5.*,H.2.6 [default: all of them].
    #[arg(long, value_delimiter = ',', value_name = "PATTERNS")]
    pub cases: Vec<String>,
    /// List the cases (id, what each sends, the RFC 6455 sections) and exit.
    #[arg(long)]
    pub list: bool,
    /// Where the reports go (summary.md, index.html, junit.xml, results.json,
    /// cases/*.json) [default: the run's artifacts folder].
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Compare the verdicts with this baseline: exit 1 on a regression (a
    /// case that got worse); improvements are listed.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Record the verdicts as a baseline (notes in the file it replaces are
    /// kept).
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// The WebSocket endpoint's path [default: the profile's echo route:
    /// /ws for esp_http_server, /echo for NodeMCU, / for the netconn
    /// server].
    #[arg(long)]
    pub path: Option<String>,
    /// How long nothing may arrive before a reply that has not come is
    /// given up on [default: 20ms on the simulator, which says when it has
    /// processed everything; 500ms otherwise, times --timeout-scale].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub quiet: Option<Duration>,
    #[command(flatten)]
    pub t: TargetArgs,
}

pub fn main(args: ConformArgs) -> ExitCode {
    esp_ws_dut::process::install_panic_hook();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            anstream::eprintln!(
                "{} cannot start the async runtime: {e}",
                crate::ui::error_prefix()
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let code = rt.block_on(conform(args));
    esp_ws_dut::process::kill_all_now();
    code
}

async fn conform(mut args: ConformArgs) -> ExitCode {
    let cases = match esp_ws_conform::select(table::all(), &args.cases) {
        Ok(c) => c,
        Err(e) => return usage(format!("--cases {e}")),
    };
    if args.list {
        for c in &cases {
            println!("{:<8} {} ({})", c.id, c.title, c.rfc);
        }
        println!("{} cases", cases.len());
        return ExitCode::SUCCESS;
    }
    let baseline = match &args.baseline {
        None => None,
        Some(p) => match Baseline::load(p) {
            Ok(b) => Some(b),
            Err(e) => return usage(format!("--baseline {e}")),
        },
    };
    let sim = args.t.target == TargetKind::Sim;
    if sim && args.t.log_level.is_none() {
        // Info lines show what goes wrong (warnings, errors, panics)
        // without esp_http_server's every read.
        args.t.log_level = Some(esp_ws_log::Level::Info);
    }
    // Before anything starts: the profile named must serve.
    let named = match args.t.target {
        TargetKind::Sim => args.t.firmware.as_deref(),
        _ => args.t.profile.as_deref(),
    };
    if let Some(fw) = named.and_then(esp_ws_catalogue::find)
        && fw.role() == esp_ws_catalogue::Role::Client
    {
        return usage(format!(
            "{} {}: that firmware dials out, and `esp-ws conform` tests WebSocket servers; a firmware that dials out is tested with server-role scenarios (`esp-ws run`, `esp-ws serve`)",
            if args.t.target == TargetKind::Sim {
                "--firmware"
            } else {
                "--profile"
            },
            fw.name
        ));
    }
    let Prepared { opts, artifacts } = match prepare(&args.t, snapshot::Update::No) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let scale = opts.exec.timeout_scale;
    let path = args
        .path
        .clone()
        .unwrap_or_else(|| opts.firmware.ws_path.to_string());
    let drive = esp_ws_conform::DriveOptions {
        path: path.clone(),
        host_header: args.t.host_header.clone(),
        quiet: args.quiet.unwrap_or(if sim {
            Duration::from_millis(20)
        } else {
            Duration::from_millis(500).mul_f64(scale)
        }),
        exact_sync: sim,
        timeout: if sim {
            Duration::from_secs(2)
        } else {
            Duration::from_secs(5).mul_f64(scale)
        },
    };
    let report_dir = match (&args.report_dir, &artifacts.dir) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) => d.clone(),
        (None, None) => PathBuf::from("."),
    };
    let meta = report::Meta {
        profile: opts.firmware.name.to_string(),
        target: opts.target.describe(),
        path,
    };
    let n = opts.instances().min(cases.len());
    println!(
        "{:>12} {} conformance cases against the {}, {} instance{}",
        "Starting",
        cases.len(),
        meta.target,
        n,
        if n == 1 { "" } else { "s" }
    );
    let started = Instant::now();
    let view = std::sync::Arc::new(crate::ui::ProgressView::new());
    let mut opts = opts;
    opts.exec.progress = view.progress();
    let shown = view.clone();
    let run = esp_ws_conform::run_all(cases, &drive, &opts, move |r| {
        shown.println(&crate::ui::paint_status(&format!(
            "{:>13} / {:<12} [{:>7.3}s] {} {}",
            r.verdict.behavior.name(),
            r.verdict.close.name(),
            r.elapsed.as_secs_f64(),
            r.case.id,
            r.case.title
        )));
        if r.verdict.behavior == Behavior::Failed {
            shown.println(&format!("{:>16}{}", "", r.verdict.reason));
        }
    });
    let results = tokio::select! {
        r = run => r,
        (what, code) = shutdown_signal() => {
            eprintln!("esp-ws: {what}: stopping the targets (again to kill them at once)");
            tokio::select! {
                _ = esp_ws_dut::process::stop_all(StopTimeouts::default()) => {}
                _ = shutdown_signal() => esp_ws_dut::process::kill_all_now(),
            }
            return ExitCode::from(code);
        }
    };
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            anstream::eprintln!("{} {}", crate::ui::error_prefix(), render_run_error(&e));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let elapsed = started.elapsed();
    drop(view);
    for (cat, rs) in report::by_category(&results) {
        println!(
            "{:>12} {} {}: {}",
            "Category",
            cat.number(),
            cat.title(),
            report::Counts::of(rs.iter().copied()).line()
        );
    }
    let counts = report::Counts::of(&results);
    println!(
        "{:>12} [{:>8.3}s] {} cases ({:.0} cases/s): {}",
        "Summary",
        elapsed.as_secs_f64(),
        counts.cases,
        counts.cases as f64 / elapsed.as_secs_f64().max(1e-9),
        counts.line()
    );
    match report::write_all(&report_dir, &meta, &results, elapsed) {
        Ok(_) => println!(
            "reports: {} ({}, {}, {}, {}, {}/)",
            esp_ws_runner::display_path(&report_dir),
            report::SUMMARY,
            report::HTML,
            report::JUNIT,
            report::RESULTS,
            report::CASES
        ),
        Err(e) => {
            return usage(format!(
                "cannot write the reports to {}: {e}",
                report_dir.display()
            ));
        }
    }
    if let Some(path) = &args.write_baseline {
        let b = Baseline::from_results(&meta.profile, &meta.target, &results);
        if let Err(e) = b.write(path) {
            return usage(format!("--write-baseline {e}"));
        }
        println!("baseline written: {}", esp_ws_runner::display_path(path));
    }
    let Some(baseline) = baseline else {
        return ExitCode::SUCCESS;
    };
    let c = baseline.compare(&results);
    let base = args
        .baseline
        .as_deref()
        .map(esp_ws_runner::display_path)
        .unwrap_or_default();
    for (word, list) in [
        ("IMPROVED", &c.improvements),
        ("CHANGED", &c.changed),
        ("REGRESSED", &c.regressions),
    ] {
        for ch in list {
            println!("{word:>12} {}", ch.line());
        }
    }
    for id in &c.new {
        println!("{:>12} {id} is not in {base}", "NEW");
    }
    println!(
        "{} regressions, {} improvements against {base}",
        c.regressions.len(),
        c.improvements.len()
    );
    if c.regressions.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
