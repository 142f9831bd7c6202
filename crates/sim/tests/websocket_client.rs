//! The esp_websocket_client example on the simulated chip, against an
//! in-process server on the lwIP seam: the handshake request, the frames'
//! two writes and fresh masks, the chip's seeded randomness, and the
//! example's destroy (no CLOSE, FINISH). The recorded sessions are replayed
//! by `cargo xtask compare-real-firmware` (tests/real_firmware_client.rs).

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{LwipSlot, accept_key};
use esp_ws_sim::{ConnId, Level, SimConfig, Simulator, Wire};

#[derive(Default)]
struct Server {
    lwip: LwipSlot,
    /// Every write the firmware made, per connection.
    writes: Mutex<BTreeMap<ConnId, Vec<Vec<u8>>>>,
    closes: Mutex<BTreeMap<ConnId, bool>>,
    /// Answer handshakes with a correct 101.
    accept: bool,
    /// Close TCP (FIN) once the first frame's payload has come.
    drop_after_first_frame: bool,
}

impl Wire for Server {
    fn send(&self, conn: ConnId, data: &[u8]) {
        let first = {
            let mut w = self.writes.lock().unwrap();
            let v = w.entry(conn).or_default();
            v.push(data.to_vec());
            v.len() == 1
        };
        let n = self.writes.lock().unwrap()[&conn].len();
        if n == 3 && self.drop_after_first_frame {
            let lwip = self.lwip.get();
            std::thread::spawn(move || lwip.host_eof(conn));
        }
        if first && self.accept {
            let req = String::from_utf8_lossy(data).into_owned();
            let key = req
                .split("\r\n")
                .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                .unwrap()
                .to_string();
            let lwip = self.lwip.get();
            let answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                accept_key(&key)
            );
            std::thread::spawn(move || {
                lwip.host_data(conn, answer.as_bytes());
            });
        }
    }
    fn close(&self, conn: ConnId, reset: bool) {
        self.closes.lock().unwrap().insert(conn, reset);
    }
    fn connect(&self, conn: ConnId, host: &str, port: u16) -> bool {
        assert_eq!((host, port), ("127.0.0.1", 18080));
        let lwip = self.lwip.get();
        std::thread::spawn(move || {
            lwip.host_connected(conn);
        });
        true
    }
}

struct Run {
    server: Arc<Server>,
    serial: Arc<Mutex<Vec<u8>>>,
    chip: Simulator,
}

fn power_on(seed: u64, accept: bool, destroy_after: Option<Duration>) -> Run {
    start(
        Server {
            accept,
            ..Server::default()
        },
        seed,
        destroy_after,
    )
}

fn start(server: Server, seed: u64, destroy_after: Option<Duration>) -> Run {
    let server = Arc::new(server);
    let serial = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let serial = serial.clone();
        Arc::new(move |b: &[u8]| serial.lock().unwrap().extend_from_slice(b))
    };
    let profile = esp_ws_sim::profile::find("esp-websocket-client-1.8.0").unwrap();
    let mut cfg = SimConfig::new(profile);
    cfg.log_level = Level::Info;
    cfg.uri = Some("ws://127.0.0.1:18080/".into());
    cfg.random_seed = Some(seed);
    cfg.destroy_after = destroy_after;
    // The firmware may dial before this hands the lwIP over: the server
    // waits for it (`LwipSlot::get`), and the firmware waits in connect().
    let chip = Simulator::power_on(cfg, sink, server.clone());
    server.lwip.set(chip.lwip());
    Run {
        server,
        serial,
        chip,
    }
}

fn wait_for(run: &Run, text: &str, max: Duration) -> String {
    let deadline = Instant::now() + max;
    loop {
        let log = String::from_utf8_lossy(&run.serial.lock().unwrap()).into_owned();
        if log.contains(text) {
            return log;
        }
        assert!(Instant::now() < deadline, "no {text:?} in:\n{log}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_request_is_the_recorded_one_with_a_fresh_key_and_frames_go_out_as_two_writes() {
    let run = power_on(7, true, Some(Duration::from_secs(60)));
    wait_for(&run, "Sending hello 0000", Duration::from_secs(10));
    // The hello frame's two writes have been made by the time it is logged
    // and the task has come back.
    std::thread::sleep(Duration::from_millis(200));
    let writes = run.server.writes.lock().unwrap().clone();
    let conn = *writes.keys().next().unwrap();
    let w = &writes[&conn];
    let req = String::from_utf8_lossy(&w[0]).into_owned();
    assert_eq!(w[0].len(), 211, "{req}");
    let lines: Vec<&str> = req.split("\r\n").collect();
    assert_eq!(
        lines[..6],
        [
            "GET / HTTP/1.1",
            "Connection: Upgrade",
            "Host: 127.0.0.1:18080",
            "User-Agent: ESP32 Websocket Client",
            "Upgrade: websocket",
            "Sec-WebSocket-Version: 13",
        ]
    );
    assert!(lines[6].starts_with("Sec-WebSocket-Key: ") && lines[6].len() == 43);
    assert_eq!(lines[7..], ["HeaderNewKey: value", "", ""]);
    // TEXT "hello 0000": a 6-byte header with the mask, then the payload.
    assert_eq!(w[1].len(), 6);
    assert_eq!(w[1][..2], [0x81, 0x8a]);
    let mask = &w[1][2..6];
    let payload: Vec<u8> = w[2]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect();
    assert_eq!(payload, b"hello 0000");
    // The same seed gives the same key; another seed another one.
    let again = power_on(7, true, Some(Duration::from_secs(60)));
    let other = power_on(8, true, Some(Duration::from_secs(60)));
    for r in [&again, &other] {
        wait_for(r, "Sending hello 0000", Duration::from_secs(10));
    }
    let key = |r: &Run| {
        let w = r.server.writes.lock().unwrap();
        String::from_utf8_lossy(&w.values().next().unwrap()[0]).into_owned()
    };
    assert_eq!(key(&again), req);
    assert_ne!(key(&other), req);
}

#[test]
fn the_example_as_shipped_destroys_the_client_without_a_close_frame() {
    let run = power_on(1, true, None);
    let log = wait_for(
        &run,
        "main_task: Returned from app_main()",
        Duration::from_secs(10),
    );
    let at = |s: &str| log.find(s).unwrap_or_else(|| panic!("{s:?} in\n{log}"));
    assert!(at("Sending fragmented binary message") < at("WEBSOCKET_EVENT_FINISH"));
    let writes = run.server.writes.lock().unwrap().clone();
    let w = writes.values().next().unwrap();
    // Headers' first bytes: TEXT|FIN, TEXT, CONT, CONT|FIN, BINARY, CONT,
    // CONT|FIN; no CLOSE (0x88) among them, and every mask fresh.
    let headers: Vec<&Vec<u8>> = w[1..]
        .iter()
        .filter(|h| h.len() == 6 || h.len() == 8)
        .collect();
    let firsts: Vec<u8> = headers.iter().map(|h| h[0]).collect();
    assert_eq!(firsts, [0x81, 0x01, 0x00, 0x80, 0x02, 0x00, 0x80]);
    let mut masks: Vec<&[u8]> = headers.iter().map(|h| &h[h.len() - 4..]).collect();
    masks.sort();
    masks.dedup();
    assert_eq!(masks.len(), 7, "fresh masks");
    // Nothing unread: a FIN.
    assert_eq!(
        run.server
            .closes
            .lock()
            .unwrap()
            .values()
            .copied()
            .collect::<Vec<_>>(),
        [false]
    );
    drop(run.chip);
}

#[test]
fn a_server_fin_is_an_error_then_a_disconnect_and_later_sends_fail_at_once() {
    let run = start(
        Server {
            accept: true,
            drop_after_first_frame: true,
            ..Server::default()
        },
        5,
        Some(Duration::from_secs(60)),
    );
    let log = wait_for(
        &run,
        "Sending fragmented binary message",
        Duration::from_secs(10),
    );
    let lines: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split_once(") ").map(|(_, r)| r))
        .filter(|l| l.starts_with("websocket") || l.starts_with("transport_ws"))
        .skip_while(|l| !l.contains("Sending hello 0000"))
        .take(13)
        .collect();
    assert_eq!(
        lines,
        [
            "websocket: Sending hello 0000",
            "transport_ws: Error read data(-1)",
            "websocket_client: esp_transport_read() failed with -1, transport_error=ESP_ERR_ESP_TLS_TCP_CLOSED_FIN, tls_error_code=0, tls_flags=0, errno=115",
            "websocket: WEBSOCKET_EVENT_ERROR",
            "websocket_client: Error receive data",
            "websocket_client: Reconnect after 10000 ms",
            "websocket: WEBSOCKET_EVENT_DISCONNECTED",
            "websocket: Last error reported from esp-tls: 0x8008",
            "websocket: Sending fragmented text message",
            "websocket_client: Websocket client is not connected",
            "websocket_client: Websocket client is not connected",
            "websocket_client: Websocket client is not connected",
            "websocket: Sending fragmented binary message",
        ]
    );
}

#[test]
fn without_an_answer_the_example_sends_nothing_and_is_at_rest_while_it_waits() {
    // Nobody answers the handshake: the example's loop never sees the
    // client connected, so it never gets to its sends; the chip is idle
    // for a host that lets time run while the client waits for the answer.
    let run = power_on(3, false, None);
    wait_for(&run, "WEBSOCKET_EVENT_BEGIN", Duration::from_secs(10));
    let log = String::from_utf8_lossy(&run.serial.lock().unwrap()).into_owned();
    assert!(!log.contains("Sending hello"), "{log}");
    assert!(
        run.chip.idle_waiter(esp_ws_sim::Rest::AwaitingInput)(Duration::from_secs(5)),
        "at rest while it waits for the answer"
    );
}
