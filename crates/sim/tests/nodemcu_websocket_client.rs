//! NodeMCU's ESP8266 firmware with its websocket client, on the console:
//! the banner, the close statuses a script reaches without a server
//! (-1 … -4 at connect, -5 for a name, -99 for a close during DNS, -100
//! from `__gc`), and the Lua API's errors; then against an in-process
//! peer on the lwIP seam, what a scenario's server cannot provoke: a
//! refused connection and a reset (-109), `ws:config` headers, the masks,
//! and `ws:close()` unanswered. The scenarios in
//! scenarios/nodemcu-websocket-client/ cover what a server causes.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{LwipSlot, accept_key};
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

/// The server side of the lwIP seam: refuses or accepts each connection,
/// answers the handshake with a correct 101 when told to, and records
/// every write and close.
#[derive(Default)]
struct Peer {
    lwip: LwipSlot,
    refuse: bool,
    answer_101: bool,
    writes: Mutex<BTreeMap<ConnId, Vec<Vec<u8>>>>,
    closes: Mutex<BTreeMap<ConnId, (bool, Instant)>>,
}

impl Peer {
    /// A peer that answers each handshake with a correct 101.
    fn answering() -> Peer {
        Peer {
            answer_101: true,
            ..Peer::default()
        }
    }

    fn writes(&self) -> Vec<Vec<u8>> {
        self.writes
            .lock()
            .unwrap()
            .values()
            .flatten()
            .cloned()
            .collect()
    }
}

impl Wire for Peer {
    fn send(&self, conn: ConnId, data: &[u8]) {
        let first = {
            let mut w = self.writes.lock().unwrap();
            let v = w.entry(conn).or_default();
            v.push(data.to_vec());
            v.len() == 1
        };
        if first && self.answer_101 {
            let req = String::from_utf8_lossy(data).into_owned();
            let key = req
                .split("\r\n")
                .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                .expect("a key")
                .to_string();
            let answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                accept_key(&key)
            );
            let lwip = self.lwip.get();
            std::thread::spawn(move || {
                lwip.host_data(conn, answer.as_bytes());
            });
        }
    }

    fn close(&self, conn: ConnId, reset: bool) {
        self.closes
            .lock()
            .unwrap()
            .insert(conn, (reset, Instant::now()));
    }

    fn connect(&self, conn: ConnId, host: &str, port: u16) -> bool {
        assert_eq!((host, port), ("127.0.0.1", 8266));
        let (lwip, refuse) = (self.lwip.get(), self.refuse);
        std::thread::spawn(move || {
            if refuse {
                lwip.host_refused(conn);
            } else {
                lwip.host_connected(conn);
            }
        });
        true
    }
}

struct Dialed {
    chip: Simulator,
    peer: Arc<Peer>,
    serial: Arc<Mutex<Vec<u8>>>,
}

/// The firmware running `script`, its `{uri}` the peer's.
fn dial(peer: Peer, script: &str, seed: u64) -> Dialed {
    let peer = Arc::new(peer);
    let serial = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let s = serial.clone();
        Arc::new(move |b: &[u8]| s.lock().unwrap().extend_from_slice(b))
    };
    let mut cfg = SimConfig::new(esp_ws_sim::profile::find("nodemcu-websocket-client").unwrap());
    cfg.script = Some(script.as_bytes().to_vec());
    cfg.uri = Some("ws://127.0.0.1:8266/chat?x=1".into());
    cfg.random_seed = Some(seed);
    let chip = Simulator::power_on(cfg, sink, peer.clone());
    peer.lwip.set(chip.lwip());
    Dialed { chip, peer, serial }
}

impl Dialed {
    /// Waits (at most `max`) for `text` on the console.
    fn wait_for(&self, text: &str, max: Duration) -> String {
        let deadline = Instant::now() + max;
        loop {
            let log = String::from_utf8_lossy(&self.serial.lock().unwrap()).into_owned();
            if log.contains(text) {
                return log;
            }
            assert!(Instant::now() < deadline, "no {text:?} in:\n{log}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits (at most 5 s) for `n` writes from the firmware; all of them.
    fn wait_writes(&self, n: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let writes = self.peer.writes();
            if writes.len() >= n {
                return writes;
            }
            assert!(Instant::now() < deadline, "{n} writes: {writes:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn conn(&self) -> ConnId {
        *self
            .peer
            .writes
            .lock()
            .unwrap()
            .keys()
            .next()
            .expect("a connection")
    }
}

const PRINT_ALL: &str = r#"
local ws = websocket.createClient()
ws:on('connection', function(w) print('connected') end)
ws:on('receive', function(_, msg, op) print('got', msg, op) end)
ws:on('close', function(_, status) print('closed', status) end)
"#;

#[test]
fn a_refused_connection_is_an_espconn_reset_109() {
    let d = dial(
        Peer {
            refuse: true,
            ..Peer::default()
        },
        &format!("{PRINT_ALL}ws:connect('{{uri}}')"),
        1,
    );
    let log = d.wait_for("closed\t", Duration::from_secs(5));
    assert!(log.ends_with("closed\t-109\n"), "{log}");
    assert!(!log.contains("connected"), "{log}");
    assert!(d.peer.writes().is_empty());
}

#[test]
fn a_reset_after_the_handshake_is_109_and_nothing_is_closed_back() {
    let d = dial(
        Peer::answering(),
        &format!("{PRINT_ALL}ws:connect('{{uri}}')"),
        2,
    );
    d.wait_for("connected\n", Duration::from_secs(5));
    d.chip.lwip().host_reset(d.conn());
    let log = d.wait_for("closed\t", Duration::from_secs(5));
    assert!(log.ends_with("connected\nclosed\t-109\n"), "{log}");
    assert!(
        d.peer.closes.lock().unwrap().is_empty(),
        "an RST leaves nothing to close"
    );
}

#[test]
fn the_request_carries_config_headers_in_order_and_frames_fresh_masks() {
    let script = format!(
        r#"{PRINT_ALL}
ws:config({{headers = {{['User-Agent'] = 'NodeMCU'}}}})
ws:on('connection', function(w) w:send('one') w:send('two') w:send('\0\1', 2) end)
ws:connect('{{uri}}')"#
    );
    let d = dial(Peer::answering(), &script, 3);
    let writes = d.wait_writes(4);
    let request = String::from_utf8(writes[0].clone()).unwrap();
    let key = request
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap();
    assert_eq!(
        request,
        format!(
            "GET /chat?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8266\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: NodeMCU\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
        )
    );
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(key)
            .unwrap()
            .len(),
        16
    );
    // Each frame one write: FIN and the opcode, the mask bit, a fresh mask.
    let mut masks = Vec::new();
    for (w, (op, payload)) in
        writes[1..]
            .iter()
            .zip([(0x81u8, &b"one"[..]), (0x81, b"two"), (0x82, b"\0\x01")])
    {
        assert_eq!(w[0], op);
        assert_eq!(w[1], 0x80 | payload.len() as u8);
        let mask = &w[2..6];
        let unmasked: Vec<u8> = w[6..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        assert_eq!(unmasked, payload);
        masks.push(mask.to_vec());
    }
    masks.dedup();
    assert_eq!(masks.len(), 3, "a fresh mask per frame");
    // The chip's seeded generator: the same seed, the same key.
    let again = dial(Peer::answering(), &script, 3);
    assert_eq!(again.wait_writes(1)[0], writes[0]);
}

#[test]
fn close_unanswered_sends_an_empty_close_then_gives_up_after_5_s_with_99() {
    let script = format!(
        r#"{PRINT_ALL}
ws:on('connection', function(w) print('connected') w:close() end)
ws:connect('{{uri}}')"#
    );
    let d = dial(Peer::answering(), &script, 4);
    d.wait_for("connected\n", Duration::from_secs(5));
    let sent_close = Instant::now();
    let log = d.wait_for("closed\t", Duration::from_secs(10));
    assert!(log.ends_with("connected\nclosed\t-99\n"), "{log}");
    let writes = d.peer.writes();
    assert_eq!(writes.len(), 2, "the request and one CLOSE");
    assert_eq!(
        &writes[1][..2],
        [0x88, 0x80],
        "an empty masked CLOSE, no status"
    );
    let (reset, at) = d.peer.closes.lock().unwrap()[&d.conn()];
    assert!(!reset, "a FIN");
    // WS_FORCE_CLOSE_TIMEOUT_MS: the one-shot 5 s timer (a window, not a
    // speed: the close must not come early).
    let waited = at.duration_since(sent_close);
    assert!(
        waited >= Duration::from_millis(4500) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
}
