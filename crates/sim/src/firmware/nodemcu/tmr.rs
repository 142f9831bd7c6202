//! NodeMCU's `tmr` module (components/modules/tmr.c) as far as scripts
//! arm alarms with it: `tmr.create()` and a timer object's `register`,
//! `alarm`, `start`, `stop`, `unregister`, `interval` and `state`, with the
//! modes ALARM_SINGLE, ALARM_SEMI and ALARM_AUTO. Each timer is a FreeRTOS
//! software timer of the chip, in real time; when it fires, its callback is
//! posted to the Lua task, which calls it (through `luaL_pcallx`) with the
//! timer object.
//!
//! Inferred (neither fact sheet covers `tmr`; the behaviour is the
//! module's documented one): the mode values 0, 1, 2, a single-shot timer
//! unregistering itself when it fires, the callback posted at low
//! priority, `start` of an unregistered timer returning false.

use std::time::Duration;

use mlua::{
    AnyUserData, Function, MetaMethod, MultiValue, Table, UserData, UserDataMethods, Value,
};

use super::lua::{Vm, bad_argument, to_integer, typename};
use super::task::Prio;
use crate::chip::TimerHandle;

pub const ALARM_SINGLE: i64 = 0;
pub const ALARM_SEMI: i64 = 1;
pub const ALARM_AUTO: i64 = 2;

const OBJS: &str = "tmr.objs";
const CALLBACKS: &str = "tmr.callbacks";
const METHODS: &str = "tmr.methods";

/// A timer object.
pub struct Timer {
    id: i64,
    interval_ms: u64,
    mode: i64,
    registered: bool,
    armed: Option<TimerHandle>,
}

impl UserData for Timer {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_function(
            MetaMethod::Index,
            |lua, (_ud, key): (AnyUserData, Value)| -> mlua::Result<Value> {
                let t: Table = lua.named_registry_value(METHODS)?;
                t.raw_get(key)
            },
        );
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(h) = self.armed.take() {
            h.stop();
        }
    }
}

fn this(args: &MultiValue) -> Option<AnyUserData> {
    match args.front() {
        Some(Value::UserData(ud)) if ud.is::<Timer>() => Some(ud.clone()),
        _ => None,
    }
}

/// Arms the chip's timer for this object; when it fires, the Lua task
/// gets the callback.
fn arm(vm_tasks: &super::task::Tasks, chip: &crate::chip::Services, t: &mut Timer) {
    if let Some(h) = t.armed.take() {
        h.stop();
    }
    let tasks = vm_tasks.clone();
    let id = t.id;
    t.armed = Some(
        chip.timer_start(Duration::from_millis(t.interval_ms), move || {
            tasks.post(Prio::Low, Box::new(move |vm: &Vm| fire(vm, id)));
        }),
    );
}

/// The timer fired: on the Lua task, its callback with the timer object.
fn fire(vm: &Vm, id: i64) {
    let lua = &vm.lua;
    let Ok(objs) = lua.named_registry_value::<Table>(OBJS) else {
        return;
    };
    let Ok(Some(ud)) = objs.raw_get::<Option<AnyUserData>>(id) else {
        return;
    };
    let Ok(cbs) = lua.named_registry_value::<Table>(CALLBACKS) else {
        return;
    };
    let Ok(Some(cb)) = cbs.raw_get::<Option<Function>>(id) else {
        return;
    };
    {
        let Ok(mut t) = ud.borrow_mut::<Timer>() else {
            return;
        };
        if !t.registered {
            return;
        }
        t.armed = None;
        match t.mode {
            ALARM_AUTO => arm(&vm.tasks, &vm.chip, &mut t),
            ALARM_SINGLE => {
                t.registered = false;
                let _ = objs.raw_set(id, Value::Nil);
                let _ = cbs.raw_set(id, Value::Nil);
            }
            _ => {}
        }
    }
    vm.pcallx(cb, ud);
}

pub fn open(vm: &Vm) -> mlua::Result<()> {
    let lua = &vm.lua;
    lua.set_named_registry_value(OBJS, lua.create_table()?)?;
    lua.set_named_registry_value(CALLBACKS, lua.create_table()?)?;
    let next_id = std::rc::Rc::new(std::cell::Cell::new(1i64));
    let methods = lua.create_table()?;

    // register(interval_ms, mode, func)
    let register = |vm: &Vm, name: &'static str, start: bool| -> mlua::Result<Function> {
        let tasks = vm.tasks.clone();
        let chip = vm.chip.clone();
        let fail = vm.raise("")?.front().cloned().unwrap_or(Value::Nil);
        vm.function(move |lua, args: MultiValue| {
            let raise = |msg: String| -> mlua::Result<MultiValue> {
                Ok(MultiValue::from_iter([
                    fail.clone(),
                    Value::String(lua.create_string(msg)?),
                ]))
            };
            let Some(ud) = this(&args) else {
                return raise(format!("calling '{name}' on bad self"));
            };
            let Some(interval) = to_integer(args.get(1)) else {
                return raise(bad_argument(1, name, "number", typename(&args, 1)));
            };
            let Some(mode) = to_integer(args.get(2)) else {
                return raise(bad_argument(2, name, "number", typename(&args, 2)));
            };
            if ![ALARM_SINGLE, ALARM_SEMI, ALARM_AUTO].contains(&mode) {
                return raise(format!("bad argument #2 to '{name}' (Invalid mode)"));
            }
            let Some(Value::Function(f)) = args.get(3) else {
                return raise(bad_argument(3, name, "function", typename(&args, 3)));
            };
            let id = ud.borrow::<Timer>()?.id;
            lua.named_registry_value::<Table>(CALLBACKS)?
                .raw_set(id, f.clone())?;
            lua.named_registry_value::<Table>(OBJS)?
                .raw_set(id, ud.clone())?;
            let mut t = ud.borrow_mut::<Timer>()?;
            if let Some(h) = t.armed.take() {
                h.stop();
            }
            t.interval_ms = interval.max(0) as u64;
            t.mode = mode;
            t.registered = true;
            if start {
                arm(&tasks, &chip, &mut t);
                return Ok(MultiValue::from_iter([Value::Boolean(true)]));
            }
            Ok(MultiValue::new())
        })
    };
    methods.set("register", register(vm, "register", false)?)?;
    methods.set("alarm", register(vm, "alarm", true)?)?;
    {
        let (tasks, chip) = (vm.tasks.clone(), vm.chip.clone());
        methods.set(
            "start",
            vm.function(move |_lua, args: MultiValue| {
                let Some(ud) = this(&args) else {
                    return Ok(MultiValue::from_iter([Value::Boolean(false)]));
                };
                let mut t = ud.borrow_mut::<Timer>()?;
                if !t.registered {
                    return Ok(MultiValue::from_iter([Value::Boolean(false)]));
                }
                if t.armed.is_none() {
                    arm(&tasks, &chip, &mut t);
                }
                Ok(MultiValue::from_iter([Value::Boolean(true)]))
            })?,
        )?;
    }
    methods.set(
        "stop",
        vm.function(|_lua, args: MultiValue| {
            let Some(ud) = this(&args) else {
                return Ok(MultiValue::from_iter([Value::Boolean(false)]));
            };
            let mut t = ud.borrow_mut::<Timer>()?;
            let was = t.armed.take().is_some_and(|h| h.stop());
            Ok(MultiValue::from_iter([Value::Boolean(was)]))
        })?,
    )?;
    methods.set(
        "unregister",
        vm.function(|lua, args: MultiValue| {
            let Some(ud) = this(&args) else {
                return Ok(MultiValue::new());
            };
            let id = {
                let mut t = ud.borrow_mut::<Timer>()?;
                if let Some(h) = t.armed.take() {
                    h.stop();
                }
                t.registered = false;
                t.id
            };
            lua.named_registry_value::<Table>(CALLBACKS)?
                .raw_set(id, Value::Nil)?;
            lua.named_registry_value::<Table>(OBJS)?
                .raw_set(id, Value::Nil)?;
            Ok(MultiValue::new())
        })?,
    )?;
    {
        let (tasks, chip) = (vm.tasks.clone(), vm.chip.clone());
        methods.set(
            "interval",
            vm.function(move |_lua, args: MultiValue| {
                let (Some(ud), Some(ms)) = (this(&args), to_integer(args.get(1))) else {
                    return Ok(MultiValue::new());
                };
                let mut t = ud.borrow_mut::<Timer>()?;
                t.interval_ms = ms.max(0) as u64;
                if t.armed.is_some() {
                    arm(&tasks, &chip, &mut t);
                }
                Ok(MultiValue::new())
            })?,
        )?;
    }
    methods.set(
        "state",
        vm.function(|_lua, args: MultiValue| {
            let Some(ud) = this(&args) else {
                return Ok(MultiValue::from_iter([Value::Nil]));
            };
            let t = ud.borrow::<Timer>()?;
            if !t.registered {
                return Ok(MultiValue::from_iter([Value::Nil]));
            }
            Ok(MultiValue::from_iter([
                Value::Boolean(t.armed.is_some()),
                Value::Integer(t.mode),
            ]))
        })?,
    )?;
    lua.set_named_registry_value(METHODS, methods)?;

    let t = lua.create_table()?;
    t.set(
        "create",
        lua.create_function(move |lua, ()| {
            let id = next_id.get();
            next_id.set(id + 1);
            lua.create_userdata(Timer {
                id,
                interval_ms: 0,
                mode: ALARM_SINGLE,
                registered: false,
                armed: None,
            })
        })?,
    )?;
    t.set("ALARM_SINGLE", ALARM_SINGLE)?;
    t.set("ALARM_SEMI", ALARM_SEMI)?;
    t.set("ALARM_AUTO", ALARM_AUTO)?;
    lua.globals().set("tmr", t)?;
    Ok(())
}
