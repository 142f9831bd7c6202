//! Firmware profiles: which firmware, built from which ESP-IDF release, the
//! simulator reproduces. A profile is a name, the ESP-IDF release's traits
//! ([`crate::idf::Release`]) and the firmware with its own traits
//! ([`crate::firmware::Spec`]); the differences themselves live with the
//! code they change, each value with its source.

use std::sync::Arc;

use crate::firmware::{self, ws_echo_server};
use crate::idf::release;

#[derive(Clone, Debug)]
pub struct Profile {
    /// Name used on the command line (`--firmware v5.5.5`).
    pub name: &'static str,
    /// The ESP-IDF release whose code the profile models.
    pub idf_version: &'static str,
    /// One line for `esp-ws sim --list-firmware`.
    pub summary: &'static str,
    /// The ESP-IDF release (and build configuration) under the firmware.
    pub idf: Arc<release::Release>,
    /// The firmware `app_main()` runs.
    pub firmware: firmware::Spec,
}

/// ESP-IDF v5.5.5: the default profile. Fact sheet section 2.4, and the
/// sessions recorded on a real v5.5.5 build.
pub fn v5_5_5() -> Profile {
    Profile {
        name: "v5.5.5",
        idf_version: "v5.5.5",
        summary: "/ws, /auth (pre- and post-handshake callbacks); \"Trigger async\" and \"Ping\" prefixes; PONGs reach the handler",
        idf: Arc::new(release::v5_5_5()),
        firmware: ws_echo_server::spec(ws_echo_server::Example::v5_5_5()),
    }
}

/// ESP-IDF v5.5.2: v5.5.5 before 5028b6230f5, 5dbab1d3957, 0fb8ad002ac,
/// 1a0da0c8b53 and the queue_work back-port.
pub fn v5_5_2() -> Profile {
    Profile {
        name: "v5.5.2",
        idf_version: "v5.5.2",
        summary: "handler called at the handshake (\"Handshake done\"); /auth with the pre-handshake callback only; exact \"Trigger async\"; PONG desync (esp-idf#18227), negative recv taken as success (esp-idf#18483), recv()==0 not an error (esp-idf#17822)",
        idf: Arc::new(release::v5_5_2()),
        firmware: ws_echo_server::spec(ws_echo_server::Example::v5_5_2()),
    }
}

/// ESP-IDF v4.4 (v4.4.0): the release of the README's prose.
pub fn v4_4() -> Profile {
    Profile {
        name: "v4.4",
        idf_version: "v4.4",
        summary: "handler called at the handshake (\"Handshake done\"); /ws only; exact \"Trigger async\" (an empty TEXT frame crashes the example); no CLOSE reply; PONG desync (esp-idf#18227)",
        idf: Arc::new(release::v4_4()),
        firmware: ws_echo_server::spec(ws_echo_server::Example::v4_4()),
    }
}

/// ESP-IDF v4.2 (v4.2.0 … v4.2.2): the code behind the README's Example
/// Output (fact sheet section 1.2).
pub fn v4_2() -> Profile {
    Profile {
        name: "v4.2",
        idf_version: "v4.2",
        summary: "the README's documented output: /ws only, 128-byte frames, exact \"Trigger async\"; no CLOSE reply, PONGs left unread (esp-idf#18227), no sub-protocols",
        idf: Arc::new(release::v4_2()),
        firmware: ws_echo_server::spec(ws_echo_server::Example::v4_2()),
    }
}

/// ESP-IDF master at 102122904ad (2026-07-23).
pub fn master() -> Profile {
    Profile {
        name: "master",
        idf_version: "master (102122904ad)",
        summary: "as v5.5.5, plus /ws_partial (64-byte chunked echo), 400/426 answers to bad handshakes, exact-length key and version",
        idf: Arc::new(release::master()),
        firmware: ws_echo_server::spec(ws_echo_server::Example::master()),
    }
}

/// master built with CONFIG_HTTPD_WS_STRICTER_RFC6455=y.
pub fn master_strict() -> Profile {
    Profile {
        name: "master-strict",
        summary: "master with CONFIG_HTTPD_WS_STRICTER_RFC6455=y: Host required, the key must be base64 of 16 bytes, WebSocket needs HTTP/1.1",
        idf: Arc::new(release::master_strict()),
        ..master()
    }
}

/// Every profile, the default first.
pub fn all() -> Vec<Arc<Profile>> {
    vec![
        Arc::new(v5_5_5()),
        Arc::new(v4_2()),
        Arc::new(v4_4()),
        Arc::new(v5_5_2()),
        Arc::new(master()),
        Arc::new(master_strict()),
    ]
}

pub const DEFAULT: &str = "v5.5.5";

/// Looks a profile up by name.
pub fn find(name: &str) -> Option<Arc<Profile>> {
    all().into_iter().find(|p| p.name == name)
}

impl Profile {
    /// Serial lines (regexes, in order) after which the firmware serves:
    /// the IPv4 address, the server start, and the last line the
    /// application prints before its handlers are registered (v5.x:
    /// `Returned from app_main()`, which ESP-IDF's own test waits for;
    /// v4.x prints nothing after `Registering URI handlers`).
    pub fn ready_markers(&self) -> Vec<&'static str> {
        let mut v = vec![
            r"IPv4 address: \d+\.\d+\.\d+\.\d+",
            r"Starting server on port",
        ];
        if self.idf.startup.prints_app_main_return() {
            v.push(r"Returned from app_main\(\)");
        } else {
            v.push(r"Registering URI handlers");
        }
        v
    }
}
