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
use esp_ws_frame::{ClosePayload, Frame, FrameSpec, LengthEncoding, Opcode, Response};
use esp_ws_scenario as sc;
use rand::Rng;
use regex::Regex;

/// One thing that happened on the wire, in step order.
#[derive(Clone, Debug)]
pub struct WireEvent {
    pub at: Duration,
    pub conn: String,
    /// `>` client to server, `<` server to client, `=` neither (a note).
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
    /// Quiet period that counts as settled for targets that cannot tell.
    pub settle_quiet: Duration,
    /// The `Host` header sent by default.
    pub host_header: Option<String>,
    /// TCP connection attempts of an `open` step (with backoff).
    pub connect_attempts: u32,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            timeout_scale: 1.0,
            settle_max: Duration::from_secs(5),
            settle_quiet: Duration::from_millis(300),
            host_header: None,
            connect_attempts: 1,
        }
    }
}

struct ConnState {
    conn: Connection,
    /// The key sent in the opening handshake (for the Accept check).
    key: Option<String>,
    last_write: Option<Instant>,
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
    /// The current step's time as the scenario gives it (before
    /// `--timeout-scale`): what snapshots show, so that they do not depend
    /// on the scale.
    declared: Duration,
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

pub async fn run_scenario(
    scenario: &sc::Scenario,
    target: &Instance,
    opts: &ExecOptions,
) -> ScenarioRun {
    let start = Instant::now();
    let log_start = target.serial.len();
    let mut ctx = Ctx {
        target,
        opts,
        conns: BTreeMap::new(),
        vars: HashMap::new(),
        transcript: Transcript::default(),
        volatile: vec![(target.endpoint.to_string(), "[HOST]".into())],
        start,
        log_start,
        log_cursor: log_start,
        declared: Duration::ZERO,
    };
    let mut failure = None;
    for (i, step) in scenario.steps.iter().enumerate() {
        ctx.declared = scenario.step_timeout(step);
        let timeout = scale(ctx.declared, opts.timeout_scale);
        tracing::debug!(step = i + 1, kind = step.kind.name(), "step");
        let result = ctx.step(&step.kind, timeout).await;
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
    // Close what is still open, as a client that goes away does, and wait
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
    let settled = target.settle(opts.settle_quiet, opts.settle_max).await;
    let log_end = target.serial.len();
    ScenarioRun {
        transcript: ctx.transcript,
        failure,
        log: target.serial.lines(log_start, log_end),
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
            sc::StepKind::SendRaw(s) => {
                let bytes = self.payload_bytes(&s.payload)?;
                let summary = format!("raw {} bytes \"{}\"", bytes.len(), esc(&bytes));
                self.write(&s.conn, bytes, &s.write, summary).await
            }
            sc::StepKind::ExpectFrame(e) => self.expect_frame(e, timeout, deadline).await,
            sc::StepKind::ExpectClose(e) => self.expect_close(e, timeout, deadline).await,
            sc::StepKind::ExpectNoFrame(e) => {
                let until = tokio::time::Instant::now() + e.duration;
                let ev = self.next_frame(&e.conn, until).await?;
                match ev {
                    FrameEvent::Timeout { partial } if partial.is_empty() => {
                        self.record(
                            &e.conn,
                            '=',
                            format!("no frame for {} ms", e.duration.as_millis()),
                            None,
                        );
                        Ok(())
                    }
                    other => {
                        let got = self.describe_frame_event(&e.conn, other);
                        Err(Fail::diff(
                            format!("expected nothing for {} ms", e.duration.as_millis()),
                            "(nothing)",
                            got,
                        ))
                    }
                }
            }
            sc::StepKind::ExpectClosed(e) => {
                let ev = self.next_frame(&e.conn, deadline).await?;
                match ev {
                    FrameEvent::Closed { how, trailing } if trailing.is_empty() => {
                        self.record(&e.conn, '<', format!("closed ({how})"), None);
                        let ok = match e.how {
                            sc::ClosedHow::Any => true,
                            sc::ClosedHow::Fin => how == Closed::Fin,
                            sc::ClosedHow::Rst => how == Closed::Rst,
                        };
                        if ok {
                            Ok(())
                        } else {
                            Err(Fail::diff(
                                "the connection closed the other way",
                                format!("closed ({})", closed_how(e.how)),
                                format!("closed ({how})"),
                            ))
                        }
                    }
                    FrameEvent::Timeout { partial } if partial.is_empty() => Err(Fail::diff(
                        format!(
                            "the connection was still open after {} ms",
                            timeout.as_millis()
                        ),
                        format!("closed ({})", closed_how(e.how)),
                        "(still open)",
                    )),
                    other => {
                        let got = self.describe_frame_event(&e.conn, other);
                        Err(Fail::diff(
                            "expected the connection to close",
                            format!("closed ({})", closed_how(e.how)),
                            got,
                        ))
                    }
                }
            }
            sc::StepKind::Close(c) => {
                let how = match c.how {
                    sc::CloseHow::Fin => Closed::Fin,
                    sc::CloseHow::Rst => Closed::Rst,
                };
                let st = self.conn(&c.conn)?;
                let seen = st.conn.closed();
                let (drained, server) = st.conn.close(how, deadline).await;
                let server = server.filter(|_| seen.is_none());
                self.note_close(&c.conn, how, drained, server, false);
                Ok(())
            }
            sc::StepKind::ExpectLog(e) => self.expect_log(e, deadline).await,
            sc::StepKind::Sleep(s) => {
                tokio::time::sleep(s.duration).await;
                Ok(())
            }
        }
    }

    async fn open(
        &mut self,
        o: &sc::Open,
        timeout: Duration,
        deadline: tokio::time::Instant,
    ) -> StepResult {
        if let Some(old) = self.conns.get_mut(&o.conn)
            && old.conn.is_open()
        {
            return Err(Fail::msg(format!(
                "connection {:?} is already open (close it first)",
                o.conn
            )));
        }
        let addr = self.target.endpoint;
        // A board on Wi-Fi may refuse or drop a first attempt: try again,
        // pausing twice as long each time, within the step's time.
        let mut attempt = 1;
        let mut pause = Duration::from_millis(100);
        let conn = loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match Connection::connect(addr, left.min(timeout)).await {
                Ok(c) => break c,
                Err(e)
                    if attempt < self.opts.connect_attempts
                        && tokio::time::Instant::now() + pause < deadline =>
                {
                    tracing::debug!("connecting to {addr}, attempt {attempt}: {e}");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                Err(e) => {
                    return Err(Fail::msg(format!(
                        "cannot connect to {addr} ({attempt} attempt{}): {e}",
                        if attempt == 1 { "" } else { "s" }
                    )));
                }
            }
        };
        let (bytes, key, first_line) = match &o.request {
            sc::Request::Http(h) => {
                let (key, random) = match &h.key {
                    Some(k) => (sc::substitute(k, &self.vars).map_err(Fail::msg)?, false),
                    None => (random_key(), true),
                };
                if random {
                    self.volatile.push((key.clone(), "[KEY]".into()));
                    self.volatile
                        .push((esp_ws_frame::accept_key(key.as_bytes()), "[ACCEPT]".into()));
                }
                let host = self
                    .opts
                    .host_header
                    .clone()
                    .unwrap_or_else(|| addr.to_string());
                let headers = h.header_list(&host, &key, &self.vars).map_err(Fail::msg)?;
                let path = sc::substitute(&h.path, &self.vars).map_err(Fail::msg)?;
                let req = esp_ws_frame::Request {
                    method: h.method.clone(),
                    target: path.clone(),
                    version: h.http_version.clone(),
                    headers,
                };
                let first = format!("{} {} {}", h.method, path, h.http_version);
                (req.to_bytes(), Some(key), first)
            }
            sc::Request::Raw(b) => {
                let first = b.split(|&c| c == b'\n').next().unwrap_or_default();
                let first = esc(first.strip_suffix(b"\r").unwrap_or(first));
                (b.clone(), raw_key(b), format!("raw request: {first}"))
            }
        };
        self.conns.insert(
            o.conn.clone(),
            ConnState {
                conn,
                key: key.clone(),
                last_write: None,
            },
        );
        self.write(&o.conn, bytes, &o.write, first_line).await?;
        self.check_response(&o.conn, &o.response, key.as_deref(), timeout, deadline)
            .await
    }

    async fn check_response(
        &mut self,
        name: &str,
        spec: &sc::ResponseSpec,
        key: Option<&str>,
        timeout: Duration,
        deadline: tokio::time::Instant,
    ) -> StepResult {
        if matches!(spec, sc::ResponseSpec::Later) {
            return Ok(());
        }
        let st = self.conn(name)?;
        let ev = st
            .conn
            .read_response(deadline)
            .await
            .map_err(|e| Fail::msg(format!("reading the response on {name}: {e}")))?;
        let got_text = match &ev {
            ResponseEvent::Response(r) => describe_response(r).join("\n"),
            ResponseEvent::Closed { how, partial } if partial.is_empty() => {
                format!("closed ({how}) without a response")
            }
            ResponseEvent::Closed { how, partial } => {
                format!("closed ({how}) after \"{}\"", esc(partial))
            }
            ResponseEvent::Timeout { partial } if partial.is_empty() => {
                format!("no response for {} ms", self.declared.as_millis())
            }
            ResponseEvent::Timeout { partial } => {
                format!(
                    "incomplete response after {} ms: \"{}\"",
                    self.declared.as_millis(),
                    esc(partial)
                )
            }
        };
        for l in got_text.lines() {
            self.record(name, '<', l.to_string(), None);
        }
        match (spec, ev) {
            (sc::ResponseSpec::Closed, ResponseEvent::Closed { partial, .. })
                if partial.is_empty() =>
            {
                Ok(())
            }
            (sc::ResponseSpec::Closed, _) => Err(Fail::diff(
                "expected the server to close the connection without a response",
                "closed without a response",
                got_text,
            )),
            (sc::ResponseSpec::None, ResponseEvent::Timeout { partial }) if partial.is_empty() => {
                Ok(())
            }
            (sc::ResponseSpec::None, _) => Err(Fail::diff(
                format!(
                    "expected no response and an open connection for {} ms",
                    timeout.as_millis()
                ),
                "no response",
                got_text,
            )),
            (sc::ResponseSpec::Expect(exp), ResponseEvent::Response(r)) => {
                self.check_expected_response(exp, &r, key, &got_text)
            }
            (sc::ResponseSpec::Expect(exp), _) => Err(Fail::diff(
                format!("expected an HTTP {} response", exp.status),
                format!("HTTP/1.1 {} …", exp.status),
                got_text,
            )),
            (sc::ResponseSpec::Later, _) => Ok(()),
        }
    }

    fn check_expected_response(
        &self,
        exp: &sc::ResponseExpect,
        r: &Response,
        key: Option<&str>,
        got_text: &str,
    ) -> StepResult {
        let mut want = vec![format!("status {}", exp.status)];
        let mut problems = Vec::new();
        if r.status != exp.status {
            problems.push(format!("status {} instead of {}", r.status, exp.status));
        }
        for (name, m) in &exp.headers {
            match (m, r.header(name)) {
                (None, None) => want.push(format!("no {name} header")),
                (None, Some(v)) => {
                    want.push(format!("no {name} header"));
                    problems.push(format!("header {name} is present ({v:?})"));
                }
                (Some(m), Some(v)) => {
                    want.push(format!("{name}: {}", matcher_text(m)));
                    if !matcher_ok(m, v, &self.vars)? {
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
        if let Some(m) = &exp.body {
            want.push(format!("body {}", matcher_text(m)));
            let body = String::from_utf8_lossy(&r.body);
            if !matcher_ok(m, &body, &self.vars)? {
                problems.push(format!(
                    "body is \"{}\", expected {}",
                    esc(&r.body),
                    matcher_text(m)
                ));
            }
        }
        if exp.accept && exp.status == 101 && r.status == 101 {
            match key {
                Some(k) => {
                    let expected = esp_ws_frame::accept_key(k.as_bytes());
                    want.push(format!("Sec-WebSocket-Accept: {expected}"));
                    match r.header("Sec-WebSocket-Accept") {
                        Some(v) if v == expected => {}
                        Some(v) => problems.push(format!(
                            "Sec-WebSocket-Accept is {v:?}, expected {expected:?} (from key {k:?})"
                        )),
                        None => problems.push("Sec-WebSocket-Accept is missing".into()),
                    }
                }
                None => problems.push(
                    "cannot check Sec-WebSocket-Accept: the request had no Sec-WebSocket-Key"
                        .into(),
                ),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Fail::diff(problems.join("; "), want.join("\n"), got_text))
        }
    }

    fn payload_bytes(&self, p: &sc::Payload) -> Result<Vec<u8>, Fail> {
        Ok(match p {
            sc::Payload::Empty => Vec::new(),
            sc::Payload::Text(t) => sc::substitute(t, &self.vars)
                .map_err(Fail::msg)?
                .into_bytes(),
            sc::Payload::Bytes(b) => b.clone(),
            sc::Payload::Fill { byte, len } => vec![*byte; *len],
            sc::Payload::Close { code, reason } => {
                esp_ws_frame::close_payload(Some(*code), reason.as_bytes())
            }
        })
    }

    async fn send(&mut self, s: &sc::Send) -> StepResult {
        let payload = self.payload_bytes(&s.payload)?;
        let mask = if s.mask {
            Some(s.mask_key.unwrap_or_else(|| rand::rng().random()))
        } else {
            None
        };
        let spec = FrameSpec {
            fin: s.fin,
            rsv: s.rsv,
            opcode: Opcode::new(s.opcode.0),
            mask,
            payload,
            declared_len: s.length,
            length_encoding: match s.length_encoding {
                sc::LengthEncoding::Minimal => LengthEncoding::Minimal,
                sc::LengthEncoding::Bits7 => LengthEncoding::Short,
                sc::LengthEncoding::Bits16 => LengthEncoding::Extended16,
                sc::LengthEncoding::Bits64 => LengthEncoding::Extended64,
            },
        };
        let bytes = esp_ws_frame::encode(&spec)
            .map_err(|e| Fail::msg(format!("cannot encode the frame: {e}")))?;
        let summary = match s.length {
            // A frame whose length field lies cannot be decoded back.
            Some(l) => format!(
                "{} {} length field {l} with {} payload bytes",
                spec.opcode.name(),
                if spec.fin { "fin" } else { "nofin" },
                spec.payload.len()
            ),
            None => match esp_ws_frame::decode_all(&bytes, u64::MAX) {
                Ok((frames, rest)) if frames.len() == 1 && rest.is_empty() => frames[0].summary(),
                _ => format!("{} bytes", bytes.len()),
            },
        };
        self.write(&s.conn, bytes, &s.write, summary).await
    }

    async fn next_frame(
        &mut self,
        name: &str,
        deadline: tokio::time::Instant,
    ) -> Result<FrameEvent, Fail> {
        let st = self.conn(name)?;
        st.conn
            .next_frame(deadline)
            .await
            .map_err(|e| Fail::msg(format!("reading from {name}: {e}")))
    }

    /// Records what arrived instead of the expected thing; returns its text.
    fn describe_frame_event(&mut self, name: &str, ev: FrameEvent) -> String {
        let text = match ev {
            FrameEvent::Frame(f) => f.summary(),
            FrameEvent::Closed { how, trailing } if trailing.is_empty() => {
                format!("closed ({how})")
            }
            FrameEvent::Closed { how, trailing } => format!(
                "closed ({how}) after {} bytes that are not a whole frame: \"{}\"",
                trailing.len(),
                esc(&trailing)
            ),
            FrameEvent::Timeout { partial } if partial.is_empty() => "(nothing)".into(),
            FrameEvent::Timeout { partial } => {
                format!(
                    "{} bytes of an incomplete frame: \"{}\"",
                    partial.len(),
                    esc(&partial)
                )
            }
            FrameEvent::TooLarge(e) => format!("a frame too large to buffer: {e}"),
        };
        if text != "(nothing)" {
            self.record(name, '<', text.clone(), None);
        }
        text
    }

    async fn expect_frame(
        &mut self,
        e: &sc::ExpectFrame,
        timeout: Duration,
        deadline: tokio::time::Instant,
    ) -> StepResult {
        let want = describe_expected_frame(e);
        let ev = self.next_frame(&e.conn, deadline).await?;
        let f = match ev {
            FrameEvent::Frame(f) => f,
            FrameEvent::Timeout { partial } if partial.is_empty() => {
                return Err(Fail::diff(
                    format!("no frame within {} ms", timeout.as_millis()),
                    want,
                    "(nothing)",
                ));
            }
            other => {
                let got = self.describe_frame_event(&e.conn, other);
                return Err(Fail::diff("expected a frame", want, got));
            }
        };
        self.record(&e.conn, '<', f.summary(), Some(f.payload.clone()));
        let mut problems = Vec::new();
        if let Some(op) = e.opcode
            && f.opcode.value() != op.0
        {
            problems.push(format!(
                "opcode {} instead of {}",
                f.opcode,
                Opcode::new(op.0)
            ));
        }
        if let Some(fin) = e.fin
            && f.fin != fin
        {
            problems.push(format!("FIN={} instead of {}", f.fin as u8, fin as u8));
        }
        if let Some(rsv) = e.rsv
            && f.rsv != rsv
        {
            problems.push(format!("RSV={} instead of {rsv}", f.rsv));
        }
        if let Some(len) = e.len
            && f.payload.len() != len
        {
            problems.push(format!(
                "payload length {} instead of {len}",
                f.payload.len()
            ));
        }
        if let Some(m) = &e.payload {
            self.check_payload(m, &f, &mut problems)?;
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Fail::diff(problems.join("; "), want, f.summary()))
        }
    }

    fn check_payload(
        &mut self,
        m: &sc::PayloadMatcher,
        f: &Frame,
        problems: &mut Vec<String>,
    ) -> StepResult {
        match m {
            sc::PayloadMatcher::Text(t) => {
                let t = sc::substitute(t, &self.vars).map_err(Fail::msg)?;
                if f.payload != t.as_bytes() {
                    problems.push(format!("payload \"{}\" instead of {t:?}", esc(&f.payload)));
                }
            }
            sc::PayloadMatcher::Bytes(b) => {
                if &f.payload != b {
                    problems.push(format!("payload {} instead of {}", hex(&f.payload), hex(b)));
                }
            }
            sc::PayloadMatcher::Prefix(p) => {
                let p = sc::substitute(p, &self.vars).map_err(Fail::msg)?;
                if !f.payload.starts_with(p.as_bytes()) {
                    problems.push(format!(
                        "payload \"{}\" does not start with {p:?}",
                        esc(&f.payload)
                    ));
                }
            }
            sc::PayloadMatcher::Regex(r) => {
                let r = sc::substitute_regex(r, &self.vars).map_err(Fail::msg)?;
                let re = Regex::new(&r).map_err(|e| Fail::msg(format!("bad regex {r:?}: {e}")))?;
                let text = String::from_utf8_lossy(&f.payload);
                match re.captures(&text) {
                    Some(c) => self.capture(&re, &c),
                    None => problems.push(format!(
                        "payload \"{}\" does not match /{r}/",
                        esc(&f.payload)
                    )),
                }
            }
        }
        Ok(())
    }

    fn capture(&mut self, re: &Regex, c: &regex::Captures<'_>) {
        for name in re.capture_names().flatten() {
            if let Some(m) = c.name(name) {
                self.vars.insert(name.to_string(), m.as_str().to_string());
            }
        }
    }

    async fn expect_close(
        &mut self,
        e: &sc::ExpectClose,
        timeout: Duration,
        deadline: tokio::time::Instant,
    ) -> StepResult {
        let mut want = vec!["CLOSE".to_string()];
        if e.empty {
            want.push("with an empty payload".into());
        }
        if let Some(c) = e.code {
            want.push(format!("code={c}"));
        }
        if let Some(r) = &e.reason {
            want.push(format!("reason {}", matcher_text(r)));
        }
        let want = want.join(" ");
        let ev = self.next_frame(&e.conn, deadline).await?;
        let f = match ev {
            FrameEvent::Frame(f) => f,
            FrameEvent::Timeout { partial } if partial.is_empty() => {
                return Err(Fail::diff(
                    format!("no CLOSE frame within {} ms", timeout.as_millis()),
                    want,
                    "(nothing)",
                ));
            }
            other => {
                let got = self.describe_frame_event(&e.conn, other);
                return Err(Fail::diff("expected a CLOSE frame", want, got));
            }
        };
        self.record(&e.conn, '<', f.summary(), Some(f.payload.clone()));
        let mut problems = Vec::new();
        if f.opcode != Opcode::CLOSE {
            problems.push(format!("a {} frame instead of CLOSE", f.opcode));
        } else {
            match esp_ws_frame::parse_close_payload(&f.payload) {
                ClosePayload::Empty => {
                    if e.code.is_some() || e.reason.is_some() {
                        problems.push("the CLOSE frame has no status code".into());
                    }
                }
                ClosePayload::Code { code, reason } => {
                    if e.empty {
                        problems.push(format!("the CLOSE frame carries code {code}"));
                    }
                    if let Some(c) = e.code
                        && c != code
                    {
                        problems.push(format!("code {code} instead of {c}"));
                    }
                    if let Some(r) = &e.reason {
                        let text = String::from_utf8_lossy(&reason);
                        if !matcher_ok(r, &text, &self.vars)? {
                            problems.push(format!("reason {text:?}, expected {}", matcher_text(r)));
                        }
                    }
                }
                ClosePayload::Malformed(b) => {
                    problems.push(format!("a malformed CLOSE payload {}", hex(&b)));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Fail::diff(problems.join("; "), want, f.summary()))
        }
    }

    async fn expect_log(
        &mut self,
        e: &sc::ExpectLog,
        deadline: tokio::time::Instant,
    ) -> StepResult {
        let pattern = sc::substitute_regex(&e.regex, &self.vars).map_err(Fail::msg)?;
        let re = Regex::new(&pattern)
            .map_err(|err| Fail::msg(format!("bad regex {pattern:?}: {err}")))?;
        let level = e.level.map(|l| l.letter());
        let tag = e.tag.clone();
        let matches = |l: &SerialLine| -> bool {
            match l.line.as_log() {
                Some(r) => {
                    level.is_none_or(|c| r.level.letter() == c)
                        && tag.as_deref().is_none_or(|t| r.tag == t)
                        && re.is_match(&r.message)
                }
                None => level.is_none() && tag.is_none() && re.is_match(&l.text()),
            }
        };
        let want = describe_expected_log(e, &pattern);
        if e.not {
            let seen = self.target.serial.lines(self.log_start, usize::MAX);
            if let Some(l) = seen.iter().find(|l| matches(l)) {
                return Err(Fail::diff(
                    "a log line that must not appear did",
                    format!("no line {want}"),
                    l.text(),
                ));
            }
            let from = self.target.serial.len();
            let until = tokio::time::Instant::now() + e.duration;
            if let Some(l) = self.target.serial.wait_for(from, until, matches).await {
                return Err(Fail::diff(
                    "a log line that must not appear did",
                    format!("no line {want}"),
                    l.text(),
                ));
            }
            return Ok(());
        }
        match self
            .target
            .serial
            .wait_for(self.log_cursor, deadline, &matches)
            .await
        {
            Some(l) => {
                self.log_cursor = l.index + 1;
                let text = match l.line.as_log() {
                    Some(r) => r.message.clone(),
                    None => l.text(),
                };
                if let Some(c) = re.captures(&text) {
                    self.capture(&re, &c);
                }
                Ok(())
            }
            None => {
                let recent: Vec<String> = self
                    .target
                    .serial
                    .lines(self.log_cursor, usize::MAX)
                    .iter()
                    .map(|l| l.text())
                    .collect();
                let got = if recent.is_empty() {
                    "(no new serial output)".to_string()
                } else {
                    recent.join("\n")
                };
                Err(Fail::diff(
                    "the expected log line did not appear",
                    format!("a line {want}"),
                    got,
                ))
            }
        }
    }
}

fn closed_how(h: sc::ClosedHow) -> &'static str {
    match h {
        sc::ClosedHow::Fin => "FIN",
        sc::ClosedHow::Rst => "RST",
        sc::ClosedHow::Any => "FIN or RST",
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn describe_expected_frame(e: &sc::ExpectFrame) -> String {
    let mut v = vec![match e.opcode {
        Some(op) => Opcode::new(op.0).name(),
        None => "a frame".into(),
    }];
    if let Some(fin) = e.fin {
        v.push(if fin { "fin".into() } else { "nofin".into() });
    }
    if let Some(rsv) = e.rsv {
        v.push(format!("rsv={rsv}"));
    }
    if let Some(len) = e.len {
        v.push(format!("len={len}"));
    }
    match &e.payload {
        Some(sc::PayloadMatcher::Text(t)) => v.push(format!("{t:?}")),
        Some(sc::PayloadMatcher::Bytes(b)) => v.push(format!("hex={}", hex(b))),
        Some(sc::PayloadMatcher::Prefix(p)) => v.push(format!("starting with {p:?}")),
        Some(sc::PayloadMatcher::Regex(r)) => v.push(format!("matching /{r}/")),
        None => {}
    }
    v.join(" ")
}

fn describe_expected_log(e: &sc::ExpectLog, pattern: &str) -> String {
    let mut s = format!("matching /{pattern}/");
    if let Some(l) = e.level {
        s.push_str(&format!(" at level {}", l.letter()));
    }
    if let Some(t) = &e.tag {
        s.push_str(&format!(" with tag {t:?}"));
    }
    s
}

/// The Sec-WebSocket-Key of a raw request, if it has one.
fn raw_key(req: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(req);
    text.split("\r\n").find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("Sec-WebSocket-Key")
            .then(|| value.trim().to_string())
    })
}
