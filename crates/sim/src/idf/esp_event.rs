//! ESP-IDF's esp_event, as far as the model needs it.

use crate::chip::console::Console;
use crate::idf::esp_netif::ip;
use crate::idf::protocol_examples_common::NetIdentity;
use crate::log;

/// The address esp_event prints for the default event loop (`posted to loop
/// %p`). It is a heap pointer that differs per build and per run; the value
/// only has to look like an ESP32 DRAM address, and snapshots normalise it.
pub const DEFAULT_EVENT_LOOP_ADDR: &str = "0x3ffb9d74";

/// ESP-IDF v3.0 event_default_handlers.c `system_event_sta_got_ip_default()`
/// (line 142, fact sheet lwip-netconn-ws-server.md section 2): the station
/// got its address. Before esp_netif (v4.1), the default event handler
/// printed it with the tag `event`.
pub fn system_event_sta_got_ip_default(con: &Console, net: &NetIdentity) {
    log!(
        con,
        Info,
        "event",
        "sta ip: {}, mask: {}, gw: {}",
        ip(net.ip),
        ip(net.mask),
        ip(net.gw)
    );
}
