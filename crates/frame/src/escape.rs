//! Single-line, unambiguous rendering of arbitrary bytes.

use std::fmt::Write;

/// Escapes bytes Rust-style so that any payload or server response can be
/// shown on one line in logs, summaries and error messages.
///
/// Printable ASCII is kept (with `\\` and `\"` escaped so the result can sit
/// inside quotes), `\r`, `\n`, `\t` and `\0` use their short escapes, and
/// every other byte that is not part of a visible UTF-8 character becomes
/// `\xNN`. Valid multi-byte UTF-8 characters are kept as they are unless
/// they are control, line-breaking or invisible formatting characters, which
/// would make the output multi-line or hide bytes from the reader; those are
/// escaped byte by byte.
pub fn escape_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for &byte in chunk.invalid() {
            push_hex(&mut out, byte);
        }
    }
    out
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '"' => out.push_str("\\\""),
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        ' '..='~' => out.push(c),
        c if c.is_ascii() || !is_visible(c) => {
            let mut buf = [0u8; 4];
            for &byte in c.encode_utf8(&mut buf).as_bytes() {
                push_hex(out, byte);
            }
        }
        c => out.push(c),
    }
}

/// Whether a non-ASCII character is safe to print verbatim on one line.
fn is_visible(c: char) -> bool {
    !(c.is_control()
        || c.is_whitespace()
        // Zero-width and bidi formatting characters: invisible or able to
        // reorder the surrounding text, so they would hide what was sent.
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'))
}

fn push_hex(out: &mut String, byte: u8) {
    // Writing to a String cannot fail.
    let _ = write!(out, "\\x{byte:02x}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii() {
        assert_eq!(escape_bytes(b"hello"), "hello");
        assert_eq!(escape_bytes(b"a\r\nb\tc"), "a\\r\\nb\\tc");
        assert_eq!(escape_bytes(b"q\"b\\"), "q\\\"b\\\\");
        assert_eq!(escape_bytes(b"\x00\x01\x7f"), "\\0\\x01\\x7f");
        assert_eq!(escape_bytes(b""), "");
    }

    #[test]
    fn utf8() {
        assert_eq!(escape_bytes("héllo ✓".as_bytes()), "héllo ✓");
        // Invalid UTF-8 and lone continuation bytes.
        assert_eq!(escape_bytes(b"\xff\xfe\x80a"), "\\xff\\xfe\\x80a");
        // Truncated multi-byte sequence.
        assert_eq!(escape_bytes(b"\xe2\x9c"), "\\xe2\\x9c");
        // Line separator and zero-width space are escaped.
        assert_eq!(escape_bytes("a\u{2028}b".as_bytes()), "a\\xe2\\x80\\xa8b");
        assert_eq!(escape_bytes("\u{200B}".as_bytes()), "\\xe2\\x80\\x8b");
        // C1 control (NEL).
        assert_eq!(escape_bytes("\u{85}".as_bytes()), "\\xc2\\x85");
    }

    #[test]
    fn always_single_line() {
        let all: Vec<u8> = (0..=255).collect();
        let s = escape_bytes(&all);
        assert!(!s.contains('\n') && !s.contains('\r'));
        assert!(s.is_ascii());
    }
}
