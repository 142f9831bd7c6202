//! ESP-IDF log levels.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// An ESP-IDF log level, ordered from most to least severe.
///
/// The ordering matches `esp_log_level_t` (`ESP_LOG_ERROR` = 1 …
/// `ESP_LOG_VERBOSE` = 5), so "more verbose" compares greater and a threshold
/// check is a plain `<=` (see [`Level::shows_at`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
    Verbose,
}

impl Level {
    /// All levels, most severe first.
    pub const ALL: [Level; 5] = [
        Level::Error,
        Level::Warn,
        Level::Info,
        Level::Debug,
        Level::Verbose,
    ];

    /// The letter ESP-IDF prints at the start of a record.
    pub fn letter(self) -> char {
        match self {
            Level::Error => 'E',
            Level::Warn => 'W',
            Level::Info => 'I',
            Level::Debug => 'D',
            Level::Verbose => 'V',
        }
    }

    /// The level for a record's leading letter. Only the upper-case letters
    /// are accepted: that is all ESP-IDF prints, and accepting `i (` would
    /// turn ordinary text into bogus records.
    pub fn from_letter(c: char) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.letter() == c)
    }

    /// Lower-case name, as used in configuration and serialized forms.
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Verbose => "verbose",
        }
    }

    /// Whether a record of this level is printed when the log threshold is
    /// `threshold` (ESP-IDF semantics: a threshold shows itself and every
    /// more severe level, so threshold `Info` shows E, W and I).
    pub fn shows_at(self, threshold: Level) -> bool {
        self <= threshold
    }

    /// The SGR colour code ESP-IDF uses with `CONFIG_LOG_COLORS`
    /// (`LOG_COLOR_E` etc.); debug and verbose are printed uncoloured.
    pub fn ansi_color(self) -> Option<&'static str> {
        match self {
            Level::Error => Some("31"),
            Level::Warn => Some("33"),
            Level::Info => Some("32"),
            Level::Debug | Level::Verbose => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error returned when a string names no log level.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid log level {input:?}: expected one of error, warn (or warning), info, debug, verbose, or a single letter E, W, I, D, V (case-insensitive)"
)]
pub struct ParseLevelError {
    input: String,
}

impl ParseLevelError {
    /// The string that was rejected.
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl FromStr for Level {
    type Err = ParseLevelError;

    /// Accepts the names, `warning` (people write both), and the single
    /// letters ESP-IDF prints, all case-insensitively, because these come
    /// from command lines and scenario files written by hand.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let level = match s.to_ascii_lowercase().as_str() {
            "error" | "e" => Level::Error,
            "warn" | "warning" | "w" => Level::Warn,
            "info" | "i" => Level::Info,
            "debug" | "d" => Level::Debug,
            "verbose" | "v" => Level::Verbose,
            _ => {
                return Err(ParseLevelError {
                    input: s.to_owned(),
                });
            }
        };
        Ok(level)
    }
}

impl Serialize for Level {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

// Hand-written rather than derived so that deserialization accepts exactly
// what `FromStr` accepts (aliases, letters, any case) and reports the same
// helpful message.
impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LevelVisitor;

        impl Visitor<'_> for LevelVisitor {
            type Value = Level;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a log level: error, warn, info, debug or verbose")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Level, E> {
                v.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_str(LevelVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_severity() {
        assert!(Level::Error < Level::Warn);
        assert!(Level::Warn < Level::Info);
        assert!(Level::Info < Level::Debug);
        assert!(Level::Debug < Level::Verbose);
        let mut sorted = Level::ALL;
        sorted.sort();
        assert_eq!(sorted, Level::ALL);
    }

    #[test]
    fn letters_round_trip() {
        let letters: String = Level::ALL.iter().map(|l| l.letter()).collect();
        assert_eq!(letters, "EWIDV");
        for level in Level::ALL {
            assert_eq!(Level::from_letter(level.letter()), Some(level));
        }
        assert_eq!(Level::from_letter('i'), None);
        assert_eq!(Level::from_letter('X'), None);
    }

    #[test]
    fn names_and_display() {
        let names: Vec<_> = Level::ALL.iter().map(|l| l.to_string()).collect();
        assert_eq!(names, ["error", "warn", "info", "debug", "verbose"]);
    }

    #[test]
    fn shows_at_threshold() {
        #[track_caller]
        fn check(threshold: Level, expected: &str) {
            let shown: String = Level::ALL
                .iter()
                .filter(|l| l.shows_at(threshold))
                .map(|l| l.letter())
                .collect();
            assert_eq!(shown, expected, "threshold {threshold}");
        }
        check(Level::Error, "E");
        check(Level::Warn, "EW");
        check(Level::Info, "EWI");
        check(Level::Debug, "EWID");
        check(Level::Verbose, "EWIDV");
    }

    #[test]
    fn colors() {
        let colors: Vec<_> = Level::ALL.iter().map(|l| l.ansi_color()).collect();
        assert_eq!(colors, [Some("31"), Some("33"), Some("32"), None, None]);
    }

    #[test]
    fn from_str() {
        #[track_caller]
        fn check(input: &str, expected: Option<Level>) {
            assert_eq!(input.parse::<Level>().ok(), expected, "input {input:?}");
        }
        check("error", Some(Level::Error));
        check("ERROR", Some(Level::Error));
        check("E", Some(Level::Error));
        check("e", Some(Level::Error));
        check("warn", Some(Level::Warn));
        check("Warning", Some(Level::Warn));
        check("w", Some(Level::Warn));
        check("info", Some(Level::Info));
        check("I", Some(Level::Info));
        check("debug", Some(Level::Debug));
        check("d", Some(Level::Debug));
        check("verbose", Some(Level::Verbose));
        check("V", Some(Level::Verbose));
        check("", None);
        check("none", None);
        check("inf", None);
        check(" info", None);
    }

    #[test]
    fn parse_error_lists_valid_names() {
        let err = "loud".parse::<Level>().unwrap_err();
        assert_eq!(err.input(), "loud");
        let msg = err.to_string();
        for name in ["\"loud\"", "error", "warn", "info", "debug", "verbose"] {
            assert!(msg.contains(name), "{msg:?} lacks {name}");
        }
    }

    #[test]
    fn serde_names_and_aliases() {
        assert_eq!(serde_json::to_string(&Level::Warn).unwrap(), "\"warn\"");
        let all: Vec<Level> =
            serde_json::from_str(r#"["error","WARNING","info","d","Verbose"]"#).unwrap();
        assert_eq!(all, Level::ALL);
        for level in Level::ALL {
            let json = serde_json::to_string(&level).unwrap();
            assert_eq!(json, format!("\"{}\"", level.name()));
            assert_eq!(serde_json::from_str::<Level>(&json).unwrap(), level);
        }
        let err = serde_json::from_str::<Level>("\"loud\"").unwrap_err();
        assert!(err.to_string().contains("verbose"), "{err}");
        assert!(serde_json::from_str::<Level>("3").is_err());
    }
}
