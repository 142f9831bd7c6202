//! ESP-IDF's `examples/common_components/protocol_examples_common`: the
//! `example_connect()` that ESP-IDF's examples call from `app_main()` to get
//! an IPv4 address, over Ethernet or Wi-Fi, as each release prints it.

use crate::chip::Services;
use crate::chip::console::{Console, Level, Record};
use crate::idf::release::Startup;
use crate::log;

/// The network the firmware sees. The default is what Espressif's QEMU
/// gives a firmware built with the OpenCores Ethernet MAC (slirp: DHCP hands
/// out 10.0.2.15/24 with the host at 10.0.2.2), which is how ESP-IDF's
/// examples are built for CI; see the QEMU fact sheet, section 4.
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

/// How `example_connect()` reaches the network, as configured.
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

fn ip(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// `example_connect()`: false when the power went while the firmware waited
/// for its Wi-Fi credentials (the caller then goes no further).
pub fn example_connect(
    chip: &Services,
    startup: Startup,
    net: &NetIdentity,
    network: Network,
) -> bool {
    match network {
        Network::Ethernet => {
            startup_log(chip.console(), startup, net);
            true
        }
        Network::Wifi {
            credentials_from_stdin,
        } => wifi_startup_log(chip, net, credentials_from_stdin),
    }
}

/// `example_connect()` on a board with CONFIG_EXAMPLE_CONNECT_WIFI (v5.x
/// protocol_examples_common: wifi_connect.c `example_wifi_connect()`,
/// `example_wifi_sta_do_connect()`, `example_handler_on_sta_got_ip()`;
/// connect.c `print_all_ips_tcpip()`). The Wi-Fi driver's and PHY's own
/// lines (`wifi:`, `phy_init:`) come from closed-source libraries and depend
/// on the chip, its calibration and the access point, so the model prints
/// none of them. False when the power went while the firmware waited for its
/// credentials.
fn wifi_startup_log(chip: &Services, net: &NetIdentity, credentials_from_stdin: bool) -> bool {
    let con = chip.console();
    log!(con, Info, "example_connect", "Start example_connect.");
    let mut ssid = Vec::new();
    if credentials_from_stdin {
        log!(con, Info, "example_connect", "Please input ssid password:");
        let Some(line) = chip.uart_rx().read_line() else {
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
    con.log(Record {
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
/// `esp_netif_action_got_ip()`, the component's got-IP handler (tagged
/// `got_ip_tag`), then the summary of the connection.
fn got_ip_log(
    con: &Console,
    net: &NetIdentity,
    desc: &str,
    got_ip_tag: &'static str,
    summary: GotIpSummary,
) {
    crate::idf::esp_netif::esp_netif_action_got_ip(con, desc, net);
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

/// `example_connect()` over the OpenCores Ethernet MAC with IPv4 only, as
/// each release prints it at INFO level. The lines before the main task
/// (second-stage bootloader, `cpu_start`, `heap_init`) describe the build
/// (project name, compile time, ELF hash, memory map) and are not printed;
/// the main task's own lines are esp_system's.
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
        // No modelled firmware of these releases calls example_connect().
        Startup::V3_0 | Startup::V5_0 | Startup::NonosSdk => {}
        Startup::V5 | Startup::V5EthernetInit => {
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
