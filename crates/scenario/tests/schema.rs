//! The JSON Schema accepts every scenario the loader accepts, and rejects
//! the mistakes it can express.

use std::path::Path;

use esp_ws_scenario::{json_schema, parse_str};
use serde_json::{Value, json};

fn validator() -> jsonschema::Validator {
    // `validator_for` also checks the schema against the draft 2020-12 meta-schema.
    jsonschema::validator_for(&json_schema()).expect("the schema is a valid JSON Schema")
}

fn fixture(name: &str) -> (String, Value) {
    let text = std::fs::read_to_string(Path::new("tests/fixtures").join(name)).unwrap();
    let value = serde_json::from_str(&text).unwrap();
    (text, value)
}

fn fixture_names(prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("tests/fixtures")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

fn schema_errors(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn every_valid_fixture_validates() {
    let validator = validator();
    let names = fixture_names("ok_");
    assert!(names.len() >= 2, "{names:?}");
    for name in names {
        let (text, value) = fixture(&name);
        assert!(parse_str(&text, &name).is_ok(), "{name} must parse");
        let errors = schema_errors(&validator, &value);
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
}

/// Scenarios the loader accepts that use the string-or-object and
/// number-or-name forms in every variant, which fixtures cover only in part.
#[test]
fn accepted_variants_validate() {
    let validator = validator();
    let cases = [
        json!({"version": 1, "steps": [{"open": {"response": "closed"}}]}),
        json!({"version": 1, "steps": [{"open": {"response": "none"}}]}),
        json!({"version": 1, "steps": [
            {"open": {"response": "later"}},
            {"expect_response": {"response": {"headers": {"a": "x", "b": {"regex": "y"}, "c": {"prefix": "z"}, "d": null}, "body": "ok"}}}
        ]}),
        json!({"version": 1, "log_level": "verbose", "timeout_ms": 600000, "steps": [
            {"open": {}},
            {"send": {"opcode": "CONTINUATION"}},
            {"send": {"opcode": 15, "fill": {"byte": 0, "len": 0}, "length_encoding": "16", "length": 65535}},
            {"send": {"opcode": "Close", "code": 0, "reason": ""}},
            {"send": {"hex": "", "length_encoding": "7", "mask_key": " 0a 0B 0c 0D "}},
            {"send_raw": {"hex": "0\n0"}},
            {"expect_close": {"reason": "bye", "code": 65535}},
            {"expect_close": {"reason": {"prefix": "b"}}},
            {"expect_closed": {"how": "rst"}},
            {"expect_closed": {"how": "any"}},
            {"close": {"how": "fin"}},
            {"expect_log": {"regex": "x", "level": "V", "not": false}},
            {"expect_log": {"regex": "x", "level": "verbose", "not": true, "for_ms": 0}},
            {"sleep": {"ms": 600000}}
        ]}),
        // Explicit nulls are what serde reads as "absent".
        json!({"version": 1, "name": null, "firmware": null, "steps": [{"open": {"conn": null, "write": null}}]}),
    ];
    for case in cases {
        let text = case.to_string();
        assert!(
            parse_str(&text, "case.json").is_ok(),
            "{text}: {:?}",
            parse_str(&text, "case.json").err()
        );
        let errors = schema_errors(&validator, &case);
        assert!(errors.is_empty(), "{text}: {errors:#?}");
    }
}

#[test]
fn mistakes_the_schema_can_express_fail_validation() {
    let validator = validator();
    // Fixtures whose mistake is a type, a name, a range or a pattern.
    let rejected = [
        "err_unknown_step.json",
        "err_unknown_field.json",
        "err_unknown_top_field.json",
        "err_wrong_type.json",
        "err_bad_hex.json",
        "err_bad_opcode.json",
        "err_matcher_number.json",
        "err_matcher_object.json",
        "err_response_number.json",
        "err_timeout_range.json",
        "err_version.json",
        "err_empty_steps.json",
        "err_two_keys.json",
        "err_missing_field.json",
        "err_unicode.json",
        "err_unicode_serde.json",
    ];
    for name in rejected {
        let (_, value) = fixture(name);
        assert!(
            !validator.is_valid(&value),
            "{name} should fail schema validation"
        );
    }
    // Connections, variables and regex syntax are beyond JSON Schema: the
    // schema lets these through and the loader catches them.
    for name in [
        "err_undefined_conn.json",
        "err_undefined_var.json",
        "err_bad_regex.json",
    ] {
        let (text, value) = fixture(name);
        assert!(validator.is_valid(&value), "{name}");
        assert!(parse_str(&text, name).is_err(), "{name}");
    }
}

#[test]
fn schema_documents_the_format() {
    let schema = json_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["title"], "esp-ws scenario");
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["required"], json!(["version", "steps"]));
    let defs = &schema["$defs"];
    // One alternative per step kind, each an object with exactly that key.
    let kinds: Vec<&str> = defs["Step"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|alt| alt["required"][0].as_str().unwrap())
        .collect();
    assert_eq!(kinds, esp_ws_scenario::STEP_KINDS);
    for def in ["Matcher", "Opcode", "ResponseSpec", "FillByte"] {
        assert!(
            defs[def]["anyOf"].is_array(),
            "{def} is a string-or-object union"
        );
    }
    assert_eq!(defs["Send"]["properties"]["rsv"]["maximum"], 7);
}
