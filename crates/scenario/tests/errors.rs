//! Every failing fixture produces exactly the expected errors.
//!
//! Each `tests/fixtures/err_*.json` is loaded through `load_file` and its
//! errors are compared, in order, with the `file:line:column: field: message`
//! lines below. Serde (syntax/type) errors carry serde_json's position, the
//! end of the offending token; validation errors point at the start of the
//! offending value.

use std::path::Path;

use esp_ws_scenario::{ScenarioError, load_file, parse_str};

/// (fixture, expected errors in order).
const CASES: &[(&str, &[&str])] = &[
    (
        "err_bad_hex.json",
        &[
            r#"tests/fixtures/err_bad_hex.json:5:42: steps[1].send.hex: invalid hex: odd number of hex digits (5); each byte takes two"#,
            r#"tests/fixtures/err_bad_hex.json:6:26: steps[2].send_raw.hex: invalid hex: 'z' at character 1 is not a hex digit"#,
        ],
    ),
    (
        "err_bad_opcode.json",
        &[
            r#"tests/fixtures/err_bad_opcode.json:5:25: steps[1].send.opcode: unknown opcode "txt", expected continuation, text, binary, close, ping, pong or 0..=15"#,
            r#"tests/fixtures/err_bad_opcode.json:6:33: steps[2].expect_frame.opcode: opcode must be in 0..=15, got 16"#,
        ],
    ),
    (
        "err_bad_regex.json",
        &[
            r#"tests/fixtures/err_bad_regex.json:5:32: steps[1].expect_frame.regex: invalid regex: unclosed group (pattern character 4)"#,
        ],
    ),
    (
        "err_empty_steps.json",
        &[r#"tests/fixtures/err_empty_steps.json:3:12: steps: must contain at least one step"#],
    ),
    (
        "err_exclusive.json",
        &[
            r#"tests/fixtures/err_exclusive.json:5:36: steps[1].send.text: `hex`, `text` and `fill` are mutually exclusive (a frame has one payload)"#,
            r#"tests/fixtures/err_exclusive.json:6:45: steps[2].expect_frame.regex: `text` and `regex` are mutually exclusive (use one payload matcher; `len` combines with any)"#,
        ],
    ),
    (
        "err_matcher_number.json",
        &[
            r#"tests/fixtures/err_matcher_number.json:4:66: steps[0].open.response.headers.Upgrade: invalid type: integer `5`, expected a matcher: a string (exact match), {"regex": "…"} or {"prefix": "…"}"#,
        ],
    ),
    (
        "err_matcher_object.json",
        &[
            r#"tests/fixtures/err_matcher_object.json:5:61: steps[1].expect_close.reason: a matcher object has exactly one key, `regex` or `prefix`, not both"#,
        ],
    ),
    (
        "err_misc.json",
        &[
            r#"tests/fixtures/err_misc.json:3:11: name: must not be empty (omit it to use the file name)"#,
            r#"tests/fixtures/err_misc.json:4:15: firmware: must not be empty (omit it to apply to every firmware profile)"#,
            r#"tests/fixtures/err_misc.json:5:27: normalize[0].regex: invalid regex: unclosed character class (pattern character 1)"#,
            r#"tests/fixtures/err_misc.json:7:47: steps[0].open.write.chunks: `chunk` and `chunks` are mutually exclusive"#,
            r#"tests/fixtures/err_misc.json:8:18: steps[1].send_raw: send_raw needs the bytes to send: `hex` or `text`"#,
            r#"tests/fixtures/err_misc.json:9:39: steps[2].send_raw.write.chunks: must not be empty (omit `write` to send everything at once)"#,
            r#"tests/fixtures/err_misc.json:9:55: steps[2].send_raw.write.delay_ms: must be in 0..=600000, got 700000"#,
            r#"tests/fixtures/err_misc.json:10:32: steps[3].expect_close.empty: `empty: true` cannot be combined with `code` or `reason` (an empty CLOSE has neither)"#,
            r#"tests/fixtures/err_misc.json:11:45: steps[4].expect_frame.len: `len` 3 contradicts `hex`, which is 2 bytes long"#,
            r#"tests/fixtures/err_misc.json:12:45: steps[5].expect_log.for_ms: `for_ms` is only for `not: true` (use `timeout_ms` to bound the wait for a line)"#,
            r#"tests/fixtures/err_misc.json:13:62: steps[6].expect_log.timeout_ms: `timeout_ms` has no effect with `not: true` (use `for_ms` to watch for a while)"#,
        ],
    ),
    (
        "err_missing_field.json",
        &[r#"tests/fixtures/err_missing_field.json:3:1: (root): missing field `version`"#],
    ),
    (
        "err_open_fields.json",
        &[
            r#"tests/fixtures/err_open_fields.json:4:56: steps[0].open.path: `path` cannot be combined with `raw` (a raw request is sent exactly as given)"#,
            r#"tests/fixtures/err_open_fields.json:4:73: steps[0].open.headers: `headers` cannot be combined with `raw` (a raw request is sent exactly as given)"#,
            r#"tests/fixtures/err_open_fields.json:5:59: steps[1].open.headers.x-a: duplicate header "x-a" (same as "X-A": names are case-insensitive)"#,
            r#"tests/fixtures/err_open_fields.json:5:69: steps[1].open.headers[""]: invalid header name "" (must be non-empty, without `:` or line breaks)"#,
            r#"tests/fixtures/err_open_fields.json:5:81: steps[1].open.headers.X-a: duplicate header "X-a" (same as "X-A": names are case-insensitive)"#,
            r#"tests/fixtures/err_open_fields.json:5:110: steps[1].open.response.status: must be in 100..=599, got 99"#,
            r#"tests/fixtures/err_open_fields.json:5:143: steps[1].open.response.headers.Foo.regex: invalid regex: unclosed group (pattern character 1)"#,
            r#"tests/fixtures/err_open_fields.json:6:51: steps[2].expect_response.response: "later" is only valid in an `open` step; expect_response checks the response now (use an object, "closed" or "none")"#,
        ],
    ),
    (
        "err_response_number.json",
        &[
            r#"tests/fixtures/err_response_number.json:4:29: steps[0].open.response: invalid type: integer `101`, expected a response expectation object (e.g. {"status": 101}) or one of "closed", "none", "later""#,
        ],
    ),
    (
        "err_send_fields.json",
        &[
            r#"tests/fixtures/err_send_fields.json:5:55: steps[1].send.mask_key: `mask_key` requires `mask: true`"#,
            r#"tests/fixtures/err_send_fields.json:6:27: steps[2].send.mask_key: must be exactly 4 bytes (8 hex digits), got 3 bytes"#,
            r#"tests/fixtures/err_send_fields.json:7:23: steps[3].send.code: `code` is only for close frames (opcode close), but the opcode is text"#,
            r#"tests/fixtures/err_send_fields.json:8:44: steps[4].send.reason: `reason` requires `code` (a close reason follows the status code)"#,
            r#"tests/fixtures/err_send_fields.json:9:32: steps[5].send.fill.byte: must be a number 0..=255 or one ASCII character, got "é""#,
            r#"tests/fixtures/err_send_fields.json:9:55: steps[5].send.rsv: must be in 0..=7, got 8"#,
            r#"tests/fixtures/err_send_fields.json:10:32: steps[6].send.fill.byte: must be in 0..=255, got 256"#,
            r#"tests/fixtures/err_send_fields.json:10:69: steps[6].send.length_encoding: length_encoding "7" holds at most 125, but the declared length is 200"#,
        ],
    ),
    (
        "err_syntax.json",
        &[r#"tests/fixtures/err_syntax.json:5:3: steps: trailing comma"#],
    ),
    (
        "err_timeout_range.json",
        &[
            r#"tests/fixtures/err_timeout_range.json:3:17: timeout_ms: must be in 1..=600000, got 0"#,
            r#"tests/fixtures/err_timeout_range.json:5:29: steps[0].open.timeout_ms: must be in 1..=600000, got 600001"#,
            r#"tests/fixtures/err_timeout_range.json:6:36: steps[1].expect_no_frame.for_ms: must be in 1..=600000, got 0"#,
            r#"tests/fixtures/err_timeout_range.json:7:22: steps[2].sleep.ms: must be in 0..=600000, got -5"#,
        ],
    ),
    (
        "err_trailing.json",
        &[r#"tests/fixtures/err_trailing.json:2:1: (root): trailing characters"#],
    ),
    (
        "err_two_keys.json",
        &[
            r#"tests/fixtures/err_two_keys.json:4:26: steps[0]: a step has exactly one key, its kind, but `comment` follows `open` (put `comment` inside the step body)"#,
        ],
    ),
    (
        "err_undefined_conn.json",
        &[
            r#"tests/fixtures/err_undefined_conn.json:4:14: steps[0].send.conn: connection "c" is not opened by an earlier `open` step (`conn` defaults to "c")"#,
            r#"tests/fixtures/err_undefined_conn.json:6:31: steps[2].expect_frame.conn: connection "b" is not opened by an earlier `open` step"#,
        ],
    ),
    (
        "err_undefined_var.json",
        &[
            r#"tests/fixtures/err_undefined_var.json:4:23: steps[0].open.path: undefined variable `${sid}`: variables come from named groups (?P<name>…) of earlier expect_log/expect_frame regexes; none is defined yet"#,
            r#"tests/fixtures/err_undefined_var.json:6:23: steps[2].send.text: undefined variable `${nope}`: variables come from named groups (?P<name>…) of earlier expect_log/expect_frame regexes; defined so far: sid"#,
            r#"tests/fixtures/err_undefined_var.json:8:32: steps[4].expect_frame.regex: undefined variable `${later}`: variables come from named groups (?P<name>…) of earlier expect_log/expect_frame regexes; defined so far: sid"#,
            r#"tests/fixtures/err_undefined_var.json:9:33: steps[5].expect_frame.prefix: unterminated `${` in "${sid" (write `$$` for a literal `$`)"#,
        ],
    ),
    (
        "err_unicode.json",
        &[
            r#"tests/fixtures/err_unicode.json:6:40: steps[1].send.opcode: unknown opcode "テキスト", expected continuation, text, binary, close, ping, pong or 0..=15"#,
            r#"tests/fixtures/err_unicode.json:6:80: steps[2].send.rsv: must be in 0..=7, got 9"#,
        ],
    ),
    (
        "err_unicode_serde.json",
        &[
            r#"tests/fixtures/err_unicode_serde.json:1:92: steps[1].send.fin: invalid type: integer `1`, expected a boolean"#,
        ],
    ),
    (
        "err_unknown_field.json",
        &[
            r#"tests/fixtures/err_unknown_field.json:5:19: steps[1].send.txt: unknown field `txt`, expected one of `comment`, `conn`, `opcode`, `text`, `hex`, `fill`, `code`, `reason`, `fin`, `rsv`, `mask`, `mask_key`, `length`, `length_encoding`, `write`"#,
        ],
    ),
    (
        "err_unknown_step.json",
        &[
            r#"tests/fixtures/err_unknown_step.json:5:11: steps[1]: unknown variant `sned`, expected one of `open`, `expect_response`, `expect_connect`, `expect_request`, `accept`, `send`, `send_raw`, `expect_frame`, `expect_close`, `expect_no_frame`, `expect_closed`, `close`, `drop`, `silence`, `expect_log`, `sleep`"#,
        ],
    ),
    (
        "err_unknown_top_field.json",
        &[
            r#"tests/fixtures/err_unknown_top_field.json:3:11: timeout: unknown field `timeout`, expected one of `$schema`, `version`, `role`, `name`, `description`, `timeout_ms`, `log_level`, `firmware`, `normalize`, `needs_exact_segments`, `known_bugs`, `steps`"#,
        ],
    ),
    (
        "err_known_bug_profile.json",
        &[
            r#"tests/fixtures/err_known_bug_profile.json:4:31: known_bugs[0].firmware: "v5.5.2" is not in the scenario's `firmware` list, so it would never run there"#,
        ],
    ),
    (
        "err_name_escapes.json",
        &[
            r#"tests/fixtures/err_name_escapes.json:3:11: name: "../../elsewhere/victim" contains a path separator: it names the snapshot and artifact files, so it must be plain (letters, digits, `-`, `_`, `.`)"#,
        ],
    ),
    (
        "err_name_absolute.json",
        &[
            r#"tests/fixtures/err_name_absolute.json:1:24: name: "/tmp/victim" contains a path separator: it names the snapshot and artifact files, so it must be plain (letters, digits, `-`, `_`, `.`)"#,
        ],
    ),
    (
        "err_unknown_firmware.json",
        &[
            r#"tests/fixtures/err_unknown_firmware.json:3:26: firmware[1]: unknown firmware profile "v5.5.6" (did you mean "v5.5.5"?); known: v5.5.5, v4.2, v4.4, v5.5.2, master, master-strict, nodemcu-pr3514, nodemcu-pr3514-probe, nodemcu-pr3514-stop, netconn-hx, esp-websocket-client-1.8.0, nodemcu-websocket-client"#,
            r#"tests/fixtures/err_unknown_firmware.json:4:31: known_bugs[0].firmware: "v9" is not in the scenario's `firmware` list, so it would never run there"#,
            r#"tests/fixtures/err_unknown_firmware.json:4:42: known_bugs[0].firmware[1]: unknown firmware profile "v9"; known: v5.5.5, v4.2, v4.4, v5.5.2, master, master-strict, nodemcu-pr3514, nodemcu-pr3514-probe, nodemcu-pr3514-stop, netconn-hx, esp-websocket-client-1.8.0, nodemcu-websocket-client"#,
        ],
    ),
    (
        "err_version.json",
        &[r#"tests/fixtures/err_version.json:2:14: version: unsupported version 2, expected 1"#],
    ),
    (
        "err_wrong_type.json",
        &[
            r#"tests/fixtures/err_wrong_type.json:5:40: steps[1].send.fin: invalid type: string "yes", expected a boolean"#,
        ],
    ),
];

fn errors_of(fixture: &str) -> Vec<String> {
    let path = format!("tests/fixtures/{fixture}");
    match load_file(Path::new(&path)) {
        Ok(_) => panic!("{path} parsed, but it should fail"),
        Err(errors) => errors.iter().map(ScenarioError::to_string).collect(),
    }
}

#[test]
fn each_failing_fixture_reports_exactly_its_errors() {
    let mut failures = Vec::new();
    for (fixture, expected) in CASES {
        let got = errors_of(fixture);
        if got != *expected {
            failures.push(format!(
                "{fixture}:\n  expected:\n    {}\n  got:\n    {}",
                expected.join("\n    "),
                got.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_failing_fixture_has_expectations() {
    let mut on_disk: Vec<String> = std::fs::read_dir("tests/fixtures")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("err_") && n.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CASES.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn error_fields_are_split_as_documented() {
    let errors = load_file(Path::new("tests/fixtures/err_bad_opcode.json")).unwrap_err();
    assert_eq!(
        errors[0],
        ScenarioError {
            file: "tests/fixtures/err_bad_opcode.json".to_owned(),
            line: 5,
            column: 25,
            field: "steps[1].send.opcode".to_owned(),
            message: "unknown opcode \"txt\", expected continuation, text, binary, close, ping, \
                      pong or 0..=15"
                .to_owned(),
        }
    );
}

#[test]
fn validation_errors_are_all_reported_sorted_by_position() {
    // Validation checks `timeout_ms` before the steps, but it is written
    // after them: sorting by position puts its error last.
    let text = "{\"version\": 3,\n \"steps\": [{\"send\": {\"rsv\": 9}}, {\"sleep\": {\"ms\": -1}}],\n \"timeout_ms\": 0}";
    let errors = parse_str(text, "t.json").unwrap_err();
    let got: Vec<String> = errors.iter().map(ScenarioError::to_string).collect();
    assert_eq!(
        got,
        [
            "t.json:1:13: version: unsupported version 3, expected 1",
            "t.json:2:21: steps[0].send.conn: connection \"c\" is not opened by an earlier `open` step (`conn` defaults to \"c\")",
            "t.json:2:29: steps[0].send.rsv: must be in 0..=7, got 9",
            "t.json:2:51: steps[1].sleep.ms: must be in 0..=600000, got -1",
            "t.json:3:16: timeout_ms: must be in 1..=600000, got 0",
        ]
    );
}

/// Mistakes written inline (one serde error each), mostly about the shape
/// of values: these messages must name the format, never a Rust type.
#[test]
fn shape_errors_name_the_format() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{"version": 1, "steps": [{"send": "hi"}]}"#,
            "p.json:1:38: steps[0].send: invalid type: string \"hi\", expected a `send` step body (an object)",
        ),
        (
            r#"{"version": 1, "steps": [{"open": {"write": 5}}]}"#,
            "p.json:1:45: steps[0].open.write: invalid type: integer `5`, expected write options (an object)",
        ),
        (
            // Arrays are not objects, even though serde's derives would
            // take one as the fields in order.
            r#"{"version": 1, "steps": [{"open": ["c"]}]}"#,
            "p.json:1:34: steps[0].open: invalid type: sequence, expected an `open` step body (an object)",
        ),
        (
            "[1, []]",
            "p.json:1:1: (root): invalid type: sequence, expected a scenario object",
        ),
        (
            r#"{"version": 1, "steps": [5]}"#,
            "p.json:1:26: steps[0]: invalid type: integer `5`, expected a step: an object with exactly one key, the step kind",
        ),
        (
            r#"{"version": 1, "steps": [{}]}"#,
            "p.json:1:27: steps[0]: empty step, expected exactly one key, the step kind: one of `open`, `expect_response`, `expect_connect`, `expect_request`, `accept`, `send`, `send_raw`, `expect_frame`, `expect_close`, `expect_no_frame`, `expect_closed`, `close`, `drop`, `silence`, `expect_log`, `sleep`",
        ),
        (
            r#"{"version": 1, "steps": [{"comment": "x", "open": {}}]}"#,
            "p.json:1:35: steps[0]: `comment` goes inside the step body, e.g. {\"send\": {\"comment\": \"…\", …}}; a step's only key is its kind",
        ),
        (
            r#"{"version": 1, "steps": [{"open": {}, "send": {}}]}"#,
            "p.json:1:44: steps[0]: a step has exactly one key, its kind, but `send` follows `open` (write each step as its own object in `steps`)",
        ),
        (
            r#"{"version": 1, "log_level": "INFO", "steps": [{"open": {}}]}"#,
            "p.json:1:34: log_level: unknown variant `INFO`, expected one of `error`, `warn`, `info`, `debug`, `verbose`",
        ),
        (
            r#"{"version": 1, "steps": [{"open": {}}, {"expect_log": {"regex": "x", "level": "I2"}}]}"#,
            "p.json:1:82: steps[1].expect_log.level: unknown variant `I2`, expected one of `E`, `W`, `I`, `D`, `V`, `error`, `warn`, `info`, `debug`, `verbose`",
        ),
        (
            r#"{"version": 1, "steps": [{"open": {}}, {"send": {"fill": {"byte": 1}}}]}"#,
            "p.json:1:68: steps[1].send.fill: missing field `len`",
        ),
        (
            r#"{"version": 1, "steps": [{"open": {}}, {"send": {"opcode": 1.5}}]}"#,
            "p.json:1:62: steps[1].send.opcode: invalid type: floating point `1.5`, expected an opcode name (continuation, text, binary, close, ping, pong) or a number 0..=15",
        ),
        (
            r#"{"version": 1, "steps": [{"open": {}}, {"expect_close": {"reason": {}}}]}"#,
            "p.json:1:69: steps[1].expect_close.reason: a matcher object needs `regex` or `prefix` (or use a string for an exact match)",
        ),
        (
            r#"{"version": 1, "steps": [{"open": {"response": "open"}}]}"#,
            "p.json:1:53: steps[0].open.response: invalid value: string \"open\", expected a response expectation object (e.g. {\"status\": 101}) or one of \"closed\", \"none\", \"later\"",
        ),
        (
            r#"{"version": 1, "normalize": [{"regex": "a"}], "steps": [{"open": {}}]}"#,
            "p.json:1:43: normalize[0]: missing field `replace`",
        ),
    ];
    let mut failures = Vec::new();
    for (text, expected) in cases {
        let got: Vec<String> = parse_str(text, "p.json")
            .unwrap_err()
            .iter()
            .map(ScenarioError::to_string)
            .collect();
        if got != [*expected] {
            failures.push(format!(
                "{text}\n  expected: {expected}\n  got:      {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
