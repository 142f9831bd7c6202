//! Parsing and rendering of single console lines.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Level;

/// The timestamp between the parentheses of a record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Timestamp {
    /// Milliseconds since boot (`(1234)`), the ESP-IDF default
    /// (`CONFIG_LOG_TIMESTAMP_SOURCE_RTOS`).
    Millis(u64),
    /// Wall-clock time with `CONFIG_LOG_TIMESTAMP_SOURCE_SYSTEM`, kept as
    /// printed (`12:34:56.789`), because it is only ever compared or
    /// re-printed, never computed with.
    Clock(String),
}

impl Timestamp {
    /// Parses the text between the parentheses. `Millis` is only produced
    /// for the canonical decimal form (no sign, no leading zeros), so that
    /// printing it back gives the same text; `Clock` accepts
    /// `H:MM:SS.mmm` with any number of hour digits, optionally preceded by
    /// a date `Y-MM-DD ` (the "full" system-time variant of newer ESP-IDF).
    pub fn parse(text: &str) -> Option<Timestamp> {
        if is_canonical_decimal(text) {
            return text.parse().ok().map(Timestamp::Millis);
        }
        if is_clock(text) {
            return Some(Timestamp::Clock(text.to_owned()));
        }
        None
    }

    /// Milliseconds since boot, when that is what the timestamp is.
    pub fn millis(&self) -> Option<u64> {
        match self {
            Timestamp::Millis(ms) => Some(*ms),
            Timestamp::Clock(_) => None,
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Timestamp::Millis(ms) => write!(f, "{ms}"),
            Timestamp::Clock(text) => f.write_str(text),
        }
    }
}

fn is_canonical_decimal(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

/// `digits` followed by `sep`, with exactly `n` digits when `n` is Some.
fn take_digits(s: &str, n: Option<usize>, sep: Option<char>) -> Option<&str> {
    let count = s.bytes().take_while(u8::is_ascii_digit).count();
    let ok = match n {
        Some(n) => count == n,
        None => count > 0,
    };
    if !ok {
        return None;
    }
    let rest = &s[count..];
    match sep {
        Some(c) => rest.strip_prefix(c),
        None => Some(rest),
    }
}

fn is_clock(s: &str) -> bool {
    // An optional date in front: `2024-06-19 12:34:56.789`.
    let time = match take_digits(s, None, Some('-'))
        .and_then(|r| take_digits(r, Some(2), Some('-')))
        .and_then(|r| take_digits(r, Some(2), Some(' ')))
    {
        Some(rest) => rest,
        None => s,
    };
    take_digits(time, None, Some(':'))
        .and_then(|r| take_digits(r, Some(2), Some(':')))
        .and_then(|r| take_digits(r, Some(2), Some('.')))
        .and_then(|r| take_digits(r, Some(3), None))
        .is_some_and(str::is_empty)
}

/// One `ESP_LOGx` record.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogRecord {
    pub level: Level,
    pub timestamp: Timestamp,
    pub tag: String,
    pub message: String,
}

impl LogRecord {
    pub fn new(
        level: Level,
        timestamp: Timestamp,
        tag: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        LogRecord {
            level,
            timestamp,
            tag: tag.into(),
            message: message.into(),
        }
    }

    /// The record as ESP-IDF prints it, without the newline. With `colors`
    /// the line is wrapped exactly like `CONFIG_LOG_COLORS` does
    /// (`\x1b[0;32mI (1) tag: msg\x1b[0m`); levels without a colour are
    /// printed plain, as ESP-IDF does.
    pub fn render(&self, colors: bool) -> String {
        let plain = format!(
            "{} ({}) {}: {}",
            self.level.letter(),
            self.timestamp,
            self.tag,
            self.message
        );
        match self.level.ansi_color() {
            Some(code) if colors => format!("\x1b[0;{code}m{plain}\x1b[0m"),
            _ => plain,
        }
    }
}

impl fmt::Display for LogRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// One console line: a log record, or anything else kept verbatim.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Line {
    Log(LogRecord),
    /// Bootloader output, panic dumps, prompts, `printf` output …, with
    /// colour codes removed.
    Other(String),
}

impl Line {
    /// The line as printed, without colours.
    pub fn text(&self) -> String {
        match self {
            Line::Log(record) => record.render(false),
            Line::Other(text) => text.clone(),
        }
    }

    pub fn as_log(&self) -> Option<&LogRecord> {
        match self {
            Line::Log(record) => Some(record),
            Line::Other(_) => None,
        }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Line::Log(record) => fmt::Display::fmt(record, f),
            Line::Other(text) => f.write_str(text),
        }
    }
}

/// Removes SGR escape sequences (`ESC [ digits-and-semicolons m`), which is
/// what `CONFIG_LOG_COLORS` and most firmware colouring emit. Any other
/// escape sequence is left alone: it is not colour, so it is content.
/// Borrows when there is nothing to strip, which is the common case.
pub fn strip_ansi(s: &str) -> Cow<'_, str> {
    if !s.contains('\x1b') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('\x1b') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let sgr_len = after.strip_prefix('[').and_then(|params| {
            let n = params
                .bytes()
                .take_while(|b| b.is_ascii_digit() || *b == b';')
                .count();
            // 1 for '[', n parameter bytes, 1 for 'm'.
            (params.as_bytes().get(n) == Some(&b'm')).then_some(n + 2)
        });
        match sgr_len {
            Some(len) => rest = &after[len..],
            None => {
                out.push('\x1b');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Parses one console line (without its newline). Colour codes are removed
/// first. Anything that is not exactly `L (timestamp) tag:message` becomes
/// [`Line::Other`] with the (colour-free) text, so nothing is lost.
///
/// The tag ends at the first `:`. ESP-IDF's own records put `": "` there,
/// but the closed-source Wi-Fi libraries print `I (567) wifi:mode : sta`
/// with no space, and their messages contain `": "` themselves, so
/// splitting at the first `": "` would give tags like `wifi:mode `. One
/// space after the colon is part of the separator; a record printed without
/// it is re-rendered with it (see [`LogRecord::render`]).
pub fn parse_line(text: &str) -> Line {
    let text = strip_ansi(text);
    match parse_record(&text) {
        Some(record) => Line::Log(record),
        None => Line::Other(text.into_owned()),
    }
}

fn parse_record(s: &str) -> Option<LogRecord> {
    let mut chars = s.chars();
    let level = Level::from_letter(chars.next()?)?;
    let rest = chars.as_str().strip_prefix(" (")?;
    let close = rest.find(')')?;
    let timestamp = Timestamp::parse(&rest[..close])?;
    let rest = rest[close + 1..].strip_prefix(' ')?;
    let colon = rest.find(':')?;
    let tag = &rest[..colon];
    let after = &rest[colon + 1..];
    let message = after.strip_prefix(' ').unwrap_or(after);
    Some(LogRecord::new(level, timestamp, tag, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(level: Level, ts: Timestamp, tag: &str, message: &str) -> Line {
        Line::Log(LogRecord::new(level, ts, tag, message))
    }

    fn ms(n: u64) -> Timestamp {
        Timestamp::Millis(n)
    }

    fn clock(s: &str) -> Timestamp {
        Timestamp::Clock(s.to_owned())
    }

    fn other(s: &str) -> Line {
        Line::Other(s.to_owned())
    }

    #[track_caller]
    fn check(input: &str, expected: Line) {
        assert_eq!(parse_line(input), expected, "input {input:?}");
    }

    #[test]
    fn parse_levels() {
        check(
            "E (12) ws_echo_server: boom",
            rec(Level::Error, ms(12), "ws_echo_server", "boom"),
        );
        check(
            "W (13) httpd_txrx: httpd_sock_err: error in recv : 104",
            rec(
                Level::Warn,
                ms(13),
                "httpd_txrx",
                "httpd_sock_err: error in recv : 104",
            ),
        );
        check(
            "I (1234) ws_echo_server: Starting server on port: '80'",
            rec(
                Level::Info,
                ms(1234),
                "ws_echo_server",
                "Starting server on port: '80'",
            ),
        );
        check(
            "D (17552) httpd: httpd_accept_conn: newfd = 57",
            rec(
                Level::Debug,
                ms(17552),
                "httpd",
                "httpd_accept_conn: newfd = 57",
            ),
        );
        check("V (0) x: y", rec(Level::Verbose, ms(0), "x", "y"));
    }

    #[test]
    fn parse_timestamps() {
        check(
            "I (12:34:56.789) app: hi",
            rec(Level::Info, clock("12:34:56.789"), "app", "hi"),
        );
        check(
            "I (00:00:00.012) app: hi",
            rec(Level::Info, clock("00:00:00.012"), "app", "hi"),
        );
        check(
            "I (24-06-19 13:42:30.123) app: hi",
            rec(Level::Info, clock("24-06-19 13:42:30.123"), "app", "hi"),
        );
        check(
            "I (18446744073709551615) app: hi",
            rec(Level::Info, ms(u64::MAX), "app", "hi"),
        );
        // Not printable back as the same text, or not a timestamp at all.
        check("I (0123) app: hi", other("I (0123) app: hi"));
        check(
            "I (18446744073709551616) app: hi",
            other("I (18446744073709551616) app: hi"),
        );
        check("I () app: hi", other("I () app: hi"));
        check("I (-1) app: hi", other("I (-1) app: hi"));
        check("I (12:34:56) app: hi", other("I (12:34:56) app: hi"));
        check("I (12:3:56.789) app: hi", other("I (12:3:56.789) app: hi"));
        check(
            "I (12:34:56.7890) app: hi",
            other("I (12:34:56.7890) app: hi"),
        );
        check("I (boot) app: hi", other("I (boot) app: hi"));
    }

    #[test]
    fn parse_tags() {
        check(
            "I (300) example connect: Connecting to myssid...",
            rec(
                Level::Info,
                ms(300),
                "example connect",
                "Connecting to myssid...",
            ),
        );
        check(
            "I (301) esp_netif_handlers: sta ip: 10.0.2.15, mask: 255.255.255.0",
            rec(
                Level::Info,
                ms(301),
                "esp_netif_handlers",
                "sta ip: 10.0.2.15, mask: 255.255.255.0",
            ),
        );
        check(
            "E (302) esp-tls: couldn't get hostname",
            rec(Level::Error, ms(302), "esp-tls", "couldn't get hostname"),
        );
        check(
            "I (303) app.main: dotted",
            rec(Level::Info, ms(303), "app.main", "dotted"),
        );
        // Wi-Fi blobs print no space after the tag's colon.
        check(
            "I (567) wifi:mode : sta (xx)",
            rec(Level::Info, ms(567), "wifi", "mode : sta (xx)"),
        );
        check(
            "I (588) wifi:wifi driver task: 3ffc08b4, prio:23, stack:6656, core=0",
            rec(
                Level::Info,
                ms(588),
                "wifi",
                "wifi driver task: 3ffc08b4, prio:23, stack:6656, core=0",
            ),
        );
        // Empty message and empty tag are legal printf results.
        check("I (1) tag: ", rec(Level::Info, ms(1), "tag", ""));
        check("I (1) tag:", rec(Level::Info, ms(1), "tag", ""));
        check("I (1) : msg", rec(Level::Info, ms(1), "", "msg"));
        // Only one space belongs to the separator.
        check("I (1) tag:  two", rec(Level::Info, ms(1), "tag", " two"));
        // No colon at all: there is no tag, so it is not a record.
        check("I (1) no tag here", other("I (1) no tag here"));
    }

    #[test]
    fn parse_colored() {
        check(
            "\x1b[0;31mE (12) tag: msg\x1b[0m",
            rec(Level::Error, ms(12), "tag", "msg"),
        );
        check(
            "\x1b[0;33mW (13) tag: msg\x1b[0m",
            rec(Level::Warn, ms(13), "tag", "msg"),
        );
        check(
            "\x1b[0;32mI (14) tag: msg\x1b[0m",
            rec(Level::Info, ms(14), "tag", "msg"),
        );
        // Any SGR sequence anywhere goes, including bold/reset-only forms.
        check(
            "\x1b[1mI (15) tag: \x1b[1;4;35mfancy\x1b[m text\x1b[0m",
            rec(Level::Info, ms(15), "tag", "fancy text"),
        );
        // Colour around a non-record line: stripped, kept as Other.
        check("\x1b[0;31mRebooting...\x1b[0m", other("Rebooting..."));
    }

    #[test]
    fn parse_other_lines() {
        for text in [
            "ets Jul 29 2019 12:21:46",
            "rst:0xc (SW_CPU_RESET),boot:0x12 (SPI_FAST_FLASH_BOOT)",
            "rst:0x1 (POWERON_RESET),boot:0x12 (SPI_FAST_FLASH_BOOT)",
            "load:0x3fff0030,len:6380",
            "Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.",
            "abort() was called at PC 0x400d1234 on core 0",
            "Backtrace: 0x400d1234:0x3ffb5f10 0x400d5678:0x3ffb5f30",
            "Rebooting...",
            "Please input ssid password:",
            "I (",
            "I (1234 tag: no closing paren",
            "I (1234)tag: no space after paren",
            "I(1234) tag: no space before paren",
            "i (1234) tag: lower-case letter",
            "X (1234) tag: unknown letter",
            "II (1234) tag: two letters",
            " I (1234) tag: leading space",
            "",
            "\x1b[Kerase line is not colour: kept",
            "é (1) multibyte first char",
        ] {
            check(text, other(text));
        }
    }

    #[test]
    fn strip_ansi_cases() {
        #[track_caller]
        fn check(input: &str, expected: &str, borrowed: bool) {
            let out = strip_ansi(input);
            assert_eq!(out, expected, "input {input:?}");
            assert_eq!(matches!(out, Cow::Borrowed(_)), borrowed, "input {input:?}");
        }
        check("plain", "plain", true);
        check("", "", true);
        check("\x1b[0;31mred\x1b[0m", "red", false);
        check("a\x1b[mb", "ab", false);
        check("a\x1b[38;5;208mb", "ab", false);
        // Not SGR: kept byte for byte.
        check("a\x1b[2Jb", "a\x1b[2Jb", false);
        check("a\x1b", "a\x1b", false);
        check("a\x1b[", "a\x1b[", false);
        check("a\x1b[12", "a\x1b[12", false);
        check("\x1b\x1b[0mx", "\x1bx", false);
    }

    #[test]
    fn render_plain_and_colored() {
        #[track_caller]
        fn check(record: &LogRecord, plain: &str, colored: &str) {
            assert_eq!(record.render(false), plain);
            assert_eq!(record.render(true), colored);
        }
        let r = |level| LogRecord::new(level, ms(12), "tag", "msg");
        check(
            &r(Level::Error),
            "E (12) tag: msg",
            "\x1b[0;31mE (12) tag: msg\x1b[0m",
        );
        check(
            &r(Level::Warn),
            "W (12) tag: msg",
            "\x1b[0;33mW (12) tag: msg\x1b[0m",
        );
        check(
            &r(Level::Info),
            "I (12) tag: msg",
            "\x1b[0;32mI (12) tag: msg\x1b[0m",
        );
        check(&r(Level::Debug), "D (12) tag: msg", "D (12) tag: msg");
        check(&r(Level::Verbose), "V (12) tag: msg", "V (12) tag: msg");
        check(
            &LogRecord::new(Level::Info, clock("12:34:56.789"), "a b", "c"),
            "I (12:34:56.789) a b: c",
            "\x1b[0;32mI (12:34:56.789) a b: c\x1b[0m",
        );
    }

    #[test]
    fn render_round_trip() {
        let records = [
            LogRecord::new(Level::Error, ms(0), "ws_echo_server", "boom"),
            LogRecord::new(Level::Warn, ms(u64::MAX), "esp-tls", "a: b: c"),
            LogRecord::new(Level::Info, clock("12:34:56.789"), "example connect", ""),
            LogRecord::new(Level::Debug, ms(17552), "httpd", "newfd = 57"),
            LogRecord::new(Level::Verbose, ms(5), "", " leading space"),
            LogRecord::new(Level::Info, ms(5), "wifi", "mode : sta (xx)"),
            LogRecord::new(
                Level::Info,
                ms(5),
                "t",
                "Got packet with message: \\xff\\xfe",
            ),
        ];
        for record in records {
            for colors in [false, true] {
                let rendered = record.render(colors);
                assert_eq!(
                    parse_line(&rendered),
                    Line::Log(record.clone()),
                    "rendered {rendered:?}"
                );
            }
            assert_eq!(
                parse_line(&record.render(false)).text(),
                record.render(false)
            );
        }
    }

    #[test]
    fn line_accessors() {
        let log = parse_line("\x1b[0;32mI (1) t: m\x1b[0m");
        assert_eq!(log.text(), "I (1) t: m");
        assert_eq!(log.to_string(), "I (1) t: m");
        assert_eq!(log.as_log().map(|r| r.tag.as_str()), Some("t"));
        let other = parse_line("\x1b[0;31mRebooting...\x1b[0m");
        assert_eq!(other.text(), "Rebooting...");
        assert_eq!(other.as_log(), None);
    }

    #[test]
    fn timestamp_accessors() {
        assert_eq!(ms(7).millis(), Some(7));
        assert_eq!(clock("01:02:03.004").millis(), None);
        assert_eq!(clock("01:02:03.004").to_string(), "01:02:03.004");
        assert_eq!(ms(7).to_string(), "7");
    }

    #[test]
    fn serde_shapes() {
        let line = parse_line("I (12) t: m");
        let json = serde_json::to_string(&line).unwrap();
        assert_eq!(
            json,
            r#"{"level":"info","timestamp":12,"tag":"t","message":"m"}"#
        );
        assert_eq!(serde_json::from_str::<Line>(&json).unwrap(), line);
        let line = parse_line("I (01:02:03.004) t: m");
        let json = serde_json::to_string(&line).unwrap();
        assert!(json.contains(r#""timestamp":"01:02:03.004""#), "{json}");
        assert_eq!(serde_json::from_str::<Line>(&json).unwrap(), line);
        let line = other("Rebooting...");
        let json = serde_json::to_string(&line).unwrap();
        assert_eq!(json, r#""Rebooting...""#);
        assert_eq!(serde_json::from_str::<Line>(&json).unwrap(), line);
    }
}
