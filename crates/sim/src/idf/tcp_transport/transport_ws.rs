//! The WebSocket transport (ESP-IDF v5.5.5 components/tcp_transport/
//! transport_ws.c) as esp_websocket_client drives it: the opening
//! handshake (`ws_connect`), frames written as two writes with a fresh
//! mask (`_ws_write`), frames read one header and one buffer-full of
//! payload at a time (`ws_read`, `ws_read_header`, `ws_read_payload`), and
//! the wait for the server's FIN after a closing handshake
//! (`esp_transport_ws_poll_connection_closed`). Log lines and their texts:
//! the fact sheet's sections 3 and 4, and the recorded sessions.

use std::collections::VecDeque;
use std::time::Duration;

use base64::Engine as _;
use sha1::{Digest, Sha1};

use super::transport_tcp::{ConnectError, Read, TcpTransport};
use crate::chip::Services;
use crate::idf::lwip::{Errno, Peek};
use crate::log;

const TAG: &str = "transport_ws";

/// CONFIG_WS_BUFFER_SIZE (default 1024): the handshake buffer.
pub const WS_BUFFER_SIZE: usize = 1024;

/// `ws_transport_opcodes_t`, as the raw first header byte.
pub mod opcode {
    pub const CONT: u8 = 0x00;
    pub const TEXT: u8 = 0x01;
    pub const BINARY: u8 = 0x02;
    pub const CLOSE: u8 = 0x08;
    pub const PING: u8 = 0x09;
    pub const PONG: u8 = 0x0a;
    pub const FIN: u8 = 0x80;
}

/// Why `ws_connect()` failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ConnectFail {
    /// The TCP connection could not be opened.
    Tcp(ConnectError),
    /// The request could not be written.
    Write,
    /// No complete answer within the timeout, or the connection closed.
    ReadResponse,
    /// The answer has no `Sec-WebSocket-Accept`.
    AcceptNotFound,
    /// Its `Sec-WebSocket-Accept` is not the one the key asks for.
    InvalidKey,
}

/// What one `esp_transport_read()` on the WebSocket transport gave.
#[derive(Debug, PartialEq, Eq)]
pub enum WsRead {
    /// Payload bytes of the current frame (possibly none: an empty frame).
    Data(Vec<u8>),
    /// Nothing arrived within the timeout (`rlen == 0`, opcode NONE).
    Timeout,
    /// The connection failed (FIN or RST where a frame was expected).
    Error { fin: bool },
}

#[derive(Default)]
struct FrameState {
    opcode: Option<u8>,
    fin: bool,
    payload_len: u64,
    bytes_remaining: u64,
    mask_key: Option<[u8; 4]>,
}

pub struct WsTransport {
    chip: Services,
    tcp: TcpTransport,
    /// The path of the URI (`esp_transport_ws_set_path`).
    pub path: String,
    /// Extra headers, each ending in CRLF (`esp_transport_ws_set_headers`).
    pub headers: Option<String>,
    /// `esp_transport_ws_set_user_agent` (none: the default one).
    pub user_agent: Option<String>,
    /// Bytes read with the handshake answer, past its end: frames the
    /// server sent right behind the 101 (sheet section 3).
    buffered: VecDeque<u8>,
    frame: FrameState,
    /// The handshake answer's status code (0 until one was read).
    http_status: i32,
}

impl WsTransport {
    pub fn new(chip: Services, tcp: TcpTransport) -> WsTransport {
        WsTransport {
            chip,
            tcp,
            path: "/".into(),
            headers: None,
            user_agent: None,
            buffered: VecDeque::new(),
            frame: FrameState::default(),
            http_status: 0,
        }
    }

    /// `esp_transport_ws_get_upgrade_request_status()`.
    pub fn upgrade_request_status(&self) -> i32 {
        self.http_status
    }

    /// `esp_transport_ws_get_read_opcode()` (`None`: the C code's
    /// WS_TRANSPORT_OPCODES_NONE, no header read).
    pub fn read_opcode(&self) -> Option<u8> {
        self.frame.opcode
    }

    /// `esp_transport_ws_get_fin_flag()`.
    pub fn fin_flag(&self) -> bool {
        self.frame.fin
    }

    /// `esp_transport_ws_get_read_payload_len()`.
    pub fn read_payload_len(&self) -> u64 {
        self.frame.payload_len
    }

    pub fn is_open(&self) -> bool {
        self.tcp.is_open()
    }

    /// `ws_connect()`: the TCP connection, then the upgrade request with a
    /// fresh key, and the answer checked for the key's accept value.
    pub fn connect(&mut self, host: &str, port: u16, timeout: Duration) -> Result<(), ConnectFail> {
        let con = self.chip.console().clone();
        self.buffered.clear();
        self.frame = FrameState::default();
        self.http_status = 0;
        self.tcp
            .connect(host, port, timeout)
            .map_err(ConnectFail::Tcp)?;
        // A new 16-byte nonce per connection, reconnects included (sheet
        // section 3): getrandom(), the chip's RNG.
        let mut nonce = [0u8; 16];
        self.chip.fill_random(&mut nonce);
        let key = base64::engine::general_purpose::STANDARD.encode(nonce);
        let user_agent = self
            .user_agent
            .as_deref()
            .unwrap_or("ESP32 Websocket Client");
        // The request's header order (sheet section 3).
        let mut request = format!(
            "GET {} HTTP/1.1\r\nConnection: Upgrade\r\nHost: {host}:{port}\r\nUser-Agent: {user_agent}\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n",
            self.path
        );
        if let Some(h) = &self.headers {
            log!(con, Debug, TAG, "headers: {h}");
            request.push_str(h);
        }
        request.push_str("\r\n");
        log!(con, Debug, TAG, "Write upgrade request\r\n{request}");
        if self.tcp.write(request.as_bytes()).is_err() {
            log!(con, Error, TAG, "Error write Upgrade header {request}");
            return Err(ConnectFail::Write);
        }
        // Read until the blank line, into the 1024-byte buffer.
        let mut answer: Vec<u8> = Vec::new();
        loop {
            let got = match self.tcp.read(WS_BUFFER_SIZE - answer.len(), timeout) {
                Read::Data(d) => d,
                _ => {
                    // Sheet section 3, "No answer".
                    log!(con, Error, TAG, "Error read response for Upgrade header");
                    return Err(ConnectFail::ReadResponse);
                }
            };
            answer.extend_from_slice(&got);
            log!(
                con,
                Debug,
                TAG,
                "Read header chunk {}, current header size: {}",
                got.len(),
                answer.len()
            );
            if find(&answer, b"\r\n\r\n").is_some() || answer.len() >= WS_BUFFER_SIZE {
                break;
            }
        }
        let end = find(&answer, b"\r\n\r\n").map_or(answer.len(), |i| i + 4);
        self.buffered.extend(&answer[end..]);
        let head = String::from_utf8_lossy(&answer[..end]).into_owned();
        self.http_status = status_code(&head);
        log!(con, Debug, TAG, "HTTP status code is {}", self.http_status);
        let Some(server_key) = header_value(&head, "Sec-WebSocket-Accept:") else {
            log!(con, Error, TAG, "Sec-WebSocket-Accept not found");
            return Err(ConnectFail::AcceptNotFound);
        };
        let expected = accept_key(&key);
        log!(
            con,
            Debug,
            TAG,
            "server key={server_key}, send_key={key}, expected_server_key={expected}"
        );
        if server_key != expected {
            log!(con, Error, TAG, "Invalid websocket key");
            return Err(ConnectFail::InvalidKey);
        }
        Ok(())
    }

    /// `ws_poll_read()`: bytes kept from the handshake answer count as
    /// readable at once.
    pub fn poll_read(&self, timeout: Duration) -> Result<bool, Errno> {
        self.poller().poll_read(timeout)
    }

    /// What polls the transport without its owner's lock held: the C
    /// client polls in its task while other tasks send.
    pub fn poller(&self) -> Poller {
        Poller {
            chip: self.chip.clone(),
            buffered: self.buffered.len(),
            socket: self.tcp.socket(),
        }
    }

    /// One read from below: the kept bytes first, then one `recv()`.
    fn read_lower(&mut self, max: usize, timeout: Duration) -> Read {
        if !self.buffered.is_empty() {
            let n = max.min(self.buffered.len());
            return Read::Data(self.buffered.drain(..n).collect());
        }
        self.tcp.read(max, timeout)
    }

    /// Reads exactly `n` header bytes. transport_ws.c takes what one read
    /// gives; the host hands segments over whole, so a header is never
    /// split in the model (a simplification).
    fn read_exact(&mut self, n: usize, timeout: Duration) -> Result<Vec<u8>, bool> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            match self.read_lower(n - out.len(), timeout) {
                Read::Data(d) => out.extend(d),
                Read::Fin => return Err(true),
                Read::Timeout | Read::Error(_) => return Err(false),
            }
        }
        Ok(out)
    }

    /// `ws_read()`: at the start of a frame its header, then at most `len`
    /// bytes of its payload (one read: what has arrived).
    pub fn read(&mut self, len: usize, timeout: Duration) -> WsRead {
        let con = self.chip.console().clone();
        if self.frame.bytes_remaining == 0 {
            // ws_read_header()
            self.frame.opcode = None;
            // The kept bytes first (no line: the client's own poll said
            // so already), else a poll of the socket.
            if self.buffered.is_empty() {
                match self.tcp.poll_read(timeout) {
                    Ok(true) => {}
                    Ok(false) => return WsRead::Timeout,
                    Err(_) => return self.read_error(false),
                }
            }
            let h = match self.read_exact(2, timeout) {
                Ok(h) => h,
                Err(fin) => return self.read_error(fin),
            };
            let op = h[0] & 0x0f;
            let masked = h[1] >> 7;
            let len7 = h[1] & 0x7f;
            // The rsv bits as the recorded sessions print them (inferred:
            // only 0x00 was seen).
            let rsv = (h[0] >> 4) & 0x07;
            log!(
                con,
                Debug,
                TAG,
                "Opcode: {op}, mask: {masked}, len: {len7}, rsv: 0x{rsv:02x}"
            );
            self.frame.opcode = Some(op);
            self.frame.fin = h[0] & 0x80 != 0;
            let payload_len: u64 = match len7 {
                126 => match self.read_exact(2, timeout) {
                    Ok(b) => u16::from_be_bytes([b[0], b[1]]) as u64,
                    Err(fin) => return self.read_error(fin),
                },
                127 => match self.read_exact(8, timeout) {
                    // "really too big": more than 32 bits.
                    Ok(b) if b[..4] != [0, 0, 0, 0] => 0xFFFF_FFFF,
                    Ok(b) => u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as u64,
                    Err(fin) => return self.read_error(fin),
                },
                n => n as u64,
            };
            self.frame.mask_key = None;
            if masked == 1 && payload_len != 0 {
                match self.read_exact(4, timeout) {
                    Ok(m) => self.frame.mask_key = Some([m[0], m[1], m[2], m[3]]),
                    Err(fin) => return self.read_error(fin),
                }
            }
            self.frame.payload_len = payload_len;
            self.frame.bytes_remaining = payload_len;
            if payload_len == 0 {
                return WsRead::Data(Vec::new());
            }
        }
        // ws_read_payload()
        let to_read = if self.frame.bytes_remaining > len as u64 {
            log!(
                con,
                Debug,
                TAG,
                "Actual data to receive ({}) are longer than ws buffer ({len})",
                self.frame.bytes_remaining
            );
            len
        } else {
            self.frame.bytes_remaining as usize
        };
        let offset = (self.frame.payload_len - self.frame.bytes_remaining) as usize;
        let mut data = match self.read_lower(to_read, timeout) {
            Read::Data(d) => d,
            Read::Timeout => Vec::new(),
            Read::Fin => return self.read_error(true),
            Read::Error(_) => return self.read_error(false),
        };
        self.frame.bytes_remaining -= data.len() as u64;
        if let Some(m) = self.frame.mask_key {
            for (i, b) in data.iter_mut().enumerate() {
                *b ^= m[(offset + i) % 4];
            }
        }
        WsRead::Data(data)
    }

    /// A read failed where frame bytes were expected (sheet section 5:
    /// `Error read data(-1)` when the server closed TCP without a CLOSE;
    /// the same line for an RST is inferred).
    fn read_error(&mut self, fin: bool) -> WsRead {
        let con = self.chip.console();
        log!(con, Error, TAG, "Error read data(-1)");
        self.frame.bytes_remaining = 0;
        WsRead::Error { fin }
    }

    /// `esp_transport_ws_send_raw()` → `_ws_write()`: a header with a fresh
    /// 4-byte mask in one write, then the masked payload in a second one
    /// (none for an empty payload). Sheet section 4.
    pub fn send_raw(&mut self, opcode: u8, data: &[u8]) -> Result<usize, Errno> {
        let con = self.chip.console();
        log!(
            con,
            Debug,
            TAG,
            "Sending raw ws message with opcode {opcode}"
        );
        let len = data.len();
        let mut header = vec![opcode];
        if len <= 125 {
            header.push(len as u8 | 0x80);
        } else if len < 65536 {
            header.push(126 | 0x80);
            header.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            header.push(127 | 0x80);
            header.extend_from_slice(&(len as u64).to_be_bytes());
        }
        let mut mask = [0u8; 4];
        self.chip.fill_random(&mut mask);
        header.extend_from_slice(&mask);
        self.tcp.write(&header)?;
        if len == 0 {
            return Ok(0);
        }
        let masked: Vec<u8> = data
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        self.tcp.write(&masked)
    }

    /// `ws_close()` → `base_close()`.
    pub fn close(&mut self) {
        self.tcp.close();
        self.buffered.clear();
        self.frame = FrameState::default();
    }
}

/// A transport's poll, taken out of the lock (see [`WsTransport::poller`]).
pub struct Poller {
    chip: Services,
    buffered: usize,
    socket: Option<(std::sync::Arc<crate::idf::lwip::Lwip>, crate::idf::lwip::Fd)>,
}

impl Poller {
    /// A poll now would return at once: kept bytes, or the socket is
    /// readable already.
    pub fn ready_now(&self) -> bool {
        self.buffered > 0
            || self
                .socket
                .as_ref()
                .is_some_and(|(lwip, fd)| lwip.poll_read(*fd, Duration::ZERO) != Ok(false))
    }

    /// `ws_poll_read()`.
    pub fn poll_read(&self, timeout: Duration) -> Result<bool, Errno> {
        if self.buffered > 0 {
            let con = self.chip.console();
            log!(
                con,
                Debug,
                TAG,
                "ws_poll_read: buffered data available ({} bytes)",
                self.buffered
            );
            return Ok(true);
        }
        let (lwip, fd) = self.socket.as_ref().ok_or(Errno::EBADF)?;
        lwip.poll_read(*fd, timeout)
    }

    /// `esp_transport_ws_poll_connection_closed()`: 1 when the server
    /// closed (FIN, or an RST, which counts as a close too), 0 when
    /// nothing came within `timeout`, -1 when data came instead.
    pub fn poll_connection_closed(&self, timeout: Duration) -> i32 {
        let Some((lwip, fd)) = self.socket.as_ref() else {
            return -1;
        };
        match lwip.poll_read(*fd, timeout) {
            Ok(false) => 0,
            Ok(true) => match lwip.peek(*fd) {
                Ok(Peek::Fin | Peek::Reset) | Err(_) => 1,
                Ok(Peek::Data | Peek::Nothing) => -1,
            },
            Err(_) => -1,
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The status code of `HTTP/1.1 NNN ...` (0 when there is none).
fn status_code(head: &str) -> i32 {
    head.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// `get_http_header()`: a case-insensitive search for `key`, the value up
/// to the line's end, trimmed.
fn header_value(head: &str, key: &str) -> Option<String> {
    let lower = head.to_ascii_lowercase();
    let at = lower.find(&key.to_ascii_lowercase())? + key.len();
    let rest = &head[at..];
    let end = rest.find("\r\n")?;
    Some(rest[..end].trim().to_string())
}

/// RFC 6455's accept value for a key (esp_crypto_sha1 and base64).
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}
