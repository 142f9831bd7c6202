//! The example app of esp_websocket_client 1.8.0 (esp-protocols tag
//! websocket-v1.8.0, components/esp_websocket_client/examples/linux/main/
//! websocket_linux.c), built for an ESP32 on ESP-IDF v5.5.5 with
//! CONFIG_WEBSOCKET_URI set to the host's URI. Facts: the fact sheet
//! (../shared/reference/esp-websocket-client.md), section 2 for the app.
//!
//! What differs from the recorded linux build, and is modelled as the
//! ESP32 does it (sheet section 1): timestamps are milliseconds since boot
//! (the chip's console), `[APP] Free memory` prints the chip's free heap,
//! and `example_connect()` brings the network up (its lines) where the
//! linux build printed `esp_netif_loopback: loopback initialization`.
//!
//! The example raises `websocket_client`, `transport_ws` and `trans_tcp` to
//! DEBUG with `esp_log_level_set()`; on an ESP32 that cannot go above
//! CONFIG_LOG_MAXIMUM_LEVEL, which defaults to the default level (INFO), so
//! the model shows those D lines only when the host asks for debug level.

use std::sync::Arc;
use std::time::Duration;

use super::{Context, Firmware, Options, Spec};
use crate::chip::Services;
use crate::chip::console::{Level, Record};
use crate::idf::esp_websocket_client::{Client, Config, ErrorType, Event, EventData};
use crate::idf::protocol_examples_common::example_connect;
use crate::log;

const TAG: &str = "websocket";

/// The firmware as a profile names it, built with the ESP-IDF version
/// string `esp_get_idf_version()` returns.
pub fn spec(idf_version: &'static str) -> Spec {
    Spec::new("websocket_client_example", move |options: &Options| {
        Arc::new(WebsocketClientExample {
            idf_version,
            uri: options.uri.clone().unwrap_or_default(),
            destroy_after: options.destroy_after,
        })
    })
    .dialing_out()
}

pub struct WebsocketClientExample {
    idf_version: &'static str,
    /// CONFIG_WEBSOCKET_URI.
    uri: String,
    /// The host's `--destroy-after`: the client is destroyed no earlier
    /// than this long after boot (None: as shipped, right after the
    /// example's last send).
    destroy_after: Option<Duration>,
}

impl Firmware for WebsocketClientExample {
    /// `main()` of websocket_linux.c, which is `app_main()` on an ESP32.
    fn app_main(&self, ctx: &Context<'_>) {
        let chip = ctx.chip;
        let con = chip.console();
        log!(con, Info, TAG, "[APP] Startup..");
        log!(
            con,
            Info,
            TAG,
            "[APP] Free memory: {} bytes",
            chip.free_heap_size()
        );
        log!(con, Info, TAG, "[APP] IDF version: {}", self.idf_version);
        // esp_log_level_set(...): see the module's notes. esp_netif_init()
        // and esp_event_loop_create_default() print nothing.
        if !example_connect(chip, ctx.idf.startup, ctx.net, ctx.network) {
            return;
        }
        // app_main() returns only after the client is destroyed; the boot
        // is over for a host once the network is up.
        chip.app_started();
        self.websocket_app_start(chip, ctx);
    }
}

impl WebsocketClientExample {
    /// `websocket_app_start()`.
    fn websocket_app_start(&self, chip: &Services, ctx: &Context<'_>) {
        let con = chip.console();
        log!(con, Info, TAG, "Connecting to {}...", self.uri);
        let Some(client) = Client::init(
            chip,
            ctx.lwip.clone(),
            &Config {
                uri: self.uri.clone(),
                ..Config::default()
            },
        ) else {
            return;
        };
        client.append_header("HeaderNewKey", "value");
        {
            let chip = chip.clone();
            client.register_events(Arc::new(move |event, data: &EventData| {
                websocket_event_handler(&chip, event, data)
            }));
        }
        client.start();
        // Once a second: "hello 0000" as soon as the client is connected.
        let mut i = 0;
        while i < 1 {
            if client.is_connected() {
                let text = format!("hello {i:04}");
                i += 1;
                log!(con, Info, TAG, "Sending {text}");
                client.send_text(text.as_bytes());
            }
            chip.delay(Duration::from_millis(1000));
            if chip.halting() {
                return;
            }
        }
        log!(con, Info, TAG, "Sending fragmented text message");
        client.send_text_partial(&[b'a'; 32]);
        client.send_cont_msg(&[b'b'; 32]);
        client.send_fin();
        chip.delay(Duration::from_millis(1000));
        log!(con, Info, TAG, "Sending fragmented binary message");
        client.send_bin_partial(&[0u8; 128]);
        client.send_cont_msg(&[1u8; 128]);
        client.send_fin();
        if let Some(after) = self.destroy_after {
            let left = after.saturating_sub(chip.uptime());
            if !left.is_zero() {
                chip.delay(left);
            }
        }
        if chip.halting() {
            return;
        }
        client.destroy();
    }
}

/// `log_error_if_nonzero()`.
fn log_error_if_nonzero(chip: &Services, message: &str, code: i32) {
    if code != 0 {
        log!(
            chip.console(),
            Error,
            TAG,
            "Last error {message}: 0x{code:x}"
        );
    }
}

/// The error lines of ERROR and DISCONNECTED.
fn log_errors(chip: &Services, data: &EventData) {
    let e = &data.error_handle;
    log_error_if_nonzero(chip, "HTTP status code", e.esp_ws_handshake_status_code);
    if e.error_type == ErrorType::TcpTransport {
        log_error_if_nonzero(chip, "reported from esp-tls", e.esp_tls_last_esp_err);
        log_error_if_nonzero(chip, "reported from tls stack", e.esp_tls_stack_err);
        log_error_if_nonzero(
            chip,
            "captured as transport's socket errno",
            e.esp_transport_sock_errno,
        );
    }
}

/// `websocket_event_handler()`: no case for CLOSED or BEFORE_CONNECT
/// (sheet section 2).
fn websocket_event_handler(chip: &Services, event: Event, data: &EventData) {
    let con = chip.console();
    match event {
        Event::Begin => log!(con, Info, TAG, "WEBSOCKET_EVENT_BEGIN"),
        Event::Connected => log!(con, Info, TAG, "WEBSOCKET_EVENT_CONNECTED"),
        Event::Disconnected => {
            log!(con, Info, TAG, "WEBSOCKET_EVENT_DISCONNECTED");
            log_errors(chip, data);
        }
        Event::Data => {
            log!(con, Info, TAG, "WEBSOCKET_EVENT_DATA");
            log!(con, Info, TAG, "Received opcode={}", data.op_code);
            if data.op_code == 0x08 && data.data.len() == 2 {
                let code = 256 * data.data[0] as u32 + data.data[1] as u32;
                log!(con, Warn, TAG, "Received closed message with code={code}");
            } else {
                // `%.*s`: the bytes as they are, up to a NUL.
                let shown = match data.data.iter().position(|&b| b == 0) {
                    Some(n) => &data.data[..n],
                    None => &data.data[..],
                };
                if con.enabled(Level::Warn) {
                    con.log(Record {
                        level: Level::Warn,
                        tag: TAG,
                        message: [b"Received=".as_slice(), shown].concat(),
                    });
                }
            }
            log!(
                con,
                Warn,
                TAG,
                "Total payload length={}, data_len={}, current payload offset={}\r\n",
                data.payload_len,
                data.data.len(),
                data.payload_offset
            );
        }
        Event::Error => {
            log!(con, Info, TAG, "WEBSOCKET_EVENT_ERROR");
            log_errors(chip, data);
        }
        Event::Finish => log!(con, Info, TAG, "WEBSOCKET_EVENT_FINISH"),
        Event::BeforeConnect | Event::Closed => {}
    }
}
