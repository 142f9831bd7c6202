//! NodeMCU's WebSocket client (app/websocket/websocketclient.c, identical
//! on master bad4bdf3, release 36cbf9f0 and dev ca8d008a) as pure logic:
//! the `ws_info` state, URL parsing, the handshake request and its check,
//! the frame parser with its bugs, the sender, the one `timeoutTimer` and
//! its three functions, and the close paths. Facts: the fact sheet
//! nodemcu-websocket-client.md (sections cited as §n) and the C functions
//! named on each item.
//!
//! What the C code calls below it (espconn, `os_timer`, `os_random`,
//! `dns_gethostbyname`) is the [`Espconn`] trait; what it calls above it
//! (the Lua module's callbacks, websocket.c) is returned as an [`Upcall`].
//! A Lua callback may call back into the client (`ws:send()` in
//! `connection`, `ws:close()` in `receive`), so the client is never
//! borrowed while one runs: a method that reaches a callback returns it and
//! keeps where it stopped, and the caller runs the callback and then calls
//! [`WsInfo::resume`] until it returns `None`. The frame loop of
//! `ws_receiveCallback` so goes on after `receive(ws, msg, opcode)` exactly
//! where C goes on after `onReceive` returns.
//!
//! Not modelled: memory. The OOM closes -8 to -14 and -16 (§10) cannot
//! happen in the model. Nor the reads and writes the C code makes past the
//! bytes it was given (`strstr` on a segment that is not NUL-terminated, a
//! frame header cut by the end of a segment, unmasking a payload that has
//! not all arrived yet): the model cannot know what lies in that memory, so
//! it reads only what arrived (a header cut short waits for more, as a
//! payload cut short does).

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// `WS_CONNECT_TIMEOUT_MS`, `WS_PING_INTERVAL_MS`,
/// `WS_FORCE_CLOSE_TIMEOUT_MS`, `WS_UNHEALTHY_THRESHOLD` (§3.8, §8, §9).
pub const CONNECT_TIMEOUT_MS: u32 = 10_000;
pub const PING_INTERVAL_MS: u32 = 30_000;
pub const FORCE_CLOSE_TIMEOUT_MS: u32 = 5_000;
const UNHEALTHY_THRESHOLD: u8 = 2;

const OP_CONTINUATION: u8 = 0x0;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// `WS_GUID`.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// `WS_HTTP_SWITCH_PROTOCOL_HEADER`.
const SWITCHING: &[u8] = b"HTTP/1.1 101";

/// The close status for "TCP closed with no recorded reason"
/// (`disconnect_callback`: a `knownFailureCode` of 0 becomes -99, §9).
pub const NO_REASON: i32 = -99;

/// A parsed `ws://` or `wss://` URL (`ws_connect`, §3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub secure: bool,
    pub host: Vec<u8>,
    pub port: u16,
    /// From the first `/` after the scheme to the end, query included.
    pub path: Vec<u8>,
}

/// `ws_connect`'s URL checks (§3, steps 1-5): the URL, or the close status
/// it fails with (-1 to -4), which C reports through the close callback
/// inside `ws:connect()`.
pub fn parse_url(url: &[u8]) -> Result<Url, i32> {
    let starts = |p: &[u8]| url.len() >= p.len() && url[..p.len()].eq_ignore_ascii_case(p);
    let (secure, rest) = if starts(b"wss://") {
        (true, &url[6..])
    } else if starts(b"ws://") {
        (false, &url[5..])
    } else {
        return Err(-1);
    };
    // `char hostname[256]`: with a path, a host part of 256 bytes or more
    // is refused; without one, C copies it unchecked (a stack overflow the
    // model does not reproduce: it takes the host as it is).
    let (mut host, path) = match rest.iter().position(|&c| c == b'/') {
        Some(i) => {
            if i >= 256 {
                return Err(-2);
            }
            (rest[..i].to_vec(), rest[i..].to_vec())
        }
        None => (rest.to_vec(), b"/".to_vec()),
    };
    // `strchr` and the C strings stop at a NUL byte.
    if let Some(n) = host.iter().position(|&c| c == 0) {
        host.truncate(n);
    }
    let port = match host.iter().position(|&c| c == b':') {
        Some(i) => {
            let port = atoi(&host[i + 1..]);
            if port <= 0 || port > 65535 {
                return Err(-3);
            }
            host.truncate(i);
            port as u16
        }
        None if secure => 443,
        None => 80,
    };
    if host.is_empty() {
        return Err(-4);
    }
    Ok(Url {
        secure,
        host,
        port,
        path,
    })
}

/// C's `atoi`: leading blanks, a sign, digits; 0 when none (the overflow
/// of a very long number is undefined in C; the model saturates).
fn atoi(s: &[u8]) -> i64 {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut n: i64 = 0;
    while let Some(d) = s.get(i).filter(|c| c.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(d - b'0'));
        i += 1;
    }
    if neg { -n } else { n }
}

/// `generateSecKeys`: the 24-character key from 16 random bytes, each the
/// low byte of `os_random()`, and the 28-character accept value the
/// response must contain (§4).
pub fn sec_keys(random: [u8; 16]) -> (String, String) {
    let key = base64::engine::general_purpose::STANDARD.encode(random);
    (key.clone(), accept_for(&key))
}

/// base64(SHA-1(key + GUID)).
pub fn accept_for(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// `connect_callback`'s request (§4): `WS_INIT_REQUEST`'s request line and
/// `Host: host:port` (the port always), then `sprintf_headers` over the
/// mandatory, extra (`ws:config`) and default header sets: a header is
/// written only if no earlier one in that order has the same name, case
/// ignored.
pub fn request(url: &Url, key: &str, extra: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(&url.path);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(&url.host);
    out.extend_from_slice(format!(":{}\r\n", url.port).as_bytes());
    let mandatory: [(&[u8], &[u8]); 4] = [
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Key", key.as_bytes()),
        (b"Sec-WebSocket-Version", b"13"),
    ];
    let defaults: [(&[u8], &[u8]); 2] = [
        (b"User-Agent", b"ESP8266"),
        (b"Sec-WebSocket-Protocol", b"chat"),
    ];
    // C strings: a key or value stops at its first NUL byte.
    let cut = |s: &[u8]| -> Vec<u8> { s.iter().copied().take_while(|&c| c != 0).collect() };
    let all: Vec<(Vec<u8>, Vec<u8>)> = mandatory
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .chain(extra.iter().map(|(k, v)| (cut(k), cut(v))))
        .chain(defaults.iter().map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect();
    for (i, (k, v)) in all.iter().enumerate() {
        if all[..i].iter().any(|(k2, _)| k2.eq_ignore_ascii_case(k)) {
            continue;
        }
        out.extend_from_slice(k);
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// `ws_sendFrame`'s bytes (§6): FIN always set, the opcode added to 0x80
/// (a value above 15 spills into the other bits), always masked with
/// `mask`; `len` is already an `unsigned short`, so the 64-bit length
/// branch is never taken.
pub fn frame(opcode: i64, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let len = payload.len();
    let mut b = Vec::with_capacity(len + 8);
    b.push(0x80u8.wrapping_add(opcode as u8));
    if len < 126 {
        b.push(0x80 | len as u8);
    } else {
        b.push(0x80 | 126);
        b.push((len >> 8) as u8);
        b.push(len as u8);
    }
    b.extend_from_slice(&mask);
    b.extend(payload.iter().enumerate().map(|(i, c)| c ^ mask[i % 4]));
    b
}

/// What websocketclient.c calls below it: espconn (over lwIP), the SDK's
/// `os_timer` (the one `timeoutTimer`), `os_random` and lwIP's DNS. Each
/// call returns at once; what comes of it (a connection, a completed send,
/// a close, a timer firing) comes back later through the [`WsInfo`]
/// method of the C callback it would call.
pub trait Espconn {
    /// `os_random()`.
    fn random(&mut self) -> u32;
    /// `dns_gethostbyname` with `dns_callback`: the address at once
    /// (`ERR_OK`, a dotted address), or None when the answer comes later
    /// through [`WsInfo::dns_found`].
    fn resolve(&mut self, host: &[u8]) -> Option<[u8; 4]>;
    /// `espconn_connect` (`espconn_secure_connect` for `wss://`).
    fn connect(&mut self, ip: [u8; 4], port: u16, secure: bool);
    /// `espconn_send`: one write of these bytes.
    fn send(&mut self, data: &[u8]);
    /// `espconn_disconnect`: close the connection (FIN); espconn then
    /// calls [`WsInfo::disconnected`].
    fn disconnect(&mut self);
    /// `espconn_delete` of the client's espconn (from
    /// `disconnect_callback`): the module forgets the connection. For a
    /// client it closes nothing (`espconn_tcp_delete` only acts on
    /// servers), so a connection still open when -18 fires stays open on
    /// the wire (inferred).
    fn delete(&mut self);
    /// `os_timer_disarm` then `os_timer_arm(ms, repeat)` of `timeoutTimer`.
    fn arm_timer(&mut self, ms: u32, repeat: bool);
    /// `os_timer_disarm`.
    fn disarm_timer(&mut self);
}

/// A call from websocketclient.c into the Lua module (websocket.c's
/// `websocketclient_on*Callback`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Upcall {
    /// `connection(ws)`.
    Connection,
    /// `receive(ws, msg, opcode)`.
    Receive { payload: Vec<u8>, opcode: i64 },
    /// `close(ws, status)`; the module then drops its self reference.
    Close(i32),
}

/// The function `timeoutTimer` runs (`os_timer_setfn`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TimerFn {
    /// `ws_connectTimeout`.
    Connect,
    /// `ws_sendPingTimeout`.
    Ping,
    /// `ws_forceCloseTimeout`.
    ForceClose,
}

/// Where `b` points in `ws_receiveCallback`'s loop.
#[derive(Clone, Debug)]
enum Src {
    /// Into the segment espconn handed over.
    Segment(Vec<u8>),
    /// Into `frameBuffer`.
    FrameBuffer,
}

/// `ws_receiveCallback`'s loop, paused at a Lua callback.
#[derive(Clone, Debug)]
struct Parse {
    src: Src,
    /// `b`'s offset in its buffer.
    pos: usize,
    /// `len` (an `unsigned short`).
    len: u16,
    /// Set after a frame was handled: `bufOffset += payloadLength`, the
    /// step that follows the callback.
    advance: Option<u64>,
}

/// What the client resumes after a callback returns.
#[derive(Clone, Debug)]
enum Pending {
    Nothing,
    /// `ws_initReceiveCallback` after `onConnection`: the bytes after the
    /// header block, fed to `ws_receiveCallback`.
    AfterConnection(Vec<u8>),
    Parse(Parse),
}

/// `ws_info`: one client (§2).
#[derive(Debug)]
pub struct WsInfo {
    /// `connectionState`, 0 to 4 (§2).
    pub state: u8,
    known_failure: i32,
    url: Option<Url>,
    expected_key: Option<String>,
    /// `extraHeaders` (`ws:config`).
    pub extra_headers: Vec<(Vec<u8>, Vec<u8>)>,
    frame_buffer: Option<Vec<u8>>,
    frame_buffer_len: u16,
    payload_buffer: Option<Vec<u8>>,
    payload_buffer_len: u16,
    payload_original_opcode: u8,
    unhealthy: u8,
    timer_fn: Option<TimerFn>,
    /// `ws->conn != NULL`.
    has_conn: bool,
    /// The receive callback is `ws_receiveCallback` (else
    /// `ws_initReceiveCallback`).
    handshake_done: bool,
    /// `espconn_regist_sentcb(conn, ws_closeSentCallback)` was called.
    close_sent_cb: bool,
    pending: Pending,
}

impl Default for WsInfo {
    fn default() -> Self {
        Self::new()
    }
}

impl WsInfo {
    /// `websocket_createClient`: state 0, no extra headers.
    pub fn new() -> WsInfo {
        WsInfo {
            state: 0,
            known_failure: 0,
            url: None,
            expected_key: None,
            extra_headers: Vec::new(),
            frame_buffer: None,
            frame_buffer_len: 0,
            payload_buffer: None,
            payload_buffer_len: 0,
            payload_original_opcode: 0,
            unhealthy: 0,
            timer_fn: None,
            has_conn: false,
            handshake_done: false,
            close_sent_cb: false,
            pending: Pending::Nothing,
        }
    }

    /// The URL of the last `connect` that parsed.
    pub fn url(&self) -> Option<&Url> {
        self.url.as_ref()
    }

    /// The accept value the handshake response must contain.
    pub fn expected_key(&self) -> Option<&str> {
        self.expected_key.as_deref()
    }

    /// `ws_connect` (after websocket.c's `connect` set state 0): a URL
    /// that does not parse is reported at once (-1 to -4, §3); otherwise
    /// state 1, a fresh start, and the name is resolved.
    pub fn connect(&mut self, url: &[u8], env: &mut dyn Espconn) -> Option<Upcall> {
        let parsed = match parse_url(url) {
            Ok(u) => u,
            Err(code) => return Some(Upcall::Close(code)),
        };
        self.state = 1;
        self.known_failure = 0;
        self.expected_key = None;
        self.frame_buffer = None;
        self.frame_buffer_len = 0;
        self.payload_buffer = None;
        self.payload_buffer_len = 0;
        self.payload_original_opcode = 0;
        self.unhealthy = 0;
        self.has_conn = true;
        self.handshake_done = false;
        self.close_sent_cb = false;
        self.pending = Pending::Nothing;
        let host = parsed.host.clone();
        self.url = Some(parsed);
        // ERR_INPROGRESS: wait; anything else: dns_callback now.
        match env.resolve(&host) {
            Some(ip) => self.dns_found(Some(ip), env),
            None => None,
        }
    }

    /// `dns_callback` (§3.7): -5 without an address; else state 2, the
    /// connect timeout armed (one-shot 10 s) and `espconn_connect`.
    pub fn dns_found(&mut self, addr: Option<[u8; 4]>, env: &mut dyn Espconn) -> Option<Upcall> {
        if !self.has_conn || self.state == 4 {
            return None;
        }
        let Some(ip) = addr else {
            self.known_failure = -5;
            return self.disconnected(env);
        };
        self.state = 2;
        self.timer_fn = Some(TimerFn::Connect);
        env.arm_timer(CONNECT_TIMEOUT_MS, false);
        let url = self.url.clone().expect("a connecting client has a URL");
        env.connect(ip, url.port, url.secure);
        None
    }

    /// `connect_callback` (§4): TCP is up; state 3 (before any 101), a
    /// fresh key, the request in one send.
    pub fn connected(&mut self, env: &mut dyn Espconn) {
        if !self.has_conn {
            return;
        }
        self.state = 3;
        self.handshake_done = false;
        let mut random = [0u8; 16];
        for b in random.iter_mut() {
            *b = env.random() as u8;
        }
        let (key, expected) = sec_keys(random);
        self.expected_key = Some(expected);
        let url = self.url.clone().expect("a connected client has a URL");
        env.send(&request(&url, &key, &self.extra_headers));
    }

    /// A TCP segment arrived: `ws_initReceiveCallback` for the first, then
    /// `ws_receiveCallback`.
    pub fn received(&mut self, segment: &[u8], env: &mut dyn Espconn) -> Option<Upcall> {
        if !self.has_conn {
            return None;
        }
        if self.handshake_done {
            self.receive(segment.to_vec(), env)
        } else {
            self.init_receive(segment, env)
        }
    }

    /// `ws_initReceiveCallback` (§5). `strstr` stops at the segment's
    /// first NUL byte.
    fn init_receive(&mut self, segment: &[u8], env: &mut dyn Espconn) -> Option<Upcall> {
        let text = match segment.iter().position(|&c| c == 0) {
            Some(n) => &segment[..n],
            None => segment,
        };
        if find(text, SWITCHING).is_none() {
            self.known_failure = -17;
            env.disconnect();
            return None;
        }
        let expected = self.expected_key.clone().unwrap_or_default();
        if find(text, expected.as_bytes()).is_none() {
            self.known_failure = -7;
            env.disconnect();
            return None;
        }
        env.disarm_timer();
        self.timer_fn = Some(TimerFn::Ping);
        env.arm_timer(PING_INTERVAL_MS, true);
        self.handshake_done = true;
        // `dataLength = len - (data - buf) - 4`, an unsigned short.
        let rest = match find(text, b"\r\n\r\n") {
            Some(i) => {
                let n = (segment.len() as u16)
                    .wrapping_sub(i as u16)
                    .wrapping_sub(4);
                let from = i + 4;
                segment[from.min(segment.len())..(from + n as usize).min(segment.len())].to_vec()
            }
            None => Vec::new(),
        };
        self.pending = if rest.is_empty() {
            Pending::Nothing
        } else {
            Pending::AfterConnection(rest)
        };
        Some(Upcall::Connection)
    }

    /// `ws_receiveCallback`'s start (§7): the health check is re-armed
    /// (30 s, periodic, with whatever function the timer has), and a
    /// segment is appended to a frame being reassembled.
    fn receive(&mut self, segment: Vec<u8>, env: &mut dyn Espconn) -> Option<Upcall> {
        self.unhealthy = 0;
        env.disarm_timer();
        env.arm_timer(PING_INTERVAL_MS, true);
        let len = segment.len() as u16;
        let parse = match self.frame_buffer.as_mut() {
            Some(fb) => {
                // realloc(frameBuffer, frameBufferLen + len): what lies past
                // frameBufferLen (an unsigned short) is lost.
                fb.truncate(self.frame_buffer_len as usize);
                fb.extend_from_slice(&segment[..len as usize]);
                self.frame_buffer_len = self.frame_buffer_len.wrapping_add(len);
                Parse {
                    src: Src::FrameBuffer,
                    pos: 0,
                    len: self.frame_buffer_len,
                    advance: None,
                }
            }
            None => Parse {
                src: Src::Segment(segment),
                pos: 0,
                len,
                advance: None,
            },
        };
        self.pending = Pending::Parse(parse);
        self.run(env)
    }

    /// Goes on after the callback the last call returned.
    pub fn resume(&mut self, env: &mut dyn Espconn) -> Option<Upcall> {
        match std::mem::replace(&mut self.pending, Pending::Nothing) {
            Pending::Nothing => None,
            Pending::AfterConnection(rest) => {
                if !self.has_conn {
                    return None;
                }
                self.receive(rest, env)
            }
            p @ Pending::Parse(_) => {
                self.pending = p;
                self.run(env)
            }
        }
    }

    fn bytes<'a>(&'a self, src: &'a Src) -> &'a [u8] {
        match src {
            Src::Segment(s) => s,
            Src::FrameBuffer => self.frame_buffer.as_deref().unwrap_or(&[]),
        }
    }

    /// `ws_receiveCallback`'s loop over the frames in `b[0..len]`.
    fn run(&mut self, env: &mut dyn Espconn) -> Option<Upcall> {
        loop {
            let Pending::Parse(mut p) = std::mem::replace(&mut self.pending, Pending::Nothing)
            else {
                return None;
            };
            if let Some(done) = p.advance.take() {
                // bufOffset += payloadLength; then either the end of the
                // data, or on to the next frame.
                if done == u64::from(p.len) {
                    if self.frame_buffer.take().is_some() {
                        self.frame_buffer_len = 0;
                    }
                    return None;
                }
                p.len = p.len.wrapping_sub(done as u16);
                p.pos += done as usize;
                if self.frame_buffer.is_some() {
                    // realloc + memcpy(frameBuffer + frameBufferLen, b, len)
                    // and b = frameBuffer: the remaining bytes are appended
                    // to the buffer and parsing starts again at its start,
                    // so frames already handled are parsed again (§7, last
                    // bullet, inferred).
                    let tail: Vec<u8> = {
                        let all = self.bytes(&p.src);
                        let end = (p.pos + p.len as usize).min(all.len());
                        all[p.pos.min(end)..end].to_vec()
                    };
                    let keep = self.frame_buffer_len as usize;
                    if let Some(fb) = self.frame_buffer.as_mut() {
                        fb.truncate(keep);
                        fb.extend_from_slice(&tail);
                    }
                    self.frame_buffer_len = self.frame_buffer_len.wrapping_add(p.len);
                    p.src = Src::FrameBuffer;
                    p.pos = 0;
                }
            }
            match self.frame(p, env) {
                Step::Stop => return None,
                Step::Next(p) => self.pending = Pending::Parse(p),
                Step::Call(p, up) => {
                    self.pending = Pending::Parse(p);
                    return Some(up);
                }
            }
        }
    }

    /// One pass of the loop's body: the frame at `b`.
    fn frame(&mut self, mut p: Parse, env: &mut dyn Espconn) -> Step {
        let avail = {
            let all = self.bytes(&p.src);
            let end = (p.pos + p.len as usize).min(all.len());
            end.saturating_sub(p.pos)
        };
        let at = |s: &Self, i: usize| -> u8 { s.bytes(&p.src)[p.pos + i] };
        // A header cut short by the end of the data: C reads on past it
        // (see the file's header); the model waits for more, as for an
        // incomplete payload.
        let need = |n: usize| avail < n;
        if need(2) {
            return self.incomplete(p);
        }
        let (b0, b1) = (at(self, 0), at(self, 1));
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0f;
        let masked = b1 & 0x80 != 0;
        let mut payload_len = u64::from(b1 & 0x7f);
        let mut off = 2usize;
        if payload_len == 126 {
            if need(4) {
                return self.incomplete(p);
            }
            payload_len = (u64::from(at(self, 2)) << 8) + u64::from(at(self, 3));
            off = 4;
        } else if payload_len == 127 {
            // Four bytes of length in a six-byte header, where RFC 6455 has
            // eight in ten: the high half of a real 64-bit length (§7).
            // `(b[2] << 24)` is an int: a top bit set makes it negative,
            // and the uint64_t it becomes huge.
            if need(6) {
                return self.incomplete(p);
            }
            let v = (i32::from(at(self, 2)) << 24)
                .wrapping_add(i32::from(at(self, 3)) << 16)
                .wrapping_add(i32::from(at(self, 4)) << 8)
                .wrapping_add(i32::from(at(self, 5)));
            payload_len = v as i64 as u64;
            off = 6;
        }
        if masked {
            if need(off + 4) {
                return self.incomplete(p);
            }
            // Unmasked in place before the completeness check (§7): the
            // bytes that have arrived are unmasked now, and again when the
            // frame is parsed once more from the reassembly buffer.
            let mask = [
                at(self, off),
                at(self, off + 1),
                at(self, off + 2),
                at(self, off + 3),
            ];
            off += 4;
            let start = p.pos + off;
            let end = (p.pos + avail).min(start.saturating_add(payload_len as usize));
            let buf: &mut [u8] = match &mut p.src {
                Src::Segment(s) => s,
                Src::FrameBuffer => self.frame_buffer.as_deref_mut().unwrap_or(&mut []),
            };
            for (i, c) in buf[start.min(end)..end].iter_mut().enumerate() {
                *c ^= mask[i % 4];
            }
        }
        // `payloadLength > len - bufOffset`.
        if payload_len > (avail - off) as u64 {
            return self.incomplete(p);
        }
        let payload: Vec<u8> = {
            let s = p.pos + off;
            self.bytes(&p.src)[s..s + payload_len as usize].to_vec()
        };
        let done = off as u64 + payload_len;
        if !fin {
            match self.payload_buffer.as_mut() {
                None => {
                    // The bug of §7: the size goes to frameBufferLen, and
                    // payloadBufferLen stays 0, so the next fragment is
                    // written over this one: the first fragment is lost.
                    self.payload_buffer = Some(payload);
                    self.frame_buffer_len = payload_len as u16;
                    self.payload_original_opcode = opcode;
                }
                Some(pb) => {
                    pb.truncate(self.payload_buffer_len as usize);
                    pb.extend_from_slice(&payload);
                    self.payload_buffer_len =
                        self.payload_buffer_len.wrapping_add(payload_len as u16);
                }
            }
            p.advance = Some(done);
            return Step::Next(p);
        }
        let (message, opcode) = if opcode == OP_CONTINUATION {
            let Some(pb) = self.payload_buffer.take() else {
                // "Server not following FIN bit protocol correctly".
                self.known_failure = -15;
                env.disconnect();
                return Step::Stop;
            };
            let mut m = pb[..(self.payload_buffer_len as usize).min(pb.len())].to_vec();
            m.extend_from_slice(&payload);
            self.payload_buffer_len = 0;
            let op = std::mem::replace(&mut self.payload_original_opcode, 0);
            (m, op)
        } else {
            (payload.clone(), opcode)
        };
        p.advance = Some(done);
        match opcode {
            OP_CLOSE => {
                // The server's whole payload (status and reason) echoed,
                // masked; state 4 after; -6 once that send completes.
                self.close_sent_cb = true;
                self.send_frame(
                    i64::from(OP_CLOSE),
                    &payload[..(payload.len() as u16) as usize],
                    env,
                );
                self.state = 4;
                Step::Next(p)
            }
            OP_PING => {
                self.send_frame(
                    i64::from(OP_PONG),
                    &payload[..(payload.len() as u16) as usize],
                    env,
                );
                Step::Next(p)
            }
            // The receive itself re-armed the health check.
            OP_PONG => Step::Next(p),
            _ => Step::Call(
                p,
                Upcall::Receive {
                    payload: message,
                    opcode: i64::from(opcode),
                },
            ),
        }
    }

    /// An incomplete frame: the rest of the data goes into a new
    /// reassembly buffer (an existing one holds it already); wait.
    fn incomplete(&mut self, p: Parse) -> Step {
        if self.frame_buffer.is_none() {
            let all = self.bytes(&p.src);
            let end = (p.pos + p.len as usize).min(all.len());
            let rest = all[p.pos.min(end)..end].to_vec();
            self.frame_buffer = Some(rest);
            self.frame_buffer_len = p.len;
        }
        Step::Stop
    }

    /// `ws_sendFrame` (§6): dropped unless state 3; a fresh mask.
    fn send_frame(&mut self, opcode: i64, payload: &[u8], env: &mut dyn Espconn) {
        if self.state != 3 || !self.has_conn {
            return;
        }
        let mut mask = [0u8; 4];
        for b in mask.iter_mut() {
            *b = env.random() as u8;
        }
        env.send(&frame(opcode, payload, mask));
    }

    /// `ws_send` from `ws:send(msg, opcode)`: the length is an unsigned
    /// short (payloads of 64 KiB and more are cut modulo 65536, §1).
    pub fn send(&mut self, opcode: i64, msg: &[u8], env: &mut dyn Espconn) {
        let len = msg.len() as u16 as usize;
        self.send_frame(opcode, &msg[..len], env);
    }

    /// `os_timer` fired `timeoutTimer`'s function.
    pub fn timer_fired(&mut self, env: &mut dyn Espconn) -> Option<Upcall> {
        if !self.has_conn {
            return None;
        }
        match self.timer_fn? {
            // ws_connectTimeout: -18 through disconnect_callback directly,
            // no espconn_disconnect (§3.8).
            TimerFn::Connect => {
                self.known_failure = -18;
                self.disconnected(env)
            }
            // ws_sendPingTimeout (§8).
            TimerFn::Ping => {
                if self.unhealthy == UNHEALTHY_THRESHOLD {
                    self.known_failure = -19;
                    env.disconnect();
                    return None;
                }
                self.send_frame(i64::from(OP_PING), &[], env);
                self.unhealthy += 1;
                None
            }
            // ws_forceCloseTimeout (§9).
            TimerFn::ForceClose => {
                if self.state != 0 && self.state != 4 {
                    env.disconnect();
                }
                None
            }
        }
    }

    /// espconn's sent callback: a send completed. With
    /// `ws_closeSentCallback` registered (the echo of a server's CLOSE),
    /// -6 and a disconnect.
    pub fn sent(&mut self, env: &mut dyn Espconn) {
        if self.close_sent_cb && self.has_conn {
            self.known_failure = -6;
            env.disconnect();
        }
    }

    /// espconn's reconnect (error) callback, `error_callback`: the status
    /// is the espconn error minus 100 (§9: an RST, ESPCONN_RST -9, is
    /// -109).
    pub fn error(&mut self, err_type: i8, env: &mut dyn Espconn) -> Option<Upcall> {
        if !self.has_conn {
            return None;
        }
        self.known_failure = i32::from(err_type) - 100;
        self.disconnected(env)
    }

    /// `disconnect_callback` (§9): state 4, the timer disarmed, everything
    /// freed, the espconn deleted, and `close` with the recorded reason or
    /// -99. Status 0 is never delivered.
    pub fn disconnected(&mut self, env: &mut dyn Espconn) -> Option<Upcall> {
        if !self.has_conn {
            return None;
        }
        self.state = 4;
        env.disarm_timer();
        self.timer_fn = None;
        self.expected_key = None;
        self.frame_buffer = None;
        self.payload_buffer = None;
        self.pending = Pending::Nothing;
        self.close_sent_cb = false;
        env.delete();
        self.has_conn = false;
        let code = if self.known_failure != 0 {
            self.known_failure
        } else {
            NO_REASON
        };
        Some(Upcall::Close(code))
    }

    /// `ws_close` from `ws:close()` (§9): nothing in state 0 or 4; during
    /// DNS, -99 at once; else an empty CLOSE (sent only in state 3) and
    /// the timer becomes the one-shot 5 s force close.
    pub fn close(&mut self, env: &mut dyn Espconn) -> Option<Upcall> {
        if self.state == 0 || self.state == 4 {
            return None;
        }
        self.known_failure = 0;
        if self.state == 1 {
            return self.disconnected(env);
        }
        self.send_frame(i64::from(OP_CLOSE), &[], env);
        env.disarm_timer();
        self.timer_fn = Some(TimerFn::ForceClose);
        env.arm_timer(FORCE_CLOSE_TIMEOUT_MS, false);
        None
    }
}

enum Step {
    Stop,
    Next(Parse),
    Call(Parse, Upcall),
}

/// `strstr` within a slice.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests;
