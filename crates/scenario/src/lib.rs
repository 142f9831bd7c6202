//! esp-ws scenarios: the JSON file format, its loader, validation and JSON Schema.
//!
//! A scenario scripts a WebSocket client session against an ESP32
//! `esp_http_server` (open a connection, send frames, expect frames, closes
//! and serial-log lines). This crate turns scenario text into a validated
//! [`Scenario`] the runner can execute without further checks, or into
//! precise `file:line:column: field: message` errors a user can act on.
//!
//! The crate is pure: no network, no processes, no clock. The only I/O is
//! reading the file in [`load_file`]; everything else works on strings, so
//! it is cheap to test and usable from any runner (simulator or hardware).
//!
//! Loading happens in two passes. serde reads the text into lenient "raw"
//! types (a syntax or type error stops there, with serde_json's position);
//! validation then checks everything serde cannot (ranges, exclusive fields,
//! hex, regexes, connections, variables), collects *all* problems, and maps
//! each back to its place in the text with [`locate()`].

mod error;
mod locate;
mod model;
mod raw;
mod template;
mod validate;

pub use error::{PathSegment, ScenarioError, format_path};
pub use locate::locate;
pub use model::*;
pub use template::{substitute, substitute_regex, template_variables};

/// Parses and validates scenario text.
///
/// `file` is the name shown in errors; its stem is the default scenario
/// `name`. A JSON syntax or type error gives exactly one error; otherwise
/// every validation error is returned, sorted by position.
pub fn parse_str(text: &str, file: &str) -> Result<Scenario, Vec<ScenarioError>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let raw: raw::RawScenario = match serde_path_to_error::deserialize(&mut de) {
        Ok(raw) => raw,
        Err(err) => {
            let path = error::convert_path(err.path());
            return Err(vec![error::from_serde(text, file, &path, err.into_inner())]);
        }
    };
    // Trailing garbage after the top-level object (e.g. a pasted second
    // scenario) is a syntax error too.
    if let Err(err) = de.end() {
        return Err(vec![error::from_serde(text, file, &[], err)]);
    }
    validate::validate(raw, text, file)
}

/// Reads and parses a scenario file; the path as displayed is the error file name.
///
/// A read failure is one error with line and column 0.
pub fn load_file(path: &std::path::Path) -> Result<Scenario, Vec<ScenarioError>> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse_str(&text, &file),
        Err(err) => Err(vec![ScenarioError {
            file,
            line: 0,
            column: 0,
            field: format_path(&[]),
            message: format!("cannot read the scenario file: {err}"),
        }]),
    }
}

/// The JSON Schema (draft 2020-12) of the scenario format, for editors and docs.
///
/// It describes every field with its type, default and range. It is looser
/// than validation where JSON Schema cannot express a rule (connections,
/// variables, regex syntax, some exclusive fields), but never stricter:
/// every scenario [`parse_str`] accepts validates against it.
pub fn json_schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    generator
        .into_root_schema_for::<raw::RawScenario>()
        .to_value()
}
