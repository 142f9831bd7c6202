//! An executable model of ESP-IDF's `esp_http_server` WebSocket support and
//! the `ws_echo_server` example, as the firmware behaves and logs on an
//! ESP32: quirks and known bugs included. Where RFC 6455 and esp_http_server
//! disagree, this does what esp_http_server does.
//!
//! The model does no I/O of its own. A host feeds [`lwip::Lwip`] with TCP
//! connections and bytes and receives what the firmware sends through a
//! [`lwip::Wire`]; the serial console goes to a [`console::SerialSink`].
//! Every log line the model prints is one that ESP-IDF prints, and the code
//! names the C function it comes from.

pub mod app;
pub mod chip;
pub mod console;
pub mod http_parser;
pub mod httpd;
pub mod lwip;
pub mod profile;

pub use chip::{Chip, ChipConfig, Fault, NetIdentity};
pub use console::{Level, SerialSink};
pub use lwip::{ConnId, Lwip, Wire};
pub use profile::Profile;
