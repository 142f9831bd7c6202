//! A TCP proxy of esp-ws's own that makes a link behave like Wi-Fi (or
//! worse) on one machine, where the kernel offers no netem: per-write delay
//! and jitter, writes cut into small pieces (so that a frame header reaches
//! the firmware over many reads), a bandwidth limit, a stall, a reset in
//! the middle of a frame. It sits between the scripted client and any
//! target, and keeps how each side closes (FIN or RST) visible to the other.

pub mod proxy;
pub mod spec;

pub use proxy::{Proxy, Stats};
pub use spec::{Direction, Impairment, SpecError};
