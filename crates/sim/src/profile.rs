//! Firmware profiles: which firmware, built from which ESP-IDF release, the
//! simulator reproduces. A profile is a name, the ESP-IDF release's traits
//! ([`crate::idf::Release`]) and the firmware with its own traits
//! ([`crate::firmware::Spec`]); the differences themselves live with the
//! code they change, each value with its source.

use std::sync::Arc;

use crate::firmware::{
    self, netconn_websocket, nodemcu, nodemcu_esp8266, websocket_client_example, ws_echo_server,
};
use crate::idf::release;

#[derive(Clone, Debug)]
pub struct Profile {
    /// Its name in the firmware catalogue (`esp-ws-catalogue`), which says
    /// what it is, when it is ready and which known bugs it carries.
    pub name: &'static str,
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
        idf: Arc::new(release::v5_5_5()),
        firmware: ws_echo_server::spec(ws_echo_server::Example::v5_5_5()),
    }
}

/// ESP-IDF v5.5.2: v5.5.5 before 5028b6230f5, 5dbab1d3957, 0fb8ad002ac,
/// 1a0da0c8b53 and the queue_work back-port.
pub fn v5_5_2() -> Profile {
    Profile {
        name: "v5.5.2",
        idf: Arc::new(release::v5_5_2()),
        firmware: ws_echo_server::spec(ws_echo_server::Example::v5_5_2()),
    }
}

/// ESP-IDF v4.4 (v4.4.0): the release of the README's prose.
pub fn v4_4() -> Profile {
    Profile {
        name: "v4.4",
        idf: Arc::new(release::v4_4()),
        firmware: ws_echo_server::spec(ws_echo_server::Example::v4_4()),
    }
}

/// ESP-IDF v4.2 (v4.2.0 … v4.2.2): the code behind the README's Example
/// Output (fact sheet section 1.2).
pub fn v4_2() -> Profile {
    Profile {
        name: "v4.2",
        idf: Arc::new(release::v4_2()),
        firmware: ws_echo_server::spec(ws_echo_server::Example::v4_2()),
    }
}

/// ESP-IDF master at 102122904ad (2026-07-23).
pub fn master() -> Profile {
    Profile {
        name: "master",
        idf: Arc::new(release::master()),
        firmware: ws_echo_server::spec(ws_echo_server::Example::master()),
    }
}

/// master built with CONFIG_HTTPD_WS_STRICTER_RFC6455=y.
pub fn master_strict() -> Profile {
    Profile {
        name: "master-strict",
        idf: Arc::new(release::master_strict()),
        ..master()
    }
}

/// NodeMCU's dev-esp32 branch with the WebSocket routes of its PR #3514
/// (head affed3f8), built with CONFIG_NODEMCU_CMODULE_HTTPD_WS=y on the
/// ESP-IDF release that tree builds with, v5.0.2 (fact sheet
/// nodemcu-httpd-websocket.md, sections 0 and 1).
pub fn nodemcu_pr3514() -> Profile {
    Profile {
        name: "nodemcu-pr3514",
        idf: Arc::new(release::v5_0_2()),
        firmware: nodemcu::spec(nodemcu::EXAMPLE_SCRIPT),
    }
}

/// The same firmware with esp-ws's probe script as init.lua (what a
/// script sees of the httpd module, printed on the console).
pub fn nodemcu_pr3514_probe() -> Profile {
    Profile {
        name: "nodemcu-pr3514-probe",
        firmware: nodemcu::spec(nodemcu::PROBE_SCRIPT),
        ..nodemcu_pr3514()
    }
}

/// The same firmware with a script that calls `httpd.stop()` while a
/// WebSocket session is open.
pub fn nodemcu_pr3514_stop() -> Profile {
    Profile {
        name: "nodemcu-pr3514-stop",
        firmware: nodemcu::spec(nodemcu::STOP_SCRIPT),
        ..nodemcu_pr3514()
    }
}

/// The lwIP netconn WebSocket server of the HX "Chapter 18" tutorial
/// (xiaolongba/wireless-tech 58f2119b), on ESP-IDF v3.0 (fact sheet
/// lwip-netconn-ws-server.md, sections 0 and 1).
pub fn netconn_hx() -> Profile {
    Profile {
        name: "netconn-hx",
        idf: Arc::new(release::v3_0()),
        firmware: netconn_websocket::spec(),
    }
}

/// The example app of esp_websocket_client 1.8.0 on ESP-IDF v5.5.5, an
/// ESP32 dialing out to the host's URI (fact sheet
/// esp-websocket-client.md, section 1).
pub fn esp_websocket_client_1_8_0() -> Profile {
    Profile {
        name: "esp-websocket-client-1.8.0",
        idf: Arc::new(release::v5_5_5()),
        firmware: websocket_client_example::spec("v5.5.5"),
    }
}

/// NodeMCU for the ESP8266 (release branch 36cbf9f0, Lua 5.3, NONOS SDK
/// 3.0) with its `websocket` client module, running the module
/// documentation's example (fact sheet nodemcu-websocket-client.md).
pub fn nodemcu_websocket_client() -> Profile {
    Profile {
        name: "nodemcu-websocket-client",
        idf: Arc::new(release::nonos_sdk_3_0()),
        firmware: nodemcu_esp8266::spec(),
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
        Arc::new(nodemcu_pr3514()),
        Arc::new(nodemcu_pr3514_probe()),
        Arc::new(nodemcu_pr3514_stop()),
        Arc::new(netconn_hx()),
        Arc::new(esp_websocket_client_1_8_0()),
        Arc::new(nodemcu_websocket_client()),
    ]
}

/// Looks a profile up by name.
pub fn find(name: &str) -> Option<Arc<Profile>> {
    all().into_iter().find(|p| p.name == name)
}
