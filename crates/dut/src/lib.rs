//! Targets: start one, get its WebSocket endpoint and its serial stream,
//! stop it. The simulator runs in-process; child processes (QEMU, a
//! linux-target firmware, `esp-ws sim` itself) are supervised so that none
//! outlives esp-ws.

pub mod board;
pub mod instance;
pub mod process;
pub mod qemu;
pub mod serial;
pub mod sim;

pub use board::{BoardConfig, SerialConfig, WifiCredentials};
pub use instance::{
    Crash, ExecConfig, Instance, QemuConfig, Settled, StartedQemu, panic_marker, spawn_qemu,
};
pub use serial::{SerialLine, SerialLog};
pub use sim::{SimHost, SimOptions};
