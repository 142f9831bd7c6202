//! NodeMCU's `tmr` module (components/modules/tmr.c at PR #3514's head):
//! `tmr.create()` and a timer object's `register`, `alarm`, `start`,
//! `stop`, `unregister`, `interval` and `state`, with the modes
//! ALARM_SINGLE (0), ALARM_AUTO (1) and ALARM_SEMI (2). Each timer is a
//! FreeRTOS software timer of the chip, in real time; its callback
//! (`timer_callback`) posts `alarm_timer_task` to the Lua task at high
//! priority, which calls the Lua function through `luaL_pcallx` with the
//! timer object.
//!
//! A timer holds a reference to itself (`self_ref`) from `start` until it
//! stops, fires (unless it repeats) or is unregistered; a timer object
//! nothing refers to is unregistered when it is collected (`__gc`).

use std::time::Duration;

use mlua::{
    AnyUserData, Function, MetaMethod, MultiValue, Table, UserData, UserDataMethods, Value,
};

use super::lua::{Vm, bad_argument, to_integer, typename};
use super::task::Prio;
use crate::chip::TimerHandle;

/// `TIMER_MODE_*`.
pub const ALARM_SINGLE: i64 = 0;
pub const ALARM_AUTO: i64 = 1;
pub const ALARM_SEMI: i64 = 2;

/// `MAX_TIMEOUT_DEF`: the longest interval, in ms.
const MAX_TIMEOUT: i64 = 6_870_947;

/// `self_ref`: timers that keep themselves alive while they run.
const RUNNING: &str = "tmr.running";
/// `cb_ref`.
const CALLBACKS: &str = "tmr.callbacks";
const METHODS: &str = "tmr.methods";

/// `tmr_struct_t`.
pub struct Timer {
    id: i64,
    interval_ms: u64,
    /// `mode`: None is TIMER_MODE_OFF (not registered).
    mode: Option<i64>,
    /// The FreeRTOS timer while it runs (`TIMER_IDLE_FLAG` clear).
    armed: Option<TimerHandle>,
}

impl UserData for Timer {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        // `__index` = the method table (`tmr_dyn`).
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
    /// `__gc` = `tmr_unregister`: the FreeRTOS timer goes with the object.
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

/// `xTimerStart()`: when it expires, `timer_callback` posts the Lua side.
fn arm(vm_tasks: &super::task::Tasks, chip: &crate::chip::Services, t: &mut Timer) {
    if let Some(h) = t.armed.take() {
        h.stop();
    }
    let tasks = vm_tasks.clone();
    let id = t.id;
    t.armed = Some(
        chip.timer_start(Duration::from_millis(t.interval_ms), move || {
            tasks.post(
                Prio::High,
                Box::new(move |vm: &Vm| alarm_timer_task(vm, id)),
            );
        }),
    );
}

fn set_running(lua: &mlua::Lua, id: i64, ud: Option<&AnyUserData>) -> mlua::Result<()> {
    let t: Table = lua.named_registry_value(RUNNING)?;
    match ud {
        Some(ud) => t.raw_set(id, ud.clone()),
        None => t.raw_set(id, Value::Nil),
    }
}

/// `alarm_timer_task()`: on the Lua task, the callback with the timer.
fn alarm_timer_task(vm: &Vm, id: i64) {
    let lua = &vm.lua;
    let Ok(running) = lua.named_registry_value::<Table>(RUNNING) else {
        return;
    };
    let Ok(cbs) = lua.named_registry_value::<Table>(CALLBACKS) else {
        return;
    };
    // No callback or no self reference: stopped or unregistered meanwhile.
    let (Ok(Some(ud)), Ok(Some(cb))) = (
        running.raw_get::<Option<AnyUserData>>(id),
        cbs.raw_get::<Option<Function>>(id),
    ) else {
        return;
    };
    {
        let Ok(mut t) = ud.borrow_mut::<Timer>() else {
            return;
        };
        match t.mode {
            Some(ALARM_AUTO) => {
                // A repeating FreeRTOS timer runs on by itself.
                arm(&vm.tasks, &vm.chip, &mut t);
            }
            Some(ALARM_SINGLE) => {
                let _ = cbs.raw_set(id, Value::Nil);
                t.mode = None;
                t.armed = None;
            }
            _ => t.armed = None,
        }
        if t.mode != Some(ALARM_AUTO) {
            let _ = running.raw_set(id, Value::Nil);
        }
    }
    vm.pcallx(cb, ud);
}

pub fn open(vm: &Vm) -> mlua::Result<()> {
    let lua = &vm.lua;
    lua.set_named_registry_value(RUNNING, lua.create_table()?)?;
    lua.set_named_registry_value(CALLBACKS, lua.create_table()?)?;
    let next_id = std::rc::Rc::new(std::cell::Cell::new(1i64));
    let methods = lua.create_table()?;
    let raiser = vm.raiser();

    // `tmr_register` (and `tmr_alarm`: register, then start).
    for (name, start) in [("register", false), ("alarm", true)] {
        let (tasks, chip, raise) = (vm.tasks.clone(), vm.chip.clone(), raiser.clone());
        methods.set(
            name,
            vm.function(move |lua, args: MultiValue| {
                let Some(ud) = this(&args) else {
                    return raise(lua, bad_argument(1, name, "tmr.timer", typename(&args, 0)));
                };
                let interval = match to_integer(args.get(1)) {
                    Some(i) if i > 0 && i <= MAX_TIMEOUT => i,
                    Some(_) => {
                        return raise(
                            lua,
                            format!("bad argument #1 to '{name}' (Range: 1-{MAX_TIMEOUT})"),
                        );
                    }
                    None => {
                        return raise(lua, bad_argument(1, name, "number", typename(&args, 1)));
                    }
                };
                let mode = match to_integer(args.get(2)) {
                    Some(m) if [ALARM_SINGLE, ALARM_AUTO, ALARM_SEMI].contains(&m) => m,
                    Some(_) => {
                        return raise(lua, format!("bad argument #2 to '{name}' (Invalid mode)"));
                    }
                    None => {
                        return raise(lua, bad_argument(2, name, "number", typename(&args, 2)));
                    }
                };
                let Some(Value::Function(f)) = args.get(3) else {
                    return raise(lua, bad_argument(3, name, "function", typename(&args, 3)));
                };
                let id = {
                    let mut t = ud.borrow_mut::<Timer>()?;
                    // The previous FreeRTOS timer is deleted: a new one
                    // with this mode replaces it, not running.
                    if let Some(h) = t.armed.take() {
                        h.stop();
                    }
                    t.interval_ms = interval as u64;
                    t.mode = Some(mode);
                    t.id
                };
                lua.named_registry_value::<Table>(CALLBACKS)?
                    .raw_set(id, f.clone())?;
                if !start {
                    return Ok(MultiValue::new());
                }
                set_running(lua, id, Some(&ud))?;
                let mut t = ud.borrow_mut::<Timer>()?;
                arm(&tasks, &chip, &mut t);
                Ok(MultiValue::from_iter([Value::Boolean(true)]))
            })?,
        )?;
    }
    {
        // `tmr_start`: false when it runs already.
        let (tasks, chip, raise) = (vm.tasks.clone(), vm.chip.clone(), raiser.clone());
        methods.set(
            "start",
            vm.function(move |lua, args: MultiValue| {
                let Some(ud) = this(&args) else {
                    return raise(
                        lua,
                        bad_argument(1, "start", "tmr.timer", typename(&args, 0)),
                    );
                };
                let id = ud.borrow::<Timer>()?.id;
                set_running(lua, id, Some(&ud))?;
                let has_cb = lua
                    .named_registry_value::<Table>(CALLBACKS)?
                    .raw_get::<Option<Function>>(id)?
                    .is_some();
                let mut t = ud.borrow_mut::<Timer>()?;
                if t.mode.is_none() || !has_cb {
                    return raise(lua, "timer not registered".into());
                }
                if t.armed.is_some() {
                    return Ok(MultiValue::from_iter([Value::Boolean(false)]));
                }
                arm(&tasks, &chip, &mut t);
                Ok(MultiValue::from_iter([Value::Boolean(true)]))
            })?,
        )?;
    }
    {
        // `tmr_stop`: true when it was running.
        let raise = raiser.clone();
        methods.set(
            "stop",
            vm.function(move |lua, args: MultiValue| {
                let Some(ud) = this(&args) else {
                    return raise(
                        lua,
                        bad_argument(1, "stop", "tmr.timer", typename(&args, 0)),
                    );
                };
                let mut t = ud.borrow_mut::<Timer>()?;
                set_running(lua, t.id, None)?;
                let was = t.armed.take().is_some_and(|h| h.stop());
                Ok(MultiValue::from_iter([Value::Boolean(was)]))
            })?,
        )?;
    }
    {
        // `tmr_unregister`.
        let raise = raiser.clone();
        methods.set(
            "unregister",
            vm.function(move |lua, args: MultiValue| {
                let Some(ud) = this(&args) else {
                    return raise(
                        lua,
                        bad_argument(1, "unregister", "tmr.timer", typename(&args, 0)),
                    );
                };
                let mut t = ud.borrow_mut::<Timer>()?;
                if let Some(h) = t.armed.take() {
                    h.stop();
                }
                t.mode = None;
                set_running(lua, t.id, None)?;
                lua.named_registry_value::<Table>(CALLBACKS)?
                    .raw_set(t.id, Value::Nil)?;
                Ok(MultiValue::new())
            })?,
        )?;
    }
    {
        // `tmr_interval`: xTimerChangePeriod restarts a running timer with
        // the new period.
        let (tasks, chip, raise) = (vm.tasks.clone(), vm.chip.clone(), raiser.clone());
        methods.set(
            "interval",
            vm.function(move |lua, args: MultiValue| {
                let Some(ud) = this(&args) else {
                    return raise(
                        lua,
                        bad_argument(1, "interval", "tmr.timer", typename(&args, 0)),
                    );
                };
                let ms = match to_integer(args.get(1)) {
                    Some(i) if i > 0 && i <= MAX_TIMEOUT => i,
                    Some(_) => {
                        return raise(
                            lua,
                            format!("bad argument #1 to 'interval' (Range: 1-{MAX_TIMEOUT})"),
                        );
                    }
                    None => {
                        return raise(
                            lua,
                            bad_argument(1, "interval", "number", typename(&args, 1)),
                        );
                    }
                };
                let mut t = ud.borrow_mut::<Timer>()?;
                if t.mode.is_some() {
                    t.interval_ms = ms as u64;
                    if t.armed.is_some() {
                        arm(&tasks, &chip, &mut t);
                    }
                }
                Ok(MultiValue::new())
            })?,
        )?;
    }
    {
        // `tmr_state`: nil when not registered, else running and mode.
        let raise = raiser.clone();
        methods.set(
            "state",
            vm.function(move |lua, args: MultiValue| {
                let Some(ud) = this(&args) else {
                    return raise(
                        lua,
                        bad_argument(1, "state", "tmr.timer", typename(&args, 0)),
                    );
                };
                let t = ud.borrow::<Timer>()?;
                Ok(match t.mode {
                    None => MultiValue::from_iter([Value::Nil]),
                    Some(m) => MultiValue::from_iter([
                        Value::Boolean(t.armed.is_some()),
                        Value::Integer(m),
                    ]),
                })
            })?,
        )?;
    }
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
                mode: None,
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
