//! NodeMCU's `websocket` Lua module (app/modules/websocket.c, §1 of the
//! fact sheet nodemcu-websocket-client.md) over [`WsInfo`]: the client
//! object and its methods with their exact errors, the callbacks through
//! `luaL_pcallx`, the self reference that pins a connecting client, and
//! `__gc` calling `close` with -100.
//!
//! Each client's C state (`ws_info` and its espconn) lives in the
//! registry under the client's number, so that what espconn and the SDK's
//! timer post to the Lua task finds it; the Lua object is a userdata with
//! the type name `websocket.client`, whose user value carries the
//! finalizer (`__gc`; mlua keeps a userdata's own `__gc` for Rust).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use mlua::{
    AnyUserData, Function, Lua, MetaMethod, MultiValue, Table, UserData, UserDataMethods, Value,
};

use super::websocketclient::{Espconn, Upcall, WsInfo};
use crate::chip::{Services, TimerHandle};
use crate::firmware::nodemcu::lua::{Vm, bad_argument, to_bytes, to_integer, typename};
use crate::firmware::nodemcu::task::{Prio, Tasks};
use crate::idf::espconn::{self, Event};
use crate::idf::lwip::Lwip;

/// `METATABLE_WSCLIENT`.
const TYPE: &str = "websocket.client";
/// Client number → its C state ([`Core`]).
const CORES: &str = "websocket.cores";
/// Client number → { connection, receive, close } (`ws_data`'s refs).
const CALLBACKS: &str = "websocket.callbacks";
/// Client number → the Lua object (`self_ref`).
const SELF_REF: &str = "websocket.self";
const METHODS: &str = "websocket.methods";

/// The Lua object: which client it is.
struct Handle {
    id: i64,
}

impl UserData for Handle {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_function(
            MetaMethod::Index,
            |lua, (_ud, key): (AnyUserData, Value)| -> mlua::Result<Value> {
                let t: Table = lua.named_registry_value(METHODS)?;
                t.raw_get(key)
            },
        );
    }

    fn add_fields<F: mlua::UserDataFields<Self>>(fields: &mut F) {
        fields.add_meta_field("__name", TYPE);
    }
}

/// One client's C side: `ws_info` and what it calls below it.
struct Core {
    ws: WsInfo,
    net: Net,
}

impl UserData for Core {}

/// espconn, `os_timer` and `os_random` for one client, as the SDK runs
/// them: what they report comes back as a job on the Lua task (the NONOS
/// SDK runs every callback in its one task context).
pub struct Net {
    id: i64,
    chip: Services,
    lwip: Arc<Lwip>,
    tasks: Tasks,
    /// The client's espconn while it has one, and which one it is (a job
    /// an earlier connection posted finds a newer one and does nothing).
    conn: Option<espconn::Espconn>,
    conn_generation: u64,
    /// `timeoutTimer`: the armed timer and its generation (a timer that
    /// fires after it was re-armed or disarmed does nothing).
    timer: Option<TimerHandle>,
    generation: u64,
}

impl Net {
    fn start_timer(&mut self, ms: u32, repeat: bool) {
        if let Some(t) = self.timer.take() {
            t.stop();
        }
        self.generation += 1;
        let (id, generation, tasks) = (self.id, self.generation, self.tasks.clone());
        // The SDK's os_timer: a timed wait of the client (its connect
        // timeout, keep-alive or close timeout), not work a host waits out.
        self.timer = Some(self.chip.timer_start_timed(
            Duration::from_millis(u64::from(ms)),
            move || {
                tasks.post(
                    Prio::Medium,
                    Box::new(move |vm: &Vm| timer_job(vm, id, generation, ms, repeat)),
                );
            },
        ));
    }
}

impl Espconn for Net {
    /// `os_random()`: the hardware random number register, which
    /// `esp_random()` reads on the ESP32 too.
    fn random(&mut self) -> u32 {
        self.chip.esp_random()
    }

    /// `dns_gethostbyname`: a dotted address answers at once (ERR_OK). A
    /// name needs a DNS server, which the model's network does not have:
    /// the lookup fails (-5); lwIP's retries before it gives up are not
    /// modelled, the answer comes as the next job (inferred).
    fn resolve(&mut self, host: &[u8]) -> Option<[u8; 4]> {
        if let Some(ip) = dotted_quad(host) {
            return Some(ip);
        }
        let id = self.id;
        self.tasks.post(
            Prio::Medium,
            Box::new(move |vm: &Vm| {
                let up = with_core(vm, id, |c| c.ws.dns_found(None, &mut c.net)).flatten();
                drive(vm, id, up);
            }),
        );
        None
    }

    /// `espconn_connect` with websocketclient.c's callbacks registered,
    /// each posted to the Lua task. `espconn_secure_connect` (`wss://`)
    /// needs TLS, which the modelled build does not have (its banner says
    /// SSL: false): nothing answers, and the connect timeout closes the
    /// client with -18.
    fn connect(&mut self, ip: [u8; 4], port: u16, secure: bool) {
        if secure {
            return;
        }
        self.conn_generation += 1;
        let (id, generation, tasks) = (self.id, self.conn_generation, self.tasks.clone());
        self.conn = espconn::Espconn::connect(&self.chip, &self.lwip, ip, port, move |event| {
            tasks.post(
                Prio::Medium,
                Box::new(move |vm: &Vm| espconn_job(vm, id, generation, event)),
            );
        });
    }

    fn send(&mut self, data: &[u8]) {
        if let Some(conn) = &self.conn {
            conn.send(data);
        }
    }

    fn disconnect(&mut self) {
        if let Some(conn) = &self.conn {
            conn.disconnect();
        }
    }

    fn delete(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.delete();
        }
    }

    fn arm_timer(&mut self, ms: u32, repeat: bool) {
        self.start_timer(ms, repeat);
    }

    fn disarm_timer(&mut self) {
        self.generation += 1;
        if let Some(t) = self.timer.take() {
            t.stop();
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        if let Some(t) = self.timer.take() {
            t.stop();
        }
    }
}

/// `ipaddr_aton` for the form a URL carries, four decimal parts
/// (`dns_gethostbyname` tries it before asking a server; its other forms,
/// such as `127.1`, are not modelled).
fn dotted_quad(host: &[u8]) -> Option<[u8; 4]> {
    let text = std::str::from_utf8(host).ok()?;
    let mut ip = [0u8; 4];
    let mut parts = text.split('.');
    for b in ip.iter_mut() {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        *b = part.parse().ok()?;
    }
    parts.next().is_none().then_some(ip)
}

/// What espconn called back, on the Lua task: websocketclient.c's
/// `connect_callback`, `ws_initReceiveCallback`/`ws_receiveCallback`, the
/// sent callback, `disconnect_callback` and `error_callback`.
fn espconn_job(vm: &Vm, id: i64, generation: u64, event: Event) {
    let up = with_core(vm, id, |c| {
        if c.net.conn_generation != generation {
            return None;
        }
        let Core { ws, net } = c;
        match event {
            Event::Connected => {
                ws.connected(net);
                None
            }
            Event::Received(segment) => ws.received(&segment, net),
            Event::Sent => {
                ws.sent(net);
                None
            }
            Event::Disconnected => ws.disconnected(net),
            Event::Error(err) => ws.error(err, net),
        }
    })
    .flatten();
    drive(vm, id, up);
}

/// `os_timer` fired: a periodic timer runs on, then its function.
fn timer_job(vm: &Vm, id: i64, generation: u64, ms: u32, repeat: bool) {
    let up = with_core(vm, id, |c| {
        if c.net.generation != generation {
            return None;
        }
        if repeat {
            c.net.start_timer(ms, true);
        } else {
            c.net.timer = None;
        }
        c.ws.timer_fired(&mut c.net)
    })
    .flatten();
    drive(vm, id, up);
}

/// Runs `f` on client `id`'s C state; None when it is gone.
fn with_core<R>(vm: &Vm, id: i64, f: impl FnOnce(&mut Core) -> R) -> Option<R> {
    let cores: Table = vm.lua.named_registry_value(CORES).ok()?;
    let ud: AnyUserData = cores.raw_get(id).ok()?;
    let mut core = ud.borrow_mut::<Core>().ok()?;
    Some(f(&mut core))
}

/// Runs the Lua callbacks websocketclient.c calls, with the client free
/// between them (a callback may call its methods), until it has none.
fn drive(vm: &Vm, id: i64, mut up: Option<Upcall>) {
    while let Some(u) = up {
        callback(vm, id, u);
        up = with_core(vm, id, |c| c.ws.resume(&mut c.net)).flatten();
    }
}

/// `websocketclient_on*Callback`: the registered function, if any,
/// through `luaL_pcallx` with the client (`self_ref`) first.
fn callback(vm: &Vm, id: i64, up: Upcall) {
    let lua = &vm.lua;
    let me: Value = lua
        .named_registry_value::<Table>(SELF_REF)
        .and_then(|t| t.raw_get(id))
        .unwrap_or(Value::Nil);
    let cb = |name: &str| -> Option<Function> {
        lua.named_registry_value::<Table>(CALLBACKS)
            .ok()?
            .raw_get::<Table>(id)
            .ok()?
            .raw_get::<Option<Function>>(name)
            .ok()?
    };
    match up {
        Upcall::Connection => {
            if let Some(f) = cb("connection") {
                vm.pcallx(f, me);
            }
        }
        Upcall::Receive { payload, opcode } => {
            if let (Some(f), Ok(s)) = (cb("receive"), lua.create_string(&payload)) {
                vm.pcallx(f, (me, s, opcode));
            }
        }
        Upcall::Close(code) => {
            if let Some(f) = cb("close") {
                vm.pcallx(f, (me, code));
            }
            // The self reference goes: the client may be collected.
            if let Ok(t) = lua.named_registry_value::<Table>(SELF_REF) {
                let _ = t.raw_set(id, Value::Nil);
            }
        }
    }
}

/// A method of `websocket.client`, returning nothing: `luaL_checkudata`
/// on `self`, then `body` with the client's number; an `Err(msg)` from it
/// is raised (`luaL_error`).
fn method(
    vm: &Vm,
    methods: &Table,
    name: &'static str,
    body: impl Fn(&Lua, i64, &MultiValue) -> mlua::Result<Result<(), String>> + 'static,
) -> mlua::Result<()> {
    let raise = vm.raiser();
    methods.set(
        name,
        vm.function(move |lua, args| {
            let outcome = match check_self(&args, name) {
                Ok(id) => body(lua, id, &args)?,
                Err(m) => Err(m),
            };
            match outcome {
                Ok(()) => Ok(MultiValue::new()),
                Err(m) => raise(lua, m),
            }
        })?,
    )
}

/// `luaL_checkudata(L, 1, "websocket.client")`: the client's number.
fn check_self(args: &MultiValue, fname: &str) -> Result<i64, String> {
    match args.front() {
        Some(Value::UserData(ud)) => match ud.borrow::<Handle>() {
            Ok(h) => Ok(h.id),
            Err(_) => Err(bad_argument(1, fname, TYPE, "userdata")),
        },
        _ => Err(bad_argument(1, fname, TYPE, typename(args, 0))),
    }
}

/// `loadWebsocketModule` and the `websocket` table.
pub fn open(vm: &Vm) -> mlua::Result<()> {
    let lua = &vm.lua;
    lua.set_named_registry_value(CORES, lua.create_table()?)?;
    lua.set_named_registry_value(CALLBACKS, lua.create_table()?)?;
    lua.set_named_registry_value(SELF_REF, lua.create_table()?)?;
    let methods = lua.create_table()?;

    // websocketclient_on
    method(vm, &methods, "on", |lua, id, args| {
        // luaL_checkoption
        let event = match args.get(1) {
            Some(Value::String(s)) => s.to_str()?.to_string(),
            _ => return Ok(Err(bad_argument(1, "on", "string", typename(args, 1)))),
        };
        if !["connection", "receive", "close"].contains(&event.as_str()) {
            return Ok(Err(format!(
                "bad argument #1 to 'on' (invalid option '{event}')"
            )));
        }
        let f = match args.get(2) {
            None | Some(Value::Nil) => Value::Nil,
            Some(Value::Function(f)) => Value::Function(f.clone()),
            Some(_) => return Ok(Err("bad argument #2 to 'on' (function or nil)".into())),
        };
        let cbs: Table = lua.named_registry_value::<Table>(CALLBACKS)?.raw_get(id)?;
        cbs.raw_set(event, f)?;
        Ok(Ok(()))
    })?;
    // websocketclient_connect
    let tasks = vm.tasks.clone();
    method(vm, &methods, "connect", move |lua, id, args| {
        let state = core_state(lua, id)?;
        if state != 0 && state != 4 {
            return Ok(Err("Websocket already connecting or connected.\n".into()));
        }
        // State 0 and the self reference before the URL is checked.
        set_state(lua, id, 0)?;
        lua.named_registry_value::<Table>(SELF_REF)?
            .raw_set(id, args.front().cloned().unwrap_or(Value::Nil))?;
        let Some(url) = to_bytes(args.get(1)) else {
            return Ok(Err(bad_argument(1, "connect", "string", typename(args, 1))));
        };
        let up = core(lua, id)?.borrow_mut::<Core>().map(|mut c| {
            let Core { ws, net } = &mut *c;
            ws.connect(&url, net)
        })?;
        post_drive(&tasks, id, up);
        Ok(Ok(()))
    })?;
    // websocketclient_config
    method(vm, &methods, "config", |lua, id, args| {
        let Some(Value::Table(params)) = args.get(1) else {
            return Ok(Err(bad_argument(1, "config", "table", typename(args, 1))));
        };
        if let Value::Table(h) = params.get::<Value>("headers")? {
            // lua_next order; a key or value that is neither a string nor
            // a number is strdup(NULL) in C, a crash the model does not
            // reproduce: such a pair is left out.
            let mut headers = Vec::new();
            for pair in h.pairs::<Value, Value>() {
                let (k, v) = pair?;
                if let (Some(k), Some(v)) = (to_bytes(Some(&k)), to_bytes(Some(&v))) {
                    headers.push((k, v));
                }
            }
            core(lua, id)?.borrow_mut::<Core>()?.ws.extra_headers = headers;
        }
        Ok(Ok(()))
    })?;
    // websocketclient_send
    method(vm, &methods, "send", |lua, id, args| {
        if core_state(lua, id)? != 3 {
            return Ok(Err("Websocket isn't connected.\n".into()));
        }
        let Some(msg) = to_bytes(args.get(1)) else {
            return Ok(Err(bad_argument(1, "send", "string", typename(args, 1))));
        };
        // The opcode is read only with exactly three arguments.
        let opcode = if args.len() == 3 {
            match to_integer(args.get(2)) {
                Some(op) => op,
                None => return Ok(Err(bad_argument(2, "send", "number", typename(args, 2)))),
            }
        } else {
            1
        };
        let ud = core(lua, id)?;
        let mut c = ud.borrow_mut::<Core>()?;
        let Core { ws, net } = &mut *c;
        ws.send(opcode, &msg, net);
        Ok(Ok(()))
    })?;
    // websocketclient_close
    let tasks = vm.tasks.clone();
    method(vm, &methods, "close", move |lua, id, _| {
        let up = core(lua, id)?.borrow_mut::<Core>().map(|mut c| {
            let Core { ws, net } = &mut *c;
            ws.close(net)
        })?;
        post_drive(&tasks, id, up);
        Ok(Ok(()))
    })?;
    lua.set_named_registry_value(METHODS, methods)?;

    // The finalizer's metatable: `websocketclient_gc`.
    let gc_mt = lua.create_table()?;
    {
        let chip_tasks = vm.tasks.clone();
        gc_mt.set(
            "__gc",
            lua.create_function(move |lua, sentinel: Table| {
                let id: i64 = sentinel.raw_get(1)?;
                gc(lua, id, &chip_tasks)
            })?,
        )?;
    }

    let next_id = Rc::new(Cell::new(1i64));
    let (chip, lwip, tasks) = (vm.chip.clone(), vm.lwip.clone(), vm.tasks.clone());
    let t = lua.create_table()?;
    t.set(
        "createClient",
        lua.create_function(move |lua, ()| {
            let id = next_id.get();
            next_id.set(id + 1);
            let core = Core {
                ws: WsInfo::new(),
                net: Net {
                    id,
                    chip: chip.clone(),
                    lwip: lwip.clone(),
                    tasks: tasks.clone(),
                    conn: None,
                    conn_generation: 0,
                    timer: None,
                    generation: 0,
                },
            };
            lua.named_registry_value::<Table>(CORES)?
                .raw_set(id, lua.create_userdata(core)?)?;
            lua.named_registry_value::<Table>(CALLBACKS)?
                .raw_set(id, lua.create_table()?)?;
            let handle = lua.create_userdata(Handle { id })?;
            let sentinel = lua.create_table()?;
            sentinel.raw_set(1, id)?;
            sentinel.set_metatable(Some(gc_mt.clone()))?;
            handle.set_user_value(sentinel)?;
            Ok(handle)
        })?,
    )?;
    lua.globals().set("websocket", t)
}

fn core(lua: &Lua, id: i64) -> mlua::Result<AnyUserData> {
    lua.named_registry_value::<Table>(CORES)?.raw_get(id)
}

fn core_state(lua: &Lua, id: i64) -> mlua::Result<u8> {
    Ok(core(lua, id)?.borrow::<Core>()?.ws.state)
}

fn set_state(lua: &Lua, id: i64, state: u8) -> mlua::Result<()> {
    core(lua, id)?.borrow_mut::<Core>()?.ws.state = state;
    Ok(())
}

/// A callback reached inside a method (`close(ws, -1)` inside
/// `ws:connect()`, -99 inside `ws:close()` during DNS) runs inside it in
/// C. The model runs it as the first job of the Lua task instead, right
/// after the script's current chunk returns: a Lua function called from
/// inside a module function cannot be the VM's protected call here. Its
/// output is the same; only a script that expects the callback to have
/// run before `connect()` returns sees the difference (inferred
/// acceptable; the order of everything printed is kept).
fn post_drive(tasks: &Tasks, id: i64, up: Option<Upcall>) {
    if let Some(up) = up {
        tasks.post(Prio::High, Box::new(move |vm: &Vm| drive(vm, id, Some(up))));
    }
}

/// `websocketclient_gc`: the callbacks go; a registered close callback of
/// a client not in state 4 is called with the single argument -100.
fn gc(lua: &Lua, id: i64, tasks: &Tasks) -> mlua::Result<()> {
    let state = core_state(lua, id).unwrap_or(4);
    let cbs: Option<Table> = lua.named_registry_value::<Table>(CALLBACKS)?.raw_get(id)?;
    let close = cbs.and_then(|t| t.raw_get::<Option<Function>>("close").ok().flatten());
    lua.named_registry_value::<Table>(CALLBACKS)?
        .raw_set(id, Value::Nil)?;
    lua.named_registry_value::<Table>(SELF_REF)?
        .raw_set(id, Value::Nil)?;
    lua.named_registry_value::<Table>(CORES)?
        .raw_set(id, Value::Nil)?;
    if let (Some(f), true) = (close, state != 4) {
        // luaL_pcallx from a finalizer: the model runs the call as a job
        // of its own (a finalizer cannot reach the VM's protected call).
        let key = lua.create_registry_value(f)?;
        let key = std::sync::Arc::new(std::sync::Mutex::new(Some(key)));
        tasks.post(
            Prio::High,
            Box::new(move |vm: &Vm| {
                let Some(key) = key.lock().unwrap_or_else(|e| e.into_inner()).take() else {
                    return;
                };
                if let Ok(f) = vm.lua.registry_value::<Function>(&key) {
                    vm.pcallx(f, -100);
                }
                let _ = vm.lua.remove_registry_value(key);
            }),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::dotted_quad;

    #[test]
    fn only_four_decimal_parts_are_an_address() {
        assert_eq!(dotted_quad(b"127.0.0.1"), Some([127, 0, 0, 1]));
        assert_eq!(dotted_quad(b"10.0.2.2"), Some([10, 0, 2, 2]));
        for name in [
            &b"echo.websocket.org"[..],
            b"1.2.3",
            b"1.2.3.4.5",
            b"1.2.3.256",
            b"1..3.4",
            b"",
        ] {
            assert_eq!(
                dotted_quad(name),
                None,
                "{:?}",
                String::from_utf8_lossy(name)
            );
        }
    }
}
