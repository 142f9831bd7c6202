//! Runs esp-ws scenarios against targets: starts the instances, hands each
//! one scenario at a time, slices the serial log per scenario, asserts the
//! log snapshots, keeps every artifact, and reports.

pub mod artifacts;
pub mod discover;
pub mod exec;
pub mod report;
pub mod snapshot;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use esp_ws_scenario as sc;
use esp_ws_target::{Instance, SimOptions};

pub use exec::{ExecOptions, ScenarioRun, StepFailure};

/// A loaded scenario and where it came from.
#[derive(Clone, Debug)]
pub struct ScenarioFile {
    pub path: PathBuf,
    pub scenario: sc::Scenario,
}

/// What to run against.
#[derive(Clone)]
pub enum TargetSpec {
    Sim(SimOptions),
}

impl TargetSpec {
    pub fn describe(&self) -> String {
        match self {
            TargetSpec::Sim(o) => format!("simulator ({})", o.profile.name),
        }
    }

    /// The firmware profile name scenarios' `firmware` lists are held
    /// against.
    pub fn profile_name(&self) -> Option<&str> {
        match self {
            TargetSpec::Sim(o) => Some(o.profile.name),
        }
    }

    /// The snapshot suffix (`name@suffix.snap`): none for the default
    /// profile, so that every target of that firmware shares snapshots.
    pub fn snapshot_suffix(&self) -> Option<String> {
        self.profile_name()
            .filter(|p| *p != esp_ws_sim::profile::DEFAULT)
            .map(str::to_string)
    }
}

#[derive(Clone)]
pub struct RunOptions {
    pub target: TargetSpec,
    pub jobs: usize,
    pub exec: ExecOptions,
    pub update: snapshot::Update,
    /// INSTA_FORCE_PASS: snapshot mismatches do not fail the run.
    pub force_pass: bool,
    pub artifacts: artifacts::Artifacts,
    /// Log lines that mean the target is ready (all must appear, in order).
    pub ready_markers: Vec<regex::Regex>,
    pub boot_timeout: Duration,
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
    pub elapsed: Duration,
    /// Problems that are not step failures (settling, snapshot I/O).
    pub notes: Vec<String>,
    pub artifacts: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Passed,
    Failed,
    Skipped(String),
}

/// Default readiness: the application's `app_main()` has returned.
pub fn default_ready_markers() -> Vec<regex::Regex> {
    vec![regex::Regex::new(r"Returned from app_main\(\)").expect("valid regex")]
}

/// Starts one instance and waits until its log says it is ready.
pub async fn start_instance(opts: &RunOptions, label: String) -> Result<Instance, String> {
    let serial_file = opts.artifacts.instance_serial(&label);
    let inst = match &opts.target {
        TargetSpec::Sim(o) => Instance::start_sim(label.clone(), o.clone(), serial_file)
            .await
            .map_err(|e| format!("{label}: cannot start the simulator: {e}"))?,
    };
    let deadline = tokio::time::Instant::now() + opts.boot_timeout;
    let mut from = 0;
    for m in &opts.ready_markers {
        match inst
            .serial
            .wait_for(from, deadline, |l| m.is_match(&l.text()))
            .await
        {
            Some(l) => from = l.index + 1,
            None => {
                let err = format!(
                    "{label}: not ready after {:?}: the serial log never showed /{}/",
                    opts.boot_timeout,
                    m.as_str()
                );
                inst.stop().await;
                return Err(err);
            }
        }
    }
    // Output printed around the marker belongs to start-up, not to the first
    // scenario.
    inst.settle(opts.exec.settle_quiet, opts.exec.settle_max)
        .await;
    Ok(inst)
}

/// Runs one scenario on a ready instance and judges it.
pub async fn run_one(file: &ScenarioFile, inst: &Instance, opts: &RunOptions) -> ScenarioResult {
    let suffix = opts.target.snapshot_suffix();
    let snapshot_path = snapshot::path_for(&file.path, &file.scenario.name, suffix.as_deref());
    if let (Some(list), Some(p)) = (&file.scenario.firmware, opts.target.profile_name())
        && !list.iter().any(|f| f == p)
    {
        return ScenarioResult {
            file: file.clone(),
            instance: inst.label.clone(),
            status: Status::Skipped(format!("only for firmware {}", list.join(", "))),
            run: None,
            snapshot: None,
            snapshot_path,
            snapshot_text: None,
            elapsed: Duration::ZERO,
            notes: Vec::new(),
            artifacts: None,
        };
    }
    let started = Instant::now();
    let run = exec::run_scenario(&file.scenario, inst, &opts.exec).await;
    let mut notes = Vec::new();
    if run.settled == esp_ws_target::Settled::TimedOut {
        notes.push(format!(
            "the target had not settled {:?} after the scenario (its log slice may be cut short)",
            opts.exec.settle_max
        ));
    }
    let input_file = display_path(&file.path);
    let text = snapshot::contents(&file.scenario, &run);
    let (snapshot_text, outcome) = match text {
        Err(e) => {
            notes.push(e);
            (None, None)
        }
        Ok(text) => {
            // A failed scenario's snapshot is compared (its diff helps) but
            // never written: half a run is not a snapshot anyone should accept.
            let update = if run.failure.is_some() {
                snapshot::Update::No
            } else {
                opts.update
            };
            match snapshot::check(&snapshot_path, &text, &input_file, update) {
                Ok(o) => (Some(text), Some(o)),
                Err(e) => {
                    notes.push(format!("snapshot {}: {e}", snapshot_path.display()));
                    (Some(text), None)
                }
            }
        }
    };
    let snapshot_ok = match &outcome {
        Some(o) => o.passed(true) || opts.force_pass,
        None => false,
    };
    let status = if run.failure.is_none() && snapshot_ok && notes.is_empty() {
        Status::Passed
    } else {
        Status::Failed
    };
    let artifacts = opts
        .artifacts
        .write_scenario(file, &run, snapshot_text.as_deref());
    ScenarioResult {
        file: file.clone(),
        instance: inst.label.clone(),
        status,
        run: Some(run),
        snapshot: outcome,
        snapshot_path,
        snapshot_text,
        elapsed: started.elapsed(),
        notes,
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

/// Runs every scenario on `jobs` instances; `on_result` sees each result as
/// it finishes. Returns the results in the order of `files`.
pub async fn run_all(
    files: Vec<ScenarioFile>,
    opts: &RunOptions,
    on_result: impl Fn(&ScenarioResult) + Send + Sync + 'static,
) -> Result<Vec<ScenarioResult>, String> {
    let total = files.len();
    let queue: Arc<Mutex<VecDeque<(usize, ScenarioFile)>>> =
        Arc::new(Mutex::new(files.into_iter().enumerate().collect()));
    let jobs = opts.jobs.clamp(1, total.max(1));
    let on_result = Arc::new(on_result);
    let mut workers = Vec::new();
    for j in 0..jobs {
        let queue = queue.clone();
        let opts = opts.clone();
        let on_result = on_result.clone();
        let label = match &opts.target {
            TargetSpec::Sim(_) => format!("sim#{}", j + 1),
        };
        workers.push(tokio::spawn(async move {
            let inst = start_instance(&opts, label).await?;
            let mut done = Vec::new();
            loop {
                let next = queue.lock().unwrap().pop_front();
                let Some((i, file)) = next else {
                    break;
                };
                let r = run_one(&file, &inst, &opts).await;
                on_result(&r);
                done.push((i, r));
            }
            inst.stop().await;
            Ok::<_, String>(done)
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
            Err(e) => errors.push(format!("a worker failed: {e}")),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    Ok(results.into_iter().flatten().collect())
}
