//! httpd_txrx.c: socket reads and writes, the pending buffer, error pages.

use super::{
    ESP_ERR_HTTPD_RESP_SEND, ESP_FAIL, ESP_OK, EspErr, HTTPD_SOCK_ERR_FAIL, HTTPD_SOCK_ERR_INVALID,
    HTTPD_SOCK_ERR_TIMEOUT, Httpd, PARSER_BLOCK_SIZE, ServerEvent,
};
use crate::idf::lwip::{Errno, Fd};
use crate::idf::release::{ErrorPages, RecvWithOpt};
use crate::log;

const TAG: &str = "httpd_txrx";

/// `httpd_recv_opt_t`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RecvOpt {
    None,
    HaltAfterPending,
    Blocking,
}

/// `httpd_err_code_t`, with the status line and the v5.x default body of
/// `httpd_resp_send_err()`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HttpErr {
    E400,
    E404,
    E405,
    E408,
    /// v5.x only (v4.x has no 413 case: its default page is the 500's).
    E413,
    E414,
    E431,
    E500,
    E505,
}

impl HttpErr {
    fn status(self) -> &'static str {
        match self {
            HttpErr::E400 => "400 Bad Request",
            HttpErr::E404 => "404 Not Found",
            HttpErr::E405 => "405 Method Not Allowed",
            HttpErr::E408 => "408 Request Timeout",
            HttpErr::E413 => "413 Content Too Large",
            HttpErr::E414 => "414 URI Too Long",
            HttpErr::E431 => "431 Request Header Fields Too Large",
            HttpErr::E500 => "500 Internal Server Error",
            HttpErr::E505 => "505 Version Not Supported",
        }
    }

    /// The page of v4.x httpd_txrx.c `httpd_resp_send_err()`.
    fn body_v4(self) -> &'static str {
        match self {
            HttpErr::E400 => "Server unable to understand request due to invalid syntax",
            HttpErr::E404 => "This URI does not exist",
            HttpErr::E405 => "Request method for this URI is not handled by server",
            HttpErr::E408 => "Server closed this connection",
            HttpErr::E413 => "Server has encountered an unexpected error",
            HttpErr::E414 => "URI is too long for server to interpret",
            HttpErr::E431 => "Header fields are too long for server to interpret",
            HttpErr::E500 => "Server has encountered an unexpected error",
            HttpErr::E505 => "HTTP version not supported by server",
        }
    }

    fn body(self) -> &'static str {
        match self {
            HttpErr::E413 => "Content is too large",
            HttpErr::E400 => "Bad request syntax",
            HttpErr::E404 => "Nothing matches the given URI",
            HttpErr::E405 => "Specified method is invalid for this resource",
            HttpErr::E408 => "Server closed this connection",
            HttpErr::E414 => "URI is too long",
            HttpErr::E431 => "Header fields are too long",
            HttpErr::E500 => "Server has encountered an unexpected error",
            HttpErr::E505 => "HTTP version not supported by server",
        }
    }
}

impl Httpd {
    /// `httpd_sock_err()`: logs the errno and maps it.
    fn httpd_sock_err(&self, ctx: &str, e: Errno) -> i32 {
        logf!(
            self.con,
            Warn,
            TAG,
            "httpd_sock_err",
            "error in {} : {}",
            ctx,
            e.0
        );
        match e.0 {
            11 | 4 => HTTPD_SOCK_ERR_TIMEOUT,
            22 | 9 | 14 | 88 => HTTPD_SOCK_ERR_INVALID,
            _ => HTTPD_SOCK_ERR_FAIL,
        }
    }

    /// `httpd_default_recv()`: Ok(data) (empty = the peer's FIN) or a
    /// `HTTPD_SOCK_ERR_*` code.
    fn httpd_default_recv(&self, fd: Fd, max: usize) -> Result<Vec<u8>, i32> {
        match self.net.recv(fd, max) {
            Ok(v) => Ok(v),
            Err(e) => Err(self.httpd_sock_err("recv", e)),
        }
    }

    /// `httpd_default_send()`.
    pub(super) fn httpd_default_send(&self, fd: Fd, buf: &[u8]) -> i32 {
        match self.net.send(fd, buf) {
            Ok(n) => n as i32,
            Err(e) => self.httpd_sock_err("send", e),
        }
    }

    /// `httpd_recv_with_opt()`. Returns the C return value and the bytes.
    pub(super) fn httpd_recv_with_opt(&mut self, buf_len: usize, opt: RecvOpt) -> (i32, Vec<u8>) {
        const F: &str = "httpd_recv_with_opt";
        logf!(self.con, Debug, TAG, F, "requested length = {}", buf_len);
        let slot = self.req.as_ref().expect("request in progress").slot;
        let mut out = Vec::new();
        let mut want = buf_len;
        let mut pending_len = 0usize;
        if !self.sessions[slot].pending.is_empty() {
            logf!(
                self.con,
                Debug,
                TAG,
                F,
                "pending length = {}",
                self.sessions[slot].pending.len()
            );
            let n = want.min(self.sessions[slot].pending.len());
            out.extend(self.sessions[slot].pending.drain(..n));
            pending_len = n;
            want -= n;
            if want == 0 || opt == RecvOpt::HaltAfterPending {
                return (pending_len as i32, out);
            }
        }
        let fd = self.sessions[slot].fd;
        let variant = self.idf.httpd.recv_with_opt;
        loop {
            match self.httpd_default_recv(fd, want) {
                Ok(data) if !data.is_empty() => {
                    want -= data.len();
                    out.extend_from_slice(&data);
                }
                // Up to v5.5.2 only `ret < 0` is an error: the peer's FIN
                // adds nothing (and a blocking read goes round again).
                Ok(_) if variant != RecvWithOpt::ZeroIsAnError => {}
                other => {
                    let ret = match other {
                        Ok(_) => 0,
                        Err(code) => code,
                    };
                    logf!(self.con, Debug, TAG, F, "error in recv_fn");
                    if ret == HTTPD_SOCK_ERR_TIMEOUT && pending_len != 0 {
                        return (pending_len as i32, out);
                    }
                    return (ret, out);
                }
            }
            // v4.x has no blocking option: one recv() whatever asked.
            if !(want > 0 && opt == RecvOpt::Blocking && variant != RecvWithOpt::Single) {
                break;
            }
        }
        logf!(self.con, Debug, TAG, F, "received length = {}", out.len());
        (out.len() as i32, out)
    }

    /// `httpd_unrecv()`: pushes bytes back into the session's pending buffer
    /// (at most `PARSER_BLOCK_SIZE`, the rest is lost as in C).
    pub(super) fn httpd_unrecv(&mut self, data: &[u8]) -> usize {
        let slot = self.req.as_ref().expect("request in progress").slot;
        let n = data.len().min(PARSER_BLOCK_SIZE);
        self.sessions[slot].pending = data[..n].to_vec();
        logf!(self.con, Debug, TAG, "httpd_unrecv", "length = {}", n);
        n
    }

    /// `httpd_send()`.
    pub(super) fn httpd_send(&mut self, buf: &[u8]) -> i32 {
        let slot = self.req.as_ref().expect("request in progress").slot;
        let ret = self.httpd_default_send(self.sessions[slot].fd, buf);
        if ret < 0 {
            logf!(self.con, Debug, TAG, "httpd_send", "error in send_fn");
        }
        ret
    }

    /// `httpd_send_all()`.
    fn httpd_send_all(&mut self, buf: &[u8]) -> EspErr {
        let slot = self.req.as_ref().expect("request in progress").slot;
        let fd = self.sessions[slot].fd;
        let mut rest = buf;
        while !rest.is_empty() {
            let ret = self.httpd_default_send(fd, rest);
            if ret < 0 {
                logf!(self.con, Debug, TAG, "httpd_send_all", "error in send_fn");
                return ESP_FAIL;
            }
            logf!(self.con, Debug, TAG, "httpd_send_all", "sent = {}", ret);
            rest = &rest[ret as usize..];
        }
        ESP_OK
    }

    /// `httpd_resp_set_hdr()`.
    pub(super) fn httpd_resp_set_hdr(&mut self, field: &'static str, value: &'static str) {
        let r = self.req.as_mut().expect("request in progress");
        r.resp_hdrs.push((field, value));
        logf!(
            self.con,
            Debug,
            TAG,
            "httpd_resp_set_hdr",
            "new header = {}: {}",
            field,
            value
        );
    }

    /// `httpd_resp_send()`: the status block, each extra header in four
    /// writes (field, ": ", value, CRLF), the blank line, the body.
    fn httpd_resp_send(&mut self, body: &[u8]) -> EspErr {
        let (status, content_type, headers) = {
            let r = self.req.as_mut().expect("request in progress");
            // Request headers are no longer available.
            r.req_hdrs_count = 0;
            (r.status, r.content_type, r.resp_hdrs.clone())
        };
        let head = format!(
            "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
            status,
            content_type,
            body.len()
        );
        if self.idf.httpd.log_send_buffer_size {
            log!(
                self.con,
                Debug,
                TAG,
                "httpd send buffer size = {}",
                head.len()
            );
        }
        if self.httpd_send_all(head.as_bytes()) != ESP_OK {
            return ESP_ERR_HTTPD_RESP_SEND;
        }
        for (field, value) in headers {
            for piece in [field.as_bytes(), b": ", value.as_bytes(), b"\r\n"] {
                if self.httpd_send_all(piece) != ESP_OK {
                    return ESP_ERR_HTTPD_RESP_SEND;
                }
            }
        }
        if self.httpd_send_all(b"\r\n") != ESP_OK {
            return ESP_ERR_HTTPD_RESP_SEND;
        }
        self.dispatch_event(ServerEvent::HeadersSent);
        if !body.is_empty() && self.httpd_send_all(body) != ESP_OK {
            return ESP_ERR_HTTPD_RESP_SEND;
        }
        self.dispatch_event(ServerEvent::SentData);
        ESP_OK
    }

    /// `httpd_resp_send_404()`.
    pub fn httpd_resp_send_404(&mut self) -> EspErr {
        self.httpd_resp_send_err(HttpErr::E404)
    }

    /// `httpd_resp_send_err()` with the default message.
    fn httpd_resp_send_err(&mut self, error: HttpErr) -> EspErr {
        let (status, msg) = match self.idf.httpd.error_pages {
            ErrorPages::V5 => (error.status(), error.body()),
            // v4.x falls back to the 500 page for codes it does not know.
            ErrorPages::V4 if error == HttpErr::E413 => {
                (HttpErr::E500.status(), HttpErr::E500.body_v4())
            }
            ErrorPages::V4 => (error.status(), error.body_v4()),
        };
        logf!(
            self.con,
            Warn,
            TAG,
            "httpd_resp_send_err",
            "{} - {}",
            status,
            msg
        );
        {
            let r = self.req.as_mut().expect("request in progress");
            r.status = status;
            r.content_type = "text/html";
        }
        // CONFIG_HTTPD_ERR_RESP_NO_DELAY toggles TCP_NODELAY around the send;
        // it changes segmenting only, which the host side does not reproduce.
        let ret = self.httpd_resp_send(msg.as_bytes());
        self.dispatch_event(ServerEvent::Error);
        ret
    }

    /// `httpd_resp_send_custom_err()` (master): like `httpd_resp_send_err`
    /// with the caller's message, and no ERROR event.
    pub(super) fn httpd_resp_send_custom_err(&mut self, status: &'static str, msg: &str) -> EspErr {
        logf!(
            self.con,
            Warn,
            TAG,
            "httpd_resp_send_custom_err",
            "{} - {}",
            status,
            msg
        );
        {
            let r = self.req.as_mut().expect("request in progress");
            r.status = status;
            r.content_type = "text/html";
        }
        self.httpd_resp_send(msg.as_bytes())
    }

    /// `httpd_req_handle_err()`: the model has no custom error handlers
    /// (`httpd_register_err_handler()`), so the default page is sent and the
    /// socket is closed.
    pub(super) fn httpd_req_handle_err(&mut self, error: HttpErr) -> EspErr {
        self.httpd_resp_send_err(error);
        ESP_FAIL
    }
}
