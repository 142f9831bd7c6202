//! Firmware profiles: which ESP-IDF release (esp_http_server + the
//! ws_echo_server example) the simulator reproduces.
//!
//! Every difference between releases is a field here, set per profile, so
//! the model's code reads "if this release does X" instead of comparing
//! version numbers. Sources for each value are given next to it.

use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Profile {
    /// Name used on the command line (`--firmware v5.5.5`).
    pub name: &'static str,
    /// The ESP-IDF release whose code the profile models.
    pub idf_version: &'static str,
    /// One line for `esp-ws sim --list-firmware`.
    pub summary: &'static str,

    // --- lwIP / system configuration (sdkconfig defaults) -----------------
    /// CONFIG_LWIP_MAX_SOCKETS.
    pub lwip_max_sockets: usize,
    /// CONFIG_LWIP_UDP_RECVMBOX_SIZE: also the size of httpd's
    /// `ctrl_sock_semaphore` (httpd_start in httpd_main.c).
    pub udp_recvmbox_size: usize,
    /// CONFIG_FREERTOS_HZ: log timestamps advance in ticks.
    pub tick_hz: u64,
    /// Largest block `calloc()` can return. ESP-IDF does not document a
    /// number; this is an assumption of the model (an ESP32 running this
    /// example over Ethernet has a few hundred KiB of free DRAM, split into
    /// regions), chosen so that the example's 65535-byte frames fit, as they
    /// do on the real chip, and multi-megabyte ones do not.
    pub heap_largest_free_block: usize,

    // --- esp_http_server -------------------------------------------------
    /// CONFIG_HTTPD_MAX_REQ_HDR_LEN (Kconfig default; 1024 from v5.5).
    pub httpd_max_req_hdr_len: usize,
    /// CONFIG_HTTPD_MAX_URI_LEN.
    pub httpd_max_uri_len: usize,
    /// CONFIG_HTTPD_PURGE_BUF_LEN.
    pub httpd_purge_buf_len: usize,
    /// The function that logs `processing socket N`: `httpd_server` up to
    /// v4.3, `httpd_process_session` from the v4.4 session redesign.
    pub process_session_func: &'static str,
    /// `httpd_sess_new/delete: active sockets: N` (v4.4+).
    pub log_active_sockets: bool,
    /// `read_block` logs `scratch buf qsize = N` (dynamic scratch buffer).
    pub log_scratch_qsize: bool,
    /// PONG frames are passed to the URI handler, which consumes them
    /// (5dbab1d3957: master, v5.4.4, v5.5.5, v6.0.1; esp-idf#18227).
    pub pong_to_handler: bool,

    // --- the ws_echo_server example ----------------------------------------
    /// `/auth` with the pre- and post-handshake callbacks.
    pub example_auth_endpoint: bool,
}

/// ESP-IDF v5.5.5: the default profile. Reference: section 2.4 of the
/// esp_http_server fact sheet, and the sessions recorded on a real v5.5.5
/// build.
pub fn v5_5_5() -> Profile {
    Profile {
        name: "v5.5.5",
        idf_version: "v5.5.5",
        summary: "esp_http_server and ws_echo_server as released in ESP-IDF v5.5.5 (/ws, /auth; Ping trigger; PONGs reach the handler)",
        lwip_max_sockets: 10,
        udp_recvmbox_size: 6,
        tick_hz: 100,
        heap_largest_free_block: 110 * 1024,
        httpd_max_req_hdr_len: 1024,
        httpd_max_uri_len: 512,
        httpd_purge_buf_len: 32,
        process_session_func: "httpd_process_session",
        log_active_sockets: true,
        log_scratch_qsize: true,
        pong_to_handler: true,
        example_auth_endpoint: true,
    }
}

/// Every profile, the default first.
pub fn all() -> Vec<Arc<Profile>> {
    vec![Arc::new(v5_5_5())]
}

pub const DEFAULT: &str = "v5.5.5";

/// Looks a profile up by name.
pub fn find(name: &str) -> Option<Arc<Profile>> {
    all().into_iter().find(|p| p.name == name)
}
