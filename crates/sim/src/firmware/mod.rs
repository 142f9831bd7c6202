//! Firmware models: the applications that ESP-IDF's start-up runs as
//! `app_main()`, each in a folder of its own, on top of the chip and
//! ESP-IDF's components. A firmware registers with the components it uses
//! (handlers with esp_http_server, say) and calls the chip's services
//! (calloc, the panic handler); nothing below names it.

pub mod netconn_websocket;
pub mod nodemcu;
pub mod nodemcu_esp8266;
pub mod websocket_client_example;
pub mod ws_echo_server;

use std::fmt;
use std::sync::Arc;

use crate::chip::Services;
use crate::idf::Release;
use crate::idf::lwip::Lwip;
use crate::idf::protocol_examples_common::{NetIdentity, Network};

/// What `app_main()` can reach.
pub struct Context<'a> {
    /// The chip: console, UART receive (`stdin`), tasks, calloc, panic.
    pub chip: &'a Services,
    /// The ESP-IDF release the firmware was built with.
    pub idf: &'a Arc<Release>,
    /// The network stack.
    pub lwip: &'a Arc<Lwip>,
    /// The address the network gives the board.
    pub net: &'a NetIdentity,
    /// How the board is connected (protocol_examples_common's choice).
    pub network: Network,
}

/// A firmware: its `app_main()`, which ESP-IDF's main task calls after
/// every reset.
pub trait Firmware: Send + Sync {
    fn app_main(&self, ctx: &Context<'_>);
}

/// Faults a host can ask the firmware to inject (there is no ESP-IDF
/// behaviour behind the trigger; what the chip prints when it fires is
/// ESP-IDF's). A firmware takes those it models as options of its own.
#[derive(Clone, Debug)]
pub enum Fault {
    /// A NULL dereference when the firmware receives a TEXT message with
    /// exactly this payload: a `LoadProhibited` panic.
    PanicOnMessage(Vec<u8>),
}

/// What a host chooses for the firmware at power-on; each firmware takes
/// what it models and ignores the rest.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub fault: Option<Fault>,
    /// A script the firmware runs (NodeMCU's `init.lua`), instead of its
    /// default one.
    pub script: Option<Vec<u8>>,
    /// The server a firmware that dials out connects to (its
    /// CONFIG_WEBSOCKET_URI).
    pub uri: Option<String>,
    /// When the example destroys its client, counted from boot, instead
    /// of as shipped.
    pub destroy_after: Option<std::time::Duration>,
}

type Build = dyn Fn(&Options) -> Arc<dyn Firmware> + Send + Sync;

/// A firmware as a profile names it: which one, built from which release
/// of its sources, made for one power-on with the host's options.
#[derive(Clone)]
pub struct Spec {
    /// The firmware's folder under `firmware/`.
    pub name: &'static str,
    /// It runs a script a host may give ([`Options::script`]).
    pub runs_scripts: bool,
    /// It dials out to a server ([`Options::uri`]) rather than serving.
    pub dials_out: bool,
    /// The chip's mask ROM it is flashed behind (ESP-IDF firmware: the
    /// ESP32's; NodeMCU's ESP8266 firmware: the ESP8266's).
    pub rom: crate::chip::Rom,
    build: Arc<Build>,
}

impl Spec {
    pub fn new(
        name: &'static str,
        build: impl Fn(&Options) -> Arc<dyn Firmware> + Send + Sync + 'static,
    ) -> Spec {
        Spec {
            name,
            runs_scripts: false,
            dials_out: false,
            rom: crate::chip::Rom::Esp32,
            build: Arc::new(build),
        }
    }

    /// The same firmware, taking a host's script.
    pub fn running_scripts(self) -> Spec {
        Spec {
            runs_scripts: true,
            ..self
        }
    }

    /// The same firmware, dialing out to the host's URI.
    pub fn dialing_out(self) -> Spec {
        Spec {
            dials_out: true,
            ..self
        }
    }

    /// The same firmware, for the ESP8266 (see [`crate::chip::Rom`]).
    pub fn on_esp8266(self) -> Spec {
        Spec {
            rom: crate::chip::Rom::Esp8266,
            ..self
        }
    }

    /// The firmware to flash, with the host's options.
    pub fn build(&self, options: &Options) -> Arc<dyn Firmware> {
        (self.build)(options)
    }
}

impl fmt::Debug for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spec").field("name", &self.name).finish()
    }
}
