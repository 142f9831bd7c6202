//! An executable model of ESP32 firmware built on ESP-IDF (today
//! `esp_http_server`'s WebSocket support and the `ws_echo_server` example),
//! as it behaves and logs on the chip: quirks and known bugs included.
//! Where RFC 6455 and esp_http_server disagree, this does what
//! esp_http_server does.
//!
//! The model is layered as the C code is:
//!
//! - [`chip`]: the ESP32 as software sees it (power, reset, ROM, UART0,
//!   tasks, heap, panic). It names nothing above it.
//! - [`idf`]: ESP-IDF's components (lwIP, http_parser, esp_http_server,
//!   esp_system, protocol_examples_common) and what differs between its
//!   releases. They name no firmware.
//! - [`firmware`]: the applications, one folder each.
//! - [`profile`]: a name, an ESP-IDF release and a firmware.
//!
//! Each layer calls down, or through callbacks it registered. This file is
//! the assembly a host powers on ([`Simulator`]).
//!
//! The model does no I/O of its own. A host feeds [`Lwip`] with TCP
//! connections and bytes and receives what the firmware sends through a
//! [`Wire`]; the serial console goes to a [`SerialSink`]. Every log line the
//! model prints is one that ESP-IDF prints, and the code names the C
//! function it comes from.

pub mod chip;
pub mod firmware;
pub mod idf;
pub mod profile;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use chip::UartRx;
pub use chip::console;
pub use console::{Level, SerialSink};
pub use firmware::Fault;
pub use idf::lwip::{ConnId, Lwip, Rest, Wire};
pub use idf::protocol_examples_common::{NetIdentity, Network};
pub use profile::Profile;

use console::{Clock, TickClock};
use idf::esp_system;
use idf::lwip::LwipConfig;

/// What a host chooses when it powers the simulated board on.
#[derive(Clone)]
pub struct SimConfig {
    pub profile: Arc<Profile>,
    /// CONFIG_LOG_DEFAULT_LEVEL.
    pub log_level: Level,
    /// CONFIG_LOG_COLORS.
    pub log_colors: bool,
    pub net: NetIdentity,
    /// Overrides the tick clock (deterministic tests).
    pub clock: Option<Arc<dyn Clock>>,
    pub fault: Option<Fault>,
    /// A script for a firmware that runs one (NodeMCU's `init.lua`).
    pub script: Option<Vec<u8>>,
    /// What the chip does after a panic. ESP-IDF's default,
    /// CONFIG_ESP_SYSTEM_PANIC_PRINT_REBOOT, restarts it (false: it stays
    /// halted, which is what QEMU's `-no-reboot` shows a harness).
    pub reboot_on_panic: bool,
    /// How example_connect() reaches the network.
    pub network: Network,
    /// UART0's receive side: what the host types into the console.
    pub uart_rx: Arc<UartRx>,
    /// For a firmware that dials out: the server's URI, built in as its
    /// CONFIG_WEBSOCKET_URI.
    pub uri: Option<String>,
    /// For a firmware that dials out: delays the example's final
    /// `esp_websocket_client_destroy()` to this long after boot (`None`:
    /// as shipped).
    pub destroy_after: Option<Duration>,
    /// Seeds the chip's random number generator (`esp_random()`: keys,
    /// masks), so that a test sees the same ones every run.
    pub random_seed: Option<u64>,
}

impl SimConfig {
    pub fn new(profile: Arc<Profile>) -> Self {
        SimConfig {
            log_colors: profile.idf.log_colors_default,
            profile,
            log_level: Level::Info,
            net: NetIdentity::default(),
            clock: None,
            fault: None,
            script: None,
            reboot_on_panic: true,
            network: Network::Ethernet,
            uart_rx: Arc::default(),
            uri: None,
            destroy_after: None,
            random_seed: None,
        }
    }
}

/// What is in flash: ESP-IDF's start-up, linked with the firmware's
/// `app_main()`.
struct Flash {
    idf: Arc<idf::Release>,
    firmware: Arc<dyn firmware::Firmware>,
    lwip: Arc<Lwip>,
    net: NetIdentity,
    network: Network,
}

impl chip::Software for Flash {
    fn main_task(&self, chip: &chip::Services) {
        esp_system::main_task(chip.console(), self.idf.startup, || {
            self.firmware.app_main(&firmware::Context {
                chip,
                idf: &self.idf,
                lwip: &self.lwip,
                net: &self.net,
                network: self.network,
            })
        });
    }
}

/// A powered-on board: the chip, its flash, its network. Dropping it powers
/// it off.
pub struct Simulator {
    chip: chip::Chip,
    lwip: Arc<Lwip>,
}

impl Simulator {
    /// Powers the chip on: it boots and runs the application, and after a
    /// panic boots again (unless told not to). Returns at once, as the
    /// chip starts booting; [`Simulator::wait_booted`] waits for `app_main`
    /// to return, as a harness waits for its log line.
    pub fn power_on(cfg: SimConfig, serial: SerialSink, wire: Arc<dyn Wire>) -> Simulator {
        let idf = cfg.profile.idf.clone();
        let clock = cfg
            .clock
            .clone()
            .unwrap_or_else(|| Arc::new(TickClock::new(idf.tick_hz)));
        let mut chip = chip::Chip::new(
            chip::Config {
                log_level: cfg.log_level,
                log_colors: cfg.log_colors,
                clock,
                reboot_on_panic: cfg.reboot_on_panic,
                uart_rx: cfg.uart_rx.clone(),
                random_seed: cfg.random_seed,
                rom: cfg.profile.firmware.rom,
            },
            serial,
        );
        let lwip = Arc::new(Lwip::new(
            LwipConfig {
                socket_offset: 64 - idf.lwip_max_sockets as i32,
                max_sockets: idf.lwip_max_sockets,
                udp_recvmbox_size: idf.udp_recvmbox_size,
            },
            wire,
        ));
        lwip.attach(&chip);
        chip.power_on(Arc::new(Flash {
            firmware: cfg.profile.firmware.build(&firmware::Options {
                fault: cfg.fault.clone(),
                script: cfg.script.clone(),
                uri: cfg.uri.clone(),
                destroy_after: cfg.destroy_after,
            }),
            idf,
            lwip: lwip.clone(),
            net: cfg.net,
            network: cfg.network,
        }));
        Simulator { chip, lwip }
    }

    pub fn lwip(&self) -> Arc<Lwip> {
        self.lwip.clone()
    }

    /// Waits until `app_main` of the current boot has returned (false on
    /// timeout, or if the chip is halted for good).
    pub fn wait_booted(&self, timeout: Duration) -> bool {
        self.chip.wait_booted(timeout)
    }

    /// How many times the chip has booted (1 after power-on, one more per
    /// panic reboot).
    pub fn boots(&self) -> u32 {
        self.chip.services().boots()
    }

    /// True while a panic has the chip halted: until it has rebooted and
    /// run `app_main` again, or for good when it does not reboot.
    pub fn crashed(&self) -> bool {
        self.chip.services().crashed()
    }

    /// True once the chip has halted for good (a panic, no reboot).
    pub fn halted(&self) -> bool {
        self.chip.services().halted()
    }

    /// Waits until the firmware has nothing left to do (the task that
    /// serves the network is blocked waiting for it with nothing to read,
    /// and no work is in flight between tasks: no queue item being handled,
    /// no timer armed). A chip that is rebooting first finishes booting.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        (self.idle_waiter(Rest::Idle))(timeout)
    }

    /// [`Simulator::wait_idle`] as a function that owns what it needs (for
    /// a blocking task of an async host); with [`Rest::AwaitingInput`] a
    /// task blocked in a read with a receive timeout counts as at rest.
    pub fn idle_waiter(&self, rest: Rest) -> impl Fn(Duration) -> bool + Send + 'static {
        let chip = self.chip.services();
        let lwip = self.lwip.clone();
        let rest_kind = rest;
        move |timeout| {
            let deadline = Instant::now() + timeout;
            let rest = || deadline.saturating_duration_since(Instant::now());
            loop {
                // A booting or rebooting chip first finishes booting; a
                // chip halted for good has nothing more to do.
                if !chip.wait_up(rest()) {
                    return false;
                }
                if chip.stopped() {
                    return true;
                }
                if !lwip.wait_idle(rest(), rest_kind) {
                    return false;
                }
                // The network side is at rest; so must be the work the
                // tasks hand one another (queue items, armed timers). Both
                // are read again afterwards: work done meanwhile may have
                // sent something, or handed more work on.
                let Some(net) = lwip.idle_mark(rest_kind) else {
                    continue;
                };
                if !chip.wait_quiet(rest()) {
                    return false;
                }
                // A task in a timed wait (a delay, a reconnect wait) does
                // something when its time is up: at rest only for a host
                // that lets time run (`Rest::AwaitingInput`).
                let quiet = || match rest_kind {
                    Rest::Idle => chip.quiet_untimed(),
                    Rest::AwaitingInput => chip.quiet(),
                };
                // None: work was handed over again already (or the chip
                // stopped: the loop's start looks at that).
                let Some(work) = quiet() else {
                    if rest_kind == Rest::Idle && chip.quiet().is_some() {
                        // Only timed waits are left: they end by themselves.
                        std::thread::sleep(Duration::from_millis(2).min(rest()));
                    }
                    continue;
                };
                if lwip.idle_mark(rest_kind) != Some(net) || quiet() != Some(work) {
                    continue;
                }
                // Idle, or halted by a panic meanwhile: then wait for what
                // the chip does next.
                if !chip.panicking() {
                    return true;
                }
            }
        }
    }

    /// The level the firmware last drove a GPIO output to in this boot.
    pub fn gpio_level(&self, pin: u32) -> Option<u32> {
        self.chip.services().gpio_level(pin)
    }

    /// Cuts the power: nothing more is printed, every task stops.
    pub fn power_off(&mut self) {
        self.chip.power_off();
    }
}
