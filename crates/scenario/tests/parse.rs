//! Valid scenarios parse into exactly the expected model.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use esp_ws_scenario::*;
use indexmap::IndexMap;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn step(kind: StepKind, comment: Option<&str>, line: usize) -> Step {
    Step {
        kind,
        comment: comment.map(str::to_owned),
        line,
        column: 5,
    }
}

fn s(text: &str) -> String {
    text.to_owned()
}

fn default_response() -> ResponseSpec {
    ResponseSpec::Expect(ResponseExpect {
        status: 101,
        headers: IndexMap::new(),
        body: None,
        accept: true,
    })
}

fn http(path: &str) -> HttpRequest {
    HttpRequest {
        path: s(path),
        method: s("GET"),
        http_version: s("HTTP/1.1"),
        key: None,
        headers: IndexMap::new(),
        subprotocols: vec![],
    }
}

fn send(opcode: Opcode, payload: Payload) -> Send {
    Send {
        conn: s("c"),
        opcode,
        payload,
        fin: true,
        rsv: 0,
        mask: true,
        mask_key: None,
        length: None,
        length_encoding: LengthEncoding::Minimal,
        write: WriteOpts::default(),
    }
}

fn expect_frame(payload: Option<PayloadMatcher>) -> ExpectFrame {
    ExpectFrame {
        conn: s("c"),
        opcode: None,
        fin: None,
        rsv: None,
        payload,
        len: None,
        masked: None,
        fresh_mask: false,
        timeout: None,
    }
}

#[test]
fn every_step_kind_parses_to_the_expected_model() {
    let scenario = load_file(Path::new("tests/fixtures/ok_all_steps.json")).unwrap();

    let mut open_headers = IndexMap::new();
    open_headers.insert(s("Origin"), Some(s("http://esp32.local")));
    open_headers.insert(s("Sec-WebSocket-Version"), None);
    let mut response_headers = IndexMap::new();
    response_headers.insert(s("Sec-WebSocket-Protocol"), Some(Matcher::Exact(s("chat"))));
    response_headers.insert(s("X-Debug"), None);
    response_headers.insert(s("server"), Some(Matcher::Prefix(s("esp"))));

    let expected_steps = vec![
        step(
            StepKind::Open(Open {
                conn: s("c"),
                request: Request::Http(HttpRequest {
                    path: s("/auth?token=valid"),
                    key: Some(s("dGhlIHNhbXBsZSBub25jZQ==")),
                    headers: open_headers,
                    subprotocols: vec![s("chat"), s("json")],
                    ..http("")
                }),
                write: WriteOpts {
                    chunks: Chunking::Every(7),
                    delay: ms(5),
                },
                response: ResponseSpec::Expect(ResponseExpect {
                    status: 101,
                    headers: response_headers,
                    body: None,
                    accept: true,
                }),
                timeout: Some(ms(3000)),
            }),
            Some("handshake"),
            11,
        ),
        step(
            StepKind::Open(Open {
                conn: s("raw"),
                request: Request::Raw(b"GET /ws HTTP/1.1\r\n\r\n".to_vec()),
                write: WriteOpts::default(),
                response: ResponseSpec::Later,
                timeout: None,
            }),
            None,
            25,
        ),
        step(
            StepKind::ExpectResponse(ExpectResponse {
                conn: s("raw"),
                response: ResponseSpec::Expect(ResponseExpect {
                    status: 400,
                    headers: IndexMap::new(),
                    body: Some(Matcher::Regex(s("(?i)bad request"))),
                    // Only a 101 is checked for Sec-WebSocket-Accept by default.
                    accept: false,
                }),
                timeout: Some(ms(500)),
            }),
            None,
            26,
        ),
        step(
            StepKind::Open(Open {
                conn: s("hexed"),
                request: Request::Raw(b"GET".to_vec()),
                write: WriteOpts::default(),
                response: ResponseSpec::Closed,
                timeout: None,
            }),
            None,
            27,
        ),
        step(
            StepKind::Open(Open {
                conn: s("silent"),
                request: Request::Http(HttpRequest {
                    method: s("POST"),
                    http_version: s("HTTP/1.0"),
                    ..http("/ws")
                }),
                write: WriteOpts::default(),
                response: ResponseSpec::None,
                timeout: None,
            }),
            None,
            28,
        ),
        step(
            StepKind::Send(Send {
                write: WriteOpts {
                    chunks: Chunking::Sizes(vec![1, 2]),
                    delay: Duration::ZERO,
                },
                ..send(Opcode::TEXT, Payload::Text(s("hello")))
            }),
            None,
            29,
        ),
        step(
            StepKind::ExpectFrame(ExpectFrame {
                opcode: Some(Opcode::TEXT),
                fin: Some(true),
                rsv: Some(0),
                timeout: Some(ms(100)),
                ..expect_frame(Some(PayloadMatcher::Regex(s(r"id=(?P<id>\d+)"))))
            }),
            None,
            30,
        ),
        step(
            StepKind::Send(Send {
                fin: false,
                rsv: 4,
                mask_key: Some([1, 2, 3, 4]),
                length: Some(9),
                length_encoding: LengthEncoding::Extended64,
                ..send(Opcode::BINARY, Payload::Bytes(vec![0xde, 0xad, 0xbe, 0xef]))
            }),
            None,
            31,
        ),
        step(
            StepKind::Send(Send {
                mask: false,
                ..send(Opcode::CONTINUATION, Payload::Fill { byte: b'A', len: 3 })
            }),
            None,
            32,
        ),
        step(
            StepKind::Send(send(Opcode::PING, Payload::Fill { byte: 255, len: 2 })),
            None,
            33,
        ),
        step(
            StepKind::Send(send(
                Opcode::CLOSE,
                Payload::Close {
                    code: 1000,
                    reason: s("bye"),
                },
            )),
            None,
            34,
        ),
        step(
            StepKind::Send(send(Opcode(11), Payload::Empty)),
            Some("reserved control opcode"),
            35,
        ),
        step(
            StepKind::SendRaw(SendRaw {
                conn: s("c"),
                payload: Payload::Bytes(vec![0x8a, 0x00]),
                write: WriteOpts::default(),
            }),
            None,
            36,
        ),
        step(
            StepKind::SendRaw(SendRaw {
                conn: s("c"),
                payload: Payload::Text(s("id ${id} $$")),
                write: WriteOpts {
                    chunks: Chunking::Every(1),
                    delay: Duration::ZERO,
                },
            }),
            None,
            37,
        ),
        step(
            StepKind::ExpectFrame(ExpectFrame {
                opcode: Some(Opcode::BINARY),
                len: Some(2),
                ..expect_frame(Some(PayloadMatcher::Bytes(vec![1, 2])))
            }),
            None,
            38,
        ),
        step(
            StepKind::ExpectFrame(expect_frame(Some(PayloadMatcher::Text(s("echo ${id}"))))),
            None,
            39,
        ),
        step(
            StepKind::ExpectFrame(ExpectFrame {
                len: Some(10),
                ..expect_frame(Some(PayloadMatcher::Prefix(s("{\"id\":"))))
            }),
            None,
            40,
        ),
        step(
            StepKind::ExpectClose(ExpectClose {
                conn: s("c"),
                code: Some(1000),
                reason: Some(Matcher::Regex(s("^bye ${id}$"))),
                empty: false,
                timeout: Some(ms(50)),
            }),
            None,
            41,
        ),
        step(
            StepKind::ExpectClose(ExpectClose {
                conn: s("silent"),
                code: None,
                reason: None,
                empty: true,
                timeout: None,
            }),
            None,
            42,
        ),
        step(
            StepKind::ExpectNoFrame(ExpectNoFrame {
                conn: s("c"),
                duration: ms(200),
            }),
            None,
            43,
        ),
        step(
            StepKind::ExpectClosed(ExpectClosed {
                conn: s("c"),
                how: ClosedHow::Fin,
                timeout: Some(ms(400)),
            }),
            None,
            44,
        ),
        step(
            StepKind::ExpectClosed(ExpectClosed {
                conn: s("raw"),
                how: ClosedHow::Any,
                timeout: None,
            }),
            None,
            45,
        ),
        step(
            StepKind::Close(Close {
                conn: s("silent"),
                how: CloseHow::Rst,
            }),
            None,
            46,
        ),
        step(
            StepKind::Close(Close {
                conn: s("c"),
                how: CloseHow::Fin,
            }),
            None,
            47,
        ),
        step(
            StepKind::ExpectLog(ExpectLog {
                regex: s(r"session (?P<sid>\w+) opened"),
                level: Some(Level::Info),
                tag: Some(s("httpd_ws")),
                timeout: Some(ms(250)),
                not: false,
                duration: Duration::ZERO,
            }),
            None,
            48,
        ),
        step(
            StepKind::ExpectLog(ExpectLog {
                regex: s("error ${sid}"),
                level: Some(Level::Error),
                tag: None,
                timeout: None,
                not: true,
                duration: ms(100),
            }),
            None,
            49,
        ),
        step(
            StepKind::ExpectLog(ExpectLog {
                regex: s("(?P<ignored>x)"),
                level: None,
                tag: None,
                timeout: None,
                not: true,
                duration: Duration::ZERO,
            }),
            None,
            50,
        ),
        step(
            StepKind::Sleep(Sleep {
                duration: Duration::ZERO,
            }),
            Some("yield"),
            51,
        ),
    ];

    let expected = Scenario {
        name: s("all-steps"),
        description: Some(s("Every step kind once")),
        role: Role::Client,
        timeout: ms(1500),
        log_level: Level::Debug,
        family: None,
        firmware: Some(vec![s("v5.5.5"), s("v5.5.2")]),
        known_bugs: vec![KnownBug {
            firmware: vec![s("v5.5.2")],
            issue: s("esp-idf#18227"),
            note: Some(s("PONG bytes are left unread")),
        }],
        normalize: vec![NormalizeRule {
            regex: s(r"token=\w+"),
            replace: s("token=[T]"),
        }],
        needs_exact_segments: true,
        steps: expected_steps,
    };

    // Field by field first, so a failure names the step that differs.
    assert_eq!(scenario.name, expected.name);
    assert_eq!(scenario.description, expected.description);
    assert_eq!(scenario.timeout, expected.timeout);
    assert_eq!(scenario.known_bugs, expected.known_bugs);
    assert!(scenario.needs_exact_segments);
    assert!(scenario.expects_log());
    assert_eq!(
        scenario.known_bug("v5.5.2").map(|b| b.issue.as_str()),
        Some("esp-idf#18227")
    );
    assert!(scenario.known_bug("v5.5.5").is_none());
    assert_eq!(scenario.log_level, expected.log_level);
    assert_eq!(scenario.firmware, expected.firmware);
    assert_eq!(scenario.normalize, expected.normalize);
    assert_eq!(scenario.steps.len(), expected.steps.len());
    for (i, (got, want)) in scenario.steps.iter().zip(&expected.steps).enumerate() {
        assert_eq!(got, want, "step {i}");
    }
    assert_eq!(scenario, expected);

    // Every kind of the client role is represented, in the documented
    // order of names (tests/server_role.rs has the server role's).
    let mut kinds: Vec<&str> = scenario.steps.iter().map(|s| s.kind.name()).collect();
    kinds.sort_by_key(|k| STEP_KINDS.iter().position(|n| n == k));
    kinds.dedup();
    let client_kinds: Vec<&str> = STEP_KINDS
        .iter()
        .copied()
        .filter(|k| !SERVER_STEP_KINDS.contains(k))
        .collect();
    assert_eq!(kinds, client_kinds);
}

#[test]
fn defaults_are_applied() {
    let scenario = parse_str(
        r#"{"version": 1, "steps": [{"open": {}}, {"send": {}}, {"expect_log": {"regex": "x"}}]}"#,
        "scenarios/echo-text.json",
    )
    .unwrap();
    assert_eq!(scenario.name, "echo-text");
    assert_eq!(scenario.description, None);
    assert_eq!(scenario.timeout, ms(2000));
    assert_eq!(scenario.log_level, Level::Info);
    assert_eq!(scenario.firmware, None);
    assert!(scenario.normalize.is_empty());
    assert_eq!(
        scenario.steps[0].kind,
        StepKind::Open(Open {
            conn: s("c"),
            request: Request::Http(http("/ws")),
            write: WriteOpts::default(),
            response: default_response(),
            timeout: None,
        })
    );
    assert_eq!(
        scenario.steps[1].kind,
        StepKind::Send(send(Opcode::TEXT, Payload::Empty))
    );
    assert_eq!(scenario.steps[1].line, 1);
    assert_eq!(scenario.steps[1].column, 40);
    assert_eq!(scenario.step_timeout(&scenario.steps[0]), ms(2000));
}

#[test]
fn step_accessors() {
    let scenario = load_file(Path::new("tests/fixtures/ok_all_steps.json")).unwrap();
    let conns: Vec<Option<&str>> = scenario.steps.iter().map(|s| s.kind.conn()).collect();
    assert_eq!(conns[1], Some("raw"));
    assert_eq!(conns[24], None); // expect_log
    assert_eq!(conns[27], None); // sleep
    assert_eq!(scenario.step_timeout(&scenario.steps[0]), ms(3000));
    assert_eq!(scenario.step_timeout(&scenario.steps[1]), ms(1500));
}

#[test]
fn open_request_headers_follow_the_documented_rules() {
    let scenario = load_file(Path::new("tests/fixtures/ok_all_steps.json")).unwrap();
    let StepKind::Open(open) = &scenario.steps[0].kind else {
        panic!("step 0 is an open");
    };
    let Request::Http(request) = &open.request else {
        panic!("step 0 builds its request");
    };
    let headers = request
        .header_list("esp32:80", "KEY", &HashMap::new())
        .unwrap();
    let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Host",
            "Upgrade",
            "Connection",
            "Sec-WebSocket-Key",
            "Sec-WebSocket-Protocol",
            "Origin"
        ]
    );
}

#[test]
fn variables_substitute_at_run_time() {
    let vars = HashMap::from([(s("id"), s("7"))]);
    assert_eq!(substitute("id ${id} $$", &vars).unwrap(), "id 7 $");
    assert_eq!(substitute_regex("^bye ${id}$", &vars).unwrap(), "^bye 7$");
}

#[test]
fn case_insensitive_opcodes_and_level_letters() {
    let scenario = parse_str(
        r#"{"version": 1, "steps": [
            {"open": {}},
            {"send": {"opcode": "PiNg"}},
            {"expect_frame": {"opcode": "Pong"}},
            {"expect_log": {"regex": "a", "level": "V"}},
            {"expect_log": {"regex": "b", "level": "W"}},
            {"expect_log": {"regex": "c", "level": "D"}},
            {"expect_log": {"regex": "d", "level": "E"}}
        ]}"#,
        "x.json",
    )
    .unwrap();
    let levels: Vec<Option<Level>> = scenario
        .steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::ExpectLog(l) => Some(l.level),
            _ => None,
        })
        .collect();
    assert_eq!(
        levels,
        [
            Some(Level::Verbose),
            Some(Level::Warn),
            Some(Level::Debug),
            Some(Level::Error)
        ]
    );
    assert!(matches!(&scenario.steps[1].kind, StepKind::Send(s) if s.opcode == Opcode::PING));
    assert!(
        matches!(&scenario.steps[2].kind, StepKind::ExpectFrame(f) if f.opcode == Some(Opcode::PONG))
    );
}

#[test]
fn connections_and_variables_flow_forward() {
    // A variable captured on one connection is usable on another, and a
    // named connection opened late is usable after its open.
    let scenario = parse_str(
        r#"{"version": 1, "steps": [
            {"open": {"conn": "a"}},
            {"expect_frame": {"conn": "a", "regex": "(?<tok>\\w+)"}},
            {"open": {"conn": "b", "path": "/ws?t=${tok}", "headers": {"X-T": "${tok}"}}},
            {"send": {"conn": "b", "text": "${tok}"}},
            {"expect_frame": {"conn": "b", "regex": "^${tok}$", "len": 3}}
        ]}"#,
        "x.json",
    );
    assert!(scenario.is_ok(), "{scenario:?}");
}

#[test]
fn validation_waits_until_the_structure_is_right() {
    let errors = parse_str(r#"{"version": "1", "steps": [{"send": {}}]}"#, "x.json").unwrap_err();
    // Only the type error: the undefined connection is never reached.
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        "x.json:1:15: version: invalid type: string \"1\", expected i64"
    );
}

#[test]
fn unreadable_file_is_one_error_at_line_zero() {
    let errors = load_file(Path::new("tests/fixtures/does-not-exist.json")).unwrap_err();
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    assert_eq!(
        (e.file.as_str(), e.line, e.column, e.field.as_str()),
        ("tests/fixtures/does-not-exist.json", 0, 0, "(root)")
    );
    assert!(
        e.message.starts_with("cannot read the scenario file: "),
        "{}",
        e.message
    );
}

#[test]
fn the_family_comes_from_the_folder_and_decides_where_a_scenario_applies() {
    let text = r#"{"version": 1, "steps": [{"open": {}}]}"#;
    let v555 = esp_ws_catalogue::find("v5.5.5").unwrap();
    let grouped = esp_ws_scenario::parse_str(text, "scenarios/esp-http-server/x.json").unwrap();
    assert_eq!(grouped.family.as_deref(), Some("esp-http-server"));
    assert!(grouped.applies_to(v555));
    // Outside a family folder (a firmware repository's own scenarios/), a
    // scenario without a list applies to whatever firmware is run.
    let loose = esp_ws_scenario::parse_str(text, "scenarios/x.json").unwrap();
    assert_eq!(loose.family, None);
    assert!(loose.applies_to(v555));
    let listed = esp_ws_scenario::parse_str(
        r#"{"version": 1, "firmware": ["v4.2"], "steps": [{"open": {}}]}"#,
        "x.json",
    )
    .unwrap();
    assert!(!listed.applies_to(v555));
    assert_eq!(
        listed.why_not_for(v555).as_deref(),
        Some("only for firmware v4.2")
    );
}

#[test]
fn a_file_name_that_cannot_name_a_snapshot_needs_a_plain_name() {
    let text = r#"{"version": 1, "steps": [{"open": {}}]}"#;
    let errors = esp_ws_scenario::parse_str(text, "dir/my scenario.json").unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .message
            .starts_with("the file name gives the scenario the name \"my scenario\", which contains a character other than"),
        "{}",
        errors[0]
    );
    let named = r#"{"version": 1, "name": "my-scenario_1.2", "steps": [{"open": {}}]}"#;
    assert!(esp_ws_scenario::parse_str(named, "dir/my scenario.json").is_ok());
}

#[test]
fn every_step_with_a_structural_error_is_reported_with_its_place() {
    let text = "{\n  \"version\": 1,\n  \"timeout\": 5,\n  \"steps\": [\n    {\"open\": {}},\n    {\"sned\": {}},\n    {\"send\": {\"fin\": \"yes\"}},\n    {\"sleep\": {\"ms\": 1}},\n    {\"expect_frame\": {\"opcode\": \"text\", \"txt\": \"hi\"}}\n  ]\n}\n";
    let errors: Vec<String> = parse_str(text, "x.json")
        .unwrap_err()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(
        errors[0].starts_with("x.json:3:11: timeout: unknown field `timeout`"),
        "{errors:#?}"
    );
    assert!(
        errors[1].starts_with("x.json:6:11: steps[1]: unknown variant `sned`"),
        "{errors:#?}"
    );
    assert!(
        errors[2].starts_with(
            "x.json:7:26: steps[2].send.fin: invalid type: string \"yes\", expected a boolean"
        ),
        "{errors:#?}"
    );
    assert!(
        errors[3].starts_with("x.json:9:45: steps[4].expect_frame.txt: unknown field `txt`"),
        "{errors:#?}"
    );
}
