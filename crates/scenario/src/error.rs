//! The error type of the loader and the paths it reports.

/// One problem found in a scenario file, pointing at the place to fix.
///
/// `Display` gives the one-line form editors and CI logs understand:
/// `{file}:{line}:{column}: {field}: {message}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {field}: {message}")]
pub struct ScenarioError {
    /// Display name of the file, as given to [`crate::parse_str`].
    pub file: String,
    /// 1-based line; 0 when the error is not about a position (unreadable file).
    pub line: usize,
    /// 1-based column, counted in characters (not bytes); 0 as for `line`.
    pub column: usize,
    /// Path of the offending value, e.g. `steps[3].send.opcode`; `(root)` for the top level.
    pub field: String,
    /// What is wrong, without the position (that is in the other fields).
    pub message: String,
}

/// One step of a path into a JSON document: an object member or an array element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

impl From<&str> for PathSegment {
    fn from(key: &str) -> Self {
        PathSegment::Key(key.to_owned())
    }
}

impl From<usize> for PathSegment {
    fn from(index: usize) -> Self {
        PathSegment::Index(index)
    }
}

/// Formats a path the way users read it in error messages: `steps[3].send.opcode`.
///
/// Keys that would be ambiguous next to `.` and `[` (header names may hold
/// anything) are written as `["key"]`.
pub fn format_path(path: &[PathSegment]) -> String {
    if path.is_empty() {
        return "(root)".to_owned();
    }
    let mut out = String::new();
    for segment in path {
        match segment {
            PathSegment::Index(i) => {
                out.push_str(&format!("[{i}]"));
            }
            PathSegment::Key(key) => {
                let plain = !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$');
                if plain {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                } else {
                    // serde_json's string escaping is exactly what a reader expects here.
                    let quoted = serde_json::to_string(key).unwrap_or_else(|_| format!("{key:?}"));
                    out.push_str(&format!("[{quoted}]"));
                }
            }
        }
    }
    out
}

/// Converts a serde_path_to_error path into ours.
///
/// An `Unknown` segment (a value serde could not name) ends the path: what
/// follows it cannot be located in the text either.
pub(crate) fn convert_path(path: &serde_path_to_error::Path) -> Vec<PathSegment> {
    use serde_path_to_error::Segment;
    let mut out = Vec::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push(PathSegment::Index(*index)),
            Segment::Map { key } => out.push(PathSegment::Key(key.clone())),
            Segment::Enum { variant } => out.push(PathSegment::Key(variant.clone())),
            Segment::Unknown => break,
        }
    }
    out
}

/// Builds the error for a serde (syntax or type) failure.
///
/// serde_json reports columns in bytes and appends " at line L column C" to
/// its message; we report columns in characters (like [`crate::locate()`]) and
/// keep the position out of the message since it is in the prefix already.
pub(crate) fn from_serde(
    text: &str,
    file: &str,
    path: &[PathSegment],
    inner: serde_json::Error,
) -> ScenarioError {
    let (line, byte_column) = (inner.line(), inner.column());
    let mut message = inner.to_string();
    let suffix = format!(" at line {line} column {byte_column}");
    if let Some(stripped) = message.strip_suffix(&suffix) {
        message = stripped.to_owned();
    }
    ScenarioError {
        file: file.to_owned(),
        line,
        // serde_json says column 0 for an error before the first character
        // of a line; 1-based columns start at 1.
        column: char_column(text, line, byte_column).max(usize::from(line > 0)),
        field: format_path(path),
        message,
    }
}

/// [`from_serde`] for an error found in a slice of `text` that starts at
/// byte `offset`: its line and column are made the file's.
pub(crate) fn from_serde_at(
    text: &str,
    file: &str,
    path: &[PathSegment],
    inner: serde_json::Error,
    offset: usize,
) -> ScenarioError {
    let before = &text[..offset];
    let base_line = before.matches('\n').count() + 1;
    let base_byte_col = before.len() - before.rfind('\n').map_or(0, |i| i + 1);
    let (line, byte_column) = (inner.line(), inner.column());
    let mut message = inner.to_string();
    let suffix = format!(" at line {line} column {byte_column}");
    if let Some(stripped) = message.strip_suffix(&suffix) {
        message = stripped.to_owned();
    }
    let abs_line = base_line + line.saturating_sub(1);
    let abs_byte_col = if line <= 1 {
        base_byte_col + byte_column
    } else {
        byte_column
    };
    ScenarioError {
        file: file.to_owned(),
        line: abs_line,
        column: char_column(text, abs_line, abs_byte_col).max(1),
        field: format_path(path),
        message,
    }
}

/// Converts serde_json's byte column on a 1-based line into a character column.
fn char_column(text: &str, line: usize, byte_column: usize) -> usize {
    let Some(line_text) = line.checked_sub(1).and_then(|i| text.split('\n').nth(i)) else {
        return byte_column;
    };
    let mut end = byte_column.min(line_text.len());
    // The column may point at the last byte of a multi-byte character; the
    // character it belongs to still counts as one.
    while end < line_text.len() && !line_text.is_char_boundary(end) {
        end += 1;
    }
    line_text[..end].chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_paths() {
        assert_eq!(format_path(&[]), "(root)");
        let p = vec![
            PathSegment::from("steps"),
            PathSegment::from(3),
            PathSegment::from("send"),
            PathSegment::from("opcode"),
        ];
        assert_eq!(format_path(&p), "steps[3].send.opcode");
        let p = vec![PathSegment::from("headers"), PathSegment::from("X-Token")];
        assert_eq!(format_path(&p), "headers.X-Token");
        let p = vec![PathSegment::from("headers"), PathSegment::from("a.b c")];
        assert_eq!(format_path(&p), "headers[\"a.b c\"]");
    }

    #[test]
    fn char_columns_count_characters() {
        let text = "{\n  \"é€\": 1x\n}";
        // Byte column 13 on line 2 is the `x`, the 10th character: é (2 bytes)
        // and € (3 bytes) stand before it.
        assert_eq!(char_column(text, 2, 13), 10);
        assert_eq!(char_column(text, 2, 0), 0);
        // A column inside a multi-byte character counts that character.
        assert_eq!(char_column(text, 2, 4), 4);
    }
}
