//! The validated scenario model handed to the runner.
//!
//! Everything here is resolved: defaults applied, hex decoded, opcodes as
//! numbers, durations as [`Duration`]. Strings documented as *templates* may
//! contain `${name}` variables and `$$`; pass them through
//! [`crate::substitute`] (or [`crate::substitute_regex`] for regexes) right
//! before use, never twice.

use std::collections::HashMap;
use std::time::Duration;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

/// All step kinds, in the order of the format's documentation.
pub const STEP_KINDS: &[&str] = &[
    "open",
    "expect_response",
    "expect_connect",
    "expect_request",
    "accept",
    "send",
    "send_raw",
    "expect_frame",
    "expect_close",
    "expect_no_frame",
    "expect_closed",
    "close",
    "drop",
    "silence",
    "expect_log",
    "sleep",
];

/// Step kinds only a client-role scenario has (esp-ws dials the firmware).
pub const CLIENT_STEP_KINDS: &[&str] = &["open", "expect_response", "close"];

/// Step kinds only a server-role scenario has (the firmware dials esp-ws).
pub const SERVER_STEP_KINDS: &[&str] = &[
    "expect_connect",
    "expect_request",
    "accept",
    "drop",
    "silence",
];

/// The side esp-ws plays in a scenario (`role` in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// esp-ws dials the firmware, which serves WebSocket (the default).
    #[default]
    Client,
    /// esp-ws listens and the firmware dials it: esp-ws plays the server.
    Server,
}

impl Role {
    /// The spelling in the file.
    pub fn name(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }

    /// The role the firmware must play opposite esp-ws.
    pub fn firmware_role(self) -> esp_ws_catalogue::Role {
        match self {
            Role::Client => esp_ws_catalogue::Role::Server,
            Role::Server => esp_ws_catalogue::Role::Client,
        }
    }
}

/// A loaded, validated scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// `name` from the file, or the file stem.
    pub name: String,
    pub description: Option<String>,
    /// The side esp-ws plays (`role`, default client).
    pub role: Role,
    /// Default timeout of every waiting step (`timeout_ms`, default 2000 ms).
    pub timeout: Duration,
    /// Level of the serial-log snapshot.
    pub log_level: Level,
    /// The firmware family of the folder it lies in (`scenarios/<family>/`),
    /// if it lies in one.
    pub family: Option<String>,
    /// Firmware profiles the scenario applies to (every one a catalogue
    /// name); `None`: every profile of its family, or of any family when
    /// it lies in none.
    pub firmware: Option<Vec<String>>,
    /// Profiles on which the scenario is expected to fail, and why.
    pub known_bugs: Vec<KnownBug>,
    /// Extra normalization rules for the log snapshot, in order.
    pub normalize: Vec<NormalizeRule>,
    /// The outcome depends on how the client's writes arrive (each one
    /// TCP segment, not split or merged on the way).
    pub needs_exact_segments: bool,
    /// Never empty.
    pub steps: Vec<Step>,
}

impl Scenario {
    /// Does the scenario apply to this firmware profile? (The firmware must
    /// play the other side; then its `firmware` list, else its family.)
    pub fn applies_to(&self, firmware: &esp_ws_catalogue::Firmware) -> bool {
        if firmware.role() != self.role.firmware_role() {
            return false;
        }
        match (&self.firmware, &self.family) {
            (Some(list), _) => list.iter().any(|f| f == firmware.name),
            (None, Some(family)) => family == firmware.family,
            (None, None) => true,
        }
    }

    /// Why it does not apply to `firmware`, in a phrase for a SKIP line.
    pub fn why_not_for(&self, firmware: &esp_ws_catalogue::Firmware) -> Option<String> {
        if self.applies_to(firmware) {
            return None;
        }
        if firmware.role() != self.role.firmware_role() {
            let why = match self.role {
                Role::Server => format!(
                    "esp-ws plays the server in it, and {} serves WebSocket itself",
                    firmware.name
                ),
                Role::Client => format!(
                    "esp-ws plays the client in it, and {} dials out",
                    firmware.name
                ),
            };
            // What runs it: the default firmware of the folder's family.
            return Some(
                match self.family.as_deref().and_then(esp_ws_catalogue::family) {
                    Some(f) => format!("{why}; firmware {} runs it", f.default_firmware),
                    None => why,
                },
            );
        }
        Some(match (&self.firmware, &self.family) {
            (Some(list), _) => format!("only for firmware {}", list.join(", ")),
            (None, Some(family)) => format!("for the {family} family"),
            (None, None) => unreachable!("a scenario without a list applies everywhere"),
        })
    }

    /// True when a step waits for serial-log lines (which a target without
    /// a serial log cannot show).
    pub fn expects_log(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.kind, StepKind::ExpectLog(_)))
    }

    /// The timeout that applies to `step`: its own override or the scenario default.
    pub fn step_timeout(&self, step: &Step) -> Duration {
        step.kind.timeout().unwrap_or(self.timeout)
    }
}

/// A normalization rule: every match of `regex` in the log snapshot is
/// replaced by `replace` (regex-crate replacement syntax, `$1`, `${name}`).
/// A known bug of some firmware profiles that this scenario exposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownBug {
    pub firmware: Vec<String>,
    pub issue: String,
    pub note: Option<String>,
}

impl Scenario {
    /// The known bug that applies to `profile`, if any.
    pub fn known_bug(&self, profile: &str) -> Option<&KnownBug> {
        self.known_bugs
            .iter()
            .find(|b| b.firmware.iter().any(|f| f == profile))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizeRule {
    /// Compiles (checked by validation).
    pub regex: String,
    pub replace: String,
}

/// One step, with its position in the file for runtime error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub kind: StepKind,
    pub comment: Option<String>,
    /// 1-based line of the step object in the file.
    pub line: usize,
    /// 1-based column (in characters) of the step object.
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    Open(Open),
    ExpectResponse(ExpectResponse),
    ExpectConnect(ExpectConnect),
    ExpectRequest(ExpectRequest),
    Accept(Accept),
    Send(Send),
    SendRaw(SendRaw),
    ExpectFrame(ExpectFrame),
    ExpectClose(ExpectClose),
    ExpectNoFrame(ExpectNoFrame),
    ExpectClosed(ExpectClosed),
    Close(Close),
    Drop(DropConnection),
    Silence(Silence),
    ExpectLog(ExpectLog),
    Sleep(Sleep),
}

impl StepKind {
    /// The step's key in the file (one of [`STEP_KINDS`]).
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Open(_) => "open",
            StepKind::ExpectResponse(_) => "expect_response",
            StepKind::ExpectConnect(_) => "expect_connect",
            StepKind::ExpectRequest(_) => "expect_request",
            StepKind::Accept(_) => "accept",
            StepKind::Send(_) => "send",
            StepKind::SendRaw(_) => "send_raw",
            StepKind::ExpectFrame(_) => "expect_frame",
            StepKind::ExpectClose(_) => "expect_close",
            StepKind::ExpectNoFrame(_) => "expect_no_frame",
            StepKind::ExpectClosed(_) => "expect_closed",
            StepKind::Close(_) => "close",
            StepKind::Drop(_) => "drop",
            StepKind::Silence(_) => "silence",
            StepKind::ExpectLog(_) => "expect_log",
            StepKind::Sleep(_) => "sleep",
        }
    }

    /// The connection the step acts on; `None` for `expect_log` and `sleep`.
    pub fn conn(&self) -> Option<&str> {
        match self {
            StepKind::Open(s) => Some(&s.conn),
            StepKind::ExpectResponse(s) => Some(&s.conn),
            StepKind::ExpectConnect(s) => Some(&s.conn),
            StepKind::ExpectRequest(s) => Some(&s.conn),
            StepKind::Accept(s) => Some(&s.conn),
            StepKind::Send(s) => Some(&s.conn),
            StepKind::SendRaw(s) => Some(&s.conn),
            StepKind::ExpectFrame(s) => Some(&s.conn),
            StepKind::ExpectClose(s) => Some(&s.conn),
            StepKind::ExpectNoFrame(s) => Some(&s.conn),
            StepKind::ExpectClosed(s) => Some(&s.conn),
            StepKind::Close(s) => Some(&s.conn),
            StepKind::Drop(s) => Some(&s.conn),
            StepKind::Silence(s) => Some(&s.conn),
            StepKind::ExpectLog(_) | StepKind::Sleep(_) => None,
        }
    }

    /// The step's own `timeout_ms`, if it has that field and set it.
    pub fn timeout(&self) -> Option<Duration> {
        match self {
            StepKind::Open(s) => s.timeout,
            StepKind::ExpectResponse(s) => s.timeout,
            StepKind::ExpectConnect(s) => s.timeout,
            StepKind::ExpectRequest(s) => s.timeout,
            StepKind::ExpectFrame(s) => s.timeout,
            StepKind::ExpectClose(s) => s.timeout,
            StepKind::ExpectClosed(s) => s.timeout,
            StepKind::ExpectLog(s) => s.timeout,
            StepKind::Send(_)
            | StepKind::SendRaw(_)
            | StepKind::ExpectNoFrame(_)
            | StepKind::Close(_)
            | StepKind::Accept(_)
            | StepKind::Drop(_)
            | StepKind::Silence(_)
            | StepKind::Sleep(_) => None,
        }
    }
}

/// `open`: connect, send an HTTP request, check the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub conn: String,
    pub request: Request,
    pub write: WriteOpts,
    pub response: ResponseSpec,
    pub timeout: Option<Duration>,
}

/// What `open` sends: a request built from fields, or exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Http(HttpRequest),
    /// From `raw` (as UTF-8 bytes) or `raw_hex`; sent exactly, no variables.
    Raw(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Template.
    pub path: String,
    pub method: String,
    pub http_version: String,
    /// Sec-WebSocket-Key; `None` = the runner picks a random one.
    pub key: Option<String>,
    /// Overrides applied in order to the default headers: `Some` replaces in
    /// place or appends, `None` removes. Values are templates.
    pub headers: IndexMap<String, Option<String>>,
    /// Sent as `Sec-WebSocket-Protocol: a, b`; empty = no such header.
    pub subprotocols: Vec<String>,
}

impl HttpRequest {
    /// The request's header lines, in order, with variables substituted.
    ///
    /// Starts from `Host: {host}`, `Upgrade: websocket`, `Connection:
    /// Upgrade`, `Sec-WebSocket-Key: {key}`, `Sec-WebSocket-Version: 13`
    /// (plus `Sec-WebSocket-Protocol` when `subprotocols` is set), then applies
    /// `headers`: names match case-insensitively; a value replaces the
    /// existing header in place (keeping the override's spelling of the name)
    /// or is appended; `None` removes every header of that name. `key` is the
    /// key to send (the scenario's or the runner's random one).
    pub fn header_list(
        &self,
        host: &str,
        key: &str,
        vars: &HashMap<String, String>,
    ) -> Result<Vec<(String, String)>, String> {
        let mut list: Vec<(String, String)> = vec![
            ("Host".into(), host.into()),
            ("Upgrade".into(), "websocket".into()),
            ("Connection".into(), "Upgrade".into()),
            ("Sec-WebSocket-Key".into(), key.into()),
            ("Sec-WebSocket-Version".into(), "13".into()),
        ];
        if !self.subprotocols.is_empty() {
            list.push((
                "Sec-WebSocket-Protocol".into(),
                self.subprotocols.join(", "),
            ));
        }
        override_headers(&mut list, &self.headers, vars)?;
        Ok(list)
    }
}

/// What to expect after a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseSpec {
    Expect(ResponseExpect),
    /// The server closes TCP without sending any byte of a response.
    Closed,
    /// The server sends nothing and keeps the connection open for the timeout.
    None,
    /// Do not wait; a later `expect_response` step checks it (only in `open`).
    Later,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseExpect {
    pub status: u16,
    /// Header name (as written; compare case-insensitively) to a matcher, or
    /// `None` = the header must be absent. Names are unique case-insensitively.
    pub headers: IndexMap<String, Option<Matcher>>,
    pub body: Option<Matcher>,
    /// Check Sec-WebSocket-Accept against the key sent (default: status == 101).
    pub accept: bool,
}

/// A string expectation. All variants hold templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    Exact(String),
    /// Unanchored search; compiles (checked by validation, with variables
    /// standing in as literals).
    Regex(String),
    Prefix(String),
}

/// `expect_response`: check a response left for later by `open`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectResponse {
    pub conn: String,
    /// Never [`ResponseSpec::Later`].
    pub response: ResponseSpec,
    pub timeout: Option<Duration>,
}

/// A WebSocket opcode, 0..=15 (named or not): the frame codec's.
pub use esp_ws_frame::Opcode;

/// The payload of a frame to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Empty,
    /// UTF-8 text; a template.
    Text(String),
    /// Decoded from hex.
    Bytes(Vec<u8>),
    /// `len` copies of `byte`.
    Fill {
        byte: u8,
        len: usize,
    },
    /// Close frame body: big-endian code then the UTF-8 reason (not a template).
    Close {
        code: u16,
        reason: String,
    },
}

impl Payload {
    /// The payload length when it is known before variables are substituted.
    pub fn static_len(&self) -> Option<usize> {
        match self {
            Payload::Empty => Some(0),
            Payload::Text(t) if !t.contains('$') => Some(t.len()),
            Payload::Text(_) => None,
            Payload::Bytes(b) => Some(b.len()),
            Payload::Fill { len, .. } => Some(*len),
            Payload::Close { reason, .. } => Some(2 + reason.len()),
        }
    }
}

/// How the payload length field is encoded in a sent frame: the frame
/// codec's.
pub use esp_ws_frame::LengthEncoding;

/// `send`: one WebSocket frame, possibly malformed on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    pub conn: String,
    pub opcode: Opcode,
    pub payload: Payload,
    pub fin: bool,
    /// RSV bits as a number: 4 = RSV1, 2 = RSV2, 1 = RSV3.
    pub rsv: u8,
    pub mask: bool,
    /// `None` with `mask` = the runner picks a random key. Never `Some` without `mask`.
    pub mask_key: Option<[u8; 4]>,
    /// Declared payload length overriding the real one.
    pub length: Option<u64>,
    pub length_encoding: LengthEncoding,
    pub write: WriteOpts,
}

/// `send_raw`: bytes on the wire as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRaw {
    pub conn: String,
    /// [`Payload::Bytes`] (from `hex`) or [`Payload::Text`] (a template).
    pub payload: Payload,
    pub write: WriteOpts,
}

/// What the payload of an expected frame must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadMatcher {
    /// Exact UTF-8 text; a template.
    Text(String),
    /// Exact bytes.
    Bytes(Vec<u8>),
    /// Unanchored regex on the payload decoded lossily as UTF-8; a template.
    Regex(String),
    /// The payload starts with this text; a template.
    Prefix(String),
}

/// `expect_frame`: the next frame on `conn` must match every given field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectFrame {
    pub conn: String,
    pub opcode: Option<Opcode>,
    pub fin: Option<bool>,
    pub rsv: Option<u8>,
    pub payload: Option<PayloadMatcher>,
    /// Exact payload length.
    pub len: Option<usize>,
    /// The frame must (true) or must not (false) be masked; `None`: not
    /// checked. Server role: default `Some(true)` (a client must mask).
    pub masked: Option<bool>,
    /// A masked frame's key must differ from every key seen before in the
    /// scenario (server role, default true with `masked`).
    pub fresh_mask: bool,
    pub timeout: Option<Duration>,
}

/// `expect_close`: the next frame must be a CLOSE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectClose {
    pub conn: String,
    pub code: Option<u16>,
    pub reason: Option<Matcher>,
    /// The payload must be empty (never together with `code`/`reason`).
    pub empty: bool,
    pub timeout: Option<Duration>,
}

/// `expect_no_frame`: nothing arrives on `conn` for `duration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectNoFrame {
    pub conn: String,
    pub duration: Duration,
}

/// How the server is expected to close TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClosedHow {
    /// An orderly close (FIN).
    Fin,
    /// A reset (RST).
    Rst,
    /// Either.
    #[default]
    Any,
}

/// `expect_closed`: the server closes the TCP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectClosed {
    pub conn: String,
    pub how: ClosedHow,
    pub timeout: Option<Duration>,
}

/// How the client closes TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CloseHow {
    /// An orderly close (FIN).
    #[default]
    Fin,
    /// An abortive close (RST, via SO_LINGER 0).
    Rst,
}

/// `close`: the client closes TCP without a CLOSE frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    pub conn: String,
    pub how: CloseHow,
}

/// The instant an `expect_connect` window is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// When the previous step ended (the default).
    Previous,
    /// When the scenario's first step began (the firmware was ready).
    Start,
    /// When the last connection ended: esp-ws dropped it, or saw the
    /// client close it.
    Disconnect,
    /// When the step of this index (0-based, an earlier one) ended.
    Step(usize),
}

/// `expect_connect` (server role): the firmware opens a new connection to
/// esp-ws, inside a time window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectConnect {
    /// The name the new connection gets (default `c1`, `c2`, … in order).
    pub conn: String,
    pub after: After,
    /// The connection must arrive this long after `after`'s instant, at
    /// least the first and at most the second. Measured, never scaled.
    pub within: Option<(Duration, Duration)>,
    /// Without `within`: how long to wait.
    pub timeout: Option<Duration>,
}

/// How the expected request's headers must be ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HeaderOrder {
    /// The listed headers (those not `null`) appear in the listed order;
    /// others may come between them (the default).
    #[default]
    Listed,
    /// The request has exactly the listed headers, in the listed order.
    Exact,
    /// The order is not checked.
    Any,
}

/// `expect_request` (server role): the client's opening handshake request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectRequest {
    pub conn: String,
    /// The method (default not checked).
    pub method: Option<Matcher>,
    /// The request target.
    pub path: Option<Matcher>,
    /// Header name (compare case-insensitively) to a matcher, or `None`:
    /// the header must be absent. Names are unique case-insensitively.
    pub headers: IndexMap<String, Option<Matcher>>,
    pub order: HeaderOrder,
    /// Sec-WebSocket-Key is base64 of 16 bytes and differs from every key
    /// seen earlier in the scenario.
    pub fresh_key: bool,
    pub timeout: Option<Duration>,
}

/// What `accept` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An HTTP answer.
    Http(HttpAnswer),
    /// Nothing at all (the client's handshake timeout).
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    /// The reason phrase (default: the status's usual one).
    pub reason: Option<String>,
    /// Overrides applied in order to the default headers (101: `Upgrade:
    /// websocket`, `Connection: Upgrade`, `Sec-WebSocket-Accept: <the
    /// correct value>`; others: `Content-Type: text/plain`,
    /// `Content-Length: <body length>`): `Some` replaces in place (keeping
    /// the override's spelling) or appends, `None` removes. Templates.
    pub headers: IndexMap<String, Option<String>>,
    /// The body (a template).
    pub body: String,
    /// Frames written in the same write as the answer, after it.
    pub frames: Vec<Send>,
}

/// `accept` (server role): answer the client's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accept {
    pub conn: String,
    pub answer: Answer,
    /// Waited before answering.
    pub delay: Duration,
    pub write: WriteOpts,
}

impl HttpAnswer {
    /// The answer's header lines, in order, with variables substituted;
    /// `accept` is the correct Sec-WebSocket-Accept for the request.
    pub fn header_list(
        &self,
        accept: &str,
        vars: &HashMap<String, String>,
    ) -> Result<Vec<(String, String)>, String> {
        let body = crate::substitute(&self.body, vars)?;
        let mut list: Vec<(String, String)> = if self.status == 101 {
            vec![
                ("Upgrade".into(), "websocket".into()),
                ("Connection".into(), "Upgrade".into()),
                ("Sec-WebSocket-Accept".into(), accept.into()),
            ]
        } else {
            vec![
                ("Content-Type".into(), "text/plain".into()),
                ("Content-Length".into(), body.len().to_string()),
            ]
        };
        override_headers(&mut list, &self.headers, vars)?;
        Ok(list)
    }

    /// The reason phrase sent.
    pub fn reason_phrase(&self) -> &str {
        if let Some(r) = &self.reason {
            return r;
        }
        match self.status {
            101 => "Switching Protocols",
            200 => "OK",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            426 => "Upgrade Required",
            500 => "Internal Server Error",
            503 => "Service Unavailable",
            _ => "Status",
        }
    }
}

/// `drop` (server role): esp-ws closes the TCP connection, without a CLOSE
/// frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropConnection {
    pub conn: String,
    pub how: CloseHow,
}

/// `silence` (server role): esp-ws sends nothing on `conn` for `duration`,
/// and nothing may arrive on it (no byte, no close).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Silence {
    pub conn: String,
    pub duration: Duration,
}

/// ESP-IDF log levels, most severe first: the log crate's.
pub use esp_ws_log::Level;

/// `expect_log`: a serial-log line appears (or, with `not`, does not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectLog {
    /// Unanchored, on the record's message (or the whole line for non-log
    /// lines); a template. Its named groups define variables (unless `not`).
    pub regex: String,
    pub level: Option<Level>,
    /// Exact tag.
    pub tag: Option<String>,
    /// Only without `not`.
    pub timeout: Option<Duration>,
    /// The line must not appear: not among the lines seen so far in this
    /// scenario, nor during `duration`.
    pub not: bool,
    /// How long to keep watching with `not` (`for_ms`); zero otherwise.
    pub duration: Duration,
}

/// `sleep`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sleep {
    pub duration: Duration,
}

/// How bytes are cut into separate writes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Chunking {
    /// One write.
    #[default]
    Whole,
    /// Pieces of this size (≥ 1); the last may be shorter.
    Every(usize),
    /// Pieces of these sizes (each ≥ 1, never empty), then the rest as one more piece.
    Sizes(Vec<usize>),
}

/// Write options: how to split the bytes of a step and how long to pause between pieces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WriteOpts {
    pub chunks: Chunking,
    pub delay: Duration,
}

impl WriteOpts {
    /// Cuts `bytes` into the pieces to write, in order. Never returns empty
    /// pieces (empty input gives no piece at all).
    pub fn split<'a>(&self, bytes: &'a [u8]) -> Vec<&'a [u8]> {
        let mut pieces = Vec::new();
        let mut rest = bytes;
        match &self.chunks {
            Chunking::Whole => {}
            Chunking::Every(size) => {
                // `max(1)` only guards hand-built values; validation forbids 0.
                pieces.extend(rest.chunks((*size).max(1)));
                rest = &[];
            }
            Chunking::Sizes(sizes) => {
                for &size in sizes {
                    if rest.is_empty() {
                        break;
                    }
                    let (head, tail) = rest.split_at(size.min(rest.len()));
                    pieces.push(head);
                    rest = tail;
                }
            }
        }
        if !rest.is_empty() {
            pieces.push(rest);
        }
        pieces
    }
}

/// `sleep`, `expect_no_frame` and friends take durations in this range (ms).
pub(crate) const MAX_MS: i64 = 600_000;

/// Applies header overrides in order to a default header list: `None`
/// removes every header of that name, a value replaces the first one
/// (names compared case-insensitively) or is appended. The request a client
/// sends and the answer a server sends take overrides alike.
fn override_headers(
    list: &mut Vec<(String, String)>,
    overrides: &IndexMap<String, Option<String>>,
    vars: &HashMap<String, String>,
) -> Result<(), String> {
    for (name, value) in overrides {
        match value {
            None => list.retain(|(n, _)| !n.eq_ignore_ascii_case(name)),
            Some(template) => {
                let value = crate::substitute(template, vars)?;
                match list.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                    Some(slot) => *slot = (name.clone(), value),
                    None => list.push((name.clone(), value)),
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_bytes() {
        let data: Vec<u8> = (0..10).collect();
        let whole = WriteOpts::default();
        assert_eq!(whole.split(&data), vec![&data[..]]);
        assert!(whole.split(&[]).is_empty());

        let every = WriteOpts {
            chunks: Chunking::Every(4),
            delay: Duration::ZERO,
        };
        assert_eq!(
            every.split(&data),
            vec![&data[0..4], &data[4..8], &data[8..]]
        );

        let sizes = WriteOpts {
            chunks: Chunking::Sizes(vec![1, 2]),
            delay: Duration::ZERO,
        };
        assert_eq!(
            sizes.split(&data),
            vec![&data[0..1], &data[1..3], &data[3..]]
        );
        // Sizes longer than the data: the pieces just stop.
        let long = WriteOpts {
            chunks: Chunking::Sizes(vec![3, 100, 5]),
            delay: Duration::ZERO,
        };
        assert_eq!(long.split(&data), vec![&data[0..3], &data[3..]]);
    }

    #[test]
    fn opcodes() {
        assert_eq!(Opcode::from_name("TeXt"), Some(Opcode::TEXT));
        assert_eq!(Opcode::from_name("txt"), None);
        assert!(Opcode::CLOSE.is_control());
        assert!(Opcode(0xF).is_control());
        assert!(!Opcode::BINARY.is_control());
    }

    #[test]
    fn header_list_applies_overrides_in_order() {
        let mut headers = IndexMap::new();
        headers.insert("upgrade".to_owned(), Some("WebSocket".to_owned()));
        headers.insert("Sec-WebSocket-Version".to_owned(), None);
        headers.insert("X-Id".to_owned(), Some("${id}".to_owned()));
        let req = HttpRequest {
            path: "/ws".into(),
            method: "GET".into(),
            http_version: "HTTP/1.1".into(),
            key: None,
            headers,
            subprotocols: vec!["chat".into(), "json".into()],
        };
        let vars = HashMap::from([("id".to_owned(), "7".to_owned())]);
        let list = req.header_list("h:80", "KEY", &vars).unwrap();
        let list: Vec<(&str, &str)> = list.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(
            list,
            vec![
                ("Host", "h:80"),
                ("upgrade", "WebSocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", "KEY"),
                ("Sec-WebSocket-Protocol", "chat, json"),
                ("X-Id", "7"),
            ]
        );
        assert!(req.header_list("h", "k", &HashMap::new()).is_err());
    }

    #[test]
    fn static_payload_lengths() {
        assert_eq!(Payload::Text("héllo".into()).static_len(), Some(6));
        assert_eq!(Payload::Text("${x}".into()).static_len(), None);
        assert_eq!(
            Payload::Close {
                code: 1000,
                reason: "ok".into()
            }
            .static_len(),
            Some(4)
        );
    }
}
