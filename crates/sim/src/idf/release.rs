//! The ESP-IDF releases the simulator reproduces, as data: what differs
//! between them in the components the model covers (the start-up, lwIP's
//! configuration, esp_http_server and its WebSocket support).
//!
//! Every difference between releases is a field here, set per release, so
//! the model's code reads "if this release does X" instead of comparing
//! version numbers. Each value names where it comes from: the tag's source
//! (`file:line` in that release), the esp_http_server fact sheet, or what a
//! real build was seen to do.

/// One ESP-IDF release, built with its sdkconfig defaults unless said.
#[derive(Clone, Debug)]
pub struct Release {
    // --- lwIP / system configuration (sdkconfig defaults) -----------------
    /// CONFIG_LWIP_MAX_SOCKETS.
    pub lwip_max_sockets: usize,
    /// CONFIG_LWIP_UDP_RECVMBOX_SIZE: how many datagrams the control socket
    /// holds (more are dropped by lwIP), and the size of httpd's
    /// `ctrl_sock_semaphore` where there is one.
    pub udp_recvmbox_size: usize,
    /// CONFIG_FREERTOS_HZ: log timestamps advance in ticks.
    pub tick_hz: u64,
    /// CONFIG_LOG_COLORS default: y up to v4.4 (components/log/Kconfig),
    /// n from v5.0 (components/log/Kconfig.format).
    pub log_colors_default: bool,
    /// What the main task and `example_connect()` print before the
    /// firmware's own lines.
    pub startup: Startup,

    pub httpd: HttpdTraits,
    pub ws: WsTraits,
}

/// The start-up log of an ESP-IDF example built for Espressif's QEMU with
/// the OpenCores Ethernet MAC and IPv6 off (`fixtures/qemu/sdkconfig.qemu`):
/// esp_system's main task and protocol_examples_common's `example_connect()`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Startup {
    /// v4.2: components/esp32/cpu_start.c calls `app_main()` without a log
    /// line; protocol_examples_common/connect.c with tag `example_connect`,
    /// netif `example_connect: eth`, the MAC read from eFuse
    /// (esp_common/src/mac_addr.c prints that it does).
    V4_2,
    /// v4.4: as v4.2, but the glue's tag is `esp_eth.netif.netif_glue` and
    /// connect.c:445-452 sets the OpenCores MAC to 02:00:00:12:34:56.
    V4_4,
    /// v5.x: app_startup.c's `main_task` lines, eth_connect.c
    /// (`ethernet_connect`) and connect.c (`example_common`), netif
    /// `example_netif_eth`; the MAC is the one QEMU puts in the OpenCores
    /// registers (esp_eth_mac_openeth.c:308-319).
    V5,
    /// master: as V5, plus the lines of the `espressif/ethernet_init`
    /// component that eth_connect.c:81-108 now uses.
    V5EthernetInit,
    /// v3.0 (the legacy-make release the lwIP netconn tutorial builds on,
    /// inferred in its fact sheet, section 1): cpu_start.c calls
    /// `app_main()` without a log line, and the application brings its own
    /// network up (no protocol_examples_common).
    V3_0,
    /// v5.0.2 (what NodeMCU's PR #3514 tree builds with): the application
    /// brings its own network up. Its main task prints no lines: the
    /// `main_task:` lines of app_startup.c came with v5.1 (inferred from
    /// the releases' boot logs; the NodeMCU fact sheet does not list them).
    V5_0,
    /// Not ESP-IDF: the ESP8266 NONOS SDK under NodeMCU's ESP8266
    /// firmware, whose start-up prints nothing at the console's baud rate
    /// (see `chip::Rom::Esp8266`).
    NonosSdk,
}

impl Startup {
    /// `main_task: Started on CPU0` and `Calling app_main()` (v5
    /// app_startup.c only).
    pub fn prints_main_task_lines(self) -> bool {
        matches!(self, Startup::V5 | Startup::V5EthernetInit)
    }

    /// `main_task: Returned from app_main()` (v5 app_startup.c only).
    pub fn prints_app_main_return(self) -> bool {
        matches!(self, Startup::V5 | Startup::V5EthernetInit)
    }
}

/// How `httpd_resp_send_err()` words its pages.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ErrorPages {
    /// v4.x httpd_txrx.c texts ("This URI does not exist", ...).
    V4,
    /// The short texts of 72e322fbbaf (v5.0 on).
    V5,
}

/// `httpd_recv_with_opt()` and what a 0 from `recv()` (the peer's FIN)
/// means to it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RecvWithOpt {
    /// v4.x: one `recv()`, no blocking option; 0 is success
    /// (`received length = 0`).
    Single,
    /// v5.3.4 … v5.5.2: a loop for HTTPD_RECV_OPT_BLOCKING that checks
    /// `ret < 0`, so 0 adds nothing and the loop goes on (esp-idf#17822);
    /// non-blocking reads log `received length = 0`.
    ZeroNotAnError,
    /// 1a0da0c8b53 (v5.5.3 on): `ret <= 0` is an error (`error in recv_fn`).
    ZeroIsAnError,
}

/// How `httpd_ws_recv_frame()` and `httpd_ws_get_frame_type()` read the
/// header of a frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HeaderReads {
    /// One `recv()` each, `<= 0` fails, a short read is accepted
    /// (esp-idf#15235): v4.2 … v5.5.0.
    Single,
    /// HTTPD_RECV_OPT_BLOCKING, but the result is compared as
    /// `int < size_t`, so a negative error counts as success and the
    /// buffer keeps what it had (esp-idf#18483): v5.5.1 … v5.5.4.
    BlockingSignedCompare,
    /// HTTPD_RECV_OPT_BLOCKING, fixed (0fb8ad002ac): v5.5.5, master.
    Blocking,
}

/// Control frames with `handle_ws_control_frames = false`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ControlFrames {
    /// v4.2: PING is answered; CLOSE and PONG return at once with their
    /// bytes unread; nothing else is logged (httpd_ws.c:331-384,
    /// httpd_parse.c:754-785).
    V4_2,
    /// v4.4.0: as v4.2, but `Received PONG frame` is logged and the
    /// `New WS request` line comes after the first byte, with its type.
    V4_4,
    /// v4.4.2 / v5.x: `Handler not requests control frames`, CLOSE answered
    /// with `88 00` and read, `WS was marked close` guard.
    V5,
}

/// Sub-protocol negotiation in `httpd_ws_respond_server_handshake()`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Subprotocol {
    /// v4.2: the header is never read.
    None,
    /// dcb09bac6ac … (fixed by 7aa56f8d68d): `strncmp(..., sizeof(char *))`
    /// compares 4 characters. `typo` is v4.4's "was trunctated".
    Prefix4 { typo: bool },
    /// v5.5.5, master.
    Exact,
}

/// esp_http_server, the parts that differ between releases.
#[derive(Clone, Debug)]
pub struct HttpdTraits {
    /// CONFIG_HTTPD_MAX_REQ_HDR_LEN (512 up to v5.4, 1024 from v5.5).
    pub max_req_hdr_len: usize,
    /// CONFIG_HTTPD_MAX_URI_LEN.
    pub max_uri_len: usize,
    /// CONFIG_HTTPD_PURGE_BUF_LEN.
    pub purge_buf_len: usize,
    /// v4.x: a fixed `scratch[MAX(HDR, URI) + 1]` in every request
    /// (esp_httpd_priv.h); v5.x reallocates it (`scratch buf qsize = N`)
    /// up to the URI limit, then the header limit.
    pub fixed_scratch: bool,
    /// ESP_HTTP_SERVER_EVENT posts (v5.0 on): the model prints what the
    /// default event loop logs when nobody handles them.
    pub events: bool,
    /// The function that logs `processing socket N`: `httpd_server` up to
    /// v4.3, `httpd_process_session` from the v4.4 session redesign.
    pub process_session_func: &'static str,
    /// v4.2: a failed session is closed by the select loop
    /// (`httpd_server: closing socket N`, httpd_main.c:199-205) and
    /// `httpd_sess_delete` logs any fd it is given, -1 included.
    pub select_loop_closes: bool,
    /// `httpd_sess_new/delete: active sockets: N` (v4.4+).
    pub log_active_sockets: bool,
    /// `httpd_queue_work` takes a semaphore and fails fast when the control
    /// socket is full (`ctrl socket queue full, work not queued`): v5.5.5
    /// and master. Before, a full mbox drops the work silently.
    pub queue_work_fail_fast: bool,
    /// Level of `error in accept` / `session creation failed`: W up to
    /// v5.1, E after.
    pub accept_errors_are_errors: bool,
    /// `parse_block` on a full scratch: one `request URI/header too long`
    /// (v4.x) or `request URI too long` / `request header too long`.
    pub split_too_long_message: bool,
    /// `verify_url` accepts only HTTP/1.0 and 1.1 (v5.x); v4.x rejects only
    /// when `(major != 1) && (minor != 1)`.
    pub strict_http_version: bool,
    /// `httpd_req_get_hdr_value_str` reports a value that exactly fills the
    /// buffer as truncated (v4.x and master); v5.5.x cuts it silently
    /// (16d9b94c563, fixed again by b33745d104f).
    pub full_buffer_is_truncation: bool,
    pub recv_with_opt: RecvWithOpt,
    /// `httpd_req_delete` stops purging an unread body when a read returns
    /// 0 (`recv_len <= 0`); v4.2 stops only on `< 0` (httpd_parse.c:809).
    pub purge_stops_on_zero: bool,
    /// `httpd send buffer size = N` in `httpd_resp_send` (v5.x).
    pub log_send_buffer_size: bool,
    pub error_pages: ErrorPages,
    /// A Content-Length above UINT32_MAX gets 413 (9d3f510c7f4, master).
    pub content_length_u32_check: bool,
}

/// esp_http_server's WebSocket support, the parts that differ.
#[derive(Clone, Debug)]
pub struct WsTraits {
    pub control_frames: ControlFrames,
    /// PONG frames are passed to the URI handler, which consumes them
    /// (5dbab1d3957: master, v5.4.4, v5.5.5, v6.0.1). Before, their bytes
    /// after the first stay unread (esp-idf#18227).
    pub pong_to_handler: bool,
    /// The URI handler is called after the handshake with
    /// `req->method == HTTP_GET` (f221b1655dd, v4.4 … v5.5.4; removed by
    /// 5028b6230f5).
    pub handler_on_handshake: bool,
    pub subprotocol: Subprotocol,
    /// `Sec-WebSocket-Version` and `-Key` are read at their real length
    /// (master) rather than into 3- and 28-byte buffers.
    pub exact_handshake_buffers: bool,
    /// A failed handshake is answered with 400 / 426 (8190ca035e1, master)
    /// instead of a silent close.
    pub handshake_error_responses: bool,
    /// CONFIG_HTTPD_WS_STRICTER_RFC6455 (master, default n).
    pub stricter_rfc6455: bool,
    /// `httpd_ws_recv_frame` reads the header only when `frame->len == 0`
    /// and accepts `max_len == 0` as "tell me the length" (v4.4 on).
    pub length_probe: bool,
    pub header_reads: HeaderReads,
    /// v4.2 checks `WS Message too long` before reading the mask.
    pub too_long_before_mask: bool,
    /// The payload is read in a loop, each read logged as `Frame length: N,
    /// Bytes Read: M` (5db3853c2cf: v4.2.3, v4.3.2, v4.4 on); before, one
    /// `recv()` and a short read is accepted.
    pub payload_loop: bool,
    /// v4.x prints `Failed to receive 2 bytes length` for the 8-byte length.
    pub len64_error_says_2_bytes: bool,
    /// The function name in the frame reader's warnings
    /// (`httpd_ws_recv_frame_internal` on master).
    pub recv_frame_func: &'static str,
    /// master logs `regard max_len == 0 ...` for every probe, empty frames
    /// included; before, only when the frame is longer than 0.
    pub probe_logs_empty_frames: bool,
    /// `httpd_ws_recv_frame_part` (67339c5f4a8, master).
    pub partial_reads: bool,
    /// v4.2 sends frames of 65535 bytes and more with an all-zero 64-bit
    /// length (fixed by c415c6f9a6f).
    pub send_len64_bug: bool,
}

/// ESP-IDF v3.0 as the lwIP netconn WebSocket tutorial uses it (fact
/// sheet lwip-netconn-ws-server.md, section 1: the code builds as it is
/// only on v2.x … v3.0.x; its sdkconfig sets CONFIG_FREERTOS_HZ=100 and
/// CONFIG_LWIP_MAX_SOCKETS=10). CONFIG_LOG_COLORS defaults to y there, as
/// in every release before v5.0. The firmware does not use
/// esp_http_server (v3.0 predates it): the httpd and WebSocket fields are
/// v4.2's and unused.
pub fn v3_0() -> Release {
    let b = v4_2();
    Release {
        lwip_max_sockets: 10,
        tick_hz: 100,
        log_colors_default: true,
        startup: Startup::V3_0,
        ..b
    }
}

/// ESP-IDF v5.0.2, the release NodeMCU's PR #3514 tree builds with (fact
/// sheet nodemcu-httpd-websocket.md, section 1; its esp_http_server
/// WebSocket logic is that of v5.1.3, the sheet's line numbers). What the
/// sheet states is set from it; the rest is placed by the commits each
/// field of v5.5.x names (v5.0.2 comes before all of them):
/// - CONFIG_HTTPD_MAX_REQ_HDR_LEN 512 (sheet section 1);
/// - PONGs are not handed to the handler and the rest of the frame stays
///   unread (sheet 3.2, esp-idf#18227: 5dbab1d3957 came in v5.4.4);
/// - the URI handler is called after the handshake with HTTP_GET
///   (f221b1655dd, v4.4 … v5.5.4): NodeMCU's `websocket_handler_httpd`
///   relies on it (sheet 2.2);
/// - CLOSE answered with `88 00` (sheet 3.2: v4.4.2, v5.0 on);
/// - 3- and 28-byte version and key buffers, silent close on a bad
///   handshake (sheet 3.1);
/// - one `recv()` per header field (esp-idf#15235, up to v5.5.0) and no
///   blocking receive option (v5.3.4 on);
/// - a fixed scratch buffer: the reallocated one (`scratch buf qsize`)
///   came after v5.1 (inferred; it changes debug lines only);
/// - `error in accept` / `session creation failed` at W (up to v5.1);
/// - a value that exactly fills a header buffer counts as truncated
///   (before 16d9b94c563).
pub fn v5_0_2() -> Release {
    let b = base_v5_5_5();
    Release {
        startup: Startup::V5_0,
        httpd: HttpdTraits {
            max_req_hdr_len: 512,
            fixed_scratch: true,
            queue_work_fail_fast: false,
            accept_errors_are_errors: false,
            full_buffer_is_truncation: true,
            recv_with_opt: RecvWithOpt::Single,
            ..b.httpd
        },
        ws: WsTraits {
            pong_to_handler: false,
            handler_on_handshake: true,
            subprotocol: Subprotocol::Prefix4 { typo: false },
            header_reads: HeaderReads::Single,
            ..b.ws
        },
        ..b
    }
}

fn base_v5_5_5() -> Release {
    Release {
        lwip_max_sockets: 10,
        udp_recvmbox_size: 6,
        tick_hz: 100,
        log_colors_default: false,
        startup: Startup::V5,
        httpd: HttpdTraits {
            max_req_hdr_len: 1024,
            max_uri_len: 512,
            purge_buf_len: 32,
            fixed_scratch: false,
            events: true,
            process_session_func: "httpd_process_session",
            select_loop_closes: false,
            log_active_sockets: true,
            queue_work_fail_fast: true,
            accept_errors_are_errors: true,
            split_too_long_message: true,
            strict_http_version: true,
            full_buffer_is_truncation: false,
            recv_with_opt: RecvWithOpt::ZeroIsAnError,
            purge_stops_on_zero: true,
            log_send_buffer_size: true,
            error_pages: ErrorPages::V5,
            content_length_u32_check: false,
        },
        ws: WsTraits {
            control_frames: ControlFrames::V5,
            pong_to_handler: true,
            handler_on_handshake: false,
            subprotocol: Subprotocol::Exact,
            exact_handshake_buffers: false,
            handshake_error_responses: false,
            stricter_rfc6455: false,
            length_probe: true,
            header_reads: HeaderReads::Blocking,
            too_long_before_mask: false,
            payload_loop: true,
            len64_error_says_2_bytes: false,
            recv_frame_func: "httpd_ws_recv_frame",
            probe_logs_empty_frames: false,
            partial_reads: false,
            send_len64_bug: false,
        },
    }
}

/// ESP-IDF v5.5.5. Fact sheet section 2.4, and the sessions recorded on a
/// real v5.5.5 build.
pub fn v5_5_5() -> Release {
    base_v5_5_5()
}

/// ESP-IDF v5.5.2: v5.5.5 before 5028b6230f5, 5dbab1d3957, 0fb8ad002ac,
/// 1a0da0c8b53 and the queue_work back-port.
pub fn v5_5_2() -> Release {
    let b = base_v5_5_5();
    Release {
        httpd: HttpdTraits {
            // The semaphore exists only with CONFIG_HTTPD_QUEUE_WORK_BLOCKING
            // (default n): httpd_main.c:136-166.
            queue_work_fail_fast: false,
            recv_with_opt: RecvWithOpt::ZeroNotAnError,
            ..b.httpd
        },
        ws: WsTraits {
            pong_to_handler: false,
            handler_on_handshake: true,
            subprotocol: Subprotocol::Prefix4 { typo: false },
            header_reads: HeaderReads::BlockingSignedCompare,
            ..b.ws
        },
        ..b
    }
}

/// ESP-IDF v4.4 (v4.4.0).
pub fn v4_4() -> Release {
    let b = base_v5_5_5();
    Release {
        log_colors_default: true,
        startup: Startup::V4_4,
        httpd: HttpdTraits {
            max_req_hdr_len: 512,
            fixed_scratch: true,
            events: false,
            queue_work_fail_fast: false,
            accept_errors_are_errors: false,
            split_too_long_message: false,
            strict_http_version: false,
            full_buffer_is_truncation: true,
            recv_with_opt: RecvWithOpt::Single,
            log_send_buffer_size: false,
            error_pages: ErrorPages::V4,
            ..b.httpd
        },
        ws: WsTraits {
            control_frames: ControlFrames::V4_4,
            pong_to_handler: false,
            handler_on_handshake: true,
            subprotocol: Subprotocol::Prefix4 { typo: true },
            header_reads: HeaderReads::Single,
            len64_error_says_2_bytes: true,
            ..b.ws
        },
        ..b
    }
}

/// ESP-IDF v4.2 (v4.2.0 … v4.2.2), fact sheet section 1.2.
pub fn v4_2() -> Release {
    let b = v4_4();
    Release {
        startup: Startup::V4_2,
        httpd: HttpdTraits {
            process_session_func: "httpd_server",
            select_loop_closes: true,
            log_active_sockets: false,
            purge_stops_on_zero: false,
            ..b.httpd
        },
        ws: WsTraits {
            control_frames: ControlFrames::V4_2,
            handler_on_handshake: false,
            subprotocol: Subprotocol::None,
            length_probe: false,
            too_long_before_mask: true,
            payload_loop: false,
            send_len64_bug: true,
            ..b.ws
        },
        ..b
    }
}

/// ESP-IDF master at 102122904ad (2026-07-23).
pub fn master() -> Release {
    let b = base_v5_5_5();
    Release {
        startup: Startup::V5EthernetInit,
        httpd: HttpdTraits {
            full_buffer_is_truncation: true,
            content_length_u32_check: true,
            ..b.httpd
        },
        ws: WsTraits {
            exact_handshake_buffers: true,
            handshake_error_responses: true,
            recv_frame_func: "httpd_ws_recv_frame_internal",
            probe_logs_empty_frames: true,
            partial_reads: true,
            ..b.ws
        },
        ..b
    }
}

/// master built with CONFIG_HTTPD_WS_STRICTER_RFC6455=y.
pub fn master_strict() -> Release {
    let b = master();
    Release {
        ws: WsTraits {
            stricter_rfc6455: true,
            ..b.ws
        },
        ..b
    }
}

/// Not an ESP-IDF release: the ESP8266 NONOS SDK 3.0 (e4434aa, the one
/// NodeMCU's release branch builds with), for what the model's layers
/// below a firmware share with it: lwIP (under the SDK's espconn), the
/// tick and a start-up that prints nothing. Nothing of esp_http_server is
/// used; its fields are v3.0's, unused. The NONOS SDK has no log library:
/// colours and ticks never reach the console.
pub fn nonos_sdk_3_0() -> Release {
    Release {
        startup: Startup::NonosSdk,
        ..v3_0()
    }
}
