//! What a conformance case is: the opening handshake it sends, the frames
//! that follow, and what RFC 6455 requires the server to do with them.
//!
//! Pure data: the table in [`crate::table`] is built from these types, the
//! driver puts them on the wire, the judge compares what came back with
//! [`Expect`].

use serde::Serialize;

/// The groups of cases, numbered as Autobahn|Testsuite's server-side
/// categories so that a report can be read next to an Autobahn one. The
/// opening handshake, which Autobahn does not test, is `H`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Category {
    Framing,
    PingPong,
    ReservedBits,
    Opcodes,
    Fragmentation,
    Utf8,
    Close,
    Limits,
    Handshake,
}

impl Category {
    pub const ALL: [Category; 9] = [
        Category::Framing,
        Category::PingPong,
        Category::ReservedBits,
        Category::Opcodes,
        Category::Fragmentation,
        Category::Utf8,
        Category::Close,
        Category::Limits,
        Category::Handshake,
    ];

    /// The first part of its cases' ids (Autobahn's numbers).
    pub fn number(self) -> &'static str {
        match self {
            Category::Framing => "1",
            Category::PingPong => "2",
            Category::ReservedBits => "3",
            Category::Opcodes => "4",
            Category::Fragmentation => "5",
            Category::Utf8 => "6",
            Category::Close => "7",
            Category::Limits => "9",
            Category::Handshake => "H",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Category::Framing => "Framing",
            Category::PingPong => "Pings and pongs",
            Category::ReservedBits => "Reserved bits",
            Category::Opcodes => "Reserved opcodes",
            Category::Fragmentation => "Fragmentation",
            Category::Utf8 => "UTF-8 handling",
            Category::Close => "Close handling",
            Category::Limits => "Limits",
            Category::Handshake => "Opening handshake",
        }
    }
}

/// The opening handshake of a case. `{path}`, `{host}` and `{key}` in the
/// target and the header values are filled in by the driver (the endpoint
/// path, the target's address, the case's key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub version: String,
    /// In sending order, names as spelt.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// A conforming upgrade request.
    pub fn standard() -> Request {
        Request {
            method: "GET".into(),
            target: "{path}".into(),
            version: "HTTP/1.1".into(),
            headers: vec![
                ("Host".into(), "{host}".into()),
                ("Upgrade".into(), "websocket".into()),
                ("Connection".into(), "Upgrade".into()),
                ("Sec-WebSocket-Key".into(), "{key}".into()),
                ("Sec-WebSocket-Version".into(), "13".into()),
            ],
        }
    }

    /// Without the header called `name` (any case).
    pub fn without(mut self, name: &str) -> Request {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// With header `name` set to `value`, in place if it is there.
    pub fn with(mut self, name: &str, value: &str) -> Request {
        match self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(h) => *h = (name.into(), value.into()),
            None => self.headers.push((name.into(), value.into())),
        }
        self
    }

    /// With one more header line (a duplicate, say).
    pub fn adding(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The request text with the placeholders filled in.
    pub fn render(&self, path: &str, host: &str, key: &str) -> String {
        let fill = |s: &str| {
            s.replace("{path}", path)
                .replace("{host}", host)
                .replace("{key}", key)
        };
        let mut out = format!(
            "{} {} {}\r\n",
            self.method,
            fill(&self.target),
            self.version
        );
        for (n, v) in &self.headers {
            out.push_str(&format!("{n}: {}\r\n", fill(v)));
        }
        out.push_str("\r\n");
        out
    }

    /// The sub-protocols the request offers.
    pub fn offered_protocols(&self) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("Sec-WebSocket-Protocol"))
            .flat_map(|(_, v)| v.split(',').map(|p| p.trim().to_string()))
            .filter(|p| !p.is_empty())
            .collect()
    }
}

/// How a frame's bytes go out.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Write {
    /// One write.
    Whole,
    /// Pieces of this many bytes, each its own write.
    Chops(usize),
    /// The header one byte a write, then the payload in pieces of this many
    /// bytes: a header that reaches the server over many reads.
    HeaderBytewise(usize),
}

/// One frame the client sends (always masked, as RFC 6455 §5.3 requires of
/// a client; the mask is chosen by the driver, reproducibly).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Out {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub payload: Vec<u8>,
    pub write: Write,
    /// Send it unmasked (a client must not).
    pub unmasked: bool,
}

/// One thing the client does after the handshake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Step {
    Send(Out),
    /// A pause, for the server to act on what it got so far.
    Pause {
        ms: u64,
    },
}

/// A message the server sends back, as a client reassembles it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Msg {
    Text(Vec<u8>),
    Binary(Vec<u8>),
    Pong(Vec<u8>),
}

impl Msg {
    /// A line for reports: kind, length and the start of the payload.
    pub fn describe(&self) -> String {
        let (kind, p) = match self {
            Msg::Text(p) => ("TEXT", p),
            Msg::Binary(p) => ("BINARY", p),
            Msg::Pong(p) => ("PONG", p),
        };
        if p.is_empty() {
            return format!("{kind} (empty)");
        }
        let shown = &p[..p.len().min(24)];
        let more = if p.len() > shown.len() { "…" } else { "" };
        format!(
            "{kind} of {} bytes \"{}{more}\"",
            p.len(),
            esp_ws_frame::escape_bytes(shown)
        )
    }
}

/// What the opening handshake must end in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum HandshakeExpect {
    /// 101 with the right Accept; a sub-protocol only if one was offered.
    Accept,
    /// An HTTP error response. `preferred` are the statuses RFC 6455 names
    /// (any 4xx or 5xx refuses the handshake; another one than preferred,
    /// or closing without any response, is NON-STRICT). `header` must come
    /// with it, where RFC 6455 asks for one.
    Reject {
        preferred: Vec<u16>,
        header: Option<(String, String)>,
    },
    /// An extension offered (permessage-deflate): accepting it is OK,
    /// declining it UNIMPLEMENTED.
    Extension { name: String },
}

/// What RFC 6455 requires of the server in a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Expect {
    /// These replies (echoes, PONGs) in this order, and the connection stays
    /// up until the client closes it. `non_strict` is a tolerated
    /// alternative (RFC 6455 lets a server answer only the latest PING).
    Replies {
        ok: Vec<Msg>,
        non_strict: Option<Vec<Msg>>,
    },
    /// The server must fail the connection (§7.1.7), with one of `codes` in
    /// its CLOSE frame, after the replies in `before` (fewer of them is
    /// NON-STRICT).
    Fail { before: Vec<Msg>, codes: Vec<u16> },
    /// The client's CLOSE ends the case: the server answers it with a CLOSE
    /// carrying one of `codes` after the replies in `before`, and sends
    /// nothing after its CLOSE.
    CloseReply {
        before: Vec<Msg>,
        codes: Vec<u16>,
        /// A CLOSE without a status code is a full answer (the client's own
        /// CLOSE had none).
        empty_ok: bool,
    },
    /// A message as large as the server may refuse: an echo or a 1009 close
    /// (§7.4.1, message too big) is OK; anything else is INFORMATIONAL.
    Limit { echo: Vec<Msg> },
    /// RFC 6455 does not say what the server must do (close codes above
    /// 4999): whatever it does is INFORMATIONAL, unless it breaks the
    /// protocol itself.
    Informational,
    /// The opening handshake is what the case tests.
    Handshake(HandshakeExpect),
}

/// One conformance case.
#[derive(Clone, Debug, Serialize)]
pub struct Case {
    /// `1.1.1`: category, group, number.
    pub id: String,
    pub category: Category,
    /// What it sends, in a sentence.
    pub title: String,
    /// Where RFC 6455 says what the server must do.
    pub rfc: &'static str,
    pub request: Request,
    pub steps: Vec<Step>,
    pub expect: Expect,
}

impl Case {
    /// How its outcome is judged, in a sentence or two.
    pub fn judged(&self) -> String {
        let list = |m: &[Msg]| {
            if m.is_empty() {
                "nothing".to_string()
            } else {
                m.iter().map(Msg::describe).collect::<Vec<_>>().join(", ")
            }
        };
        let codes = |c: &[u16]| {
            c.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(" or ")
        };
        match &self.expect {
            Expect::Replies { ok, non_strict } => {
                let mut s = format!(
                    "OK if the server answers {} and closes cleanly when the client does; FAILED if it answers anything else, breaks the protocol in what it sends, or fails the connection.",
                    list(ok)
                );
                if let Some(alt) = non_strict {
                    s.push_str(&format!(" NON-STRICT if it answers {}.", list(alt)));
                }
                s
            }
            Expect::Fail { before, codes: c } => format!(
                "OK if the server answers {} and then fails the connection (a CLOSE with {}, or dropping TCP); NON-STRICT if it fails it before answering all of that; FAILED if it answers the invalid input or goes on as if it were valid.",
                list(before),
                codes(c)
            ),
            Expect::CloseReply {
                before,
                codes: c,
                empty_ok,
            } => {
                if *empty_ok {
                    format!(
                        "OK if the server answers {}, then the client's CLOSE with a CLOSE (without a status code, or {}), sends nothing after it and closes TCP; FAILED otherwise.",
                        list(before),
                        codes(c)
                    )
                } else {
                    format!(
                        "OK if the server answers {}, then the client's CLOSE with a CLOSE carrying {}, sends nothing after it and closes TCP; NON-STRICT if its CLOSE has no status code; FAILED otherwise.",
                        list(before),
                        codes(c)
                    )
                }
            }
            Expect::Limit { echo } => format!(
                "OK if the server answers {} or refuses the message with a CLOSE 1009; INFORMATIONAL if it ends the connection another way; FAILED if it answers something else.",
                list(echo)
            ),
            Expect::Informational => "INFORMATIONAL: RFC 6455 does not say what the server must do; the report records what it did. FAILED only if what it sends breaks the protocol.".into(),
            Expect::Handshake(HandshakeExpect::Accept) => "OK if the server answers 101 Switching Protocols with Upgrade, Connection and the right Sec-WebSocket-Accept, and no sub-protocol or extension the client did not offer; FAILED otherwise.".into(),
            Expect::Handshake(HandshakeExpect::Reject { preferred, header }) => {
                let mut s = format!(
                    "OK if the server refuses the handshake with HTTP {}",
                    codes(preferred)
                );
                if let Some((n, v)) = header {
                    s.push_str(&format!(" and a {n}: {v} header"));
                }
                s.push_str("; NON-STRICT if it refuses with another HTTP error, or closes the connection without any response; FAILED if it upgrades the connection or leaves the client without an answer.");
                s
            }
            Expect::Handshake(HandshakeExpect::Extension { name }) => format!(
                "OK if the server answers 101 and accepts {name}; UNIMPLEMENTED if it answers 101 without it; FAILED if it refuses the handshake."
            ),
        }
    }

    /// What it sends after the handshake, one line per frame.
    pub fn sends(&self) -> Vec<String> {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Pause { ms } => format!("pause {ms} ms"),
                Step::Send(o) => {
                    let mut line = format!(
                        "{} {}",
                        esp_ws_frame::Opcode(o.opcode).name(),
                        if o.fin { "fin" } else { "nofin" }
                    );
                    if o.rsv != 0 {
                        line.push_str(&format!(" rsv={}", o.rsv));
                    }
                    if o.unmasked {
                        line.push_str(" unmasked");
                    }
                    line.push_str(&format!(" len={}", o.payload.len()));
                    match o.write {
                        Write::Whole => {}
                        Write::Chops(n) => line.push_str(&format!(", written in pieces of {n}")),
                        Write::HeaderBytewise(n) => line.push_str(&format!(
                            ", header written a byte at a time, payload in pieces of {n}"
                        )),
                    }
                    line
                }
            })
            .collect()
    }
}
