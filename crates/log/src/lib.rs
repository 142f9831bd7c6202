//! ESP-IDF serial console output (UART0 text), as printed by the `ESP_LOGx`
//! macros: splitting a byte stream into lines, parsing lines into log
//! records, rendering records back (with or without ANSI colours), and
//! normalizing lines so that two runs of the same firmware can be compared.
//!
//! A record looks like `I (1234) ws_echo_server: Starting server on port: '80'`;
//! everything else on the console (ROM bootloader banners, panic dumps,
//! prompts) is kept verbatim as [`Line::Other`].
//!
//! The crate is pure logic: no I/O, no processes, no sockets, no async. The
//! crates that own a serial port, a simulator or a report feed it bytes and
//! strings, which keeps everything here deterministic and unit-testable.

mod level;
mod normalize;
mod raw;
mod record;

pub use level::{Level, ParseLevelError};
pub use normalize::{Normalizer, Rule};
pub use raw::{LineSplitter, RawLine};
pub use record::{Line, LogRecord, Timestamp, parse_line, strip_ansi};
