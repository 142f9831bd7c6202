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

use esp_ws_dut::{BoardConfig, ExecConfig, Instance, QemuConfig, SimOptions};
use esp_ws_scenario as sc;

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
    /// A program printing the serial log on stdout (`--target exec`).
    Exec {
        cfg: ExecConfig,
        profile: String,
    },
    /// Espressif's QEMU on a real firmware image.
    Qemu {
        cfg: QemuConfig,
        profile: String,
    },
    /// A real board on the network, its log from its USB serial port.
    Board {
        cfg: BoardConfig,
        profile: String,
    },
}

impl TargetSpec {
    pub fn describe(&self) -> String {
        match self {
            TargetSpec::Sim(o) => format!("simulator ({})", o.profile.name),
            TargetSpec::Exec { cfg, .. } => format!("program {}", cfg.program),
            TargetSpec::Qemu { cfg, .. } => format!("QEMU ({})", cfg.binary.path.display()),
            TargetSpec::Board { cfg, .. } => match &cfg.serial {
                Some(s) => format!("board at {} (serial {})", cfg.host, s.path.display()),
                None => format!("board at {} (no serial log)", cfg.host),
            },
        }
    }

    /// Short instance name prefix.
    pub fn kind(&self) -> &'static str {
        match self {
            TargetSpec::Sim(_) => "sim",
            TargetSpec::Exec { .. } => "exec",
            TargetSpec::Qemu { .. } => "qemu",
            TargetSpec::Board { .. } => "board",
        }
    }

    /// The firmware profile name scenarios' `firmware` lists are held
    /// against (for a real firmware: the one it was declared to be).
    pub fn profile_name(&self) -> Option<&str> {
        match self {
            TargetSpec::Sim(o) => Some(o.profile.name),
            TargetSpec::Exec { profile, .. }
            | TargetSpec::Qemu { profile, .. }
            | TargetSpec::Board { profile, .. } => Some(profile),
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
    /// The impairment proxy between the client and the target, if any.
    pub impair: Option<esp_ws_impair::Impairment>,
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

/// Default readiness for a firmware profile (the default profile when the
/// name is not one): the example's IPv4-address line (example_connect),
/// `Starting server on port`, then the last line before the URI handlers
/// are registered (v5.x: `Returned from app_main()`, which ESP-IDF's own
/// test waits for; v4.x: `Registering URI handlers`).
pub fn default_ready_markers(profile: Option<&str>) -> Vec<regex::Regex> {
    let p = profile
        .and_then(esp_ws_sim::profile::find)
        .or_else(|| esp_ws_sim::profile::find(esp_ws_sim::profile::DEFAULT))
        .expect("the default profile exists");
    p.ready_markers()
        .iter()
        .map(|r| regex::Regex::new(r).expect("valid regex"))
        .collect()
}

fn quote(lines: &[String]) -> String {
    lines.iter().map(|l| format!("\n    {l}")).collect()
}

/// Starts one instance and waits until its log says it is ready: every
/// marker in order, within the boot timeout, failing at once (quoting the
/// panic, or the process's last words) if the firmware crashes or the
/// process exits. A process target is then probed with bounded connection
/// retries, because a forwarded port accepts before the guest listens.
pub async fn start_instance(opts: &RunOptions, label: String) -> Result<Instance, String> {
    let dir = opts.artifacts.instance_dir(&label);
    let inst = match &opts.target {
        TargetSpec::Sim(o) => {
            let serial_file = dir.as_ref().map(|d| d.join("serial.log"));
            if let Some(d) = &dir {
                std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
            }
            Instance::start_sim(label.clone(), o.clone(), serial_file)
                .await
                .map_err(|e| format!("{label}: cannot start the simulator: {e}"))?
        }
        TargetSpec::Exec { cfg, .. } => {
            let dir = dir.ok_or("an exec target needs an artifacts folder")?;
            Instance::start_exec(label.clone(), cfg, dir)
                .await
                .map_err(|e| format!("{label}: {e}"))?
        }
        TargetSpec::Qemu { cfg, .. } => {
            let dir = dir.ok_or("a QEMU target needs an artifacts folder")?;
            Instance::start_qemu(label.clone(), cfg, dir).await?
        }
        TargetSpec::Board { cfg, .. } => {
            let dir = dir.ok_or("a board target needs an artifacts folder")?;
            Instance::start_board(label.clone(), cfg, dir)
                .await
                .map_err(|e| format!("{label}: {e}"))?
        }
    };
    let mut inst = inst;
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + opts.boot_timeout;
    let progress = boot_progress(&label);
    // A board that was not reset is already running: its boot log is
    // gone, and it is ready when it answers a WebSocket handshake.
    let attach = matches!(&opts.target, TargetSpec::Board { cfg, .. } if !cfg.reset);
    let ready = if attach {
        probe_websocket(inst.endpoint, deadline, progress.as_ref())
            .await
            .map_err(|e| format!("{label}: {e}{}", wifi_hint(&inst)))
    } else {
        wait_ready(&inst, opts, 0, deadline, progress.as_ref()).await
    };
    if let Err(err) = ready {
        if let Some(p) = &progress {
            p.finish_and_clear();
        }
        inst.stop().await;
        return Err(err);
    }
    if let Some(p) = &progress {
        p.finish_and_clear();
    }
    tracing::info!(
        "{label}: ready after {:.1}s",
        started.elapsed().as_secs_f64()
    );
    if !matches!(opts.target, TargetSpec::Sim(_))
        && !attach
        && let Err(e) = probe_until_served(inst.endpoint, deadline).await
    {
        let err = format!("{label}: {e}{}", log_hint(&inst));
        inst.stop().await;
        return Err(err);
    }
    if let Some(imp) = &opts.impair
        && let Err(e) = inst.impair(imp.clone()).await
    {
        let err = format!("{label}: cannot start the impairment proxy: {e}");
        inst.stop().await;
        return Err(err);
    }
    // Output printed around the marker belongs to start-up, not to the first
    // scenario.
    inst.settle(opts.exec.settle_quiet, opts.exec.settle_max)
        .await;
    Ok(inst)
}

/// When the firmware sits at its Wi-Fi prompt, what to do about it.
fn wifi_hint(inst: &Instance) -> String {
    let asked = inst
        .serial
        .lines(0, usize::MAX)
        .iter()
        .any(|l| l.text().contains(esp_ws_dut::board::WIFI_PROMPT));
    if asked {
        format!(
            "\n  the firmware asks for Wi-Fi credentials ({:?}): give them with --wifi-ssid and --wifi-password (or ESP_WS_WIFI_SSID and ESP_WS_WIFI_PASSWORD)",
            esp_ws_dut::board::WIFI_PROMPT
        )
    } else {
        String::new()
    }
}

/// A running firmware is ready when it completes a WebSocket handshake on
/// `/ws`; tried with growing pauses (a board on Wi-Fi may be slow to
/// answer, or still joining the network) until `deadline`.
async fn probe_websocket(
    addr: std::net::SocketAddr,
    deadline: tokio::time::Instant,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<(), String> {
    let mut attempts = 0;
    let mut pause = Duration::from_millis(100);
    loop {
        attempts += 1;
        if let Some(p) = progress {
            p.set_message(format!(
                "WebSocket handshake with {addr}, attempt {attempts}"
            ));
        }
        let attempt = async {
            let attempt_deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            let mut c = esp_ws_client::Connection::connect(addr, Duration::from_secs(5))
                .await
                .map_err(|e| e.to_string())?;
            let key = esp_ws_frame::key_from_nonce(*b"esp-ws readiness");
            let req = esp_ws_frame::Request::websocket("/ws", &addr.to_string(), &key);
            c.write(&[&req.to_bytes()], Duration::ZERO)
                .await
                .map_err(|e| e.to_string())?;
            let ev = c
                .read_response(attempt_deadline)
                .await
                .map_err(|e| e.to_string())?;
            // Going away without a CLOSE frame is what the firmware copes
            // with best (it logs one warning and closes).
            c.close(esp_ws_client::Closed::Fin, attempt_deadline).await;
            match ev {
                esp_ws_client::ResponseEvent::Response(r) if r.status == 101 => Ok(()),
                esp_ws_client::ResponseEvent::Response(r) => {
                    Err(format!("answered {:?}", r.status_line()))
                }
                esp_ws_client::ResponseEvent::Closed { how, .. } => {
                    Err(format!("closed ({how}) without a response"))
                }
                esp_ws_client::ResponseEvent::Timeout { .. } => {
                    Err("no response within 5 s".to_string())
                }
            }
        };
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let last = match tokio::time::timeout(left.min(Duration::from_secs(5)), attempt).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => e,
            Err(_) => "no answer within 5 s".to_string(),
        };
        if tokio::time::Instant::now() + pause >= deadline {
            return Err(format!(
                "{addr} did not complete a WebSocket handshake on /ws after {attempts} attempts (last: {last})"
            ));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

fn log_hint(inst: &Instance) -> String {
    inst.dir
        .as_ref()
        .map(|d| format!("\n  full log: {}", display_path(&d.join("serial.log"))))
        .unwrap_or_default()
}

/// Waits until the serial log, from line `from` on, shows every ready
/// marker in order; fails at once (quoting the panic, or the process's last
/// words) if the firmware crashes or the process exits.
async fn wait_ready(
    inst: &Instance,
    opts: &RunOptions,
    from: usize,
    deadline: tokio::time::Instant,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<(), String> {
    let started = Instant::now();
    let label = &inst.label;
    let mut from = from;
    for m in &opts.ready_markers {
        let found = inst
            .serial
            .wait_for(from, deadline, |l| {
                if let Some(p) = progress {
                    p.set_message(format!(
                        "{:.1}s {}",
                        started.elapsed().as_secs_f64(),
                        l.text()
                    ));
                }
                m.is_match(&l.text()) || esp_ws_dut::panic_marker(&l.text())
            })
            .await;
        if found.is_none() && inst.serial.is_closed() {
            // The output ended: the process is exiting.
            inst.wait_exit(Duration::from_secs(2)).await;
        }
        match (found, inst.crash(0)) {
            (_, Some(c)) => {
                return Err(format!(
                    "{} while starting{}{}",
                    c.what,
                    quote(&c.lines),
                    log_hint(inst)
                ));
            }
            (Some(l), None) => from = l.index + 1,
            (None, None) => {
                let tail: Vec<String> = inst
                    .serial
                    .lines(inst.serial.len().saturating_sub(10), usize::MAX)
                    .iter()
                    .map(|l| l.text())
                    .collect();
                return Err(format!(
                    "{label}: not ready after {}: the serial log never showed /{}/; its last lines:{}{}{}",
                    humantime::format_duration(opts.boot_timeout),
                    m.as_str(),
                    quote(&tail),
                    wifi_hint(inst),
                    log_hint(inst)
                ));
            }
        }
    }
    Ok(())
}

/// After a panic, a chip that reboots (a board, the simulator; not QEMU
/// with `-no-reboot`) prints the ROM banner again and boots: waits for that
/// banner and then for the ready markers, as at start-up, so that the next
/// scenario runs on a fresh boot. Errors say why the target is gone.
pub async fn recover(inst: &Instance, opts: &RunOptions) -> Result<(), String> {
    let Some(crash) = inst.crash(0) else {
        return Ok(());
    };
    let deadline = tokio::time::Instant::now() + opts.boot_timeout;
    let boot = inst.boot_line();
    let lines = inst.serial.lines(boot, usize::MAX);
    let Some(p) = lines
        .iter()
        .position(|l| esp_ws_dut::panic_marker(&l.text()))
    else {
        // The process ended without a panic: nothing to recover from.
        return Err(crash.what);
    };
    let panic_at = boot + p;
    // The ROM's reset line (`rst:0x..`), which may be the panic line itself
    // (a watchdog reset shows only there).
    let banner = inst
        .serial
        .wait_for(panic_at, deadline, |l| l.text().starts_with("rst:0x"))
        .await;
    let Some(banner) = banner else {
        if inst.serial.is_closed() {
            inst.wait_exit(Duration::from_secs(2)).await;
        }
        return Err(if inst.exited() {
            format!("{}; it did not reboot", crash.what)
        } else {
            format!(
                "{}; it did not reboot within {}",
                crash.what,
                humantime::format_duration(opts.boot_timeout)
            )
        });
    };
    inst.rebooted_at(banner.index + 1);
    wait_ready(inst, opts, banner.index + 1, deadline, None)
        .await
        .map_err(|e| format!("after a reboot: {e}"))?;
    tracing::info!("{}: rebooted after a panic", inst.label);
    inst.settle(opts.exec.settle_quiet, opts.exec.settle_max)
        .await;
    Ok(())
}

/// After a scenario crashed the firmware: [`recover`], and the reboot
/// becomes part of the scenario's log (the next scenario starts on a fresh
/// boot). Errors say why the target is gone.
pub async fn recover_into(
    run: &mut ScenarioRun,
    inst: &Instance,
    opts: &RunOptions,
) -> Result<(), String> {
    recover(inst, opts).await?;
    run.log = inst.serial.lines(run.log_start, inst.serial.len());
    Ok(())
}

/// A spinner on stderr while an instance boots (terminals only).
fn boot_progress(label: &str) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let p = indicatif::ProgressBar::new_spinner();
    p.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {prefix} booting: {wide_msg}")
            .expect("valid template"),
    );
    p.set_prefix(label.to_string());
    p.enable_steady_tick(Duration::from_millis(120));
    Some(p)
}

/// Connects until a connection stays open (a forwarded port that nobody
/// listens behind yet is accepted and then reset), then closes it.
async fn probe_until_served(
    addr: std::net::SocketAddr,
    deadline: tokio::time::Instant,
) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut attempts = 0;
    loop {
        attempts += 1;
        let last = match tokio::time::timeout_at(deadline, tokio::net::TcpStream::connect(addr))
            .await
        {
            Err(_) => "timed out connecting".to_string(),
            Ok(Err(e)) => e.to_string(),
            Ok(Ok(mut s)) => {
                let mut b = [0u8; 1];
                match tokio::time::timeout(Duration::from_millis(300), s.read(&mut b)).await {
                    // Nothing arrives and nothing closes: something serves.
                    Err(_) => {
                        let _ = s.shutdown().await;
                        let _ = tokio::time::timeout(Duration::from_secs(1), s.read(&mut b)).await;
                        return Ok(());
                    }
                    Ok(Ok(0)) => "accepted, then closed".to_string(),
                    Ok(Ok(_)) => return Ok(()),
                    Ok(Err(e)) => e.to_string(),
                }
            }
        };
        if tokio::time::Instant::now() + Duration::from_millis(250) >= deadline {
            return Err(format!(
                "{addr} did not serve after {attempts} attempts (last: {last})"
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs one scenario on a ready instance and judges it.
pub async fn run_one(file: &ScenarioFile, inst: &Instance, opts: &RunOptions) -> ScenarioResult {
    let suffix = opts.target.snapshot_suffix();
    let snapshot_path = snapshot::path_for(&file.path, &file.scenario.name, suffix.as_deref());
    let segmenting = opts.impair.as_ref().is_some_and(|i| i.changes_segments());
    let skip = match (&file.scenario.firmware, opts.target.profile_name()) {
        (Some(list), Some(p)) if !list.iter().any(|f| f == p) => {
            Some(format!("only for firmware {}", list.join(", ")))
        }
        _ if !inst.has_serial_log() && file.scenario.expects_log() => {
            Some("it expects serial-log lines, and the board has no --serial".to_string())
        }
        _ if segmenting && file.scenario.needs_exact_segments => Some(format!(
            "it depends on how the client's writes arrive, which --impair {} changes",
            opts.impair
                .as_ref()
                .map(|i| i.to_string())
                .unwrap_or_default()
        )),
        _ => None,
    };
    if let Some(why) = skip {
        return skipped(file, &inst.label, snapshot_path, why);
    }
    let scope = if !inst.has_serial_log() {
        snapshot::Scope::WireOnly
    } else if segmenting {
        snapshot::Scope::WithoutDebugLines
    } else {
        snapshot::Scope::Full
    };
    let bug = opts
        .target
        .profile_name()
        .and_then(|p| file.scenario.known_bug(p));
    let started = Instant::now();
    let log_start = inst.serial.len();
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
            Ok(()) => notes.push(format!("{}: the firmware rebooted", inst.label)),
            Err(e) => notes.push(e),
        }
    }
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
            notes.push(e);
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
    let snapshot_ok = match &outcome {
        Some(o) => o.passed(true) || opts.force_pass,
        None => false,
    };
    let failed = run.failure.is_some() || !notes.is_empty();
    let status = match bug {
        None if !failed && snapshot_ok => Status::Passed,
        None => Status::Failed,
        // The bug showed, and it showed the way the snapshot recorded.
        Some(b) if failed && snapshot_ok => Status::KnownBug(format!(
            "{} on {}",
            b.issue,
            opts.target.profile_name().unwrap_or("this firmware")
        )),
        Some(b) => {
            if !failed {
                notes.push(format!(
                    "expected to fail on {} ({}{}), but it passed: is the bug fixed there?",
                    opts.target.profile_name().unwrap_or("this firmware"),
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
        instance: inst.label.clone(),
        status,
        run: Some(run),
        snapshot: outcome,
        snapshot_path,
        snapshot_text,
        snapshot_scope: scope,
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
        Arc::new(Mutex::new(files.iter().cloned().enumerate().collect()));
    // A crashed target ends the run: nothing after it would mean anything.
    let abort = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let jobs = opts.jobs.clamp(1, total.max(1));
    let on_result = Arc::new(on_result);
    let mut workers = Vec::new();
    for j in 0..jobs {
        let queue = queue.clone();
        let opts = opts.clone();
        let on_result = on_result.clone();
        let abort = abort.clone();
        let label = format!("{}#{}", opts.target.kind(), j + 1);
        workers.push(tokio::spawn(async move {
            let inst = start_instance(&opts, label).await?;
            let mut done = Vec::new();
            loop {
                if abort.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let next = queue.lock().unwrap().pop_front();
                let Some((i, file)) = next else {
                    break;
                };
                let r = run_one(&file, &inst, &opts).await;
                on_result(&r);
                done.push((i, r));
                if inst.crash(0).is_some() {
                    abort.store(true, std::sync::atomic::Ordering::SeqCst);
                    break;
                }
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
        artifacts: None,
    }
}
