//! The simulated chip: power-on, the application's `app_main`, and the
//! httpd task, each on its own thread as FreeRTOS runs them as tasks.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::console::{Clock, Console, Level, SerialSink, TickClock};
use crate::httpd::{Httpd, HttpdConfig};
use crate::lwip::{Lwip, LwipConfig, Wire};
use crate::profile::{Profile, Startup};
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
    pub ip: [u8; 4],
    pub mask: [u8; 4],
    pub gw: [u8; 4],
    /// The MAC address QEMU gives its NIC and writes into the OpenCores
    /// MAC's registers (QEMU's default, 52:54:00:12:34:56, in Espressif's
    /// QEMU builds from esp-develop-9.2.2-20250228), which v5.x drivers use.
    pub nic_mac: [u8; 6],
}

impl Default for NetIdentity {
    fn default() -> Self {
        NetIdentity {
            ip: [10, 0, 2, 15],
            mask: [255, 255, 255, 0],
            gw: [10, 0, 2, 2],
            nic_mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
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
    /// What the chip does after a panic. ESP-IDF's default,
    /// CONFIG_ESP_SYSTEM_PANIC_PRINT_REBOOT, restarts it (false: it stays
    /// halted, which is what QEMU's `-no-reboot` shows a harness).
    pub reboot_on_panic: bool,
    /// How example_connect() reaches the network.
    pub network: Network,
    /// UART0's receive side: what the host types into the console.
    pub uart_rx: Arc<UartRx>,
}

/// The example's connection (protocol_examples_common), as configured.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Network {
    /// CONFIG_EXAMPLE_CONNECT_ETHERNET with the OpenCores MAC: the build
    /// for Espressif's QEMU (`fixtures/qemu/sdkconfig.qemu`).
    #[default]
    Ethernet,
    /// CONFIG_EXAMPLE_CONNECT_WIFI: a board. With
    /// `credentials_from_stdin` (CONFIG_EXAMPLE_WIFI_SSID_PWD_FROM_STDIN,
    /// which ESP-IDF's CI builds use) the firmware asks for the SSID and
    /// password on the console and waits for them.
    Wifi { credentials_from_stdin: bool },
}

/// Bytes the host sends to the chip's UART, read a line at a time by the
/// firmware (`fgets(buf, n, stdin)`).
#[derive(Default)]
pub struct UartRx {
    state: Mutex<(Vec<u8>, bool)>,
    cv: Condvar,
}

impl UartRx {
    pub fn push(&self, bytes: &[u8]) {
        self.state.lock().unwrap().0.extend_from_slice(bytes);
        self.cv.notify_all();
    }

    /// Wakes every reader for good (power-off).
    fn close(&self) {
        self.state.lock().unwrap().1 = true;
        self.cv.notify_all();
    }

    fn reopen(&self) {
        self.state.lock().unwrap().1 = false;
    }

    /// The next line (without its newline), or None once closed.
    fn read_line(&self) -> Option<Vec<u8>> {
        let mut st = self.state.lock().unwrap();
        loop {
            if let Some(i) = st.0.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = st.0.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Some(line);
            }
            if st.1 {
                return None;
            }
            st = self.cv.wait(st).unwrap();
        }
    }
}

impl ChipConfig {
    pub fn new(profile: Arc<Profile>) -> Self {
        ChipConfig {
            log_colors: profile.log_colors_default,
            profile,
            log_level: Level::Info,
            net: NetIdentity::default(),
            clock: None,
            fault: None,
            reboot_on_panic: true,
            network: Network::Ethernet,
            uart_rx: Arc::default(),
        }
    }
}

/// Why the CPU last started, as the ROM prints it (`rst:0x..`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ResetReason {
    PowerOn,
    /// `esp_restart()`, which the panic handler calls after printing.
    SoftwareCpu,
}

impl ResetReason {
    /// The ESP32 ROM's name for the reason (`RESET_REASON` in the ROM's
    /// rtc.h: POWERON_RESET = 1, SW_CPU_RESET = 12).
    fn rom_text(self) -> &'static str {
        match self {
            ResetReason::PowerOn => "0x1 (POWERON_RESET)",
            ResetReason::SoftwareCpu => "0xc (SW_CPU_RESET)",
        }
    }
}

#[derive(Default)]
struct PowerState {
    /// Boots so far (1 after power-on).
    boots: u32,
    app_main_returned: bool,
    httpd_may_run: bool,
    /// The panic handler has run; the CPU is about to reset.
    panicked: bool,
    /// Halted for good after a panic (no reboot configured).
    dead: bool,
    /// The power is being cut.
    off: bool,
}

/// The chip's reset and run state, shared by its tasks: the panic handler
/// pulls the reset line, the CPU thread acts on it.
pub struct Power {
    state: Mutex<PowerState>,
    cv: Condvar,
}

impl Power {
    fn new() -> Self {
        Power {
            state: Mutex::new(PowerState::default()),
            cv: Condvar::new(),
        }
    }

    fn update(&self, f: impl FnOnce(&mut PowerState)) {
        f(&mut self.state.lock().unwrap());
        self.cv.notify_all();
    }

    /// Waits until `done` holds, at most `timeout`.
    fn wait(&self, timeout: Duration, done: impl Fn(&PowerState) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.state.lock().unwrap();
        while !done(&st) {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self.cv.wait_timeout(st, deadline - now).unwrap().0;
        }
        true
    }

    /// Waits without a deadline: only for the chip's own tasks, whose
    /// condition is always made true by power-off.
    fn wait_forever(&self, done: impl Fn(&PowerState) -> bool) {
        let mut st = self.state.lock().unwrap();
        while !done(&st) {
            st = self.cv.wait(st).unwrap();
        }
    }
}

/// A powered-on chip. Dropping it powers it off.
pub struct Chip {
    lwip: Arc<Lwip>,
    console: Console,
    uart_rx: Arc<UartRx>,
    power: Arc<Power>,
    cpu: Option<JoinHandle<()>>,
}

fn ip(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

impl Chip {
    /// Powers the chip on: it boots and runs the application, and after a
    /// panic boots again (unless told not to). Returns at once, as the
    /// chip starts booting; [`Chip::wait_booted`] waits for `app_main` to
    /// return, as a harness waits for its log line.
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
        let power = Arc::new(Power::new());
        let uart_rx = cfg.uart_rx.clone();
        let cpu = {
            let console = console.clone();
            let lwip = lwip.clone();
            let power = power.clone();
            std::thread::Builder::new()
                .name("cpu".into())
                .spawn(move || cpu(cfg, console, lwip, power))
                .expect("spawn the cpu thread")
        };
        Chip {
            lwip,
            console,
            uart_rx,
            power,
            cpu: Some(cpu),
        }
    }

    pub fn lwip(&self) -> Arc<Lwip> {
        self.lwip.clone()
    }

    /// Waits until `app_main` of the current boot has returned (false on
    /// timeout, or if the chip is halted for good).
    pub fn wait_booted(&self, timeout: Duration) -> bool {
        self.power
            .wait(timeout, |st| st.app_main_returned || st.dead || st.off);
        let st = self.power.state.lock().unwrap();
        st.app_main_returned && !st.panicked
    }

    /// How many times the chip has booted (1 after power-on, one more per
    /// panic reboot).
    pub fn boots(&self) -> u32 {
        self.power.state.lock().unwrap().boots
    }

    /// True while a panic has the chip halted: until it has rebooted and
    /// run `app_main` again, or for good when it does not reboot.
    pub fn crashed(&self) -> bool {
        let st = self.power.state.lock().unwrap();
        st.panicked || st.dead
    }

    /// True once the chip has halted for good (a panic, no reboot).
    pub fn halted(&self) -> bool {
        self.power.state.lock().unwrap().dead
    }

    /// Waits until the firmware has nothing left to do (the httpd task is
    /// blocked in select with nothing readable). A chip that is rebooting
    /// first finishes booting.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        (self.idle_waiter())(timeout)
    }

    /// [`Chip::wait_idle`] as a function that owns what it needs (for a
    /// blocking task of an async host).
    pub fn idle_waiter(&self) -> impl Fn(Duration) -> bool + Send + 'static {
        let power = self.power.clone();
        let lwip = self.lwip.clone();
        move |timeout| {
            let deadline = Instant::now() + timeout;
            let rest = || deadline.saturating_duration_since(Instant::now());
            loop {
                // A booting or rebooting chip first finishes booting; a
                // chip halted for good has nothing more to do.
                if !power.wait(rest(), |st| {
                    (st.app_main_returned && !st.panicked) || st.dead || st.off
                }) {
                    return false;
                }
                if power.state.lock().map(|st| st.dead || st.off).unwrap() {
                    return true;
                }
                if !lwip.wait_idle(rest()) {
                    return false;
                }
                // Idle, or halted by a panic meanwhile: then wait for what
                // the chip does next.
                if !power.state.lock().unwrap().panicked {
                    return true;
                }
            }
        }
    }

    /// Cuts the power: nothing more is printed, every task stops.
    pub fn power_off(&mut self) {
        self.console.mute();
        self.power.update(|st| st.off = true);
        self.lwip.halt();
        self.uart_rx.close();
        if let Some(t) = self.cpu.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Chip {
    fn drop(&mut self) {
        self.power_off();
    }
}

/// The CPU from reset to reset: the ROM, then the application's tasks until
/// a panic resets the chip (ESP-IDF's default panic behaviour,
/// `esp_panic_handler` → `esp_restart`) or the power goes.
fn cpu(cfg: ChipConfig, con: Console, lwip: Arc<Lwip>, power: Arc<Power>) {
    let mut reason = ResetReason::PowerOn;
    loop {
        power.update(|st| {
            st.boots += 1;
            st.app_main_returned = false;
            st.httpd_may_run = false;
            st.panicked = false;
        });
        rom_banner(&con, reason);
        cfg.uart_rx.reopen();
        let httpd_thread: Arc<Mutex<Option<JoinHandle<()>>>> = Arc::new(Mutex::new(None));
        let main = {
            let cfg = cfg.clone();
            let con = con.clone();
            let lwip = lwip.clone();
            let power = power.clone();
            let httpd_thread = httpd_thread.clone();
            std::thread::Builder::new()
                .name("main_task".into())
                .spawn(move || main_task(cfg, con, lwip, power, httpd_thread))
                .expect("spawn main_task")
        };
        power.wait_forever(|st| st.panicked || st.off);
        // Every task has stopped: lwIP is halted, so blocked calls return
        // and each task runs to its end (printing nothing: the UART is
        // muted). A task waiting for the go-ahead, or for a line on the
        // UART, is released too.
        lwip.halt();
        cfg.uart_rx.close();
        power.update(|st| st.httpd_may_run = true);
        let _ = main.join();
        if let Some(h) = httpd_thread.lock().unwrap().take() {
            let _ = h.join();
        }
        let off = power.state.lock().unwrap().off;
        if off {
            return;
        }
        if !cfg.reboot_on_panic {
            power.update(|st| st.dead = true);
            power.wait_forever(|st| st.off);
            return;
        }
        // The reset: RAM and the network stack start from nothing; peers
        // of the old connections find out from an RST.
        lwip.reset();
        con.reset();
        reason = ResetReason::SoftwareCpu;
    }
}

/// What the ESP32 (ECO3) mask ROM prints on UART0 before it loads the
/// second-stage bootloader (QEMU fact sheet, section 6). The `load:` and
/// `entry` lines that follow, and the bootloader's own lines, describe the
/// particular build (segment addresses, lengths, compile time, partition
/// table), so the model prints none of them rather than inventing values.
fn rom_banner(con: &Console, reason: ResetReason) {
    let text = format!(
        "ets Jul 29 2019 12:21:46\r\n\r\nrst:{},boot:0x12 (SPI_FAST_FLASH_BOOT)\r\nconfigsip: 0, SPIWP:0xee\r\nclk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00\r\nmode:DIO, clock div:2\r\n",
        reason.rom_text()
    );
    con.print_raw(text.as_bytes());
}

/// components/freertos/app_startup.c `main_task()` running the example's
/// `app_main()`.
fn main_task(
    cfg: ChipConfig,
    con: Console,
    lwip: Arc<Lwip>,
    power: Arc<Power>,
    httpd_thread: Arc<Mutex<Option<JoinHandle<()>>>>,
) {
    match cfg.network {
        Network::Ethernet => startup_log(&con, cfg.profile.startup, &cfg.net),
        Network::Wifi {
            credentials_from_stdin,
        } => {
            if !wifi_startup_log(&con, &cfg, credentials_from_stdin) {
                // Powered off while waiting at the prompt.
                return;
            }
        }
    }

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
            hd.power = Some(power.clone());
            let table = hd.uri_table();
            let task_power = power.clone();
            let handle = std::thread::Builder::new()
                .name("httpd".into())
                .spawn(move || {
                    // The httpd task's first lines come after the app's
                    // "Registering URI handlers" in the documented output
                    // (the README's Example Output), so it waits for that.
                    task_power.wait_forever(|st| st.httpd_may_run);
                    if task_power.state.lock().unwrap().panicked {
                        return;
                    }
                    hd.thread_started();
                    hd.run();
                })
                .expect("spawn httpd task");
            *httpd_thread.lock().unwrap() = Some(handle);
            log!(con, Info, app::TAG, "Registering URI handlers");
            power.update(|st| st.httpd_may_run = true);
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
    if cfg.profile.startup.prints_app_main_return() {
        log!(con, Info, "main_task", "Returned from app_main()");
    }
    power.update(|st| st.app_main_returned = true);
}

/// The main task up to `start_webserver()` on a board with
/// CONFIG_EXAMPLE_CONNECT_WIFI (v5.x protocol_examples_common:
/// wifi_connect.c `example_wifi_connect()`, `example_wifi_sta_do_connect()`,
/// `example_handler_on_sta_got_ip()`; connect.c `print_all_ips_tcpip()`).
/// The Wi-Fi driver's and PHY's own lines (`wifi:`, `phy_init:`) come from
/// closed-source libraries and depend on the chip, its calibration and the
/// access point, so the model prints none of them. False when the power
/// went while the firmware waited for its credentials.
fn wifi_startup_log(con: &Console, cfg: &ChipConfig, credentials_from_stdin: bool) -> bool {
    let net = &cfg.net;
    log!(con, Info, "main_task", "Started on CPU0");
    log!(con, Info, "main_task", "Calling app_main()");
    log!(con, Info, "example_connect", "Start example_connect.");
    let mut ssid = Vec::new();
    if credentials_from_stdin {
        log!(con, Info, "example_connect", "Please input ssid password:");
        let Some(line) = cfg.uart_rx.read_line() else {
            return false;
        };
        // strtok_r(buf, " "): the SSID is the first word (32 bytes at most).
        ssid = line
            .split(|&b| b == b' ')
            .find(|w| !w.is_empty())
            .unwrap_or_default()
            .to_vec();
        ssid.truncate(32);
    }
    con.log(crate::console::Record {
        level: Level::Info,
        tag: "example_connect",
        message: [b"Connecting to ".as_slice(), &ssid, b"..."].concat(),
    });
    log!(con, Info, "example_connect", "Waiting for IP(s)");
    got_ip_log(
        con,
        net,
        "example_netif_sta",
        "example_connect",
        GotIpSummary::V5,
    );
    true
}

/// How `example_connect()` sums up the address it got.
enum GotIpSummary {
    /// v4.x connect.c: `example_connect` tag, no trailing comma.
    V4,
    /// v5.x connect.c `print_all_ips_tcpip()`: `example_common`, with comma.
    V5,
}

/// The lines that follow an IPv4 address: esp_netif_handlers.c
/// `esp_netif_action_got_ip()`, the example's got-IP handler (tagged
/// `got_ip_tag`), then the summary of the connection.
fn got_ip_log(
    con: &Console,
    net: &NetIdentity,
    desc: &str,
    got_ip_tag: &'static str,
    summary: GotIpSummary,
) {
    log!(
        con,
        Info,
        "esp_netif_handlers",
        "{} ip: {}, mask: {}, gw: {}",
        desc,
        ip(net.ip),
        ip(net.mask),
        ip(net.gw)
    );
    log!(
        con,
        Info,
        got_ip_tag,
        "Got IPv4 event: Interface \"{}\" address: {}",
        desc,
        ip(net.ip)
    );
    match summary {
        GotIpSummary::V4 => {
            log!(con, Info, "example_connect", "Connected to {}", desc);
            log!(
                con,
                Info,
                "example_connect",
                "- IPv4 address: {}",
                ip(net.ip)
            );
        }
        GotIpSummary::V5 => {
            log!(con, Info, "example_common", "Connected to {}", desc);
            log!(
                con,
                Info,
                "example_common",
                "- IPv4 address: {},",
                ip(net.ip)
            );
        }
    }
}

fn mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The main task up to `start_webserver()`: `app_main()`'s call of
/// `example_connect()` over the OpenCores Ethernet MAC with IPv4 only, as
/// each release prints it at INFO level. The lines before the main task
/// (second-stage bootloader, `cpu_start`, `heap_init`) describe the build
/// (project name, compile time, ELF hash, memory map) and are not printed.
fn startup_log(con: &Console, startup: Startup, net: &NetIdentity) {
    match startup {
        Startup::V4_2 | Startup::V4_4 => {
            // protocol_examples_common/connect.c: the netif description is
            // asprintf("%s: %s", TAG, "eth").
            let desc = "example_connect: eth";
            let (glue_tag, eth_mac) = if startup == Startup::V4_2 {
                // v4.2 esp_eth_mac_openeth.c:296 reads the MAC with
                // esp_read_mac(), which says where it found it
                // (esp_common/src/mac_addr.c:53, :155); with a blank eFuse
                // the Ethernet MAC is base + 3.
                log!(con, Info, "system_api", "Base MAC address is not set");
                log!(
                    con,
                    Info,
                    "system_api",
                    "read default base MAC address from EFUSE"
                );
                ("esp_eth.netif.glue", [0, 0, 0, 0, 0, 3])
            } else {
                // v4.4 connect.c:445-452 gives a non-internal MAC this one.
                ("esp_eth.netif.netif_glue", [0x02, 0, 0, 0x12, 0x34, 0x56])
            };
            // esp_eth_netif_glue.c esp_eth_post_attach()
            log!(con, Info, glue_tag, "{}", mac(eth_mac));
            log!(con, Info, glue_tag, "ethernet attached to netif");
            log!(con, Info, "example_connect", "Waiting for IP(s)");
            got_ip_log(con, net, desc, "example_connect", GotIpSummary::V4);
        }
        Startup::V5 | Startup::V5EthernetInit => {
            // components/freertos/app_startup.c main_task()
            log!(con, Info, "main_task", "Started on CPU0");
            log!(con, Info, "main_task", "Calling app_main()");
            // eth_connect.c eth_start(): esp_netif_attach() →
            // esp_eth_netif_glue.c esp_eth_post_attach() prints the MAC the
            // OpenCores driver took from QEMU's registers.
            let desc = "example_netif_eth";
            log!(
                con,
                Info,
                "esp_eth.netif.netif_glue",
                "{}",
                mac(net.nic_mac)
            );
            log!(
                con,
                Info,
                "esp_eth.netif.netif_glue",
                "ethernet attached to netif"
            );
            if startup == Startup::V5EthernetInit {
                // ethernet_init.c eth_event_handler() (managed component
                // espressif/ethernet_init 1.3.0): START, then CONNECTED
                // from esp_eth_start()'s first link check (QEMU's PHY is up
                // from reset).
                let dev = "Ethernet(OPENETH[0,0])";
                log!(con, Info, "ethernet_init", "{} Started", dev);
                log!(con, Info, "ethernet_init", "{} Link Up", dev);
                log!(
                    con,
                    Info,
                    "ethernet_init",
                    "{} HW Addr {}",
                    dev,
                    mac(net.nic_mac)
                );
            }
            // eth_connect.c example_ethernet_connect(), esp_netif_handlers.c
            // esp_netif_action_got_ip(), eth_connect.c eth_on_got_ip(), and
            // connect.c print_all_ips_tcpip().
            log!(con, Info, "ethernet_connect", "Waiting for IP(s).");
            got_ip_log(con, net, desc, "ethernet_connect", GotIpSummary::V5);
        }
    }
}

/// ESP-IDF's panic handler (components/esp_system/panic.c
/// `esp_panic_handler`): the "Guru Meditation Error" line, then the chip
/// resets. The register dump and backtrace that follow on a real chip
/// depend on the build (addresses, ELF hash), so the model prints none of
/// them. Every task stops and nothing more is printed until the CPU thread
/// resets the chip (or, with no reboot configured, never).
pub fn panic(
    con: &Console,
    lwip: &Lwip,
    power: Option<&Power>,
    core: u32,
    reason: &str,
    description: &str,
) {
    con.print_raw(
        format!("Guru Meditation Error: Core  {core} panic'ed ({reason}). {description}\r\n\r\n")
            .as_bytes(),
    );
    con.print_raw(b"Rebooting...\r\n");
    con.mute();
    // The reset line first, so that nobody who sees the stack halt takes
    // the chip for idle.
    if let Some(p) = power {
        p.update(|st| st.panicked = true);
    }
    lwip.halt();
}
