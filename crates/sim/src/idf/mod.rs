//! ESP-IDF's components, each calling down to the chip or through callbacks
//! registered with it, never naming a firmware.

pub mod release;

pub use release::Release;
