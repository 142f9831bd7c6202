//! The file format as serde reads it, before validation.
//!
//! These types mirror the JSON one to one, which lets the same definitions
//! drive both parsing and the JSON Schema (their doc comments become the
//! schema's descriptions, shown by editors). They are deliberately lenient
//! where validation can say something better than serde: numbers are `i64`
//! so a range check can report "must be in 1..=600000" instead of "invalid
//! value", hex and regexes are plain strings, and optional fields are
//! `Option` so "given" can be told apart from "defaulted". Validation
//! (`validate.rs`) turns them into the public model.

use std::borrow::Cow;
use std::fmt;

use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::model::{
    CloseHow, ClosedHow, HeaderOrder, LengthEncoding, Level, Opcode, Role, STEP_KINDS,
};

/// Hex strings: pairs of hex digits; spaces, tabs and line breaks anywhere are
/// ignored (as in `validate::decode_hex`).
const HEX_PATTERN: &str = r"^[ \t\r\n]*([0-9A-Fa-f][ \t\r\n]*[0-9A-Fa-f][ \t\r\n]*)*$";
/// Exactly four bytes of hex.
const MASK_KEY_PATTERN: &str = r"^[ \t\r\n]*([0-9A-Fa-f][ \t\r\n]*){8}$";

/// Implements `Deserialize` for a struct whose derived impl is generated with
/// `#[serde(remote = "Self")]` (an inherent `deserialize`), accepting only
/// JSON objects.
///
/// Derived struct impls also accept arrays (fields by position), which the
/// JSON Schema rightly rejects; going through `deserialize_map` closes that
/// gap and gives the "expected …" part of type errors a user-facing name
/// instead of the Rust type's.
macro_rules! object_only {
    ($($ty:ident => $expecting:literal,)*) => {$(
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<$ty, A::Error> {
                        $ty::deserialize(de::value::MapAccessDeserializer::new(map))
                    }
                }
                deserializer.deserialize_map(V)
            }
        }
    )*};
}

object_only! {
    RawScenario => "a scenario object",
    RawNormalize => "a normalization rule object {\"regex\": \"…\", \"replace\": \"…\"}",
    RawKnownBug => "a known-bug object {\"firmware\": […], \"issue\": \"…\"}",
    RawWrite => "write options (an object)",
    RawOpen => "an `open` step body (an object)",
    RawExpectResponse => "an `expect_response` step body (an object)",
    RawResponseExpect => "a response expectation object",
    RawFill => "a fill object {\"byte\": …, \"len\": …}",
    RawSend => "a `send` step body (an object)",
    RawSendRaw => "a `send_raw` step body (an object)",
    RawExpectFrame => "an `expect_frame` step body (an object)",
    RawExpectClose => "an `expect_close` step body (an object)",
    RawExpectNoFrame => "an `expect_no_frame` step body (an object)",
    RawExpectClosed => "an `expect_closed` step body (an object)",
    RawClose => "a `close` step body (an object)",
    RawExpectLog => "an `expect_log` step body (an object)",
    RawSleep => "a `sleep` step body (an object)",
    RawExpectConnect => "an `expect_connect` step body (an object)",
    RawExpectRequest => "an `expect_request` step body (an object)",
    RawAnswer => "an `accept` step body (an object)",
    RawDrop => "a `drop` step body (an object)",
    RawSilence => "a `silence` step body (an object)",
}

/// An esp-ws scenario: a scripted WebSocket session with an ESP32 firmware,
/// esp-ws playing the client (against a firmware that serves WebSocket) or,
/// with `"role": "server"`, the server a firmware dials, with the frames
/// and serial-log lines the session must produce.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(title = "esp-ws scenario")]
#[schemars(rename = "Scenario")]
pub(crate) struct RawScenario {
    /// URI or path of this schema, for editors; ignored by esp-ws.
    #[serde(rename = "$schema")]
    pub schema: Option<String>,
    /// Format version; must be 1.
    #[schemars(extend("const" = 1))]
    pub version: i64,
    /// The side esp-ws plays: `client` (the default: it dials a firmware
    /// that serves WebSocket; steps `open`, `expect_response`, `close`) or
    /// `server` (it listens and the firmware dials it; steps
    /// `expect_connect`, `expect_request`, `accept`, `drop`, `silence`).
    /// `send`, `send_raw`, `expect_frame`, `expect_close`, `expect_no_frame`,
    /// `expect_closed`, `expect_log` and `sleep` serve both. A server-role
    /// scenario lies in the folder of a family whose firmware dials out.
    pub role: Option<Role>,
    /// Scenario name; defaults to the file name without extension.
    pub name: Option<String>,
    pub description: Option<String>,
    /// Default timeout of every waiting step, in milliseconds (default 2000).
    #[schemars(range(min = 1, max = 600_000))]
    pub timeout_ms: Option<i64>,
    /// Level of the serial-log snapshot (default info).
    pub log_level: Option<RawLogLevel>,
    /// Firmware profiles this scenario applies to; absent = all.
    #[schemars(length(min = 1))]
    pub firmware: Option<Vec<String>>,
    /// Extra normalization rules applied to the log snapshot, in order.
    pub normalize: Option<Vec<RawNormalize>>,
    /// The outcome depends on how the client's writes arrive (each write one
    /// TCP segment): the scenario is skipped when `--impair` splits or
    /// merges writes.
    pub needs_exact_segments: Option<bool>,
    /// Firmware profiles with a known bug this scenario exposes: on them the
    /// scenario must fail (and is reported as reproducing the bug); passing
    /// there is an error, like a strict expected failure.
    pub known_bugs: Option<Vec<RawKnownBug>>,
    /// The steps, run in order.
    #[schemars(length(min = 1))]
    pub steps: Vec<RawStep>,
}

/// A known bug of some firmware profiles that makes this scenario fail.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "KnownBug")]
pub(crate) struct RawKnownBug {
    /// The profiles that have the bug.
    #[schemars(length(min = 1))]
    pub firmware: Vec<String>,
    /// Where the bug is described, e.g. `esp-idf#18227`.
    pub issue: String,
    /// What goes wrong, in a sentence.
    pub note: Option<String>,
}

/// Replace every match of `regex` in the log snapshot by `replace`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "Normalize")]
pub(crate) struct RawNormalize {
    pub regex: String,
    /// Replacement; `$1` / `${name}` refer to capture groups.
    pub replace: String,
}

/// One step: an object with exactly one key, the step kind.
///
/// Deserialized by hand (see below) so that a second key gets a message
/// saying what is wrong, where serde_json's enum support only says
/// "expected value"; the schema is derived as for an externally tagged enum.
#[derive(Debug, JsonSchema)]
#[schemars(rename_all = "snake_case")]
#[schemars(rename = "Step")]
pub(crate) enum RawStep {
    /// Connect, send an HTTP request and (by default) check the response.
    Open(RawOpen),
    /// Check a response left for later by `open` (`"response": "later"`).
    ExpectResponse(RawExpectResponse),
    /// Server role: the firmware opens a new connection to esp-ws, within a
    /// time window (e.g. `{"after": "disconnect", "within_ms": [9500,
    /// 10500]}`: it reconnects 10 s ± 0.5 s after the last connection
    /// ended). Names the connection for the steps that follow.
    ExpectConnect(RawExpectConnect),
    /// Server role: the client's opening handshake request must match
    /// (path, headers in order, a fresh Sec-WebSocket-Key).
    ExpectRequest(RawExpectRequest),
    /// Server role: answer the request (default: a correct 101; or another
    /// status, wrong or extra headers, a delay, or `"none"`: no answer at
    /// all). Reads the request first if `expect_request` did not.
    Accept(RawAccept),
    /// Send one WebSocket frame (server role: unmasked by default).
    Send(RawSend),
    /// Send raw bytes.
    SendRaw(RawSendRaw),
    /// The next frame from the server must match.
    ExpectFrame(RawExpectFrame),
    /// The next frame from the server must be a CLOSE.
    ExpectClose(RawExpectClose),
    /// No frame arrives for `for_ms`.
    ExpectNoFrame(RawExpectNoFrame),
    /// The peer closes the TCP connection (server role: the client).
    ExpectClosed(RawExpectClosed),
    /// The client closes TCP without a CLOSE frame.
    Close(RawClose),
    /// Server role: esp-ws closes the TCP connection without a CLOSE frame
    /// (FIN, or RST with `"how": "rst"`).
    Drop(RawDrop),
    /// Server role: esp-ws sends nothing on the connection for `ms`, and
    /// nothing may arrive on it: no byte, no close (to just wait, use
    /// `sleep`).
    Silence(RawSilence),
    /// A serial-log line appears (or, with `not`, does not).
    ExpectLog(RawExpectLog),
    /// Pause.
    Sleep(RawSleep),
}

impl RawStep {
    /// The step's key in the file.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            RawStep::Open(_) => "open",
            RawStep::ExpectResponse(_) => "expect_response",
            RawStep::ExpectConnect(_) => "expect_connect",
            RawStep::ExpectRequest(_) => "expect_request",
            RawStep::Accept(_) => "accept",
            RawStep::Send(_) => "send",
            RawStep::SendRaw(_) => "send_raw",
            RawStep::ExpectFrame(_) => "expect_frame",
            RawStep::ExpectClose(_) => "expect_close",
            RawStep::ExpectNoFrame(_) => "expect_no_frame",
            RawStep::ExpectClosed(_) => "expect_closed",
            RawStep::Close(_) => "close",
            RawStep::Drop(_) => "drop",
            RawStep::Silence(_) => "silence",
            RawStep::ExpectLog(_) => "expect_log",
            RawStep::Sleep(_) => "sleep",
        }
    }
}

impl<'de> Deserialize<'de> for RawStep {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(StepVisitor)
    }
}

struct StepVisitor;

fn kinds_list() -> String {
    STEP_KINDS
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'de> Visitor<'de> for StepVisitor {
    type Value = RawStep;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a step: an object with exactly one key, the step kind")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawStep, A::Error> {
        let Some(kind) = map.next_key::<String>()? else {
            return Err(de::Error::custom(format!(
                "empty step, expected exactly one key, the step kind: one of {}",
                kinds_list()
            )));
        };
        let step = match kind.as_str() {
            "open" => RawStep::Open(map.next_value()?),
            "expect_response" => RawStep::ExpectResponse(map.next_value()?),
            "expect_connect" => RawStep::ExpectConnect(map.next_value()?),
            "expect_request" => RawStep::ExpectRequest(map.next_value()?),
            "accept" => RawStep::Accept(map.next_value()?),
            "drop" => RawStep::Drop(map.next_value()?),
            "silence" => RawStep::Silence(map.next_value()?),
            "send" => RawStep::Send(map.next_value()?),
            "send_raw" => RawStep::SendRaw(map.next_value()?),
            "expect_frame" => RawStep::ExpectFrame(map.next_value()?),
            "expect_close" => RawStep::ExpectClose(map.next_value()?),
            "expect_no_frame" => RawStep::ExpectNoFrame(map.next_value()?),
            "expect_closed" => RawStep::ExpectClosed(map.next_value()?),
            "close" => RawStep::Close(map.next_value()?),
            "expect_log" => RawStep::ExpectLog(map.next_value()?),
            "sleep" => RawStep::Sleep(map.next_value()?),
            "comment" => {
                return Err(de::Error::custom(
                    "`comment` goes inside the step body, e.g. {\"send\": {\"comment\": \"…\", …}}; \
                     a step's only key is its kind",
                ));
            }
            _ => return Err(de::Error::unknown_variant(&kind, STEP_KINDS)),
        };
        if let Some(extra) = map.next_key::<String>()? {
            let hint = if extra == "comment" {
                " (put `comment` inside the step body)".to_owned()
            } else if STEP_KINDS.contains(&extra.as_str()) {
                " (write each step as its own object in `steps`)".to_owned()
            } else {
                String::new()
            };
            return Err(de::Error::custom(format!(
                "a step has exactly one key, its kind, but `{extra}` follows `{kind}`{hint}"
            )));
        }
        Ok(step)
    }
}

/// Write options: how the bytes of a step are cut into separate writes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "Write")]
pub(crate) struct RawWrite {
    /// Split into pieces of this many bytes.
    #[schemars(range(min = 1))]
    pub chunk: Option<i64>,
    /// Piece sizes in order; the rest goes in one last piece.
    #[schemars(length(min = 1), inner(range(min = 1)))]
    pub chunks: Option<Vec<i64>>,
    /// Pause between pieces, in milliseconds (default 0).
    #[schemars(range(min = 0, max = 600_000))]
    pub delay_ms: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "Open")]
pub(crate) struct RawOpen {
    pub comment: Option<String>,
    /// Connection name (default "c").
    pub conn: Option<String>,
    /// Request target, may include a query (default "/ws").
    pub path: Option<String>,
    /// Default "GET".
    pub method: Option<String>,
    /// Default "HTTP/1.1".
    pub http_version: Option<String>,
    /// Sec-WebSocket-Key to send (default: random).
    pub key: Option<String>,
    /// Applied in order to the default headers: a string replaces the header
    /// of that name in place or appends it; null removes it.
    pub headers: Option<IndexMap<String, Option<String>>>,
    /// Sent as `Sec-WebSocket-Protocol: a, b`.
    pub subprotocols: Option<Vec<String>>,
    /// The exact request (JSON escapes such as \r\n); excludes the other request fields.
    pub raw: Option<String>,
    /// The exact request as hex; excludes the other request fields.
    #[schemars(pattern(HEX_PATTERN))]
    pub raw_hex: Option<String>,
    pub write: Option<RawWrite>,
    /// What to expect back (default {"status": 101}).
    pub response: Option<RawResponseSpec>,
    #[schemars(range(min = 1, max = 600_000))]
    pub timeout_ms: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "ExpectResponse")]
pub(crate) struct RawExpectResponse {
    pub comment: Option<String>,
    pub conn: Option<String>,
    pub response: RawResponseSpec,
    #[schemars(range(min = 1, max = 600_000))]
    pub timeout_ms: Option<i64>,
}

/// A response expectation, or `"closed"`, `"none"` or `"later"`.
#[derive(Debug)]
pub(crate) enum RawResponseSpec {
    Expect(RawResponseExpect),
    Closed,
    None,
    Later,
}

impl<'de> Deserialize<'de> for RawResponseSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawResponseSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a response expectation object (e.g. {\"status\": 101}) \
                     or one of \"closed\", \"none\", \"later\"",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawResponseSpec, E> {
                match s {
                    "closed" => Ok(RawResponseSpec::Closed),
                    "none" => Ok(RawResponseSpec::None),
                    "later" => Ok(RawResponseSpec::Later),
                    _ => Err(E::invalid_value(de::Unexpected::Str(s), &self)),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawResponseSpec, A::Error> {
                RawResponseExpect::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawResponseSpec::Expect)
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for RawResponseSpec {
    fn schema_name() -> Cow<'static, str> {
        "ResponseSpec".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let expect = generator.subschema_for::<RawResponseExpect>();
        json_schema!({
            "description": "A response expectation object, or \"closed\" (the server closes TCP without a response), \"none\" (the server sends nothing for the timeout) or \"later\" (checked by a later expect_response; only in open).",
            "anyOf": [
                expect,
                {"type": "string", "enum": ["closed", "none", "later"]}
            ]
        })
    }
}

/// What the HTTP response must look like.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "ResponseExpect")]
pub(crate) struct RawResponseExpect {
    /// Status code (default 101).
    #[schemars(range(min = 100, max = 599))]
    pub status: Option<i64>,
    /// Header name (case-insensitive) to a matcher; null = must be absent.
    pub headers: Option<IndexMap<String, Option<RawMatcher>>>,
    pub body: Option<RawMatcher>,
    /// Check Sec-WebSocket-Accept against the key sent (default: true when status is 101).
    pub accept: Option<bool>,
}

/// A string matcher: a string (exact), {"regex": "..."} or {"prefix": "..."}.
#[derive(Debug, Clone)]
pub(crate) enum RawMatcher {
    Exact(String),
    Regex(String),
    Prefix(String),
}

impl<'de> Deserialize<'de> for RawMatcher {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Object {
            regex: Option<String>,
            prefix: Option<String>,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawMatcher;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a matcher: a string (exact match), {\"regex\": \"…\"} or {\"prefix\": \"…\"}",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawMatcher, E> {
                Ok(RawMatcher::Exact(s.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawMatcher, A::Error> {
                let obj = Object::deserialize(de::value::MapAccessDeserializer::new(map))?;
                match (obj.regex, obj.prefix) {
                    (Some(r), None) => Ok(RawMatcher::Regex(r)),
                    (None, Some(p)) => Ok(RawMatcher::Prefix(p)),
                    (Some(_), Some(_)) => Err(de::Error::custom(
                        "a matcher object has exactly one key, `regex` or `prefix`, not both",
                    )),
                    (None, None) => Err(de::Error::custom(
                        "a matcher object needs `regex` or `prefix` (or use a string for an exact match)",
                    )),
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for RawMatcher {
    fn schema_name() -> Cow<'static, str> {
        "Matcher".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A string (exact match), {\"regex\": \"...\"} (unanchored search) or {\"prefix\": \"...\"}. May contain ${name} variables; $$ is a literal $.",
            "anyOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {"regex": {"type": "string"}},
                    "required": ["regex"],
                    "additionalProperties": false
                },
                {
                    "type": "object",
                    "properties": {"prefix": {"type": "string"}},
                    "required": ["prefix"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// How the payload length field is encoded in a sent frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[schemars(rename = "LengthEncoding")]
pub(crate) enum RawLengthEncoding {
    /// The shortest form (RFC 6455 requires it).
    #[default]
    #[serde(rename = "minimal")]
    Minimal,
    /// In the 7-bit field only (declared length ≤ 125).
    #[serde(rename = "7")]
    Bits7,
    /// 126 + 16-bit extended length.
    #[serde(rename = "16")]
    Bits16,
    /// 127 + 64-bit extended length.
    #[serde(rename = "64")]
    Bits64,
}

impl RawLengthEncoding {
    /// The scenario spelling: `minimal`, `7`, `16`, `64`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RawLengthEncoding::Minimal => "minimal",
            RawLengthEncoding::Bits7 => "7",
            RawLengthEncoding::Bits16 => "16",
            RawLengthEncoding::Bits64 => "64",
        }
    }
}

impl From<RawLengthEncoding> for LengthEncoding {
    fn from(r: RawLengthEncoding) -> LengthEncoding {
        match r {
            RawLengthEncoding::Minimal => LengthEncoding::Minimal,
            RawLengthEncoding::Bits7 => LengthEncoding::Short,
            RawLengthEncoding::Bits16 => LengthEncoding::Extended16,
            RawLengthEncoding::Bits64 => LengthEncoding::Extended64,
        }
    }
}

/// An opcode: a name (case-insensitive) or a number 0..=15.
#[derive(Debug, Clone)]
pub(crate) enum RawOpcode {
    Name(String),
    Number(i64),
}

impl<'de> Deserialize<'de> for RawOpcode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawOpcode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an opcode name (continuation, text, binary, close, ping, pong) or a number 0..=15")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawOpcode, E> {
                Ok(RawOpcode::Name(s.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<RawOpcode, E> {
                Ok(RawOpcode::Number(n))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<RawOpcode, E> {
                // Out-of-range numbers are reported by validation, with the range.
                Ok(RawOpcode::Number(i64::try_from(n).unwrap_or(i64::MAX)))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `continuation` → `[cC][oO]…`: JSON Schema patterns have no portable
/// case-insensitive flag.
fn case_insensitive_alternation(words: impl Iterator<Item = &'static str>) -> String {
    let alternatives: Vec<String> = words
        .map(|w| {
            w.chars()
                .map(|c| format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase()))
                .collect()
        })
        .collect();
    format!("^(?:{})$", alternatives.join("|"))
}

impl JsonSchema for RawOpcode {
    fn schema_name() -> Cow<'static, str> {
        "Opcode".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let pattern = case_insensitive_alternation(Opcode::NAMED.iter().map(|(n, _)| *n));
        json_schema!({
            "description": "WebSocket opcode: continuation, text, binary, close, ping, pong (case-insensitive) or a number 0..=15.",
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": 15},
                {"type": "string", "pattern": pattern}
            ]
        })
    }
}

/// `fill.byte`: a number 0..=255 or a one-character ASCII string.
#[derive(Debug, Clone)]
pub(crate) enum RawFillByte {
    Number(i64),
    Char(String),
}

impl<'de> Deserialize<'de> for RawFillByte {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawFillByte;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte: a number 0..=255 or a one-character ASCII string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawFillByte, E> {
                Ok(RawFillByte::Char(s.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<RawFillByte, E> {
                Ok(RawFillByte::Number(n))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<RawFillByte, E> {
                Ok(RawFillByte::Number(i64::try_from(n).unwrap_or(i64::MAX)))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for RawFillByte {
    fn schema_name() -> Cow<'static, str> {
        "FillByte".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A byte value 0..=255, or a one-character ASCII string.",
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": 255},
                {"type": "string", "minLength": 1, "maxLength": 1}
            ]
        })
    }
}

/// `len` copies of `byte`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "Fill")]
pub(crate) struct RawFill {
    pub byte: RawFillByte,
    #[schemars(range(min = 0, max = crate::validate::MAX_FILL_LEN))]
    pub len: u64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "Send")]
pub(crate) struct RawSend {
    pub comment: Option<String>,
    pub conn: Option<String>,
    /// Default text.
    pub opcode: Option<RawOpcode>,
    /// UTF-8 payload; may contain ${name} variables.
    pub text: Option<String>,
    /// Payload bytes as hex (spaces allowed).
    #[schemars(pattern(HEX_PATTERN))]
    pub hex: Option<String>,
    /// Payload of `len` copies of `byte`.
    pub fill: Option<RawFill>,
    /// Close status code (opcode close only).
    #[schemars(range(min = 0, max = 65_535))]
    pub code: Option<i64>,
    /// Close reason (requires `code`).
    pub reason: Option<String>,
    /// Default true.
    pub fin: Option<bool>,
    /// RSV bits: 4 = RSV1, 2 = RSV2, 1 = RSV3 (default 0).
    #[schemars(range(min = 0, max = 7))]
    pub rsv: Option<i64>,
    /// Default true.
    pub mask: Option<bool>,
    /// Four bytes as 8 hex digits (default random); requires mask.
    #[schemars(pattern(MASK_KEY_PATTERN))]
    pub mask_key: Option<String>,
    /// Declared payload length, overriding the real one (malformed frames).
    pub length: Option<u64>,
    /// How the length is encoded (default minimal).
    pub length_encoding: Option<RawLengthEncoding>,
    pub write: Option<RawWrite>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "SendRaw")]
pub(crate) struct RawSendRaw {
    pub comment: Option<String>,
    pub conn: Option<String>,
    /// Bytes as hex (spaces allowed).
    #[schemars(pattern(HEX_PATTERN))]
    pub hex: Option<String>,
    /// Bytes as UTF-8 text; may contain ${name} variables.
    pub text: Option<String>,
    pub write: Option<RawWrite>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "ExpectFrame")]
pub(crate) struct RawExpectFrame {
    pub comment: Option<String>,
    pub conn: Option<String>,
    pub opcode: Option<RawOpcode>,
    pub fin: Option<bool>,
    #[schemars(range(min = 0, max = 7))]
    pub rsv: Option<i64>,
    /// Exact UTF-8 payload.
    pub text: Option<String>,
    /// Exact payload bytes as hex.
    #[schemars(pattern(HEX_PATTERN))]
    pub hex: Option<String>,
    /// Unanchored regex on the payload (decoded lossily as UTF-8); named
    /// groups define variables.
    pub regex: Option<String>,
    /// The payload starts with this text.
    pub prefix: Option<String>,
    /// Exact payload length.
    pub len: Option<u64>,
    /// The frame must be masked (true) or not (false). Server role: default
    /// true (RFC 6455 §5.3: a client masks every frame); client role:
    /// unchecked unless given.
    pub masked: Option<bool>,
    /// Server role, with `masked`: the masking key must differ from every
    /// key of the scenario's earlier frames (default true; a client must
    /// pick a new unpredictable key per frame).
    pub fresh_mask: Option<bool>,
    #[schemars(range(min = 1, max = 600_000))]
    pub timeout_ms: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "ExpectClose")]
pub(crate) struct RawExpectClose {
    pub comment: Option<String>,
    pub conn: Option<String>,
    #[schemars(range(min = 0, max = 65_535))]
    pub code: Option<i64>,
    pub reason: Option<RawMatcher>,
    /// The CLOSE payload must be empty (excludes code and reason).
    pub empty: Option<bool>,
    #[schemars(range(min = 1, max = 600_000))]
    pub timeout_ms: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "ExpectNoFrame")]
pub(crate) struct RawExpectNoFrame {
    pub comment: Option<String>,
    pub conn: Option<String>,
    /// How long nothing may arrive, in milliseconds.
    #[schemars(range(min = 1, max = 600_000))]
    pub for_ms: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "ExpectClosed")]
pub(crate) struct RawExpectClosed {
    pub comment: Option<String>,
    pub conn: Option<String>,
    /// fin, rst or any (default any).
    pub how: Option<ClosedHow>,
    #[schemars(range(min = 1, max = 600_000))]
    pub timeout_ms: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "Close")]
pub(crate) struct RawClose {
    pub comment: Option<String>,
    pub conn: Option<String>,
    /// fin or rst (default fin).
    pub how: Option<CloseHow>,
}

/// The level of a scenario's snapshot, as written in `log_level`.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "LogLevel")]
pub(crate) enum RawLogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Verbose,
}

impl From<RawLogLevel> for Level {
    fn from(level: RawLogLevel) -> Level {
        match level {
            RawLogLevel::Error => Level::Error,
            RawLogLevel::Warn => Level::Warn,
            RawLogLevel::Info => Level::Info,
            RawLogLevel::Debug => Level::Debug,
            RawLogLevel::Verbose => Level::Verbose,
        }
    }
}

/// A log level as written in `expect_log`: a name or ESP-IDF's letter.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[schemars(rename = "ExpectLogLevel")]
pub(crate) enum RawLevel {
    #[serde(rename = "E")]
    E,
    #[serde(rename = "W")]
    W,
    #[serde(rename = "I")]
    I,
    #[serde(rename = "D")]
    D,
    #[serde(rename = "V")]
    V,
    #[serde(rename = "error")]
    Error,
    #[serde(rename = "warn")]
    Warn,
    #[serde(rename = "info")]
    Info,
    #[serde(rename = "debug")]
    Debug,
    #[serde(rename = "verbose")]
    Verbose,
}

impl From<RawLevel> for Level {
    fn from(level: RawLevel) -> Level {
        match level {
            RawLevel::E | RawLevel::Error => Level::Error,
            RawLevel::W | RawLevel::Warn => Level::Warn,
            RawLevel::I | RawLevel::Info => Level::Info,
            RawLevel::D | RawLevel::Debug => Level::Debug,
            RawLevel::V | RawLevel::Verbose => Level::Verbose,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "ExpectLog")]
pub(crate) struct RawExpectLog {
    pub comment: Option<String>,
    /// Unanchored regex on the log message (or the whole line for non-log
    /// lines); named groups `(?P<name>…)` define variables.
    pub regex: String,
    pub level: Option<RawLevel>,
    /// Exact log tag.
    pub tag: Option<String>,
    #[schemars(range(min = 1, max = 600_000))]
    pub timeout_ms: Option<i64>,
    /// The line must NOT appear (so far, nor during for_ms).
    pub not: Option<bool>,
    /// With not: how long to keep watching, in milliseconds (default 0).
    #[schemars(range(min = 0, max = 600_000))]
    pub for_ms: Option<i64>,
}

/// The instant an `expect_connect` window counts from: an earlier step's
/// index (0-based, as in `steps[3]`: when that step ended) or a keyword.
#[derive(Debug, Clone)]
pub(crate) enum RawAfter {
    Step(i64),
    Keyword(String),
}

impl<'de> Deserialize<'de> for RawAfter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawAfter;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an earlier step's index (0-based) or one of \"previous\", \"start\", \"disconnect\"",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawAfter, E> {
                Ok(RawAfter::Keyword(s.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<RawAfter, E> {
                Ok(RawAfter::Step(n))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<RawAfter, E> {
                Ok(RawAfter::Step(i64::try_from(n).unwrap_or(i64::MAX)))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for RawAfter {
    fn schema_name() -> Cow<'static, str> {
        "After".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "The instant the window counts from: \"previous\" (when the previous step ended; the default), \"start\" (when the scenario's first step began, the firmware being ready), \"disconnect\" (when the last connection ended: esp-ws dropped it or saw the client close it), or an earlier step's index (0-based, as in steps[3]: when that step ended).",
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "enum": ["previous", "start", "disconnect"]}
            ]
        })
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "ExpectConnect")]
pub(crate) struct RawExpectConnect {
    pub comment: Option<String>,
    /// The new connection's name (default "c1", "c2", … in order); later
    /// steps act on the newest connection unless they name one.
    pub conn: Option<String>,
    /// What `within_ms` counts from (default "previous").
    pub after: Option<RawAfter>,
    /// [min, max] in milliseconds: the connection must arrive at least min
    /// and at most max after `after`'s instant, as measured (never scaled
    /// by --timeout-scale). A connection that arrived earlier, even while
    /// other steps ran, fails the step.
    #[schemars(length(min = 2, max = 2), inner(range(min = 0, max = 600_000)))]
    pub within_ms: Option<Vec<i64>>,
    /// Without `within_ms`: how long to wait for the connection.
    #[schemars(range(min = 1, max = 600_000))]
    pub timeout_ms: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "ExpectRequest")]
pub(crate) struct RawExpectRequest {
    pub comment: Option<String>,
    pub conn: Option<String>,
    /// The request method (e.g. "GET").
    pub method: Option<RawMatcher>,
    /// The request target (path and query), e.g. "/".
    pub path: Option<RawMatcher>,
    /// Header name (case-insensitive) to a matcher of its value; null = the
    /// header must be absent. Their order matters as `order` says.
    pub headers: Option<IndexMap<String, Option<RawMatcher>>>,
    /// "listed" (default): the listed headers appear in this order, others
    /// may come between; "exact": the request has exactly the listed
    /// headers, in this order; "any": the order is not checked.
    pub order: Option<HeaderOrder>,
    /// Sec-WebSocket-Key must be base64 of 16 bytes and differ from every
    /// key of the scenario's earlier requests (default true).
    pub fresh_key: Option<bool>,
    #[schemars(range(min = 1, max = 600_000))]
    pub timeout_ms: Option<i64>,
}

/// `accept`: an answer object, or `"none"` (no answer at all).
#[derive(Debug)]
pub(crate) enum RawAccept {
    Answer(Box<RawAnswer>),
    None,
}

impl<'de> Deserialize<'de> for RawAccept {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawAccept;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an answer object (e.g. {} for a correct 101) or \"none\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawAccept, E> {
                match s {
                    "none" => Ok(RawAccept::None),
                    _ => Err(E::invalid_value(de::Unexpected::Str(s), &self)),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawAccept, A::Error> {
                RawAnswer::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|a| RawAccept::Answer(Box::new(a)))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for RawAccept {
    fn schema_name() -> Cow<'static, str> {
        "Accept".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let answer = generator.subschema_for::<RawAnswer>();
        json_schema!({
            "description": "The answer to the client's request: an object ({} is a correct 101), or \"none\": no answer at all (the client's handshake timeout runs out).",
            "anyOf": [
                answer,
                {"type": "string", "enum": ["none"]}
            ]
        })
    }
}

/// The handshake answer. Examples: a wrong accept key `{"headers":
/// {"Sec-WebSocket-Accept": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}}`; a 404 `{"status":
/// 404, "body": "no such route"}`; an unrequested subprotocol `{"headers":
/// {"Sec-WebSocket-Protocol": "chat"}}`; a CLOSE in the same write
/// `{"frames": [{"opcode": "close", "code": 1000}]}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "Answer")]
pub(crate) struct RawAnswer {
    pub comment: Option<String>,
    pub conn: Option<String>,
    /// Status code (default 101).
    #[schemars(range(min = 100, max = 599))]
    pub status: Option<i64>,
    /// Reason phrase (default: the status's usual one).
    pub reason: Option<String>,
    /// Applied in order to the default headers (101: Upgrade, Connection,
    /// the correct Sec-WebSocket-Accept; other statuses: Content-Type:
    /// text/plain, Content-Length): a string replaces the header of that
    /// name in place or appends it; null removes it. May contain ${name}
    /// variables.
    pub headers: Option<IndexMap<String, Option<String>>>,
    /// Body text (only with a status other than 101); may contain ${name}
    /// variables.
    pub body: Option<String>,
    /// Frames (bodies of `send` steps, without `conn`) written in the same
    /// write as the answer, right after it.
    pub frames: Option<Vec<RawSend>>,
    /// Wait this long before answering, in milliseconds (default 0).
    #[schemars(range(min = 0, max = 600_000))]
    pub delay_ms: Option<i64>,
    pub write: Option<RawWrite>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "Drop")]
pub(crate) struct RawDrop {
    pub comment: Option<String>,
    pub conn: Option<String>,
    /// fin or rst (default fin).
    pub how: Option<CloseHow>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "Silence")]
pub(crate) struct RawSilence {
    pub comment: Option<String>,
    pub conn: Option<String>,
    /// Milliseconds during which esp-ws sends nothing and nothing may
    /// arrive.
    #[schemars(range(min = 1, max = 600_000))]
    pub ms: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
#[schemars(rename = "Sleep")]
pub(crate) struct RawSleep {
    pub comment: Option<String>,
    /// Milliseconds.
    #[schemars(range(min = 0, max = 600_000))]
    pub ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;

    fn de_str(s: &str) -> de::value::StrDeserializer<'_, de::value::Error> {
        s.into_deserializer()
    }

    #[test]
    fn opcode_pattern_is_case_insensitive() {
        let pattern = case_insensitive_alternation(["ab", "c"].into_iter());
        assert_eq!(pattern, "^(?:[aA][bB]|[cC])$");
        let re = regex::Regex::new(&pattern).unwrap();
        assert!(re.is_match("aB") && re.is_match("C") && !re.is_match("abc"));
    }

    #[test]
    fn matcher_and_response_keywords() {
        let m = RawMatcher::deserialize(de_str("x")).unwrap();
        assert!(matches!(m, RawMatcher::Exact(s) if s == "x"));
        let r = RawResponseSpec::deserialize(de_str("later")).unwrap();
        assert!(matches!(r, RawResponseSpec::Later));
        let err = RawResponseSpec::deserialize(de_str("open")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid value: string \"open\""),
            "{err}"
        );
    }
}
