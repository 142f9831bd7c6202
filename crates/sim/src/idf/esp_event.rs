//! ESP-IDF's esp_event, as far as the model needs it.

/// The address esp_event prints for the default event loop (`posted to loop
/// %p`). It is a heap pointer that differs per build and per run; the value
/// only has to look like an ESP32 DRAM address, and snapshots normalise it.
pub const DEFAULT_EVENT_LOOP_ADDR: &str = "0x3ffb9d74";
