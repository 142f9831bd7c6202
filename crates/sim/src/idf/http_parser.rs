//! The request side of the `http_parser` that esp_http_server uses
//! (components/http_parser/http_parser.c, the Joyent/nodejs parser v2.x,
//! compiled with its default `HTTP_PARSER_STRICT=1`).
//!
//! esp_http_server's debug log is shaped by this parser's callback
//! semantics, so they are reproduced exactly rather than approximated:
//! - data callbacks (`on_url`, `on_header_field`, `on_header_value`,
//!   `on_body`) fire when the element ends, or with the partial element when
//!   the input block ends (that is how a header name split over two 128-byte
//!   reads shows up as `processing field = Se` then `c-WebSocket-Version`);
//! - a callback that pauses the parser makes `execute` return just past the
//!   byte that triggered it (`p - data + 1`, the `CALLBACK_DATA` macro), which
//!   is where esp_http_server's `pre_parsed` arithmetic comes from;
//! - `nread` counts header bytes with the parser's own quirk: the first byte
//!   of a header name is counted twice when the name is split across two
//!   `execute` calls (the documented `bytes read = 169` for a 168-byte
//!   request).
//!
//! Only what a request parser needs is here (the parser is always created
//! with `HTTP_REQUEST` by httpd_parse.c's `parse_init`).

/// `enum http_errno` (HTTP_ERRNO_MAP order).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Hpe {
    Ok = 0,
    CbMessageBegin,
    CbUrl,
    CbHeaderField,
    CbHeaderValue,
    CbHeadersComplete,
    CbBody,
    CbMessageComplete,
    CbStatus,
    CbChunkHeader,
    CbChunkComplete,
    InvalidEofState,
    HeaderOverflow,
    ClosedConnection,
    InvalidVersion,
    InvalidStatus,
    InvalidMethod,
    InvalidUrl,
    InvalidHost,
    InvalidPort,
    InvalidPath,
    InvalidQueryString,
    InvalidFragment,
    LfExpected,
    InvalidHeaderToken,
    InvalidContentLength,
    UnexpectedContentLength,
    InvalidChunkSize,
    InvalidConstant,
    InvalidInternalState,
    Strict,
    Paused,
    Unknown,
}

/// `enum http_method` (HTTP_METHOD_MAP order) and the method strings.
pub const METHODS: [&str; 33] = [
    "DELETE",
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "CONNECT",
    "OPTIONS",
    "TRACE",
    "COPY",
    "LOCK",
    "MKCOL",
    "MOVE",
    "PROPFIND",
    "PROPPATCH",
    "SEARCH",
    "UNLOCK",
    "BIND",
    "REBIND",
    "UNBIND",
    "ACL",
    "REPORT",
    "MKACTIVITY",
    "CHECKOUT",
    "MERGE",
    "M-SEARCH",
    "NOTIFY",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "PATCH",
    "PURGE",
    "MKCALENDAR",
    "LINK",
    "UNLINK",
];

pub const HTTP_DELETE: u8 = 0;
pub const HTTP_GET: u8 = 1;
pub const HTTP_HEAD: u8 = 2;
pub const HTTP_POST: u8 = 3;
pub const HTTP_PUT: u8 = 4;
pub const HTTP_CONNECT: u8 = 5;
const HTTP_OPTIONS: u8 = 6;
const HTTP_TRACE: u8 = 7;
const HTTP_COPY: u8 = 8;
const HTTP_LOCK: u8 = 9;
const HTTP_MKCOL: u8 = 10;
const HTTP_MOVE: u8 = 11;
const HTTP_PROPFIND: u8 = 12;
const HTTP_PROPPATCH: u8 = 13;
const HTTP_SEARCH: u8 = 14;
const HTTP_UNLOCK: u8 = 15;
const HTTP_BIND: u8 = 16;
const HTTP_REBIND: u8 = 17;
const HTTP_UNBIND: u8 = 18;
const HTTP_ACL: u8 = 19;
const HTTP_REPORT: u8 = 20;
const HTTP_MKACTIVITY: u8 = 21;
const HTTP_CHECKOUT: u8 = 22;
const HTTP_MERGE: u8 = 23;
const HTTP_MSEARCH: u8 = 24;
const HTTP_NOTIFY: u8 = 25;
const HTTP_SUBSCRIBE: u8 = 26;
const HTTP_UNSUBSCRIBE: u8 = 27;
const HTTP_PATCH: u8 = 28;
const HTTP_PURGE: u8 = 29;
const HTTP_MKCALENDAR: u8 = 30;
const HTTP_LINK: u8 = 31;
const HTTP_UNLINK: u8 = 32;

const F_CHUNKED: u8 = 1 << 0;
const F_CONNECTION_KEEP_ALIVE: u8 = 1 << 1;
const F_CONNECTION_CLOSE: u8 = 1 << 2;
const F_CONNECTION_UPGRADE: u8 = 1 << 3;
const F_TRAILING: u8 = 1 << 4;
const F_UPGRADE: u8 = 1 << 5;
const F_SKIPBODY: u8 = 1 << 6;
const F_CONTENTLENGTH: u8 = 1 << 7;

/// `HTTP_MAX_HEADER_SIZE` default.
const MAX_HEADER_SIZE: u32 = 80 * 1024;
const NO_CONTENT_LENGTH: u64 = u64::MAX;

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum S {
    Dead = 1,
    StartReq = 21,
    ReqMethod,
    ReqSpacesBeforeUrl,
    ReqSchema,
    ReqSchemaSlash,
    ReqSchemaSlashSlash,
    ReqServerStart,
    ReqServer,
    ReqServerWithAt,
    ReqPath,
    ReqQueryStringStart,
    ReqQueryString,
    ReqFragmentStart,
    ReqFragment,
    ReqHttpStart,
    ReqHttpH,
    ReqHttpHT,
    ReqHttpHTT,
    ReqHttpHTTP,
    ReqFirstHttpMajor,
    ReqHttpMajor,
    ReqFirstHttpMinor,
    ReqHttpMinor,
    ReqLineAlmostDone,
    HeaderFieldStart,
    HeaderField,
    HeaderValueDiscardWs,
    HeaderValueDiscardWsAlmostDone,
    HeaderValueDiscardLws,
    HeaderValueStart,
    HeaderValue,
    HeaderValueLws,
    HeaderAlmostDone,
    ChunkSizeStart,
    ChunkSize,
    ChunkParameters,
    ChunkSizeAlmostDone,
    HeadersAlmostDone,
    HeadersDone,
    ChunkData,
    ChunkDataAlmostDone,
    ChunkDataDone,
    BodyIdentity,
    MessageDone,
}

impl S {
    /// `PARSING_HEADER(state)`: every state up to `s_headers_done`.
    fn parsing_header(self) -> bool {
        self <= S::HeadersDone
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum H {
    General,
    C,
    Co,
    Con,
    MatchingConnection,
    MatchingProxyConnection,
    MatchingContentLength,
    MatchingTransferEncoding,
    MatchingUpgrade,
    Connection,
    ContentLength,
    TransferEncoding,
    Upgrade,
    MatchingTransferEncodingChunked,
    MatchingConnectionTokenStart,
    MatchingConnectionKeepAlive,
    MatchingConnectionClose,
    MatchingConnectionUpgrade,
    MatchingConnectionToken,
    TransferEncodingChunked,
    ConnectionKeepAlive,
    ConnectionClose,
    ConnectionUpgrade,
}

/// The callbacks httpd_parse.c installs. Offsets are into the buffer the
/// caller passed to [`HttpParser::execute`] plus its `base`, i.e. positions in
/// esp_http_server's scratch buffer. A non-zero return fails the callback
/// (`HPE_CB_*`); a callback may call [`HttpParser::pause`].
pub trait Callbacks {
    fn on_url(&mut self, p: &mut HttpParser, at: usize, len: usize) -> i32;
    fn on_header_field(&mut self, p: &mut HttpParser, at: usize, len: usize) -> i32;
    fn on_header_value(&mut self, p: &mut HttpParser, at: usize, len: usize) -> i32;
    fn on_headers_complete(&mut self, p: &mut HttpParser) -> i32;
    fn on_body(&mut self, p: &mut HttpParser, at: usize, len: usize) -> i32;
    fn on_message_complete(&mut self, p: &mut HttpParser) -> i32;
}

#[derive(Clone, Debug)]
pub struct HttpParser {
    state: S,
    header_state: H,
    /// A 7-bit field in C.
    index: u8,
    flags: u8,
    pub nread: u32,
    pub content_length: u64,
    pub http_major: u16,
    pub http_minor: u16,
    pub method: u8,
    pub http_errno: Hpe,
    pub upgrade: bool,
}

impl Default for HttpParser {
    fn default() -> Self {
        Self::new()
    }
}

fn token(c: u8) -> u8 {
    match c {
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_'
        | b'`' | b'|' | b'~' => c,
        b'0'..=b'9' | b'a'..=b'z' => c,
        b'A'..=b'Z' => c | 0x20,
        _ => 0,
    }
}

fn is_alpha(c: u8) -> bool {
    (c | 0x20).is_ascii_lowercase()
}
fn is_num(c: u8) -> bool {
    c.is_ascii_digit()
}
fn is_alphanum(c: u8) -> bool {
    is_alpha(c) || is_num(c)
}
fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}
fn is_mark(c: u8) -> bool {
    matches!(
        c,
        b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
    )
}
fn is_userinfo_char(c: u8) -> bool {
    is_alphanum(c)
        || is_mark(c)
        || matches!(c, b'%' | b';' | b':' | b'&' | b'=' | b'+' | b'$' | b',')
}
/// `IS_URL_CHAR` in strict mode: visible ASCII except `#` and `?`.
fn is_url_char(c: u8) -> bool {
    (0x21..=0x7e).contains(&c) && c != b'#' && c != b'?'
}
/// `IS_HOST_CHAR` in strict mode.
fn is_host_char(c: u8) -> bool {
    is_alphanum(c) || c == b'.' || c == b'-'
}
fn is_header_char(c: u8) -> bool {
    c == b'\r' || c == b'\n' || c == 9 || (c > 31 && c != 127)
}
fn unhex(c: u8) -> Option<u64> {
    (c as char).to_digit(16).map(u64::from)
}

/// `parse_url_char()`.
fn parse_url_char(s: S, ch: u8) -> S {
    if ch == b' ' || ch == b'\r' || ch == b'\n' || ch == b'\t' || ch == 0x0c {
        return S::Dead;
    }
    match s {
        S::ReqSpacesBeforeUrl => {
            if ch == b'/' || ch == b'*' {
                return S::ReqPath;
            }
            if is_alpha(ch) {
                return S::ReqSchema;
            }
        }
        S::ReqSchema => {
            if is_alpha(ch) {
                return s;
            }
            if ch == b':' {
                return S::ReqSchemaSlash;
            }
        }
        S::ReqSchemaSlash if ch == b'/' => return S::ReqSchemaSlashSlash,
        S::ReqSchemaSlashSlash if ch == b'/' => return S::ReqServerStart,
        S::ReqServerWithAt | S::ReqServerStart | S::ReqServer => {
            if s == S::ReqServerWithAt && ch == b'@' {
                return S::Dead;
            }
            if ch == b'/' {
                return S::ReqPath;
            }
            if ch == b'?' {
                return S::ReqQueryStringStart;
            }
            if ch == b'@' {
                return S::ReqServerWithAt;
            }
            if is_userinfo_char(ch) || ch == b'[' || ch == b']' {
                return S::ReqServer;
            }
        }
        S::ReqPath => {
            if is_url_char(ch) {
                return s;
            }
            match ch {
                b'?' => return S::ReqQueryStringStart,
                b'#' => return S::ReqFragmentStart,
                _ => {}
            }
        }
        S::ReqQueryStringStart | S::ReqQueryString => {
            if is_url_char(ch) {
                return S::ReqQueryString;
            }
            match ch {
                b'?' => return S::ReqQueryString,
                b'#' => return S::ReqFragmentStart,
                _ => {}
            }
        }
        S::ReqFragmentStart => {
            if is_url_char(ch) {
                return S::ReqFragment;
            }
            match ch {
                b'?' => return S::ReqFragment,
                b'#' => return s,
                _ => {}
            }
        }
        S::ReqFragment if is_url_char(ch) || ch == b'?' || ch == b'#' => return s,
        _ => {}
    }
    S::Dead
}

/// Which data callback a mark belongs to.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Mark {
    Url,
    HeaderField,
    HeaderValue,
    Body,
}

/// Why `execute` stopped early.
enum Stop {
    /// Return this many bytes consumed.
    Return(usize),
}

impl HttpParser {
    /// `http_parser_init(parser, HTTP_REQUEST)`.
    pub fn new() -> Self {
        HttpParser {
            state: S::StartReq,
            header_state: H::General,
            index: 0,
            flags: 0,
            nread: 0,
            content_length: 0,
            http_major: 0,
            http_minor: 0,
            method: 0,
            http_errno: Hpe::Ok,
            upgrade: false,
        }
    }

    /// `http_parser_pause()`.
    pub fn pause(&mut self, paused: bool) {
        if self.http_errno == Hpe::Ok || self.http_errno == Hpe::Paused {
            self.http_errno = if paused { Hpe::Paused } else { Hpe::Ok };
        }
    }

    /// `http_should_keep_alive()` for a request.
    fn should_keep_alive(&self) -> bool {
        if self.http_major > 0 && self.http_minor > 0 {
            self.flags & F_CONNECTION_CLOSE == 0
        } else {
            self.flags & F_CONNECTION_KEEP_ALIVE != 0
        }
    }

    /// `NEW_MESSAGE()` in strict mode.
    fn new_message(&self) -> S {
        if self.should_keep_alive() {
            S::StartReq
        } else {
            S::Dead
        }
    }

    /// `http_parser_execute()`. `data` is the block to parse; `base` is its
    /// position in the caller's buffer (callbacks get positions relative to
    /// that buffer).
    pub fn execute(&mut self, cb: &mut dyn Callbacks, data: &[u8], base: usize) -> usize {
        if self.http_errno != Hpe::Ok {
            return 0;
        }
        if data.is_empty() {
            return match self.state {
                S::Dead | S::StartReq => 0,
                _ => {
                    self.http_errno = Hpe::InvalidEofState;
                    1
                }
            };
        }
        match self.run(cb, data, base) {
            Stop::Return(n) => n,
        }
    }

    fn run(&mut self, cb: &mut dyn Callbacks, data: &[u8], base: usize) -> Stop {
        let len = data.len();
        let mut marks: [Option<usize>; 4] = [None; 4];
        let idx = |m: Mark| m as usize;
        if self.state == S::HeaderField {
            marks[idx(Mark::HeaderField)] = Some(0);
        }
        if self.state == S::HeaderValue {
            marks[idx(Mark::HeaderValue)] = Some(0);
        }
        if matches!(
            self.state,
            S::ReqPath
                | S::ReqSchema
                | S::ReqSchemaSlash
                | S::ReqSchemaSlashSlash
                | S::ReqServerStart
                | S::ReqServer
                | S::ReqServerWithAt
                | S::ReqQueryStringStart
                | S::ReqQueryString
                | S::ReqFragmentStart
                | S::ReqFragment
        ) {
            marks[idx(Mark::Url)] = Some(0);
        }

        // CALLBACK_DATA_(FOR, LEN, ER): invoke the data callback for a mark,
        // returning Some(ER) from execute when it fails or pauses.
        macro_rules! callback_data {
            ($m:expr, $len:expr, $er:expr) => {{
                if let Some(mark) = marks[idx($m)] {
                    let r = match $m {
                        Mark::Url => cb.on_url(self, base + mark, $len),
                        Mark::HeaderField => cb.on_header_field(self, base + mark, $len),
                        Mark::HeaderValue => cb.on_header_value(self, base + mark, $len),
                        Mark::Body => cb.on_body(self, base + mark, $len),
                    };
                    if r != 0 {
                        self.http_errno = match $m {
                            Mark::Url => Hpe::CbUrl,
                            Mark::HeaderField => Hpe::CbHeaderField,
                            Mark::HeaderValue => Hpe::CbHeaderValue,
                            Mark::Body => Hpe::CbBody,
                        };
                    }
                    if self.http_errno != Hpe::Ok {
                        return Stop::Return($er);
                    }
                    marks[idx($m)] = None;
                }
            }};
        }
        macro_rules! callback_notify_message_complete {
            ($er:expr) => {{
                if cb.on_message_complete(self) != 0 {
                    self.http_errno = Hpe::CbMessageComplete;
                }
                if self.http_errno != Hpe::Ok {
                    return Stop::Return($er);
                }
            }};
        }
        macro_rules! mark {
            ($m:expr, $p:expr) => {{
                if marks[idx($m)].is_none() {
                    marks[idx($m)] = Some($p);
                }
            }};
        }
        macro_rules! error {
            ($e:expr, $p:expr) => {{
                self.http_errno = $e;
                return Stop::Return($p);
            }};
        }
        macro_rules! count_header_size {
            ($v:expr, $p:expr) => {{
                self.nread = self.nread.wrapping_add($v as u32);
                if self.nread > MAX_HEADER_SIZE {
                    error!(Hpe::HeaderOverflow, $p);
                }
            }};
        }
        macro_rules! strict_check {
            ($cond:expr, $p:expr) => {{
                if $cond {
                    error!(Hpe::Strict, $p);
                }
            }};
        }

        let mut p = 0usize;
        while p != len {
            let mut ch = data[p];
            if self.state.parsing_header() {
                count_header_size!(1, p);
            }
            // `reexecute:` — the same byte is handled again in a new state.
            'reexecute: loop {
                match self.state {
                    S::Dead => {
                        if ch == b'\r' || ch == b'\n' {
                            break 'reexecute;
                        }
                        error!(Hpe::ClosedConnection, p);
                    }
                    S::StartReq => {
                        if ch == b'\r' || ch == b'\n' {
                            break 'reexecute;
                        }
                        self.flags = 0;
                        self.content_length = NO_CONTENT_LENGTH;
                        if !is_alpha(ch) {
                            error!(Hpe::InvalidMethod, p);
                        }
                        self.index = 1;
                        self.method = match ch {
                            b'A' => HTTP_ACL,
                            b'B' => HTTP_BIND,
                            b'C' => HTTP_CONNECT,
                            b'D' => HTTP_DELETE,
                            b'G' => HTTP_GET,
                            b'H' => HTTP_HEAD,
                            b'L' => HTTP_LOCK,
                            b'M' => HTTP_MKCOL,
                            b'N' => HTTP_NOTIFY,
                            b'O' => HTTP_OPTIONS,
                            b'P' => HTTP_POST,
                            b'R' => HTTP_REPORT,
                            b'S' => HTTP_SUBSCRIBE,
                            b'T' => HTTP_TRACE,
                            b'U' => HTTP_UNLOCK,
                            _ => error!(Hpe::InvalidMethod, p),
                        };
                        self.state = S::ReqMethod;
                        // on_message_begin is not installed by esp_http_server.
                        break 'reexecute;
                    }
                    S::ReqMethod => {
                        if ch == 0 {
                            error!(Hpe::InvalidMethod, p);
                        }
                        let matcher = METHODS[self.method as usize].as_bytes();
                        let m_at = matcher.get(self.index as usize).copied().unwrap_or(0);
                        if ch == b' ' && m_at == 0 {
                            self.state = S::ReqSpacesBeforeUrl;
                        } else if ch == m_at {
                            // nada
                        } else if is_alpha(ch) {
                            let key = (self.method, self.index, ch);
                            self.method = match key {
                                (HTTP_POST, 1, b'U') => HTTP_PUT,
                                (HTTP_POST, 1, b'A') => HTTP_PATCH,
                                (HTTP_CONNECT, 1, b'H') => HTTP_CHECKOUT,
                                (HTTP_CONNECT, 2, b'P') => HTTP_COPY,
                                (HTTP_MKCOL, 1, b'O') => HTTP_MOVE,
                                (HTTP_MKCOL, 1, b'E') => HTTP_MERGE,
                                (HTTP_MKCOL, 2, b'A') => HTTP_MKACTIVITY,
                                (HTTP_MKCOL, 3, b'A') => HTTP_MKCALENDAR,
                                (HTTP_SUBSCRIBE, 1, b'E') => HTTP_SEARCH,
                                (HTTP_REPORT, 2, b'B') => HTTP_REBIND,
                                (HTTP_POST, 1, b'R') => HTTP_PROPFIND,
                                (HTTP_PROPFIND, 4, b'P') => HTTP_PROPPATCH,
                                (HTTP_PUT, 2, b'R') => HTTP_PURGE,
                                (HTTP_LOCK, 1, b'I') => HTTP_LINK,
                                (HTTP_UNLOCK, 2, b'S') => HTTP_UNSUBSCRIBE,
                                (HTTP_UNLOCK, 2, b'B') => HTTP_UNBIND,
                                (HTTP_UNLOCK, 3, b'I') => HTTP_UNLINK,
                                _ => error!(Hpe::InvalidMethod, p),
                            };
                        } else if ch == b'-' && self.index == 1 && self.method == HTTP_MKCOL {
                            self.method = HTTP_MSEARCH;
                        } else {
                            error!(Hpe::InvalidMethod, p);
                        }
                        self.index = (self.index + 1) & 0x7f;
                        break 'reexecute;
                    }
                    S::ReqSpacesBeforeUrl => {
                        if ch == b' ' {
                            break 'reexecute;
                        }
                        mark!(Mark::Url, p);
                        if self.method == HTTP_CONNECT {
                            self.state = S::ReqServerStart;
                        }
                        self.state = parse_url_char(self.state, ch);
                        if self.state == S::Dead {
                            error!(Hpe::InvalidUrl, p);
                        }
                        break 'reexecute;
                    }
                    S::ReqSchema
                    | S::ReqSchemaSlash
                    | S::ReqSchemaSlashSlash
                    | S::ReqServerStart => {
                        match ch {
                            b' ' | b'\r' | b'\n' => error!(Hpe::InvalidUrl, p),
                            _ => {
                                self.state = parse_url_char(self.state, ch);
                                if self.state == S::Dead {
                                    error!(Hpe::InvalidUrl, p);
                                }
                            }
                        }
                        break 'reexecute;
                    }
                    S::ReqServer
                    | S::ReqServerWithAt
                    | S::ReqPath
                    | S::ReqQueryStringStart
                    | S::ReqQueryString
                    | S::ReqFragmentStart
                    | S::ReqFragment => {
                        match ch {
                            b' ' => {
                                self.state = S::ReqHttpStart;
                                let m = marks[idx(Mark::Url)].unwrap_or(p);
                                callback_data!(Mark::Url, p - m, p + 1);
                            }
                            b'\r' | b'\n' => {
                                self.http_major = 0;
                                self.http_minor = 9;
                                self.state = if ch == b'\r' {
                                    S::ReqLineAlmostDone
                                } else {
                                    S::HeaderFieldStart
                                };
                                let m = marks[idx(Mark::Url)].unwrap_or(p);
                                callback_data!(Mark::Url, p - m, p + 1);
                            }
                            _ => {
                                self.state = parse_url_char(self.state, ch);
                                if self.state == S::Dead {
                                    error!(Hpe::InvalidUrl, p);
                                }
                            }
                        }
                        break 'reexecute;
                    }
                    S::ReqHttpStart => {
                        match ch {
                            b'H' => self.state = S::ReqHttpH,
                            b' ' => {}
                            _ => error!(Hpe::InvalidConstant, p),
                        }
                        break 'reexecute;
                    }
                    S::ReqHttpH => {
                        strict_check!(ch != b'T', p);
                        self.state = S::ReqHttpHT;
                        break 'reexecute;
                    }
                    S::ReqHttpHT => {
                        strict_check!(ch != b'T', p);
                        self.state = S::ReqHttpHTT;
                        break 'reexecute;
                    }
                    S::ReqHttpHTT => {
                        strict_check!(ch != b'P', p);
                        self.state = S::ReqHttpHTTP;
                        break 'reexecute;
                    }
                    S::ReqHttpHTTP => {
                        strict_check!(ch != b'/', p);
                        self.state = S::ReqFirstHttpMajor;
                        break 'reexecute;
                    }
                    S::ReqFirstHttpMajor => {
                        if !(b'1'..=b'9').contains(&ch) {
                            error!(Hpe::InvalidVersion, p);
                        }
                        self.http_major = (ch - b'0') as u16;
                        self.state = S::ReqHttpMajor;
                        break 'reexecute;
                    }
                    S::ReqHttpMajor => {
                        if ch == b'.' {
                            self.state = S::ReqFirstHttpMinor;
                            break 'reexecute;
                        }
                        if !is_num(ch) {
                            error!(Hpe::InvalidVersion, p);
                        }
                        self.http_major = self.http_major * 10 + (ch - b'0') as u16;
                        if self.http_major > 999 {
                            error!(Hpe::InvalidVersion, p);
                        }
                        break 'reexecute;
                    }
                    S::ReqFirstHttpMinor => {
                        if !is_num(ch) {
                            error!(Hpe::InvalidVersion, p);
                        }
                        self.http_minor = (ch - b'0') as u16;
                        self.state = S::ReqHttpMinor;
                        break 'reexecute;
                    }
                    S::ReqHttpMinor => {
                        if ch == b'\r' {
                            self.state = S::ReqLineAlmostDone;
                            break 'reexecute;
                        }
                        if ch == b'\n' {
                            self.state = S::HeaderFieldStart;
                            break 'reexecute;
                        }
                        if !is_num(ch) {
                            error!(Hpe::InvalidVersion, p);
                        }
                        self.http_minor = self.http_minor * 10 + (ch - b'0') as u16;
                        if self.http_minor > 999 {
                            error!(Hpe::InvalidVersion, p);
                        }
                        break 'reexecute;
                    }
                    S::ReqLineAlmostDone => {
                        if ch != b'\n' {
                            error!(Hpe::LfExpected, p);
                        }
                        self.state = S::HeaderFieldStart;
                        break 'reexecute;
                    }
                    S::HeaderFieldStart => {
                        if ch == b'\r' {
                            self.state = S::HeadersAlmostDone;
                            break 'reexecute;
                        }
                        if ch == b'\n' {
                            self.state = S::HeadersAlmostDone;
                            continue 'reexecute;
                        }
                        let c = token(ch);
                        if c == 0 {
                            error!(Hpe::InvalidHeaderToken, p);
                        }
                        mark!(Mark::HeaderField, p);
                        self.index = 0;
                        self.state = S::HeaderField;
                        self.header_state = match c {
                            b'c' => H::C,
                            b'p' => H::MatchingProxyConnection,
                            b't' => H::MatchingTransferEncoding,
                            b'u' => H::MatchingUpgrade,
                            _ => H::General,
                        };
                        break 'reexecute;
                    }
                    S::HeaderField => {
                        let start = p;
                        while p != len {
                            ch = data[p];
                            let c = token(ch);
                            if c == 0 {
                                break;
                            }
                            if let Err(stop) = self.match_header_name(c, ch, p) {
                                return stop;
                            }
                            p += 1;
                        }
                        count_header_size!(p - start, p);
                        if p == len {
                            // `--p; break;` then the loop's p++ ends the block.
                            p -= 1;
                            break 'reexecute;
                        }
                        if ch == b':' {
                            self.state = S::HeaderValueDiscardWs;
                            let m = marks[idx(Mark::HeaderField)].unwrap_or(p);
                            callback_data!(Mark::HeaderField, p - m, p + 1);
                            break 'reexecute;
                        }
                        error!(Hpe::InvalidHeaderToken, p);
                    }
                    S::HeaderValueDiscardWs | S::HeaderValueStart => {
                        if self.state == S::HeaderValueDiscardWs {
                            if ch == b' ' || ch == b'\t' {
                                break 'reexecute;
                            }
                            if ch == b'\r' {
                                self.state = S::HeaderValueDiscardWsAlmostDone;
                                break 'reexecute;
                            }
                            if ch == b'\n' {
                                self.state = S::HeaderValueDiscardLws;
                                break 'reexecute;
                            }
                        }
                        mark!(Mark::HeaderValue, p);
                        self.state = S::HeaderValue;
                        self.index = 0;
                        let c = ch | 0x20;
                        match self.header_state {
                            H::Upgrade => {
                                self.flags |= F_UPGRADE;
                                self.header_state = H::General;
                            }
                            H::TransferEncoding => {
                                self.header_state = if c == b'c' {
                                    H::MatchingTransferEncodingChunked
                                } else {
                                    H::General
                                };
                            }
                            H::ContentLength => {
                                if !is_num(ch) {
                                    error!(Hpe::InvalidContentLength, p);
                                }
                                self.content_length = (ch - b'0') as u64;
                            }
                            H::Connection => {
                                self.header_state = match c {
                                    b'k' => H::MatchingConnectionKeepAlive,
                                    b'c' => H::MatchingConnectionClose,
                                    b'u' => H::MatchingConnectionUpgrade,
                                    _ => H::MatchingConnectionToken,
                                };
                            }
                            H::MatchingConnectionTokenStart => {}
                            _ => self.header_state = H::General,
                        }
                        break 'reexecute;
                    }
                    S::HeaderValue => {
                        let start = p;
                        let mut h_state = self.header_state;
                        while p != len {
                            ch = data[p];
                            if ch == b'\r' {
                                self.state = S::HeaderAlmostDone;
                                self.header_state = h_state;
                                let m = marks[idx(Mark::HeaderValue)].unwrap_or(p);
                                callback_data!(Mark::HeaderValue, p - m, p + 1);
                                break;
                            }
                            if ch == b'\n' {
                                self.state = S::HeaderAlmostDone;
                                count_header_size!(p - start, p);
                                self.header_state = h_state;
                                let m = marks[idx(Mark::HeaderValue)].unwrap_or(p);
                                callback_data!(Mark::HeaderValue, p - m, p);
                                continue 'reexecute;
                            }
                            if !is_header_char(ch) {
                                error!(Hpe::InvalidHeaderToken, p);
                            }
                            let c = ch | 0x20;
                            match h_state {
                                H::General => {
                                    // Skip to just before the next CR or LF.
                                    let rest = &data[p..len];
                                    let limit = rest.len().min(MAX_HEADER_SIZE as usize);
                                    let rest = &rest[..limit];
                                    let cr = rest.iter().position(|&b| b == b'\r');
                                    let lf = rest.iter().position(|&b| b == b'\n');
                                    let next = match (cr, lf) {
                                        (Some(c), Some(l)) => c.min(l),
                                        (Some(c), None) => c,
                                        (None, Some(l)) => l,
                                        (None, None) => len - p,
                                    };
                                    p += next;
                                    // `--p` then the for loop's `p++`.
                                    continue;
                                }
                                H::Connection | H::TransferEncoding => {
                                    // "Shouldn't get here." in C.
                                }
                                H::ContentLength => {
                                    if ch != b' ' {
                                        if !is_num(ch) {
                                            self.header_state = h_state;
                                            error!(Hpe::InvalidContentLength, p);
                                        }
                                        if (u64::MAX - 10) / 10 < self.content_length {
                                            self.header_state = h_state;
                                            error!(Hpe::InvalidContentLength, p);
                                        }
                                        self.content_length =
                                            self.content_length * 10 + (ch - b'0') as u64;
                                    }
                                }
                                H::MatchingTransferEncodingChunked => {
                                    self.index = (self.index + 1) & 0x7f;
                                    let word = b"chunked";
                                    if self.index as usize > word.len() - 1
                                        || c != word[self.index as usize]
                                    {
                                        h_state = H::General;
                                    } else if self.index as usize == word.len() - 1 {
                                        h_state = H::TransferEncodingChunked;
                                    }
                                }
                                H::MatchingConnectionTokenStart => {
                                    h_state = match c {
                                        b'k' => H::MatchingConnectionKeepAlive,
                                        b'c' => H::MatchingConnectionClose,
                                        b'u' => H::MatchingConnectionUpgrade,
                                        _ if token(c) != 0 => H::MatchingConnectionToken,
                                        b' ' | b'\t' => h_state,
                                        _ => H::General,
                                    };
                                }
                                H::MatchingConnectionKeepAlive => {
                                    h_state = self.match_word(
                                        c,
                                        b"keep-alive",
                                        h_state,
                                        H::ConnectionKeepAlive,
                                    );
                                }
                                H::MatchingConnectionClose => {
                                    h_state =
                                        self.match_word(c, b"close", h_state, H::ConnectionClose);
                                }
                                H::MatchingConnectionUpgrade => {
                                    h_state = self.match_word(
                                        c,
                                        b"upgrade",
                                        h_state,
                                        H::ConnectionUpgrade,
                                    );
                                }
                                H::MatchingConnectionToken => {
                                    if ch == b',' {
                                        h_state = H::MatchingConnectionTokenStart;
                                        self.index = 0;
                                    }
                                }
                                H::TransferEncodingChunked => {
                                    if ch != b' ' {
                                        h_state = H::General;
                                    }
                                }
                                H::ConnectionKeepAlive
                                | H::ConnectionClose
                                | H::ConnectionUpgrade => {
                                    if ch == b',' {
                                        self.flags |= match h_state {
                                            H::ConnectionKeepAlive => F_CONNECTION_KEEP_ALIVE,
                                            H::ConnectionClose => F_CONNECTION_CLOSE,
                                            _ => F_CONNECTION_UPGRADE,
                                        };
                                        h_state = H::MatchingConnectionTokenStart;
                                        self.index = 0;
                                    } else if ch != b' ' {
                                        h_state = H::MatchingConnectionToken;
                                    }
                                }
                                _ => {
                                    self.state = S::HeaderValue;
                                    h_state = H::General;
                                }
                            }
                            p += 1;
                        }
                        self.header_state = h_state;
                        count_header_size!(p - start, p);
                        if p == len {
                            p -= 1;
                        }
                        break 'reexecute;
                    }
                    S::HeaderAlmostDone => {
                        if ch != b'\n' {
                            error!(Hpe::LfExpected, p);
                        }
                        self.state = S::HeaderValueLws;
                        break 'reexecute;
                    }
                    S::HeaderValueLws => {
                        if ch == b' ' || ch == b'\t' {
                            self.state = S::HeaderValueStart;
                            continue 'reexecute;
                        }
                        self.finish_header();
                        self.state = S::HeaderFieldStart;
                        continue 'reexecute;
                    }
                    S::HeaderValueDiscardWsAlmostDone => {
                        strict_check!(ch != b'\n', p);
                        self.state = S::HeaderValueDiscardLws;
                        break 'reexecute;
                    }
                    S::HeaderValueDiscardLws => {
                        if ch == b' ' || ch == b'\t' {
                            self.state = S::HeaderValueDiscardWs;
                            break 'reexecute;
                        }
                        self.finish_header();
                        // Header value was empty.
                        mark!(Mark::HeaderValue, p);
                        self.state = S::HeaderFieldStart;
                        let m = marks[idx(Mark::HeaderValue)].unwrap_or(p);
                        callback_data!(Mark::HeaderValue, p - m, p);
                        continue 'reexecute;
                    }
                    S::HeadersAlmostDone => {
                        strict_check!(ch != b'\n', p);
                        if self.flags & F_TRAILING != 0 {
                            // End of a chunked request (on_chunk_complete is not installed).
                            self.state = S::MessageDone;
                            continue 'reexecute;
                        }
                        if self.flags & F_CHUNKED != 0 && self.flags & F_CONTENTLENGTH != 0 {
                            error!(Hpe::UnexpectedContentLength, p);
                        }
                        self.state = S::HeadersDone;
                        self.upgrade = (self.flags & (F_UPGRADE | F_CONNECTION_UPGRADE))
                            == (F_UPGRADE | F_CONNECTION_UPGRADE)
                            || self.method == HTTP_CONNECT;
                        match cb.on_headers_complete(self) {
                            0 => {}
                            2 => {
                                self.upgrade = true;
                                self.flags |= F_SKIPBODY;
                            }
                            1 => self.flags |= F_SKIPBODY,
                            _ => {
                                self.http_errno = Hpe::CbHeadersComplete;
                                return Stop::Return(p);
                            }
                        }
                        if self.http_errno != Hpe::Ok {
                            return Stop::Return(p);
                        }
                        continue 'reexecute;
                    }
                    S::HeadersDone => {
                        strict_check!(ch != b'\n', p);
                        self.nread = 0;
                        let has_body = self.flags & F_CHUNKED != 0
                            || (self.content_length > 0
                                && self.content_length != NO_CONTENT_LENGTH);
                        if self.upgrade
                            && (self.method == HTTP_CONNECT
                                || self.flags & F_SKIPBODY != 0
                                || !has_body)
                        {
                            // The rest of the message is in a different protocol.
                            self.state = self.new_message();
                            callback_notify_message_complete!(p + 1);
                            return Stop::Return(p + 1);
                        }
                        if self.flags & F_SKIPBODY != 0 {
                            self.state = self.new_message();
                            callback_notify_message_complete!(p + 1);
                        } else if self.flags & F_CHUNKED != 0 {
                            self.state = S::ChunkSizeStart;
                        } else if self.content_length == 0 {
                            self.state = self.new_message();
                            callback_notify_message_complete!(p + 1);
                        } else if self.content_length != NO_CONTENT_LENGTH {
                            self.state = S::BodyIdentity;
                        } else {
                            // A request never needs EOF: assume no body.
                            self.state = self.new_message();
                            callback_notify_message_complete!(p + 1);
                        }
                        break 'reexecute;
                    }
                    S::BodyIdentity => {
                        let to_read = self.content_length.min((len - p) as u64);
                        mark!(Mark::Body, p);
                        self.content_length -= to_read;
                        p += to_read as usize - 1;
                        if self.content_length == 0 {
                            self.state = S::MessageDone;
                            // CALLBACK_DATA_(body, p - body_mark + 1, p - data)
                            let m = marks[idx(Mark::Body)].unwrap_or(p);
                            callback_data!(Mark::Body, p - m + 1, p);
                            continue 'reexecute;
                        }
                        break 'reexecute;
                    }
                    S::MessageDone => {
                        self.state = self.new_message();
                        callback_notify_message_complete!(p + 1);
                        if self.upgrade {
                            return Stop::Return(p + 1);
                        }
                        break 'reexecute;
                    }
                    S::ChunkSizeStart => {
                        let Some(v) = unhex(ch) else {
                            error!(Hpe::InvalidChunkSize, p);
                        };
                        self.content_length = v;
                        self.state = S::ChunkSize;
                        break 'reexecute;
                    }
                    S::ChunkSize => {
                        if ch == b'\r' {
                            self.state = S::ChunkSizeAlmostDone;
                            break 'reexecute;
                        }
                        let Some(v) = unhex(ch) else {
                            if ch == b';' || ch == b' ' {
                                self.state = S::ChunkParameters;
                                break 'reexecute;
                            }
                            error!(Hpe::InvalidChunkSize, p);
                        };
                        if (u64::MAX - 16) / 16 < self.content_length {
                            error!(Hpe::InvalidContentLength, p);
                        }
                        self.content_length = self.content_length * 16 + v;
                        break 'reexecute;
                    }
                    S::ChunkParameters => {
                        if ch == b'\r' {
                            self.state = S::ChunkSizeAlmostDone;
                        }
                        break 'reexecute;
                    }
                    S::ChunkSizeAlmostDone => {
                        strict_check!(ch != b'\n', p);
                        self.nread = 0;
                        if self.content_length == 0 {
                            self.flags |= F_TRAILING;
                            self.state = S::HeaderFieldStart;
                        } else {
                            self.state = S::ChunkData;
                        }
                        break 'reexecute;
                    }
                    S::ChunkData => {
                        let to_read = self.content_length.min((len - p) as u64);
                        mark!(Mark::Body, p);
                        self.content_length -= to_read;
                        p += to_read as usize - 1;
                        if self.content_length == 0 {
                            self.state = S::ChunkDataAlmostDone;
                        }
                        break 'reexecute;
                    }
                    S::ChunkDataAlmostDone => {
                        strict_check!(ch != b'\r', p);
                        self.state = S::ChunkDataDone;
                        let m = marks[idx(Mark::Body)].unwrap_or(p);
                        callback_data!(Mark::Body, p - m, p + 1);
                        break 'reexecute;
                    }
                    S::ChunkDataDone => {
                        strict_check!(ch != b'\n', p);
                        self.nread = 0;
                        self.state = S::ChunkSizeStart;
                        break 'reexecute;
                    }
                }
            }
            p += 1;
        }

        // Leftover marks at the end of the block: the NOADVANCE callbacks
        // with `p == data + len`.
        for m in [Mark::HeaderField, Mark::HeaderValue, Mark::Url, Mark::Body] {
            if let Some(start) = marks[idx(m)] {
                callback_data!(m, len - start, len);
            }
        }
        Stop::Return(len)
    }

    /// The header-name matcher of `s_header_field` (connection,
    /// proxy-connection, content-length, transfer-encoding, upgrade).
    fn match_header_name(&mut self, c: u8, ch: u8, p: usize) -> Result<(), Stop> {
        fn word(parser: &mut HttpParser, c: u8, w: &[u8], done: H) {
            parser.index = (parser.index + 1) & 0x7f;
            let i = parser.index as usize;
            if i > w.len() - 1 || c != w[i] {
                parser.header_state = H::General;
            } else if i == w.len() - 2 {
                // sizeof(STR)-2 in C counts the terminating NUL: the last char.
                parser.header_state = done;
            }
        }
        match self.header_state {
            H::General => {}
            H::C => {
                self.index += 1;
                self.header_state = if c == b'o' { H::Co } else { H::General };
            }
            H::Co => {
                self.index += 1;
                self.header_state = if c == b'n' { H::Con } else { H::General };
            }
            H::Con => {
                self.index += 1;
                self.header_state = match c {
                    b'n' => H::MatchingConnection,
                    b't' => H::MatchingContentLength,
                    _ => H::General,
                };
            }
            H::MatchingConnection => word(self, c, b"connection\0", H::Connection),
            H::MatchingProxyConnection => word(self, c, b"proxy-connection\0", H::Connection),
            H::MatchingContentLength => {
                word(self, c, b"content-length\0", H::ContentLength);
                if self.header_state == H::ContentLength {
                    if self.flags & F_CONTENTLENGTH != 0 {
                        self.http_errno = Hpe::UnexpectedContentLength;
                        return Err(Stop::Return(p));
                    }
                    self.flags |= F_CONTENTLENGTH;
                }
            }
            H::MatchingTransferEncoding => {
                word(self, c, b"transfer-encoding\0", H::TransferEncoding)
            }
            H::MatchingUpgrade => word(self, c, b"upgrade\0", H::Upgrade),
            H::Connection | H::ContentLength | H::TransferEncoding | H::Upgrade if ch != b' ' => {
                self.header_state = H::General;
            }
            _ => {}
        }
        Ok(())
    }

    fn match_word(&mut self, c: u8, w: &[u8], _cur: H, done: H) -> H {
        self.index = (self.index + 1) & 0x7f;
        let i = self.index as usize;
        if i > w.len() - 1 || c != w[i] {
            H::MatchingConnectionToken
        } else if i == w.len() - 1 {
            done
        } else {
            _cur
        }
    }

    /// End of one header: turn the matched Connection/Transfer-Encoding
    /// values into flags (`s_header_value_lws` / `s_header_value_discard_lws`).
    fn finish_header(&mut self) {
        match self.header_state {
            H::ConnectionKeepAlive => self.flags |= F_CONNECTION_KEEP_ALIVE,
            H::ConnectionClose => self.flags |= F_CONNECTION_CLOSE,
            H::TransferEncodingChunked => self.flags |= F_CHUNKED,
            H::ConnectionUpgrade => self.flags |= F_CONNECTION_UPGRADE,
            _ => {}
        }
    }
}

impl From<Stop> for usize {
    fn from(s: Stop) -> usize {
        match s {
            Stop::Return(n) => n,
        }
    }
}

/// `struct http_parser_url` fields that esp_http_server reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedUrl {
    pub schema: Option<(usize, usize)>,
    pub host: Option<(usize, usize)>,
    pub port: Option<(usize, usize)>,
    pub path: Option<(usize, usize)>,
    pub query: Option<(usize, usize)>,
    pub fragment: Option<(usize, usize)>,
    pub userinfo: Option<(usize, usize)>,
}

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Uf {
    Schema,
    Host,
    Path,
    Query,
    Fragment,
}

/// `http_parser_parse_url()`. None is its non-zero return.
pub fn parse_url(buf: &[u8], is_connect: bool) -> Option<ParsedUrl> {
    parse_url_inner(buf, is_connect).ok()
}

fn parse_url_inner(buf: &[u8], is_connect: bool) -> Result<ParsedUrl, ()> {
    let mut u = ParsedUrl::default();
    let mut s = if is_connect {
        S::ReqServerStart
    } else {
        S::ReqSpacesBeforeUrl
    };
    let mut old: Option<Uf> = None;
    let mut found_at = false;
    for (i, &ch) in buf.iter().enumerate() {
        s = parse_url_char(s, ch);
        let uf = match s {
            S::Dead => return Err(()),
            S::ReqSchemaSlash
            | S::ReqSchemaSlashSlash
            | S::ReqServerStart
            | S::ReqQueryStringStart
            | S::ReqFragmentStart => continue,
            S::ReqSchema => Uf::Schema,
            S::ReqServerWithAt => {
                found_at = true;
                Uf::Host
            }
            S::ReqServer => Uf::Host,
            S::ReqPath => Uf::Path,
            S::ReqQueryString => Uf::Query,
            S::ReqFragment => Uf::Fragment,
            _ => return Err(()),
        };
        let field = match uf {
            Uf::Schema => &mut u.schema,
            Uf::Host => &mut u.host,
            Uf::Path => &mut u.path,
            Uf::Query => &mut u.query,
            Uf::Fragment => &mut u.fragment,
        };
        if old == Some(uf) {
            if let Some((_, l)) = field {
                *l += 1;
            }
            continue;
        }
        *field = Some((i, 1));
        old = Some(uf);
    }
    if u.schema.is_some() && u.host.is_none() {
        return Err(());
    }
    if u.host.is_some() {
        parse_host(buf, &mut u, found_at)?;
    }
    if is_connect
        && !(u.host.is_some()
            && u.port.is_some()
            && u.schema.is_none()
            && u.path.is_none()
            && u.query.is_none()
            && u.fragment.is_none()
            && u.userinfo.is_none())
    {
        return Err(());
    }
    if let Some((off, l)) = u.port {
        let digits = std::str::from_utf8(&buf[off..off + l]).map_err(|_| ())?;
        let v: u64 = digits.parse().map_err(|_| ())?;
        if v > 0xffff {
            return Err(());
        }
    }
    Ok(u)
}

#[derive(Copy, Clone, PartialEq, Eq)]
enum Hs {
    Dead,
    UserinfoStart,
    Userinfo,
    HostStart,
    HostV6Start,
    Host,
    HostV6,
    HostV6End,
    HostV6ZoneStart,
    HostV6Zone,
    PortStart,
    Port,
}

fn parse_host_char(s: Hs, ch: u8) -> Hs {
    match s {
        Hs::Userinfo | Hs::UserinfoStart => {
            if ch == b'@' {
                return Hs::HostStart;
            }
            if is_userinfo_char(ch) {
                return Hs::Userinfo;
            }
        }
        Hs::HostStart => {
            if ch == b'[' {
                return Hs::HostV6Start;
            }
            if is_host_char(ch) {
                return Hs::Host;
            }
        }
        Hs::Host | Hs::HostV6End => {
            if s == Hs::Host && is_host_char(ch) {
                return Hs::Host;
            }
            if ch == b':' {
                return Hs::PortStart;
            }
        }
        Hs::HostV6 | Hs::HostV6Start => {
            if s == Hs::HostV6 && ch == b']' {
                return Hs::HostV6End;
            }
            if is_hex(ch) || ch == b':' || ch == b'.' {
                return Hs::HostV6;
            }
            if s == Hs::HostV6 && ch == b'%' {
                return Hs::HostV6ZoneStart;
            }
        }
        Hs::HostV6Zone | Hs::HostV6ZoneStart => {
            if s == Hs::HostV6Zone && ch == b']' {
                return Hs::HostV6End;
            }
            if is_alphanum(ch) || matches!(ch, b'%' | b'.' | b'-' | b'_' | b'~') {
                return Hs::HostV6Zone;
            }
        }
        Hs::Port | Hs::PortStart => {
            if is_num(ch) {
                return Hs::Port;
            }
        }
        Hs::Dead => {}
    }
    Hs::Dead
}

fn parse_host(buf: &[u8], u: &mut ParsedUrl, found_at: bool) -> Result<(), ()> {
    let (off, len) = u.host.expect("host set");
    let end = off + len;
    let mut host_off = off;
    let mut host_len = 0usize;
    let mut s = if found_at {
        Hs::UserinfoStart
    } else {
        Hs::HostStart
    };
    for (i, &ch) in buf.iter().enumerate().take(end).skip(off) {
        let new_s = parse_host_char(s, ch);
        match new_s {
            Hs::Dead => return Err(()),
            Hs::Host | Hs::HostV6 => {
                if s != new_s {
                    host_off = i;
                }
                host_len += 1;
            }
            Hs::HostV6ZoneStart | Hs::HostV6Zone => host_len += 1,
            Hs::Port => match &mut u.port {
                Some((_, l)) if s == Hs::Port => *l += 1,
                _ => u.port = Some((i, 1)),
            },
            Hs::Userinfo => match &mut u.userinfo {
                Some((_, l)) if s == Hs::Userinfo => *l += 1,
                _ => u.userinfo = Some((i, 1)),
            },
            _ => {}
        }
        s = new_s;
    }
    u.host = Some((host_off, host_len));
    match s {
        Hs::HostStart
        | Hs::HostV6Start
        | Hs::HostV6
        | Hs::HostV6ZoneStart
        | Hs::HostV6Zone
        | Hs::PortStart
        | Hs::Userinfo
        | Hs::UserinfoStart => Err(()),
        _ => Ok(()),
    }
}
