//! The NodeMCU and netconn firmwares driven through the lwIP seam: what no
//! scenario can see (a GPIO level, when the model counts as idle).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use esp_ws_sim::{ConnId, Level, SimConfig, Simulator, Wire};

#[derive(Default)]
struct TestWire(Mutex<BTreeMap<ConnId, Vec<u8>>>);

impl Wire for TestWire {
    fn send(&self, conn: ConnId, data: &[u8]) {
        self.0
            .lock()
            .unwrap()
            .entry(conn)
            .or_default()
            .extend_from_slice(data);
    }
    fn close(&self, _conn: ConnId, _reset: bool) {}
}

struct Bench {
    chip: Simulator,
    wire: Arc<TestWire>,
    serial: Arc<Mutex<Vec<u8>>>,
}

impl Bench {
    fn new(profile: &str, script: Option<&str>) -> Bench {
        let b = Bench::booted(profile, script);
        assert!(b.chip.wait_idle(Duration::from_secs(5)), "idle after boot");
        b
    }

    /// Powered on and booted, idle or not.
    fn booted(profile: &str, script: Option<&str>) -> Bench {
        let serial = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let s = serial.clone();
            Arc::new(move |b: &[u8]| s.lock().unwrap().extend_from_slice(b))
        };
        let wire = Arc::new(TestWire::default());
        let mut cfg = SimConfig::new(esp_ws_sim::profile::find(profile).unwrap());
        cfg.log_level = Level::Info;
        cfg.script = script.map(|s| s.as_bytes().to_vec());
        let chip = Simulator::power_on(cfg, sink, wire.clone());
        assert!(chip.wait_booted(Duration::from_secs(5)));
        Bench { chip, wire, serial }
    }

    fn settle(&self) {
        assert!(
            self.chip.wait_idle(Duration::from_secs(10)),
            "the model did not settle"
        );
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&self.serial.lock().unwrap()).into_owned()
    }

    fn take_sent(&self, c: ConnId) -> Vec<u8> {
        self.wire.0.lock().unwrap().remove(&c).unwrap_or_default()
    }

    fn open(&self, c: ConnId, path: &str) {
        assert!(self.chip.lwip().host_connect(c));
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        self.chip.lwip().host_data(c, req.as_bytes());
    }
}

fn masked_text(payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut v = vec![0x81, 0x80 | payload.len() as u8];
    v.extend_from_slice(&key);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    v
}

#[test]
fn netconn_on_and_off_drive_gpio2_without_a_reply_and_other_text_is_echoed() {
    let b = Bench::new("netconn-hx", None);
    b.open(1, "/");
    b.settle();
    let hs = b.take_sent(1);
    assert_eq!(hs.len(), 130, "{}", String::from_utf8_lossy(&hs));
    assert_eq!(
        b.chip.gpio_level(2),
        None,
        "GPIO2 is not driven before ON/OFF"
    );
    b.chip.lwip().host_data(1, &masked_text(b"ON"));
    b.settle();
    assert_eq!(
        b.chip.gpio_level(2),
        Some(0),
        "ON drives the active-low LED low"
    );
    assert!(b.take_sent(1).is_empty(), "ON is not answered");
    b.chip.lwip().host_data(1, &masked_text(b"OFF"));
    b.settle();
    assert_eq!(b.chip.gpio_level(2), Some(1));
    assert!(b.take_sent(1).is_empty(), "OFF is not answered");
    b.chip.lwip().host_data(1, &masked_text(b"hi"));
    b.settle();
    assert_eq!(b.take_sent(1), b"\x81\x02hi");
    let log = b.log();
    assert!(
        log.contains("Websocket Data Length 2, Data: ON \r\n"),
        "{log}"
    );
    assert!(
        log.contains("Websocket Data Length 3, Data: OFF \r\n"),
        "{log}"
    );
}

#[test]
fn nodemcu_is_not_idle_while_a_tmr_alarm_is_armed() {
    let script = r#"
httpd.start({webroot = "/"})
httpd.websocket("/later", function(req, ws)
  tmr.create():alarm(400, tmr.ALARM_SINGLE, function() ws:text("later") end)
end)
"#;
    let b = Bench::new("nodemcu-pr3514", Some(script));
    let started = Instant::now();
    b.open(1, "/later");
    assert!(
        !b.chip.wait_idle(Duration::from_millis(150)),
        "an armed timer is work still to do"
    );
    b.settle();
    assert!(started.elapsed() >= Duration::from_millis(400));
    let sent = b.take_sent(1);
    assert!(sent.ends_with(b"\x81\x05later"), "{sent:?}");
}

#[test]
fn nodemcu_an_error_in_init_lua_prints_its_traceback_and_the_board_stays_up() {
    let b = Bench::new(
        "nodemcu-pr3514",
        Some("print('before')\nerror('broken script')\n"),
    );
    let log = b.log();
    let banner = log
        .find("NodeMCU ESP32 build unspecified powered by Lua 5.3.5 [5.3-int32-singlefp] on IDF v5.0.2\n")
        .expect(&log);
    let before = log.find("before\n").expect("print ran");
    let err = log
        .find("init.lua:2: broken script\nstack traceback:\n")
        .expect(&log);
    assert!(banner < before && before < err, "{log}");
    // lua.c prints it directly, not through onerror: no restart.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(b.chip.boots(), 1, "{}", b.log());
}

#[test]
fn nodemcu_default_error_handler_prints_the_traceback_and_restarts_two_seconds_later() {
    let script = r#"
tmr.create():alarm(10, tmr.ALARM_SINGLE, function() error("in a callback") end)
"#;
    // The error comes back after every restart: the board boot-loops.
    let b = Bench::booted("nodemcu-pr3514", Some(script));
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.chip.boots() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(b.chip.boots() >= 2, "{}", b.log());
    let log = b.log();
    let err = log
        .find("init.lua:2: in a callback\nstack traceback:\n")
        .expect(&log);
    let reset = log.find("rst:0xc (SW_CPU_RESET)").expect(&log);
    assert!(err < reset, "{log}");
    assert!(
        !log.contains("Guru Meditation"),
        "esp_restart() prints no panic: {log}"
    );
}

#[test]
fn nodemcu_setonerror_print_keeps_the_board_running() {
    let script = r#"
node.setonerror(print)
tmr.create():alarm(10, tmr.ALARM_SINGLE, function() error("kept") end)
"#;
    let b = Bench::new("nodemcu-pr3514", Some(script));
    std::thread::sleep(Duration::from_millis(2500));
    let log = b.log();
    assert!(
        log.contains("init.lua:3: kept\nstack traceback:\n"),
        "{log}"
    );
    assert_eq!(b.chip.boots(), 1, "{log}");
}

#[test]
fn nodemcu_tmr_modes_and_state_are_those_of_tmr_c() {
    let script = r#"
print(tmr.ALARM_SINGLE, tmr.ALARM_AUTO, tmr.ALARM_SEMI)
local t = tmr.create()
print(t:state())
t:register(50, tmr.ALARM_SEMI, function() print("semi fired") end)
print(t:state())
print(t:start(), t:start())
local ok, err = pcall(tmr.create().start, tmr.create())
print(ok, err)
"#;
    let b = Bench::new("nodemcu-pr3514", Some(script));
    std::thread::sleep(Duration::from_millis(200));
    b.settle();
    let log = b.log();
    assert!(log.contains("0\t1\t2\n"), "{log}");
    assert!(log.contains("nil\nfalse\t2\ntrue\tfalse\n"), "{log}");
    assert!(log.contains("false\ttimer not registered\n"), "{log}");
    assert!(log.contains("semi fired\n"), "{log}");
}

#[test]
fn nodemcu_script_cannot_reach_files_or_the_os() {
    let b = Bench::new(
        "nodemcu-pr3514",
        Some("print(type(io), type(os), type(dofile), type(loadfile), type(require))\n"),
    );
    assert!(b.log().contains("nil\tnil\tnil\tnil\tnil\n"), "{}", b.log());
}
