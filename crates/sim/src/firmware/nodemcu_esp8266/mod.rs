//! NodeMCU for the ESP8266 (branch release, 36cbf9f0), built with Lua 5.3
//! (`make LUA=53`) and its `websocket` client module enabled
//! (`LUA_USE_MODULES_WEBSOCKET`, off by default), as a release build
//! (no `DEVELOP_VERSION`): the module prints nothing (fact sheet
//! nodemcu-websocket-client.md, section 12). The console shows NodeMCU's
//! banner and what the script prints.
//!
//! Placement: NodeMCU's websocket client exists for the ESP8266 only, on
//! the NONOS SDK (§0); the model's chip is the ESP32's model of tasks,
//! timers and UART, behind the ESP8266's ROM (`chip::Rom::Esp8266`), and
//! the SDK is `idf::release::nonos_sdk_3_0()`: lwIP is shared, nothing of
//! ESP-IDF prints. The C module is two files here: [`websocketclient`]
//! (websocketclient.c, pure logic) and [`websocket`] (websocket.c, the Lua
//! binding, with the SDK's espconn and `os_timer` for one client). The Lua
//! VM, `print`, `luaL_pcallx`, `tmr` and `node.setonerror` are those of
//! the ESP32 port's model ([`super::nodemcu`]): the ESP8266 sources
//! (app/lua53/lua.c, lauxlib.c's `luaL_pcallx`, app/modules/node.c's
//! `default_onerror`) behave alike for what a script here reaches.
//!
//! The script is `init.lua`: by default the module documentation's
//! example (`init.lua` in this folder); a host may give its own. In
//! either, the text `{uri}` is replaced by the URI the host gives (a user
//! edits the server's URL into the script on a real board).

pub mod websocket;
pub mod websocketclient;

use std::sync::Arc;

use super::nodemcu::lua::Vm;
use super::nodemcu::{open_node, start_lua, tmr};
use super::{Context, Firmware, Spec};

/// The module documentation's example (see the file's header).
pub const EXAMPLE_SCRIPT: &str = include_str!("init.lua");

/// What `{uri}` becomes when the host gives none: the example's own URL.
const EXAMPLE_URL: &str = "ws://echo.websocket.org";

/// The firmware as a profile names it; a host's script replaces the
/// example.
pub fn spec() -> Spec {
    Spec::new("nodemcu_esp8266", move |options| {
        let script = options
            .script
            .clone()
            .unwrap_or_else(|| EXAMPLE_SCRIPT.as_bytes().to_vec());
        let uri = options.uri.clone().unwrap_or_else(|| EXAMPLE_URL.into());
        Arc::new(NodeMcu8266 {
            script: substitute(&script, uri.as_bytes()),
        })
    })
    .running_scripts()
    .dialing_out()
    .on_esp8266()
}

/// `{uri}` replaced by the URI, everywhere in the script.
fn substitute(script: &[u8], uri: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(script.len());
    let mut i = 0;
    while i < script.len() {
        if script[i..].starts_with(b"{uri}") {
            out.extend_from_slice(uri);
            i += 5;
        } else {
            out.push(script[i]);
            i += 1;
        }
    }
    out
}

pub struct NodeMcu8266 {
    /// `init.lua` on SPIFFS, the URI in it.
    script: Vec<u8>,
}

impl Firmware for NodeMcu8266 {
    /// app/user/user_main.c: `user_init()` sets the UART to 115200
    /// (`BIT_RATE_DEFAULT`) and turns the SDK's own prints off
    /// (`system_set_os_print(0)` without `NODE_DEBUG`); `nodemcu_init()`
    /// runs `lua_main()`: app/lua53/lua.c `pmain()` opens the modules,
    /// prints the banner (`print_version`) and runs `init.lua`; then the
    /// SDK's task loop. The model runs that on a task of its own and
    /// returns once `init.lua` and what it posted are done. The Lua prompt
    /// `> ` that follows is not printed: the model reads no console input.
    fn app_main(&self, ctx: &Context<'_>) {
        start_lua(ctx, &self.script, BANNER, open_modules);
    }
}

/// The modules the model has (`LUA_USE_MODULES_*` the script reaches).
fn open_modules(vm: &Vm) -> mlua::Result<()> {
    websocket::open(vm)?;
    tmr::open(vm)?;
    open_node(vm)
}

/// lua.c `print_version()`: `"\n" NODE_VERSION " build " BUILD_DATE
/// " powered by " LUA_RELEASE " on SDK %s\n"` with SDK_VERSION. For the
/// modelled build: NODE_VERSION is "NodeMCU " ESP_SDK_VERSION_STRING (the
/// SDK's include/version.h at e4434aa: 3.0.0) ".0 " and
/// NODE_VERSION_LONG, which tools/update_buildinfo.sh writes at build time
/// (USER_PROLOG empty; branch, commit, `git describe` of 36cbf9f0,
/// its commit time in UTC, SSL off, build type float, LFS size 0x0, the
/// modules of app/include/user_modules.h with websocket added);
/// LUA_RELEASE "Lua 5.3.6" (app/lua53/lua.h); SDK_VERSION the string in
/// the SDK's libmain at e4434aa. BUILD_DATE is when the firmware was built
/// (`date "+%Y-%m-%d %H:%M"`): the model's build is dated at the commit's
/// time.
pub const BANNER: &str = "\nNodeMCU 3.0.0.0 \n\
\tbranch: release\n\
\tcommit: 36cbf9f017d356319a6369e299765eedff191154\n\
\trelease: 3.0.0-release_20211229 +25\n\
\trelease DTS: 202402250804\n\
\tSSL: false\n\
\tbuild type: float\n\
\tLFS: 0x0 bytes total capacity\n\
\tmodules: adc,bit,dht,file,gpio,i2c,mqtt,net,node,ow,spi,tmr,uart,websocket,wifi\n \
build 2024-02-25 08:04 powered by Lua 5.3.6 on SDK 3.0.1-dev(fce080e)\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_is_substituted_everywhere() {
        assert_eq!(
            substitute(b"a{uri}b{uri}{ur", b"ws://h:1/p"),
            b"aws://h:1/pbws://h:1/p{ur".to_vec()
        );
    }
}
