//! What the simulator's integration tests with an in-process peer share.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use esp_ws_sim::Lwip;
use sha1::{Digest, Sha1};

/// The model's lwIP, for a test's `Wire`: handed over right after power-on,
/// but the firmware may dial before that (the chip runs as soon as it is
/// powered), so taking it waits, boundedly.
#[derive(Default)]
pub struct LwipSlot(OnceLock<Arc<Lwip>>);

impl LwipSlot {
    pub fn set(&self, lwip: Arc<Lwip>) {
        assert!(self.0.set(lwip).is_ok(), "handed over once");
    }

    pub fn get(&self) -> Arc<Lwip> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(l) = self.0.get() {
                return l.clone();
            }
            assert!(Instant::now() < deadline, "the lwIP was never handed over");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The Sec-WebSocket-Accept for `key` (RFC 6455 section 4.2.2).
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}
