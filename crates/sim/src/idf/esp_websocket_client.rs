//! esp_websocket_client 1.8.0 (espressif/esp-protocols,
//! components/esp_websocket_client/esp_websocket_client.c) over ESP-IDF's
//! tcp_transport: the client's task and its state machine (INIT →
//! CONNECTED → CLOSING, WAIT_TIMEOUT between attempts), the 1 s read poll,
//! the keep-alive PING, the reconnect after `reconnect_timeout_ms`, events
//! dispatched to the handler the application registered, and the send
//! functions an application calls. Facts: the fact sheet
//! (../shared/reference/esp-websocket-client.md, sections named below) and
//! the C functions named on each piece.
//!
//! Events go through the client's own event loop, which
//! `esp_websocket_client_dispatch_event()` runs at once on the client's
//! task (`esp_event_loop_run(client->event_handle, 0)`): the model calls
//! the handler there. The handler runs with the client's lock held, as in
//! C; the example's handler only logs.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::chip::{EventGroup, Services};
use crate::idf::lwip::{Errno, Lwip};
use crate::idf::tcp_transport::transport_tcp::{ConnectError, TcpTransport};
use crate::idf::tcp_transport::transport_ws::{ConnectFail, WsRead, WsTransport, opcode};
use crate::log;

const TAG: &str = "websocket_client";

/// WEBSOCKET_RECONNECT_TIMEOUT_MS, WEBSOCKET_NETWORK_TIMEOUT_MS,
/// WEBSOCKET_PING_INTERVAL_SEC, WEBSOCKET_PINGPONG_TIMEOUT_SEC,
/// WEBSOCKET_BUFFER_SIZE_BYTE: the defaults (sheet section 1).
pub const RECONNECT_TIMEOUT_MS: u64 = 10_000;
pub const NETWORK_TIMEOUT_MS: u64 = 10_000;
pub const PING_INTERVAL_SEC: u64 = 10;
pub const PINGPONG_TIMEOUT_SEC: u64 = 120;
pub const BUFFER_SIZE: usize = 1024;

/// The poll of the CONNECTED state: `esp_transport_poll_read(.., 1000)`.
const POLL: Duration = Duration::from_millis(1000);

/// `status_bits` of the C client.
const STOPPED_BIT: u32 = 1 << 0;
const CLOSE_FRAME_SENT_BIT: u32 = 1 << 1;
const REQUESTED_STOP_BIT: u32 = 1 << 2;
const WAKEUP_BIT: u32 = 1 << 3;
/// The model's own bit: the task has come to its first wait (see
/// [`Client::start`]).
const FIRST_WAIT_BIT: u32 = 1 << 8;

/// `esp_websocket_event_id_t`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Begin,
    BeforeConnect,
    Connected,
    Disconnected,
    Data,
    Error,
    Closed,
    Finish,
}

/// `esp_websocket_error_type_t`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum ErrorType {
    #[default]
    None,
    TcpTransport,
    PongTimeout,
}

/// `esp_websocket_error_codes_t`, as a handler sees it.
#[derive(Clone, Debug, Default)]
pub struct ErrorHandle {
    pub error_type: ErrorType,
    pub esp_ws_handshake_status_code: i32,
    pub esp_tls_last_esp_err: i32,
    pub esp_tls_stack_err: i32,
    pub esp_transport_sock_errno: i32,
}

/// `esp_websocket_event_data_t`.
#[derive(Clone, Debug)]
pub struct EventData {
    pub data: Vec<u8>,
    pub op_code: u8,
    pub fin: bool,
    pub payload_len: u64,
    pub payload_offset: u64,
    pub error_handle: ErrorHandle,
}

/// A handler registered with `esp_websocket_register_events(client,
/// WEBSOCKET_EVENT_ANY, ...)`, with what it captured as `handler_args`.
pub type Handler = Arc<dyn Fn(Event, &EventData) + Send + Sync>;

/// `esp_websocket_client_config_t`, as far as the model reads it.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub uri: String,
    /// 0: not set (the default applies, with a warning).
    pub reconnect_timeout_ms: u64,
    pub network_timeout_ms: u64,
}

/// `ws_transport_state_t` of the client.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
enum State {
    Unknown = 0,
    Init = 1,
    Connected = 2,
    WaitTimeout = 3,
    Closing = 4,
}

/// esp-tls error codes the model reports (esp_tls_errors.h).
const ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST: i32 = 0x8004;
const ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT: i32 = 0x8006;
const ESP_ERR_ESP_TLS_TCP_CLOSED_FIN: i32 = 0x8008;

fn esp_err_to_name(e: i32) -> &'static str {
    match e {
        0 => "ESP_OK",
        ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST => "ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST",
        ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT => "ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT",
        ESP_ERR_ESP_TLS_TCP_CLOSED_FIN => "ESP_ERR_ESP_TLS_TCP_CLOSED_FIN",
        _ => "UNKNOWN ERROR",
    }
}

/// The `errno` every failure line prints: the real build printed 115
/// (EINPROGRESS, left over from esp-tls's non-blocking connect) in each of
/// them (sheet section 1).
const STALE_ERRNO: i32 = 115;

/// What the client's lock (`client->lock`) guards.
struct Locked {
    transport: WsTransport,
    error_handle: ErrorHandle,
    /// esp-tls's last error and the socket errno the transport captured
    /// (`esp_tls_get_and_clear_last_error`, `esp_transport_get_errno`).
    tls_last_error: i32,
    sock_errno: i32,
    payload_len: u64,
    payload_offset: u64,
    last_opcode: Option<u8>,
    last_fin: bool,
    close_status_code: i32,
    ping_tick_ms: u64,
    pingpong_tick_ms: u64,
    reconnect_tick_ms: u64,
    wait_for_pong_resp: bool,
    /// `errormsg_size`: 0 when no error message buffer is allocated.
    errormsg_size: usize,
}

struct Inner {
    chip: Services,
    scheme: String,
    host: String,
    port: u16,
    network_timeout: Duration,
    wait_timeout_ms: u64,
    state: AtomicU8,
    run: AtomicBool,
    status_bits: EventGroup,
    handler: Mutex<Option<Handler>>,
    lock: Mutex<Locked>,
}

/// An `esp_websocket_client_handle_t`.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// Splits `ws://host:port/path` (`esp_websocket_client_set_uri` with
/// http_parser_parse_url): the port defaults to 80 for `ws`.
fn parse_uri(uri: &str) -> Option<(String, String, u16, String)> {
    let (scheme, rest) = uri.split_once("://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (authority, if scheme == "wss" { 443 } else { 80 }),
    };
    if host.is_empty() {
        return None;
    }
    Some((scheme.into(), host.into(), port, path.into()))
}

impl Client {
    /// `esp_websocket_client_init()`: the defaults' warnings (sheet
    /// section 2), the URI parsed, the transports made. None for a URI it
    /// cannot parse (`E websocket_client: Invalid uri`).
    pub fn init(chip: &Services, lwip: Arc<Lwip>, config: &Config) -> Option<Client> {
        let con = chip.console();
        let wait_timeout_ms = if config.reconnect_timeout_ms == 0 {
            log!(
                con,
                Warn,
                TAG,
                "`reconnect_timeout_ms` is not set, or it is less than or equal to zero, using default time out {RECONNECT_TIMEOUT_MS} (milliseconds)"
            );
            RECONNECT_TIMEOUT_MS
        } else {
            config.reconnect_timeout_ms
        };
        // esp_websocket_client_set_config()
        let network_timeout_ms = if config.network_timeout_ms == 0 {
            log!(
                con,
                Warn,
                TAG,
                "`network_timeout_ms` is not set, or it is less than or equal to zero, using default time out {NETWORK_TIMEOUT_MS} (milliseconds)"
            );
            NETWORK_TIMEOUT_MS
        } else {
            config.network_timeout_ms
        };
        let Some((scheme, host, port, path)) = parse_uri(&config.uri) else {
            log!(con, Error, TAG, "Invalid uri");
            return None;
        };
        let mut transport = WsTransport::new(chip.clone(), TcpTransport::new(lwip));
        transport.path = path;
        let status_bits = chip.event_group_create();
        status_bits.set(STOPPED_BIT);
        Some(Client {
            inner: Arc::new(Inner {
                chip: chip.clone(),
                scheme,
                host,
                port,
                network_timeout: Duration::from_millis(network_timeout_ms),
                wait_timeout_ms,
                state: AtomicU8::new(State::Unknown as u8),
                run: AtomicBool::new(false),
                status_bits,
                handler: Mutex::new(None),
                lock: Mutex::new(Locked {
                    transport,
                    error_handle: ErrorHandle::default(),
                    tls_last_error: 0,
                    sock_errno: 0,
                    payload_len: 0,
                    payload_offset: 0,
                    last_opcode: None,
                    last_fin: false,
                    close_status_code: 0,
                    ping_tick_ms: 0,
                    pingpong_tick_ms: 0,
                    reconnect_tick_ms: 0,
                    wait_for_pong_resp: false,
                    errormsg_size: 0,
                }),
            }),
        })
    }

    /// `esp_websocket_client_append_header()`: `Key: value\r\n` after the
    /// headers appended before.
    pub fn append_header(&self, key: &str, value: &str) {
        let mut l = self.inner.locked();
        let h = l.transport.headers.get_or_insert_with(String::new);
        h.push_str(&format!("{key}: {value}\r\n"));
    }

    /// `esp_websocket_register_events(client, WEBSOCKET_EVENT_ANY, ..)`.
    pub fn register_events(&self, handler: Handler) {
        *self.inner.handler.lock().unwrap_or_else(|e| e.into_inner()) = Some(handler);
    }

    /// `esp_websocket_client_start()`: creates the client's task
    /// ("websocket_task", priority 5) and logs `Started`.
    ///
    /// The task runs before `Started` is printed and until it first waits
    /// (the read poll of a connection, or the wait before a reconnect): in
    /// every recorded session `Started` follows the first attempt's
    /// CONNECTED, its piggybacked DATA, or its DISCONNECTED (sheet
    /// sections 1 and 2: these lines are the same on an ESP32).
    pub fn start(&self) -> bool {
        let inner = self.inner.clone();
        if self.state() != State::Unknown {
            log!(
                self.inner.chip.console(),
                Error,
                TAG,
                "The client has started"
            );
            return false;
        }
        self.inner.status_bits.clear(
            STOPPED_BIT | CLOSE_FRAME_SENT_BIT | REQUESTED_STOP_BIT | WAKEUP_BIT | FIRST_WAIT_BIT,
        );
        self.inner
            .chip
            .create_task("websocket_task", move || inner.task());
        self.inner
            .status_bits
            .wait(FIRST_WAIT_BIT | STOPPED_BIT, false, None);
        log!(self.inner.chip.console(), Info, TAG, "Started");
        true
    }

    fn state(&self) -> State {
        self.inner.state()
    }

    /// `esp_websocket_client_is_connected()`.
    pub fn is_connected(&self) -> bool {
        self.state() == State::Connected
    }

    /// `esp_websocket_client_send_text()`.
    pub fn send_text(&self, data: &[u8]) -> i32 {
        self.send_with_exact_opcode(opcode::TEXT | opcode::FIN, data)
    }

    /// `esp_websocket_client_send_text_partial()`.
    pub fn send_text_partial(&self, data: &[u8]) -> i32 {
        self.send_with_exact_opcode(opcode::TEXT, data)
    }

    /// `esp_websocket_client_send_bin_partial()`.
    pub fn send_bin_partial(&self, data: &[u8]) -> i32 {
        self.send_with_exact_opcode(opcode::BINARY, data)
    }

    /// `esp_websocket_client_send_cont_msg()`.
    pub fn send_cont_msg(&self, data: &[u8]) -> i32 {
        self.send_with_exact_opcode(opcode::CONT, data)
    }

    /// `esp_websocket_client_send_fin()`: an empty CONT with FIN.
    pub fn send_fin(&self) -> i32 {
        self.send_with_exact_opcode(opcode::FIN, &[])
    }

    /// `esp_websocket_client_send_with_exact_opcode()`: refused at once
    /// while not connected (sheet section 5: nothing is queued); otherwise
    /// the data in frames of at most the buffer's size, the first with
    /// `op`, the rest CONT, FIN on the last one if `op` had it.
    pub fn send_with_exact_opcode(&self, op: u8, data: &[u8]) -> i32 {
        let inner = &self.inner;
        let con = inner.chip.console();
        if !self.is_connected() {
            log!(con, Error, TAG, "Websocket client is not connected");
            return -1;
        }
        let mut l = inner.locked();
        let contained_fin = op & opcode::FIN != 0;
        let mut op = op;
        let mut widx = 0usize;
        let len = data.len();
        let mut need_write = len;
        while widx < len || op != 0 {
            if need_write > BUFFER_SIZE {
                need_write = BUFFER_SIZE;
                op &= !opcode::FIN;
            } else if contained_fin {
                op |= opcode::FIN;
            }
            match l.transport.send_raw(op, &data[widx..widx + need_write]) {
                Ok(n) if n > 0 || need_write == 0 => widx += need_write,
                _ => {
                    let msg = format!(
                        "esp_transport_write() returned -1, transport_error={}, tls_error_code=0, tls_flags=0, errno={STALE_ERRNO}",
                        esp_err_to_name(l.tls_last_error)
                    );
                    inner.client_error(&mut l, &msg);
                    log!(
                        con,
                        Debug,
                        TAG,
                        "Calling abort_connection due to send error"
                    );
                    inner.abort_connection(&mut l, ErrorType::TcpTransport);
                    return -1;
                }
            }
            op = 0;
            need_write = len - widx;
        }
        widx as i32
    }

    /// `esp_websocket_client_destroy()`: stops the task if it runs
    /// (`stop_wait_task`: it notices at its next turn, after the current
    /// poll) and frees the client. No CLOSE is sent (sheet section 5).
    pub fn destroy(self) {
        let inner = &self.inner;
        if inner.status_bits.get() & STOPPED_BIT == 0 {
            inner.run.store(false, Ordering::SeqCst);
            inner.status_bits.set(REQUESTED_STOP_BIT);
            inner.status_bits.wait(STOPPED_BIT, true, None);
            inner.set_state(State::Unknown);
        }
    }
}

impl Inner {
    fn locked(&self) -> MutexGuard<'_, Locked> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn state(&self) -> State {
        match self.state.load(Ordering::SeqCst) {
            1 => State::Init,
            2 => State::Connected,
            3 => State::WaitTimeout,
            4 => State::Closing,
            _ => State::Unknown,
        }
    }

    fn set_state(&self, s: State) {
        self.state.store(s as u8, Ordering::SeqCst);
    }

    /// `_tick_get_ms()`: `esp_timer_get_time() / 1000`, time since boot.
    fn tick_ms(&self) -> u64 {
        self.chip.uptime().as_millis() as u64
    }

    /// `esp_websocket_client_dispatch_event()`: the event data from the
    /// client's state, then the handler, on this task.
    fn dispatch(&self, l: &mut Locked, event: Event, data: &[u8]) {
        let mut error_handle = ErrorHandle {
            error_type: l.error_handle.error_type,
            esp_ws_handshake_status_code: l.error_handle.esp_ws_handshake_status_code,
            ..ErrorHandle::default()
        };
        if l.error_handle.error_type == ErrorType::TcpTransport {
            // esp_tls_get_and_clear_last_error()
            error_handle.esp_tls_last_esp_err = std::mem::take(&mut l.tls_last_error);
            error_handle.esp_transport_sock_errno = l.sock_errno;
        }
        let ev = EventData {
            data: data.to_vec(),
            op_code: l.last_opcode.unwrap_or(0),
            fin: l.last_fin,
            payload_len: l.payload_len,
            payload_offset: l.payload_offset,
            error_handle,
        };
        let handler = self
            .handler
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(h) = handler {
            h(event, &ev);
        }
    }

    /// `esp_websocket_client_error()`: the message at error level, kept in
    /// the error buffer, and an ERROR event.
    fn client_error(&self, l: &mut Locked, msg: &str) {
        let needed = msg.len() + 1;
        if needed > l.errormsg_size {
            l.errormsg_size = needed;
        }
        log!(self.chip.console(), Error, TAG, "{msg}");
        self.dispatch(l, Event::Error, msg.as_bytes());
    }

    /// `esp_websocket_client_abort_connection()`: closes the transport,
    /// schedules the reconnect (auto-reconnect is on), then DISCONNECTED:
    /// after ERROR, never before it (sheet section 3).
    fn abort_connection(&self, l: &mut Locked, error_type: ErrorType) {
        let con = self.chip.console();
        let state = self.state();
        if matches!(state, State::Closing | State::Unknown | State::WaitTimeout) {
            log!(
                con,
                Warn,
                TAG,
                "Connection already closing/closed, skipping abort"
            );
        } else {
            l.transport.close();
            l.reconnect_tick_ms = self.tick_ms();
            log!(
                con,
                Info,
                TAG,
                "Reconnect after {} ms",
                self.wait_timeout_ms
            );
            self.set_state(State::WaitTimeout);
            l.error_handle.error_type = error_type;
            self.dispatch(l, Event::Disconnected, &[]);
        }
        if l.errormsg_size > 0 {
            log!(
                con,
                Debug,
                TAG,
                "Freeing error buffer ({} bytes) - Free heap before: {} bytes",
                l.errormsg_size,
                self.chip.free_heap_size()
            );
            l.errormsg_size = 0;
        } else {
            log!(
                con,
                Debug,
                TAG,
                "Disconnect - Free heap: {} bytes",
                self.chip.free_heap_size()
            );
        }
    }

    /// `esp_websocket_client_recv()`: one frame, one DATA event per piece
    /// of at most the buffer's size (sheet section 4), then the PONG for a
    /// PING, the end of a PONG wait, or CLOSING for a CLOSE. Err after a
    /// read error (the ERROR event has been dispatched).
    fn recv(&self, l: &mut Locked) -> Result<(), ()> {
        l.payload_offset = 0;
        let last_piece = loop {
            let piece = match l.transport.read(BUFFER_SIZE, self.network_timeout) {
                WsRead::Error { fin } => {
                    // The server closed TCP without a CLOSE (sheet section
                    // 5); an RST's figures are inferred: no esp-tls error,
                    // the socket's ECONNRESET captured.
                    if fin {
                        l.tls_last_error = ESP_ERR_ESP_TLS_TCP_CLOSED_FIN;
                    } else {
                        l.sock_errno = Errno::ECONNRESET.0;
                    }
                    let msg = format!(
                        "esp_transport_read() failed with -1, transport_error={}, tls_error_code=0, tls_flags=0, errno={STALE_ERRNO}",
                        esp_err_to_name(l.tls_last_error)
                    );
                    self.client_error(l, &msg);
                    return Err(());
                }
                WsRead::Timeout => Vec::new(),
                WsRead::Data(d) => d,
            };
            l.payload_len = l.transport.read_payload_len();
            l.last_fin = l.transport.fin_flag();
            l.last_opcode = l.transport.read_opcode();
            if piece.is_empty() && l.last_opcode.is_none() {
                return Ok(());
            }
            self.dispatch(l, Event::Data, &piece);
            l.payload_offset += piece.len() as u64;
            if l.payload_offset >= l.payload_len {
                break piece;
            }
        };
        let con = self.chip.console();
        match l.last_opcode {
            Some(opcode::PING) => {
                // The PONG carries what is left in the receive buffer: the
                // PING's payload (control frames fit the buffer).
                log!(
                    con,
                    Debug,
                    TAG,
                    "Sending PONG with payload len={}",
                    l.payload_len
                );
                let _ = l
                    .transport
                    .send_raw(opcode::PONG | opcode::FIN, &last_piece);
            }
            Some(opcode::PONG) => l.wait_for_pong_resp = false,
            Some(opcode::CLOSE) => {
                l.close_status_code = if l.payload_len >= 2 && last_piece.len() >= 2 {
                    u16::from_be_bytes([last_piece[0], last_piece[1]]) as i32
                } else {
                    0
                };
                log!(
                    con,
                    Debug,
                    TAG,
                    "Received close frame, status code: {}",
                    l.close_status_code
                );
                self.set_state(State::Closing);
            }
            _ => {}
        }
        Ok(())
    }

    /// The first wait of the task lets `esp_websocket_client_start()`
    /// go on (see there).
    fn first_wait(&self) {
        if self.status_bits.get() & FIRST_WAIT_BIT == 0 {
            self.status_bits.set(FIRST_WAIT_BIT);
        }
    }

    /// `esp_websocket_client_task()`.
    fn task(self: Arc<Self>) {
        let con = self.chip.console().clone();
        self.run.store(true, Ordering::SeqCst);
        self.set_state(State::Init);
        self.status_bits.clear(STOPPED_BIT | CLOSE_FRAME_SENT_BIT);
        {
            let mut l = self.locked();
            self.dispatch(&mut l, Event::Begin, &[]);
        }
        while self.run.load(Ordering::SeqCst) && !self.chip.halting() {
            let mut l = self.locked();
            match self.state() {
                State::Init => {
                    self.dispatch(&mut l, Event::BeforeConnect, &[]);
                    match l
                        .transport
                        .connect(&self.host, self.port, self.network_timeout)
                    {
                        Err(fail) => {
                            l.error_handle.esp_ws_handshake_status_code =
                                l.transport.upgrade_request_status();
                            // What esp-tls reports for a TCP connect that
                            // failed (inferred: the sheet's sessions all
                            // connected); a handshake failure is ESP_OK.
                            match fail {
                                ConnectFail::Tcp(ConnectError::Timeout) => {
                                    l.tls_last_error = ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT;
                                }
                                ConnectFail::Tcp(ConnectError::Failed(e)) => {
                                    l.tls_last_error = ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST;
                                    l.sock_errno = e.0;
                                }
                                _ => {}
                            }
                            let msg = format!(
                                "esp_transport_connect() failed with -1, transport_error={}, tls_error_code=0, tls_flags=0, esp_ws_handshake_status_code={}, errno={STALE_ERRNO}",
                                esp_err_to_name(l.tls_last_error),
                                l.error_handle.esp_ws_handshake_status_code
                            );
                            self.client_error(&mut l, &msg);
                            self.abort_connection(&mut l, ErrorType::TcpTransport);
                        }
                        Ok(()) => {
                            log!(
                                con,
                                Debug,
                                TAG,
                                "Transport connected to {}://{}:{}",
                                self.scheme,
                                self.host,
                                self.port
                            );
                            self.set_state(State::Connected);
                            l.wait_for_pong_resp = false;
                            l.error_handle.error_type = ErrorType::None;
                            l.payload_len = 0;
                            l.payload_offset = 0;
                            l.last_fin = false;
                            l.last_opcode = None;
                            l.close_status_code = 0;
                            self.status_bits.clear(CLOSE_FRAME_SENT_BIT);
                            self.dispatch(&mut l, Event::Connected, &[]);
                            // Frames that came with the 101 (sheet section 3).
                            if l.transport.poll_read(Duration::ZERO) == Ok(true) {
                                if self.recv(&mut l).is_ok() {
                                    if self.state() != State::Connected {
                                        log!(
                                            con,
                                            Debug,
                                            TAG,
                                            "Connection state changed during handshake data processing"
                                        );
                                    }
                                } else {
                                    log!(
                                        con,
                                        Error,
                                        TAG,
                                        "Error receive data during initial connection"
                                    );
                                    self.abort_connection(&mut l, ErrorType::TcpTransport);
                                }
                            }
                        }
                    }
                }
                State::Connected => {
                    if self.status_bits.get() & CLOSE_FRAME_SENT_BIT == 0 {
                        // The keep-alive PING, checked each time the loop
                        // turns (sheet section 4); its tick starts at 0, so
                        // the first one goes 10 s after boot.
                        let now = self.tick_ms();
                        if now.saturating_sub(l.ping_tick_ms) > PING_INTERVAL_SEC * 1000 {
                            l.ping_tick_ms = now;
                            log!(con, Debug, TAG, "Sending PING...");
                            let _ = l.transport.send_raw(opcode::PING | opcode::FIN, &[]);
                            if !l.wait_for_pong_resp {
                                l.pingpong_tick_ms = self.tick_ms();
                                l.wait_for_pong_resp = true;
                            }
                        }
                        if self.tick_ms().saturating_sub(l.pingpong_tick_ms)
                            > PINGPONG_TIMEOUT_SEC * 1000
                            && l.wait_for_pong_resp
                        {
                            let msg = format!(
                                "Error, no PONG received for more than {PINGPONG_TIMEOUT_SEC} seconds after PING"
                            );
                            self.client_error(&mut l, &msg);
                            self.abort_connection(&mut l, ErrorType::PongTimeout);
                        }
                    }
                }
                State::WaitTimeout => {
                    if self.tick_ms().saturating_sub(l.reconnect_tick_ms) >= self.wait_timeout_ms {
                        self.set_state(State::Init);
                        l.reconnect_tick_ms = self.tick_ms();
                        log!(con, Debug, TAG, "Reconnecting...");
                    }
                }
                State::Closing => {
                    // The server began the closing handshake: an empty
                    // CLOSE back, its code not echoed (sheet section 5).
                    if self.status_bits.get() & CLOSE_FRAME_SENT_BIT == 0 {
                        log!(
                            con,
                            Debug,
                            TAG,
                            "Closing initiated by the server, sending close frame"
                        );
                        let _ = l.transport.send_raw(opcode::CLOSE | opcode::FIN, &[]);
                        self.status_bits.set(CLOSE_FRAME_SENT_BIT);
                    }
                }
                State::Unknown => {
                    log!(
                        con,
                        Debug,
                        TAG,
                        "Client run iteration in a default state: 0"
                    );
                }
            }
            drop(l);
            match self.state() {
                State::Connected => {
                    let poller = self.locked().transport.poller();
                    // The task goes on without waiting while frames are
                    // there to read (the recorded sessions print all the
                    // frames sent with the 101 before `Started`).
                    if !poller.ready_now() {
                        self.first_wait();
                    }
                    let polled = poller.poll_read(POLL);
                    match polled {
                        Err(_) if self.chip.halting() => break,
                        Err(e) => {
                            let mut l = self.locked();
                            let msg = format!(
                                "esp_transport_poll_read() returned -1, transport_error={}, tls_error_code=0, tls_flags=0, errno={}",
                                esp_err_to_name(l.tls_last_error),
                                e.0
                            );
                            self.client_error(&mut l, &msg);
                            self.abort_connection(&mut l, ErrorType::TcpTransport);
                        }
                        Ok(true) => {
                            let mut l = self.locked();
                            if self.recv(&mut l).is_err() {
                                log!(con, Error, TAG, "Error receive data");
                                self.abort_connection(&mut l, ErrorType::TcpTransport);
                            }
                        }
                        Ok(false) => {}
                    }
                }
                State::WaitTimeout => {
                    self.status_bits.clear(WAKEUP_BIT);
                    self.first_wait();
                    let elapsed = self
                        .tick_ms()
                        .saturating_sub(self.locked().reconnect_tick_ms);
                    if self.run.load(Ordering::SeqCst) && elapsed < self.wait_timeout_ms {
                        let remaining = Duration::from_millis(self.wait_timeout_ms - elapsed);
                        self.status_bits.wait(
                            REQUESTED_STOP_BIT | WAKEUP_BIT,
                            false,
                            Some(remaining.max(Duration::from_millis(1))),
                        );
                    }
                }
                State::Closing if self.status_bits.get() & CLOSE_FRAME_SENT_BIT != 0 => {
                    log!(
                        con,
                        Debug,
                        TAG,
                        " Waiting for TCP connection to be closed by the server"
                    );
                    self.first_wait();
                    let poller = self.locked().transport.poller();
                    let ret = poller.poll_connection_closed(POLL);
                    if ret == 0 {
                        log!(
                            con,
                            Warn,
                            TAG,
                            "Did not get TCP close within expected delay"
                        );
                    } else if ret < 0 {
                        log!(
                            con,
                            Warn,
                            TAG,
                            "Connection terminated while waiting for clean TCP close"
                        );
                    }
                    // close_reconnect is off: the client stops (sheet
                    // section 5: FINISH, no DISCONNECTED, no reconnect).
                    self.run.store(false, Ordering::SeqCst);
                    self.set_state(State::Unknown);
                    let mut l = self.locked();
                    self.dispatch(&mut l, Event::Closed, &[]);
                    break;
                }
                _ => {}
            }
        }
        if self.chip.halting() {
            return;
        }
        let mut l = self.locked();
        self.dispatch(&mut l, Event::Finish, &[]);
        // Closing with unread data resets the connection (sheet section 5).
        l.transport.close();
        drop(l);
        self.set_state(State::Unknown);
        self.status_bits.set(STOPPED_BIT);
    }
}

#[cfg(test)]
mod tests {
    use super::parse_uri;

    #[test]
    fn uris_split_as_the_client_reads_them() {
        assert_eq!(
            parse_uri("ws://127.0.0.1:18080/"),
            Some(("ws".into(), "127.0.0.1".into(), 18080, "/".into()))
        );
        assert_eq!(
            parse_uri("ws://example.com/chat?x=1"),
            Some(("ws".into(), "example.com".into(), 80, "/chat?x=1".into()))
        );
        assert_eq!(parse_uri("no-scheme"), None);
    }
}
