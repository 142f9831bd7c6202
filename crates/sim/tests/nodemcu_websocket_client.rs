//! NodeMCU's ESP8266 firmware with its websocket client, on the console:
//! the banner, the close statuses a script reaches without a server
//! (-1 … -4 at connect, -5 for a name, -99 for a close during DNS, -100
//! from `__gc`), and the Lua API's errors. The exchanges with a server
//! need the simulator's outbound connections (issue 12).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use esp_ws_sim::{ConnId, SimConfig, Simulator, Wire};

struct NoWire;

impl Wire for NoWire {
    fn send(&self, _conn: ConnId, _data: &[u8]) {}
    fn close(&self, _conn: ConnId, _reset: bool) {}
}

struct Board {
    _chip: Simulator,
    serial: Arc<Mutex<Vec<u8>>>,
}

fn boot(script: Option<&str>, uri: Option<&str>) -> Board {
    let serial = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let s = serial.clone();
        Arc::new(move |b: &[u8]| s.lock().unwrap().extend_from_slice(b))
    };
    let mut cfg = SimConfig::new(esp_ws_sim::profile::find("nodemcu-websocket-client").unwrap());
    cfg.script = script.map(|s| s.as_bytes().to_vec());
    cfg.uri = uri.map(str::to_string);
    let chip = Simulator::power_on(cfg, sink, Arc::new(NoWire));
    assert!(chip.wait_booted(Duration::from_secs(5)));
    Board {
        _chip: chip,
        serial,
    }
}

impl Board {
    fn log(&self) -> String {
        String::from_utf8_lossy(&self.serial.lock().unwrap()).into_owned()
    }

    /// Waits (at most 5 s) for `text` on the console.
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.log();
            if log.contains(text) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn the_console_shows_nodemcus_banner_and_nothing_of_the_esp32() {
    let b = boot(Some("print('hi')"), None);
    let log = b.wait_for("hi\n");
    assert!(
        log.starts_with(esp_ws_sim::firmware::nodemcu_esp8266::BANNER),
        "{log:?}"
    );
    assert!(
        log.contains(" build 2024-02-25 08:04 powered by Lua 5.3.6 on SDK 3.0.1-dev(fce080e)\n")
    );
    assert!(!log.contains("ets "), "no ESP32 ROM banner: {log:?}");
    assert!(log.ends_with("hi\n"), "{log:?}");
}

#[test]
fn urls_that_do_not_parse_close_with_1_to_4() {
    let script = r#"
for _, url in ipairs({'http://x/', 'ws://' .. string.rep('a', 256) .. '/p', 'ws://h:0/', 'ws://:80'}) do
  local ws = websocket.createClient()
  ws:on('close', function(w, status) print('closed', status, w == ws) end)
  ws:connect(url)
end
"#;
    let b = boot(Some(script), None);
    let log = b.wait_for("closed\t-4");
    for code in [-1, -2, -3, -4] {
        assert!(log.contains(&format!("closed\t{code}\ttrue\n")), "{log}");
    }
}

#[test]
fn the_example_without_a_server_uri_fails_its_dns_lookup_with_5() {
    // The documentation's own URL: a name, and no DNS server.
    let b = boot(None, None);
    let log = b.wait_for("connection closed");
    assert!(log.ends_with("connection closed\t-5\n"), "{log:?}");
}

#[test]
fn close_during_dns_is_99_and_gc_of_a_never_connected_client_is_100() {
    let script = r#"
local ws = websocket.createClient()
ws:on('close', function(_, status) print('closed', status) end)
ws:connect('ws://some.name/')
ws:close()
ws:close()
local lost = websocket.createClient()
lost:on('close', function(a, b) print('gc', a, b) end)
lost = nil
collectgarbage()
"#;
    let b = boot(Some(script), None);
    let log = b.wait_for("gc\t");
    assert!(log.contains("closed\t-99\n"), "{log}");
    assert!(
        !log.contains("closed\t-5"),
        "the late DNS answer is ignored: {log}"
    );
    // The only argument is -100: the first parameter gets it.
    assert!(log.contains("gc\t-100\tnil\n"), "{log}");
}

#[test]
fn the_lua_api_raises_the_modules_errors() {
    let script = r#"
local ws = websocket.createClient()
for _, f in ipairs({
  function() ws:send('x') end,
  function() ws:on('message', print) end,
  function() ws:on('close', 5) end,
  function() ws:config('x') end,
  function() ws:connect() end,
  function() ws:connect('ws://10.0.0.1/') ws:connect('ws://10.0.0.1/') end,
}) do
  print(select(2, pcall(f)))
end
ws:close()
"#;
    let b = boot(Some(script), None);
    let log = b.wait_for("already");
    for msg in [
        "Websocket isn't connected.\n",
        "bad argument #1 to 'on' (invalid option 'message')",
        "bad argument #2 to 'on' (function or nil)",
        "bad argument #1 to 'config' (table expected, got string)",
        "bad argument #1 to 'connect' (string expected, got no value)",
        "Websocket already connecting or connected.\n",
    ] {
        assert!(log.contains(msg), "{msg:?} in {log}");
    }
}
