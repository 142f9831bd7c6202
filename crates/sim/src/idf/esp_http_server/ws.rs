//! httpd_ws.c: the WebSocket handshake, frame reading and writing.

use base64::Engine as _;
use sha1::{Digest, Sha1};

use super::txrx::RecvOpt;
use super::{
    ESP_ERR_HTTPD_RESULT_TRUNC, ESP_ERR_INVALID_ARG, ESP_ERR_INVALID_SIZE, ESP_ERR_INVALID_STATE,
    ESP_ERR_INVALID_VERSION, ESP_ERR_NOT_FOUND, ESP_FAIL, ESP_OK, EspErr, Httpd,
};
use crate::idf::lwip::Fd;
use crate::idf::release::{ControlFrames, HeaderReads, Subprotocol};
use crate::log;

const TAG: &str = "httpd_ws";

/// `httpd_ws_type_t` values.
pub const WS_CONTINUE: u8 = 0x0;
pub const WS_TEXT: u8 = 0x1;
pub const WS_BINARY: u8 = 0x2;
pub const WS_CLOSE: u8 = 0x8;
pub const WS_PING: u8 = 0x9;
pub const WS_PONG: u8 = 0xA;

pub type WsType = u8;

const WS_MAGIC_UUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// SEC_WEBSOCKET_VERSION_HDR_MAX_LEN / SEC_WEBSOCKET_KEY_HDR_MAX_LEN of
/// master's strict mode.
const SEC_WEBSOCKET_HDR_MAX_LEN: usize = 255;

/// `httpd_ws_frame_t`. `len` is a `size_t`, 32 bits on the ESP32: a 64-bit
/// length on the wire is silently truncated when stored here.
#[derive(Clone, Debug, Default)]
pub struct WsFrame {
    pub r#final: bool,
    pub fragmented: bool,
    pub r#type: WsType,
    pub payload: Option<Vec<u8>>,
    pub len: u32,
    /// Payload bytes not read yet (master's partial reads).
    pub left_len: u32,
}

impl Httpd {
    /// `httpd_ws_respond_server_handshake()`.
    pub(super) fn httpd_ws_respond_server_handshake(
        &mut self,
        supported_subprotocol: Option<&str>,
    ) -> EspErr {
        const F: &str = "httpd_ws_respond_server_handshake";
        let slot = self.req.as_ref().expect("request").slot;
        if self.sessions[slot].ws_handshake_done {
            logf!(
                self.con,
                Warn,
                TAG,
                F,
                "State is invalid - Handshake has been performed"
            );
            return ESP_ERR_INVALID_STATE;
        }
        let exact = self.idf.ws.exact_handshake_buffers;
        let strict = self.idf.ws.stricter_rfc6455;
        if strict && self.httpd_req_get_hdr_value_len("Host") == 0 {
            logf!(self.con, Warn, TAG, F, "\"Host\" is not found");
            return self.httpd_ws_send_handshake_error(
                "400 Bad Request",
                "Missing Host header",
                false,
            );
        }
        let version = if exact {
            // master: a buffer of the value's own length.
            let len = self.httpd_req_get_hdr_value_len("Sec-WebSocket-Version");
            if len == 0 {
                logf!(
                    self.con,
                    Warn,
                    TAG,
                    F,
                    "\"Sec-WebSocket-Version\" is not found"
                );
                return self.httpd_ws_send_handshake_error(
                    "400 Bad Request",
                    "Missing Sec-WebSocket-Version header",
                    false,
                );
            }
            if strict && len > SEC_WEBSOCKET_HDR_MAX_LEN {
                logf!(
                    self.con,
                    Warn,
                    TAG,
                    F,
                    "\"Sec-WebSocket-Version\" is too long"
                );
                return self.httpd_ws_send_handshake_error(
                    "400 Bad Request",
                    "Invalid Sec-WebSocket-Version header",
                    false,
                );
            }
            match self.httpd_req_get_hdr_value_str("Sec-WebSocket-Version", len + 1) {
                Ok(v) => v,
                Err(_) => {
                    return self.httpd_ws_send_handshake_error(
                        "400 Bad Request",
                        "Invalid Sec-WebSocket-Version header",
                        false,
                    );
                }
            }
        } else {
            // `char version_val[3]`
            match self.httpd_req_get_hdr_value_str("Sec-WebSocket-Version", 3) {
                Ok(v) => v,
                Err(_) => {
                    logf!(
                        self.con,
                        Warn,
                        TAG,
                        F,
                        "\"Sec-WebSocket-Version\" is not found"
                    );
                    return ESP_ERR_NOT_FOUND;
                }
            }
        };
        if !version.eq_ignore_ascii_case(b"13") {
            self.con.log(crate::chip::console::Record {
                level: crate::chip::console::Level::Warn,
                tag: TAG,
                message: [
                    format!("{F}: \"Sec-WebSocket-Version\" is not \"13\", it is: ").as_bytes(),
                    &version,
                ]
                .concat(),
            });
            if self.idf.ws.handshake_error_responses {
                return self.httpd_ws_send_handshake_error(
                    "426 Upgrade Required",
                    "WebSocket version not supported",
                    true,
                );
            }
            return ESP_ERR_INVALID_VERSION;
        }
        let key = if exact {
            let len = self.httpd_req_get_hdr_value_len("Sec-WebSocket-Key");
            if len == 0 {
                logf!(self.con, Warn, TAG, F, "Cannot find client key");
                return self.httpd_ws_send_handshake_error(
                    "400 Bad Request",
                    "Missing Sec-WebSocket-Key header",
                    false,
                );
            }
            if strict && len > SEC_WEBSOCKET_HDR_MAX_LEN {
                logf!(
                    self.con,
                    Warn,
                    TAG,
                    F,
                    "Sec-WebSocket-Key header is too long"
                );
                return self.httpd_ws_send_handshake_error(
                    "400 Bad Request",
                    "Invalid Sec-WebSocket-Key header",
                    false,
                );
            }
            let key = match self.httpd_req_get_hdr_value_str("Sec-WebSocket-Key", len + 1) {
                Ok(k) => k,
                Err(_) => {
                    return self.httpd_ws_send_handshake_error(
                        "400 Bad Request",
                        "Invalid Sec-WebSocket-Key header",
                        false,
                    );
                }
            };
            // mbedtls_base64_decode() into a 16-byte buffer must succeed
            // with exactly 16 bytes.
            if strict
                && base64::engine::general_purpose::STANDARD
                    .decode(&key)
                    .map_or(true, |d| d.len() != 16)
            {
                logf!(
                    self.con,
                    Warn,
                    TAG,
                    F,
                    "Sec-WebSocket-Key is not a valid base64-encoded 16-byte nonce"
                );
                return self.httpd_ws_send_handshake_error(
                    "400 Bad Request",
                    "Invalid Sec-WebSocket-Key header",
                    false,
                );
            }
            key
        } else {
            // `char sec_key_encoded[28]`
            match self.httpd_req_get_hdr_value_str("Sec-WebSocket-Key", 28) {
                Ok(k) => k,
                Err(_) => {
                    logf!(self.con, Warn, TAG, F, "Cannot find client key");
                    return ESP_ERR_NOT_FOUND;
                }
            }
        };
        let mut raw = key.clone();
        raw.extend_from_slice(WS_MAGIC_UUID.as_bytes());
        self.con.log(crate::chip::console::Record {
            level: crate::chip::console::Level::Debug,
            tag: TAG,
            message: [
                format!("{F}: Server key before encoding: ").as_bytes(),
                &raw,
            ]
            .concat(),
        });
        let accept = base64::engine::general_purpose::STANDARD.encode(Sha1::digest(&raw));
        logf!(self.con, Debug, TAG, F, "Generated server key: {}", accept);

        // `char subprotocol[50]`, read with a size of 49 (none in v4.2).
        let subprotocol = match self.idf.ws.subprotocol {
            Subprotocol::None => Vec::new(),
            variant => match self.httpd_req_get_hdr_value_str("Sec-WebSocket-Protocol", 49) {
                Ok(v) => v,
                Err(ESP_ERR_HTTPD_RESULT_TRUNC) => {
                    let word = if variant == (Subprotocol::Prefix4 { typo: true }) {
                        "trunctated"
                    } else {
                        "truncated"
                    };
                    log!(
                        self.con,
                        Warn,
                        TAG,
                        "Sec-WebSocket-Protocol length exceeded buffer size of {}, was {}",
                        50,
                        word
                    );
                    // strlcpy() still filled the buffer.
                    self.hdr_value_prefix("Sec-WebSocket-Protocol", 48)
                }
                Err(_) => Vec::new(),
            },
        };
        let mut resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
        )
        .into_bytes();
        if self.httpd_ws_get_response_subprotocol(supported_subprotocol, &subprotocol) {
            let proto = supported_subprotocol.unwrap_or_default();
            self.con.log(crate::chip::console::Record {
                level: crate::chip::console::Level::Debug,
                tag: TAG,
                message: [b"subprotocol: ".as_slice(), &subprotocol].concat(),
            });
            resp.extend_from_slice(format!("Sec-WebSocket-Protocol: {proto}\r\n").as_bytes());
        }
        resp.extend_from_slice(b"\r\n");
        if self.httpd_send(&resp) < 0 {
            logf!(self.con, Warn, TAG, F, "Failed to send the response");
            return ESP_FAIL;
        }
        ESP_OK
    }

    /// master's `httpd_ws_send_handshake_error()`: an HTTP error page,
    /// with `Sec-WebSocket-Version: 13` when the version was wrong.
    fn httpd_ws_send_handshake_error(
        &mut self,
        status: &'static str,
        message: &str,
        supported_version: bool,
    ) -> EspErr {
        if supported_version {
            self.httpd_resp_set_hdr("Sec-WebSocket-Version", "13");
        }
        let ret = self.httpd_resp_send_custom_err(status, message);
        if ret == ESP_OK { ESP_FAIL } else { ret }
    }

    /// The first `n` bytes of a header value (what a truncating strlcpy left).
    fn hdr_value_prefix(&self, field: &str, n: usize) -> Vec<u8> {
        self.httpd_req_get_hdr_value_str(field, usize::MAX)
            .map(|mut v| {
                v.truncate(n);
                v
            })
            .unwrap_or_default()
    }

    /// `httpd_ws_get_response_subprotocol()`.
    fn httpd_ws_get_response_subprotocol(&self, supported: Option<&str>, requested: &[u8]) -> bool {
        let requested = super::parse::c_str(requested);
        if requested.is_empty() {
            return false;
        }
        let Some(supported) = supported else {
            log!(
                self.con,
                Warn,
                TAG,
                "Sec-WebSocket-Protocol {} not supported, URI do not support any subprotocols",
                String::from_utf8_lossy(requested)
            );
            return false;
        };
        // strtok_r(subprotocol, ", ") writes a NUL after the first token,
        // which is why the warning below shows only that token.
        let tokens: Vec<&[u8]> = requested
            .split(|&b| b == b',' || b == b' ')
            .filter(|t| !t.is_empty())
            .collect();
        for t in &tokens {
            let matches = match self.idf.ws.subprotocol {
                // strncmp(s, supported, sizeof(char *)): the first 4
                // characters, or fewer where either string ends.
                Subprotocol::Prefix4 { .. } => {
                    let a = &t[..t.len().min(4)];
                    let b = &supported.as_bytes()[..supported.len().min(4)];
                    a == b
                }
                _ => *t == supported.as_bytes(),
            };
            if matches {
                log!(
                    self.con,
                    Debug,
                    TAG,
                    "Requested subprotocol supported: {}",
                    String::from_utf8_lossy(t)
                );
                return true;
            }
        }
        let first = tokens.first().copied().unwrap_or_default();
        log!(
            self.con,
            Warn,
            TAG,
            "Sec-WebSocket-Protocol {} not supported, supported subprotocol is {}",
            String::from_utf8_lossy(first),
            supported
        );
        false
    }

    /// `httpd_ws_check_req()`.
    fn httpd_ws_check_req(&self) -> EspErr {
        let Some(r) = self.req.as_ref() else {
            logf!(
                self.con,
                Warn,
                TAG,
                "httpd_ws_check_req",
                "Argument is null"
            );
            return ESP_ERR_INVALID_ARG;
        };
        if !self.sessions[r.slot].ws_handshake_done {
            logf!(
                self.con,
                Warn,
                TAG,
                "httpd_ws_check_req",
                "State is invalid - No handshake performed"
            );
            return ESP_ERR_INVALID_STATE;
        }
        ESP_OK
    }

    /// `httpd_ws_recv_frame()`.
    pub fn httpd_ws_recv_frame(&mut self, frame: &mut WsFrame, max_len: usize) -> EspErr {
        self.httpd_ws_recv_frame_internal(frame, max_len, false)
    }

    /// `httpd_ws_recv_frame_part()` (master): reads at most `max_len` bytes
    /// of the payload per call, `frame.left_len` says what is left.
    pub fn httpd_ws_recv_frame_part(&mut self, frame: &mut WsFrame, max_len: usize) -> EspErr {
        self.httpd_ws_recv_frame_internal(frame, max_len, true)
    }

    /// One read of a frame-header field into `buf`, as the release reads
    /// it: Ok when the release takes the read as a success (`buf` then
    /// holds what arrived over what it held), Err when it reports failure.
    fn ws_header_read(&mut self, buf: &mut [u8]) -> Result<(), ()> {
        let want = buf.len();
        match self.idf.ws.header_reads {
            HeaderReads::Single => {
                // `httpd_recv_with_opt(..., false) <= 0` fails; a short read
                // is accepted (esp-idf#15235).
                let (n, data) = self.httpd_recv_with_opt(want, RecvOpt::None);
                if n <= 0 {
                    return Err(());
                }
                buf[..data.len()].copy_from_slice(&data);
                Ok(())
            }
            HeaderReads::BlockingSignedCompare => {
                // `httpd_recv_with_opt(...) < sizeof(x)` with an int on the
                // left: a negative error becomes a huge unsigned value and
                // passes (esp-idf#18483); the buffer keeps its old bytes.
                let (n, data) = self.httpd_recv_with_opt(want, RecvOpt::Blocking);
                if n >= 0 && (n as usize) < want {
                    return Err(());
                }
                buf[..data.len()].copy_from_slice(&data);
                Ok(())
            }
            HeaderReads::Blocking => {
                let (n, data) = self.httpd_recv_with_opt(want, RecvOpt::Blocking);
                if n != want as i32 {
                    return Err(());
                }
                buf.copy_from_slice(&data);
                Ok(())
            }
        }
    }

    /// `httpd_ws_recv_frame()` (`httpd_ws_recv_frame_internal()` on master),
    /// in the release's order of reads and checks.
    fn httpd_ws_recv_frame_internal(
        &mut self,
        frame: &mut WsFrame,
        max_len: usize,
        partial: bool,
    ) -> EspErr {
        let ws = self.idf.ws.clone();
        let f = ws.recv_frame_func;
        let ret = self.httpd_ws_check_req();
        if ret != ESP_OK {
            return ret;
        }
        // v4.4 on: with `frame->len != 0` the header was read by an earlier
        // call (the max_len = 0 probe).
        if !ws.length_probe || frame.len == 0 {
            {
                let r = self.req.as_ref().expect("request");
                frame.r#type = r.ws_type;
                frame.r#final = r.ws_final;
            }
            let mut second = [0u8; 1];
            if self.ws_header_read(&mut second).is_err() {
                logf!(self.con, Warn, TAG, f, "Failed to receive the second byte");
                return ESP_FAIL;
            }
            let masked = second[0] & 0x80 != 0;
            let init_len = second[0] & 0x7f;
            if init_len < 126 {
                frame.len = init_len as u32;
            } else if init_len == 126 {
                let mut b = [0u8; 2];
                if self.ws_header_read(&mut b).is_err() {
                    logf!(self.con, Warn, TAG, f, "Failed to receive 2 bytes length");
                    return ESP_FAIL;
                }
                frame.len = u32::from(b[0]) << 8 | u32::from(b[1]);
            } else {
                let mut b = [0u8; 8];
                if self.ws_header_read(&mut b).is_err() {
                    if ws.len64_error_says_2_bytes {
                        logf!(self.con, Warn, TAG, f, "Failed to receive 2 bytes length");
                    } else {
                        logf!(self.con, Warn, TAG, f, "Failed to receive 8 bytes length");
                    }
                    return ESP_FAIL;
                }
                let len64 = b.iter().fold(0u64, |acc, &x| acc << 8 | u64::from(x));
                // Stored in a 32-bit size_t.
                frame.len = len64 as u32;
            }
            frame.left_len = frame.len;
            if ws.too_long_before_mask && frame.len as usize > max_len {
                // v4.2 httpd_ws.c:222-226: before the mask is read.
                logf!(self.con, Warn, TAG, f, "WS Message too long");
                return ESP_ERR_INVALID_SIZE;
            }
            if masked {
                // v4.2 reads into a zeroed local; later releases into the
                // server's one `aux->mask_key`.
                let mut key = if ws.length_probe {
                    self.aux_mask_key
                } else {
                    [0u8; 4]
                };
                let r = self.ws_header_read(&mut key);
                self.aux_mask_key = key;
                if r.is_err() {
                    logf!(self.con, Warn, TAG, f, "Failed to receive mask key");
                    return ESP_FAIL;
                }
            } else {
                logf!(self.con, Warn, TAG, f, "WS frame is not properly masked.");
                return ESP_ERR_INVALID_STATE;
            }
        }
        if ws.probe_logs_empty_frames {
            // master: the probe is answered before the length is looked at.
            if max_len == 0 {
                log!(
                    self.con,
                    Debug,
                    TAG,
                    "regard max_len == 0 is OK for user to get frame len"
                );
                return ESP_OK;
            }
            if frame.len as usize > max_len {
                if !partial {
                    logf!(self.con, Warn, TAG, f, "WS Message too long");
                    return ESP_ERR_INVALID_SIZE;
                }
                logf!(
                    self.con,
                    Debug,
                    TAG,
                    f,
                    "WS Message too long. User will have to call read again"
                );
            }
        } else if !ws.too_long_before_mask && frame.len as usize > max_len {
            if max_len == 0 {
                log!(
                    self.con,
                    Debug,
                    TAG,
                    "regard max_len == 0 is OK for user to get frame len"
                );
                return ESP_OK;
            }
            logf!(self.con, Warn, TAG, f, "WS Message too long");
            return ESP_ERR_INVALID_SIZE;
        }
        if frame.left_len == 0 {
            return ESP_OK;
        }
        let Some(payload) = frame.payload.as_mut() else {
            logf!(self.con, Warn, TAG, f, "Payload buffer is null");
            return ESP_FAIL;
        };
        let total = (frame.left_len as usize).min(max_len);
        let mut got: Vec<u8> = Vec::with_capacity(total);
        if ws.payload_loop {
            while got.len() < total {
                let (n, data) = self.httpd_recv_with_opt(total - got.len(), RecvOpt::None);
                if n <= 0 {
                    logf!(self.con, Warn, TAG, f, "Failed to receive payload");
                    return ESP_FAIL;
                }
                got.extend_from_slice(&data);
                log!(
                    self.con,
                    Debug,
                    TAG,
                    "Frame length: {}, Bytes Read: {}",
                    frame.len,
                    got.len()
                );
            }
        } else {
            // v4.2.0 … v4.2.2: one recv(); a short read is accepted and the
            // rest of the buffer (zeroed by the caller) is unmasked as if it
            // had arrived.
            let (n, data) = self.httpd_recv_with_opt(total, RecvOpt::None);
            if n <= 0 {
                logf!(self.con, Warn, TAG, f, "Failed to receive payload");
                return ESP_FAIL;
            }
            got.extend_from_slice(&data);
            got.extend_from_slice(&payload[got.len()..total]);
        }
        let key = self.aux_mask_key;
        let mask_offset = (frame.len - frame.left_len) as usize;
        for (i, b) in got.iter_mut().enumerate() {
            *b ^= key[(i + mask_offset) % 4];
        }
        frame.left_len -= total as u32;
        payload[..total].copy_from_slice(&got);
        ESP_OK
    }

    /// `httpd_ws_send_frame()`.
    pub fn httpd_ws_send_frame(&mut self, frame: &WsFrame) -> EspErr {
        let ret = self.httpd_ws_check_req();
        if ret != ESP_OK {
            return ret;
        }
        let fd = self.httpd_req_to_sockfd();
        self.httpd_ws_send_frame_async(fd, frame)
    }

    /// `httpd_ws_send_frame_async()`: header and payload are two writes.
    pub fn httpd_ws_send_frame_async(&mut self, fd: Fd, frame: &WsFrame) -> EspErr {
        const F: &str = "httpd_ws_send_frame_async";
        let mut header = Vec::with_capacity(10);
        let fin = if !frame.fragmented || frame.r#final {
            0x80
        } else {
            0x00
        };
        header.push(fin | frame.r#type);
        let len = frame.len;
        if len <= 125 {
            header.push(len as u8);
        } else if len < u32::from(u16::MAX) {
            header.push(126);
            header.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            // 65535 itself takes this branch: `len < UINT16_MAX` is strict.
            header.push(127);
            if self.idf.ws.send_len64_bug {
                // v4.2 httpd_ws.c:298: `for (idx = 2; idx > 9; idx--)`
                // never runs, so the 8 length bytes stay 0.
                header.extend_from_slice(&[0; 8]);
            } else {
                header.extend_from_slice(&u64::from(len).to_be_bytes());
            }
        }
        let Some(slot) = self.httpd_sess_get(fd) else {
            return ESP_ERR_INVALID_ARG;
        };
        let sfd = self.sessions[slot].fd;
        if self.httpd_default_send(sfd, &header) < 0 {
            logf!(self.con, Warn, TAG, F, "Failed to send WS header");
            return ESP_FAIL;
        }
        if len > 0
            && let Some(p) = &frame.payload
            && self.httpd_default_send(sfd, &p[..len as usize]) < 0
        {
            logf!(self.con, Warn, TAG, F, "Failed to send WS payload");
            return ESP_FAIL;
        }
        ESP_OK
    }

    /// `httpd_ws_get_frame_type()`.
    pub(super) fn httpd_ws_get_frame_type(&mut self) -> EspErr {
        const F: &str = "httpd_ws_get_frame_type";
        let ret = self.httpd_ws_check_req();
        if ret != ESP_OK {
            return ret;
        }
        let mut first = [0u8; 1];
        if self.ws_header_read(&mut first).is_err() {
            // Treated as a CLOSE frame so that the session gets closed.
            logf!(
                self.con,
                Warn,
                TAG,
                F,
                "Failed to read header byte (socket FD invalid), closing socket now"
            );
            let r = self.req.as_mut().expect("request");
            r.ws_final = true;
            r.ws_type = WS_CLOSE;
            return ESP_OK;
        }
        let first = first[0];
        logf!(
            self.con,
            Debug,
            TAG,
            F,
            "First byte received: 0x{:02X}",
            first
        );
        {
            let r = self.req.as_mut().expect("request");
            r.ws_final = first & 0x80 != 0;
            r.ws_type = first & 0x0f;
        }
        let cf = self.idf.ws.control_frames;
        let slot = self.req.as_ref().expect("request").slot;
        if cf == ControlFrames::V5 {
            if self.sessions[slot].ws_control_frames {
                return ESP_OK;
            }
            logf!(
                self.con,
                Debug,
                TAG,
                F,
                "Handler not requests control frames"
            );
        }
        // v4.x answers PINGs whatever the handler asked for and leaves
        // CLOSE (and PONG) to httpd_req_new.
        let ws_type = self.req.as_ref().expect("request").ws_type;
        if ws_type == WS_PING {
            logf!(
                self.con,
                Debug,
                TAG,
                F,
                "Got a WS PING frame, Replying PONG..."
            );
            let mut frame = WsFrame {
                payload: Some(vec![0; 128]),
                ..Default::default()
            };
            if self.httpd_ws_recv_frame(&mut frame, 126) != ESP_OK {
                logf!(
                    self.con,
                    Debug,
                    TAG,
                    F,
                    "Cannot receive the full PING frame"
                );
                return ESP_ERR_INVALID_STATE;
            }
            frame.r#type = WS_PONG;
            return self.httpd_ws_send_frame(&frame);
        } else if ws_type == WS_CLOSE && cf == ControlFrames::V5 {
            logf!(
                self.con,
                Debug,
                TAG,
                F,
                "Got a WS CLOSE frame, Replying CLOSE..."
            );
            let mut frame = WsFrame {
                payload: Some(vec![0; 128]),
                ..Default::default()
            };
            if self.httpd_ws_recv_frame(&mut frame, 126) != ESP_OK {
                logf!(
                    self.con,
                    Debug,
                    TAG,
                    F,
                    "Cannot receive the full CLOSE frame"
                );
                return ESP_ERR_INVALID_STATE;
            }
            let reply = WsFrame {
                r#final: frame.r#final,
                r#type: WS_CLOSE,
                ..Default::default()
            };
            return self.httpd_ws_send_frame(&reply);
        }
        ESP_OK
    }
}
