//! NodeMCU for the ESP32 (branch dev-esp32) with the `httpd` module's
//! WebSocket routes of PR #3514, on ESP-IDF v5.0.2: a real Lua 5.3 VM
//! running a script (`init.lua`), with the modules the script touches
//! modelled on the model's ESP-IDF: [`httpd`] over esp_http_server,
//! [`tmr`] over FreeRTOS timers, `print` on UART0 and `node.setonerror`
//! (the registry's `onerror`, which the fact sheet calls node.onerror).
//! Facts: the fact sheet nodemcu-httpd-websocket.md and seed 000.
//!
//! The default script is the module documentation's example as the sheet
//! describes it (`init.lua` in this folder); a host may give its own. Two
//! scripts of esp-ws's own (`probe.lua`, `stop.lua`) make the profiles that
//! show the rest of the module's behaviour on the console.
//!
//! What NodeMCU prints of its own when it starts is not in the fact sheet;
//! the model prints what the source at PR #3514's head prints (a blank
//! line and the banner), and reads no console input (no Lua prompt).
//! Wi-Fi is started by Lua on NodeMCU (its `wifi` module, not modelled),
//! so the model prints no address line: its ready line is the banner.

mod httpd;
pub(crate) mod lua;
pub(crate) mod task;
pub(crate) mod tmr;

use std::sync::Arc;
use std::time::Duration;

use mlua::{Function, MultiValue, Value};

use super::{Context, Firmware, Spec};
use lua::Vm;
use task::Tasks;

/// The module documentation's example (see the file's header).
pub const EXAMPLE_SCRIPT: &str = include_str!("init.lua");
/// esp-ws's probe script: what a script sees of the module, printed.
pub const PROBE_SCRIPT: &str = include_str!("probe.lua");
/// esp-ws's script that calls `httpd.stop()` with a session open.
pub const STOP_SCRIPT: &str = include_str!("stop.lua");

/// The firmware as a profile names it, with the `init.lua` it was flashed
/// with; a host's script replaces that.
pub fn spec(init_lua: &'static str) -> Spec {
    Spec::new("nodemcu", move |options| {
        Arc::new(NodeMcu {
            script: options
                .script
                .clone()
                .unwrap_or_else(|| init_lua.as_bytes().to_vec()),
        })
    })
    .running_scripts()
}

pub struct NodeMcu {
    /// `init.lua` on the board's file system.
    script: Vec<u8>,
}

impl Firmware for NodeMcu {
    /// `app_main()` of components/base_nodemcu/user_main.c: the console,
    /// `nodemcu_init()` (its `NODE_ERR("\n")`; the SPIFFS partition is
    /// taken as formatted), then `start_lua()`: `lua_main()` opens the
    /// modules, prints the banner and runs `init.lua`; then the task pump.
    ///
    /// On the chip all of that runs on the main task, and `app_main` never
    /// returns. The model runs it on a task of its own and returns from
    /// `app_main` once `init.lua` and what it posted are done: v5.0.2 prints
    /// no line for either, and a host waiting for the firmware to be up
    /// then knows that the script's routes exist.
    fn app_main(&self, ctx: &Context<'_>) {
        ctx.chip.console().printf(b"\n");
        start_lua(ctx, &self.script, BANNER, open_modules);
    }
}

/// `lua_main()` on a task of its own, as both ports run it: the VM with
/// the modules `open_modules` opens, the banner, `init.lua` and the jobs
/// it posted; then the task pump (NodeMCU's, or the ESP8266 SDK's task
/// loop), until the chip stops. Returns once `init.lua` and what it
/// posted are done.
pub(crate) fn start_lua(
    ctx: &Context<'_>,
    script: &[u8],
    banner: &'static str,
    open_modules: fn(&Vm) -> mlua::Result<()>,
) {
    let chip = ctx.chip.clone();
    let tasks = Tasks::new(&chip);
    let started = chip.queue_create::<()>(1);
    {
        let chip = chip.clone();
        let idf = ctx.idf.clone();
        let lwip = ctx.lwip.clone();
        let script = script.to_vec();
        let started = started.clone();
        ctx.chip.create_task("lua", move || {
            let vm = match Vm::new(chip, idf, lwip, tasks.clone()).and_then(|vm| {
                open_modules(&vm)?;
                Ok(vm)
            }) {
                Ok(vm) => vm,
                // The modelled modules always open; nothing to report.
                Err(_) => return,
            };
            vm.con.printf(banner.as_bytes());
            run_init(&vm, &script);
            tasks.run_pending(&vm);
            started.send(());
            tasks.pump(&vm);
        });
    }
    if started.receive().is_some() {
        started.handled();
    }
}

/// lua.c `pmain()`: `"\n%s build %s powered by %s [%s] on IDF %s\n"` with
/// NODE_VERSION (components/platform/include/user_version.h), BUILD_DATE
/// (that file's "unspecified" unless the build's environment sets one),
/// LUA_RELEASE (NodeMCU's lua.h: Lua 5.3.5), XLUA_OPT_STR (luaconf.h with
/// the Kconfig defaults: 32-bit integers, single-precision floats) and
/// IDF_VER. The Lua prompt that follows (`> `, no newline) is not
/// modelled: the model reads no console input.
pub const BANNER: &str =
    "\nNodeMCU ESP32 build unspecified powered by Lua 5.3.5 [5.3-int32-singlefp] on IDF v5.0.2\n";

/// The modules the model has (`NODEMCU_MODULE` entries and lbaselib).
fn open_modules(vm: &Vm) -> mlua::Result<()> {
    httpd::open(vm)?;
    httpd::open_ws_methods(vm)?;
    tmr::open(vm)?;
    open_node(vm)
}

/// `node.setonerror([function])` (components/modules/node.c): the
/// registry's `onerror`, which NodeMCU's error reporter calls with a
/// callback's traceback. Without a function it is `default_onerror`,
/// which `luaopen_node` installs: print the traceback, and the first time
/// arm a 2-second one-shot timer that restarts the chip (`esp_restart`).
/// `node.setonerror(print)` prints without restarting (docs/nodemcu-lrm.md).
pub(crate) fn open_node(vm: &Vm) -> mlua::Result<()> {
    let default_onerror = {
        let chip = vm.chip.clone();
        let armed = std::cell::Cell::new(false);
        vm.lua.create_function(move |lua, msg: Value| {
            if let Ok(print) = lua.globals().get::<Function>("print") {
                let _ = print.call::<()>(msg);
            }
            if !armed.replace(true) {
                let restart = chip.clone();
                let _ = chip.timer_start(Duration::from_secs(2), move || restart.restart());
            }
            Ok(())
        })?
    };
    vm.lua
        .set_named_registry_value("onerror", default_onerror.clone())?;
    let t = vm.lua.create_table()?;
    t.set(
        "setonerror",
        vm.function(move |lua, args: MultiValue| {
            match args.front() {
                Some(Value::Function(f)) => lua.set_named_registry_value("onerror", f.clone())?,
                _ => lua.set_named_registry_value("onerror", default_onerror.clone())?,
            }
            Ok(MultiValue::new())
        })?,
    )?;
    vm.lua.globals().set("node", t)
}

/// Runs `init.lua` as lua.c `pmain()` does (`luaL_loadfile("init.lua")`,
/// then `docall`): an error's traceback (`debug.traceback(msg, 2)`, the
/// message handler `msghandler`) or a syntax error's message is printed
/// at once through `print` (`l_print`), not through `onerror`, so it does
/// not restart the chip; a full garbage collection follows an error.
pub(crate) fn run_init(vm: &Vm, script: &[u8]) {
    let message = match vm.lua.load(script).set_name("@init.lua").into_function() {
        Ok(f) => match vm.docall(f) {
            Ok(()) => return,
            Err(traceback) => traceback,
        },
        Err(mlua::Error::SyntaxError { message, .. }) => {
            Value::String(vm.lua.create_string(message).expect("a Lua string"))
        }
        Err(other) => Value::String(
            vm.lua
                .create_string(other.to_string())
                .expect("a Lua string"),
        ),
    };
    if let Ok(print) = vm.lua.globals().get::<Function>("print") {
        let _ = print.call::<()>(message);
    }
    let _ = vm.lua.gc_collect();
}
