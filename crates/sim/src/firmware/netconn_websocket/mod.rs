//! The lwIP netconn WebSocket server of the "Chapter 18" tutorial (HX /
//! xiaolongba's copy of Thomas Barth's WebSockets-on-the-ESP32), as its
//! code behaves: `main.c` of the tutorial's variant here, `WebSocket_Task.c`
//! in [`websocket_task`]. Facts: the fact sheet
//! lwip-netconn-ws-server.md (sections named in the code) and seed 003.
//!
//! Built on ESP-IDF v3.0 (inferred in the sheet, section 1): the chip,
//! its lwIP netconn API and its default event handler. The firmware prints
//! no `ESP_LOGx` line of its own; its console shows the station's address
//! (ESP-IDF's event handler) and one `printf` line per TEXT message.

pub mod websocket_task;

use std::sync::Arc;

use super::{Context, Firmware, Spec};
use crate::chip::Services;
use crate::idf::esp_event::system_event_sta_got_ip_default;
use websocket_task::{WebSocketFrame, WebSocketTask};

/// The LED of the tutorial's board: GPIO2, active low (`LED_ON()` drives
/// it to 0, `LED_OFF()` to 1; sheet section 7).
pub const LED_GPIO: u32 = 2;

/// The firmware as a profile names it. It takes no host options.
pub fn spec() -> Spec {
    Spec::new("netconn_websocket", |_options| Arc::new(NetconnWebSocket))
}

pub struct NetconnWebSocket;

impl Firmware for NetconnWebSocket {
    /// `app_main()` of the variant's main.c (sheet section 2): NVS,
    /// `tcpip_adapter_init()`, `esp_event_loop_init()` with a handler that
    /// does nothing, Wi-Fi in station mode with hard-coded credentials and
    /// `esp_wifi_connect()`, GPIO2 as an output, then the two tasks. The
    /// Wi-Fi driver's own lines come from closed-source libraries and
    /// depend on the chip and the access point, so the model prints none;
    /// the default event handler prints the address once DHCP has given
    /// one, after the tasks are up (it takes a board seconds).
    fn app_main(&self, ctx: &Context<'_>) {
        let chip = ctx.chip.clone();
        // `WebSocket_rx_queue = xQueueCreate(10, sizeof(WebSocket_frame_t))`
        // is done by the receive task in C; creating it here only makes it
        // reachable from both tasks in the model (no queue item can come
        // before both run).
        let rx_queue = chip.queue_create::<WebSocketFrame>(10);
        let server = WebSocketTask::new(ctx.lwip.clone(), rx_queue);
        {
            let server = server.clone();
            let chip = chip.clone();
            chip.clone().create_task("ws_process_rx", move || {
                task_process_websocket(&chip, &server);
            });
        }
        {
            let server = server.clone();
            chip.create_task("ws_server", move || server.ws_server());
        }
        system_event_sta_got_ip_default(chip.console(), ctx.net);
    }
}

/// `task_process_WebSocket()` (the "ws_process_rx" task): for every TEXT
/// frame the server task queued, the console line, then `ON…` turns the
/// LED on, `OFF…` turns it off, anything else is echoed (sheet section 7).
/// The C task polls the queue every 30 ticks; an item is handled as soon
/// as it arrives either way.
fn task_process_websocket(chip: &Services, server: &WebSocketTask) {
    while let Some(frame) = server.rx_queue.receive() {
        let len = frame.payload_length;
        // `%.*s`: at most `len` bytes, and not past a NUL.
        let shown = &frame.payload[..len.min(frame.payload.len())];
        let shown = match shown.iter().position(|&b| b == 0) {
            Some(n) => &shown[..n],
            None => shown,
        };
        let mut line = format!("Websocket Data Length {len}, Data: ").into_bytes();
        line.extend_from_slice(shown);
        line.extend_from_slice(b" \r\n");
        chip.console().printf(&line);
        // memcmp() of 2 or 3 bytes: on a shorter payload it reads past the
        // buffer (inferred, sheet 7); the model reads zeros there.
        let starts = |prefix: &[u8]| {
            (0..prefix.len()).all(|i| frame.payload.get(i).copied().unwrap_or(0) == prefix[i])
        };
        if starts(b"ON") {
            chip.gpio_set_level(LED_GPIO, 0);
        } else if starts(b"OFF") {
            chip.gpio_set_level(LED_GPIO, 1);
        } else {
            // The return value is ignored: longer than 125 bytes cannot
            // happen (such frames are never queued).
            let _ = server.ws_write_data(&frame.payload[..len.min(frame.payload.len())]);
        }
    }
}
