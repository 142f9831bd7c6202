//! Turning the raw UART byte stream into lines.

use std::fmt::Write as _;

use crate::{Line, parse_line};

/// One console line as bytes, without its `\n` and without a trailing `\r`.
///
/// Kept as bytes because firmware prints received payloads with `%s`, so a
/// line can hold anything; decoding is a separate, lossless step
/// ([`RawLine::to_text`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RawLine {
    pub bytes: Vec<u8>,
}

impl RawLine {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        RawLine {
            bytes: bytes.into(),
        }
    }

    /// Decodes the line as UTF-8. Each byte of an invalid sequence, and each
    /// C0 control character other than tab and ESC, is written as `\xNN`
    /// (lower-case hex), so the text is printable and no byte is silently
    /// replaced. ESC is kept because colour codes must survive until
    /// [`parse_line`] strips them. A literal backslash is not escaped: the
    /// firmware's own text is rarely ambiguous and escaping it would make
    /// ordinary Windows paths and regexes in messages unreadable.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(self.bytes.len());
        for chunk in self.bytes.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c.is_ascii_control() && c != '\t' && c != '\x1b' && c != '\x7f' {
                    push_hex(&mut out, c as u8);
                } else {
                    out.push(c);
                }
            }
            for &b in chunk.invalid() {
                push_hex(&mut out, b);
            }
        }
        out
    }

    /// `parse_line(&self.to_text())`.
    pub fn parse(&self) -> Line {
        parse_line(&self.to_text())
    }
}

fn push_hex(out: &mut String, b: u8) {
    // Writing to a String cannot fail.
    let _ = write!(out, "\\x{b:02x}");
}

impl From<Vec<u8>> for RawLine {
    fn from(bytes: Vec<u8>) -> Self {
        RawLine { bytes }
    }
}

impl From<&[u8]> for RawLine {
    fn from(bytes: &[u8]) -> Self {
        RawLine::new(bytes)
    }
}

impl From<&str> for RawLine {
    fn from(text: &str) -> Self {
        RawLine::new(text.as_bytes())
    }
}

/// Splits a byte stream (as it arrives from a serial port or a simulator, in
/// arbitrary chunks) into lines.
///
/// Lines end at `\n`; one `\r` before it is dropped (ESP-IDF's console
/// driver may translate `\n` to `\r\n`). A `\r` anywhere else is content.
/// The result never depends on how the stream was chunked.
#[derive(Clone, Debug)]
pub struct LineSplitter {
    buf: Vec<u8>,
    max: usize,
}

impl Default for LineSplitter {
    fn default() -> Self {
        LineSplitter::new()
    }
}

impl LineSplitter {
    /// Default limit on a line's length; a runaway line without newline
    /// (a binary dump, a stuck prompt) must not grow memory without bound.
    pub const DEFAULT_MAX_LINE: usize = 16 * 1024;

    pub fn new() -> Self {
        LineSplitter::with_max_line(Self::DEFAULT_MAX_LINE)
    }

    /// A splitter that emits lines longer than `max` bytes as consecutive
    /// `max`-byte pieces (the last one shorter). `max` of 0 is treated as 1,
    /// since a piece must hold at least one byte to make progress.
    pub fn with_max_line(max: usize) -> Self {
        LineSplitter {
            buf: Vec::new(),
            max: max.max(1),
        }
    }

    /// Feeds bytes and returns the lines they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<RawLine> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            self.buf.extend_from_slice(&rest[..nl]);
            rest = &rest[nl + 1..];
            let mut line = std::mem::take(&mut self.buf);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.emit(line, &mut out);
        }
        self.buf.extend_from_slice(rest);
        self.drain_overlong(&mut out);
        out
    }

    /// The incomplete tail received so far, e.g. a prompt such as
    /// `Please input ssid password:` that waits for input without a newline.
    pub fn partial(&self) -> &[u8] {
        &self.buf
    }

    /// At end of stream: the incomplete tail, if any (with a trailing `\r`
    /// dropped, as for a complete line). Leaves the splitter empty.
    pub fn finish(&mut self) -> Option<RawLine> {
        let mut tail = std::mem::take(&mut self.buf);
        if tail.last() == Some(&b'\r') {
            tail.pop();
        }
        (!tail.is_empty()).then(|| RawLine::from(tail))
    }

    /// Emits a complete line, in pieces if it is too long. An empty line is
    /// still a line.
    fn emit(&self, line: Vec<u8>, out: &mut Vec<RawLine>) {
        if line.len() <= self.max {
            out.push(RawLine::from(line));
        } else {
            out.extend(line.chunks(self.max).map(RawLine::from));
        }
    }

    /// Emits `max`-byte pieces of an unterminated tail while it is longer
    /// than `max`. Pieces are only cut once a byte beyond `max` exists, so a
    /// line of exactly `max` bytes is not followed by a spurious empty line;
    /// and a tail of `max` bytes plus `\r` waits, because that `\r` is
    /// probably the first half of a CRLF and must then be dropped, not
    /// emitted as a one-byte piece.
    fn drain_overlong(&mut self, out: &mut Vec<RawLine>) {
        let mut start = 0;
        loop {
            let len = self.buf.len() - start;
            let pending_crlf = len == self.max + 1 && self.buf.last() == Some(&b'\r');
            if len <= self.max || pending_crlf {
                break;
            }
            out.push(RawLine::from(&self.buf[start..start + self.max]));
            start += self.max;
        }
        self.buf.drain(..start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Level, LogRecord, Timestamp};

    fn lines(raw: &[RawLine]) -> Vec<&[u8]> {
        raw.iter().map(|l| l.bytes.as_slice()).collect()
    }

    /// Splits `input` into chunks at `cuts`, pushes them, then finishes.
    fn split_at(max: usize, input: &[u8], cuts: &[usize]) -> (Vec<RawLine>, Option<RawLine>) {
        let mut splitter = LineSplitter::with_max_line(max);
        let mut out = Vec::new();
        let mut prev = 0;
        for &cut in cuts.iter().chain([input.len()].iter()) {
            out.extend(splitter.push(&input[prev..cut]));
            prev = cut;
        }
        let tail = splitter.finish();
        (out, tail)
    }

    #[track_caller]
    fn check(max: usize, input: &[u8], expected: &[&[u8]], expected_tail: Option<&[u8]>) {
        // Every way of cutting the input in two, and byte by byte, must give
        // the same result as a single push.
        let mut cuttings: Vec<Vec<usize>> = vec![vec![], (1..input.len()).collect()];
        cuttings.extend((0..=input.len()).map(|i| vec![i]));
        for cuts in cuttings {
            let (out, tail) = split_at(max, input, &cuts);
            assert_eq!(lines(&out), expected, "input {input:?}, cuts {cuts:?}");
            assert_eq!(
                tail.as_ref().map(|t| t.bytes.as_slice()),
                expected_tail,
                "input {input:?}, cuts {cuts:?}"
            );
        }
    }

    const BIG: usize = LineSplitter::DEFAULT_MAX_LINE;

    #[test]
    fn three_lines_any_split() {
        check(
            BIG,
            b"I (1) a: x\nrst:0xc (SW_CPU_RESET)\nE (2) b: y\n",
            &[b"I (1) a: x", b"rst:0xc (SW_CPU_RESET)", b"E (2) b: y"],
            None,
        );
    }

    #[test]
    fn crlf_and_lone_cr() {
        check(BIG, b"a\r\nb\r\n", &[b"a", b"b"], None);
        check(BIG, b"a\rb\n", &[b"a\rb"], None);
        // Only one CR is part of the line ending.
        check(BIG, b"a\r\r\n", &[b"a\r"], None);
        check(BIG, b"\r\n\n", &[b"", b""], None);
    }

    #[test]
    fn partial_tail_and_finish() {
        check(
            BIG,
            b"x\nPlease input ssid password:",
            &[b"x"],
            Some(b"Please input ssid password:"),
        );
        check(BIG, b"x\ntail\r", &[b"x"], Some(b"tail"));
        check(BIG, b"x\n\r", &[b"x"], None);
        check(BIG, b"", &[], None);

        let mut s = LineSplitter::new();
        assert!(s.push(b"I (1) a: b\nPlease input ssid ").len() == 1);
        assert!(s.push(b"password:").is_empty());
        assert_eq!(s.partial(), b"Please input ssid password:");
        let tail = s.finish().unwrap();
        assert_eq!(tail.to_text(), "Please input ssid password:");
        assert_eq!(s.partial(), b"");
        assert_eq!(s.finish(), None);
        // Reusable after finish.
        assert_eq!(lines(&s.push(b"z\n")), [b"z"]);
    }

    #[test]
    fn invalid_utf8_kept() {
        let input = b"I (5) ws: Got packet with message: \xff\xfe\n";
        check(BIG, input, &[&input[..input.len() - 1]], None);
        let line = LineSplitter::new().push(input).remove(0);
        assert_eq!(
            line.parse(),
            Line::Log(LogRecord::new(
                Level::Info,
                Timestamp::Millis(5),
                "ws",
                "Got packet with message: \\xff\\xfe"
            ))
        );
    }

    #[test]
    fn overlong_lines_split_without_loss() {
        check(4, b"abcdefghij\n", &[b"abcd", b"efgh", b"ij"], None);
        check(4, b"abcd\nefgh\r\n", &[b"abcd", b"efgh"], None);
        check(4, b"abcdefgh\n", &[b"abcd", b"efgh"], None);
        check(4, b"abcdefgh\r\n", &[b"abcd", b"efgh"], None);
        check(4, b"abcd\rxyz\n", &[b"abcd", b"\rxyz"], None);
        check(4, b"abcd\r", &[], Some(b"abcd"));
        check(4, b"abcdefghij", &[b"abcd", b"efgh"], Some(b"ij"));
        check(1, b"ab\r\n\n", &[b"a", b"b", b""], None);
        check(0, b"ab\n", &[b"a", b"b"], None);

        let long: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut input = long.clone();
        input.push(b'\n');
        let mut s = LineSplitter::new();
        let out = s.push(&input);
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|l| l.bytes.len() <= BIG));
        assert_eq!(out.concat_bytes(), long);
    }

    trait Concat {
        fn concat_bytes(&self) -> Vec<u8>;
    }

    impl Concat for Vec<RawLine> {
        fn concat_bytes(&self) -> Vec<u8> {
            self.iter().flat_map(|l| l.bytes.iter().copied()).collect()
        }
    }

    #[test]
    fn partial_is_bounded() {
        let mut s = LineSplitter::with_max_line(8);
        let out = s.push(&[b'x'; 100]);
        assert_eq!(out.len(), 12);
        assert_eq!(s.partial().len(), 4);
    }

    #[test]
    fn to_text() {
        #[track_caller]
        fn check(bytes: &[u8], expected: &str) {
            assert_eq!(RawLine::new(bytes).to_text(), expected, "bytes {bytes:?}");
        }
        check(b"", "");
        check(b"plain", "plain");
        check("héllo €".as_bytes(), "héllo €");
        check(b"msg: \xff\xfe", "msg: \\xff\\xfe");
        check(b"\xc3", "\\xc3");
        check(b"\xe2\x82", "\\xe2\\x82");
        check(b"\xe2\x82x", "\\xe2\\x82x");
        check(b"a\\xffb", "a\\xffb");
        check(b"a\\b", "a\\b");
        check(b"t\tab", "t\tab");
        check(
            b"nul\0 cr\r bel\x07 us\x1f",
            "nul\\x00 cr\\x0d bel\\x07 us\\x1f",
        );
        check(
            b"\x1b[0;32mI (1) t: m\x1b[0m",
            "\x1b[0;32mI (1) t: m\x1b[0m",
        );
        check(b"del\x7f", "del\x7f");
    }

    #[test]
    fn raw_parse_strips_colors() {
        let line = RawLine::from("\x1b[0;31mE (12) tag: msg\x1b[0m").parse();
        assert_eq!(
            line,
            Line::Log(LogRecord::new(
                Level::Error,
                Timestamp::Millis(12),
                "tag",
                "msg"
            ))
        );
    }
}
