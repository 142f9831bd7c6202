//! What happened in a case, as the driver saw it: the handshake's answer
//! and a timeline of frames both ways and of how TCP ended. The judge reads
//! it; the reports show it.

use serde::{Deserialize, Serialize};

/// How much of a payload the records keep as hex (the judge sees all of
/// it while the case runs).
pub const HEX_SHOWN: usize = 64;

/// The start of `bytes` as hex, with the total when it is cut.
pub fn hex_prefix(bytes: &[u8]) -> String {
    if bytes.len() <= HEX_SHOWN {
        hex::encode(bytes)
    } else {
        format!(
            "{}… ({} bytes)",
            hex::encode(&bytes[..HEX_SHOWN]),
            bytes.len()
        )
    }
}

/// The answer to the opening handshake.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Answer {
    /// The case did not get that far (it was not run).
    #[default]
    None,
    /// The TCP connection could not be opened.
    ConnectFailed { error: String },
    Response {
        status: u16,
        status_line: String,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// The server closed the connection without a complete response.
    Closed { how: String, partial: String },
    /// Nothing complete arrived in time.
    Timeout { partial: String },
}

impl Answer {
    pub fn status(&self) -> Option<u16> {
        match self {
            Answer::Response { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        match self {
            Answer::Response { headers, .. } => headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }

    /// One line for reports.
    pub fn describe(&self) -> String {
        match self {
            Answer::None => "(not run)".into(),
            Answer::ConnectFailed { error } => format!("cannot connect: {error}"),
            Answer::Response { status_line, .. } => status_line.clone(),
            Answer::Closed { how, partial } if partial.is_empty() => {
                format!("closed ({how}) without a response")
            }
            Answer::Closed { how, partial } => format!("closed ({how}) after \"{partial}\""),
            Answer::Timeout { partial } if partial.is_empty() => "no response".into(),
            Answer::Timeout { partial } => format!("an incomplete response: \"{partial}\""),
        }
    }
}

/// A frame the server sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Received {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub masked: bool,
    pub len: usize,
    /// The frame codec's one-line summary.
    pub summary: String,
    /// The RFC 6455 rules the frame itself breaks.
    pub violations: Vec<String>,
    /// The payload (all of it while the case is judged; not stored).
    #[serde(skip)]
    pub payload: Vec<u8>,
}

/// One thing on the wire, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The client wrote a frame (or, after a write error, part of one).
    Sent {
        summary: String,
        /// The bytes on the wire (masked), the start of them.
        hex: String,
        writes: usize,
        /// Sent to close the connection after the case's own frames.
        closing: bool,
    },
    Received(Received),
    /// The server closed TCP.
    ServerClosed {
        how: String,
    },
    /// The client closed TCP (after the closing handshake, or giving up).
    ClientClosed {
        how: String,
    },
    /// Something the driver noticed (a write error, a wait that ran out).
    Note {
        text: String,
    },
}

/// Everything one case produced.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// The request as sent (the target's address and the key as
    /// placeholders, so that reports do not change between runs).
    pub request: String,
    pub answer: Answer,
    /// The Sec-WebSocket-Accept the request's key calls for.
    pub expected_accept: String,
    pub events: Vec<Event>,
    /// The serial lines the case caused, normalized.
    pub log: Vec<String>,
    /// The firmware crashed (or its process ended) during the case.
    pub crash: Option<String>,
    /// The target rebooted after the crash, or why not.
    pub recovery: Option<String>,
}
