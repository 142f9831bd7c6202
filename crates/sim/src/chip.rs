//! The simulated chip: power-on, the application's `app_main`, and the
//! httpd task, each on its own thread as FreeRTOS runs them as tasks.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::console::{Clock, Console, Level, SerialSink, TickClock};
use crate::httpd::{Httpd, HttpdConfig};
use crate::lwip::{Lwip, LwipConfig, Wire};
use crate::profile::Profile;
use crate::{app, log};

/// The address esp_event prints for the default event loop (`posted to loop
/// %p`). It is a heap pointer that differs per build and per run; the value
/// only has to look like an ESP32 DRAM address, and snapshots normalise it.
pub const DEFAULT_EVENT_LOOP_ADDR: &str = "0x3ffb9d74";

/// The network the firmware sees. The default is what Espressif's QEMU
/// gives a firmware built with the OpenCores Ethernet MAC (slirp: DHCP hands
/// out 10.0.2.15/24 with the host at 10.0.2.2), which is how the example is
/// built for CI; see the QEMU fact sheet, section 4.
#[derive(Clone, Debug)]
pub struct NetIdentity {
    pub netif_desc: &'static str,
    pub ip: [u8; 4],
    pub mask: [u8; 4],
    pub gw: [u8; 4],
}

impl Default for NetIdentity {
    fn default() -> Self {
        NetIdentity {
            netif_desc: "example_netif_eth",
            ip: [10, 0, 2, 15],
            mask: [255, 255, 255, 0],
            gw: [10, 0, 2, 2],
        }
    }
}

/// Faults a test can inject (there is no ESP-IDF behaviour behind the
/// trigger; what the chip prints when it fires is ESP-IDF's).
#[derive(Clone, Debug)]
pub enum Fault {
    /// The echo handler dereferences NULL when it receives a TEXT frame
    /// with exactly this payload: a `LoadProhibited` panic.
    PanicOnMessage(Vec<u8>),
}

#[derive(Clone)]
pub struct ChipConfig {
    pub profile: Arc<Profile>,
    /// CONFIG_LOG_DEFAULT_LEVEL.
    pub log_level: Level,
    /// CONFIG_LOG_COLORS.
    pub log_colors: bool,
    pub net: NetIdentity,
    /// Overrides the tick clock (deterministic tests).
    pub clock: Option<Arc<dyn Clock>>,
    pub fault: Option<Fault>,
}

impl ChipConfig {
    pub fn new(profile: Arc<Profile>) -> Self {
        ChipConfig {
            profile,
            log_level: Level::Info,
            log_colors: false,
            net: NetIdentity::default(),
            clock: None,
            fault: None,
        }
    }
}

#[derive(Default)]
struct BootState {
    app_main_returned: bool,
    httpd_may_run: bool,
}

/// A powered-on chip. Dropping it powers it off.
pub struct Chip {
    lwip: Arc<Lwip>,
    console: Console,
    boot: Arc<(Mutex<BootState>, Condvar)>,
    threads: Vec<JoinHandle<()>>,
}

fn ip(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

impl Chip {
    /// Powers the chip on: it boots and runs the application; the returned
    /// chip is running (use [`Chip::wait_booted`] to wait for `app_main` to
    /// return, as a harness would wait for its log line).
    pub fn power_on(cfg: ChipConfig, serial: SerialSink, wire: Arc<dyn Wire>) -> Chip {
        let clock = cfg
            .clock
            .clone()
            .unwrap_or_else(|| Arc::new(TickClock::new(cfg.profile.tick_hz)));
        let console = Console::new(cfg.log_level, cfg.log_colors, clock, serial);
        let lwip = Arc::new(Lwip::new(
            LwipConfig {
                socket_offset: 64 - cfg.profile.lwip_max_sockets as i32,
                max_sockets: cfg.profile.lwip_max_sockets,
                udp_recvmbox_size: cfg.profile.udp_recvmbox_size,
            },
            wire,
        ));
        let boot = Arc::new((Mutex::new(BootState::default()), Condvar::new()));
        let httpd_thread: Arc<Mutex<Option<JoinHandle<()>>>> = Arc::new(Mutex::new(None));
        let main = {
            let console = console.clone();
            let lwip = lwip.clone();
            let boot = boot.clone();
            let httpd_thread = httpd_thread.clone();
            std::thread::Builder::new()
                .name("main_task".into())
                .spawn(move || main_task(cfg, console, lwip, boot, httpd_thread))
                .expect("spawn main_task")
        };
        let mut chip = Chip {
            lwip,
            console,
            boot,
            threads: vec![main],
        };
        // The httpd thread handle is only known once app_main started it.
        chip.wait_booted(Duration::from_secs(10));
        if let Some(h) = httpd_thread.lock().unwrap().take() {
            chip.threads.push(h);
        }
        chip
    }

    pub fn lwip(&self) -> Arc<Lwip> {
        self.lwip.clone()
    }

    /// Waits until `app_main` has returned.
    pub fn wait_booted(&self, timeout: Duration) -> bool {
        let (m, cv) = &*self.boot;
        let deadline = Instant::now() + timeout;
        let mut st = m.lock().unwrap();
        while !st.app_main_returned {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = cv.wait_timeout(st, deadline - now).unwrap().0;
        }
        true
    }

    /// True once the firmware has panicked (the chip is halted).
    pub fn crashed(&self) -> bool {
        self.lwip.is_halted() && self.console.is_muted()
    }

    /// Waits until the firmware has nothing left to do (the httpd task is
    /// blocked in select with nothing readable).
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        self.lwip.wait_idle(timeout)
    }

    /// Cuts the power: nothing more is printed, every task stops.
    pub fn power_off(&mut self) {
        self.console.mute();
        self.lwip.halt();
        {
            let (m, cv) = &*self.boot;
            m.lock().unwrap().httpd_may_run = true;
            cv.notify_all();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Chip {
    fn drop(&mut self) {
        self.power_off();
    }
}

/// components/freertos/app_startup.c `main_task()` running the example's
/// `app_main()`.
fn main_task(
    cfg: ChipConfig,
    con: Console,
    lwip: Arc<Lwip>,
    boot: Arc<(Mutex<BootState>, Condvar)>,
    httpd_thread: Arc<Mutex<Option<JoinHandle<()>>>>,
) {
    log!(con, Info, "main_task", "Started on CPU0");
    log!(con, Info, "main_task", "Calling app_main()");

    // example_connect() with CONFIG_EXAMPLE_CONNECT_ETHERNET (OpenCores MAC):
    // eth_connect.c example_ethernet_connect(), esp_netif_handlers.c
    // esp_netif_action_got_ip(), eth_connect.c eth_on_got_ip(), and
    // connect.c print_all_ips_tcpip().
    let net = &cfg.net;
    log!(con, Info, "ethernet_connect", "Waiting for IP(s).");
    log!(
        con,
        Info,
        "esp_netif_handlers",
        "{} ip: {}, mask: {}, gw: {}",
        net.netif_desc,
        ip(net.ip),
        ip(net.mask),
        ip(net.gw)
    );
    log!(
        con,
        Info,
        "ethernet_connect",
        "Got IPv4 event: Interface \"{}\" address: {}",
        net.netif_desc,
        ip(net.ip)
    );
    log!(
        con,
        Info,
        "example_common",
        "Connected to {}",
        net.netif_desc
    );
    log!(
        con,
        Info,
        "example_common",
        "- IPv4 address: {},",
        ip(net.ip)
    );

    // start_webserver()
    let config = HttpdConfig::default_for(&cfg.profile);
    log!(
        con,
        Info,
        app::TAG,
        "Starting server on port: '{}'",
        config.server_port
    );
    match Httpd::start(cfg.profile.clone(), con.clone(), lwip.clone(), config) {
        Ok(mut hd) => {
            hd.fault = cfg.fault.clone();
            let table = hd.uri_table();
            let task_boot = boot.clone();
            let handle = std::thread::Builder::new()
                .name("httpd".into())
                .spawn(move || {
                    // The httpd task's first lines come after the app's
                    // "Registering URI handlers" in the documented output
                    // (the README's Example Output), so it waits for that.
                    {
                        let (m, cv) = &*task_boot;
                        let mut st = m.lock().unwrap();
                        while !st.httpd_may_run {
                            st = cv.wait(st).unwrap();
                        }
                    }
                    hd.thread_started();
                    hd.run();
                })
                .expect("spawn httpd task");
            *httpd_thread.lock().unwrap() = Some(handle);
            log!(con, Info, app::TAG, "Registering URI handlers");
            {
                let (m, cv) = &*boot;
                m.lock().unwrap().httpd_may_run = true;
                cv.notify_all();
            }
            // Let the httpd task reach its first select, then register.
            lwip.wait_idle(Duration::from_secs(5));
            for h in app::uri_handlers(&cfg.profile) {
                table.httpd_register_uri_handler(h);
            }
        }
        Err(_) => {
            log!(con, Info, app::TAG, "Error starting server!");
        }
    }
    log!(con, Info, "main_task", "Returned from app_main()");
    let (m, cv) = &*boot;
    m.lock().unwrap().app_main_returned = true;
    cv.notify_all();
}

/// ESP-IDF's panic handler (components/esp_system/panic.c
/// `esp_panic_handler`): the "Guru Meditation Error" line, then the chip
/// resets. The register dump and backtrace that follow on a real chip
/// depend on the build (addresses, ELF hash), so the model prints none of
/// them. With no reboot configured (the harness's `-no-reboot` view), the
/// chip halts: every task stops and nothing more is printed.
pub fn panic(con: &Console, lwip: &Lwip, core: u32, reason: &str, description: &str) {
    con.print_raw(
        format!("Guru Meditation Error: Core  {core} panic'ed ({reason}). {description}\r\n\r\n")
            .as_bytes(),
    );
    con.print_raw(b"Rebooting...\r\n");
    con.mute();
    lwip.halt();
}
