//! Targets: start one, get its WebSocket endpoint and its serial stream,
//! stop it. The simulator runs in-process; child processes (QEMU, a
//! linux-target firmware, `esp-ws sim` itself) and boards plug in here too.

pub mod instance;
pub mod serial;
pub mod sim;

pub use instance::{Instance, Settled};
pub use serial::{SerialLine, SerialLog};
pub use sim::{SimHost, SimOptions};
