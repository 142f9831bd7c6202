//! Why a target could not be started or used.

use std::path::PathBuf;

/// A setting the user gave that an error is about, so that the front end
/// can name it the way the user wrote it (the CLI's flags live in the CLI).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Setting {
    /// The board's network address.
    Host,
    /// The board's serial port.
    SerialPort,
    /// Resetting the board through its serial port.
    Reset,
}

/// Starting or driving a target failed.
#[derive(Debug, thiserror::Error)]
pub enum DutError {
    #[error("{label}: cannot create {}: {source}", path.display())]
    CreateDir {
        label: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{label}: cannot write {}: {source}", path.display())]
    Write {
        label: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{label}: a {kind} target needs an artifacts folder (its command line and logs go there)"
    )]
    NoArtifactsDir { label: String, kind: &'static str },
    #[error("{label}: no free port on loopback: {source}")]
    NoFreePort {
        label: String,
        source: std::io::Error,
    },
    #[error("{label}: cannot start the simulator: {source}")]
    Simulator {
        label: String,
        source: std::io::Error,
    },
    #[error("{label}: {source}")]
    Spawn {
        label: String,
        source: std::io::Error,
    },
    #[error("{label}: QEMU exited at start ({status}):\n{stderr}\n  command: {command}")]
    QemuExited {
        label: String,
        status: String,
        stderr: String,
        command: String,
    },
    #[error("{label}: QEMU could not forward a host port in 3 attempts: {last}")]
    QemuPorts { label: String, last: String },
    #[error("{host}: {reason}")]
    Host { host: String, reason: String },
    #[error("{}: cannot open it: {source}", path.display())]
    SerialOpen {
        path: PathBuf,
        source: serialport::Error,
    },
    #[error("{}: {what}: {source}", path.display())]
    SerialIo {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error(
        "{} refuses to set {line} ({source}); a pseudo-terminal or a bridge without modem-control lines cannot reset the board: reset it by hand and start without a reset",
        path.display()
    )]
    SerialReset {
        path: PathBuf,
        line: &'static str,
        source: serialport::Error,
    },
    #[error(
        "resetting the board needs its serial port (the reset goes through its RTS and DTR lines)"
    )]
    ResetWithoutSerial,
    #[error("{label}: cannot start the impairment proxy: {source}")]
    Proxy {
        label: String,
        source: std::io::Error,
    },
    #[error("{label}: {what}")]
    Unsupported { label: String, what: String },
}

impl DutError {
    /// The user's setting the error is about, if one is.
    pub fn setting(&self) -> Option<Setting> {
        match self {
            DutError::Host { .. } => Some(Setting::Host),
            DutError::SerialOpen { .. } | DutError::SerialIo { .. } => Some(Setting::SerialPort),
            DutError::SerialReset { .. } | DutError::ResetWithoutSerial => Some(Setting::Reset),
            _ => None,
        }
    }
}
