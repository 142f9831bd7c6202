//! ESP-IDF's esp_netif, as far as it prints.

use crate::chip::console::Console;
use crate::idf::protocol_examples_common::NetIdentity;
use crate::log;

pub(crate) fn ip(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// esp_netif_handlers.c `esp_netif_action_got_ip()`: the default handler
/// of IP_EVENT_STA_GOT_IP / IP_EVENT_ETH_GOT_IP (v4.1 on), which names the
/// interface by its description (`sta` for the default Wi-Fi station,
/// `esp_netif_create_default_wifi_sta()`).
pub fn esp_netif_action_got_ip(con: &Console, desc: &str, net: &NetIdentity) {
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
}
