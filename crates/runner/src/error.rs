//! Why a run could not go on (as opposed to a scenario that failed).

use esp_ws_dut::{DutError, Hint};

/// An instance could not be started, did not become ready, or is gone.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Start(#[from] DutError),
    /// The firmware crashed or its process ended while it was starting.
    #[error("{what} while starting{}{}", quote(lines), log_hint(log))]
    CrashedWhileStarting {
        what: String,
        lines: Vec<String>,
        log: Option<String>,
    },
    /// The boot log never showed a ready line.
    #[error(
        "{label}: not ready after {waited}: the serial log never showed /{marker}/; {}{}{}",
        tail_text(tail),
        hint.as_ref().map(|h| format!("\n  {h}")).unwrap_or_default(),
        log_hint(log)
    )]
    NotReady {
        label: String,
        waited: String,
        marker: String,
        tail: Vec<String>,
        hint: Option<Hint>,
        log: Option<String>,
    },
    /// Its port never served (a forwarded port with nobody behind it).
    #[error(
        "{label}: {addr} did not serve after {attempts} attempts (last: {last}){}",
        log_hint(log)
    )]
    NotServed {
        label: String,
        addr: std::net::SocketAddr,
        attempts: u32,
        last: String,
        log: Option<String>,
    },
    /// An attached firmware never completed a WebSocket handshake.
    #[error(
        "{label}: {addr} did not complete a WebSocket handshake on {path} after {attempts} attempts (last: {last}){}",
        hint.as_ref().map(|h| format!("\n  {h}")).unwrap_or_default()
    )]
    NoHandshake {
        label: String,
        addr: std::net::SocketAddr,
        /// The route tried (the profile's).
        path: String,
        attempts: u32,
        last: String,
        hint: Option<Hint>,
    },
    /// A crashed firmware did not come back.
    #[error("{what}; it did not reboot{}", within.as_ref().map(|w| format!(" within {w}")).unwrap_or_default())]
    NoReboot {
        what: String,
        /// None when the target is gone for good (nothing to wait for).
        within: Option<String>,
    },
    /// The firmware's process ended without a panic.
    #[error("{0}")]
    Ended(String),
    #[error("after a reboot: {0}")]
    AfterReboot(Box<RunError>),
    /// esp-ws cannot listen where a firmware that dials out must reach it.
    #[error("{0}")]
    Listen(String),
    #[error("a worker failed: {0}")]
    Worker(String),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Several(Vec<RunError>),
}

fn quote(lines: &[String]) -> String {
    lines.iter().map(|l| format!("\n    {l}")).collect()
}

fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        "it printed nothing".to_string()
    } else {
        format!("its last lines:{}", quote(tail))
    }
}

fn log_hint(log: &Option<String>) -> String {
    log.as_ref()
        .map(|l| format!("\n  full log: {l}"))
        .unwrap_or_default()
}

impl RunError {
    /// The target error behind it, if there is one (the CLI names the
    /// setting it is about).
    pub fn dut_error(&self) -> Option<&DutError> {
        match self {
            RunError::Start(e) => Some(e),
            RunError::AfterReboot(e) => e.dut_error(),
            _ => None,
        }
    }

    /// What the target could tell about why it is not ready.
    pub fn hint(&self) -> Option<&Hint> {
        match self {
            RunError::NotReady { hint, .. } | RunError::NoHandshake { hint, .. } => hint.as_ref(),
            RunError::AfterReboot(e) => e.hint(),
            _ => None,
        }
    }
}
