//! Finding where a value sits in JSON source text.
//!
//! serde gives positions only for its own errors; validation runs on the
//! deserialized values, which have forgotten where they came from. Rather than
//! threading spans through every type, validation reports a path and this
//! scanner walks the original text to that path. It is a tolerant, minimal
//! JSON walker: it only needs to find values in text serde_json has already
//! accepted, and gives up (returns `None`) on anything it does not understand.

use crate::error::PathSegment;

/// Returns the 1-based `(line, column)` where the value at `path` starts.
///
/// Columns count characters, not bytes, so they match what an editor shows.
/// An empty path is the root value. With duplicate keys the first one wins.
/// Returns `None` when the path does not exist in the text.
pub fn locate(text: &str, path: &[PathSegment]) -> Option<(usize, usize)> {
    let mut scanner = Scanner::new(text);
    scanner.find(path)
}

/// Like [`locate`], but falls back to the closest ancestor that exists.
///
/// Validation often complains about a field that was left out (a default
/// connection name, say); the nearest enclosing object is the best place to
/// point at then.
pub(crate) fn locate_nearest(text: &str, path: &[PathSegment]) -> (usize, usize) {
    (0..=path.len())
        .rev()
        .find_map(|len| locate(text, &path[..len]))
        .unwrap_or((1, 1))
}

/// The 1-based `(line, column)` of the byte at `offset` of `bytes`, whose
/// first `offset` bytes are UTF-8 (where text stops being UTF-8, say).
/// Columns count characters, as editors do.
pub(crate) fn position_of_byte(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = String::from_utf8_lossy(&bytes[..offset.min(bytes.len())]);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

struct Scanner<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    column: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Scanner {
            chars: text.chars().peekable(),
            line: 1,
            column: 1,
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.bump();
        }
    }

    fn expect(&mut self, wanted: char) -> Option<()> {
        (self.bump()? == wanted).then_some(())
    }

    /// Walks down `path` from the value at the cursor.
    ///
    /// Recursion is bounded by the path length, not by the document's
    /// nesting: values that are not on the path are skipped iteratively.
    fn find(&mut self, path: &[PathSegment]) -> Option<(usize, usize)> {
        self.skip_whitespace();
        let Some((segment, rest)) = path.split_first() else {
            return Some((self.line, self.column));
        };
        match (self.peek()?, segment) {
            ('{', PathSegment::Key(wanted)) => {
                self.bump();
                loop {
                    self.skip_whitespace();
                    if self.peek()? != '"' {
                        return None; // `}` of an object without the key, or junk
                    }
                    let key = self.string()?;
                    self.skip_whitespace();
                    self.expect(':')?;
                    if &key == wanted {
                        return self.find(rest);
                    }
                    self.skip_value()?;
                    self.skip_whitespace();
                    if self.bump()? != ',' {
                        return None;
                    }
                }
            }
            ('[', PathSegment::Index(wanted)) => {
                self.bump();
                let mut index = 0;
                loop {
                    self.skip_whitespace();
                    if self.peek()? == ']' {
                        return None;
                    }
                    if index == *wanted {
                        return self.find(rest);
                    }
                    self.skip_value()?;
                    self.skip_whitespace();
                    if self.bump()? != ',' {
                        return None;
                    }
                    index += 1;
                }
            }
            _ => None,
        }
    }

    /// Reads a string at the cursor (which must be on its opening quote) and
    /// returns it decoded, so keys written with escapes still match.
    fn string(&mut self) -> Option<String> {
        self.expect('"')?;
        let mut out = String::new();
        loop {
            match self.bump()? {
                '"' => return Some(out),
                '\\' => match self.bump()? {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let unit = self.hex4()?;
                        out.push(self.utf16(unit));
                    }
                    // `"`, `\`, `/` stand for themselves; anything else is
                    // invalid JSON, which serde has rejected already.
                    other => out.push(other),
                },
                c => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Option<u16> {
        let mut value = 0u16;
        for _ in 0..4 {
            let digit = self.bump()?.to_digit(16)?;
            value = value * 16 + digit as u16;
        }
        Some(value)
    }

    /// Decodes a `\u` escape, joining a surrogate pair when one follows.
    fn utf16(&mut self, unit: u16) -> char {
        if (0xD800..0xDC00).contains(&unit) && self.peek() == Some('\\') {
            // A high surrogate must be followed by `\uDC00`..`\uDFFF`.
            self.bump();
            if self.peek() == Some('u') {
                self.bump();
                if let Some(low) = self.hex4() {
                    let code =
                        0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                    if (0xDC00..0xE000).contains(&low) {
                        return char::from_u32(code).unwrap_or('\u{FFFD}');
                    }
                }
            }
            return '\u{FFFD}';
        }
        char::from_u32(u32::from(unit)).unwrap_or('\u{FFFD}')
    }

    /// Skips one value of any kind, iteratively (documents can nest deeply).
    fn skip_value(&mut self) -> Option<()> {
        self.skip_whitespace();
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                '"' => {
                    self.string()?;
                }
                '{' | '[' => {
                    self.bump();
                    depth += 1;
                    continue;
                }
                '}' | ']' => {
                    // A closing bracket where a value should start is not JSON.
                    depth = depth.checked_sub(1)?;
                    self.bump();
                }
                _ if depth > 0 => {
                    // Separators, whitespace and scalar characters inside a
                    // container carry no structure.
                    self.bump();
                    continue;
                }
                _ => {
                    // A scalar (number, true, false, null) at the top.
                    while let Some(c) = self.peek() {
                        if matches!(c, ',' | '}' | ']' | ' ' | '\t' | '\n' | '\r') {
                            break;
                        }
                        self.bump();
                    }
                    return Some(());
                }
            }
            if depth == 0 {
                return Some(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(key: &str) -> PathSegment {
        PathSegment::Key(key.to_owned())
    }

    fn i(index: usize) -> PathSegment {
        PathSegment::Index(index)
    }

    #[test]
    fn root_and_top_level_members() {
        let text = r#"  {"a": 1, "b": "x"}"#;
        assert_eq!(locate(text, &[]), Some((1, 3)));
        assert_eq!(locate(text, &[k("a")]), Some((1, 9)));
        assert_eq!(locate(text, &[k("b")]), Some((1, 17)));
        assert_eq!(locate(text, &[k("c")]), None);
        // A key path into a scalar, an index into an object: not there.
        assert_eq!(locate(text, &[k("a"), k("x")]), None);
        assert_eq!(locate(text, &[i(0)]), None);
    }

    #[test]
    fn nested_objects_and_arrays_across_lines() {
        let text = "{\n  \"steps\": [\n    {\"open\": {}},\n    {\n      \"send\": {\n        \"opcode\": \"txt\",\n        \"hex\": [1, [2, 3], {\"x\": 4}]\n      }\n    }\n  ]\n}\n";
        assert_eq!(locate(text, &[k("steps")]), Some((2, 12)));
        assert_eq!(locate(text, &[k("steps"), i(0)]), Some((3, 5)));
        assert_eq!(locate(text, &[k("steps"), i(0), k("open")]), Some((3, 14)));
        assert_eq!(locate(text, &[k("steps"), i(1)]), Some((4, 5)));
        assert_eq!(
            locate(text, &[k("steps"), i(1), k("send"), k("opcode")]),
            Some((6, 19))
        );
        assert_eq!(
            locate(text, &[k("steps"), i(1), k("send"), k("hex"), i(1), i(1)]),
            Some((7, 24))
        );
        assert_eq!(
            locate(text, &[k("steps"), i(1), k("send"), k("hex"), i(2), k("x")]),
            Some((7, 34))
        );
        assert_eq!(locate(text, &[k("steps"), i(2)]), None);
        assert_eq!(
            locate(text, &[k("steps"), i(1), k("send"), k("hex"), i(3)]),
            None
        );
    }

    #[test]
    fn strings_with_escaped_quotes_and_brackets_are_skipped_whole() {
        let text = r#"{"a": "x\"}]{[\\", "b\"c": ["]", "\\"], "d": 5}"#;
        // "b\"c" is the key b"c once decoded.
        assert_eq!(locate(text, &[k("b\"c")]), Some((1, 28)));
        assert_eq!(locate(text, &[k("b\"c"), i(1)]), Some((1, 34)));
        assert_eq!(locate(text, &[k("d")]), Some((1, 46)));
    }

    #[test]
    fn escaped_keys_are_decoded() {
        let text = r#"{"\u0041\n": 1, "\ud83d\ude00": 2, "\/": 3}"#;
        assert_eq!(locate(text, &[k("A\n")]), Some((1, 14)));
        assert_eq!(locate(text, &[k("😀")]), Some((1, 33)));
        assert_eq!(locate(text, &[k("/")]), Some((1, 42)));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "{\"é\": \"日本語\", \"z\": [\"€\", 7]}";
        assert_eq!(locate(text, &[k("é")]), Some((1, 7)));
        assert_eq!(locate(text, &[k("z")]), Some((1, 19)));
        assert_eq!(locate(text, &[k("z"), i(1)]), Some((1, 25)));
        // Multi-line with non-ASCII on earlier lines: the line resets the count.
        let text = "{\"ü\": \"ß\",\n \"n\": 1}";
        assert_eq!(locate(text, &[k("n")]), Some((2, 7)));
    }

    #[test]
    fn crlf_and_tabs() {
        let text = "{\r\n\t\"a\":\r\n\t\t[true, null]\r\n}";
        assert_eq!(locate(text, &[k("a")]), Some((3, 3)));
        assert_eq!(locate(text, &[k("a"), i(1)]), Some((3, 10)));
    }

    #[test]
    fn scalars_of_every_kind_are_skipped() {
        let text = r#"{"n": -1.5e+3, "t": true, "f": false, "z": null, "e": {}, "l": [], "s": ""}"#;
        assert_eq!(locate(text, &[k("s")]), Some((1, 73)));
        assert_eq!(locate(text, &[k("l")]), Some((1, 64)));
        assert_eq!(locate(text, &[k("e"), k("x")]), None);
        assert_eq!(locate(text, &[k("l"), i(0)]), None);
    }

    #[test]
    fn malformed_text_gives_none_not_a_panic() {
        for text in [
            "",
            "{",
            "{\"a\"",
            "{\"a\" 1}",
            "[1 2]",
            "{\"a\": ]}",
            "{\"x\": \"\\u12",
        ] {
            assert_eq!(locate(text, &[k("b")]), None, "{text:?}");
            assert_eq!(locate(text, &[i(1)]), None, "{text:?}");
        }
        assert_eq!(locate("[1 2]", &[i(0)]), Some((1, 2)));
    }

    #[test]
    fn deep_nesting_off_the_path_does_not_recurse() {
        let deep = format!(
            "{{\"a\": {}{}, \"b\": 1}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(locate(&deep, &[k("b")]), Some((1, 200_014)));
    }

    #[test]
    fn nearest_falls_back_to_ancestors() {
        let text = "{\"steps\": [{\"send\": {}}]}";
        let p = [k("steps"), i(0), k("send"), k("conn")];
        assert_eq!(locate(text, &p), None);
        assert_eq!(locate_nearest(text, &p), (1, 21));
        assert_eq!(locate_nearest("", &p), (1, 1));
    }
}
