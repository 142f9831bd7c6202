//! httpd_parse.c: reading a request in 128-byte blocks through http_parser,
//! the request lifecycle (`httpd_req_new` / `httpd_req_delete`) and header
//! lookups over the scratch buffer.

use super::txrx::{HttpErr, RecvOpt};
use super::{
    ESP_ERR_HTTPD_RESULT_TRUNC, ESP_ERR_NOT_FOUND, ESP_FAIL, ESP_OK, EspErr, HTTPD_SOCK_ERR_FAIL,
    HTTPD_SOCK_ERR_TIMEOUT, Httpd, PARSER_BLOCK_SIZE, Req, ServerEvent,
};
use crate::idf::http_parser::{self, Callbacks, HttpParser};
use crate::idf::release::ControlFrames;

const TAG: &str = "httpd_parse";

/// `sizeof(r->uri)`: `CONFIG_HTTPD_MAX_URI_LEN + 1`.
fn uri_capacity(hd: &Httpd) -> usize {
    hd.idf.httpd.max_uri_len + 1
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Status {
    Idle,
    Url,
    HdrField,
    HdrValue,
    Body,
    Complete,
    Failed,
}

/// `parser_data_t`.
struct ParserData {
    status: Status,
    error: HttpErr,
    last_at: usize,
    last_length: usize,
    paused: bool,
    pre_parsed: usize,
    raw_datalen: usize,
}

/// The http_parser callbacks of httpd_parse.c, bound to the server.
struct Cb<'a> {
    hd: &'a mut Httpd,
    pd: &'a mut ParserData,
}

impl Cb<'_> {
    fn req(&mut self) -> &mut Req {
        self.hd.req.as_mut().expect("request in progress")
    }

    /// `verify_url()`.
    fn verify_url(&mut self, parser: &HttpParser) -> EspErr {
        const F: &str = "verify_url";
        let at = self.pd.last_at;
        let length = self.pd.last_length;
        self.req().method = parser.method;
        if uri_capacity(self.hd) < length + 1 {
            logf!(
                self.hd.con,
                Warn,
                TAG,
                F,
                "URI length ({}) greater than supported ({})",
                length,
                uri_capacity(self.hd)
            );
            self.pd.error = HttpErr::E414;
            return ESP_FAIL;
        }
        let uri = self.req().scratch[at..at + length].to_vec();
        self.req().uri = uri.clone();
        self.hd.con.log(crate::chip::console::Record {
            level: crate::chip::console::Level::Debug,
            tag: TAG,
            message: [format!("{F}: received URI = ").as_bytes(), c_str(&uri)].concat(),
        });
        let supported = if self.hd.idf.httpd.strict_http_version {
            parser.http_major == 1 && (parser.http_minor == 0 || parser.http_minor == 1)
        } else {
            // v4.x: `(major != 1) && (minor != 1)` rejects, so HTTP/1.x and
            // HTTP/x.1 all pass.
            parser.http_major == 1 || parser.http_minor == 1
        };
        if !supported {
            logf!(
                self.hd.con,
                Warn,
                TAG,
                F,
                "unsupported HTTP version = {}.{}",
                parser.http_major,
                parser.http_minor
            );
            self.pd.error = HttpErr::E505;
            return ESP_FAIL;
        }
        match http_parser::parse_url(&uri, parser.method == http_parser::HTTP_CONNECT) {
            Some(url) => {
                self.req().url = url;
                ESP_OK
            }
            None => {
                logf!(
                    self.hd.con,
                    Warn,
                    TAG,
                    F,
                    "http_parser_parse_url failed with errno = {}",
                    parser.http_errno as u8
                );
                self.pd.error = HttpErr::E400;
                ESP_FAIL
            }
        }
    }

    /// `pause_parsing()`.
    fn pause_parsing(&mut self, parser: &mut HttpParser, at: usize) -> EspErr {
        let unparsed = self.pd.raw_datalen as isize - at as isize;
        if unparsed < 0 {
            logf!(
                self.hd.con,
                Error,
                TAG,
                "pause_parsing",
                "parsing beyond valid data = {}",
                -unparsed
            );
            return super::ESP_ERR_INVALID_STATE;
        }
        let unparsed = unparsed as usize;
        if unparsed > 0 {
            let data = self.req().scratch[at..at + unparsed].to_vec();
            if self.hd.httpd_unrecv(&data) != unparsed {
                logf!(
                    self.hd.con,
                    Error,
                    TAG,
                    "pause_parsing",
                    "data too large for un-recv = {}",
                    unparsed
                );
                return ESP_FAIL;
            }
        }
        self.pd.pre_parsed = unparsed;
        parser.pause(true);
        self.pd.paused = true;
        logf!(self.hd.con, Debug, TAG, "pause_parsing", "paused");
        ESP_OK
    }

    fn fail(&mut self, error: HttpErr) -> i32 {
        self.pd.error = error;
        self.pd.status = Status::Failed;
        ESP_FAIL
    }

    fn log_bytes(&self, func: &str, what: &str, bytes: &[u8]) {
        self.hd.con.log(crate::chip::console::Record {
            level: crate::chip::console::Level::Debug,
            tag: TAG,
            message: [format!("{func}: {what} = ").as_bytes(), bytes].concat(),
        });
    }
}

/// What `%s` prints of a buffer: up to the first NUL.
pub(crate) fn c_str(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    }
}

impl Callbacks for Cb<'_> {
    /// `cb_url()`.
    fn on_url(&mut self, _p: &mut HttpParser, at: usize, len: usize) -> i32 {
        const F: &str = "cb_url";
        if self.pd.status == Status::Idle {
            logf!(self.hd.con, Debug, TAG, F, "message begin");
            self.pd.last_at = at;
            self.pd.last_length = 0;
            self.pd.status = Status::Url;
        } else if self.pd.status != Status::Url {
            logf!(self.hd.con, Error, TAG, F, "unexpected state transition");
            return self.fail(HttpErr::E500);
        }
        let text = self.req().scratch[at..at + len].to_vec();
        self.log_bytes(F, "processing url", &text);
        self.pd.last_length += len;
        let max_uri_len = self.req().max_uri_len;
        if self.pd.last_length > max_uri_len {
            logf!(
                self.hd.con,
                Warn,
                TAG,
                F,
                "URI length ({}) greater than supported ({})",
                self.pd.last_length,
                max_uri_len
            );
            return self.fail(HttpErr::E414);
        }
        ESP_OK
    }

    /// `cb_header_field()`.
    fn on_header_field(&mut self, p: &mut HttpParser, at: usize, len: usize) -> i32 {
        const F: &str = "cb_header_field";
        match self.pd.status {
            Status::Url => {
                if self.verify_url(p) != ESP_OK {
                    self.pd.status = Status::Failed;
                    return ESP_FAIL;
                }
                logf!(self.hd.con, Debug, TAG, F, "headers begin");
                // Headers will be received again at the start of scratch.
                self.pd.last_at = 0;
                self.pd.last_length = 0;
                self.pd.status = Status::HdrField;
                if !self.hd.idf.httpd.fixed_scratch {
                    let limit = self.req().max_req_hdr_len;
                    self.req().scratch_size_limit = limit;
                }
                if self.pause_parsing(p, at) != ESP_OK {
                    return self.fail(HttpErr::E500);
                }
            }
            Status::HdrValue => {
                // Overwrite the line terminator after the previous value with
                // NULs (header lookups walk NUL-separated strings).
                let term_start = self.pd.last_at + self.pd.last_length;
                let req = self.req();
                for b in &mut req.scratch[term_start..at] {
                    *b = 0;
                }
                self.pd.last_at = at;
                self.pd.last_length = 0;
                self.pd.status = Status::HdrField;
                if !self.hd.idf.httpd.fixed_scratch {
                    let limit = self.req().max_req_hdr_len;
                    self.req().scratch_size_limit = limit;
                }
                self.req().req_hdrs_count += 1;
            }
            Status::HdrField => {}
            _ => {
                logf!(self.hd.con, Error, TAG, F, "unexpected state transition");
                return self.fail(HttpErr::E500);
            }
        }
        // After a pause, `at` still points at the field in the block just
        // parsed (it was copied, not moved, into the pending buffer).
        let text = self.req().scratch[at..at + len].to_vec();
        self.log_bytes(F, "processing field", &text);
        self.pd.last_length += len;
        ESP_OK
    }

    /// `cb_header_value()`.
    fn on_header_value(&mut self, _p: &mut HttpParser, at: usize, len: usize) -> i32 {
        const F: &str = "cb_header_value";
        if self.pd.status == Status::HdrField {
            self.pd.last_at = at;
            self.pd.last_length = 0;
            self.pd.status = Status::HdrValue;
            if len == 0 {
                // http_parser gives an empty value's position *after* its
                // CRLF; step back to just past the ':' and any spaces.
                let scratch = &self.req().scratch;
                let mut adj = at;
                while adj > 0 {
                    adj -= 1;
                    if scratch[adj] == b':' {
                        break;
                    }
                }
                adj += 1;
                while adj < scratch.len() && scratch[adj] == b' ' {
                    adj += 1;
                }
                self.pd.last_at = adj;
            }
        } else if self.pd.status != Status::HdrValue {
            logf!(self.hd.con, Error, TAG, F, "unexpected state transition");
            return self.fail(HttpErr::E500);
        }
        let text = self.req().scratch[at..at + len].to_vec();
        self.log_bytes(F, "processing value", &text);
        self.pd.last_length += len;
        ESP_OK
    }

    /// `cb_headers_complete()`.
    fn on_headers_complete(&mut self, p: &mut HttpParser) -> i32 {
        const F: &str = "cb_headers_complete";
        match self.pd.status {
            Status::Url => {
                logf!(self.hd.con, Debug, TAG, F, "no headers");
                if self.verify_url(p) != ESP_OK {
                    self.pd.status = Status::Failed;
                    return ESP_FAIL;
                }
            }
            Status::HdrValue => {
                let mut at = self.pd.last_at + self.pd.last_length;
                let raw = self.pd.raw_datalen;
                let mut remaining = raw as isize - at as isize;
                if remaining < 2 {
                    logf!(
                        self.hd.con,
                        Error,
                        TAG,
                        F,
                        "invalid length of data remaining to be parsed"
                    );
                    return self.fail(HttpErr::E500);
                }
                let mut terminators = 2;
                let req = self.req();
                while remaining > 0 && terminators > 0 {
                    remaining -= 1;
                    if req.scratch[at] == b'\n' {
                        terminators -= 1;
                    }
                    req.scratch[at] = 0;
                    at += 1;
                }
                if terminators > 0 {
                    logf!(
                        self.hd.con,
                        Error,
                        TAG,
                        F,
                        "incomplete termination of headers"
                    );
                    return self.fail(HttpErr::E400);
                }
                self.pd.last_at = at;
                self.req().req_hdrs_count += 1;
            }
            _ => {
                logf!(self.hd.con, Error, TAG, F, "unexpected state transition");
                return self.fail(HttpErr::E500);
            }
        }
        // Without a body http_parser leaves content_length at ULLONG_MAX.
        let content_len = if self.hd.idf.httpd.content_length_u32_check {
            // master (9d3f510c7f4): compared with ULLONG_MAX, and anything
            // that does not fit 32 bits is refused.
            if p.content_length == u64::MAX {
                0
            } else if p.content_length > u64::from(u32::MAX) {
                logf!(
                    self.hd.con,
                    Warn,
                    TAG,
                    F,
                    "Content-Length {} exceeds UINT32_MAX; rejecting with 413",
                    p.content_length
                );
                return self.fail(HttpErr::E413);
            } else {
                p.content_length as usize
            }
        } else if p.content_length as i32 != -1 {
            // C casts it to int (-1) to detect "no length" and keeps the
            // low 32 bits.
            p.content_length as u32 as usize
        } else {
            0
        };
        self.req().content_len = content_len;
        logf!(self.hd.con, Debug, TAG, F, "bytes read     = {}", p.nread);
        logf!(
            self.hd.con,
            Debug,
            TAG,
            F,
            "content length = {}",
            content_len
        );
        if p.upgrade {
            logf!(self.hd.con, Debug, TAG, F, "Got an upgrade request");
            // `char ws_upgrade_hdr_val[] = "websocket"`: a 10-byte buffer.
            match self.hd.httpd_req_get_hdr_value_str("Upgrade", 10) {
                Ok(v) if v.eq_ignore_ascii_case(b"websocket") => {}
                Ok(v) => {
                    self.hd.con.log(crate::chip::console::Record {
                        level: crate::chip::console::Level::Warn,
                        tag: TAG,
                        message: [
                            format!("{F}: Upgrade header found but it's ").as_bytes(),
                            &v,
                        ]
                        .concat(),
                    });
                    return self.fail(HttpErr::E400);
                }
                Err(_) => {
                    logf!(
                        self.hd.con,
                        Warn,
                        TAG,
                        F,
                        "Upgrade header does not match the length of \"websocket\""
                    );
                    return self.fail(HttpErr::E400);
                }
            }
            if self.hd.idf.ws.stricter_rfc6455 && !(p.http_major == 1 && p.http_minor == 1) {
                logf!(
                    self.hd.con,
                    Warn,
                    TAG,
                    F,
                    "WebSocket handshake requires HTTP/1.1, got {}.{}",
                    p.http_major,
                    p.http_minor
                );
                return self.fail(HttpErr::E400);
            }
            self.req().ws_handshake_detect = true;
        }
        self.pd.status = Status::Body;
        self.req().remaining_len = content_len;
        self.hd.dispatch_event(ServerEvent::OnHeader);
        ESP_OK
    }

    /// `cb_on_body()`.
    fn on_body(&mut self, p: &mut HttpParser, at: usize, _len: usize) -> i32 {
        const F: &str = "cb_on_body";
        if self.pd.status != Status::Body {
            logf!(self.hd.con, Error, TAG, F, "unexpected state transition");
            return self.fail(HttpErr::E500);
        }
        if self.pause_parsing(p, at) != ESP_OK {
            return self.fail(HttpErr::E500);
        }
        self.pd.last_at = 0;
        self.pd.last_length = 0;
        self.pd.status = Status::Complete;
        logf!(self.hd.con, Debug, TAG, F, "body begins");
        ESP_OK
    }

    /// `cb_no_body()`.
    fn on_message_complete(&mut self, p: &mut HttpParser) -> i32 {
        const F: &str = "cb_no_body";
        if self.pd.status == Status::Url {
            logf!(self.hd.con, Debug, TAG, F, "no headers");
            if self.verify_url(p) != ESP_OK {
                self.pd.status = Status::Failed;
                return ESP_FAIL;
            }
        } else if self.pd.status != Status::Body {
            logf!(self.hd.con, Error, TAG, F, "unexpected state transition");
            return self.fail(HttpErr::E500);
        }
        let at = self.pd.last_at;
        if self.pause_parsing(p, at) != ESP_OK {
            return self.fail(HttpErr::E500);
        }
        self.pd.last_at = 0;
        self.pd.last_length = 0;
        self.pd.status = Status::Complete;
        logf!(self.hd.con, Debug, TAG, F, "message complete");
        ESP_OK
    }
}

impl Httpd {
    /// `read_block()`: returns the number of bytes read, or a
    /// `HTTPD_SOCK_ERR_*` code.
    fn read_block(&mut self, offset: usize, length: usize) -> i32 {
        let limit = self.req.as_ref().expect("request").scratch_size_limit;
        let buf_len = (length as isize).min(limit as isize - offset as isize);
        if buf_len <= 0 {
            return 0;
        }
        let buf_len = buf_len as usize;
        {
            let r = self.req.as_mut().expect("request");
            r.scratch.resize(offset + buf_len, 0);
        }
        if !self.idf.httpd.fixed_scratch {
            crate::log!(
                self.con,
                Debug,
                TAG,
                "scratch buf qsize = {}",
                offset + buf_len
            );
        }
        let (nbytes, data) = self.httpd_recv_with_opt(buf_len, RecvOpt::HaltAfterPending);
        if nbytes < 0 {
            logf!(self.con, Debug, TAG, "read_block", "error in httpd_recv");
            if nbytes == HTTPD_SOCK_ERR_TIMEOUT {
                return if self.httpd_req_handle_err(HttpErr::E408) == ESP_OK {
                    HTTPD_SOCK_ERR_TIMEOUT
                } else {
                    HTTPD_SOCK_ERR_FAIL
                };
            }
            return HTTPD_SOCK_ERR_FAIL;
        } else if nbytes == 0 {
            logf!(self.con, Debug, TAG, "read_block", "connection closed");
            return HTTPD_SOCK_ERR_FAIL;
        }
        let r = self.req.as_mut().expect("request");
        r.scratch[offset..offset + data.len()].copy_from_slice(&data);
        logf!(
            self.con,
            Debug,
            TAG,
            "read_block",
            "received HTTP request block size = {}",
            nbytes
        );
        nbytes
    }

    /// `parse_block()`: returns the new offset, or -1.
    fn parse_block(
        &mut self,
        parser: &mut HttpParser,
        pd: &mut ParserData,
        mut offset: usize,
        mut length: usize,
    ) -> isize {
        const F: &str = "parse_block";
        if length == 0 {
            let split = self.idf.httpd.split_too_long_message;
            if !split {
                logf!(self.con, Warn, TAG, F, "request URI/header too long");
            }
            match pd.status {
                Status::Url => {
                    if split {
                        logf!(self.con, Warn, TAG, F, "request URI too long");
                    }
                    pd.error = HttpErr::E414;
                }
                Status::HdrField | Status::HdrValue => {
                    if split {
                        logf!(self.con, Warn, TAG, F, "request header too long");
                    }
                    pd.error = HttpErr::E431;
                }
                _ => {
                    logf!(self.con, Error, TAG, F, "unexpected state");
                    pd.error = HttpErr::E500;
                }
            }
            pd.status = Status::Failed;
            return -1;
        }
        if pd.paused {
            // continue_parsing()
            let skip = length.min(pd.pre_parsed);
            pd.pre_parsed -= skip;
            logf!(
                self.con,
                Debug,
                TAG,
                "continue_parsing",
                "skip pre-parsed data of size = {}",
                skip
            );
            parser.pause(false);
            pd.paused = false;
            logf!(self.con, Debug, TAG, "continue_parsing", "un-paused");
            length -= skip;
            offset += skip;
            if length == 0 {
                return skip as isize;
            }
        }
        let block = self.req.as_ref().expect("request").scratch[offset..offset + length].to_vec();
        let nparsed = {
            let mut cb = Cb { hd: self, pd };
            parser.execute(&mut cb, &block, offset)
        };
        if pd.status == Status::Failed {
            logf!(self.con, Warn, TAG, F, "parsing failed");
            -1
        } else if pd.paused {
            pd.pre_parsed = pd.pre_parsed.wrapping_sub(length - nparsed);
            0
        } else if nparsed != length {
            pd.error = HttpErr::E400;
            pd.status = Status::Failed;
            logf!(
                self.con,
                Warn,
                TAG,
                F,
                "incomplete ({}/{}) with parser error = {}",
                nparsed,
                length,
                parser.http_errno as u8
            );
            -1
        } else {
            logf!(
                self.con,
                Debug,
                TAG,
                F,
                "parsed block size = {}",
                offset + nparsed
            );
            (offset + nparsed) as isize
        }
    }

    /// `httpd_parse_req()`.
    fn httpd_parse_req(&mut self) -> EspErr {
        let mut parser = HttpParser::new();
        let mut pd = ParserData {
            status: Status::Idle,
            error: HttpErr::E500,
            last_at: 0,
            last_length: 0,
            paused: false,
            pre_parsed: 0,
            raw_datalen: 0,
        };
        let mut offset: usize = 0;
        loop {
            let blk_len = self.read_block(offset, PARSER_BLOCK_SIZE);
            if blk_len < 0 {
                if blk_len == HTTPD_SOCK_ERR_TIMEOUT {
                    continue;
                }
                return ESP_FAIL;
            }
            pd.raw_datalen = blk_len as usize + offset;
            let r = self.parse_block(&mut parser, &mut pd, offset, blk_len as usize);
            if r < 0 {
                let err = pd.error;
                return self.httpd_req_handle_err(err);
            }
            offset = r as usize;
            if pd.status == Status::Complete {
                break;
            }
        }
        logf!(self.con, Debug, TAG, "httpd_parse_req", "parsing complete");
        self.httpd_uri()
    }

    /// `httpd_req_new()`.
    pub(super) fn httpd_req_new(&mut self, slot: usize) -> EspErr {
        const F: &str = "httpd_req_new";
        self.req = Some(Req {
            slot,
            uri: Vec::new(),
            method: 0,
            content_len: 0,
            remaining_len: 0,
            scratch: Vec::new(),
            // v4.x: one fixed `scratch[MAX(HDR, URI) + 1]` for the whole
            // request (esp_httpd_priv.h); v5.x grows it by phase.
            scratch_size_limit: if self.idf.httpd.fixed_scratch {
                self.config.max_req_hdr_len.max(self.config.max_uri_len) + 1
            } else {
                self.config.max_uri_len
            },
            req_hdrs_count: 0,
            max_req_hdr_len: self.config.max_req_hdr_len,
            max_uri_len: self.config.max_uri_len,
            url: Default::default(),
            status: "200 OK",
            content_type: "text/html",
            ws_handshake_detect: false,
            ws_type: 0,
            ws_final: false,
            resp_hdrs: Vec::new(),
            sess_ctx: self.sessions[slot].ctx.clone(),
        });
        let yn = |b: bool| if b { "Yes" } else { "No" };
        let sd = &self.sessions[slot];
        let (done, handler, close) = (sd.ws_handshake_done, sd.ws_handler.clone(), sd.ws_close);
        logf!(
            self.con,
            Debug,
            TAG,
            F,
            "New request, has WS? {}, sd->ws_handler valid? {}, sd->ws_close? {}",
            yn(done),
            yn(handler.is_some()),
            yn(close)
        );
        if done && let Some(handler) = handler {
            let cf = self.idf.ws.control_frames;
            if close && cf == ControlFrames::V5 {
                // WS was marked as close state, do not deal with this socket
                // (293830a8eee: v4.4.2, v5.0 on).
                logf!(self.con, Debug, TAG, F, "WS was marked close");
                return ESP_OK;
            }
            if cf == ControlFrames::V4_2 {
                // v4.2 httpd_parse.c:761, before the first byte is read.
                logf!(
                    self.con,
                    Debug,
                    TAG,
                    F,
                    "New WS request from existing socket"
                );
            }
            let mut ret = self.httpd_ws_get_frame_type();
            let ws_type = self.req.as_ref().expect("request").ws_type;
            if cf != ControlFrames::V4_2 {
                logf!(
                    self.con,
                    Debug,
                    TAG,
                    F,
                    "New WS request from existing socket, ws_type={}",
                    ws_type
                );
            }
            if ws_type == super::ws::WS_CLOSE {
                self.sessions[slot].ws_close = true;
                if cf != ControlFrames::V5 {
                    // v4.x: "Stop and return here immediately if it's a
                    // CLOSE frame": the rest of the frame stays unread.
                    return ret;
                }
            } else if ws_type == super::ws::WS_PONG {
                if cf == ControlFrames::V4_2 {
                    // "Ignore PONG frame, as this is a server": its bytes
                    // after the first stay in the socket (esp-idf#18227).
                    return ret;
                }
                logf!(self.con, Debug, TAG, F, "Received PONG frame");
            }
            if ret == ESP_OK
                && (ws_type < super::ws::WS_CLOSE
                    || (self.idf.ws.pong_to_handler && ws_type == super::ws::WS_PONG)
                    || self.sessions[slot].ws_control_frames)
            {
                ret = handler(self);
            }
            if ret != ESP_OK {
                self.httpd_req_cleanup();
            }
            return ret;
        }
        let ret = self.httpd_parse_req();
        if ret != ESP_OK {
            self.httpd_req_cleanup();
        }
        ret
    }

    /// `httpd_req_recv()` of exactly `len` body bytes, as a handler that
    /// checks `ret != len` reads them: None when fewer came.
    pub fn httpd_req_recv_exact(&mut self, len: usize) -> Option<Vec<u8>> {
        let (ret, data) = self.httpd_req_recv_data(len);
        (ret >= 0 && ret as usize == len).then_some(data)
    }

    /// `httpd_req_recv()`, used here to purge an unread body.
    fn httpd_req_recv(&mut self, buf_len: usize) -> i32 {
        self.httpd_req_recv_data(buf_len).0
    }

    /// `httpd_req_recv()`: its return value and the bytes it read.
    fn httpd_req_recv_data(&mut self, buf_len: usize) -> (i32, Vec<u8>) {
        const F: &str = "httpd_req_recv";
        let remaining = self.req.as_ref().expect("request").remaining_len;
        logf!(
            self.con,
            Debug,
            "httpd_txrx",
            F,
            "remaining length = {}",
            remaining
        );
        let buf_len = buf_len.min(remaining);
        if buf_len == 0 {
            return (0, Vec::new());
        }
        let (ret, data) = self.httpd_recv_with_opt(buf_len, RecvOpt::None);
        if ret < 0 {
            logf!(self.con, Debug, "httpd_txrx", F, "error in httpd_recv");
            return (ret, data);
        }
        self.req.as_mut().expect("request").remaining_len -= ret as usize;
        logf!(
            self.con,
            Debug,
            "httpd_txrx",
            F,
            "received length = {}",
            ret
        );
        self.dispatch_event(ServerEvent::OnData);
        (ret, data)
    }

    /// `httpd_req_delete()`.
    pub(super) fn httpd_req_delete(&mut self) -> EspErr {
        while self.req.as_ref().is_some_and(|r| r.remaining_len > 0) {
            let remaining = self.req.as_ref().expect("request").remaining_len;
            let n = self.httpd_req_recv(self.idf.httpd.purge_buf_len.min(remaining));
            if n < 0 || (n == 0 && self.idf.httpd.purge_stops_on_zero) {
                self.httpd_req_cleanup();
                return ESP_FAIL;
            }
            logf!(
                self.con,
                Debug,
                TAG,
                "httpd_req_delete",
                "purging data size : {} bytes",
                n
            );
        }
        self.httpd_req_cleanup();
        ESP_OK
    }

    /// `httpd_req_cleanup()`.
    pub(super) fn httpd_req_cleanup(&mut self) {
        let Some(r) = self.req.as_ref() else {
            return;
        };
        let slot = r.slot;
        // The session takes the request's context over; a context the
        // handler replaced is freed first.
        let new_ctx = r.sess_ctx.clone();
        let old_value = self.sessions[slot].ctx.as_ref().map(|c| c.value);
        if old_value != new_ctx.as_ref().map(|c| c.value)
            && let Some(old) = self.sessions[slot].ctx.take()
        {
            (old.free_ctx)(old.value);
        }
        self.sessions[slot].ctx = new_ctx;
        if self.sessions[slot].ws_close {
            let fd = self.sessions[slot].fd;
            logf!(
                self.con,
                Debug,
                TAG,
                "httpd_req_cleanup",
                "Try closing WS connection at FD: {}",
                fd
            );
            self.httpd_sess_trigger_close(fd);
        }
        self.req = None;
    }

    /// `httpd_req_get_hdr_value_len()` (0 when absent).
    pub(crate) fn httpd_req_get_hdr_value_len(&self, field: &str) -> usize {
        self.httpd_req_get_hdr_value_str(field, usize::MAX)
            .map_or(0, |v| v.len())
    }

    /// `httpd_req_get_hdr_value_str(r, field, val, val_size)`: Ok(the bytes
    /// copied, at most `val_size - 1`) or the C error.
    pub(crate) fn httpd_req_get_hdr_value_str(
        &self,
        field: &str,
        val_size: usize,
    ) -> Result<Vec<u8>, EspErr> {
        let r = self.req.as_ref().ok_or(super::ESP_ERR_HTTPD_INVALID_REQ)?;
        let s = &r.scratch;
        let at = |i: usize| s.get(i).copied().unwrap_or(0);
        let strchr = |from: usize, c: u8| -> Option<usize> {
            let mut i = from;
            loop {
                let b = at(i);
                if b == c {
                    return Some(i);
                }
                if b == 0 {
                    return None;
                }
                i += 1;
            }
        };
        let strlen = |from: usize| -> usize {
            let mut i = from;
            while at(i) != 0 {
                i += 1;
            }
            i - from
        };
        let mut hdr = 0usize;
        let mut count = r.req_hdrs_count;
        while count > 0 {
            count -= 1;
            let Some(colon) = strchr(hdr, b':') else {
                break;
            };
            let name_len = colon - hdr;
            let matches = name_len == field.len()
                && (0..name_len).all(|i| at(hdr + i).eq_ignore_ascii_case(&field.as_bytes()[i]));
            if !matches {
                if count > 0 {
                    hdr = hdr + strlen(hdr) + 1;
                    while at(hdr) == 0 && hdr < s.len() {
                        hdr += 1;
                    }
                }
                continue;
            }
            let mut v = colon + 1;
            while at(v) != 0 && at(v) == b' ' {
                v += 1;
            }
            let full = strlen(v);
            let copied = full.min(val_size.saturating_sub(1));
            let value = (v..v + copied).map(at).collect();
            // v5.5.x: strlcpy() returns strlen(src) and truncation is only
            // reported when the value is *longer* than the buffer, so a
            // value of exactly val_size characters is silently cut by one.
            // v4.x and master compare against strlen + 1, so a value that
            // exactly fills the buffer is reported as truncated too.
            if val_size < full || (self.idf.httpd.full_buffer_is_truncation && val_size == full) {
                return Err(ESP_ERR_HTTPD_RESULT_TRUNC);
            }
            return Ok(value);
        }
        Err(ESP_ERR_NOT_FOUND)
    }
}
