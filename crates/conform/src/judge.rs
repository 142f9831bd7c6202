//! The judge: what a case expects and what the driver observed in, two
//! verdicts out, as Autobahn|Testsuite gives them: the behaviour (OK,
//! NON-STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED) and how the connection
//! was closed (CLEAN, WRONG CODE, UNCLEAN, NEVER CLOSED; N/A when there was
//! no WebSocket connection to close). Pure.
//!
//! What the server sent is read as a strict client reads it: frames are
//! reassembled into messages, and whatever RFC 6455 forbids a server to send
//! (RSV bits, reserved opcodes, masked frames, control frames over 125
//! bytes, a CONTINUATION that continues nothing, TEXT that is not UTF-8,
//! data after its CLOSE) fails the case, whatever the case is about.

use serde::{Deserialize, Serialize};

use crate::case::{Case, Expect, HandshakeExpect, Msg};
use crate::record::{Answer, Event, Observation, Received};
use esp_ws_frame::{ClosePayload, Opcode};

/// What the server did with the case.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Behavior {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "NON-STRICT")]
    NonStrict,
    #[serde(rename = "INFORMATIONAL")]
    Informational,
    #[serde(rename = "UNIMPLEMENTED")]
    Unimplemented,
    #[serde(rename = "FAILED")]
    Failed,
}

impl Behavior {
    pub const ALL: [Behavior; 5] = [
        Behavior::Ok,
        Behavior::NonStrict,
        Behavior::Informational,
        Behavior::Unimplemented,
        Behavior::Failed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Behavior::Ok => "OK",
            Behavior::NonStrict => "NON-STRICT",
            Behavior::Informational => "INFORMATIONAL",
            Behavior::Unimplemented => "UNIMPLEMENTED",
            Behavior::Failed => "FAILED",
        }
    }

    /// Better is higher. INFORMATIONAL ranks with NON-STRICT: it is neither
    /// right nor wrong, but a change from OK to it is worth knowing.
    pub fn rank(self) -> u8 {
        match self {
            Behavior::Ok => 3,
            Behavior::NonStrict | Behavior::Informational => 2,
            Behavior::Unimplemented => 1,
            Behavior::Failed => 0,
        }
    }
}

/// How the connection ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CloseBehavior {
    /// A closing handshake with an expected code, then TCP closed by the
    /// server.
    #[serde(rename = "CLEAN")]
    Clean,
    /// A closing handshake, but not the code RFC 6455 asks for here (or
    /// none).
    #[serde(rename = "WRONG CODE")]
    WrongCode,
    /// TCP ended without a complete closing handshake (no CLOSE frame, a
    /// reset, or a server that did not close TCP after its CLOSE).
    #[serde(rename = "UNCLEAN")]
    Unclean,
    /// The server did not close when it had to (it never failed a
    /// connection it had to fail, or it never closed at all).
    #[serde(rename = "NEVER CLOSED")]
    NeverClosed,
    /// No WebSocket connection was opened.
    #[serde(rename = "N/A")]
    NotApplicable,
}

impl CloseBehavior {
    pub const ALL: [CloseBehavior; 5] = [
        CloseBehavior::Clean,
        CloseBehavior::WrongCode,
        CloseBehavior::Unclean,
        CloseBehavior::NeverClosed,
        CloseBehavior::NotApplicable,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CloseBehavior::Clean => "CLEAN",
            CloseBehavior::WrongCode => "WRONG CODE",
            CloseBehavior::Unclean => "UNCLEAN",
            CloseBehavior::NeverClosed => "NEVER CLOSED",
            CloseBehavior::NotApplicable => "N/A",
        }
    }

    /// Better is higher; N/A ranks with CLEAN (nothing to close is not
    /// worse than a clean close).
    pub fn rank(self) -> u8 {
        match self {
            CloseBehavior::Clean | CloseBehavior::NotApplicable => 3,
            CloseBehavior::WrongCode => 2,
            CloseBehavior::Unclean => 1,
            CloseBehavior::NeverClosed => 0,
        }
    }
}

/// The judge's word on a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub behavior: Behavior,
    /// Why, in a sentence that names what came.
    pub reason: String,
    pub close: CloseBehavior,
    pub close_reason: String,
}

/// What the server's frames amount to, read as a strict client reads them.
#[derive(Debug, Default)]
struct Reading {
    /// Messages and PONGs before the server's CLOSE, in order.
    replies: Vec<Msg>,
    /// What the server sent that RFC 6455 forbids it to send.
    errors: Vec<String>,
    /// The server's CLOSE payload, and whether it came before the client's
    /// own closing CLOSE.
    close: Option<(ClosePayload, bool)>,
    /// The server closed TCP (how), and whether before the client's
    /// closing CLOSE.
    tcp: Option<(String, bool)>,
}

impl Reading {
    fn of(obs: &Observation) -> Reading {
        Reading::of_frames(&obs.events)
    }

    fn of_frames(events: &[Event]) -> Reading {
        let mut r = Reading::default();
        let mut closing_sent = false;
        let mut partial: Option<(u8, Vec<u8>)> = None;
        for e in events {
            match e {
                Event::Sent { closing: true, .. } => closing_sent = true,
                Event::ServerClosed { how } if r.tcp.is_none() => {
                    r.tcp = Some((how.clone(), !closing_sent))
                }
                Event::Received(f) => {
                    if r.close.is_some() {
                        r.errors
                            .push(format!("it sent {} after its CLOSE (§5.5.1)", f.summary));
                        continue;
                    }
                    for v in &f.violations {
                        r.errors.push(format!("{v} in {}", f.summary));
                    }
                    let op = Opcode(f.opcode);
                    if op == Opcode::CLOSE {
                        r.close =
                            Some((esp_ws_frame::parse_close_payload(&f.payload), !closing_sent));
                        continue;
                    }
                    if op.is_reserved() {
                        continue;
                    }
                    if op == Opcode::PONG {
                        r.replies.push(Msg::Pong(f.payload.clone()));
                        continue;
                    }
                    if op.is_control() {
                        // A PING from the server asks nothing of the case.
                        continue;
                    }
                    match (op, partial.take()) {
                        (Opcode::CONTINUATION, None) => r.errors.push(format!(
                            "a CONTINUATION that continues no message ({}; §5.4)",
                            f.summary
                        )),
                        (Opcode::CONTINUATION, Some((start, mut payload))) => {
                            payload.extend_from_slice(&f.payload);
                            if f.fin {
                                r.finish(start, payload);
                            } else {
                                partial = Some((start, payload));
                            }
                        }
                        (_, Some(_)) => {
                            r.errors.push(format!(
                                "a new message inside a fragmented one ({}; §5.4)",
                                f.summary
                            ));
                            partial = Some((f.opcode, f.payload.clone())).filter(|_| !f.fin);
                            if f.fin {
                                r.finish(f.opcode, f.payload.clone());
                            }
                        }
                        (_, None) => {
                            if f.fin {
                                r.finish(f.opcode, f.payload.clone());
                            } else {
                                partial = Some((f.opcode, f.payload.clone()));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        r
    }

    fn finish(&mut self, opcode: u8, payload: Vec<u8>) {
        if opcode == Opcode::TEXT.0 {
            if std::str::from_utf8(&payload).is_err() {
                self.errors.push(format!(
                    "a TEXT message that is not UTF-8 (\"{}\"; §8.1)",
                    esp_ws_frame::escape_bytes(&payload[..payload.len().min(24)])
                ));
            }
            self.replies.push(Msg::Text(payload));
        } else {
            self.replies.push(Msg::Binary(payload));
        }
    }

    /// The server failed the connection: a CLOSE with an error code, or TCP
    /// closed without a CLOSE before the client began closing.
    fn failed(&self) -> Option<String> {
        match (&self.close, &self.tcp) {
            (Some((ClosePayload::Code { code, .. }, _)), _) if !matches!(code, 1000 | 1001) => {
                Some(format!("a CLOSE {code}"))
            }
            (Some((ClosePayload::Malformed(_), _)), _) => Some("a malformed CLOSE".into()),
            (None, Some((how, true))) => Some(format!("closing TCP ({how}) without a CLOSE frame")),
            _ => None,
        }
    }

    /// The server ended the connection before the client began to.
    fn ended_first(&self) -> Option<String> {
        if let Some(f) = self.failed() {
            return Some(f);
        }
        match (&self.close, &self.tcp) {
            (Some((p, true)), _) => Some(format!("a {}", describe_close(p))),
            (None, Some((how, true))) => Some(format!("closing TCP ({how})")),
            _ => None,
        }
    }
}

fn describe_close(p: &ClosePayload) -> String {
    match p {
        ClosePayload::Empty => "CLOSE without a status code".into(),
        ClosePayload::Code { code, reason } if reason.is_empty() => format!("CLOSE {code}"),
        ClosePayload::Code { code, reason } => format!(
            "CLOSE {code} \"{}\"",
            esp_ws_frame::escape_bytes(&reason[..reason.len().min(40)])
        ),
        ClosePayload::Malformed(b) => format!("malformed CLOSE ({})", hex::encode(b)),
    }
}

fn list(m: &[Msg]) -> String {
    if m.is_empty() {
        "nothing".into()
    } else {
        m.iter().map(Msg::describe).collect::<Vec<_>>().join(", ")
    }
}

/// Where two reply lists first differ, for a reason that names it.
fn difference(expected: &[Msg], got: &[Msg]) -> String {
    for (i, (e, g)) in expected.iter().zip(got).enumerate() {
        if e != g {
            return format!(
                "reply {} was {} instead of {}",
                i + 1,
                g.describe(),
                e.describe()
            );
        }
    }
    if got.len() > expected.len() {
        format!("it also answered {}", list(&got[expected.len()..]))
    } else {
        format!("{} did not come", list(&got_missing(expected, got)))
    }
}

fn got_missing(expected: &[Msg], got: &[Msg]) -> Vec<Msg> {
    expected[got.len().min(expected.len())..].to_vec()
}

/// Whether the replies so far settle the case: the driver stops waiting
/// once they do (all expected replies came, or more than a case that must
/// fail may get).
pub fn enough(expect: &Expect, events: &[Event]) -> bool {
    let r = Reading::of_frames(events);
    if r.close.is_some() || r.tcp.is_some() {
        return true;
    }
    let n = r.replies.len();
    match expect {
        Expect::Replies { ok, .. } => n >= ok.len(),
        Expect::Limit { echo } => n >= echo.len(),
        Expect::Fail { before, .. } => n > before.len(),
        // The case's own CLOSE is answered by a CLOSE, which ends it.
        Expect::CloseReply { .. } | Expect::Informational => false,
        Expect::Handshake(_) => true,
    }
}

/// The verdicts on one case.
pub fn judge(case: &Case, obs: &Observation) -> Verdict {
    let mut v = judge_inner(case, obs);
    if let Some(crash) = &obs.crash {
        v.behavior = Behavior::Failed;
        v.reason = format!("the firmware crashed: {crash} ({})", v.reason);
    }
    v
}

fn judge_inner(case: &Case, obs: &Observation) -> Verdict {
    if let Expect::Handshake(h) = &case.expect {
        return judge_handshake(case, h, obs);
    }
    if let Err(why) = upgraded(case, obs) {
        return Verdict {
            behavior: Behavior::Failed,
            reason: format!("the opening handshake failed: {why}"),
            close: CloseBehavior::NotApplicable,
            close_reason: "no WebSocket connection".into(),
        };
    }
    let r = Reading::of(obs);
    let (mut behavior, mut reason) = behaviour(&case.expect, &r);
    if !r.errors.is_empty() {
        let mut errors = r.errors[..r.errors.len().min(3)].join("; ");
        if r.errors.len() > 3 {
            errors.push_str(&format!("; and {} more", r.errors.len() - 3));
        }
        if behavior == Behavior::Failed {
            reason = format!("{reason}; and it sent {errors}");
        } else {
            behavior = Behavior::Failed;
            reason = format!("the server broke RFC 6455 in what it sent: {errors}");
        }
    }
    let (close, close_reason) = close_verdict(&case.expect, &r);
    Verdict {
        behavior,
        reason,
        close,
        close_reason,
    }
}

fn behaviour(expect: &Expect, r: &Reading) -> (Behavior, String) {
    use Behavior::*;
    let got = &r.replies;
    match expect {
        Expect::Replies { ok, non_strict } => {
            if let Some(how) = r.ended_first() {
                return (
                    Failed,
                    format!(
                        "the server ended the connection with {how} after answering {} (expected {})",
                        list(got),
                        list(ok)
                    ),
                );
            }
            if got == ok {
                (Ok, format!("answered {}", list(ok)))
            } else if non_strict.as_ref() == Some(got) {
                (NonStrict, format!("answered only {}", list(got)))
            } else {
                (Failed, difference(ok, got))
            }
        }
        Expect::Fail { before, codes } => {
            let prefix = got.len() <= before.len() && before[..got.len()] == got[..];
            if !prefix {
                return (
                    Failed,
                    format!(
                        "the server answered the invalid input ({}) where RFC 6455 requires it to fail the connection",
                        difference(before, got)
                    ),
                );
            }
            let Some(how) = r.failed() else {
                let went_on = match &r.close {
                    Some((p, true)) => format!("it answered with a {}", describe_close(p)),
                    Some((p, false)) => format!(
                        "it went on, and answered the client's closing CLOSE with a {}",
                        describe_close(p)
                    ),
                    None => "it kept the connection".into(),
                };
                return (
                    Failed,
                    format!(
                        "the server did not fail the connection: {went_on} (expected a CLOSE {})",
                        codes_text(codes)
                    ),
                );
            };
            if got == before {
                (
                    Ok,
                    format!(
                        "answered {} and failed the connection with {how}",
                        list(before)
                    ),
                )
            } else {
                (
                    NonStrict,
                    format!(
                        "failed the connection with {how} before answering {}",
                        list(&got_missing(before, got))
                    ),
                )
            }
        }
        Expect::CloseReply {
            before,
            codes,
            empty_ok,
        } => {
            let prefix = got.len() <= before.len() && before[..got.len()] == got[..];
            if !prefix {
                return (Failed, difference(before, got));
            }
            let answered = r.close.is_some();
            if got != before && answered {
                // The replies were lost to the closing handshake, which the
                // server ran first: the CLOSE itself was answered.
                return (
                    NonStrict,
                    format!(
                        "answered the CLOSE before answering {}",
                        list(&got_missing(before, got))
                    ),
                );
            }
            match &r.close {
                None => (
                    Failed,
                    match &r.tcp {
                        Some((how, _)) => {
                            format!("the server closed TCP ({how}) without answering the CLOSE")
                        }
                        None => "the server did not answer the CLOSE".into(),
                    },
                ),
                Some((ClosePayload::Empty, _)) if *empty_ok => {
                    (Ok, "answered with a CLOSE without a status code".into())
                }
                Some((ClosePayload::Empty, _)) => (
                    NonStrict,
                    format!(
                        "answered with a CLOSE without a status code (§5.5.1: a reply typically echoes the code; expected {})",
                        codes_text(codes)
                    ),
                ),
                Some((ClosePayload::Code { code, .. }, _)) if codes.contains(code) => {
                    (Ok, format!("answered with a CLOSE {code}"))
                }
                Some((p, _)) => (
                    NonStrict,
                    format!(
                        "answered with a {} (expected {})",
                        describe_close(p),
                        codes_text(codes)
                    ),
                ),
            }
        }
        Expect::Limit { echo } => {
            if got == echo && r.ended_first().is_none() {
                return (Ok, format!("answered {}", list(echo)));
            }
            let prefix = got.len() <= echo.len() && echo[..got.len()] == got[..];
            if !prefix {
                return (Failed, difference(echo, got));
            }
            match (&r.close, r.ended_first()) {
                (Some((ClosePayload::Code { code: 1009, .. }, _)), _) => (
                    Ok,
                    "refused the message with a CLOSE 1009 (message too big)".into(),
                ),
                (_, Some(how)) => (
                    Informational,
                    format!("ended the connection with {how} instead of answering: its limit"),
                ),
                (_, None) => (
                    Informational,
                    format!("did not answer the message ({} did not come)", list(echo)),
                ),
            }
        }
        Expect::Informational => {
            let what = match (&r.close, &r.tcp) {
                (Some((p, _)), _) => format!("answered with a {}", describe_close(p)),
                (None, Some((how, _))) => format!("closed TCP ({how}) without a CLOSE"),
                (None, None) => "did not answer".into(),
            };
            (
                Informational,
                if got.is_empty() {
                    what
                } else {
                    format!("answered {}, then {what}", list(got))
                },
            )
        }
        Expect::Handshake(_) => unreachable!("judged by judge_handshake"),
    }
}

fn codes_text(codes: &[u16]) -> String {
    codes
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(" or ")
}

fn close_verdict(expect: &Expect, r: &Reading) -> (CloseBehavior, String) {
    use CloseBehavior::*;
    let Some((payload, initiated)) = &r.close else {
        return match &r.tcp {
            Some((how, _)) => (
                Unclean,
                format!("the server closed TCP ({how}) without a closing handshake"),
            ),
            None => (
                NeverClosed,
                "the server closed neither the WebSocket connection nor TCP".into(),
            ),
        };
    };
    match &r.tcp {
        Some((how, _)) if how != "FIN" => {
            return (
                Unclean,
                format!(
                    "the server sent a {}, then closed TCP with {how}",
                    describe_close(payload)
                ),
            );
        }
        None => {
            return (
                Unclean,
                format!(
                    "the server sent a {} but did not close TCP",
                    describe_close(payload)
                ),
            );
        }
        _ => {}
    }
    let said = describe_close(payload);
    let code = match payload {
        ClosePayload::Code { code, .. } => Some(*code),
        _ => None,
    };
    match expect {
        Expect::Fail { codes, .. } => {
            if r.failed().is_none() {
                (
                    NeverClosed,
                    format!(
                        "the server never failed the connection; it answered the client's CLOSE with a {said}"
                    ),
                )
            } else if code.is_some_and(|c| codes.contains(&c)) {
                (Clean, format!("{said}, then TCP closed"))
            } else {
                (
                    WrongCode,
                    format!("{said} where {} was expected", codes_text(codes)),
                )
            }
        }
        Expect::CloseReply {
            codes, empty_ok, ..
        } => {
            if code.is_some_and(|c| codes.contains(&c)) || (code.is_none() && *empty_ok) {
                (Clean, format!("{said}, then TCP closed"))
            } else {
                (
                    WrongCode,
                    format!("{said} where {} was expected", codes_text(codes)),
                )
            }
        }
        Expect::Informational => (Clean, format!("{said}, then TCP closed")),
        _ => {
            if *initiated {
                // The server closed first: the behaviour verdict says whether
                // it should have; the handshake itself was complete.
                if code.is_some() {
                    (Clean, format!("the server closed first with a {said}"))
                } else {
                    (WrongCode, format!("the server closed first with a {said}"))
                }
            } else if code == Some(1000) {
                (
                    Clean,
                    "answered the client's CLOSE 1000 with CLOSE 1000, then closed TCP".into(),
                )
            } else {
                (
                    WrongCode,
                    format!(
                        "answered the client's CLOSE 1000 with a {said} (§5.5.1: a reply typically echoes the code)"
                    ),
                )
            }
        }
    }
}

/// Did the handshake give a WebSocket connection? `Err` says why not.
fn upgraded(case: &Case, obs: &Observation) -> Result<(), String> {
    let Answer::Response { status, .. } = &obs.answer else {
        return Err(obs.answer.describe());
    };
    if *status != 101 {
        return Err(format!("answered {}", obs.answer.describe()));
    }
    let mut problems = Vec::new();
    if !obs
        .answer
        .header("Upgrade")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
    {
        problems.push(format!(
            "Upgrade is {:?}, not websocket",
            obs.answer.header("Upgrade")
        ));
    }
    if !obs.answer.header("Connection").is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
    }) {
        problems.push(format!(
            "Connection is {:?}, without upgrade",
            obs.answer.header("Connection")
        ));
    }
    match obs.answer.header("Sec-WebSocket-Accept") {
        Some(a) if a.trim() == obs.expected_accept => {}
        Some(a) => problems.push(format!(
            "Sec-WebSocket-Accept is {a:?}, expected {:?}",
            obs.expected_accept
        )),
        None => problems.push("no Sec-WebSocket-Accept".into()),
    }
    if let Some(p) = obs.answer.header("Sec-WebSocket-Protocol") {
        let offered = case.request.offered_protocols();
        if !offered.iter().any(|o| o == p.trim()) {
            problems.push(format!(
                "Sec-WebSocket-Protocol {p:?}, which the client did not offer ({offered:?})"
            ));
        }
    }
    if let Some(e) = obs.answer.header("Sec-WebSocket-Extensions") {
        let offered = case
            .request
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("Sec-WebSocket-Extensions"));
        if !offered {
            problems.push(format!(
                "Sec-WebSocket-Extensions {e:?}, though the client offered none"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("101, but {}", problems.join("; ")))
    }
}

fn judge_handshake(case: &Case, h: &HandshakeExpect, obs: &Observation) -> Verdict {
    let upgraded = upgraded(case, obs);
    let (close, close_reason) = if obs.answer.status() == Some(101) {
        close_verdict(
            &Expect::Replies {
                ok: vec![],
                non_strict: None,
            },
            &Reading::of(obs),
        )
    } else {
        (
            CloseBehavior::NotApplicable,
            "no WebSocket connection".into(),
        )
    };
    let (behavior, reason) = match h {
        HandshakeExpect::Accept => match &upgraded {
            Ok(()) => (Behavior::Ok, "answered 101 Switching Protocols with the right Accept".into()),
            Err(why) => (Behavior::Failed, format!("the valid handshake failed: {why}")),
        },
        HandshakeExpect::Extension { name } => match &upgraded {
            Ok(()) => match obs.answer.header("Sec-WebSocket-Extensions") {
                Some(e) if e.contains(name.as_str()) => {
                    (Behavior::Ok, format!("accepted {name}: {e}"))
                }
                _ => (Behavior::Unimplemented, format!("answered 101 without {name}")),
            },
            Err(why) => (Behavior::Failed, format!("the handshake failed: {why}")),
        },
        HandshakeExpect::Reject { preferred, header } => match &obs.answer {
            Answer::Response { status: 101, .. } => (
                Behavior::Failed,
                "the server upgraded the connection where RFC 6455 requires it to refuse the handshake".into(),
            ),
            Answer::Response { status, .. } if *status >= 400 => {
                let named = preferred.contains(status);
                let with_header = header.as_ref().is_none_or(|(n, v)| {
                    obs.answer
                        .header(n)
                        .is_some_and(|got| got.split(',').any(|x| x.trim() == v))
                });
                if named && with_header {
                    (Behavior::Ok, format!("refused with {}", obs.answer.describe()))
                } else {
                    let want = match header {
                        Some((n, v)) => format!("{} with {n}: {v}", codes_text(preferred)),
                        None => codes_text(preferred),
                    };
                    (
                        Behavior::NonStrict,
                        format!(
                            "refused with {}{} (RFC 6455 names {want})",
                            obs.answer.describe(),
                            if named && !with_header {
                                " but without the header"
                            } else {
                                ""
                            }
                        ),
                    )
                }
            }
            Answer::Response { .. } => (
                Behavior::Failed,
                format!("answered {}, which does not refuse the handshake", obs.answer.describe()),
            ),
            Answer::Closed { how, partial } if partial.is_empty() => (
                Behavior::NonStrict,
                format!("refused by closing the connection ({how}) without an HTTP response"),
            ),
            other => (
                Behavior::Failed,
                format!("the client got no answer: {}", other.describe()),
            ),
        },
    };
    Verdict {
        behavior,
        reason,
        close,
        close_reason,
    }
}

/// A frame as the records keep it, with the violations a server commits by
/// sending it.
pub fn received(f: &esp_ws_frame::Frame) -> Received {
    Received {
        fin: f.fin,
        rsv: f.rsv,
        opcode: f.opcode.value(),
        masked: f.mask.is_some(),
        len: f.payload.len(),
        summary: f.summary(),
        violations: f
            .violations(esp_ws_frame::Role::Server)
            .iter()
            .map(|v| v.to_string())
            .collect(),
        payload: f.payload.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Event;
    use esp_ws_frame::{FrameSpec, Opcode};

    fn case(id: &str) -> Case {
        crate::table::all()
            .into_iter()
            .find(|c| c.id == id)
            .unwrap()
    }

    fn upgraded() -> Observation {
        Observation {
            answer: Answer::Response {
                status: 101,
                status_line: "HTTP/1.1 101 Switching Protocols".into(),
                headers: vec![
                    ("Upgrade".into(), "websocket".into()),
                    ("Connection".into(), "Upgrade".into()),
                    ("Sec-WebSocket-Accept".into(), "A".into()),
                ],
                body: String::new(),
            },
            expected_accept: "A".into(),
            ..Default::default()
        }
    }

    fn from_server(spec: FrameSpec) -> Event {
        let bytes = esp_ws_frame::encode(&spec).unwrap();
        let (f, _) = esp_ws_frame::decode_all(&bytes, u64::MAX).unwrap();
        Event::Received(received(&f[0]))
    }

    fn text(p: &[u8]) -> Event {
        from_server(FrameSpec::new(Opcode::TEXT, p.to_vec()))
    }

    fn close(code: Option<u16>) -> Event {
        from_server(FrameSpec::new(
            Opcode::CLOSE,
            esp_ws_frame::close_payload(code, b""),
        ))
    }

    fn client_close() -> Event {
        Event::Sent {
            summary: "CLOSE".into(),
            hex: String::new(),
            writes: 1,
            closing: true,
        }
    }

    fn fin() -> Event {
        Event::ServerClosed { how: "FIN".into() }
    }

    #[track_caller]
    fn check(id: &str, events: Vec<Event>, behavior: Behavior, close: CloseBehavior, why: &str) {
        let obs = Observation {
            events,
            ..upgraded()
        };
        let v = judge(&case(id), &obs);
        assert_eq!((v.behavior, v.close), (behavior, close), "{v:?}");
        assert!(v.reason.contains(why), "{v:?}");
    }

    #[test]
    fn echoes_and_how_the_close_is_answered() {
        let hello = b"Hello, world!";
        let ping = |p: &[u8]| from_server(FrameSpec::new(Opcode::PONG, p.to_vec()));
        check(
            "2.2",
            vec![ping(hello), client_close(), close(Some(1000)), fin()],
            Behavior::Ok,
            CloseBehavior::Clean,
            "answered PONG",
        );
        check(
            "2.2",
            vec![ping(hello), client_close(), close(None), fin()],
            Behavior::Ok,
            CloseBehavior::WrongCode,
            "answered PONG",
        );
        check(
            "2.2",
            vec![client_close(), close(Some(1000)), fin()],
            Behavior::Failed,
            CloseBehavior::Clean,
            "did not come",
        );
        // A fragmented message echoed as a TEXT and a stray CONTINUATION.
        let cont = from_server(FrameSpec::new(Opcode::CONTINUATION, b"fragment2".to_vec()));
        check(
            "5.3",
            vec![text(b"fragment1"), cont, client_close(), close(None), fin()],
            Behavior::Failed,
            CloseBehavior::WrongCode,
            "CONTINUATION that continues no message",
        );
    }

    #[test]
    fn a_case_that_must_fail_the_connection() {
        let hello = b"Hello, world!";
        check(
            "3.2",
            vec![text(hello), close(Some(1002)), client_close(), fin()],
            Behavior::Ok,
            CloseBehavior::Clean,
            "failed the connection",
        );
        check(
            "3.2",
            vec![close(Some(1002)), client_close(), fin()],
            Behavior::NonStrict,
            CloseBehavior::Clean,
            "before answering",
        );
        check(
            "3.2",
            vec![text(hello), Event::ServerClosed { how: "RST".into() }],
            Behavior::Ok,
            CloseBehavior::Unclean,
            "without a CLOSE frame",
        );
        check(
            "3.2",
            vec![text(hello), text(hello), client_close(), close(None), fin()],
            Behavior::Failed,
            CloseBehavior::NeverClosed,
            "answered the invalid input",
        );
        check(
            "3.2",
            vec![text(hello), client_close(), close(Some(1000)), fin()],
            Behavior::Failed,
            CloseBehavior::NeverClosed,
            "did not fail",
        );
        check(
            "7.9.1",
            vec![close(None), fin()],
            Behavior::Failed,
            CloseBehavior::NeverClosed,
            "did not fail",
        );
        check(
            "6.3.1",
            vec![close(Some(1002)), fin()],
            Behavior::Ok,
            CloseBehavior::WrongCode,
            "failed the connection",
        );
    }

    #[test]
    fn a_close_is_answered() {
        check(
            "7.7.4",
            vec![close(Some(1003)), fin()],
            Behavior::Ok,
            CloseBehavior::Clean,
            "1003",
        );
        check(
            "7.7.4",
            vec![close(None), fin()],
            Behavior::NonStrict,
            CloseBehavior::WrongCode,
            "without a status code",
        );
        check(
            "7.3.1",
            vec![close(None), fin()],
            Behavior::Ok,
            CloseBehavior::Clean,
            "without a status code",
        );
        check(
            "7.1.3",
            vec![
                close(Some(1000)),
                from_server(FrameSpec::new(Opcode::PONG, vec![])),
                fin(),
            ],
            Behavior::Failed,
            CloseBehavior::Clean,
            "after its CLOSE",
        );
        check(
            "7.7.1",
            vec![fin()],
            Behavior::Failed,
            CloseBehavior::Unclean,
            "without answering",
        );
    }

    #[test]
    fn refused_handshakes() {
        let answer = |status: u16, headers: Vec<(String, String)>| Answer::Response {
            status,
            status_line: format!("HTTP/1.1 {status}"),
            headers,
            body: String::new(),
        };
        let judged = |id: &str, answer: Answer| {
            let obs = Observation {
                answer,
                ..upgraded()
            };
            judge(&case(id), &obs)
        };
        let v = judged(
            "H.3.2",
            answer(426, vec![("Sec-WebSocket-Version".into(), "13".into())]),
        );
        assert_eq!(
            (v.behavior, v.close),
            (Behavior::Ok, CloseBehavior::NotApplicable)
        );
        let v = judged("H.3.2", answer(400, vec![]));
        assert_eq!(v.behavior, Behavior::NonStrict, "{v:?}");
        let v = judged(
            "H.3.2",
            Answer::Closed {
                how: "FIN".into(),
                partial: String::new(),
            },
        );
        assert_eq!(v.behavior, Behavior::NonStrict, "{v:?}");
        assert_eq!(
            judged("H.3.2", upgraded().answer).behavior,
            Behavior::Failed
        );
        assert_eq!(judged("H.1.1", upgraded().answer).behavior, Behavior::Ok);
        assert_eq!(
            judged("H.5.1", upgraded().answer).behavior,
            Behavior::Unimplemented
        );
        let v = judged("H.1.1", answer(400, vec![]));
        assert_eq!(v.behavior, Behavior::Failed, "{v:?}");
        // A wrong Accept fails even a case about something else.
        let mut bad = upgraded();
        bad.expected_accept = "B".into();
        assert_eq!(judge(&case("2.1"), &bad).behavior, Behavior::Failed);
    }
}
