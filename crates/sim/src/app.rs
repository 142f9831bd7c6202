//! The application: ESP-IDF's `examples/protocols/http_server/ws_echo_server`
//! (main/ws_echo_server.c of the modelled release).

use std::sync::Arc;

use crate::chip::Services;
use crate::httpd::ws::{WS_CONTINUE, WS_PING, WS_TEXT};
use crate::httpd::{
    ESP_ERR_NO_MEM, ESP_FAIL, ESP_OK, EspErr, Handler, HandshakeCb, Httpd, HttpdConfig, UriHandler,
    Work, WsFrame,
};
use crate::log;
use crate::lwip::{Fd, Lwip};
use crate::profile::{FrameRead, Profile, Triggers};
use crate::protocol_examples_common::{NetIdentity, Network, example_connect};

pub const TAG: &str = "ws_echo_server";

/// Faults a test can inject (there is no ESP-IDF behaviour behind the
/// trigger; what the chip prints when it fires is ESP-IDF's).
#[derive(Clone, Debug)]
pub enum Fault {
    /// The echo handler dereferences NULL when it receives a TEXT frame
    /// with exactly this payload: a `LoadProhibited` panic.
    PanicOnMessage(Vec<u8>),
}

/// `app_main()`: `example_connect()`, then `start_webserver()`.
pub fn app_main(
    chip: &Services,
    profile: &Arc<Profile>,
    lwip: &Arc<Lwip>,
    net: &NetIdentity,
    network: Network,
    fault: Option<Fault>,
) {
    if !example_connect(chip, profile.startup, net, network) {
        // Powered off while waiting at the prompt.
        return;
    }
    start_webserver(chip, profile, lwip, fault);
}

/// `start_webserver()`.
fn start_webserver(
    chip: &Services,
    profile: &Arc<Profile>,
    lwip: &Arc<Lwip>,
    fault: Option<Fault>,
) {
    let con = chip.console();
    let config = HttpdConfig::default_for(profile);
    log!(
        con,
        Info,
        TAG,
        "Starting server on port: '{}'",
        config.server_port
    );
    match Httpd::start(profile.clone(), con.clone(), lwip.clone(), config) {
        Ok(mut hd) => {
            hd.fault = fault;
            hd.chip = Some(chip.clone());
            let table = hd.uri_table();
            chip.create_task("httpd", move || {
                hd.thread_started();
                hd.run();
            });
            // The httpd task runs once this line is written, up to its
            // first select; then the handlers are registered (the README's
            // Example Output shows that order).
            log!(con, Info, TAG, "Registering URI handlers");
            for h in uri_handlers(profile) {
                table.httpd_register_uri_handler(h);
            }
        }
        Err(_) => {
            log!(con, Info, TAG, "Error starting server!");
        }
    }
}

/// The handlers `start_webserver()` registers, in registration order
/// (master: `/ws`, `/ws_partial`, `/auth`, ws_echo_server.c:317-319).
pub fn uri_handlers(profile: &Profile) -> Vec<UriHandler> {
    let ws = |uri: &str, handler| UriHandler {
        uri: uri.into(),
        method: crate::http_parser::HTTP_GET,
        handler,
        is_websocket: true,
        handle_ws_control_frames: false,
        supported_subprotocol: None,
        ws_pre_handshake_cb: None,
        ws_post_handshake_cb: None,
    };
    let ex = &profile.example;
    let mut v = vec![ws("/ws", Handler::Echo)];
    if ex.ws_partial {
        v.push(ws("/ws_partial", Handler::EchoPartial));
    }
    if ex.auth_pre_handshake {
        let mut auth = ws("/auth", Handler::Echo);
        auth.ws_pre_handshake_cb = Some(HandshakeCb::Pre);
        if ex.auth_post_handshake {
            auth.ws_post_handshake_cb = Some(HandshakeCb::Post);
        }
        v.push(auth);
    }
    v
}

/// `calloc()`, from the chip's heap.
fn calloc(hd: &Httpd, size: u64) -> Option<Vec<u8>> {
    hd.chip.as_ref().and_then(|c| c.calloc(size))
}

/// Dispatches a URI handler.
pub fn call_handler(hd: &mut Httpd, h: Handler) -> EspErr {
    match h {
        Handler::Echo => match hd.profile.example.frame_read {
            FrameRead::Buffer128 => echo_handler_v4_2(hd),
            FrameRead::ProbeThenCalloc => echo_handler(hd),
        },
        Handler::EchoPartial => echo_partial_handler(hd),
    }
}

/// Dispatches a WebSocket handshake callback.
pub fn call_handshake_cb(hd: &mut Httpd, cb: HandshakeCb) -> EspErr {
    match cb {
        HandshakeCb::Pre => ws_pre_handshake_cb(hd),
        HandshakeCb::Post => ws_post_handshake_cb(hd),
    }
}

fn log_bytes(hd: &Httpd, level: crate::console::Level, prefix: &str, bytes: &[u8]) {
    hd.con.log(crate::console::Record {
        level,
        tag: TAG,
        message: [prefix.as_bytes(), bytes].concat(),
    });
}

/// `ws_pre_handshake_cb()`: accepts only URIs containing `token=valid`.
fn ws_pre_handshake_cb(hd: &mut Httpd) -> EspErr {
    log!(hd.con, Info, TAG, "=== ws_pre_handshake_cb called ===");
    let uri = hd.req_uri();
    log_bytes(hd, crate::console::Level::Info, "Requested URI: ", &uri);
    if uri.windows(11).any(|w| w == b"token=valid") {
        log!(hd.con, Info, TAG, "Valid token found, accepting handshake");
        ESP_OK
    } else {
        log!(
            hd.con,
            Info,
            TAG,
            "No valid token found, rejecting handshake"
        );
        ESP_FAIL
    }
}

const WELCOME: &[u8] = b"Welcome to the WebSocket Echo Server (post-handshake)!";

/// `ws_post_handshake_cb()`: sends a welcome TEXT right after the 101.
fn ws_post_handshake_cb(hd: &mut Httpd) -> EspErr {
    log!(hd.con, Info, TAG, "=== ws_post_handshake_cb called ===");
    let uri = hd.req_uri();
    log_bytes(
        hd,
        crate::console::Level::Info,
        "WebSocket connection established for URI: ",
        &uri,
    );
    let pkt = WsFrame {
        r#type: WS_TEXT,
        payload: Some(WELCOME.to_vec()),
        len: WELCOME.len() as u32,
        ..Default::default()
    };
    send_frame(hd, &pkt)
}

/// An injected fault: a NULL dereference on a TEXT frame with this payload.
fn injected_fault(hd: &Httpd, pkt: &WsFrame) -> bool {
    if let Some(Fault::PanicOnMessage(m)) = &hd.fault
        && pkt.r#type == WS_TEXT
        && crate::httpd::c_str_of(pkt.payload.as_deref().unwrap_or_default()) == m.as_slice()
    {
        load_prohibited(hd);
        return true;
    }
    false
}

/// A load from address 0 (`strcmp(NULL, ...)` and the like): the CPU's
/// LoadProhibited exception, ESP-IDF's panic handler, a reset. The core is
/// the one the httpd task ran on (it has no affinity); the model says 0.
fn load_prohibited(hd: &Httpd) {
    if let Some(chip) = &hd.chip {
        chip.panic(0, "LoadProhibited", "Exception was unhandled.");
    }
}

/// v4.2 `echo_handler()` (main/ws_echo_server.c:68-92): a zeroed 128-byte
/// stack buffer and one read; frames longer than that fail with
/// ESP_ERR_INVALID_SIZE.
fn echo_handler_v4_2(hd: &mut Httpd) -> EspErr {
    let mut pkt = WsFrame {
        r#type: WS_TEXT,
        payload: Some(vec![0; 128]),
        ..Default::default()
    };
    let ret = hd.httpd_ws_recv_frame(&mut pkt, 128);
    if ret != ESP_OK {
        log!(
            hd.con,
            Error,
            TAG,
            "httpd_ws_recv_frame failed with {}",
            ret
        );
        return ret;
    }
    // `%s` of the buffer: up to its first NUL. A 128-byte payload has none,
    // and C reads on past the buffer (undefined); the model stops at its end.
    let msg = crate::httpd::c_str_of(pkt.payload.as_deref().unwrap_or_default()).to_vec();
    log_bytes(
        hd,
        crate::console::Level::Info,
        "Got packet with message: ",
        &msg,
    );
    if injected_fault(hd, &pkt) {
        return ESP_FAIL;
    }
    log!(hd.con, Info, TAG, "Packet type: {}", pkt.r#type);
    if pkt.r#type == WS_TEXT && msg == b"Trigger async" {
        return trigger_send(hd, |fd| Work::WsAsyncSend { fd });
    }
    send_frame(hd, &pkt)
}

/// `echo_handler()` of v4.4 on.
fn echo_handler(hd: &mut Httpd) -> EspErr {
    let ex = hd.profile.example.clone();
    if ex.handshake_get_branch && hd.req_method() == Some(crate::http_parser::HTTP_GET) {
        // Called for the handshake (v4.4 … v5.5.4), and for a plain GET.
        log!(
            hd.con,
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
            hd.con,
            Error,
            TAG,
            "httpd_ws_recv_frame failed to get frame len with {}",
            ret
        );
        return ret;
    }
    // `%d` of a size_t.
    log!(hd.con, Info, TAG, "frame len is {}", pkt.len as i32);
    if pkt.len != 0 {
        // ws_pkt.len + 1 for the NUL terminator, in 32-bit arithmetic.
        let Some(buf) = calloc(hd, u64::from(pkt.len.wrapping_add(1))) else {
            log!(hd.con, Error, TAG, "Failed to calloc memory for buf");
            return ESP_ERR_NO_MEM;
        };
        pkt.payload = Some(buf);
        let max_len = pkt.len as usize;
        let ret = hd.httpd_ws_recv_frame(&mut pkt, max_len);
        if ret != ESP_OK {
            log!(
                hd.con,
                Error,
                TAG,
                "httpd_ws_recv_frame failed with {}",
                ret
            );
            return ret;
        }
        // `%s`: the payload up to its first NUL, bytes as they are.
        let msg = crate::httpd::c_str_of(pkt.payload.as_deref().unwrap_or_default());
        log_bytes(
            hd,
            crate::console::Level::Info,
            "Got packet with message: ",
            msg,
        );
        if injected_fault(hd, &pkt) {
            return ESP_FAIL;
        }
    }
    log!(hd.con, Info, TAG, "Packet type: {}", pkt.r#type);
    if pkt.r#type == WS_TEXT {
        match (ex.triggers, pkt.payload.as_deref()) {
            // strncmp(payload, trigger, strlen(trigger)) == 0: a prefix
            // match that stops at a NUL in the payload.
            (Triggers::PrefixWithPing, Some(p)) => {
                let text = crate::httpd::c_str_of(p);
                if text.starts_with(b"Trigger async") {
                    return trigger_send(hd, |fd| Work::WsAsyncSend { fd });
                } else if text.starts_with(b"Ping") {
                    return trigger_send(hd, |fd| Work::WsPingSend { fd });
                }
            }
            (Triggers::PrefixWithPing, None) => {}
            (Triggers::Exact { .. }, Some(p)) => {
                if crate::httpd::c_str_of(p) == b"Trigger async" {
                    return trigger_send(hd, |fd| Work::WsAsyncSend { fd });
                }
            }
            // An empty frame left `payload` NULL: guarded from v5.4.3 and
            // v5.5.2 on; before, strcmp(NULL, "Trigger async") faults.
            (Triggers::Exact { null_guard: true }, None) => {}
            (Triggers::Exact { null_guard: false }, None) => {
                load_prohibited(hd);
                return ESP_FAIL;
            }
        }
    }
    send_frame(hd, &pkt)
}

/// master's `echo_partial_handler()` (ws_echo_server.c:201-274): the frame
/// is read 64 bytes at a time and each piece sent on at once as a fragment,
/// the first always as TEXT.
fn echo_partial_handler(hd: &mut Httpd) -> EspErr {
    const CHUNK_SIZE: u32 = 64;
    let mut pkt = WsFrame {
        r#type: WS_TEXT,
        ..Default::default()
    };
    let ret = hd.httpd_ws_recv_frame_part(&mut pkt, 0);
    if ret != ESP_OK {
        log!(
            hd.con,
            Error,
            TAG,
            "httpd_ws_recv_frame_part failed to get frame len with {}",
            ret
        );
        return ret;
    }
    log!(hd.con, Info, TAG, "Frame len is {}", pkt.len as i32);
    if pkt.len != 0 {
        let Some(buf) = calloc(hd, u64::from(CHUNK_SIZE)) else {
            log!(
                hd.con,
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
                hd.con,
                Info,
                TAG,
                "Reading chunk: left_len={}, chunk_size={}",
                pkt.left_len,
                chunk
            );
            let ret = hd.httpd_ws_recv_frame_part(&mut pkt, chunk as usize);
            if ret != ESP_OK {
                log!(
                    hd.con,
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
            let ret = send_frame(hd, &send);
            if ret != ESP_OK {
                return ret;
            }
            log!(
                hd.con,
                Info,
                TAG,
                "Sent fragmented chunk: len={}, final={}",
                chunk,
                u8::from(send.r#final)
            );
        }
    }
    log!(hd.con, Info, TAG, "Packet type: {}", pkt.r#type);
    ESP_OK
}

/// `httpd_ws_send_frame()`, and the example's error line when it fails.
fn send_frame(hd: &mut Httpd, pkt: &WsFrame) -> EspErr {
    let ret = hd.httpd_ws_send_frame(pkt);
    if ret != ESP_OK {
        log!(
            hd.con,
            Error,
            TAG,
            "httpd_ws_send_frame failed with {}",
            ret
        );
    }
    ret
}

/// `trigger_async_send()` / `trigger_ping_send()`.
fn trigger_send(hd: &mut Httpd, work: impl FnOnce(Fd) -> Work) -> EspErr {
    let fd = hd.httpd_req_to_sockfd();
    hd.httpd_queue_work(work(fd))
}

/// `ws_async_send()`: a TEXT "Async data" on the socket that asked for it.
pub fn ws_async_send(hd: &mut Httpd, fd: Fd) {
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
pub fn ws_ping_send(hd: &mut Httpd, fd: Fd) {
    let pkt = WsFrame {
        r#type: WS_PING,
        ..Default::default()
    };
    let _ = hd.httpd_ws_send_frame_async(fd, &pkt);
}
