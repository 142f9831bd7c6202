//! `esp-ws conform`: an RFC 6455 conformance suite for WebSocket servers,
//! firmware-agnostic, run against any target through the device-under-test
//! seam.
//!
//! - [`case`] and [`table`]: the cases as data (pure): what each sends,
//!   what RFC 6455 requires and how it is judged; numbered as
//!   Autobahn|Testsuite's server-side categories.
//! - [`drive`]: runs cases against instances (the runner's start, ready
//!   and recovery code), one fresh connection per case, and records what
//!   happened ([`record`]) with the serial lines the case caused.
//! - [`judge`]: what was sent and received in, Autobahn's verdicts out
//!   (pure).
//! - [`baseline`]: recorded verdicts and the comparison that finds
//!   regressions.
//! - [`report`]: Markdown, HTML, JSON per case, JUnit XML.

pub mod baseline;
pub mod case;
pub mod drive;
pub mod judge;
pub mod record;
pub mod report;
pub mod table;

pub use baseline::{Baseline, Comparison};
pub use case::{Case, Category};
pub use drive::{CaseResult, DriveOptions, run_all, run_case, select};
pub use judge::{Behavior, CloseBehavior, Verdict, judge};
