//! The firmware model driven through its lwIP seam, without real sockets.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use esp_ws_sim::console::ManualClock;
use esp_ws_sim::{ConnId, Level, SimConfig, Simulator, Wire};

#[derive(Default)]
struct Recorded {
    sent: BTreeMap<ConnId, Vec<u8>>,
    closed: BTreeMap<ConnId, bool>,
}

struct TestWire(Mutex<Recorded>);

impl Wire for TestWire {
    fn send(&self, conn: ConnId, data: &[u8]) {
        self.0
            .lock()
            .unwrap()
            .sent
            .entry(conn)
            .or_default()
            .extend_from_slice(data);
    }
    fn close(&self, conn: ConnId, reset: bool) {
        self.0.lock().unwrap().closed.insert(conn, reset);
    }
}

struct Bench {
    chip: Simulator,
    wire: Arc<TestWire>,
    serial: Arc<Mutex<Vec<u8>>>,
}

impl Bench {
    fn new(level: Level) -> Bench {
        let serial = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let s = serial.clone();
            Arc::new(move |b: &[u8]| s.lock().unwrap().extend_from_slice(b))
        };
        let wire = Arc::new(TestWire(Mutex::new(Recorded::default())));
        let mut cfg = SimConfig::new(esp_ws_sim::profile::find("v5.5.5").unwrap());
        cfg.log_level = level;
        cfg.clock = Some(Arc::new(ManualClock::default()));
        let chip = Simulator::power_on(cfg, sink, wire.clone());
        assert!(chip.wait_booted(Duration::from_secs(5)));
        assert!(chip.wait_idle(Duration::from_secs(5)));
        let bench = Bench { chip, wire, serial };
        // Tests look at what happens after boot.
        let _ = bench.take_log();
        bench
    }

    fn settle(&self) {
        assert!(
            self.chip.wait_idle(Duration::from_secs(10)),
            "the model did not settle"
        );
    }

    /// Serial lines since the last call.
    fn take_log(&self) -> Vec<String> {
        let bytes = std::mem::take(&mut *self.serial.lock().unwrap());
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn sent(&self, c: ConnId) -> Vec<u8> {
        self.wire
            .0
            .lock()
            .unwrap()
            .sent
            .get(&c)
            .cloned()
            .unwrap_or_default()
    }

    fn closed(&self, c: ConnId) -> Option<bool> {
        self.wire.0.lock().unwrap().closed.get(&c).copied()
    }

    fn connect(&self, c: ConnId) {
        assert!(self.chip.lwip().host_connect(c));
        self.settle();
    }

    fn data(&self, c: ConnId, b: &[u8]) {
        self.chip.lwip().host_data(c, b);
        self.settle();
    }
}

/// The request behind the README's Example Output (reference section 1.3).
const DOCUMENTED_REQUEST: &[u8] = b"GET /ws HTTP/1.1\r\nHost: 192.168.4.2\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: gfhjgfhjfj\r\nSec-WebSocket-Protocol: echo\r\nSec-WebSocket-Version: 13\r\n\r\n";

fn masked_text(payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut v = vec![0x81, 0x80 | payload.len() as u8];
    v.extend_from_slice(&key);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    v
}

fn messages(log: &[String]) -> Vec<String> {
    // "D (0) tag: message" -> "D tag: message"
    log.iter()
        .map(|l| match l.split_once(") ") {
            Some((head, rest)) => format!("{} {rest}", &head[..1]),
            None => l.clone(),
        })
        .collect()
}

#[test]
fn boot_log_shows_the_example_starting_as_in_the_readme() {
    let serial = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let s = serial.clone();
        Arc::new(move |b: &[u8]| s.lock().unwrap().extend_from_slice(b))
    };
    let mut cfg = SimConfig::new(esp_ws_sim::profile::find("v5.5.5").unwrap());
    cfg.log_level = Level::Debug;
    let chip = Simulator::power_on(
        cfg,
        sink,
        Arc::new(TestWire(Mutex::new(Recorded::default()))),
    );
    assert!(chip.wait_booted(Duration::from_secs(5)));
    let log: Vec<String> = String::from_utf8_lossy(&serial.lock().unwrap())
        .lines()
        .map(str::to_string)
        .collect();
    let m = messages(&log);
    let pos = |s: &str| {
        m.iter()
            .position(|l| l == s)
            .unwrap_or_else(|| panic!("{s:?} not in\n{}", m.join("\n")))
    };
    let order = [
        "I main_task: Calling app_main()",
        "I example_common: - IPv4 address: 10.0.2.15,",
        "I ws_echo_server: Starting server on port: '80'",
        "I ws_echo_server: Registering URI handlers",
        "D httpd: httpd_thread: web server started",
        "D httpd: httpd_server: doing select maxfd+1 = 56",
        "D httpd_uri: httpd_register_uri_handler: [0] installed /ws",
        "D httpd_uri: httpd_find_uri_handler: [0] = /ws",
        "D httpd_uri: httpd_register_uri_handler: [0] exists /ws",
        "D httpd_uri: httpd_register_uri_handler: [1] installed /auth",
        "I main_task: Returned from app_main()",
    ];
    let positions: Vec<usize> = order.iter().map(|s| pos(s)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "out of order:\n{}",
        m.join("\n")
    );
}

#[test]
fn the_documented_request_is_read_in_the_documented_blocks() {
    let b = Bench::new(Level::Debug);
    b.connect(1);
    let _ = b.take_log();
    b.data(1, DOCUMENTED_REQUEST);
    let m = messages(&b.take_log());
    let expect_in_order = [
        "D httpd_txrx: httpd_recv_with_opt: requested length = 128",
        "D httpd_txrx: httpd_recv_with_opt: received length = 128",
        "D httpd_parse: cb_url: processing url = /ws",
        "D httpd_parse: verify_url: received URI = /ws",
        "D httpd_txrx: httpd_unrecv: length = 110",
        "D httpd_parse: pause_parsing: paused",
        "D httpd_parse: cb_header_field: processing field = Host",
        "D httpd_txrx: httpd_recv_with_opt: pending length = 110",
        "D httpd_parse: continue_parsing: skip pre-parsed data of size = 5",
        "D httpd_parse: continue_parsing: un-paused",
        // The README's authors cut this line; v5.5.5 prints it.
        "D httpd_parse: cb_header_value: processing value = 192.168.4.2",
        "D httpd_parse: cb_header_field: processing field = Sec-WebSocket-Proto",
        "D httpd_parse: parse_block: parsed block size = 110",
        "D httpd_txrx: httpd_recv_with_opt: received length = 40",
        "D httpd_parse: cb_header_field: processing field = col",
        // http_parser counts the first byte of a split header name twice.
        "D httpd_parse: cb_headers_complete: bytes read     = 169",
        "D httpd_uri: httpd_uri: Responding WS handshake to sock 57",
        "D httpd_ws: httpd_ws_respond_server_handshake: Server key before encoding: gfhjgfhjfj258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
        "D httpd_ws: httpd_ws_respond_server_handshake: Generated server key: Jg/fQVRsgwdDzYeG8yNBHRajUxw=",
        "W httpd_ws: Sec-WebSocket-Protocol echo not supported, URI do not support any subprotocols",
    ];
    let mut at = 0;
    for want in expect_in_order {
        match m[at..].iter().position(|l| l == want) {
            Some(p) => at += p + 1,
            None => panic!("missing (in order) {want:?} in:\n{}", m.join("\n")),
        }
    }
    assert_eq!(
        b.sent(1),
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: Jg/fQVRsgwdDzYeG8yNBHRajUxw=\r\n\r\n"
    );
}

#[test]
fn sockets_are_numbered_from_the_top_of_newlib_fd_space_and_reused() {
    let b = Bench::new(Level::Debug);
    b.connect(1);
    b.connect(2);
    let m = messages(&b.take_log());
    assert!(m.contains(&"D httpd: httpd_server: processing listen socket 54".to_string()));
    assert!(m.contains(&"D httpd: httpd_accept_conn: newfd = 57".to_string()));
    assert!(m.contains(&"D httpd: httpd_accept_conn: newfd = 58".to_string()));
    // A reset frees 57; the next client gets the lowest free socket again.
    b.chip.lwip().host_reset(1);
    b.settle();
    b.connect(3);
    let m = messages(&b.take_log());
    assert!(
        m.contains(&"D httpd_sess: httpd_sess_delete: fd = 57".to_string()),
        "{m:?}"
    );
    assert!(
        m.contains(&"D httpd: httpd_accept_conn: newfd = 57".to_string()),
        "{m:?}"
    );
}

#[test]
fn a_connection_reset_in_the_listen_backlog_fails_its_accept_and_is_freed() {
    let b = Bench::new(Level::Debug);
    // max_open_sockets = 7: the eighth connection waits in lwIP's backlog.
    for c in 1..=8 {
        b.connect(c);
    }
    let _ = b.take_log();
    b.chip.lwip().host_reset(8);
    b.settle();
    assert!(
        b.take_log().is_empty(),
        "httpd does not look at the backlog"
    );
    assert!(b.chip.lwip().open_connections().contains(&8));
    // A session closes: httpd selects the listen socket again, accept()
    // takes the reset connection and lwip_accept's netconn_peer() fails
    // with ERR_CONN, i.e. errno ENOTCONN (128).
    b.chip.lwip().host_eof(1);
    b.settle();
    let m = messages(&b.take_log());
    let in_order = [
        "D httpd_sess: httpd_sess_delete: fd = 57",
        "D httpd: httpd_server: processing listen socket 54",
        "E httpd: httpd_accept_conn: error in accept (128)",
        "W httpd: httpd_server: error accepting new connection",
    ];
    let mut at = 0;
    for want in in_order {
        match m[at..].iter().position(|l| l == want) {
            Some(p) => at += p + 1,
            None => panic!("missing (in order) {want:?} in:\n{}", m.join("\n")),
        }
    }
    assert!(
        !m.iter().any(|l| l.contains("newfd")),
        "no socket is handed out: {m:#?}"
    );
    // Freed: the firmware holds it no more, and the host, which dropped its
    // socket when it reported the RST, is asked for nothing.
    assert_eq!(
        b.chip.lwip().open_connections(),
        (2..=7).collect::<Vec<_>>()
    );
    assert_eq!(b.closed(8), None);
    assert!(b.sent(8).is_empty());
    // The socket briefly allocated for it is free again: the next client
    // gets 57, the lowest free one.
    b.connect(9);
    let m = messages(&b.take_log());
    assert!(
        m.contains(&"D httpd: httpd_accept_conn: newfd = 57".to_string()),
        "{m:#?}"
    );
}

#[test]
fn echo_and_fin_close_match_the_recorded_firmware_at_info_level() {
    let b = Bench::new(Level::Info);
    b.connect(1);
    b.data(
        1,
        b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    b.data(1, &masked_text(b"hello"));
    b.chip.lwip().host_eof(1);
    b.settle();
    assert_eq!(
        messages(&b.take_log()),
        [
            "I ws_echo_server: frame len is 5",
            "I ws_echo_server: Got packet with message: hello",
            "I ws_echo_server: Packet type: 1",
            "W httpd_ws: httpd_ws_get_frame_type: Failed to read header byte (socket FD invalid), closing socket now",
        ]
    );
    let sent = b.sent(1);
    assert!(sent.ends_with(b"\r\n\r\n\x81\x05hello"), "{sent:?}");
    assert_eq!(b.closed(1), Some(false), "closed with FIN");
}

#[test]
fn closing_with_unread_bytes_resets_the_connection() {
    let b = Bench::new(Level::Info);
    b.connect(1);
    b.data(
        1,
        b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    // Unmasked: the header is read, the payload is left unread.
    b.data(1, b"\x81\x05hello");
    assert_eq!(b.closed(1), Some(true), "closed with RST");
}

#[test]
fn header_values_are_cut_to_their_buffers_without_error() {
    // 3-byte version buffer: "130" is read as "13" and accepted; a
    // 28-byte key buffer: a 29-character key is "not found".
    let b = Bench::new(Level::Info);
    b.connect(1);
    b.data(
        1,
        b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 130\r\n\r\n",
    );
    assert!(b.sent(1).starts_with(b"HTTP/1.1 101 "));
    b.connect(2);
    b.data(
        2,
        b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: 01234567890123456789012345678\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert!(b.sent(2).is_empty());
    assert_eq!(b.closed(2), Some(false));
    assert!(
        b.take_log()
            .iter()
            .any(|l| l.ends_with("Cannot find client key"))
    );
}

#[test]
fn a_stalled_request_times_out_with_408_after_recv_wait_timeout() {
    let b = Bench::new(Level::Info);
    b.connect(1);
    let lwip = b.chip.lwip();
    lwip.host_data(1, b"GET /ws HTTP/1.1\r\nHost: h\r\n");
    // The server blocks in recv for SO_RCVTIMEO (5 s), then gives up.
    assert!(b.chip.wait_idle(Duration::from_secs(8)));
    let sent = String::from_utf8_lossy(&b.sent(1)).into_owned();
    assert!(
        sent.starts_with("HTTP/1.1 408 Request Timeout\r\n")
            && sent.ends_with("Server closed this connection"),
        "{sent:?}"
    );
    let log = messages(&b.take_log());
    assert!(
        log.contains(&"W httpd_txrx: httpd_sock_err: error in recv : 11".to_string()),
        "{log:?}"
    );
}

fn bench_with(cfg_edit: impl FnOnce(&mut SimConfig)) -> Bench {
    let serial = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let s = serial.clone();
        Arc::new(move |b: &[u8]| s.lock().unwrap().extend_from_slice(b))
    };
    let wire = Arc::new(TestWire(Mutex::new(Recorded::default())));
    let mut cfg = SimConfig::new(esp_ws_sim::profile::find("v5.5.5").unwrap());
    cfg.clock = Some(Arc::new(ManualClock::default()));
    cfg_edit(&mut cfg);
    let chip = Simulator::power_on(cfg, sink, wire.clone());
    assert!(chip.wait_booted(Duration::from_secs(5)));
    assert!(chip.wait_idle(Duration::from_secs(5)));
    Bench { chip, wire, serial }
}

const WS_UPGRADE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

#[test]
fn a_panic_prints_the_panic_and_reboots_with_the_rom_banner() {
    let b = bench_with(|c| c.fault = Some(esp_ws_sim::Fault::PanicOnMessage(b"boom".to_vec())));
    let boot = b.take_log();
    assert_eq!(boot[0], "ets Jul 29 2019 12:21:46");
    assert!(
        boot.iter()
            .any(|l| l == "rst:0x1 (POWERON_RESET),boot:0x12 (SPI_FAST_FLASH_BOOT)"),
        "{boot:?}"
    );
    assert_eq!(b.chip.boots(), 1);
    b.connect(1);
    b.data(1, WS_UPGRADE);
    b.data(1, &masked_text(b"boom"));
    // wait_idle waits for the reboot to finish.
    b.settle();
    assert_eq!(b.chip.boots(), 2);
    assert!(!b.chip.crashed());
    let log = b.take_log();
    let pos = |s: &str| {
        log.iter()
            .position(|l| l.trim_end() == s)
            .unwrap_or_else(|| panic!("{s:?} not in\n{}", log.join("\n")))
    };
    let order = [
        "I (0) ws_echo_server: Got packet with message: boom",
        "Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.",
        "Rebooting...",
        "ets Jul 29 2019 12:21:46",
        "rst:0xc (SW_CPU_RESET),boot:0x12 (SPI_FAST_FLASH_BOOT)",
        "I (0) ws_echo_server: Starting server on port: '80'",
        "I (0) main_task: Returned from app_main()",
    ];
    let p: Vec<usize> = order.iter().map(|s| pos(s)).collect();
    assert!(p.windows(2).all(|w| w[0] < w[1]), "{}", log.join("\n"));
    // The old connection is gone with the old boot: its peer gets an RST.
    assert_eq!(b.closed(1), Some(true));
    // The rebooted firmware serves again, from the same socket numbers.
    b.connect(2);
    b.data(2, WS_UPGRADE);
    assert!(b.sent(2).starts_with(b"HTTP/1.1 101 Switching Protocols"));
    b.data(2, &masked_text(b"hi"));
    assert!(b.sent(2).ends_with(&[0x81, 0x02, b'h', b'i']));
}

#[test]
fn without_reboot_a_panic_halts_the_chip_for_good() {
    let b = bench_with(|c| {
        c.fault = Some(esp_ws_sim::Fault::PanicOnMessage(b"boom".to_vec()));
        c.reboot_on_panic = false;
    });
    let _ = b.take_log();
    b.connect(1);
    b.data(1, WS_UPGRADE);
    b.chip.lwip().host_data(1, &masked_text(b"boom"));
    b.settle();
    assert!(b.chip.halted());
    assert_eq!(b.chip.boots(), 1);
    let log = b.take_log();
    assert_eq!(
        log.last().map(String::as_str),
        Some("Rebooting..."),
        "{log:?}"
    );
    // Nothing listens any more.
    assert!(!b.chip.lwip().host_connect(2));
}
