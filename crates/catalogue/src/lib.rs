//! The firmware catalogue: every firmware esp-ws knows, as data.
//!
//! A *firmware profile* is one firmware as built from one release (ESP-IDF
//! v5.5.5's `ws_echo_server`, say). Profiles come in *families* that share
//! scenarios: the scenarios of a family live in `scenarios/<family>/` and,
//! unless their `firmware` list says otherwise, apply to every profile of
//! it. Each profile says which serial lines mean it is ready and which known
//! bugs it carries.
//!
//! The whole harness reads this table: the runner (which scenarios apply,
//! snapshot names, readiness), scenario validation (a profile name that is
//! not here is an input error), the CLI (`--firmware`, `--profile`,
//! `--list-firmware`). The simulator implements every profile listed here;
//! a test holds the two together. For QEMU and board targets a profile is a
//! declaration: "this firmware behaves as that one".
//!
//! The crate is pure data: no I/O, nothing from the simulator.

/// Which side of the WebSocket connection the firmware plays.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// The firmware serves WebSocket; esp-ws dials it.
    Server,
    /// The firmware dials out; esp-ws listens and plays the server.
    Client,
}

/// Firmware that shares scenarios.
#[derive(Debug)]
pub struct Family {
    /// Its name, and the name of its folder under `scenarios/`.
    pub name: &'static str,
    /// What it is, in a line.
    pub title: &'static str,
    pub role: Role,
    /// The profile whose snapshots carry no `@profile` suffix.
    pub default_firmware: &'static str,
}

/// One firmware profile.
#[derive(Debug)]
pub struct Firmware {
    /// The name on the command line (`--firmware v5.5.5`) and in scenarios.
    pub name: &'static str,
    pub family: &'static str,
    /// The release whose code it is.
    pub release: &'static str,
    /// What sets it apart, in a line (`esp-ws sim --list-firmware`).
    pub summary: &'static str,
    /// Serial-log regexes that must appear, in order, before the firmware
    /// serves: the address it got, the server start, and the last line
    /// printed before it registers its handlers.
    pub ready: &'static [&'static str],
    /// Ids of the [`KnownBug`]s it carries.
    pub known_bugs: &'static [&'static str],
    /// A firmware that serves ([`Role::Server`]): the TCP port it serves
    /// on, the default of a QEMU guest's forwarded port and of a board's
    /// address. A firmware that dials out ([`Role::Client`]): the port
    /// esp-ws listens on by default where the firmware's configured URI
    /// fixes it (QEMU, a board; the simulator and a program are given a
    /// URI with a free port).
    pub port: u16,
    /// A firmware that serves: a WebSocket route it serves (an echo where
    /// it has one), for a readiness handshake with a board esp-ws attaches
    /// to, and the path `esp-ws conform` tests by default. A firmware that
    /// dials out: the path of the URI it is given (or is configured with).
    pub ws_path: &'static str,
}

/// A bug of a released firmware that scenarios document as an expected
/// failure (`known_bugs` in a scenario).
#[derive(Debug)]
pub struct KnownBug {
    /// How scenarios name it (`issue` of a `known_bugs` entry).
    pub id: &'static str,
    pub title: &'static str,
}

const ESP_HTTP_SERVER: &str = "esp-http-server";

/// v5.x prints `Returned from app_main()` (app_startup.c), which ESP-IDF's
/// own pytest waits for.
const READY_V5: &[&str] = &[
    r"IPv4 address: \d+\.\d+\.\d+\.\d+",
    r"Starting server on port",
    r"Returned from app_main\(\)",
];

/// v4.x prints nothing after the example's `Registering URI handlers`.
const READY_V4: &[&str] = &[
    r"IPv4 address: \d+\.\d+\.\d+\.\d+",
    r"Starting server on port",
    r"Registering URI handlers",
];

const LWIP_NETCONN: &str = "lwip-netconn";
const NODEMCU_HTTPD: &str = "nodemcu-httpd";
/// The NodeMCU profile, the default of its family.
pub const NODEMCU: &str = "nodemcu-pr3514";
/// NodeMCU's banner (lua.c `pmain()`), printed by every build before it
/// runs init.lua; the simulator's NodeMCU is up once init.lua has run.
const READY_NODEMCU: &[&str] = &[r"NodeMCU ESP32 build .* powered by Lua"];
/// The netconn tutorial's profile, the default of its family.
pub const NETCONN: &str = "netconn-hx";

const ESP_WEBSOCKET_CLIENT: &str = "esp-websocket-client";
/// The esp_websocket_client profile, the default of its family.
pub const ESP_WEBSOCKET_CLIENT_DEFAULT: &str = "esp-websocket-client-1.8.0";
/// The example prints `Connecting to <uri>...` (tag `websocket`) right
/// before it starts the client (fact sheet esp-websocket-client.md §2).
const READY_ESP_WEBSOCKET_CLIENT: &[&str] = &[r"websocket: Connecting to \S+"];

const NODEMCU_WEBSOCKET_CLIENT: &str = "nodemcu-websocket-client";
/// The NodeMCU websocket client profile, the default of its family.
pub const NODEMCU_CLIENT: &str = "nodemcu-websocket-client";
/// NodeMCU's banner (app/lua/lua.c, ESP8266 builds too), printed before
/// init.lua runs.
const READY_NODEMCU_CLIENT: &[&str] = &[r"powered by Lua"];

/// The netconn server logs nothing (fact sheet section 9); ESP-IDF v3.0's
/// default event handler prints the station's address, after the server
/// task listens.
const READY_NETCONN: &[&str] = &[r"event: sta ip: \d+\.\d+\.\d+\.\d+"];

static FAMILIES: &[Family] = &[
    Family {
        name: ESP_HTTP_SERVER,
        title: "ESP-IDF's esp_http_server with its ws_echo_server example",
        role: Role::Server,
        default_firmware: DEFAULT,
    },
    Family {
        name: NODEMCU_HTTPD,
        title: "NodeMCU's Lua httpd module with WebSocket routes (PR #3514), on esp_http_server",
        role: Role::Server,
        default_firmware: NODEMCU,
    },
    Family {
        name: LWIP_NETCONN,
        title: "the raw lwIP netconn WebSocket server of the ESP32 tutorials (one client, 125-byte frames)",
        role: Role::Server,
        default_firmware: NETCONN,
    },
    Family {
        name: ESP_WEBSOCKET_CLIENT,
        title: "ESP-IDF's esp_websocket_client (esp-protocols) running its example app",
        role: Role::Client,
        default_firmware: ESP_WEBSOCKET_CLIENT_DEFAULT,
    },
    Family {
        name: NODEMCU_WEBSOCKET_CLIENT,
        title: "NodeMCU's websocket client module (ESP8266)",
        role: Role::Client,
        default_firmware: NODEMCU_CLIENT,
    },
];

/// The profile `esp-ws run` and `esp-ws sim` use unless told otherwise.
pub const DEFAULT: &str = "v5.5.5";

static FIRMWARES: &[Firmware] = &[
    Firmware {
        name: "v5.5.5",
        family: ESP_HTTP_SERVER,
        release: "ESP-IDF v5.5.5",
        summary: "/ws, /auth (pre- and post-handshake callbacks); \"Trigger async\" and \"Ping\" prefixes; PONGs reach the handler",
        ready: READY_V5,
        port: 80,
        ws_path: "/ws",
        known_bugs: &[],
    },
    Firmware {
        name: "v4.2",
        family: ESP_HTTP_SERVER,
        release: "ESP-IDF v4.2",
        summary: "the README's documented output: /ws only, 128-byte frames, exact \"Trigger async\"; no CLOSE reply, PONGs left unread (esp-idf#18227), no sub-protocols",
        ready: READY_V4,
        port: 80,
        ws_path: "/ws",
        known_bugs: &[NO_CLOSE_REPLY, PONG_DESYNC, SHORT_HEADER_READS],
    },
    Firmware {
        name: "v4.4",
        family: ESP_HTTP_SERVER,
        release: "ESP-IDF v4.4",
        summary: "handler called at the handshake (\"Handshake done\"); /ws only; exact \"Trigger async\" (an empty TEXT frame crashes the example); no CLOSE reply; PONG desync (esp-idf#18227)",
        ready: READY_V4,
        port: 80,
        ws_path: "/ws",
        known_bugs: &[
            NO_CLOSE_REPLY,
            PONG_DESYNC,
            SHORT_HEADER_READS,
            GET_BRANCH,
            STRCMP_NULL,
        ],
    },
    Firmware {
        name: "v5.5.2",
        family: ESP_HTTP_SERVER,
        release: "ESP-IDF v5.5.2",
        summary: "handler called at the handshake (\"Handshake done\"); /auth with the pre-handshake callback only; exact \"Trigger async\"; PONG desync (esp-idf#18227), negative recv taken as success (esp-idf#18483), recv()==0 not an error (esp-idf#17822)",
        ready: READY_V5,
        port: 80,
        ws_path: "/ws",
        known_bugs: &[PONG_DESYNC, GET_BRANCH, RECV_ZERO, SIGNED_COMPARE],
    },
    Firmware {
        name: "master",
        family: ESP_HTTP_SERVER,
        release: "ESP-IDF master (102122904ad)",
        summary: "as v5.5.5, plus /ws_partial (64-byte chunked echo), 400/426 answers to bad handshakes, exact-length key and version",
        ready: READY_V5,
        port: 80,
        ws_path: "/ws",
        known_bugs: &[],
    },
    Firmware {
        name: "master-strict",
        family: ESP_HTTP_SERVER,
        release: "ESP-IDF master (102122904ad)",
        summary: "master with CONFIG_HTTPD_WS_STRICTER_RFC6455=y: Host required, the key must be base64 of 16 bytes, WebSocket needs HTTP/1.1",
        ready: READY_V5,
        port: 80,
        ws_path: "/ws",
        known_bugs: &[],
    },
    Firmware {
        name: NODEMCU,
        family: NODEMCU_HTTPD,
        release: "NodeMCU dev-esp32 + PR #3514 (affed3f8) on ESP-IDF v5.0.2",
        summary: "Lua httpd.websocket() routes running the module documentation's example (/echo, /beat) or a script of your own; empty frames close, fragments cut to the first, ws:close() without a CLOSE frame, PONG desync",
        ready: READY_NODEMCU,
        port: 80,
        ws_path: "/echo",
        known_bugs: &[],
    },
    Firmware {
        name: "nodemcu-pr3514-probe",
        family: NODEMCU_HTTPD,
        release: "NodeMCU dev-esp32 + PR #3514 (affed3f8) on ESP-IDF v5.0.2",
        summary: "the same firmware with esp-ws's probe script as init.lua: /probe prints what Lua sees (req.method 1235, callbacks, close rules, tracebacks), /fail raises in its handler",
        ready: READY_NODEMCU,
        port: 80,
        ws_path: "/probe",
        known_bugs: &[],
    },
    Firmware {
        name: "nodemcu-pr3514-stop",
        family: NODEMCU_HTTPD,
        release: "NodeMCU dev-esp32 + PR #3514 (affed3f8) on ESP-IDF v5.0.2",
        summary: "the same firmware with a script whose /echo calls httpd.stop() on \"stop\": with the session open, the Lua and httpd tasks wait for each other for ever",
        ready: READY_NODEMCU,
        port: 80,
        ws_path: "/echo",
        known_bugs: &[NODEMCU_STOP_DEADLOCK],
    },
    Firmware {
        name: NETCONN,
        family: LWIP_NETCONN,
        release: "HX \"Chapter 18\" netconn server (58f2119b) on ESP-IDF v3.0",
        summary: "port 9998, one client at a time, any request with Sec-WebSocket-Key: gets a 130-byte 101, TEXT of up to 125 bytes echoed (ON/OFF switch GPIO2), no PONG, no CLOSE reply",
        ready: READY_NETCONN,
        port: 9998,
        ws_path: "/",
        known_bugs: &[],
    },
    Firmware {
        name: ESP_WEBSOCKET_CLIENT_DEFAULT,
        family: ESP_WEBSOCKET_CLIENT,
        release: "esp_websocket_client 1.8.0 (esp-protocols) on ESP-IDF v5.5.5",
        summary: "the component's example app dialling out: a TEXT, a fragmented TEXT and BINARY, keep-alive PINGs every 10 s, reconnect after 10 s, destroy about 3 s after connecting",
        ready: READY_ESP_WEBSOCKET_CLIENT,
        // A QEMU or board build of the example is configured with
        // CONFIG_WEBSOCKET_URI; esp-ws listens there on this port by
        // default (the recorded sessions used 18080).
        port: 18080,
        ws_path: "/",
        known_bugs: &[],
    },
    Firmware {
        name: NODEMCU_CLIENT,
        family: NODEMCU_WEBSOCKET_CLIENT,
        release: "NodeMCU release (36cbf9f0, Lua 5.3) websocket module on the ESP8266 NONOS SDK 3.0",
        summary: "the module documentation's example script dialling out: health-check PINGs, close statuses as numbers, the first fragment of a message lost",
        ready: READY_NODEMCU_CLIENT,
        // The module documentation's example dials ws://echo.websocket.org
        // (port 80); a script at a desk names its own port.
        port: 8080,
        ws_path: "/",
        known_bugs: &[],
    },
];

const PONG_DESYNC: &str = "esp-idf#18227";
const SHORT_HEADER_READS: &str = "esp-idf#15235";
const RECV_ZERO: &str = "esp-idf#17822";
const SIGNED_COMPARE: &str = "esp-idf#18483";
const NO_CLOSE_REPLY: &str = "esp-idf b9b1a7aba8c";
const GET_BRANCH: &str = "ws_echo_server GET branch";
const STRCMP_NULL: &str = "ws_echo_server strcmp(NULL)";
const NODEMCU_STOP_DEADLOCK: &str = "nodemcu httpd.stop deadlock";

static KNOWN_BUGS: &[KnownBug] = &[
    KnownBug {
        id: NODEMCU_STOP_DEADLOCK,
        title: "httpd.stop() with a WebSocket session open: the httpd task waits for Lua to free the session's ws object while Lua waits for httpd to stop (NodeMCU PR #3514, inferred)",
    },
    KnownBug {
        id: PONG_DESYNC,
        title: "a PONG is not handed to the handler and its bytes after the first stay unread: the next read starts inside it",
    },
    KnownBug {
        id: SHORT_HEADER_READS,
        title: "each WebSocket header field is one recv(): a field split across TCP segments is read short",
    },
    KnownBug {
        id: RECV_ZERO,
        title: "recv() == 0 (the peer's FIN) is not an error in the blocking header read",
    },
    KnownBug {
        id: SIGNED_COMPARE,
        title: "a failed recv() is compared as int < size_t and taken as success",
    },
    KnownBug {
        id: NO_CLOSE_REPLY,
        title: "CLOSE is not answered and the rest of its frame stays unread (answered since b9b1a7aba8c: v4.4.2, v5.0)",
    },
    KnownBug {
        id: GET_BRANCH,
        title: "the example takes any GET for the handshake (`Handshake done`, v4.4 … v5.5.4)",
    },
    KnownBug {
        id: STRCMP_NULL,
        title: "an empty TEXT frame leaves the payload NULL and the example strcmp()s it (fixed in v5.4.3, v5.5.2)",
    },
];

/// Every family.
pub fn families() -> &'static [Family] {
    FAMILIES
}

/// The firmware profiles that serve WebSocket (what `esp-ws conform` and
/// client-role scenarios test).
pub fn servers() -> impl Iterator<Item = &'static Firmware> {
    FIRMWARES.iter().filter(|f| f.role() == Role::Server)
}

/// Every firmware profile, the default first.
pub fn firmwares() -> &'static [Firmware] {
    FIRMWARES
}

/// Every known bug.
pub fn known_bugs() -> &'static [KnownBug] {
    KNOWN_BUGS
}

/// A profile by name.
pub fn find(name: &str) -> Option<&'static Firmware> {
    FIRMWARES.iter().find(|f| f.name == name)
}

/// A family by name.
pub fn family(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}

/// A known bug by id.
pub fn known_bug(id: &str) -> Option<&'static KnownBug> {
    KNOWN_BUGS.iter().find(|b| b.id == id)
}

/// The default profile.
pub fn default_firmware() -> &'static Firmware {
    find(DEFAULT).expect("the default profile is in the catalogue")
}

/// Every profile name, comma-separated (for messages).
pub fn names() -> String {
    FIRMWARES
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The profile name closest to a misspelt one, if one is close enough to
/// be what was meant.
pub fn suggest(name: &str) -> Option<&'static str> {
    // The fewest edits wins; on a tie, the profile listed first (the default
    // is first).
    let allowed = (name.chars().count() / 3).max(1);
    FIRMWARES
        .iter()
        .map(|f| (strsim::damerau_levenshtein(name, f.name), f.name))
        .filter(|(edits, _)| *edits <= allowed)
        .min_by_key(|(edits, _)| *edits)
        .map(|(_, n)| n)
}

/// "unknown firmware profile …" with a suggestion and the known names: the
/// one wording of that mistake, wherever a profile name is read.
pub fn unknown_message(name: &str) -> String {
    let hint = suggest(name)
        .map(|s| format!(" (did you mean {s:?}?)"))
        .unwrap_or_default();
    format!(
        "unknown firmware profile {name:?}{hint}; known: {}",
        names()
    )
}

impl Firmware {
    pub fn family(&self) -> &'static Family {
        family(self.family).expect("every firmware's family is in the catalogue")
    }

    /// The suffix of its snapshots (`name@suffix.snap`): none for the
    /// family's default profile, so that every target of that firmware
    /// shares its snapshots.
    pub fn snapshot_suffix(&self) -> Option<&'static str> {
        (self.family().default_firmware != self.name).then_some(self.name)
    }

    /// Which side the firmware plays: its family's role.
    pub fn role(&self) -> Role {
        self.family().role
    }

    pub fn has_known_bug(&self, id: &str) -> bool {
        self.known_bugs.contains(&id)
    }
}

impl Family {
    /// Its profiles, in catalogue order.
    pub fn firmwares(&self) -> impl Iterator<Item = &'static Firmware> + use<> {
        let name = self.name;
        FIRMWARES.iter().filter(move |f| f.family == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_families_resolve() {
        let mut seen = std::collections::HashSet::new();
        for f in firmwares() {
            assert!(seen.insert(f.name), "{} is listed twice", f.name);
            assert!(family(f.family).is_some(), "{}: unknown family", f.name);
            assert!(!f.ready.is_empty(), "{}: no ready lines", f.name);
            for b in f.known_bugs {
                assert!(known_bug(b).is_some(), "{}: unknown bug {b}", f.name);
            }
        }
        for fam in families() {
            let d = find(fam.default_firmware).expect("default exists");
            assert_eq!(d.family, fam.name);
        }
        assert_eq!(firmwares()[0].name, DEFAULT);
    }

    #[test]
    fn client_profiles_come_last_in_the_fixed_order() {
        let names: Vec<&str> = firmwares().iter().map(|f| f.name).collect();
        assert_eq!(
            &names[names.len() - 2..],
            ["esp-websocket-client-1.8.0", "nodemcu-websocket-client"]
        );
        for name in ["esp-websocket-client-1.8.0", "nodemcu-websocket-client"] {
            assert_eq!(find(name).unwrap().role(), Role::Client, "{name}");
            assert_eq!(find(name).unwrap().snapshot_suffix(), None, "{name}");
        }
        assert!(servers().all(|f| f.role() == Role::Server));
        assert_eq!(servers().count(), firmwares().len() - 2);
    }

    #[test]
    fn every_known_bug_is_carried_by_some_firmware() {
        for b in known_bugs() {
            assert!(
                firmwares().iter().any(|f| f.has_known_bug(b.id)),
                "{} is carried by no firmware",
                b.id
            );
        }
    }

    #[test]
    fn a_misspelt_name_gets_a_suggestion() {
        assert_eq!(suggest("v5.5.6"), Some("v5.5.5"));
        assert_eq!(suggest("mastr"), Some("master"));
        assert_eq!(suggest("nodemcu"), None);
        let m = unknown_message("v5.5.6");
        assert!(m.contains("did you mean \"v5.5.5\"?"), "{m}");
        assert!(m.contains("known: v5.5.5, v4.2"), "{m}");
    }

    #[test]
    fn only_non_default_profiles_have_a_snapshot_suffix() {
        assert_eq!(find("v5.5.5").unwrap().snapshot_suffix(), None);
        assert_eq!(find("v4.2").unwrap().snapshot_suffix(), Some("v4.2"));
    }
}
