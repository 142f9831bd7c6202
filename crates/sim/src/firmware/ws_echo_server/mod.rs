//! ESP-IDF's `examples/protocols/http_server/ws_echo_server`
//! (main/ws_echo_server.c of the modelled release), on esp_http_server.

mod traits;

pub use traits::{Example, FrameRead, Triggers};

use std::sync::Arc;

use super::{Context, Fault, Firmware, Spec};
use crate::chip::Services;
use crate::chip::console::Console;
use crate::idf::esp_http_server::ws::{WS_CONTINUE, WS_PING, WS_TEXT};
use crate::idf::esp_http_server::{
    ESP_ERR_NO_MEM, ESP_FAIL, ESP_OK, EspErr, HandlerFn, Httpd, HttpdConfig, HttpdUri, WsFrame,
};
use crate::idf::lwip::Fd;
use crate::idf::protocol_examples_common::example_connect;
use crate::log;

pub const TAG: &str = "ws_echo_server";

/// What a host may choose for this firmware at power-on.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// An injected fault (tests of crash handling): the echo handler
    /// dereferences NULL when it receives a TEXT frame with exactly this
    /// payload, a `LoadProhibited` panic.
    pub panic_on_message: Option<Vec<u8>>,
}

/// The firmware of one release of the example, with the host's options.
pub struct WsEchoServer {
    pub traits: Example,
    pub options: Options,
}

/// The example of one release, as a profile names it. It takes
/// [`Fault::PanicOnMessage`] as its `panic_on_message` option.
pub fn spec(traits: Example) -> Spec {
    Spec::new("ws_echo_server", move |options| {
        let panic_on_message = options
            .fault
            .as_ref()
            .map(|Fault::PanicOnMessage(m)| m.clone());
        Arc::new(WsEchoServer {
            traits: traits.clone(),
            options: Options { panic_on_message },
        })
    })
}

impl Firmware for WsEchoServer {
    /// `app_main()`: `example_connect()`, then `start_webserver()`.
    fn app_main(&self, ctx: &Context<'_>) {
        if !example_connect(ctx.chip, ctx.idf.startup, ctx.net, ctx.network) {
            // Powered off while waiting at the prompt.
            return;
        }
        let app = Arc::new(App {
            chip: ctx.chip.clone(),
            con: ctx.chip.console().clone(),
            ex: self.traits.clone(),
            panic_on_message: self.options.panic_on_message.clone(),
        });
        start_webserver(&app, ctx);
    }
}

/// `start_webserver()`.
fn start_webserver(app: &Arc<App>, ctx: &Context<'_>) {
    let con = &app.con;
    let config = HttpdConfig::default_for(ctx.idf);
    log!(
        con,
        Info,
        TAG,
        "Starting server on port: '{}'",
        config.server_port
    );
    match Httpd::httpd_start(&app.chip, ctx.idf.clone(), ctx.lwip.clone(), config) {
        Ok(server) => {
            // The httpd task runs when this line is written, up to its first
            // select; the handlers are registered after that (the README's
            // Example Output shows that order).
            log!(con, Info, TAG, "Registering URI handlers");
            for h in uri_handlers(app) {
                server.httpd_register_uri_handler(h);
            }
        }
        Err(_) => {
            log!(con, Info, TAG, "Error starting server!");
        }
    }
}

/// The handlers `start_webserver()` registers, in registration order
/// (master: `/ws`, `/ws_partial`, `/auth`, ws_echo_server.c:317-319).
fn uri_handlers(app: &Arc<App>) -> Vec<HttpdUri> {
    let ws = |uri: &str, handler| HttpdUri {
        uri: uri.into(),
        method: crate::idf::http_parser::HTTP_GET,
        handler,
        is_websocket: true,
        handle_ws_control_frames: false,
        supported_subprotocol: None,
        ws_pre_handshake_cb: None,
        ws_post_handshake_cb: None,
    };
    let bind = |f: fn(&App, &mut Httpd) -> EspErr| -> HandlerFn {
        let app = app.clone();
        Arc::new(move |hd: &mut Httpd| f(&app, hd))
    };
    let echo = match app.ex.frame_read {
        FrameRead::Buffer128 => bind(App::echo_handler_v4_2),
        FrameRead::ProbeThenCalloc => bind(App::echo_handler),
    };
    let ex = &app.ex;
    let mut v = vec![ws("/ws", echo.clone())];
    if ex.ws_partial {
        v.push(ws("/ws_partial", bind(App::echo_partial_handler)));
    }
    if ex.auth_pre_handshake {
        let mut auth = ws("/auth", echo);
        auth.ws_pre_handshake_cb = Some(bind(App::ws_pre_handshake_cb));
        if ex.auth_post_handshake {
            auth.ws_post_handshake_cb = Some(bind(App::ws_post_handshake_cb));
        }
        v.push(auth);
    }
    v
}

const WELCOME: &[u8] = b"Welcome to the WebSocket Echo Server (post-handshake)!";

/// What the handlers share (their `user_ctx`, and the chip they run on).
struct App {
    chip: Services,
    con: Console,
    ex: Example,
    panic_on_message: Option<Vec<u8>>,
}

impl App {
    fn log_bytes(&self, level: crate::chip::console::Level, prefix: &str, bytes: &[u8]) {
        self.con.log(crate::chip::console::Record {
            level,
            tag: TAG,
            message: [prefix.as_bytes(), bytes].concat(),
        });
    }

    /// `ws_pre_handshake_cb()`: accepts only URIs containing `token=valid`.
    fn ws_pre_handshake_cb(&self, hd: &mut Httpd) -> EspErr {
        log!(self.con, Info, TAG, "=== ws_pre_handshake_cb called ===");
        let uri = hd.req_uri();
        self.log_bytes(crate::chip::console::Level::Info, "Requested URI: ", &uri);
        if uri.windows(11).any(|w| w == b"token=valid") {
            log!(
                self.con,
                Info,
                TAG,
                "Valid token found, accepting handshake"
            );
            ESP_OK
        } else {
            log!(
                self.con,
                Info,
                TAG,
                "No valid token found, rejecting handshake"
            );
            ESP_FAIL
        }
    }

    /// `ws_post_handshake_cb()`: sends a welcome TEXT right after the 101.
    fn ws_post_handshake_cb(&self, hd: &mut Httpd) -> EspErr {
        log!(self.con, Info, TAG, "=== ws_post_handshake_cb called ===");
        let uri = hd.req_uri();
        self.log_bytes(
            crate::chip::console::Level::Info,
            "WebSocket connection established for URI: ",
            &uri,
        );
        let pkt = WsFrame {
            r#type: WS_TEXT,
            payload: Some(WELCOME.to_vec()),
            len: WELCOME.len() as u32,
            ..Default::default()
        };
        self.send_frame(hd, &pkt)
    }

    /// An injected fault: a NULL dereference on a TEXT frame with this payload.
    fn injected_fault(&self, pkt: &WsFrame) -> bool {
        if let Some(m) = &self.panic_on_message
            && pkt.r#type == WS_TEXT
            && crate::idf::esp_http_server::c_str_of(pkt.payload.as_deref().unwrap_or_default())
                == m.as_slice()
        {
            self.load_prohibited();
            return true;
        }
        false
    }

    /// A load from address 0 (`strcmp(NULL, ...)` and the like): the CPU's
    /// LoadProhibited exception, ESP-IDF's panic handler, a reset. The core is
    /// the one the httpd task ran on (it has no affinity); the model says 0.
    fn load_prohibited(&self) {
        self.chip
            .panic(0, "LoadProhibited", "Exception was unhandled.");
    }

    /// v4.2 `echo_handler()` (main/ws_echo_server.c:68-92): a zeroed 128-byte
    /// stack buffer and one read; frames longer than that fail with
    /// ESP_ERR_INVALID_SIZE.
    fn echo_handler_v4_2(&self, hd: &mut Httpd) -> EspErr {
        let mut pkt = WsFrame {
            r#type: WS_TEXT,
            payload: Some(vec![0; 128]),
            ..Default::default()
        };
        let ret = hd.httpd_ws_recv_frame(&mut pkt, 128);
        if ret != ESP_OK {
            log!(
                self.con,
                Error,
                TAG,
                "httpd_ws_recv_frame failed with {}",
                ret
            );
            return ret;
        }
        // `%s` of the buffer: up to its first NUL. A 128-byte payload has none,
        // and C reads on past the buffer (undefined); the model stops at its end.
        let msg = crate::idf::esp_http_server::c_str_of(pkt.payload.as_deref().unwrap_or_default())
            .to_vec();
        self.log_bytes(
            crate::chip::console::Level::Info,
            "Got packet with message: ",
            &msg,
        );
        if self.injected_fault(&pkt) {
            return ESP_FAIL;
        }
        log!(self.con, Info, TAG, "Packet type: {}", pkt.r#type);
        if pkt.r#type == WS_TEXT && msg == b"Trigger async" {
            return trigger_send(hd, ws_async_send);
        }
        self.send_frame(hd, &pkt)
    }

    /// `echo_handler()` of v4.4 on.
    fn echo_handler(&self, hd: &mut Httpd) -> EspErr {
        let ex = &self.ex;
        if ex.handshake_get_branch && hd.req_method() == Some(crate::idf::http_parser::HTTP_GET) {
            // Called for the handshake (v4.4 … v5.5.4), and for a plain GET.
            log!(
                self.con,
                Info,
                TAG,
                "Handshake done, the new connection was opened"
            );
            return ESP_OK;
        }
        let mut pkt = WsFrame {
            r#type: WS_TEXT,
            ..Default::default()
        };
        // max_len = 0: read the header only, to learn the length.
        let ret = hd.httpd_ws_recv_frame(&mut pkt, 0);
        if ret != ESP_OK {
            log!(
                self.con,
                Error,
                TAG,
                "httpd_ws_recv_frame failed to get frame len with {}",
                ret
            );
            return ret;
        }
        // `%d` of a size_t.
        log!(self.con, Info, TAG, "frame len is {}", pkt.len as i32);
        if pkt.len != 0 {
            // ws_pkt.len + 1 for the NUL terminator, in 32-bit arithmetic.
            let Some(buf) = self.chip.calloc(u64::from(pkt.len.wrapping_add(1))) else {
                log!(self.con, Error, TAG, "Failed to calloc memory for buf");
                return ESP_ERR_NO_MEM;
            };
            pkt.payload = Some(buf);
            let max_len = pkt.len as usize;
            let ret = hd.httpd_ws_recv_frame(&mut pkt, max_len);
            if ret != ESP_OK {
                log!(
                    self.con,
                    Error,
                    TAG,
                    "httpd_ws_recv_frame failed with {}",
                    ret
                );
                return ret;
            }
            // `%s`: the payload up to its first NUL, bytes as they are.
            let msg =
                crate::idf::esp_http_server::c_str_of(pkt.payload.as_deref().unwrap_or_default());
            self.log_bytes(
                crate::chip::console::Level::Info,
                "Got packet with message: ",
                msg,
            );
            if self.injected_fault(&pkt) {
                return ESP_FAIL;
            }
        }
        log!(self.con, Info, TAG, "Packet type: {}", pkt.r#type);
        if pkt.r#type == WS_TEXT {
            match (ex.triggers, pkt.payload.as_deref()) {
                // strncmp(payload, trigger, strlen(trigger)) == 0: a prefix
                // match that stops at a NUL in the payload.
                (Triggers::PrefixWithPing, Some(p)) => {
                    let text = crate::idf::esp_http_server::c_str_of(p);
                    if text.starts_with(b"Trigger async") {
                        return trigger_send(hd, ws_async_send);
                    } else if text.starts_with(b"Ping") {
                        return trigger_send(hd, ws_ping_send);
                    }
                }
                (Triggers::PrefixWithPing, None) => {}
                (Triggers::Exact { .. }, Some(p)) => {
                    if crate::idf::esp_http_server::c_str_of(p) == b"Trigger async" {
                        return trigger_send(hd, ws_async_send);
                    }
                }
                // An empty frame left `payload` NULL: guarded from v5.4.3 and
                // v5.5.2 on; before, strcmp(NULL, "Trigger async") faults.
                (Triggers::Exact { null_guard: true }, None) => {}
                (Triggers::Exact { null_guard: false }, None) => {
                    self.load_prohibited();
                    return ESP_FAIL;
                }
            }
        }
        self.send_frame(hd, &pkt)
    }

    /// master's `echo_partial_handler()` (ws_echo_server.c:201-274): the frame
    /// is read 64 bytes at a time and each piece sent on at once as a fragment,
    /// the first always as TEXT.
    fn echo_partial_handler(&self, hd: &mut Httpd) -> EspErr {
        const CHUNK_SIZE: u32 = 64;
        let mut pkt = WsFrame {
            r#type: WS_TEXT,
            ..Default::default()
        };
        let ret = hd.httpd_ws_recv_frame_part(&mut pkt, 0);
        if ret != ESP_OK {
            log!(
                self.con,
                Error,
                TAG,
                "httpd_ws_recv_frame_part failed to get frame len with {}",
                ret
            );
            return ret;
        }
        log!(self.con, Info, TAG, "Frame len is {}", pkt.len as i32);
        if pkt.len != 0 {
            let Some(buf) = self.chip.calloc(u64::from(CHUNK_SIZE)) else {
                log!(
                    self.con,
                    Error,
                    TAG,
                    "Failed to calloc memory for chunk buffer"
                );
                return ESP_ERR_NO_MEM;
            };
            pkt.payload = Some(buf);
            pkt.fragmented = true;
            let mut first = true;
            while pkt.left_len > 0 {
                let chunk = pkt.left_len.min(CHUNK_SIZE);
                log!(
                    self.con,
                    Info,
                    TAG,
                    "Reading chunk: left_len={}, chunk_size={}",
                    pkt.left_len,
                    chunk
                );
                let ret = hd.httpd_ws_recv_frame_part(&mut pkt, chunk as usize);
                if ret != ESP_OK {
                    log!(
                        self.con,
                        Error,
                        TAG,
                        "httpd_ws_recv_frame_part failed with {}",
                        ret
                    );
                    return ret;
                }
                let send = WsFrame {
                    payload: pkt.payload.clone(),
                    len: chunk,
                    fragmented: true,
                    r#type: if first { WS_TEXT } else { WS_CONTINUE },
                    r#final: pkt.left_len == 0,
                    ..Default::default()
                };
                first = false;
                let ret = self.send_frame(hd, &send);
                if ret != ESP_OK {
                    return ret;
                }
                log!(
                    self.con,
                    Info,
                    TAG,
                    "Sent fragmented chunk: len={}, final={}",
                    chunk,
                    u8::from(send.r#final)
                );
            }
        }
        log!(self.con, Info, TAG, "Packet type: {}", pkt.r#type);
        ESP_OK
    }

    /// `httpd_ws_send_frame()`, and the example's error line when it fails.
    fn send_frame(&self, hd: &mut Httpd, pkt: &WsFrame) -> EspErr {
        let ret = hd.httpd_ws_send_frame(pkt);
        if ret != ESP_OK {
            log!(
                self.con,
                Error,
                TAG,
                "httpd_ws_send_frame failed with {}",
                ret
            );
        }
        ret
    }
}

/// `trigger_async_send()` / `trigger_ping_send()`: `httpd_queue_work()`
/// of a work function with the request's socket as its argument.
fn trigger_send(hd: &mut Httpd, work_fn: fn(&mut Httpd, Fd)) -> EspErr {
    let fd = hd.httpd_req_to_sockfd();
    hd.httpd_queue_work(Box::new(move |hd: &mut Httpd| work_fn(hd, fd)))
}

/// `ws_async_send()`: a TEXT "Async data" on the socket that asked for it.
fn ws_async_send(hd: &mut Httpd, fd: Fd) {
    const DATA: &[u8] = b"Async data";
    let pkt = WsFrame {
        r#type: WS_TEXT,
        payload: Some(DATA.to_vec()),
        len: DATA.len() as u32,
        ..Default::default()
    };
    // The return value is ignored by the example.
    let _ = hd.httpd_ws_send_frame_async(fd, &pkt);
}

/// `ws_ping_send()`: an empty PING.
fn ws_ping_send(hd: &mut Httpd, fd: Fd) {
    let pkt = WsFrame {
        r#type: WS_PING,
        ..Default::default()
    };
    let _ = hd.httpd_ws_send_frame_async(fd, &pkt);
}
