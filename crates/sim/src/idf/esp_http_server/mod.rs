//! esp_http_server, as released in the modelled ESP-IDF version.
//!
//! The code is organised like components/esp_http_server/src/: this module
//! is httpd_main.c (start-up, the select loop, accept, the control socket),
//! and the submodules follow the C files of the same names. Functions keep
//! their C names so that every log line can be traced to the function that
//! prints it (esp_http_server's `LOG_FMT` puts `__func__` in the message).
//!
//! The httpd task is a single thread: a handler that blocks in `recv` blocks
//! the whole server, exactly as on the chip.

/// `ESP_LOGx(TAG, LOG_FMT(fmt), ...)`: esp_http_server prefixes most of its
/// messages with the C function name (`#define LOG_FMT(x) "%s: " x, __func__`
/// in esp_httpd_priv.h), so the function name is part of the event.
#[macro_export]
macro_rules! logf {
    ($con:expr, $lvl:ident, $tag:expr, $func:expr, $($arg:tt)*) => {{
        let con: &$crate::chip::console::Console = &$con;
        if con.enabled($crate::chip::console::Level::$lvl) {
            con.log($crate::chip::console::Record {
                level: $crate::chip::console::Level::$lvl,
                tag: $tag,
                message: format!("{}: {}", $func, format_args!($($arg)*)).into_bytes(),
            });
        }
    }};
}

mod parse;
mod sess;
mod txrx;
mod uri;
pub mod ws;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::chip::Services;
use crate::chip::console::Console;
use crate::idf::Release;
use crate::idf::http_parser::ParsedUrl;
use crate::idf::lwip::{Errno, Fd, Lwip};
use crate::log;

pub(crate) use parse::c_str as c_str_of;
pub use ws::{WsFrame, WsType};

/// `esp_err_t`.
pub type EspErr = i32;
pub const ESP_OK: EspErr = 0;
pub const ESP_FAIL: EspErr = -1;
pub const ESP_ERR_NO_MEM: EspErr = 0x101;
pub const ESP_ERR_INVALID_ARG: EspErr = 0x102;
pub const ESP_ERR_INVALID_STATE: EspErr = 0x103;
pub const ESP_ERR_INVALID_SIZE: EspErr = 0x104;
pub const ESP_ERR_NOT_FOUND: EspErr = 0x105;
pub const ESP_ERR_INVALID_VERSION: EspErr = 0x10A;
pub const ESP_ERR_HTTPD_HANDLERS_FULL: EspErr = 0xb001;
pub const ESP_ERR_HTTPD_HANDLER_EXISTS: EspErr = 0xb002;
pub const ESP_ERR_HTTPD_INVALID_REQ: EspErr = 0xb003;
pub const ESP_ERR_HTTPD_RESULT_TRUNC: EspErr = 0xb004;
pub const ESP_ERR_HTTPD_RESP_HDR: EspErr = 0xb005;
pub const ESP_ERR_HTTPD_RESP_SEND: EspErr = 0xb006;

/// `HTTPD_SOCK_ERR_*` returned by send/recv functions.
pub const HTTPD_SOCK_ERR_FAIL: i32 = -1;
pub const HTTPD_SOCK_ERR_INVALID: i32 = -2;
pub const HTTPD_SOCK_ERR_TIMEOUT: i32 = -3;

/// `esp_http_server_event_id_t`.
#[derive(Copy, Clone, Debug)]
pub enum ServerEvent {
    Error = 0,
    Start = 1,
    OnConnected = 2,
    OnHeader = 3,
    HeadersSent = 4,
    OnData = 5,
    SentData = 6,
    Disconnected = 7,
    Stop = 8,
}

/// `httpd_config_t`, the fields the model uses, with `HTTPD_DEFAULT_CONFIG()`
/// values.
#[derive(Clone)]
pub struct HttpdConfig {
    pub server_port: u16,
    pub ctrl_port: u16,
    pub max_open_sockets: usize,
    pub max_uri_handlers: usize,
    pub backlog_conn: usize,
    pub lru_purge_enable: bool,
    pub recv_wait_timeout: Duration,
    pub max_req_hdr_len: usize,
    pub max_uri_len: usize,
    /// `uri_match_fn`: NULL (`httpd_uri_match_simple`, exact) unless the
    /// application gives one.
    pub uri_match_fn: Option<UriMatchFn>,
}

/// `httpd_uri_match_func_t`: does the registered URI template match the
/// request's URI up to its path's length?
pub type UriMatchFn = Arc<dyn Fn(&str, &[u8]) -> bool + Send + Sync>;

impl HttpdConfig {
    pub fn default_for(idf: &Release) -> Self {
        HttpdConfig {
            server_port: 80,
            ctrl_port: 32768,
            max_open_sockets: 7,
            max_uri_handlers: 8,
            backlog_conn: 5,
            lru_purge_enable: false,
            recv_wait_timeout: Duration::from_secs(5),
            max_req_hdr_len: idf.httpd.max_req_hdr_len,
            max_uri_len: idf.httpd.max_uri_len,
            uri_match_fn: None,
        }
    }
}

/// A URI handler or a WebSocket handshake callback of an `httpd_uri_t`:
/// the C function pointer (`esp_err_t (*)(httpd_req_t *r)`) together with
/// the `user_ctx` it reads, which the closure captures. It runs on the
/// server's task, with the request being handled in the server's state.
pub type HandlerFn = Arc<dyn Fn(&mut Httpd) -> EspErr + Send + Sync>;

/// `httpd_uri_t`, as `httpd_register_uri_handler()` takes it.
#[derive(Clone)]
pub struct HttpdUri {
    pub uri: String,
    pub method: u8,
    /// `handler` and `user_ctx`.
    pub handler: HandlerFn,
    pub is_websocket: bool,
    pub handle_ws_control_frames: bool,
    pub supported_subprotocol: Option<String>,
    pub ws_pre_handshake_cb: Option<HandlerFn>,
    pub ws_post_handshake_cb: Option<HandlerFn>,
}

/// A work item for `httpd_queue_work(handle, work_fn, arg)`: the C function
/// pointer and its argument, which the closure captures. It runs on the
/// server's task.
pub type WorkFn = Box<dyn FnOnce(&mut Httpd) + Send>;

/// `struct sock_db`.
struct SockDb {
    fd: Fd,
    lru_counter: u64,
    lru_socket: bool,
    /// `pending_data[PARSER_BLOCK_SIZE]` with `pending_len`: the bytes are
    /// right-aligned in C; only their order matters here.
    pending: Vec<u8>,
    ws_handshake_done: bool,
    ws_handler: Option<HandlerFn>,
    ws_close: bool,
    ws_control_frames: bool,
    for_async_req: bool,
    /// `ctx` and `free_ctx`: what a handler left on the session.
    ctx: Option<SessCtx>,
}

/// A session context (`void *ctx`) with its `free_ctx` function, which
/// httpd calls when the session is deleted.
#[derive(Clone)]
pub struct SessCtx {
    pub value: i64,
    pub free_ctx: Arc<dyn Fn(i64) + Send + Sync>,
}

impl std::fmt::Debug for SessCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessCtx")
            .field("value", &self.value)
            .finish()
    }
}

impl SockDb {
    fn free() -> Self {
        SockDb {
            fd: -1,
            lru_counter: 0,
            lru_socket: false,
            pending: Vec::new(),
            ws_handshake_done: false,
            ws_handler: None,
            ws_close: false,
            ws_control_frames: false,
            for_async_req: false,
            ctx: None,
        }
    }
}

/// `httpd_req_t` together with `struct httpd_req_aux`.
#[derive(Clone, Debug)]
pub struct Req {
    slot: usize,
    pub uri: Vec<u8>,
    pub method: u8,
    pub content_len: usize,
    remaining_len: usize,
    scratch: Vec<u8>,
    scratch_size_limit: usize,
    req_hdrs_count: usize,
    max_req_hdr_len: usize,
    max_uri_len: usize,
    url: ParsedUrl,
    status: &'static str,
    content_type: &'static str,
    ws_handshake_detect: bool,
    ws_type: u8,
    ws_final: bool,
    /// `httpd_resp_set_hdr()` headers of the response being built.
    resp_hdrs: Vec<(&'static str, &'static str)>,
    /// `sess_ctx` / `free_ctx`: the session's context, which a handler may
    /// replace; the session takes it over when the request is cleaned up.
    sess_ctx: Option<SessCtx>,
}

/// `hd_calls`: the URI handler table. Handlers are registered by another
/// task while the httpd task may already be serving, as in C (where the
/// table is shared without a lock), so it is shared here.
#[derive(Clone)]
struct UriTable {
    slots: Arc<Mutex<Vec<Option<HttpdUri>>>>,
    match_fn: Option<UriMatchFn>,
    con: Console,
}

/// `httpd_handle_t`: what `httpd_start()` gives its caller, to register
/// URI handlers with and to queue work on the server's task from any task.
#[derive(Clone)]
pub struct HttpdHandle {
    uris: UriTable,
    work: WorkQueue,
}

impl HttpdHandle {
    /// `httpd_register_uri_handler()`.
    pub fn httpd_register_uri_handler(&self, uri: HttpdUri) -> EspErr {
        self.uris.httpd_register_uri_handler(uri)
    }

    /// `httpd_unregister_uri_handler()`.
    pub fn httpd_unregister_uri_handler(&self, uri: &str, method: u8) -> EspErr {
        self.uris.httpd_unregister_uri_handler(uri, method)
    }

    /// `httpd_queue_work()` from another task.
    pub fn httpd_queue_work(&self, work: WorkFn) -> EspErr {
        self.work.httpd_queue_work(work)
    }

    /// `httpd_stop()`: a HTTPD_CTRL_SHUTDOWN message to the server's task,
    /// then the caller waits (in 100 ms sleeps in C) until that task has
    /// stopped. A session whose context cannot be freed meanwhile keeps it
    /// waiting for ever, as on the chip.
    pub fn httpd_stop(&self, chip: &Services) -> EspErr {
        let stopped = chip.queue_create::<()>(1);
        let tell = stopped.clone();
        // cs_send_to_ctrl_sock() directly, without httpd_queue_work()'s
        // semaphore: the model's control socket carries work items only.
        let ret = self.work.httpd_queue_work(Box::new(move |hd: &mut Httpd| {
            logf!(hd.con, Debug, TAG, "httpd_process_ctrl_msg", "shutdown");
            hd.stopping = true;
            hd.stopped = Some(tell);
        }));
        if ret != ESP_OK {
            return ret;
        }
        logf!(
            self.work.con,
            Debug,
            TAG,
            "httpd_stop",
            "sent control msg to stop server"
        );
        if stopped.receive().is_none() {
            return ESP_FAIL;
        }
        stopped.handled();
        logf!(self.work.con, Debug, TAG, "httpd_stop", "server stopped");
        ESP_OK
    }
}

struct WorkState {
    /// `ctrl_sock_semaphore`: free slots of the control socket's mbox.
    ctrl_sem: usize,
    items: HashMap<u64, WorkFn>,
    next: u64,
}

/// `httpd_queue_work()`'s side of the control socket: the work items in
/// flight, shared by the server's task and whoever holds its handle.
#[derive(Clone)]
struct WorkQueue {
    inner: Arc<Mutex<WorkState>>,
    net: Arc<Lwip>,
    con: Console,
    ctrl_port: u16,
    fail_fast: bool,
    mbox_size: usize,
}

impl WorkQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, WorkState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `httpd_queue_work()`.
    fn httpd_queue_work(&self, work: WorkFn) -> EspErr {
        // The default, non-blocking mode: fail when the mbox is full. Before
        // the semaphore, a full mbox drops the datagram inside lwIP and the
        // work silently never runs.
        let mut st = self.lock();
        if self.fail_fast && st.ctrl_sem == 0 {
            drop(st);
            logf!(
                self.con,
                Warn,
                TAG,
                "httpd_queue_work",
                "ctrl socket queue full, work not queued"
            );
            return ESP_FAIL;
        }
        if self.fail_fast {
            st.ctrl_sem -= 1;
        }
        let token = st.next;
        st.next += 1;
        st.items.insert(token, work);
        drop(st);
        if self.net.udp_sendto(self.ctrl_port, token).is_err() {
            logf!(
                self.con,
                Warn,
                TAG,
                "httpd_queue_work",
                "failed to queue work"
            );
            let mut st = self.lock();
            st.items.remove(&token);
            if self.fail_fast {
                st.ctrl_sem += 1;
            }
            return ESP_FAIL;
        }
        ESP_OK
    }

    fn take(&self, token: u64) -> Option<WorkFn> {
        self.lock().items.remove(&token)
    }

    /// The server took a datagram off the control socket.
    fn release_slot(&self) {
        let mut st = self.lock();
        st.ctrl_sem = (st.ctrl_sem + 1).min(self.mbox_size);
    }
}

/// `PARSER_BLOCK_SIZE` in esp_httpd_priv.h: request reads and the pending
/// (un-received) buffer are both this big.
const PARSER_BLOCK_SIZE: usize = 128;

/// `httpd_uri_match_wildcard()`: a template ending in `*` matches any URI
/// that starts with what comes before it; one ending in `?` makes the
/// character before it optional (`?*` combines both).
pub fn httpd_uri_match_wildcard(template: &str, uri: &[u8]) -> bool {
    let tpl = template.as_bytes();
    let last = tpl.last().copied();
    let prevlast = tpl.len().checked_sub(2).map(|i| tpl[i]);
    let asterisk = last == Some(b'*') || (prevlast == Some(b'*') && last == Some(b'?'));
    let quest = last == Some(b'?') || (prevlast == Some(b'?') && last == Some(b'*'));
    let exact = tpl.len() - usize::from(asterisk) - usize::from(quest);
    if tpl.len() < usize::from(asterisk) + (usize::from(quest) << 1) {
        return false;
    }
    if uri.len() < exact {
        // Only the optional character may be missing, and only at the end.
        return quest && uri.len() + 1 == exact && tpl[..uri.len()] == *uri;
    }
    if tpl[..exact] != uri[..exact] {
        return false;
    }
    uri.len() == exact || asterisk
}

/// The state of one running server (`struct httpd_data`).
pub struct Httpd {
    pub(crate) idf: Arc<Release>,
    pub(crate) con: Console,
    pub(crate) net: Arc<Lwip>,
    pub(crate) config: HttpdConfig,
    listen_fd: Fd,
    ctrl_fd: Fd,
    #[allow(dead_code)]
    msg_fd: Fd,
    sessions: Vec<SockDb>,
    active_count: usize,
    lru_counter: u64,
    uris: UriTable,
    /// The work queue, which other tasks reach through the handle.
    work: WorkQueue,
    pub(crate) req: Option<Req>,
    /// `aux->mask_key`: the server has one request aux (`hd->hd_req_aux`)
    /// for all its requests, so a mask read short keeps bytes of the
    /// previous frame, whatever socket that came from.
    aux_mask_key: [u8; 4],
    stopping: bool,
    /// Told when the task has stopped (`hd_td.status = THREAD_STOPPED`).
    stopped: Option<crate::chip::Queue<()>>,
}

/// `TAG` of httpd_main.c.
const TAG: &str = "httpd";

impl Httpd {
    /// `httpd_start()`: sets the server up and creates its task
    /// (`httpd_thread()`, through the chip's task API), or returns the
    /// error its caller sees.
    pub fn httpd_start(
        chip: &Services,
        idf: Arc<Release>,
        net: Arc<Lwip>,
        config: HttpdConfig,
    ) -> Result<HttpdHandle, EspErr> {
        let con = chip.console().clone();
        let max_sockets = net_max_sockets(&idf);
        if max_sockets < config.max_open_sockets + 3 {
            log!(
                con,
                Error,
                TAG,
                "Config option max_open_sockets is too large (max allowed {}, 3 sockets used by HTTP server internally)\n\tEither decrease this or configure LWIP_MAX_SOCKETS to a larger value",
                max_sockets - 3
            );
            return Err(ESP_ERR_INVALID_ARG);
        }
        // httpd_server_init(): listen socket, control socket, message socket,
        // in this order (their numbers show in the debug log).
        let listen_fd = match net.tcp_listen(config.backlog_conn) {
            Ok(fd) => fd,
            Err(e) => {
                logf!(
                    con,
                    Error,
                    TAG,
                    "httpd_server_init",
                    "error in socket ({})",
                    e.0
                );
                return Err(ESP_FAIL);
            }
        };
        let ctrl_fd = match net.udp_socket(Some(config.ctrl_port)) {
            Ok(fd) => fd,
            Err(e) => {
                logf!(
                    con,
                    Error,
                    TAG,
                    "httpd_server_init",
                    "error in creating ctrl socket ({})",
                    e.0
                );
                let _ = net.close(listen_fd);
                return Err(ESP_FAIL);
            }
        };
        let msg_fd = match net.udp_socket(None) {
            Ok(fd) => fd,
            Err(e) => {
                logf!(
                    con,
                    Error,
                    TAG,
                    "httpd_server_init",
                    "error in creating msg socket ({})",
                    e.0
                );
                let _ = net.close(listen_fd);
                let _ = net.close(ctrl_fd);
                return Err(ESP_FAIL);
            }
        };
        let sessions = (0..config.max_open_sockets)
            .map(|_| SockDb::free())
            .collect();
        let uris = UriTable::new(
            config.max_uri_handlers,
            config.uri_match_fn.clone(),
            con.clone(),
        );
        let work = WorkQueue {
            inner: Arc::new(Mutex::new(WorkState {
                ctrl_sem: idf.udp_recvmbox_size,
                items: HashMap::new(),
                next: 0,
            })),
            net: net.clone(),
            con: con.clone(),
            ctrl_port: config.ctrl_port,
            fail_fast: idf.httpd.queue_work_fail_fast,
            mbox_size: idf.udp_recvmbox_size,
        };
        let mut hd = Httpd {
            idf,
            con,
            net,
            config,
            listen_fd,
            ctrl_fd,
            msg_fd,
            sessions,
            active_count: 0,
            lru_counter: 0,
            uris,
            work,
            req: None,
            aux_mask_key: [0; 4],
            stopping: false,
            stopped: None,
        };
        hd.dispatch_event(ServerEvent::Start);
        let handle = HttpdHandle {
            uris: hd.uris.clone(),
            work: hd.work.clone(),
        };
        // The task runs once its creator writes its next line, up to its
        // first select (the chip's rule for a new task): the documented
        // output shows `web server started` and the first `doing select`
        // right after the line that follows httpd_start(), and before the
        // caller's `httpd_register_uri_handler` lines.
        chip.create_task("httpd", move || {
            hd.thread_started();
            hd.run();
        });
        Ok(handle)
    }

    /// `esp_http_server_dispatch_event()`: posted to the default event loop.
    /// The model has no event handlers, so esp_event's loop task
    /// (components/esp_event/esp_event.c, `esp_event_loop_run`) logs that at
    /// debug level. The loop task has a higher priority than httpd, so the
    /// line is printed right away.
    pub(crate) fn dispatch_event(&self, ev: ServerEvent) {
        // esp_http_server has posted events since v5.0 only.
        if !self.idf.httpd.events {
            return;
        }
        log!(
            self.con,
            Debug,
            "event",
            "no handlers have been registered for event ESP_HTTP_SERVER_EVENT:{} posted to loop {}",
            ev as i32,
            crate::idf::esp_event::DEFAULT_EVENT_LOOP_ADDR
        );
    }

    /// `httpd_thread()`'s prologue.
    fn thread_started(&self) {
        logf!(self.con, Debug, TAG, "httpd_thread", "web server started");
    }

    /// Runs `httpd_server()` until the server stops or the chip is halted.
    fn run(&mut self) {
        while !self.stopping {
            if self.httpd_server().is_err() {
                return;
            }
        }
        logf!(self.con, Debug, TAG, "httpd_thread", "web server exiting");
        // httpd_thread() after the loop: the control sockets, every
        // session (each freeing its context), the listening socket, then
        // THREAD_STOPPED, which httpd_stop() waits for.
        let _ = self.net.close(self.msg_fd);
        let _ = self.net.close(self.ctrl_fd);
        for slot in 0..self.sessions.len() {
            if self.sessions[slot].fd >= 0 {
                self.httpd_sess_delete(slot);
            }
        }
        let _ = self.net.close(self.listen_fd);
        if let Some(stopped) = self.stopped.take() {
            stopped.send(());
        }
    }

    /// `httpd_server()`: one turn of the select loop.
    fn httpd_server(&mut self) -> Result<(), Errno> {
        let ready = self.select()?;
        self.after_select(&ready);
        Ok(())
    }

    fn select(&mut self) -> Result<Vec<Fd>, Errno> {
        let mut read_set = Vec::new();
        if self.config.lru_purge_enable || self.httpd_is_sess_available() {
            read_set.push(self.listen_fd);
        }
        read_set.push(self.ctrl_fd);
        let mut max_fd = -1;
        for s in &self.sessions {
            if s.fd != -1 && !s.for_async_req {
                read_set.push(s.fd);
                max_fd = max_fd.max(s.fd);
            }
        }
        let maxfd = self.listen_fd.max(max_fd).max(self.ctrl_fd);
        logf!(
            self.con,
            Debug,
            TAG,
            "httpd_server",
            "doing select maxfd+1 = {}",
            maxfd + 1
        );
        self.net.select(&read_set)
    }

    fn after_select(&mut self, ready: &[Fd]) {
        // Case 0: a control message.
        if ready.contains(&self.ctrl_fd) {
            logf!(
                self.con,
                Debug,
                TAG,
                "httpd_server",
                "processing ctrl message"
            );
            self.httpd_process_ctrl_msg();
            if self.stopping {
                logf!(self.con, Debug, TAG, "httpd_server", "stopping thread");
                return;
            }
        }
        // Case 1: activity on sessions, in slot order.
        for slot in 0..self.sessions.len() {
            self.httpd_process_session(slot, ready);
        }
        // Case 2: a new connection.
        if ready.contains(&self.listen_fd) {
            logf!(
                self.con,
                Debug,
                TAG,
                "httpd_server",
                "processing listen socket {}",
                self.listen_fd
            );
            if self.httpd_accept_conn() != ESP_OK {
                logf!(
                    self.con,
                    Warn,
                    TAG,
                    "httpd_server",
                    "error accepting new connection"
                );
            }
        }
    }

    fn httpd_process_session(&mut self, slot: usize, ready: &[Fd]) {
        let s = &self.sessions[slot];
        if s.fd < 0 || s.for_async_req {
            return;
        }
        let fd = s.fd;
        if ready.contains(&fd) || !s.pending.is_empty() {
            logf!(
                self.con,
                Debug,
                TAG,
                self.idf.httpd.process_session_func,
                "processing socket {}",
                fd
            );
            if self.httpd_sess_process(slot) != ESP_OK {
                if self.idf.httpd.select_loop_closes {
                    // v4.2 httpd_main.c:199-205: the loop closes the socket
                    // itself, then deletes the session.
                    logf!(
                        self.con,
                        Debug,
                        TAG,
                        "httpd_server",
                        "closing socket {}",
                        fd
                    );
                    let _ = self.net.close(fd);
                }
                self.httpd_sess_delete(slot);
            }
        }
    }

    /// `httpd_accept_conn()`.
    fn httpd_accept_conn(&mut self) -> EspErr {
        const F: &str = "httpd_accept_conn";
        if self.config.lru_purge_enable && !self.httpd_is_sess_available() {
            return self.httpd_sess_close_lru();
        }
        let new_fd = match self.net.accept(self.listen_fd) {
            Ok(fd) => fd,
            Err(e) => {
                if self.idf.httpd.accept_errors_are_errors {
                    logf!(self.con, Error, TAG, F, "error in accept ({})", e.0);
                } else {
                    logf!(self.con, Warn, TAG, F, "error in accept ({})", e.0);
                }
                return ESP_FAIL;
            }
        };
        logf!(self.con, Debug, TAG, F, "newfd = {}", new_fd);
        // SO_RCVTIMEO = recv_wait_timeout (SO_SNDTIMEO has no effect here).
        let _ = self.net.set_rcvtimeo(new_fd, self.config.recv_wait_timeout);
        if self.httpd_sess_new(new_fd) != ESP_OK {
            if self.idf.httpd.accept_errors_are_errors {
                logf!(self.con, Error, TAG, F, "session creation failed");
            } else {
                logf!(self.con, Warn, TAG, F, "session creation failed");
            }
            let _ = self.net.close(new_fd);
            return ESP_FAIL;
        }
        logf!(self.con, Debug, TAG, F, "complete");
        self.dispatch_event(ServerEvent::OnConnected);
        ESP_OK
    }

    /// `httpd_queue_work()` from the server's own task.
    pub fn httpd_queue_work(&mut self, work: WorkFn) -> EspErr {
        self.work.httpd_queue_work(work)
    }

    /// `httpd_process_ctrl_msg()`.
    fn httpd_process_ctrl_msg(&mut self) {
        let token = match self.net.udp_recv(self.ctrl_fd) {
            Ok(t) => t,
            Err(e) => {
                logf!(
                    self.con,
                    Warn,
                    TAG,
                    "httpd_process_ctrl_msg",
                    "error in recv ({})",
                    e.0
                );
                self.work.release_slot();
                return;
            }
        };
        if let Some(work) = self.work.take(token) {
            logf!(self.con, Debug, TAG, "httpd_process_ctrl_msg", "work");
            work(self);
        }
        self.work.release_slot();
    }

    /// `httpd_req_to_sockfd()` for the request being handled.
    pub fn httpd_req_to_sockfd(&self) -> Fd {
        match &self.req {
            Some(r) => self.sessions[r.slot].fd,
            None => -1,
        }
    }

    /// `req->method` of the request being handled.
    pub fn req_method(&self) -> Option<u8> {
        self.req.as_ref().map(|r| r.method)
    }

    /// The URI of the request being handled (`req->uri`).
    pub fn req_uri(&self) -> Vec<u8> {
        self.req.as_ref().map(|r| r.uri.clone()).unwrap_or_default()
    }

    /// `req->content_len`.
    pub fn req_content_len(&self) -> usize {
        self.req.as_ref().map_or(0, |r| r.content_len)
    }

    /// `httpd_req_get_url_query_str()`: the query of the request's URL,
    /// if it has one.
    pub fn httpd_req_get_url_query_str(&self) -> Option<Vec<u8>> {
        let r = self.req.as_ref()?;
        let (off, len) = r.url.query?;
        Some(r.uri[off..off + len].to_vec())
    }

    /// `req->sess_ctx` of the request being handled.
    pub fn req_sess_ctx(&self) -> Option<i64> {
        self.req.as_ref()?.sess_ctx.as_ref().map(|c| c.value)
    }

    /// `req->sess_ctx = ...; req->free_ctx = ...`.
    pub fn req_set_sess_ctx(&mut self, ctx: SessCtx) {
        if let Some(r) = self.req.as_mut() {
            r.sess_ctx = Some(ctx);
        }
    }

    /// `httpd_req_get_hdr_value_str()` of a header of any length (what
    /// `httpd_req_get_hdr_value_len()` + 1 makes room for), None when the
    /// request has no such header.
    pub fn req_header(&self, field: &str) -> Option<Vec<u8>> {
        let len = self.httpd_req_get_hdr_value_len(field);
        if len == 0 {
            return None;
        }
        self.httpd_req_get_hdr_value_str(field, len + 1).ok()
    }
}

fn net_max_sockets(idf: &Release) -> usize {
    idf.lwip_max_sockets
}
