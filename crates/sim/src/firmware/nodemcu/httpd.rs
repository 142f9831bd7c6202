//! NodeMCU's `httpd` module (components/modules/httpd.c) with the
//! WebSocket routes of PR #3514, over the model's esp_http_server. Facts:
//! the fact sheet nodemcu-httpd-websocket.md (sections named below) and the
//! module's source, whose functions are named here.
//!
//! Two tasks work in lockstep, as in C: esp_http_server's task calls the
//! module's handler (`dynamic_handler_httpd`), which posts the request to
//! the Lua task (`dynamic_handler_lvm`) and services what Lua asks of it
//! (a header, a body chunk) until Lua says it is done; a single-slot queue
//! carries Lua's requests and a binary semaphore releases Lua again.
//!
//! Not modelled: `httpd.dynamic` and `httpd.static` responses to plain
//! HTTP (the example script uses neither), and the
//! webroot's files: the model has no file system, so the static routes
//! `httpd.start` registers answer every request with 404 (`serve_file`
//! when `fopen` fails; the `fclose(NULL)` that follows is not modelled).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use mlua::{
    AnyUserData, Function, Lua, MetaMethod, MultiValue, Table, UserData, UserDataMethods, Value,
};

use super::lua::{Raise, Ret, Vm, bad_argument, to_bytes, to_integer, typename};
use super::task::{Prio, Tasks};
use crate::chip::{Queue, Services};
use crate::idf::esp_http_server::ws::{WS_BINARY, WS_TEXT};
use crate::idf::esp_http_server::{
    ESP_ERR_NO_MEM, ESP_FAIL, ESP_OK, EspErr, HandlerFn, Httpd, HttpdConfig, HttpdHandle, HttpdUri,
    SessCtx, WsFrame, httpd_uri_match_wildcard,
};
use crate::idf::http_parser::HTTP_GET;
use crate::idf::lwip::Fd;

/// `HTTP_WEBSOCKET` and `HTTP_WEBSOCKET_GET`: what `websocket_handler_httpd`
/// writes into `req->method` for a frame and for the handshake.
pub const HTTP_WEBSOCKET: i64 = 1234;
pub const HTTP_WEBSOCKET_GET: i64 = 1235;

/// `index_mode_t`.
const INDEX_NONE: i64 = 0;
const INDEX_ROOT: i64 = 1;
const INDEX_ALL: i64 = 2;

/// `default_suffixes`: the static routes `httpd.start` registers.
const DEFAULT_SUFFIXES: &[&str] = &[
    "*.html", "*.css", "*.js", "*.txt", "*.json", "*.gif", "*.jpg", "*.jpeg", "*.png", "*.svg",
    "*.ttf",
];

/// `thread_request_t`: what the Lua task asks of the httpd task during a
/// request.
enum ThreadRequest {
    GetHeader {
        name: String,
        reply: Arc<Mutex<Option<Vec<u8>>>>,
    },
    ReadBodyChunk {
        reply: Arc<Mutex<Option<Vec<u8>>>>,
    },
    SendError,
    /// SEND_OK, with the session context Lua set (`req->sess_ctx`, written
    /// across tasks in C while the httpd task waits).
    SendOk {
        sess_ctx: Option<i64>,
    },
}

/// `queue` (one slot, Lua → httpd) and `done` (httpd → Lua).
#[derive(Clone)]
struct Link {
    queue: Queue<ThreadRequest>,
    done: Queue<()>,
}

impl Link {
    /// The Lua side: `xQueueSend(queue, &tr, portMAX_DELAY)`, then
    /// `xSemaphoreTake(done, portMAX_DELAY)`.
    fn request(&self, tr: ThreadRequest) {
        if self.queue.send_blocking(tr) && self.done.receive().is_some() {
            self.done.handled();
        }
    }
}

/// `request_data_t`: a request as the httpd task hands it to Lua.
struct RequestData {
    key: String,
    uri: Vec<u8>,
    query: Option<Vec<u8>>,
    method: i64,
    ws_type: u8,
    payload: Vec<u8>,
    /// `req->sess_ctx`: the weak reference of the session's ws object.
    sess_ctx: Option<i64>,
    fd: Fd,
    /// FREE_WS_OBJECT with this reference, from `free_sess_ctx`.
    free_ws: Option<i64>,
}

/// The module's statics that the httpd task and the hand-off need.
#[derive(Clone)]
struct Shared {
    link: Link,
    tasks: Tasks,
    chip: Services,
    /// `index_mode`, read by the match function on the httpd task.
    index_mode: Arc<AtomicI64>,
}

/// The module's state on the Lua task.
struct LuaSide {
    shared: Shared,
    /// `server`.
    server: Rc<std::cell::RefCell<Option<HttpdHandle>>>,
    /// `guard`: bumped after every request, so that a `req` kept past its
    /// handler fails instead of deadlocking.
    guard: Rc<Cell<u32>>,
    /// The next `self_weak_ref` (luaL_ref numbers in C).
    next_ref: Rc<Cell<i64>>,
}

const HANDLERS: &str = "httpd.handlers";
const WS_WEAK: &str = "httpd.ws.weak";
const WS_STRONG: &str = "httpd.ws.strong";
const WS_CALLBACKS: &str = "httpd.ws.callbacks";

/// `lhttpd_init()` and the module table (`LROT_BEGIN(httpd ...)`).
pub fn open(vm: &Vm) -> mlua::Result<()> {
    let lua = &vm.lua;
    let shared = Shared {
        link: Link {
            queue: vm.chip.queue_create(1),
            done: vm.chip.queue_create(1),
        },
        tasks: vm.tasks.clone(),
        chip: vm.chip.clone(),
        index_mode: Arc::new(AtomicI64::new(INDEX_ROOT)),
    };
    let side = LuaSide {
        shared,
        server: Rc::default(),
        guard: Rc::default(),
        next_ref: Rc::new(Cell::new(1)),
    };
    lua.set_named_registry_value(HANDLERS, lua.create_table()?)?;
    let weak = lua.create_table()?;
    let mt = lua.create_table()?;
    mt.set("__mode", "v")?;
    weak.set_metatable(Some(mt))?;
    lua.set_named_registry_value(WS_WEAK, weak)?;
    lua.set_named_registry_value(WS_STRONG, lua.create_table()?)?;
    lua.set_named_registry_value(WS_CALLBACKS, lua.create_table()?)?;

    let t = lua.create_table()?;
    let idf = vm.idf.clone();
    let lwip = vm.lwip.clone();
    {
        let (server, shared, chip) = (side.server.clone(), side.shared.clone(), vm.chip.clone());
        let raise = vm.raiser();
        t.set(
            "start",
            vm.function(move |lua, args| {
                lhttpd_start(lua, &args, &server, &shared, &chip, &idf, &lwip, &raise)
            })?,
        )?;
    }
    {
        let (server, shared) = (side.server.clone(), side.shared.clone());
        let raise = vm.raiser();
        t.set(
            "websocket",
            vm.function(move |lua, args| lhttpd_websocket(lua, &args, &server, &shared, &raise))?,
        )?;
    }
    {
        let server = side.server.clone();
        let raise = vm.raiser();
        t.set(
            "unregister",
            vm.function(move |lua, args| {
                let Some(handle) = server.borrow().clone() else {
                    return raise(lua, "Server not started".into());
                };
                let method = match to_integer(args.front()) {
                    Some(m) if [1, 2, 3, 4, 0].contains(&m) => m,
                    Some(m) => return raise(lua, format!("unknown method {m}")),
                    None => {
                        return raise(
                            lua,
                            bad_argument(1, "unregister", "number", typename(&args, 0)),
                        );
                    }
                };
                let Some(uri) = to_bytes(args.get(1)) else {
                    return raise(
                        lua,
                        bad_argument(2, "unregister", "string", typename(&args, 1)),
                    );
                };
                let rc = handle
                    .httpd_unregister_uri_handler(&String::from_utf8_lossy(&uri), method as u8);
                if rc == ESP_OK {
                    Ok(MultiValue::from_iter([Value::Integer(1)]))
                } else {
                    Ok(MultiValue::from_iter([Value::Nil]))
                }
            })?,
        )?;
    }
    {
        let (server, chip) = (side.server.clone(), vm.chip.clone());
        t.set(
            "stop",
            vm.function(move |lua, _args| {
                // `lhttpd_stop()`: httpd_stop() on the Lua task, which waits
                // for the server's task; with a WebSocket session open that
                // task waits for Lua to free the session's ws object, and
                // both hang (sheet section 4, inferred).
                let handle = server.borrow_mut().take();
                if let Some(handle) = handle {
                    let _ = handle.httpd_stop(&chip);
                    lua.set_named_registry_value(HANDLERS, lua.create_table()?)?;
                }
                Ok(MultiValue::new())
            })?,
        )?;
    }
    // http_parser's method numbers, and index_mode_t.
    t.set("GET", 1)?;
    t.set("HEAD", 2)?;
    t.set("PUT", 4)?;
    t.set("POST", 3)?;
    t.set("DELETE", 0)?;
    t.set("INDEX_NONE", INDEX_NONE)?;
    t.set("INDEX_ROOT", INDEX_ROOT)?;
    t.set("INDEX_ALL", INDEX_ALL)?;
    lua.globals().set("httpd", t)?;
    lua.set_app_data(side);
    Ok(())
}

/// `uri_match_file_suffix_first()`: `*.sufx` templates match by suffix,
/// the empty template is the auto-indexer's (by `index_mode`), anything
/// else goes to `httpd_uri_match_wildcard`.
fn uri_match_file_suffix_first(index_mode: &AtomicI64, template: &str, uri: &[u8]) -> bool {
    if let Some(suffix) = template.strip_prefix('*') {
        // C compares from `uri + match_upto - strlen(suffix)`, before the
        // URI's start for a shorter one (undefined); the model says no.
        return uri.ends_with(suffix.as_bytes());
    }
    if template.is_empty() {
        return match index_mode.load(Ordering::Relaxed) {
            INDEX_ROOT => uri == b"/",
            INDEX_ALL => uri.last() == Some(&b'/'),
            _ => false,
        };
    }
    httpd_uri_match_wildcard(template, uri)
}

#[allow(clippy::too_many_arguments)]
fn lhttpd_start(
    lua: &Lua,
    args: &MultiValue,
    server: &Rc<std::cell::RefCell<Option<HttpdHandle>>>,
    shared: &Shared,
    chip: &Services,
    idf: &Arc<crate::idf::Release>,
    lwip: &Arc<crate::idf::lwip::Lwip>,
    raise: &Raise,
) -> Ret {
    if server.borrow().is_some() {
        return raise(lua, "Server already started".into());
    }
    let Some(Value::Table(cfg)) = args.front() else {
        return raise(lua, bad_argument(1, "start", "table", typename(args, 0)));
    };
    let webroot: Value = cfg.get("webroot")?;
    if to_bytes(Some(&webroot)).is_none() {
        return raise(
            lua,
            bad_argument(1, "start", "string", webroot.type_name())
                .replace("bad argument #1", "bad argument #-1"),
        );
    }
    let max_handlers: Value = cfg.get("max_handlers")?;
    let max_handlers = match max_handlers {
        Value::Nil => 20,
        v => match to_integer(Some(&v)) {
            Some(n) => n,
            None => {
                return raise(
                    lua,
                    bad_argument(-1i64 as usize, "start", "number", v.type_name()),
                );
            }
        },
    };
    let auto_index: Value = cfg.get("auto_index")?;
    let index_mode = match auto_index {
        Value::Nil => INDEX_ROOT,
        v => to_integer(Some(&v)).unwrap_or(INDEX_ROOT),
    };
    shared.index_mode.store(index_mode, Ordering::Relaxed);
    let mut config = HttpdConfig::default_for(idf);
    let mode = shared.index_mode.clone();
    config.uri_match_fn = Some(Arc::new(move |t: &str, u: &[u8]| {
        uri_match_file_suffix_first(&mode, t, u)
    }));
    config.max_uri_handlers = max_handlers.max(0) as usize;
    let handle = match Httpd::httpd_start(chip, idf.clone(), lwip.clone(), config) {
        Ok(h) => h,
        Err(code) => return raise(lua, format!("Failed to start http server; code {code}")),
    };
    *server.borrow_mut() = Some(handle.clone());
    // The default static suffixes, through `lhttpd_static` (whose result
    // is ignored here), then the auto-indexer.
    for suffix in DEFAULT_SUFFIXES {
        let _ = handle.httpd_register_uri_handler(plain_route(suffix, static_file_handler()));
    }
    let _ = handle.httpd_register_uri_handler(plain_route("", static_file_handler()));
    Ok(MultiValue::new())
}

fn plain_route(uri: &str, handler: HandlerFn) -> HttpdUri {
    HttpdUri {
        uri: uri.into(),
        method: HTTP_GET,
        handler,
        is_websocket: false,
        handle_ws_control_frames: false,
        supported_subprotocol: None,
        ws_pre_handshake_cb: None,
        ws_post_handshake_cb: None,
    }
}

/// `static_file_handler()` / `auto_index_handler()` without a file system:
/// `fopen` fails and `serve_file` answers 404.
fn static_file_handler() -> HandlerFn {
    Arc::new(|hd: &mut Httpd| {
        let _ = hd.httpd_resp_send_404();
        ESP_OK
    })
}

fn lhttpd_websocket(
    lua: &Lua,
    args: &MultiValue,
    server: &Rc<std::cell::RefCell<Option<HttpdHandle>>>,
    shared: &Shared,
    raise: &Raise,
) -> Ret {
    let Some(handle) = server.borrow().clone() else {
        return raise(lua, "Server not started".into());
    };
    let Some(route) = to_bytes(args.front()) else {
        return raise(
            lua,
            bad_argument(1, "websocket", "string", typename(args, 0)),
        );
    };
    let Some(Value::Function(handler)) = args.get(1) else {
        return raise(
            lua,
            bad_argument(2, "websocket", "function", typename(args, 1)),
        );
    };
    if route.is_empty() {
        return raise(lua, "Null route not supported".into());
    }
    let route = String::from_utf8_lossy(&route).into_owned();
    let key = format!("[WS]{route}");
    let handlers: Table = lua.named_registry_value(HANDLERS)?;
    handlers.set(key.as_str(), handler.clone())?;
    let rc = handle.httpd_register_uri_handler(HttpdUri {
        uri: route,
        method: HTTP_GET,
        handler: websocket_handler_httpd(key, shared.clone()),
        is_websocket: true,
        handle_ws_control_frames: false,
        supported_subprotocol: None,
        ws_pre_handshake_cb: None,
        ws_post_handshake_cb: None,
    });
    // `== 1`: esp_http_server returns ESP_OK (0) or an error, never 1, so
    // this always returns nil (sheet 2.1).
    Ok(MultiValue::from_iter([if rc == 1 {
        Value::Integer(1)
    } else {
        Value::Nil
    }]))
}

/// `websocket_handler_httpd()`: the handshake (called with HTTP_GET after
/// the 101, or for a plain GET) or a frame, then `dynamic_handler_httpd`.
fn websocket_handler_httpd(key: String, shared: Shared) -> HandlerFn {
    Arc::new(move |hd: &mut Httpd| {
        let method = if hd.req_method() == Some(HTTP_GET) {
            HTTP_WEBSOCKET_GET
        } else {
            HTTP_WEBSOCKET
        };
        dynamic_handler_httpd(hd, &key, method, &shared)
    })
}

/// `dynamic_handler_httpd()` for WebSocket routes.
fn dynamic_handler_httpd(hd: &mut Httpd, key: &str, method: i64, shared: &Shared) -> EspErr {
    let query = if method != HTTP_WEBSOCKET {
        hd.httpd_req_get_url_query_str()
    } else {
        None
    };
    let mut data = RequestData {
        key: key.to_string(),
        uri: hd.req_uri(),
        query,
        method,
        ws_type: 0,
        payload: Vec::new(),
        sess_ctx: hd.req_sess_ctx(),
        fd: hd.httpd_req_to_sockfd(),
        free_ws: None,
    };
    let mut remaining = hd.req_content_len();
    if method == HTTP_WEBSOCKET {
        let mut pkt = WsFrame {
            r#type: WS_TEXT,
            ..Default::default()
        };
        // max_len = 0: the frame's length.
        let ret = hd.httpd_ws_recv_frame(&mut pkt, 0);
        if ret != ESP_OK {
            return ret;
        }
        // malloc(len): malloc(0) is NULL on ESP-IDF (heap_caps_malloc_base),
        // so an empty frame is out of memory and closes the session
        // (sheet 3.2, inferred).
        let Some(buf) = shared.chip.calloc(u64::from(pkt.len)) else {
            return ESP_ERR_NO_MEM;
        };
        pkt.payload = Some(buf);
        let len = pkt.len as usize;
        let ret = hd.httpd_ws_recv_frame(&mut pkt, len);
        if ret != ESP_OK {
            return ret;
        }
        data.ws_type = pkt.r#type;
        data.payload = pkt.payload.unwrap_or_default();
        data.payload.truncate(len);
    }
    // task_post_medium(); its result is ignored (a full queue would leave
    // this task waiting for ever, sheet section 4).
    let link = shared.link.clone();
    {
        let link = link.clone();
        shared.tasks.post(
            Prio::Medium,
            Box::new(move |vm: &Vm| dynamic_handler_lvm(vm, data, &link)),
        );
    }
    let result = loop {
        let Some(tr) = link.queue.receive() else {
            return ESP_FAIL;
        };
        let end = match tr {
            ThreadRequest::GetHeader { name, reply } => {
                *reply.lock().unwrap_or_else(|e| e.into_inner()) = hd.req_header(&name);
                None
            }
            ThreadRequest::ReadBodyChunk { reply } => {
                // RECV_BODY_CHUNK_SIZE 1024 (sheet section 1); a GET has no
                // body, so the chunk is empty (nil in Lua).
                let to_read = remaining.min(1024);
                remaining -= to_read;
                let chunk = if to_read == 0 {
                    Some(Vec::new())
                } else {
                    hd.httpd_req_recv_exact(to_read)
                };
                *reply.lock().unwrap_or_else(|e| e.into_inner()) = chunk;
                None
            }
            ThreadRequest::SendError => Some(ESP_FAIL),
            ThreadRequest::SendOk { sess_ctx } => {
                if let Some(value) = sess_ctx {
                    hd.req_set_sess_ctx(SessCtx {
                        value,
                        free_ctx: free_sess_ctx(shared.clone()),
                    });
                }
                Some(ESP_OK)
            }
        };
        // Request processed: release the Lua task. The httpd task has the
        // higher priority (tskIDLE_PRIORITY + 5): Lua goes on once it
        // blocks, after what it does with the reply (a failed handler's
        // log line, say).
        release_lua(&link);
        if let Some(r) = end {
            break r;
        }
    };
    link.queue.handled();
    result
}

/// `xSemaphoreGive(done)`, which the Lua task sees once the httpd task
/// blocks.
fn release_lua(link: &Link) {
    let done = link.done.clone();
    crate::chip::when_blocked(Box::new(move || {
        done.send(());
    }));
}

/// `free_sess_ctx()`: when esp_http_server deletes the session, Lua is
/// told (FREE_WS_OBJECT) and the httpd task waits until it is done.
fn free_sess_ctx(shared: Shared) -> Arc<dyn Fn(i64) + Send + Sync> {
    Arc::new(move |reference| {
        let data = RequestData {
            key: String::new(),
            uri: Vec::new(),
            query: None,
            method: 0,
            ws_type: 0,
            payload: Vec::new(),
            sess_ctx: None,
            fd: -1,
            free_ws: Some(reference),
        };
        let link = shared.link.clone();
        {
            let link = link.clone();
            shared.tasks.post(
                Prio::Medium,
                Box::new(move |vm: &Vm| dynamic_handler_lvm(vm, data, &link)),
            );
        }
        if link.queue.receive().is_some() {
            link.queue.handled();
            release_lua(&link);
        }
    })
}

/// `deref_weak_ref()`: the ws object, unless it was collected.
fn deref_weak_ref(lua: &Lua, reference: i64) -> Option<AnyUserData> {
    let weak: Table = lua.named_registry_value(WS_WEAK).ok()?;
    weak.raw_get::<Option<AnyUserData>>(reference)
        .ok()
        .flatten()
}

/// `ws_clear()`: drops the object's references and callbacks.
fn ws_clear(lua: &Lua, reference: i64) {
    for name in [WS_WEAK, WS_STRONG, WS_CALLBACKS] {
        if let Ok(t) = lua.named_registry_value::<Table>(name) {
            let _ = t.raw_set(reference, Value::Nil);
        }
    }
}

fn ws_callback(lua: &Lua, reference: i64, event: &str) -> Option<Function> {
    let cbs: Table = lua.named_registry_value(WS_CALLBACKS).ok()?;
    let t: Table = cbs.raw_get(reference).ok()?;
    t.raw_get::<Option<Function>>(event).ok().flatten()
}

/// `dynamic_handler_lvm()`: the request on the Lua task.
fn dynamic_handler_lvm(vm: &Vm, data: RequestData, link: &Link) {
    let lua = &vm.lua;
    let Some(side) = lua.app_data_ref::<LuaSide>().map(|s| LuaSideRef {
        server: s.server.clone(),
        guard: s.guard.clone(),
        next_ref: s.next_ref.clone(),
        link: s.shared.link.clone(),
    }) else {
        return;
    };
    let tr = if let Some(reference) = data.free_ws {
        // FREE_WS_OBJECT: the close callback, once, unless Lua closed the
        // connection itself (sheet 2.3).
        if let Some(ud) = deref_weak_ref(lua, reference) {
            let first = ud
                .borrow_mut::<WsObject>()
                .map(|mut ws| !std::mem::replace(&mut ws.closed, true))
                .unwrap_or(false);
            if first && let Some(f) = ws_callback(lua, reference, "close") {
                vm.pcallx(f, ());
            }
            ws_clear(lua, reference);
        }
        ThreadRequest::SendOk { sess_ctx: None }
    } else if data.method == HTTP_WEBSOCKET {
        // A frame: TEXT to `text`, BINARY to `binary`, anything else
        // (CONTINUATION, reserved opcodes) dropped (sheet 3.2).
        if let Some(reference) = data.sess_ctx
            && deref_weak_ref(lua, reference).is_some()
        {
            let event = match data.ws_type {
                WS_TEXT => Some("text"),
                WS_BINARY => Some("binary"),
                _ => None,
            };
            if let Some(f) = event.and_then(|e| ws_callback(lua, reference, e))
                && let Ok(s) = lua.create_string(&data.payload)
            {
                vm.pcallx(f, s);
            }
        }
        ThreadRequest::SendOk { sess_ctx: None }
    } else {
        let handler = lua
            .named_registry_value::<Table>(HANDLERS)
            .and_then(|t| t.get::<Value>(data.key.as_str()));
        match handler {
            Ok(Value::Function(f))
                if data.key.starts_with("[WS]") && data.method == HTTP_WEBSOCKET_GET =>
            {
                let req = request_object(vm, &data, &side);
                let reference = side.next_ref.get();
                side.next_ref.set(reference + 1);
                let server = side.server.borrow().clone();
                match (req, server) {
                    (Ok(req), Some(handle)) => {
                        let ws = new_ws_object(lua, reference, handle, data.fd);
                        match ws {
                            Ok(ws) => {
                                if vm.pcallx(f, (req, ws)) {
                                    ThreadRequest::SendOk {
                                        sess_ctx: Some(reference),
                                    }
                                } else {
                                    // The ws keeps `closed` false: when it is
                                    // collected its __gc queues a close of this
                                    // socket number (sheet 2.2, inferred).
                                    ws_clear(lua, reference);
                                    ThreadRequest::SendError
                                }
                            }
                            Err(_) => ThreadRequest::SendError,
                        }
                    }
                    _ => ThreadRequest::SendError,
                }
            }
            // Only WebSocket routes are registered by the modelled API.
            _ => ThreadRequest::SendOk { sess_ctx: None },
        }
    };
    link.request(tr);
    // Any `req` kept past its handler now fails.
    side.guard.set(side.guard.get().wrapping_add(1));
}

/// What the Lua side needs of [`LuaSide`] without holding its borrow.
struct LuaSideRef {
    server: Rc<std::cell::RefCell<Option<HttpdHandle>>>,
    guard: Rc<Cell<u32>>,
    next_ref: Rc<Cell<i64>>,
    link: Link,
}

/// The `req` userdata (`REQUEST_METATABLE "httpd.req"`,
/// `lhttpd_req_index`): `uri`, `method`, `query` (when there is one),
/// `headers` (looked up on the httpd task while the handler runs) and
/// `getbody`.
fn request_object(vm: &Vm, data: &RequestData, side: &LuaSideRef) -> mlua::Result<AnyUserData> {
    let lua = &vm.lua;
    let uri = lua.create_string(&data.uri)?;
    let query = match &data.query {
        Some(q) => Value::String(lua.create_string(q)?),
        None => Value::Nil,
    };
    let method = data.method;
    let guard_now = side.guard.get();
    let guard = side.guard.clone();
    let link = side.link.clone();
    let raise = vm.raiser();
    let get_hdr = {
        let (guard, link, raise) = (guard.clone(), link.clone(), raise.clone());
        vm.function(move |lua, args: MultiValue| {
            if guard.get() != guard_now {
                return raise(
                    lua,
                    "gethdr()/getbody() called outside synchronous flow".into(),
                );
            }
            let Some(name) = to_bytes(args.get(1)) else {
                return raise(lua, bad_argument(2, "?", "string", typename(&args, 1)));
            };
            let reply = Arc::new(Mutex::new(None));
            link.request(ThreadRequest::GetHeader {
                name: String::from_utf8_lossy(&name).into_owned(),
                reply: reply.clone(),
            });
            let value = reply.lock().unwrap_or_else(|e| e.into_inner()).take();
            Ok(MultiValue::from_iter([match value {
                Some(v) => Value::String(lua.create_string(v)?),
                None => Value::Nil,
            }]))
        })?
    };
    let getbody = {
        let (guard, link, raise) = (guard.clone(), link.clone(), raise.clone());
        vm.function(move |lua, _args: MultiValue| {
            if guard.get() != guard_now {
                return raise(
                    lua,
                    "gethdr()/getbody() called outside synchronous flow".into(),
                );
            }
            let reply = Arc::new(Mutex::new(None));
            link.request(ThreadRequest::ReadBodyChunk {
                reply: reply.clone(),
            });
            match reply.lock().unwrap_or_else(|e| e.into_inner()).take() {
                Some(c) if c.is_empty() => Ok(MultiValue::from_iter([Value::Nil])),
                Some(c) => Ok(MultiValue::from_iter([Value::String(
                    lua.create_string(c)?,
                )])),
                None => raise(lua, "read body failed".into()),
            }
        })?
    };
    let index = lua.create_function(
        move |lua, (_t, key): (Value, Value)| -> mlua::Result<Value> {
            let Some(key) = to_bytes(Some(&key)) else {
                return Ok(Value::Nil);
            };
            Ok(match key.as_slice() {
                b"uri" => Value::String(uri.clone()),
                b"method" => Value::Integer(method),
                b"query" => query.clone(),
                b"headers" => {
                    let h = lua.create_table()?;
                    let hm = lua.create_table()?;
                    hm.set("__index", get_hdr.clone())?;
                    h.set_metatable(Some(hm))?;
                    Value::Table(h)
                }
                b"getbody" => Value::Function(getbody.clone()),
                _ => Value::Nil,
            })
        },
    )?;
    lua.create_userdata(ReqObject {
        index: lua.create_registry_value(index)?,
    })
}

/// `ws_connection_t`: the `ws` object (metatable `httpd.ws`).
pub struct WsObject {
    closed: bool,
    handle: HttpdHandle,
    fd: Fd,
    reference: i64,
}

impl Drop for WsObject {
    /// `__gc` = `ws_gcclose` → `ws_close`: collecting an open ws closes
    /// its socket (sheet 2.3).
    fn drop(&mut self) {
        if !self.closed {
            self.closed = true;
            queue_close(&self.handle, self.fd);
        }
    }
}

/// `ws_async_close()` queued on the server: `httpd_sess_trigger_close`.
fn queue_close(handle: &HttpdHandle, fd: Fd) {
    let _ = handle.httpd_queue_work(Box::new(move |hd: &mut Httpd| {
        let _ = hd.httpd_sess_trigger_close(fd);
    }));
}

fn new_ws_object(
    lua: &Lua,
    reference: i64,
    handle: HttpdHandle,
    fd: Fd,
) -> mlua::Result<AnyUserData> {
    let ud = lua.create_userdata(WsObject {
        closed: false,
        handle,
        fd,
        reference,
    })?;
    let weak: Table = lua.named_registry_value(WS_WEAK)?;
    weak.raw_set(reference, ud.clone())?;
    Ok(ud)
}

/// `ws_textbinary()`: the payload copied and sent later by the httpd task
/// (`ws_async_send` → `httpd_ws_send_frame_async`, result ignored). No
/// check of `closed` (sheet 2.3).
fn ws_send(lua: &Lua, ws: &WsObject, ws_type: u8, data: Option<&Value>, raise: &Raise) -> Ret {
    // lua_tolstring: strings and numbers; anything else sends an empty
    // payload (sheet 2.3, inferred).
    let payload = to_bytes(data).unwrap_or_default();
    let fd = ws.fd;
    let rc = ws.handle.httpd_queue_work(Box::new(move |hd: &mut Httpd| {
        let frame = WsFrame {
            r#type: ws_type,
            len: payload.len() as u32,
            payload: Some(payload),
            ..Default::default()
        };
        let _ = hd.httpd_ws_send_frame_async(fd, &frame);
    }));
    if rc != ESP_OK {
        return raise(lua, "Failed to send to websocket".into());
    }
    Ok(MultiValue::new())
}

impl UserData for WsObject {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        // `__index` = the method table (`LROT_TABENTRY(__index, ...)`),
        // whose functions raise errors as C functions do.
        methods.add_meta_function(
            MetaMethod::Index,
            |lua, (_ud, key): (AnyUserData, Value)| -> mlua::Result<Value> {
                let t: Table = lua.named_registry_value("httpd.ws.methods")?;
                t.raw_get(key)
            },
        );
    }
}

/// The `req` userdata; its fields come from a function made per request.
struct ReqObject {
    index: mlua::RegistryKey,
}

impl UserData for ReqObject {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_function(
            MetaMethod::Index,
            |lua, (ud, key): (AnyUserData, Value)| -> mlua::Result<Value> {
                let f: Function = {
                    let r = ud.borrow::<ReqObject>()?;
                    lua.registry_value(&r.index)?
                };
                f.call((ud, key))
            },
        );
    }
}

/// The methods of `httpd.ws`: `on`, `text`, `binary`, `close`, each
/// through the VM's error shim.
pub fn open_ws_methods(vm: &Vm) -> mlua::Result<()> {
    let lua = &vm.lua;
    let methods = lua.create_table()?;
    let raise = vm.raiser();
    let chip = vm.chip.clone();
    {
        let raise = raise.clone();
        methods.set(
            "on",
            vm.function(move |lua, args: MultiValue| {
                let Some(Value::UserData(ud)) = args.front() else {
                    return raise(lua, "calling 'on' on bad self".into());
                };
                let Ok(reference) = ud.borrow::<WsObject>().map(|w| w.reference) else {
                    return raise(lua, "calling 'on' on bad self".into());
                };
                // lua_tostring(L, 2): NULL for anything but a string or a
                // number, and strcmp(NULL, ...) reads address 0 (sheet 2.3,
                // inferred: a LoadProhibited panic).
                let Some(event) = to_bytes(args.get(1)) else {
                    chip.panic(0, "LoadProhibited", "Exception was unhandled.");
                    return Ok(MultiValue::new());
                };
                let event = match event.as_slice() {
                    b"text" => "text",
                    b"binary" => "binary",
                    b"close" => "close",
                    _ => return raise(lua, "Incorrect event argument".into()),
                };
                let f = match args.get(2) {
                    None | Some(Value::Nil) => None,
                    Some(Value::Function(f)) => Some(f.clone()),
                    Some(_) => {
                        return raise(lua, bad_argument(2, "on", "function", typename(&args, 2)));
                    }
                };
                let cbs: Table = lua.named_registry_value(WS_CALLBACKS)?;
                let mine: Table = match cbs.raw_get::<Option<Table>>(reference)? {
                    Some(t) => t,
                    None => {
                        let t = lua.create_table()?;
                        cbs.raw_set(reference, t.clone())?;
                        t
                    }
                };
                mine.raw_set(event, f)?;
                // A strong reference while any callback is set (self_ref).
                let any = ["text", "binary", "close"]
                    .iter()
                    .any(|e| !matches!(mine.raw_get::<Value>(*e), Ok(Value::Nil)));
                let strong: Table = lua.named_registry_value(WS_STRONG)?;
                if any {
                    strong.raw_set(reference, ud.clone())?;
                } else {
                    strong.raw_set(reference, Value::Nil)?;
                }
                Ok(MultiValue::new())
            })?,
        )?;
    }
    for (name, ws_type) in [("text", WS_TEXT), ("binary", WS_BINARY)] {
        let raise = raise.clone();
        methods.set(
            name,
            vm.function(move |lua, args: MultiValue| {
                let Some(Value::UserData(ud)) = args.front() else {
                    return raise(lua, format!("calling '{name}' on bad self"));
                };
                let Ok(ws) = ud.borrow::<WsObject>() else {
                    return raise(lua, format!("calling '{name}' on bad self"));
                };
                ws_send(lua, &ws, ws_type, args.get(1), &raise)
            })?,
        )?;
    }
    {
        let raise = raise.clone();
        methods.set(
            "close",
            vm.function(move |lua, args: MultiValue| {
                let Some(Value::UserData(ud)) = args.front() else {
                    return raise(lua, "calling 'close' on bad self".into());
                };
                let Ok(mut ws) = ud.borrow_mut::<WsObject>() else {
                    return raise(lua, "calling 'close' on bad self".into());
                };
                // `ws_close()`: once; no CLOSE frame, a TCP close.
                if !ws.closed {
                    ws.closed = true;
                    queue_close(&ws.handle, ws.fd);
                }
                Ok(MultiValue::new())
            })?,
        )?;
    }
    lua.set_named_registry_value("httpd.ws.methods", methods)?;
    Ok(())
}
