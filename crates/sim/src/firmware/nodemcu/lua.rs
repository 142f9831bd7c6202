//! The Lua VM of NodeMCU's ESP32 branch: Lua 5.3 (the real interpreter,
//! built from source by mlua), with the libraries NodeMCU links in and
//! NodeMCU's own pieces that the modelled modules use: `print` on the
//! console, `luaL_pcallx` (a callback's error becomes a traceback, reported
//! as a task of its own through the registry's `onerror` function, which
//! `node.setonerror` sets, or `print`), and errors raised by a module
//! function (`luaL_error`).
//!
//! The model's Lua has no file system: `dofile`, `loadfile`, `io`, `os` and
//! `package` are left out, so a script can only reach what NodeMCU's
//! modelled modules offer.

use std::rc::Rc;
use std::sync::Arc;

use mlua::{Function, IntoLuaMulti, Lua, LuaOptions, MultiValue, StdLib, Table, Value};

use super::task::{Prio, Tasks};
use crate::chip::Services;
use crate::chip::console::Console;
use crate::idf::Release;
use crate::idf::lwip::Lwip;

/// The Lua state with what NodeMCU's C modules reach.
pub struct Vm {
    pub lua: Lua,
    pub con: Console,
    pub chip: Services,
    pub idf: Arc<Release>,
    pub lwip: Arc<Lwip>,
    pub tasks: Tasks,
    /// `xpcall` and the message handler of `luaL_pcallx`.
    xpcall: Function,
    handler: Function,
    /// What a module function returns first to raise an error.
    fail: Table,
    /// Turns a module function into one that raises its errors.
    shim: Function,
}

/// A module function's result: values, or the error it raises.
pub type Ret = mlua::Result<MultiValue>;

/// `luaL_error` as a closure: see [`Vm::raiser`].
pub type Raise = Rc<dyn Fn(&Lua, String) -> Ret>;

impl Vm {
    pub fn new(
        chip: Services,
        idf: Arc<Release>,
        lwip: Arc<Lwip>,
        tasks: Tasks,
    ) -> mlua::Result<Vm> {
        let libs = StdLib::COROUTINE
            | StdLib::TABLE
            | StdLib::STRING
            | StdLib::UTF8
            | StdLib::MATH
            | StdLib::DEBUG;
        // SAFETY: the debug library is what NodeMCU's Lua has and what
        // `luaL_pcallx` uses for its traceback; scripts can reach Lua's
        // internals through it, as they can on the chip.
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::default()) };
        let g = lua.globals();
        // Files are NodeMCU's SPIFFS, which the model does not have.
        g.set("dofile", Value::Nil)?;
        g.set("loadfile", Value::Nil)?;
        let xpcall: Function = g.get("xpcall")?;
        // lnodemcu.c errhandler(): debug.traceback(msg, 2).
        let handler: Function = lua
            .load(
                "local traceback = debug.traceback\nreturn function(e) return traceback(e, 2) end",
            )
            .set_name("=errhandler")
            .eval()?;
        let fail = lua.create_table()?;
        // luaL_error() in a C function gives the position of the Lua code
        // that called it: level 2 from the shim (none when that is C, as
        // pcall is). A traceback shows the shim as a `[C]` frame.
        let shim: Function = lua
            .load(
                "local fail, pack, unpack, error = ...\n\
                 return function(f) return function(...)\n\
                 local r = pack(f(...))\n\
                 if r[1] == fail then error(r[2], 2) end\n\
                 return unpack(r, 1, r.n)\n\
                 end end",
            )
            .set_name("=[C]")
            .call((
                fail.clone(),
                lua.globals()
                    .get::<Table>("table")?
                    .get::<Function>("pack")?,
                lua.globals()
                    .get::<Table>("table")?
                    .get::<Function>("unpack")?,
                g.get::<Function>("error")?,
            ))?;
        let vm = Vm {
            con: chip.console().clone(),
            lua,
            chip,
            idf,
            lwip,
            tasks,
            xpcall,
            handler,
            fail,
            shim,
        };
        vm.open_print()?;
        Ok(vm)
    }

    /// `luaL_error(L, msg)` from a module function.
    pub fn raise(&self, msg: impl Into<String>) -> Ret {
        (self.fail.clone(), msg.into()).into_lua_multi(&self.lua)
    }

    /// [`Vm::raise`] for a module function's closure, which outlives the
    /// borrow of the VM.
    pub fn raiser(&self) -> Raise {
        let fail = Value::Table(self.fail.clone());
        Rc::new(move |lua: &Lua, msg: String| {
            Ok(MultiValue::from_iter([
                fail.clone(),
                Value::String(lua.create_string(msg)?),
            ]))
        })
    }

    /// A module function: Rust code that returns values or raises.
    pub fn function(
        &self,
        f: impl Fn(&Lua, MultiValue) -> Ret + 'static,
    ) -> mlua::Result<Function> {
        let raw = self.lua.create_function(f)?;
        self.shim.call(raw)
    }

    /// Lua's `print` as NodeMCU's console has it (lbaselib.c `luaB_print`):
    /// each argument through `tostring`, tab-separated, a newline, on
    /// UART0 with whatever ESP-IDF prints.
    fn open_print(&self) -> mlua::Result<()> {
        let con = self.con.clone();
        let fail = self.fail.clone();
        let print = self.function(move |lua, args: MultiValue| {
            let tostring: Function = lua.globals().get("tostring")?;
            let mut line = Vec::new();
            for (i, a) in args.into_iter().enumerate() {
                if i > 0 {
                    line.push(b'\t');
                }
                match tostring.call::<Value>(a)? {
                    Value::String(s) => line.extend_from_slice(&s.as_bytes()),
                    _ => {
                        return (fail.clone(), "'tostring' must return a string to 'print'")
                            .into_lua_multi(lua);
                    }
                }
            }
            line.push(b'\n');
            con.printf(&line);
            Ok(MultiValue::new())
        })?;
        self.lua.globals().set("print", print)
    }

    /// `luaL_pcallx(L, narg, 0)`: calls `f`; an error is turned into its
    /// traceback, which a high-priority task reports (lnodemcu.c
    /// `errhandler` / `errhandler_aux`). True when `f` returned.
    pub fn pcallx(&self, f: Function, args: impl IntoLuaMulti) -> bool {
        let mut argv = match args.into_lua_multi(&self.lua) {
            Ok(a) => a,
            Err(_) => return false,
        };
        argv.push_front(Value::Function(self.handler.clone()));
        argv.push_front(Value::Function(f));
        let result: mlua::Result<MultiValue> = self.xpcall.call(argv);
        let mut out = match result {
            Ok(v) => v,
            Err(e) => {
                self.post_report(Value::String(
                    self.lua.create_string(e.to_string()).expect("a Lua string"),
                ));
                return false;
            }
        };
        let ok = matches!(out.pop_front(), Some(Value::Boolean(true)));
        if !ok {
            let msg = out.pop_front().unwrap_or(Value::Nil);
            self.post_report(strip_xpcall_frame(&self.lua, msg));
        }
        ok
    }

    /// lua.c `docall()`: calls `f` with `msghandler`
    /// (`debug.traceback(msg, 2)`); Err is the traceback.
    pub fn docall(&self, f: Function) -> Result<(), Value> {
        let argv =
            MultiValue::from_iter([Value::Function(f), Value::Function(self.handler.clone())]);
        match self.xpcall.call::<MultiValue>(argv) {
            Ok(mut out) => match out.pop_front() {
                Some(Value::Boolean(true)) => Ok(()),
                _ => Err(strip_xpcall_frame(
                    &self.lua,
                    out.pop_front().unwrap_or(Value::Nil),
                )),
            },
            Err(e) => Err(Value::String(
                self.lua.create_string(e.to_string()).expect("a Lua string"),
            )),
        }
    }

    /// `luaL_posttask(L, LUA_TASK_HIGH)` of `errhandler_aux` with the
    /// message: the registry's `onerror` function if there is one, else
    /// the global `print`.
    fn post_report(&self, msg: Value) {
        let key = match self.lua.create_registry_value(msg) {
            Ok(k) => k,
            Err(_) => return,
        };
        let key = Arc::new(std::sync::Mutex::new(Some(key)));
        self.tasks.post(
            Prio::High,
            Box::new(move |vm: &Vm| {
                let Some(key) = key.lock().unwrap_or_else(|e| e.into_inner()).take() else {
                    return;
                };
                let Ok(msg) = vm.lua.registry_value::<Value>(&key) else {
                    return;
                };
                let _ = vm.lua.remove_registry_value(key);
                // lauxlib.c errhandler_aux(): the registry's `onerror` if it
                // is a function (node.setonerror's, or node.c's default),
                // else the global `print`.
                let reporter = match vm.lua.named_registry_value::<Value>("onerror") {
                    Ok(Value::Function(f)) => Some(f),
                    _ => vm.lua.globals().get::<Function>("print").ok(),
                };
                if let Some(f) = reporter {
                    // lua_call, unprotected in C: an error here would reach
                    // the task pump; the model drops it.
                    let _ = f.call::<()>(msg);
                }
            }),
        );
    }
}

/// The traceback of an error caught by the model's `xpcall` ends with
/// xpcall's own frame, which a `lua_pcall` from C does not have.
fn strip_xpcall_frame(lua: &Lua, msg: Value) -> Value {
    let Value::String(s) = &msg else {
        return msg;
    };
    let bytes = s.as_bytes().to_vec();
    let tail = b"\n\t[C]: in function 'xpcall'";
    match bytes.strip_suffix(tail.as_slice()) {
        Some(head) => lua.create_string(head).map(Value::String).unwrap_or(msg),
        None => msg,
    }
}

/// `luaL_typename` of argument `i` (0-based): `no value` past the end.
pub fn typename(args: &MultiValue, i: usize) -> &'static str {
    match args.get(i) {
        None => "no value",
        Some(v) => v.type_name(),
    }
}

/// `luaL_checkstring`'s message for a bad argument (1-based as Lua
/// counts, `self` not counted for a method).
pub fn bad_argument(n: usize, fname: &str, expected: &str, got: &str) -> String {
    format!("bad argument #{n} to '{fname}' ({expected} expected, got {got})")
}

/// `lua_tolstring`: a string, or a number converted; None otherwise.
pub fn to_bytes(v: Option<&Value>) -> Option<Vec<u8>> {
    match v {
        Some(Value::String(s)) => Some(s.as_bytes().to_vec()),
        Some(Value::Integer(i)) => Some(i.to_string().into_bytes()),
        Some(Value::Number(n)) => Some(lua_number_to_string(*n).into_bytes()),
        _ => None,
    }
}

/// Lua 5.3's `%.14g` for floats, with `.0` added when it looks integral.
fn lua_number_to_string(n: f64) -> String {
    if n.is_finite() && n == n.trunc() && n.abs() < 1e15 {
        format!("{n:.1}")
    } else {
        format!("{n}")
    }
}

/// `luaL_checkinteger` / `luaL_optinteger`: an integer, a float with an
/// exact integer value, or a string that reads as one.
pub fn to_integer(v: Option<&Value>) -> Option<i64> {
    match v {
        Some(Value::Integer(i)) => Some(*i),
        Some(Value::Number(n)) if *n == n.trunc() => Some(*n as i64),
        Some(Value::String(s)) => s.to_str().ok()?.trim().parse().ok(),
        _ => None,
    }
}
