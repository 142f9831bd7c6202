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
            let first = error::from_serde(text, file, &path, err.into_inner());
            return Err(with_every_step_error(text, file, first));
        }
    };
    // Trailing garbage after the top-level object (e.g. a pasted second
    // scenario) is a syntax error too.
    if let Err(err) = de.end() {
        return Err(vec![error::from_serde(text, file, &[], err)]);
    }
    validate::validate(raw, text, file)
}

/// serde stops at the first structural error; the steps are independent
/// of each other, so each is read on its own as well and every step's
/// first error is reported, in document order, with the first error of
/// the file (which may lie outside the steps). Text that is not JSON at all
/// gives its one syntax error.
fn with_every_step_error(text: &str, file: &str, first: ScenarioError) -> Vec<ScenarioError> {
    #[derive(serde::Deserialize)]
    struct Steps<'a> {
        #[serde(borrow)]
        steps: Vec<&'a serde_json::value::RawValue>,
    }
    let mut errors = vec![first];
    let Ok(doc) = serde_json::from_str::<Steps<'_>>(text) else {
        return errors;
    };
    for (i, step) in doc.steps.iter().enumerate() {
        let slice = step.get();
        // The step's text is a slice of the file's: where it starts.
        let offset = slice.as_ptr() as usize - text.as_ptr() as usize;
        let mut de = serde_json::Deserializer::from_str(slice);
        let Err(err) = serde_path_to_error::deserialize::<_, raw::RawStep>(&mut de) else {
            continue;
        };
        let mut path = vec![PathSegment::Key("steps".into()), PathSegment::Index(i)];
        path.extend(error::convert_path(err.path()));
        let e = error::from_serde_at(text, file, &path, err.into_inner(), offset);
        if !errors
            .iter()
            .any(|x| (x.line, x.column, &x.field) == (e.line, e.column, &e.field))
        {
            errors.push(e);
        }
    }
    errors.sort_by_key(|e| (e.line, e.column));
    errors
}

/// The largest scenario file read: far beyond any hand-written scenario
/// (the shipped ones are a few KiB), small enough that a wrong path (a
/// device, a log file) is refused at once.
pub const MAX_FILE_SIZE: u64 = 1024 * 1024;

/// Reads and parses a scenario file; the path as displayed is the error file name.
///
/// A file that cannot be read (or is not a regular file, or is larger than
/// [`MAX_FILE_SIZE`]) is one error with line and column 0; text that is not
/// UTF-8 is one error at its first bad byte.
pub fn load_file(path: &std::path::Path) -> Result<Scenario, Vec<ScenarioError>> {
    let file = path.display().to_string();
    let fail = |message: String| {
        vec![ScenarioError {
            file: file.clone(),
            line: 0,
            column: 0,
            field: format_path(&[]),
            message,
        }]
    };
    let bytes = match read_capped(path) {
        Ok(b) => b,
        Err(message) => return Err(fail(message)),
    };
    match std::str::from_utf8(&bytes) {
        Ok(text) => parse_str(text, &file),
        Err(e) => {
            let (line, column) = locate::position_of_byte(&bytes, e.valid_up_to());
            Err(vec![ScenarioError {
                file,
                line,
                column,
                field: format_path(&[]),
                message: format!(
                    "the file is not UTF-8 text: byte 0x{:02x} cannot start or continue a character here",
                    bytes[e.valid_up_to()]
                ),
            }])
        }
    }
}

/// Reads a regular file of at most [`MAX_FILE_SIZE`] bytes, checking before
/// it opens the file (a FIFO would block the open, a device read forever).
fn read_capped(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read the scenario file: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "cannot read the scenario file: it is {}, not a regular file",
            file_kind(&meta)
        ));
    }
    let too_big = |size: u64| {
        format!(
            "the scenario file is {size} bytes, more than the {MAX_FILE_SIZE} a scenario may have"
        )
    };
    if meta.len() > MAX_FILE_SIZE {
        return Err(too_big(meta.len()));
    }
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read the scenario file: {e}"))?;
    let mut bytes = Vec::new();
    // The file may have grown since: never read past the cap.
    f.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the scenario file: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// What kind of file system object `meta` describes, for messages.
pub fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "a regular file"
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
