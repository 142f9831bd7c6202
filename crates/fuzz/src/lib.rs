//! The fuzz targets of esp-ws, as plain functions of bytes: every parser
//! that takes input from outside. `tests/targets.rs` runs each under
//! bolero: a short random run in `cargo test`, a coverage-guided one with
//! `cargo xtask fuzz TARGET` (cargo-bolero's libFuzzer engine, on stable).
//! A target returns normally for any input; a panic or a hang is a finding.

use std::sync::{Arc, Mutex, OnceLock};

/// The engine the targets run under (`tests/targets.rs`).
pub use bolero;
use std::time::Duration;

use esp_ws_sim::{ConnId, Level, SimConfig, Simulator, Wire};

/// The frame decoder on bytes from the network, in pieces as they come.
pub fn frame_decoder(data: &[u8]) {
    let (cut, bytes) = split_first(data);
    let mut d = esp_ws_frame::Decoder::new(1 << 20);
    for piece in bytes.chunks(usize::from(cut).max(1)) {
        d.push(piece);
        while let Ok(Some(f)) = d.next_frame() {
            // What the transcript shows of a frame must not fail either.
            let _ = f.summary();
            let _ = f.violations(esp_ws_frame::Role::Server);
            let _ = f.violations(esp_ws_frame::Role::Client);
        }
    }
}

/// The serial line splitter and the log-line parser on a target's UART
/// bytes.
pub fn serial_lines(data: &[u8]) {
    let (cut, bytes) = split_first(data);
    let mut s = esp_ws_log::LineSplitter::with_max_line(4096);
    for piece in bytes.chunks(usize::from(cut).max(1)) {
        for line in s.push(piece) {
            let _ = line.parse();
        }
    }
    if let Some(line) = s.finish() {
        let _ = line.parse();
    }
}

/// The scenario loader on a file's text.
pub fn scenario_loader(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = esp_ws_scenario::parse_str(&text, "scenarios/esp-http-server/fuzz.json");
}

/// The simulated esp_http_server's HTTP request parser: bytes on a fresh
/// connection, then the client's FIN.
pub fn http_request(data: &[u8]) {
    on_a_connection(b"", data);
}

/// The simulated esp_http_server's WebSocket frame reader: a handshake,
/// then the bytes as frames, then the client's FIN.
pub fn websocket_frames(data: &[u8]) {
    on_a_connection(HANDSHAKE, data);
}

const HANDSHAKE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: esp32\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// The first byte picks how the rest is cut into pieces.
fn split_first(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((c, rest)) => (*c, rest),
        None => (1, data),
    }
}

struct Discard;

impl Wire for Discard {
    fn send(&self, _: ConnId, _: &[u8]) {}
    fn close(&self, _: ConnId, _: bool) {}
}

/// One simulated chip per process (booting one per input would make the
/// fuzzer measure boots), its connections numbered in turn.
struct Chip {
    sim: Simulator,
    next: Mutex<ConnId>,
}

fn chip() -> &'static Chip {
    static CHIP: OnceLock<Chip> = OnceLock::new();
    CHIP.get_or_init(|| {
        let profile = esp_ws_sim::profile::find("v5.5.5").expect("the default profile");
        let mut cfg = SimConfig::new(profile);
        cfg.log_level = Level::Debug;
        let sim = Simulator::power_on(cfg, Arc::new(|_: &[u8]| {}), Arc::new(Discard));
        assert!(sim.wait_booted(Duration::from_secs(10)), "the chip boots");
        Chip {
            sim,
            next: Mutex::new(0),
        }
    })
}

fn on_a_connection(prefix: &[u8], data: &[u8]) {
    let chip = chip();
    let c = {
        let mut n = chip.next.lock().unwrap();
        *n += 1;
        *n
    };
    let lwip = chip.sim.lwip();
    if !lwip.host_connect(c) {
        // Rebooting after a firmware panic: the input is still a finding
        // only if the chip does not come back.
        assert!(
            chip.sim.wait_idle(Duration::from_secs(20)),
            "the chip came back"
        );
        return;
    }
    lwip.host_data(c, prefix);
    lwip.host_data(c, data);
    lwip.host_eof(c);
    assert!(
        chip.sim.wait_idle(Duration::from_secs(20)),
        "the model did not settle"
    );
    // A session that outlives its client (a FIN lwIP hid) is reset, so that
    // sessions do not pile up across inputs.
    if lwip.open_connections().contains(&c) {
        lwip.host_reset(c);
        assert!(chip.sim.wait_idle(Duration::from_secs(20)));
    }
}

/// A fuzz target: any bytes in, a normal return out.
pub type Target = fn(&[u8]);

/// Every target, by name (`cargo xtask fuzz --list`).
pub const TARGETS: &[(&str, Target)] = &[
    ("frame_decoder", frame_decoder),
    ("serial_lines", serial_lines),
    ("scenario_loader", scenario_loader),
    ("http_request", http_request),
    ("websocket_frames", websocket_frames),
];
