//! The server role (`"role": "server"`): its steps parse into the model
//! with their defaults, and every mistake gets an error naming the file,
//! the place, the field and what was expected.

use std::time::Duration;

use esp_ws_scenario::*;

/// A file in the esp_websocket_client family's folder: a server-role
/// scenario's place.
const CLIENT_FAMILY: &str = "scenarios/esp-websocket-client/t.json";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn errors(text: &str, file: &str) -> Vec<String> {
    match parse_str(text, file) {
        Ok(_) => panic!("{text} parsed, but it should fail"),
        Err(e) => e.iter().map(ScenarioError::to_string).collect(),
    }
}

/// `steps` of a server-role scenario.
fn server(steps: &str) -> String {
    format!("{{\"version\": 1, \"role\": \"server\",\n\"steps\": [\n{steps}\n]}}")
}

#[test]
fn every_server_step_parses_with_its_defaults() {
    let text = server(
        r#"{"expect_connect": {"within_ms": [0, 3000], "after": "start"}},
{"expect_request": {"path": "/", "headers": {"Connection": "Upgrade", "Host": {"regex": "^127"}, "Origin": null}}},
{"accept": {}},
{"expect_frame": {"opcode": "text", "text": "hello 0000"}},
{"send": {"opcode": "ping", "text": "p"}},
{"drop": {}},
{"expect_connect": {"after": "disconnect", "within_ms": [9500, 10500]}},
{"accept": {"status": 404, "body": "no", "headers": {"X-A": "1"}}},
{"expect_closed": {"how": "fin"}},
{"expect_connect": {"conn": "late", "after": 5, "within_ms": [19500, 20500]}},
{"accept": "none"},
{"silence": {"ms": 100}},
{"expect_log": {"regex": "DISCONNECTED"}}"#,
    );
    let s = parse_str(&text, CLIENT_FAMILY).unwrap();
    assert_eq!(s.role, Role::Server);
    assert_eq!(s.family.as_deref(), Some("esp-websocket-client"));
    let kinds: Vec<&str> = s.steps.iter().map(|st| st.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "expect_connect",
            "expect_request",
            "accept",
            "expect_frame",
            "send",
            "drop",
            "expect_connect",
            "accept",
            "expect_closed",
            "expect_connect",
            "accept",
            "silence",
            "expect_log"
        ]
    );
    let StepKind::ExpectConnect(c) = &s.steps[0].kind else {
        panic!()
    };
    assert_eq!(
        (c.conn.as_str(), c.after, c.within),
        ("c1", After::Start, Some((ms(0), ms(3000))))
    );
    let StepKind::ExpectRequest(r) = &s.steps[1].kind else {
        panic!()
    };
    assert_eq!(r.conn, "c1");
    assert_eq!(r.path, Some(Matcher::Exact("/".into())));
    assert_eq!(r.order, HeaderOrder::Listed);
    assert!(r.fresh_key);
    assert_eq!(
        r.headers.keys().collect::<Vec<_>>(),
        ["Connection", "Host", "Origin"]
    );
    assert_eq!(r.headers["Origin"], None);
    let StepKind::Accept(a) = &s.steps[2].kind else {
        panic!()
    };
    let Answer::Http(h) = &a.answer else { panic!() };
    assert_eq!((h.status, h.reason_phrase()), (101, "Switching Protocols"));
    let list = h
        .header_list("ACC", &Default::default())
        .expect("no variables");
    assert_eq!(
        list,
        [
            ("Upgrade".to_string(), "websocket".to_string()),
            ("Connection".to_string(), "Upgrade".to_string()),
            ("Sec-WebSocket-Accept".to_string(), "ACC".to_string()),
        ]
    );
    let StepKind::ExpectFrame(f) = &s.steps[3].kind else {
        panic!()
    };
    // A client must mask, with a new key each frame.
    assert_eq!((f.masked, f.fresh_mask), (Some(true), true));
    let StepKind::Send(send) = &s.steps[4].kind else {
        panic!()
    };
    // A server does not mask.
    assert!(!send.mask);
    let StepKind::ExpectConnect(c) = &s.steps[6].kind else {
        panic!()
    };
    assert_eq!(
        (c.conn.as_str(), c.after, c.within),
        ("c2", After::Disconnect, Some((ms(9500), ms(10500))))
    );
    let StepKind::Accept(a) = &s.steps[7].kind else {
        panic!()
    };
    let Answer::Http(h) = &a.answer else { panic!() };
    assert_eq!(
        (h.status, h.reason_phrase(), h.body.as_str()),
        (404, "Not Found", "no")
    );
    assert_eq!(a.conn, "c2");
    let list = h.header_list("ACC", &Default::default()).unwrap();
    assert_eq!(
        list,
        [
            ("Content-Type".to_string(), "text/plain".to_string()),
            ("Content-Length".to_string(), "2".to_string()),
            ("X-A".to_string(), "1".to_string()),
        ]
    );
    let StepKind::ExpectConnect(c) = &s.steps[9].kind else {
        panic!()
    };
    assert_eq!((c.conn.as_str(), c.after), ("late", After::Step(5)));
    let StepKind::Accept(a) = &s.steps[10].kind else {
        panic!()
    };
    assert_eq!((a.conn.as_str(), &a.answer), ("late", &Answer::None));
    let StepKind::Silence(q) = &s.steps[11].kind else {
        panic!()
    };
    assert_eq!((q.conn.as_str(), q.duration), ("late", ms(100)));
}

#[test]
fn a_wrong_accept_and_a_close_in_the_same_write() {
    let text = server(
        r#"{"expect_connect": {}},
{"accept": {"headers": {"Sec-WebSocket-Accept": "AAAA", "Sec-WebSocket-Protocol": "chat"}, "delay_ms": 50,
  "frames": [{"opcode": "close", "code": 1000, "reason": "bye"}]}}"#,
    );
    let s = parse_str(&text, CLIENT_FAMILY).unwrap();
    let StepKind::Accept(a) = &s.steps[1].kind else {
        panic!()
    };
    assert_eq!(a.delay, ms(50));
    let Answer::Http(h) = &a.answer else { panic!() };
    assert_eq!(
        h.header_list("ACC", &Default::default()).unwrap(),
        [
            ("Upgrade".to_string(), "websocket".to_string()),
            ("Connection".to_string(), "Upgrade".to_string()),
            ("Sec-WebSocket-Accept".to_string(), "AAAA".to_string()),
            ("Sec-WebSocket-Protocol".to_string(), "chat".to_string()),
        ]
    );
    assert_eq!(h.frames.len(), 1);
    assert_eq!(h.frames[0].opcode, Opcode::CLOSE);
    assert!(!h.frames[0].mask);
    assert_eq!(h.frames[0].conn, "c1");
}

#[test]
fn the_role_must_match_the_family_of_the_folder() {
    let text = server(r#"{"expect_connect": {}}"#);
    assert_eq!(
        errors(&text, "scenarios/esp-http-server/t.json"),
        [
            "scenarios/esp-http-server/t.json:1:24: role: \"role\": \"server\": esp-ws plays the server, but the scenario lies in the folder of the esp-http-server family, whose firmware serves WebSocket (server-role scenarios belong to a family that dials out)"
        ]
    );
    let text = r#"{"version": 1, "steps": [{"sleep": {"ms": 1}}]}"#;
    assert_eq!(
        errors(text, "scenarios/nodemcu-websocket-client/t.json"),
        [
            "scenarios/nodemcu-websocket-client/t.json:1:1: (root): no `role` (the client role): esp-ws plays the client, but the scenario lies in the folder of the nodemcu-websocket-client family, whose firmware dials out: set \"role\": \"server\""
        ]
    );
    let text = r#"{"version": 1, "role": "both", "steps": [{"sleep": {"ms": 1}}]}"#;
    let e = errors(text, CLIENT_FAMILY);
    assert!(
        e[0].contains("role: unknown variant `both`, expected `client` or `server`"),
        "{e:?}"
    );
}

#[test]
fn a_scenario_applies_to_the_firmware_of_the_other_side_only() {
    let text = server(r#"{"expect_connect": {}}"#);
    let s = parse_str(&text, "t.json").unwrap();
    let client = esp_ws_catalogue::find("esp-websocket-client-1.8.0").unwrap();
    let server = esp_ws_catalogue::find("v5.5.5").unwrap();
    assert!(s.applies_to(client));
    assert!(!s.applies_to(server));
    assert_eq!(
        s.why_not_for(server).unwrap(),
        "esp-ws plays the server in it, and v5.5.5 serves WebSocket itself"
    );
    // In a family's folder, the SKIP line names what runs it.
    let in_folder = parse_str(&text, "scenarios/nodemcu-websocket-client/t.json").unwrap();
    assert_eq!(
        in_folder.why_not_for(server).unwrap(),
        "esp-ws plays the server in it, and v5.5.5 serves WebSocket itself; firmware nodemcu-websocket-client runs it"
    );
    let c = parse_str(
        r#"{"version": 1, "steps": [{"sleep": {"ms": 1}}]}"#,
        "t.json",
    )
    .unwrap();
    assert!(!c.applies_to(client));
    assert_eq!(
        c.why_not_for(client).unwrap(),
        "esp-ws plays the client in it, and esp-websocket-client-1.8.0 dials out"
    );
}

#[test]
fn steps_of_the_other_role_are_refused() {
    let text = server(r#"{"open": {}}"#);
    let e = errors(&text, CLIENT_FAMILY);
    assert_eq!(
        e[0],
        "scenarios/esp-websocket-client/t.json:3:10: steps[0].open: `open` is a step of client-role scenarios (esp-ws dials the firmware), but this scenario has \"role\": \"server\"; a server-role scenario has `expect_connect`, `expect_request`, `accept`, `drop`, `silence` and the shared steps"
    );
    let text = r#"{"version": 1, "steps": [{"open": {}}, {"accept": {}}]}"#;
    let e = errors(text, "t.json");
    assert!(
        e.iter().any(|m| m.starts_with("t.json:1:51: steps[1].accept: `accept` is a step of server-role scenarios (esp-ws listens, the firmware dials it): set \"role\": \"server\" at the top")),
        "{e:?}"
    );
}

#[test]
fn a_connection_comes_before_the_steps_that_use_it() {
    let text = server(
        r#"{"expect_request": {}}, {"expect_connect": {"conn": "x"}}, {"drop": {"conn": "y"}}"#,
    );
    assert_eq!(
        errors(&text, CLIENT_FAMILY),
        [
            "scenarios/esp-websocket-client/t.json:3:20: steps[0].expect_request: no connection yet: in a server-role scenario an `expect_connect` step comes first (the firmware dials esp-ws)",
            "scenarios/esp-websocket-client/t.json:3:78: steps[2].drop.conn: connection \"y\" is not named by an earlier `expect_connect` step",
        ]
    );
    let text = server(r#"{"expect_connect": {}}, {"expect_connect": {"conn": "c1"}}"#);
    let e = errors(&text, CLIENT_FAMILY);
    assert_eq!(
        e,
        [
            "scenarios/esp-websocket-client/t.json:3:53: steps[1].expect_connect.conn: connection \"c1\" is already named by an earlier `expect_connect`: each connection gets a name of its own"
        ]
    );
}

#[test]
fn time_windows_are_checked() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"expect_connect": {"within_ms": [10500, 9500]}}"#,
            "steps[0].expect_connect.within_ms: min 10500 is greater than max 9500",
        ),
        (
            r#"{"expect_connect": {"within_ms": [1, 2, 3]}}"#,
            "steps[0].expect_connect.within_ms: must be [min, max] in milliseconds (two numbers), got 3 numbers",
        ),
        (
            r#"{"expect_connect": {"within_ms": [-1, 2]}}"#,
            "steps[0].expect_connect.within_ms[0]: must be in 0..=600000, got -1",
        ),
        (
            r#"{"expect_connect": {"after": 0, "within_ms": [1, 2]}}"#,
            "steps[0].expect_connect.after: step 0 is not an earlier step: the window counts from a step that ran before this one (step 0; earlier ones: there is none before it)",
        ),
        (
            r#"{"expect_connect": {"after": "later", "within_ms": [1, 2]}}"#,
            "steps[0].expect_connect.after: unknown instant \"later\": expected \"previous\", \"start\", \"disconnect\" or an earlier step's index",
        ),
        (
            r#"{"expect_connect": {"after": "start"}}"#,
            "steps[0].expect_connect.after: `after` says what `within_ms` counts from; give `within_ms` too",
        ),
        (
            r#"{"expect_connect": {"within_ms": [1, 2], "timeout_ms": 5}}"#,
            "steps[0].expect_connect.timeout_ms: `within_ms` and `timeout_ms` are mutually exclusive (the window's max is the wait)",
        ),
    ];
    for (steps, want) in cases {
        let e = errors(&server(steps), CLIENT_FAMILY);
        assert!(
            e.len() == 1 && e[0].ends_with(want) && e[0].starts_with(CLIENT_FAMILY),
            "{steps}:\n  expected …{want}\n  got {e:?}"
        );
    }
}

#[test]
fn answers_requests_and_frames_are_checked() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"accept": {"body": "x"}}"#,
            "steps[1].accept.body: a 101 answer has no body: what follows it is WebSocket data (use `frames`, or a `send_raw` step)",
        ),
        (
            r#"{"accept": {"status": 404, "frames": [{"text": "x"}]}}"#,
            "steps[1].accept.frames: frames follow a 101 answer only, but the status is 404",
        ),
        (
            r#"{"accept": {"frames": [{"text": "x", "conn": "c1"}]}}"#,
            "steps[1].accept.frames[0].conn: a frame of `accept` goes on the accepted connection: leave `conn` out",
        ),
        (
            r#"{"accept": {"status": 99}}"#,
            "steps[1].accept.status: must be in 100..=599, got 99",
        ),
        (
            r#"{"accept": "never"}"#,
            "steps[1].accept: invalid value: string \"never\", expected an answer object (e.g. {} for a correct 101) or \"none\"",
        ),
        (
            r#"{"expect_request": {"order": "exact", "headers": {"Origin": null}}}"#,
            "steps[1].expect_request.order: \"exact\" allows no other header than the listed ones, so a null (absent) header says nothing: leave it out",
        ),
        (
            r#"{"expect_request": {"headers": {"Host": "a", "host": "b"}}}"#,
            "steps[1].expect_request.headers.host: duplicate header \"host\" (same as \"Host\": names are case-insensitive)",
        ),
        (
            r#"{"expect_frame": {"masked": false, "fresh_mask": true}}"#,
            "steps[1].expect_frame.fresh_mask: `fresh_mask` needs a masked frame, but `masked` is false",
        ),
    ];
    for (step, want) in cases {
        let steps = format!("{{\"expect_connect\": {{}}}},\n{step}");
        let e = errors(&server(&steps), CLIENT_FAMILY);
        assert!(
            e.len() == 1 && e[0].ends_with(want) && e[0].starts_with(CLIENT_FAMILY),
            "{step}:\n  expected …{want}\n  got {e:?}"
        );
    }
    // Client role: a server's frames are not masked, so there is no key to
    // be fresh.
    let e = errors(
        r#"{"version": 1, "steps": [{"open": {}}, {"expect_frame": {"fresh_mask": true}}]}"#,
        "t.json",
    );
    assert_eq!(
        e,
        [
            "t.json:1:72: steps[1].expect_frame.fresh_mask: `fresh_mask` checks a client's masking keys: it is for server-role scenarios (a server does not mask)"
        ]
    );
}

#[test]
fn the_schema_describes_the_role_and_the_server_steps() {
    let schema = json_schema();
    let text = schema.to_string();
    for word in [
        "\"role\"",
        "expect_connect",
        "expect_request",
        "\"accept\"",
        "\"drop\"",
        "\"silence\"",
        "within_ms",
        "fresh_key",
        "fresh_mask",
    ] {
        assert!(text.contains(word), "{word} is not in the schema");
    }
}
