//! What differs between the releases of ws_echo_server (main/ws_echo_server.c
//! of each ESP-IDF release), as data, each value with its source.

/// How the example's echo handler reads a frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FrameRead {
    /// v4.2: `uint8_t buf[128] = {0}` and one `httpd_ws_recv_frame(req,
    /// &ws_pkt, 128)`.
    Buffer128,
    /// v4.4 on: a `max_len = 0` probe (`frame len is N`), then `calloc`.
    ProbeThenCalloc,
}

/// The example's trigger strings.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Triggers {
    /// `strcmp(payload, "Trigger async") == 0`; `null_guard` is the
    /// `ws_pkt.payload != NULL` check (v5.4.3, v5.5.2 on). Without it an
    /// empty TEXT frame dereferences NULL (v4.4 … v5.5.1).
    Exact { null_guard: bool },
    /// 5028b6230f5: `strncmp` prefixes "Trigger async" and "Ping".
    PrefixWithPing,
}

/// The example's traits that differ between releases
/// (examples/protocols/http_server/ws_echo_server).
#[derive(Clone, Debug)]
pub struct Example {
    pub frame_read: FrameRead,
    /// `if (req->method == HTTP_GET)` → `Handshake done, the new connection
    /// was opened` (v4.4 … v5.5.4).
    pub handshake_get_branch: bool,
    pub triggers: Triggers,
    /// `/auth` with `ws_pre_handshake_cb` (v5.4.3, v5.5.2 on).
    pub auth_pre_handshake: bool,
    /// ... and `ws_post_handshake_cb` (v5.5.5, master).
    pub auth_post_handshake: bool,
    /// `/ws_partial` with 64-byte chunked echo (93fcdda9f43, master), registered
    /// between `/ws` and `/auth`.
    pub ws_partial: bool,
}

impl Example {
    /// v5.5.5.
    pub fn v5_5_5() -> Example {
        Example {
            frame_read: FrameRead::ProbeThenCalloc,
            handshake_get_branch: false,
            triggers: Triggers::PrefixWithPing,
            auth_pre_handshake: true,
            auth_post_handshake: true,
            ws_partial: false,
        }
    }

    /// v5.5.2: v5.5.5 before 5028b6230f5.
    pub fn v5_5_2() -> Example {
        Example {
            handshake_get_branch: true,
            triggers: Triggers::Exact { null_guard: true },
            auth_post_handshake: false,
            ..Example::v5_5_5()
        }
    }

    /// v4.4 (v4.4.0).
    pub fn v4_4() -> Example {
        Example {
            frame_read: FrameRead::ProbeThenCalloc,
            handshake_get_branch: true,
            triggers: Triggers::Exact { null_guard: false },
            auth_pre_handshake: false,
            auth_post_handshake: false,
            ws_partial: false,
        }
    }

    /// v4.2 (v4.2.0 … v4.2.2).
    pub fn v4_2() -> Example {
        Example {
            frame_read: FrameRead::Buffer128,
            handshake_get_branch: false,
            triggers: Triggers::Exact { null_guard: true },
            ..Example::v4_4()
        }
    }

    /// master at 102122904ad.
    pub fn master() -> Example {
        Example {
            ws_partial: true,
            ..Example::v5_5_5()
        }
    }
}
