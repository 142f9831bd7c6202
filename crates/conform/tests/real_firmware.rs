//! The judge is not lenient: sessions recorded on a real esp_http_server
//! v5.5.5 (../shared/real-firmware/v5.5.5/, beside the repository), judged
//! as the cases they match, get the verdicts the v5.5.5 baseline records
//! for the simulator; and the baseline holds what section 9 of the fact
//! sheet observed on a real build (RSV bits ignored, reserved data opcodes
//! echoed, fragments echoed as FIN frames, no UTF-8 or close-code checks,
//! every CLOSE answered `88 00`).

use std::path::{Path, PathBuf};

use esp_ws_conform::judge::{Behavior, CloseBehavior};
use esp_ws_conform::record::{Answer, Event, Observation};
use esp_ws_conform::{Baseline, table};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn baseline() -> Baseline {
    Baseline::load(&repo().join("conformance/baselines/v5.5.5.json")).unwrap()
}

/// A recorded session as the driver would have recorded it: the request's
/// answer, the client's frames, the server's frames, how TCP ended.
/// `extra`: TEXT messages the session's client sent after the frames the
/// case sends; their echoes are left out.
fn observation(session: &serde_json::Value, extra: &[&str]) -> Observation {
    let mut obs = Observation::default();
    let mut server = Vec::new();
    let mut client_frames = Vec::new();
    let mut closed = None;
    let mut client_closed = false;
    for e in session["events"].as_array().unwrap() {
        match (e["dir"].as_str(), e["kind"].as_str()) {
            (Some("C->S"), _) if e["note"] == "handshake" => {}
            (Some("C->S"), _) => {
                client_frames.push(hex::decode(e["hex"].as_str().unwrap()).unwrap())
            }
            (Some("S->C"), _) => server.extend(hex::decode(e["hex"].as_str().unwrap()).unwrap()),
            (_, Some("closed")) => closed = Some(e["info"].as_str().unwrap().to_string()),
            (_, Some("client-close")) => client_closed = true,
            _ => {}
        }
    }
    for bytes in client_frames {
        let (frames, _) = esp_ws_frame::decode_all(&bytes, u64::MAX).unwrap();
        for f in frames {
            obs.events.push(Event::Sent {
                summary: f.summary(),
                hex: hex::encode(&bytes),
                writes: 1,
                closing: false,
            });
        }
    }
    let frames_from = match esp_ws_frame::parse_response(&server).unwrap() {
        esp_ws_frame::ResponseParse::Complete(r) => {
            let key = session_key(session);
            obs.expected_accept = esp_ws_frame::accept_key(key.as_bytes());
            let from = r.head_len;
            obs.answer = Answer::Response {
                status: r.status,
                status_line: r.status_line(),
                headers: r.headers.clone(),
                body: String::from_utf8_lossy(&r.body).into_owned(),
            };
            if r.status == 101 { from } else { server.len() }
        }
        esp_ws_frame::ResponseParse::Incomplete => {
            obs.answer = Answer::Closed {
                how: closed.clone().unwrap_or_else(|| "FIN".into()),
                partial: String::new(),
            };
            server.len()
        }
    };
    let (frames, _) = esp_ws_frame::decode_all(&server[frames_from..], u64::MAX).unwrap();
    for f in frames {
        if f.opcode == esp_ws_frame::Opcode::TEXT && extra.iter().any(|x| x.as_bytes() == f.payload)
        {
            continue;
        }
        obs.events
            .push(Event::Received(esp_ws_conform::judge::received(&f)));
    }
    if let Some(how) = closed {
        obs.events.push(Event::ServerClosed { how });
    } else if client_closed {
        obs.events.push(Event::ClientClosed { how: "FIN".into() });
    }
    obs
}

/// The Sec-WebSocket-Key of the session's request.
fn session_key(session: &serde_json::Value) -> String {
    let req = session["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["note"] == "handshake")
        .unwrap();
    let text = String::from_utf8(hex::decode(req["hex"].as_str().unwrap()).unwrap()).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Sessions and the cases they are: the same frames, up to the payload
/// where the case's judgement does not depend on it.
/// Each with the TEXT messages its client sent after the case's frames.
const SESSIONS: &[(&str, &str, &[&str])] = &[
    ("t", "3.1", &[]),              // RSV1 on a TEXT: echoed with RSV=0
    ("q", "5.21", &[]), // "Hel" + "lo, " + "world": echoed fragment by fragment, each FIN
    ("m", "2.12", &["after-ping"]), // PING "Espressif": PONG "Espressif"
    ("o", "7.3.4", &[]), // CLOSE 1000 "bye": answered 88 00, then FIN
    ("v1", "2.5", &["after"]), // PING of 126 bytes: PONG of 126 bytes
    ("j", "1.1.1", &["after"]), // empty TEXT: 81 00
    ("s", "1.5.1", &[]), // unmasked TEXT: no CLOSE, TCP reset
    ("c", "H.2.6", &[]), // no Sec-WebSocket-Key: closed without a response
    ("e", "H.2.2", &[]), // no Upgrade: closed without a response
    ("f", "H.8.1", &[]), // unknown path: 404
];

#[test]
fn recorded_real_sessions_get_the_verdicts_of_the_v5_5_5_baseline() {
    let dir = repo().join("../shared/real-firmware/v5.5.5");
    assert!(
        dir.is_dir(),
        "{} is missing: CI provides the recorded sessions beside the repository",
        dir.display()
    );
    let cases = table::all();
    let base = baseline();
    let mut problems = Vec::new();
    for (session, id, extra) in SESSIONS {
        let path = dir.join(format!("{session}.json"));
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let case = cases.iter().find(|c| c.id == *id).unwrap();
        let v = esp_ws_conform::judge(case, &observation(&s, extra));
        let want = &base.cases[*id];
        if v.behavior != want.behavior {
            problems.push(format!(
                "{session}.json as {id}: the real firmware earns {} ({}), the baseline says {}",
                v.behavior.name(),
                v.reason,
                want.behavior.name()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// What section 9 of ../shared/reference/esp-idf-ws-server.md observed on
/// a real v5.5.5 build, as verdicts of the v5.5.5 baseline.
#[test]
fn the_v5_5_5_baseline_holds_what_a_real_build_was_seen_to_do() {
    let b = baseline();
    let with = |prefix: &str| -> Vec<(&String, &esp_ws_conform::baseline::Entry)> {
        b.cases
            .iter()
            .filter(|(id, _)| id.starts_with(prefix))
            .collect()
    };
    // "RSV1 is ignored and the echo has RSV=0": nothing with RSV bits is refused.
    for (id, e) in with("3.") {
        assert_eq!(e.behavior, Behavior::Failed, "{id}");
        assert_ne!(e.close, CloseBehavior::Clean, "{id}");
    }
    // "reserved opcode 3 is echoed as opcode 3".
    for (id, e) in with("4.1.") {
        assert_eq!(e.behavior, Behavior::Failed, "{id}");
    }
    // "Fragmented input is echoed frame by frame, each with FIN=1".
    for id in ["5.3", "5.21", "5.22", "6.1.2"] {
        assert_eq!(b.cases[id].behavior, Behavior::Failed, "{id}");
    }
    // No UTF-8 validation: every invalid sequence is echoed.
    let cases = table::all();
    for c in cases
        .iter()
        .filter(|c| c.category == esp_ws_conform::Category::Utf8)
    {
        if matches!(c.expect, esp_ws_conform::case::Expect::Fail { .. }) {
            assert_eq!(b.cases[&c.id].behavior, Behavior::Failed, "{}", c.id);
        }
    }
    // No close-code validation, and "CLOSE with 1000 "bye" and an empty
    // CLOSE are both answered with 88 00": every valid code gets an answer
    // without one, every invalid code is accepted.
    for (id, e) in with("7.7.") {
        assert_eq!(
            (e.behavior, e.close),
            (Behavior::NonStrict, CloseBehavior::WrongCode),
            "{id}"
        );
    }
    for (id, e) in with("7.9.") {
        assert_eq!(
            (e.behavior, e.close),
            (Behavior::Failed, CloseBehavior::NeverClosed),
            "{id}"
        );
    }
    assert_eq!(
        b.cases["7.3.1"].behavior,
        Behavior::Ok,
        "an empty CLOSE answered 88 00"
    );
    // "Sec-WebSocket-Version: 130 is accepted", "a 28-character key is accepted".
    assert_eq!(b.cases["H.3.4"].behavior, Behavior::Failed);
    assert_eq!(b.cases["H.2.10"].behavior, Behavior::Failed);
    // "Echo ... a 65535-byte payload the 64-bit form": not the minimal
    // length encoding RFC 6455 §5.2 requires.
    assert_eq!(b.cases["1.1.6"].behavior, Behavior::Failed);
}
