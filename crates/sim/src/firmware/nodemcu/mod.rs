//! NodeMCU for the ESP32 (branch dev-esp32) with the `httpd` module's
//! WebSocket routes of PR #3514, on ESP-IDF v5.0.2: a real Lua 5.3 VM
//! running a script (`init.lua`), with the modules the script touches
//! modelled on the model's ESP-IDF: [`httpd`] over esp_http_server,
//! [`tmr`] over FreeRTOS timers, `print` on UART0 and `node.onerror`.
//! Facts: the fact sheet nodemcu-httpd-websocket.md and seed 000.
//!
//! The default script is the module documentation's example as the sheet
//! describes it (`init.lua` in this folder); a host may give its own. Two
//! scripts of esp-ws's own (`probe.lua`, `stop.lua`) make the profiles that
//! show the rest of the module's behaviour on the console.
//!
//! What NodeMCU prints of its own when it starts (its banner, the Lua
//! prompt) is not in the fact sheet, so the model prints none of it; nor
//! does it read the console (no Lua prompt).

mod httpd;
mod lua;
mod task;
mod tmr;

use std::sync::Arc;

use mlua::{MultiValue, Value};

use super::{Context, Firmware, Spec};
use crate::idf::esp_netif::esp_netif_action_got_ip;
use lua::{Vm, bad_argument, typename};
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
    /// `app_main()` (components/base_nodemcu/user_main.c): the console,
    /// then the Lua task, which opens the modules and runs `init.lua`.
    ///
    /// The station's address (ESP-IDF's default handler,
    /// `esp_netif_action_got_ip` for the `sta` interface) is printed once
    /// init.lua has run and what it posted is done: on a board the Wi-Fi
    /// association and DHCP take seconds, init.lua milliseconds. The board
    /// is taken to have its station configuration stored (NodeMCU keeps
    /// it in NVS), as the documentation's example assumes a connected
    /// board.
    fn app_main(&self, ctx: &Context<'_>) {
        let chip = ctx.chip.clone();
        let tasks = Tasks::new(&chip);
        let started = chip.queue_create::<()>(1);
        {
            let chip = chip.clone();
            let idf = ctx.idf.clone();
            let lwip = ctx.lwip.clone();
            let script = self.script.clone();
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
                run_init(&vm, &script);
                tasks.run_pending(&vm);
                started.send(());
                tasks.pump(&vm);
            });
        }
        if started.receive().is_some() {
            started.handled();
            esp_netif_action_got_ip(chip.console(), "sta", ctx.net);
        }
    }
}

/// The modules the model has (`NODEMCU_MODULE` entries and lbaselib).
fn open_modules(vm: &Vm) -> mlua::Result<()> {
    httpd::open(vm)?;
    httpd::open_ws_methods(vm)?;
    tmr::open(vm)?;
    open_node(vm)
}

/// `node.onerror([function])`: the function NodeMCU's error reporter calls
/// with a callback's traceback instead of `print` (registry `onerror`).
fn open_node(vm: &Vm) -> mlua::Result<()> {
    let t = vm.lua.create_table()?;
    let fail = vm.raise("")?.front().cloned().unwrap_or(Value::Nil);
    t.set(
        "onerror",
        vm.function(move |lua, args: MultiValue| {
            match args.front() {
                None | Some(Value::Nil) => lua.set_named_registry_value("onerror", Value::Nil)?,
                Some(Value::Function(f)) => lua.set_named_registry_value("onerror", f.clone())?,
                Some(_) => {
                    return Ok(MultiValue::from_iter([
                        fail.clone(),
                        Value::String(lua.create_string(bad_argument(
                            1,
                            "onerror",
                            "function",
                            typename(&args, 0),
                        ))?),
                    ]));
                }
            }
            Ok(MultiValue::new())
        })?,
    )?;
    vm.lua.globals().set("node", t)
}

/// Runs `init.lua`. Its errors are reported as a callback's are
/// (traceback through `node.onerror` or `print`): inferred, the sheet
/// documents callbacks only.
fn run_init(vm: &Vm, script: &[u8]) {
    match vm.lua.load(script).set_name("@init.lua").into_function() {
        Ok(f) => {
            vm.pcallx(f, ());
        }
        Err(e) => {
            // A syntax error: Lua's own message.
            let msg = match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            };
            let line = format!("{msg}\n");
            vm.con.printf(line.as_bytes());
        }
    }
}
