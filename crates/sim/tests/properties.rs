//! No byte sequence a client can send makes the firmware model panic (a
//! Rust panic, not a modelled firmware panic) or hang: for every profile,
//! random requests and random frames after a real handshake, each ended by
//! a FIN or an RST, leave a model that settles and still serves.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use esp_ws_sim::{ConnId, Level, SimConfig, Simulator, Wire};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

static RUST_PANICS: AtomicUsize = AtomicUsize::new(0);

#[derive(Default)]
struct Sent(Mutex<BTreeMap<ConnId, Vec<u8>>>);

impl Wire for Sent {
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

/// An opening handshake on `path` (each firmware serves its own routes).
fn handshake(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: esp32\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").into_bytes()
}

/// A client's bytes: a request or a handshake, then anything, with frame
/// headers (any opcode, RSV, length form, mask or none) made likely.
fn client_bytes() -> impl Strategy<Value = (bool, Vec<u8>, bool)> {
    let piece = prop_oneof![
        3 => proptest::collection::vec(any::<u8>(), 0..40),
        2 => (any::<u8>(), prop_oneof![0u8..=125, Just(126), Just(127)], any::<bool>())
            .prop_map(|(b0, len, masked)| {
                let mut v = vec![b0, len | if masked { 0x80 } else { 0 }];
                if len == 126 { v.extend_from_slice(&[0, 130]); }
                if len == 127 { v.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0]); }
                if masked { v.extend_from_slice(&[1, 2, 3, 4]); }
                v
            }),
        1 => Just(b"GET / HTTP/1.1\r\n".to_vec()),
        1 => Just(b"Sec-WebSocket-Key: x\r\n\r\n".to_vec()),
    ];
    (
        any::<bool>(),
        proptest::collection::vec(piece, 0..8).prop_map(|v| v.concat()),
        any::<bool>(),
    )
}

/// A powered-on model of `profile` and what it sent on each connection.
fn boot(profile: &Arc<esp_ws_sim::Profile>) -> (Simulator, Arc<Sent>) {
    let wire = Arc::new(Sent::default());
    let mut cfg = SimConfig::new(profile.clone());
    cfg.log_level = Level::Debug;
    let sim = Simulator::power_on(cfg, Arc::new(|_: &[u8]| {}), wire.clone());
    assert!(sim.wait_booted(Duration::from_secs(10)), "{}", profile.name);
    (sim, wire)
}

#[test]
fn any_client_bytes_leave_every_profile_settled_and_serving() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        RUST_PANICS.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
    for profile in esp_ws_sim::profile::all() {
        let entry = esp_ws_catalogue::find(profile.name)
            .expect("every simulated profile is in the catalogue");
        // A firmware that dials out accepts no connection: its peer bytes
        // are the server's, covered by the client model's own tests.
        if entry.role() == esp_ws_catalogue::Role::Client {
            continue;
        }
        let route = entry.ws_path;
        let hs = handshake(route);
        let mut runner = TestRunner::new(Config {
            cases: 256,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&client_bytes(), |(handshake, tail, rst)| {
                // A fresh chip per case: a failure shrinks to the bytes
                // that cause it.
                let (sim, wire) = boot(&profile);
                let lwip = sim.lwip();
                prop_assert!(lwip.host_connect(1));
                if handshake {
                    lwip.host_data(1, &hs);
                }
                lwip.host_data(1, &tail);
                if rst {
                    lwip.host_reset(1);
                } else {
                    lwip.host_eof(1);
                }
                prop_assert!(
                    sim.wait_idle(Duration::from_secs(20)),
                    "{}: the model did not settle",
                    profile.name
                );
                prop_assert_eq!(RUST_PANICS.load(Ordering::SeqCst), 0, "{}", profile.name);
                // The connection may stay open: on v4.2 a frame whose payload
                // is read short, from the pending buffer and then a recv() that
                // returns the FIN, consumes the FIN unseen, and lwIP's select
                // never reports the socket again (a half-open session, as the
                // firmware's code does it).
                // And it still serves a client as before.
                prop_assert!(lwip.host_connect(2));
                lwip.host_data(2, &hs);
                prop_assert!(sim.wait_idle(Duration::from_secs(10)));
                let got = wire.0.lock().unwrap().get(&2).cloned().unwrap_or_default();
                prop_assert!(
                    got.starts_with(b"HTTP/1.1 101 Switching Protocols"),
                    "{}: {}",
                    profile.name,
                    String::from_utf8_lossy(&got)
                );
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{}: {e}", profile.name));
    }
}
