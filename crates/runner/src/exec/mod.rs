//! Runs one scenario's steps against one target instance.
//!
//! Everything observed goes into a [`Transcript`]; the first step that does
//! not get what it expects ends the scenario with a [`StepFailure`] saying
//! what was expected and what came instead. Whatever happens, the scenario
//! ends by closing its connections and letting the target settle, so that
//! the next scenario on the same instance starts from a quiet firmware.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use esp_ws_client::{Closed, Connection, FrameEvent, ResponseEvent};
use esp_ws_dut::{Instance, SerialLine, Settled};
use esp_ws_frame::{ClosePayload, Frame, FrameSpec, Opcode, Response};
use esp_ws_scenario as sc;
use rand::Rng;
use regex::Regex;

mod close;
mod frames;
mod log;
mod open;
mod send;
mod server;

/// One thing that happened on the wire, in step order.
#[derive(Clone, Debug)]
pub struct WireEvent {
    pub at: Duration,
    pub conn: String,
    /// `>` esp-ws to the firmware, `<` the firmware to esp-ws (in either
    /// role: in a client-role scenario esp-ws is the client), `=` neither
    /// (a note).
    pub dir: char,
    /// Deterministic one-line description (goes into the snapshot).
    pub text: String,
    /// The bytes, for the transcript artifact.
    pub bytes: Option<Vec<u8>>,
    /// Time from the last client write on this connection (round trip).
    pub rtt: Option<Duration>,
}

#[derive(Clone, Debug, Default)]
pub struct Transcript {
    pub events: Vec<WireEvent>,
}

#[derive(Clone, Debug)]
pub struct StepFailure {
    pub index: usize,
    pub kind: &'static str,
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// For a readable diff: what the step wanted and what arrived.
    pub expected: Option<String>,
    pub got: Option<String>,
}

#[derive(Debug)]
pub struct ScenarioRun {
    pub transcript: Transcript,
    pub failure: Option<StepFailure>,
    /// Serial lines of this scenario (from its first step until the target
    /// settled after the last).
    pub log: Vec<SerialLine>,
    /// The index of the first of them in the instance's serial log.
    pub log_start: usize,
    /// Values that vary between runs and must be normalized away (random
    /// keys and the accepts derived from them, the endpoint).
    pub volatile: Vec<(String, String)>,
    pub settled: Settled,
    pub elapsed: Duration,
}

/// Settings that do not come from the scenario.
#[derive(Clone, Debug)]
pub struct ExecOptions {
    /// Multiplies every step timeout (slow targets, boards over Wi-Fi).
    pub timeout_scale: f64,
    /// How long the target may take to settle after a scenario.
    pub settle_max: Duration,
    /// The `Host` header sent by default.
    pub host_header: Option<String>,
    /// TCP connection attempts of an `open` step (with backoff).
    pub connect_attempts: u32,
    /// Told what each instance waits for.
    pub progress: crate::progress::Progress,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            timeout_scale: 1.0,
            settle_max: Duration::from_secs(5),
            host_header: None,
            connect_attempts: 1,
            progress: Default::default(),
        }
    }
}

struct ConnState {
    conn: Connection,
    /// The key sent in the opening handshake (for the Accept check).
    key: Option<String>,
    last_write: Option<Instant>,
    /// Server role: the client's request, once read.
    request: Option<server::ReadRequest>,
}

struct Ctx<'a> {
    target: &'a Instance,
    opts: &'a ExecOptions,
    conns: BTreeMap<String, ConnState>,
    vars: HashMap<String, String>,
    transcript: Transcript,
    volatile: Vec<(String, String)>,
    start: Instant,
    log_start: usize,
    /// Next serial line `expect_log` looks at.
    log_cursor: usize,
    /// The scenario's snapshot level: what a failure quotes of the log.
    log_level: sc::Level,
    /// The current step's time as the scenario gives it (before
    /// `--timeout-scale`): what snapshots show, so that they do not depend
    /// on the scale.
    declared: Duration,
    /// The current step: its index and kind.
    step: (usize, &'static str),
    /// Server role: the listener and what the steps measure against.
    server: Option<server::ServerState>,
}

/// Why a step failed (before it is given the step's position).
struct Fail {
    message: String,
    expected: Option<String>,
    got: Option<String>,
}

impl Fail {
    fn msg(m: impl Into<String>) -> Fail {
        Fail {
            message: m.into(),
            expected: None,
            got: None,
        }
    }
    fn diff(m: impl Into<String>, expected: impl Into<String>, got: impl Into<String>) -> Fail {
        Fail {
            message: m.into(),
            expected: Some(expected.into()),
            got: Some(got.into()),
        }
    }
}

type StepResult = Result<(), Fail>;

/// Runs a client-role scenario: esp-ws dials the instance.
pub async fn run_scenario(
    scenario: &sc::Scenario,
    target: &Instance,
    opts: &ExecOptions,
) -> ScenarioRun {
    run_steps(scenario, target, opts, None).await
}

/// Runs a server-role scenario on an instance started to dial `listener`
/// at `started`: its serial log from the current boot's first line is the
/// scenario's (the firmware dials as it boots, so its first lines are
/// already the session's).
pub async fn run_served(
    scenario: &sc::Scenario,
    target: &Instance,
    opts: &ExecOptions,
    listener: crate::listen::Listener,
    started: tokio::time::Instant,
) -> ScenarioRun {
    let state = server::ServerState::new(listener, started);
    run_steps(scenario, target, opts, Some(state)).await
}

async fn run_steps(
    scenario: &sc::Scenario,
    target: &Instance,
    opts: &ExecOptions,
    server: Option<server::ServerState>,
) -> ScenarioRun {
    let start = Instant::now();
    let log_start = if server.is_some() {
        target.boot_line()
    } else {
        target.serial().len()
    };
    let mut ctx = Ctx {
        target,
        opts,
        conns: BTreeMap::new(),
        vars: HashMap::new(),
        transcript: Transcript::default(),
        volatile: target
            .endpoint()
            .map(|e| (e.to_string(), "[HOST]".into()))
            .into_iter()
            .collect(),
        start,
        log_start,
        log_cursor: log_start,
        log_level: scenario.log_level,
        declared: Duration::ZERO,
        step: (0, ""),
        server,
    };
    let mut failure = None;
    for (i, step) in scenario.steps.iter().enumerate() {
        ctx.declared = scenario.step_timeout(step);
        let timeout = scale(ctx.declared, opts.timeout_scale);
        tracing::debug!(step = i, kind = step.kind.name(), "steps[{i}]");
        opts.progress.waiting(target.label(), || {
            crate::progress::Wait::new(format!(
                "{} steps[{i}] ({})",
                scenario.name,
                step.kind.name()
            ))
        });
        ctx.step = (i, step.kind.name());
        let result = ctx.step(&step.kind, timeout).await;
        if let Some(srv) = &mut ctx.server {
            srv.step_ended(i, step.kind.name());
        }
        opts.progress.done(target.label());
        // A crashed firmware explains any failure better than the step does,
        // and ends the scenario even if the step happened to pass.
        let crash = target.crash(log_start);
        let result = match (result, crash) {
            (r, None) => r,
            (r, Some(c)) => {
                let mut message = c.what;
                for l in &c.lines {
                    message.push_str("\n    ");
                    message.push_str(l);
                }
                if let Err(f) = r {
                    message.push_str(&format!("\n  (the step itself: {})", f.message));
                }
                Err(Fail::msg(message))
            }
        };
        if let Err(f) = result {
            failure = Some(StepFailure {
                index: i,
                kind: step.kind.name(),
                line: step.line,
                column: step.column,
                message: f.message,
                expected: f.expected,
                got: f.got,
            });
            break;
        }
    }
    // A firmware that dials is not let in again: connections no step
    // claimed are closed at once (not recorded: when a reconnect lands
    // after the last step is a matter of timing).
    if let Some(srv) = &mut ctx.server {
        srv.stop_listening().await;
    }
    // Close what is still open, as a peer that goes away does, and wait
    // for the firmware to be done with it.
    let close_deadline = tokio::time::Instant::now() + scale(scenario.timeout, opts.timeout_scale);
    let names: Vec<String> = ctx.conns.keys().cloned().collect();
    for name in names {
        let st = ctx.conns.get_mut(&name).expect("listed");
        if st.conn.is_open() {
            let seen = st.conn.closed();
            let (drained, how) = st.conn.close(Closed::Fin, close_deadline).await;
            ctx.note_close(
                &name,
                Closed::Fin,
                drained,
                how.filter(|_| seen.is_none()),
                true,
            );
        }
    }
    let settled = target.settle(opts.settle_max).await;
    let log_end = target.serial().len();
    ScenarioRun {
        transcript: ctx.transcript,
        failure,
        log: target.serial().lines(log_start, log_end),
        log_start,
        volatile: ctx.volatile,
        settled,
        elapsed: start.elapsed(),
    }
}

fn scale(d: Duration, factor: f64) -> Duration {
    d.mul_f64(factor.max(0.0))
}

fn esc(b: &[u8]) -> String {
    esp_ws_frame::escape_bytes(b)
}

/// A random Sec-WebSocket-Key, as a browser would send.
fn random_key() -> String {
    let nonce: [u8; 16] = rand::rng().random();
    esp_ws_frame::key_from_nonce(nonce)
}

fn describe_response(r: &Response) -> Vec<String> {
    let mut v = vec![r.status_line()];
    for (n, val) in &r.headers {
        v.push(format!("  {n}: {val}"));
    }
    if !r.body.is_empty() {
        v.push(format!("  body: \"{}\"", esc(&r.body)));
    }
    v
}

fn matcher_ok(m: &sc::Matcher, value: &str, vars: &HashMap<String, String>) -> Result<bool, Fail> {
    Ok(match m {
        sc::Matcher::Exact(t) => value == sc::substitute(t, vars).map_err(Fail::msg)?,
        sc::Matcher::Prefix(t) => value.starts_with(&sc::substitute(t, vars).map_err(Fail::msg)?),
        sc::Matcher::Regex(r) => {
            let r = sc::substitute_regex(r, vars).map_err(Fail::msg)?;
            Regex::new(&r)
                .map_err(|e| Fail::msg(format!("bad regex {r:?}: {e}")))?
                .is_match(value)
        }
    })
}

/// Checks expected headers (`None`: must be absent) against a handshake
/// message, saying what was wanted and what differs: the same rules for the
/// response a client reads and the request a server reads.
fn check_headers<'a, 'e>(
    expected: impl IntoIterator<Item = (&'e String, &'e Option<sc::Matcher>)>,
    header: impl Fn(&str) -> Option<&'a str>,
    vars: &HashMap<String, String>,
    want: &mut Vec<String>,
    problems: &mut Vec<String>,
) -> Result<(), Fail> {
    for (name, m) in expected {
        match (m, header(name)) {
            (None, None) => want.push(format!("no {name} header")),
            (None, Some(v)) => {
                want.push(format!("no {name} header"));
                problems.push(format!("header {name} is present ({v:?})"));
            }
            (Some(m), Some(v)) => {
                want.push(format!("{name}: {}", matcher_text(m)));
                if !matcher_ok(m, v, vars)? {
                    problems.push(format!(
                        "header {name} is {v:?}, expected {}",
                        matcher_text(m)
                    ));
                }
            }
            (Some(m), None) => {
                want.push(format!("{name}: {}", matcher_text(m)));
                problems.push(format!("header {name} is missing"));
            }
        }
    }
    Ok(())
}

fn matcher_text(m: &sc::Matcher) -> String {
    match m {
        sc::Matcher::Exact(t) => format!("{t:?}"),
        sc::Matcher::Prefix(t) => format!("starting with {t:?}"),
        sc::Matcher::Regex(r) => format!("matching /{r}/"),
    }
}

impl Ctx<'_> {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn record(&mut self, conn: &str, dir: char, text: String, bytes: Option<Vec<u8>>) {
        let rtt = if dir == '<' {
            self.conns
                .get(conn)
                .and_then(|c| c.last_write)
                .map(|t| t.elapsed())
        } else {
            None
        };
        self.transcript.events.push(WireEvent {
            at: self.now(),
            conn: conn.to_string(),
            dir,
            text,
            bytes,
            rtt,
        });
    }

    fn note_close(
        &mut self,
        name: &str,
        how: Closed,
        drained: Vec<u8>,
        server: Option<Closed>,
        at_end: bool,
    ) {
        let who = if at_end { "end of scenario: " } else { "" };
        self.record(name, '>', format!("{who}close TCP ({how})"), None);
        if !drained.is_empty() {
            let mut dec = esp_ws_frame::Decoder::new(esp_ws_client::MAX_FRAME);
            dec.push(&drained);
            while let Ok(Some(f)) = dec.next_frame() {
                self.record(name, '<', f.summary(), None);
            }
            let rest = dec.take_buffered();
            if !rest.is_empty() {
                self.record(name, '<', format!("{} more bytes", rest.len()), Some(rest));
            }
        }
        if let Some(s) = server {
            self.record(name, '<', format!("closed ({s})"), None);
        }
    }

    fn conn(&mut self, name: &str) -> Result<&mut ConnState, Fail> {
        self.conns
            .get_mut(name)
            .ok_or_else(|| Fail::msg(format!("connection {name:?} is not open")))
    }

    /// Writes `bytes` as the step asks and records them as `summary`; a
    /// write that fails part way is recorded too, with how far it got.
    async fn write(
        &mut self,
        name: &str,
        bytes: Vec<u8>,
        w: &sc::WriteOpts,
        summary: String,
    ) -> StepResult {
        let pieces = w.split(&bytes);
        let total = pieces.len();
        let st = self.conn(name)?;
        let result = st.conn.write(&pieces, w.delay).await;
        st.last_write = Some(Instant::now());
        match result {
            Ok(()) => {
                let note = Self::pieces_note(w, bytes.len());
                self.record(name, '>', format!("{summary}{note}"), Some(bytes));
                Ok(())
            }
            Err(e) => {
                self.record(
                    name,
                    '>',
                    // The error itself (EPIPE or ECONNRESET, depending on
                    // what reached the socket first) goes in the failure.
                    format!(
                        "{summary} (write failed after {} of {total} writes)",
                        e.written
                    ),
                    Some(bytes),
                );
                Err(Fail::msg(format!("writing to {name}: {e}")))
            }
        }
    }

    fn pieces_note(w: &sc::WriteOpts, len: usize) -> String {
        let n = w.split(&vec![0u8; len]).len();
        if n > 1 {
            format!(" (in {n} writes)")
        } else {
            String::new()
        }
    }

    async fn step(&mut self, kind: &sc::StepKind, timeout: Duration) -> StepResult {
        let deadline = tokio::time::Instant::now() + timeout;
        match kind {
            sc::StepKind::Open(o) => self.open(o, timeout, deadline).await,
            sc::StepKind::ExpectResponse(e) => {
                let key = self.conn(&e.conn)?.key.clone();
                self.check_response(&e.conn, &e.response, key.as_deref(), timeout, deadline)
                    .await
            }
            sc::StepKind::Send(s) => self.send(s).await,
            sc::StepKind::SendRaw(s) => self.send_raw(s).await,
            sc::StepKind::ExpectFrame(e) => self.expect_frame(e, timeout, deadline).await,
            sc::StepKind::ExpectNoFrame(e) => self.expect_no_frame(e).await,
            sc::StepKind::ExpectClose(e) => self.expect_close(e, timeout, deadline).await,
            sc::StepKind::ExpectClosed(e) => self.expect_closed(e, timeout, deadline).await,
            sc::StepKind::Close(c) => self.close(c, deadline).await,
            sc::StepKind::ExpectLog(e) => self.expect_log(e, deadline).await,
            sc::StepKind::ExpectConnect(e) => self.expect_connect(e, timeout).await,
            sc::StepKind::ExpectRequest(e) => self.expect_request(e, deadline).await,
            sc::StepKind::Accept(a) => self.accept(a, deadline).await,
            sc::StepKind::Drop(d) => self.drop_connection(d, deadline).await,
            sc::StepKind::Silence(s) => {
                let quiet = sc::ExpectNoFrame {
                    conn: s.conn.clone(),
                    duration: s.duration,
                };
                self.expect_no_frame(&quiet).await
            }
            sc::StepKind::Sleep(s) => {
                tokio::time::sleep(s.duration).await;
                Ok(())
            }
        }
    }
}
