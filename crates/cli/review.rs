//! `esp-ws review`: the pending snapshots (`.snap.new`) of a run, one at a
//! time, as `cargo insta review` offers them, in any repository (no Cargo
//! needed); or `--accept` / `--reject` by name, for scripts.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use esp_ws_runner::snapshot::{self, Pending};

use crate::EXIT_USAGE;

#[derive(Args)]
pub struct ReviewArgs {
    /// Where to look for pending snapshots (folders are searched
    /// recursively) [default: scenarios if it exists, else the current folder].
    pub paths: Vec<PathBuf>,
    /// Accept these pending snapshots, by name (`echo`, `echo@v4.2`), without
    /// asking (repeatable).
    #[arg(long, value_name = "NAME")]
    pub accept: Vec<String>,
    /// Reject these pending snapshots, by name, without asking (repeatable).
    #[arg(long, value_name = "NAME")]
    pub reject: Vec<String>,
    /// Accept every pending snapshot without asking.
    #[arg(long, conflicts_with_all = ["reject_all", "accept", "reject"])]
    pub accept_all: bool,
    /// Reject every pending snapshot without asking.
    #[arg(long, conflicts_with_all = ["accept", "reject"])]
    pub reject_all: bool,
}

#[derive(Default)]
struct Tally {
    accepted: usize,
    rejected: usize,
    skipped: usize,
}

impl Tally {
    fn line(&self) -> String {
        format!(
            "{} accepted, {} rejected, {} skipped",
            self.accepted, self.rejected, self.skipped
        )
    }
}

pub fn main(args: ReviewArgs) -> ExitCode {
    let paths = if args.paths.is_empty() {
        let scenarios = PathBuf::from("scenarios");
        vec![if scenarios.is_dir() {
            scenarios
        } else {
            PathBuf::from(".")
        }]
    } else {
        args.paths.clone()
    };
    let pending = match snapshot::pending(&paths) {
        Ok(p) => p,
        Err(e) => {
            anstream::eprintln!("{} {e}", crate::ui::error_prefix());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let scripted =
        args.accept_all || args.reject_all || !args.accept.is_empty() || !args.reject.is_empty();
    if scripted {
        return by_name(&args, &pending);
    }
    if pending.is_empty() {
        println!("no pending snapshots");
        return ExitCode::SUCCESS;
    }
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "error: {} pending snapshot{} and no terminal to ask on: use --accept NAME, --reject NAME, --accept-all or --reject-all",
            pending.len(),
            if pending.len() == 1 { "" } else { "s" }
        );
        return ExitCode::from(EXIT_USAGE);
    }
    interactive(&pending)
}

/// `--accept` / `--reject`: every name must be pending.
fn by_name(args: &ReviewArgs, pending: &[Pending]) -> ExitCode {
    let unknown: Vec<&String> = args
        .accept
        .iter()
        .chain(&args.reject)
        .filter(|n| !pending.iter().any(|p| &p.name() == *n))
        .collect();
    if !unknown.is_empty() {
        eprintln!(
            "error: not pending: {}; pending: {}",
            unknown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if pending.is_empty() {
                "none".to_string()
            } else {
                pending
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let mut tally = Tally::default();
    for p in pending {
        let name = p.name();
        let result = if args.accept_all || args.accept.contains(&name) {
            tally.accepted += 1;
            p.accept()
        } else if args.reject_all || args.reject.contains(&name) {
            tally.rejected += 1;
            p.reject()
        } else {
            tally.skipped += 1;
            Ok(())
        };
        if let Err(e) = result {
            anstream::eprintln!("{} {}: {e}", crate::ui::error_prefix(), p.pending.display());
            return ExitCode::FAILURE;
        }
    }
    println!("{}", tally.line());
    ExitCode::SUCCESS
}

/// One pending snapshot after the other: its diff, then a question.
fn interactive(pending: &[Pending]) -> ExitCode {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut tally = Tally::default();
    for (i, p) in pending.iter().enumerate() {
        println!(
            "\nsnapshot {}/{}: {}",
            i + 1,
            pending.len(),
            esp_ws_runner::display_path(&p.snapshot)
        );
        match p.diff() {
            Ok(d) => anstream::print!("{}", crate::ui::paint_details(&d)),
            Err(e) => println!("  (cannot read it: {e})"),
        }
        loop {
            print!("  a accept, r reject, s skip > ");
            let _ = std::io::stdout().flush();
            let Some(Ok(answer)) = lines.next() else {
                // The terminal went away: leave the rest pending.
                println!();
                tally.skipped += pending.len() - i;
                println!("{}", tally.line());
                return ExitCode::SUCCESS;
            };
            let result = match answer.trim() {
                "a" => {
                    tally.accepted += 1;
                    p.accept()
                }
                "r" => {
                    tally.rejected += 1;
                    p.reject()
                }
                "s" => {
                    tally.skipped += 1;
                    Ok(())
                }
                _ => continue,
            };
            if let Err(e) = result {
                anstream::eprintln!("{} {}: {e}", crate::ui::error_prefix(), p.pending.display());
                return ExitCode::FAILURE;
            }
            break;
        }
    }
    println!("{}", tally.line());
    ExitCode::SUCCESS
}
