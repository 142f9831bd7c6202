//! Devices under test: the seam between the runner and whatever runs the
//! firmware.
//!
//! A [`Target`] is a kind of device, configured (the simulator with a
//! profile, a program, Espressif's QEMU with an image, a board at an
//! address); it starts instances. A [`Dut`] is one running instance: where
//! WebSocket clients reach it, its serial log, how to tell that it settled,
//! whether it ended, how to stop it. The runner knows devices only through
//! these two traits and the generic [`Instance`] around a `Dut` (crash
//! detection from the serial log, reboots, the impairment proxy). A new
//! kind of device is one new file here that implements both.
//!
//! Either side may dial: a firmware that serves WebSocket gives an
//! [`Dut::endpoint`]; one that dials out is told where to, in
//! [`StartContext::dial`], and gives none.
//!
//! Child processes are supervised ([`process`], the one place that spawns)
//! so that none outlives esp-ws.

pub mod board;
pub mod error;
pub mod exec;
pub mod instance;
pub mod process;
pub mod qemu;
pub mod serial;
pub mod sim;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::future::BoxFuture;

pub use board::{BoardConfig, BoardTarget, SerialConfig, WifiCredentials};
pub use error::{DutError, Setting};
pub use exec::{ExecConfig, ExecTarget};
pub use instance::{Crash, Instance, panic_marker};
pub use process::Stopped;
pub use qemu::{QemuConfig, QemuTarget, StartedQemu, spawn_qemu};
pub use serial::{SerialLine, SerialLog};
pub use sim::{SimHost, SimOptions, SimTarget};

pub use esp_ws_log::Level;

/// A kind of device under test, configured: it starts instances.
pub trait Target: Send + Sync {
    /// Short name, the prefix of instance labels (`sim`, `qemu`).
    fn kind(&self) -> &'static str;

    /// What runs, for the run's first line ("the simulator (v5.5.5)").
    fn describe(&self) -> String;

    /// How many instances may run at once, if the target limits it, and why.
    fn max_instances(&self) -> Option<(usize, String)> {
        None
    }

    /// How the firmware is reached.
    fn link(&self) -> Link {
        Link::Loopback
    }

    /// For a firmware that dials out: where esp-ws listens for it unless
    /// the user says (`None`: the user must say, e.g. a board's LAN
    /// address). `firmware_port` is the profile's port, for a firmware
    /// whose configured URI fixes it. The default: loopback, a free port
    /// (the firmware is given the URI when it starts).
    fn listen_default(&self, firmware_port: u16) -> Option<SocketAddr> {
        let _ = firmware_port;
        Some(SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// For a firmware that dials out: the `host:port` it reaches esp-ws
    /// at, listening on `addr` (the default: `addr` itself).
    fn dial_host(&self, addr: SocketAddr) -> String {
        addr.to_string()
    }

    /// Starts one instance. It is not ready yet: the runner waits as
    /// [`Dut::readiness`] says.
    fn start(&self, ctx: StartContext) -> BoxFuture<'_, Result<Box<dyn Dut>, DutError>>;
}

/// How esp-ws reaches a firmware.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Link {
    /// On this machine: fast and even.
    Loopback,
    /// Over a real network (a board on Wi-Fi): slower and less even, so
    /// timeouts stretch and connections are retried.
    Network,
}

/// What an instance is started with.
#[derive(Clone, Debug)]
pub struct StartContext {
    /// `sim#1`, `qemu#2`: names the instance in messages.
    pub label: String,
    /// The instance's folder in the run's artifacts, if there is one.
    pub dir: Option<PathBuf>,
    /// For a firmware that dials out: where esp-ws listens for it.
    pub dial: Option<Dial>,
}

/// Where a firmware that dials out must connect (esp-ws plays the server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dial {
    pub addr: SocketAddr,
    /// The WebSocket URI (`ws://127.0.0.1:PORT/PATH`).
    pub uri: String,
}

/// When an instance counts as ready.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// It boots now: its serial log must show the firmware's ready lines.
    /// With `probe`, its port is then probed too (a forwarded port accepts
    /// connections before the firmware listens behind it).
    BootLog { probe: bool },
    /// It is already running (attached to, its boot log gone): ready when
    /// it completes a WebSocket handshake.
    Handshake,
}

/// Why a firmware may not be getting ready, as a target can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hint {
    /// It waits at its Wi-Fi credentials prompt (this text).
    WifiPrompt(&'static str),
}

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hint::WifiPrompt(p) => write!(f, "the firmware asks for Wi-Fi credentials ({p:?})"),
        }
    }
}

/// What a finished settle reports.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// The target says it has nothing left to do (exact, simulator only).
    Idle,
    /// No serial output for the quiet period.
    Quiet,
    /// The deadline passed first.
    TimedOut,
}

/// What a client has written on one connection, for [`Dut::sync`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The client's end of the connection (for a connection the firmware
    /// dialed, where esp-ws is the server: the firmware's end, the address
    /// the server's `accept()` reported).
    pub from: std::net::SocketAddr,
    /// Bytes written on it so far.
    pub bytes: u64,
}

/// One running device under test.
pub trait Dut: Send + Sync {
    fn label(&self) -> &str;

    /// Where the firmware serves WebSocket; `None` when it dials out.
    fn endpoint(&self) -> Option<SocketAddr>;

    /// Its serial console, as lines (empty when it has none).
    fn serial(&self) -> &SerialLog;

    /// False when no serial log is captured (a board without its port).
    fn has_serial_log(&self) -> bool {
        true
    }

    /// Its folder in the run's artifacts.
    fn dir(&self) -> Option<&Path>;

    fn readiness(&self) -> Readiness {
        Readiness::BootLog { probe: true }
    }

    /// The log level the firmware was built with, when the target knows it
    /// (the simulator does; real firmware shows it in its log).
    fn log_level(&self) -> Option<Level> {
        None
    }

    /// How the firmware ended, once it has for good (a process that exited,
    /// a chip halted after a panic): one line, with the process's last words.
    fn ended(&self) -> Option<String>;

    /// For a process whose output ended: waits (bounded) for its exit
    /// status, which is recorded a moment after its pipes close.
    fn wait_exit(&self, _timeout: Duration) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// Waits until the firmware has finished reacting to everything done to
    /// it, at most `max`. The default: a quiet serial log.
    fn settle(&self, max: Duration) -> BoxFuture<'_, Settled> {
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + max;
            if self
                .serial()
                .wait_quiet(Duration::from_millis(500), deadline)
                .await
            {
                Settled::Quiet
            } else {
                Settled::TimedOut
            }
        })
    }

    /// Waits until the firmware has processed what it was sent so far, when
    /// the target can tell (the simulator); otherwise returns at once.
    /// `sent` names a connection (by the client's address) and how many
    /// bytes the client has written on it: those are first waited for, so
    /// bytes still on their way count as unprocessed.
    fn sync(&self, _max: Duration, _sent: Option<Sent>) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// Advice for a firmware that does not become ready (it waits at a
    /// prompt, say).
    fn hint(&self) -> Option<Hint> {
        None
    }

    /// The process behind it, if there is one.
    fn pid(&self) -> Option<i32> {
        None
    }

    /// Stops it: the simulator is powered off, a process is stopped by
    /// escalation (each stage bounded), a board is let go.
    fn stop(self: Box<Self>) -> BoxFuture<'static, Option<Stopped>>;
}

/// A free TCP port on loopback (bound and released: the caller must cope
/// with losing the race, e.g. QEMU's hostfwd error).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Creates an instance's artifacts folder.
pub(crate) fn create_dir(label: &str, dir: &Path) -> Result<(), DutError> {
    std::fs::create_dir_all(dir).map_err(|source| DutError::CreateDir {
        label: label.to_string(),
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes one file of an instance's artifacts.
pub(crate) fn write_file(label: &str, path: &Path, bytes: &[u8]) -> Result<(), DutError> {
    std::fs::write(path, bytes).map_err(|source| DutError::Write {
        label: label.to_string(),
        path: path.to_path_buf(),
        source,
    })
}

/// The artifacts folder a kind that keeps files needs.
pub(crate) fn required_dir(ctx: &StartContext, kind: &'static str) -> Result<PathBuf, DutError> {
    let dir = ctx.dir.clone().ok_or_else(|| DutError::NoArtifactsDir {
        label: ctx.label.clone(),
        kind,
    })?;
    create_dir(&ctx.label, &dir)?;
    Ok(dir)
}
