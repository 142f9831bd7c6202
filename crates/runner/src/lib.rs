//! Runs esp-ws scenarios against devices under test: starts the instances,
//! hands each one scenario at a time, slices the serial log per scenario,
//! asserts the log snapshots, keeps every artifact, and reports.
//!
//! The runner knows devices only through `esp_ws_dut::Target` and the
//! `Instance` around a running one, and firmware only through the catalogue.

pub mod artifacts;
pub mod discover;
pub mod echo;
mod error;
pub mod exec;
pub mod listen;
pub mod progress;
pub mod report;
pub mod select;
pub mod snapshot;
mod start;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use esp_ws_catalogue::Firmware;
use esp_ws_dut::{Instance, Level, Target};
use esp_ws_scenario as sc;

pub use error::RunError;
pub use exec::{ExecOptions, ScenarioRun, StepFailure};
pub use start::{
    Dialing, firmware_log_level, ready_markers, recover, recover_into, start_dialing,
    start_instance,
};

/// A loaded scenario and where it came from.
#[derive(Clone, Debug)]
pub struct ScenarioFile {
    pub path: PathBuf,
    pub scenario: sc::Scenario,
}

#[derive(Clone)]
pub struct RunOptions {
    /// What runs the firmware.
    pub target: Arc<dyn Target>,
    /// Which firmware it is (for a real firmware: what it was declared to
    /// be): scenarios' `firmware` lists, known bugs, snapshot names.
    pub firmware: &'static Firmware,
    pub jobs: usize,
    pub exec: ExecOptions,
    pub update: snapshot::Update,
    /// INSTA_FORCE_PASS: snapshot mismatches do not fail the run.
    pub force_pass: bool,
    pub artifacts: artifacts::Artifacts,
    /// Log lines that mean the target is ready (all must appear, in order).
    pub ready_markers: Vec<regex::Regex>,
    pub boot_timeout: Duration,
    /// The impairment proxy between the client and the target, if any.
    pub impair: Option<esp_ws_impair::Impairment>,
    /// The log level the firmware was built with, as the user states it
    /// (otherwise the target knows it, or its boot log shows it).
    pub log_level: Option<Level>,
    /// For a firmware that dials out: where esp-ws listens (port 0: a free
    /// one); `None`: where the target says ([`esp_ws_dut::Target::listen_default`]).
    pub listen: Option<std::net::SocketAddr>,
}

impl RunOptions {
    /// How many instances will run: `jobs`, as far as the target allows
    /// (and one at a time where esp-ws listens on a fixed port for a
    /// firmware that dials out).
    pub fn instances(&self) -> usize {
        let fixed_listen = self.firmware.role() == esp_ws_catalogue::Role::Client
            && self.listen_addr().is_ok_and(|a| a.port() != 0);
        let jobs = if fixed_listen { 1 } else { self.jobs.max(1) };
        match self.target.max_instances() {
            Some((max, _)) => jobs.min(max).max(1),
            None => jobs,
        }
    }

    /// Where esp-ws listens for a firmware that dials out; `Err` says why
    /// it cannot tell.
    pub fn listen_addr(&self) -> Result<std::net::SocketAddr, String> {
        self.listen
            .or_else(|| self.target.listen_default(self.firmware.port))
            .ok_or_else(|| {
                format!(
                    "{} dials out to esp-ws over the network, and the {} target has no address esp-ws could listen on by default: name this machine's LAN address (the one the firmware is configured to dial)",
                    self.firmware.name,
                    self.target.kind()
                )
            })
    }
}

/// The verdict on one scenario.
#[derive(Debug)]
pub struct ScenarioResult {
    pub file: ScenarioFile,
    pub instance: String,
    pub status: Status,
    pub run: Option<ScenarioRun>,
    pub snapshot: Option<snapshot::Outcome>,
    pub snapshot_path: PathBuf,
    pub snapshot_text: Option<String>,
    /// How much of the snapshot was compared.
    pub snapshot_scope: snapshot::Scope,
    pub elapsed: Duration,
    /// Problems that are not step failures (settling, snapshot I/O).
    pub notes: Vec<String>,
    /// The snapshot did not match, and INSTA_FORCE_PASS passed it anyway:
    /// the mismatch is still shown.
    pub forced_pass: bool,
    pub artifacts: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Passed,
    Failed,
    Skipped(String),
    /// Failed as the scenario's `known_bugs` says it must on this firmware.
    KnownBug(String),
}

fn quote(lines: &[String]) -> String {
    lines.iter().map(|l| format!("\n    {l}")).collect()
}

/// The most verbose level a scenario needs the firmware to print: its
/// snapshot's level, or a level an `expect_log` step waits for.
pub fn needed_log_level(s: &sc::Scenario) -> Level {
    s.steps
        .iter()
        .filter_map(|st| match &st.kind {
            sc::StepKind::ExpectLog(e) if !e.not => e.level,
            _ => None,
        })
        .chain([s.log_level])
        .max()
        .unwrap_or(Level::Info)
}

/// Why a scenario does not run here, if it does not.
fn skip_reason(
    file: &ScenarioFile,
    inst: &Instance,
    opts: &RunOptions,
    firmware_level: Option<Level>,
) -> Option<String> {
    let s = &file.scenario;
    if let Some(why) = s.why_not_for(opts.firmware) {
        return Some(why);
    }
    if !inst.has_serial_log() && s.expects_log() {
        return Some("it expects serial-log lines, and the target has no serial log".into());
    }
    if let Some(imp) = &opts.impair
        && imp.changes_segments()
        && s.needs_exact_segments
    {
        return Some(format!(
            "it depends on how the client's writes arrive, which the impairment {imp} changes"
        ));
    }
    let needed = needed_log_level(s);
    if let Some(level) = firmware_level
        && inst.has_serial_log()
        && level < needed
    {
        return Some(format!(
            "it needs {} lines, but the firmware logs at {}; CONFIG_LOG_DEFAULT_LEVEL_{}=y, the QEMU overlay's setting, builds it at that level",
            needed.name(),
            level.name(),
            needed.name().to_uppercase()
        ));
    }
    None
}

/// Runs one scenario on a ready instance and judges it. `firmware_level`
/// is the level the firmware logs at, where known
/// ([`firmware_log_level`]).
pub async fn run_one(
    file: &ScenarioFile,
    inst: &Instance,
    opts: &RunOptions,
    firmware_level: Option<Level>,
) -> ScenarioResult {
    let suffix = opts.firmware.snapshot_suffix();
    let snapshot_path = snapshot::path_for(&file.path, &file.scenario.name, suffix);
    let segmenting = opts.impair.as_ref().is_some_and(|i| i.changes_segments());
    if let Some(why) = skip_reason(file, inst, opts, firmware_level) {
        return skipped(file, inst.label(), snapshot_path, why);
    }
    let scope = if !inst.has_serial_log() {
        snapshot::Scope::WireOnly
    } else if segmenting {
        snapshot::Scope::WithoutDebugLines
    } else {
        snapshot::Scope::Full
    };
    let started = Instant::now();
    let log_start = inst.serial().len();
    let mut run = exec::run_scenario(&file.scenario, inst, &opts.exec).await;
    let mut notes = Vec::new();
    if let Some(c) = inst.crash(log_start) {
        // A crash the failed step already reports is not repeated.
        if !run
            .failure
            .as_ref()
            .is_some_and(|f| f.message.starts_with(&c.what))
        {
            notes.push(format!("{}{}", c.what, quote(&c.lines)));
        }
        match recover_into(&mut run, inst, opts).await {
            Ok(()) => notes.push(format!("{}: the firmware rebooted", inst.label())),
            Err(e) => notes.push(e.to_string()),
        }
    }
    judge(
        file,
        inst.label(),
        opts,
        run,
        notes,
        scope,
        snapshot_path,
        started,
    )
}

/// Judges a run: snapshot, known bug, notes; writes its artifacts.
#[expect(
    clippy::too_many_arguments,
    reason = "the parts of one verdict, gathered by its two callers"
)]
fn judge(
    file: &ScenarioFile,
    instance: &str,
    opts: &RunOptions,
    run: ScenarioRun,
    mut notes: Vec<String>,
    scope: snapshot::Scope,
    snapshot_path: PathBuf,
    started: Instant,
) -> ScenarioResult {
    let bug = file.scenario.known_bug(opts.firmware.name);
    if run.settled == esp_ws_dut::Settled::TimedOut {
        notes.push(format!(
            "the target had not settled {:?} after the scenario (its log slice may be cut short)",
            opts.exec.settle_max
        ));
    }
    let input_file = display_path(&file.path);
    let text = snapshot::contents(&file.scenario, &run);
    let (snapshot_text, outcome) = match text {
        Err(e) => {
            notes.push(e.to_string());
            (None, None)
        }
        Ok(text) => {
            // A failed scenario's snapshot is compared (its diff helps) but
            // never written: half a run is not a snapshot anyone should accept.
            // A failed scenario's snapshot is compared but not written, unless
            // the failure is the known bug the scenario documents: then the
            // snapshot records that deviation.
            let update = if run.failure.is_some() && bug.is_none() {
                snapshot::Update::No
            } else {
                opts.update
            };
            match snapshot::check_scoped(&snapshot_path, &text, &input_file, update, scope) {
                Ok(o) => (Some(text), Some(o)),
                Err(e) => {
                    notes.push(format!("snapshot {}: {e}", snapshot_path.display()));
                    (Some(text), None)
                }
            }
        }
    };
    let forced_pass = opts.force_pass && outcome.as_ref().is_some_and(|o| !o.passed(true));
    let snapshot_ok = match &outcome {
        Some(o) => o.passed(true) || opts.force_pass,
        None => false,
    };
    let failed = run.failure.is_some() || !notes.is_empty();
    let status = match bug {
        None if !failed && snapshot_ok => Status::Passed,
        None => Status::Failed,
        // The bug showed, and it showed the way the snapshot recorded.
        Some(b) if failed && snapshot_ok => {
            Status::KnownBug(format!("{} on {}", b.issue, opts.firmware.name))
        }
        Some(b) => {
            if !failed {
                notes.push(format!(
                    "expected to fail on {} ({}{}), but it passed: is the bug fixed there?",
                    opts.firmware.name,
                    b.issue,
                    b.note
                        .as_deref()
                        .map(|n| format!(": {n}"))
                        .unwrap_or_default()
                ));
            }
            Status::Failed
        }
    };
    let artifacts = opts
        .artifacts
        .write_scenario(file, &run, snapshot_text.as_deref());
    ScenarioResult {
        file: file.clone(),
        instance: instance.to_string(),
        status,
        run: Some(run),
        snapshot: outcome,
        snapshot_path,
        snapshot_text,
        snapshot_scope: scope,
        elapsed: started.elapsed(),
        notes,
        forced_pass,
        artifacts,
    }
}

pub fn display_path(p: &std::path::Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    p.strip_prefix(&cwd)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Runs one server-role scenario on an instance of its own: esp-ws listens,
/// starts the firmware with the address to dial, runs the steps, stops it.
/// A firmware that dials out connects as it boots, so each scenario starts
/// from a fresh boot (its log from the first line is the scenario's).
pub async fn run_one_dialing(
    file: &ScenarioFile,
    opts: &RunOptions,
    label: String,
) -> Result<ScenarioResult, RunError> {
    let suffix = opts.firmware.snapshot_suffix();
    let snapshot_path = snapshot::path_for(&file.path, &file.scenario.name, suffix);
    if let Some(why) = file.scenario.why_not_for(opts.firmware) {
        return Ok(skipped(file, &label, snapshot_path, why));
    }
    if let Some(imp) = &opts.impair {
        return Ok(skipped(
            file,
            &label,
            snapshot_path,
            format!(
                "the impairment {imp} stands in front of a firmware that serves; this one dials out"
            ),
        ));
    }
    let Dialing {
        inst,
        listener,
        started: boot,
    } = start_dialing(opts, label).await?;
    let level = firmware_log_level(&inst, opts.log_level);
    if let Some(why) = skip_reason(file, &inst, opts, level) {
        let label = inst.label().to_string();
        inst.stop().await;
        return Ok(skipped(file, &label, snapshot_path, why));
    }
    let scope = if inst.has_serial_log() {
        snapshot::Scope::Full
    } else {
        snapshot::Scope::WireOnly
    };
    let started = Instant::now();
    let run = exec::run_served(&file.scenario, &inst, &opts.exec, listener, boot).await;
    let mut notes = Vec::new();
    if let Some(c) = inst.crash(0)
        && !run
            .failure
            .as_ref()
            .is_some_and(|f| f.message.starts_with(&c.what))
    {
        notes.push(format!("{}{}", c.what, quote(&c.lines)));
    }
    let label = inst.label().to_string();
    inst.stop().await;
    Ok(judge(
        file,
        &label,
        opts,
        run,
        notes,
        scope,
        snapshot_path,
        started,
    ))
}

/// Runs every scenario on as many instances as [`RunOptions::instances`];
/// `on_result` sees each result as it finishes. Returns the results in the
/// order of `files`.
pub async fn run_all(
    files: Vec<ScenarioFile>,
    opts: &RunOptions,
    on_result: impl Fn(&ScenarioResult) + Send + Sync + 'static,
) -> Result<Vec<ScenarioResult>, RunError> {
    let total = files.len();
    let queue: Arc<Mutex<VecDeque<(usize, ScenarioFile)>>> =
        Arc::new(Mutex::new(files.iter().cloned().enumerate().collect()));
    // A crashed target ends the run: nothing after it would mean anything.
    let abort = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let jobs = opts.instances().min(total.max(1));
    let on_result = Arc::new(on_result);
    let mut workers = Vec::new();
    for j in 0..jobs {
        let queue = queue.clone();
        let opts = opts.clone();
        let on_result = on_result.clone();
        let abort = abort.clone();
        let label = format!("{}#{}", opts.target.kind(), j + 1);
        if opts.firmware.role() == esp_ws_catalogue::Role::Client {
            // A firmware that dials out: an instance per scenario.
            workers.push(tokio::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let next = queue.lock().unwrap().pop_front();
                    let Some((i, file)) = next else {
                        break;
                    };
                    let r = run_one_dialing(&file, &opts, label.clone()).await?;
                    on_result(&r);
                    done.push((i, r));
                }
                Ok::<_, RunError>(done)
            }));
            continue;
        }
        workers.push(tokio::spawn(async move {
            let inst = start_instance(&opts, label).await?;
            let level = firmware_log_level(&inst, opts.log_level);
            let mut done = Vec::new();
            loop {
                if abort.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let next = queue.lock().unwrap().pop_front();
                let Some((i, file)) = next else {
                    break;
                };
                let r = run_one(&file, &inst, &opts, level).await;
                on_result(&r);
                done.push((i, r));
                if inst.crash(0).is_some() {
                    abort.store(true, std::sync::atomic::Ordering::SeqCst);
                    break;
                }
            }
            inst.stop().await;
            Ok::<_, RunError>(done)
        }));
    }
    let mut results: Vec<Option<ScenarioResult>> = (0..total).map(|_| None).collect();
    let mut errors = Vec::new();
    for w in workers {
        match w.await {
            Ok(Ok(done)) => {
                for (i, r) in done {
                    results[i] = Some(r);
                }
            }
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(RunError::Worker(e.to_string())),
        }
    }
    match errors.len() {
        0 => {}
        1 => return Err(errors.pop().expect("one error")),
        _ => return Err(RunError::Several(errors)),
    }
    // Scenarios a crash kept from running are reported as such.
    Ok(results
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| not_run(&files[i], "not run: the target crashed earlier"))
        })
        .collect())
}

fn not_run(file: &ScenarioFile, why: &str) -> ScenarioResult {
    skipped(file, "", PathBuf::new(), why.to_string())
}

fn skipped(
    file: &ScenarioFile,
    instance: &str,
    snapshot_path: PathBuf,
    why: String,
) -> ScenarioResult {
    ScenarioResult {
        file: file.clone(),
        instance: instance.to_string(),
        status: Status::Skipped(why),
        run: None,
        snapshot: None,
        snapshot_path,
        snapshot_text: None,
        snapshot_scope: snapshot::Scope::Full,
        elapsed: Duration::ZERO,
        notes: Vec::new(),
        forced_pass: false,
        artifacts: None,
    }
}
