//! Both sides of the opening handshake (RFC 6455 §4.1–4.2): the client's
//! request and the server's answer, built and parsed.
//!
//! Requests are kept as an ordered list of raw header pairs, not a map, so
//! the harness can reproduce a browser's exact bytes, send duplicates, or
//! leave required headers out, and see how the server reacts.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

use crate::escape::escape_bytes;

/// The GUID RFC 6455 appends to the client key before hashing.
pub const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value a server must answer `client_key` with.
///
/// Takes bytes rather than `&str` because the harness also sends keys that
/// are not valid base64, or not text at all, and still needs the expected
/// answer.
pub fn accept_key(client_key: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(client_key);
    h.update(WS_GUID.as_bytes());
    STANDARD.encode(h.finalize())
}

/// A `Sec-WebSocket-Key` from 16 caller-chosen bytes (the crate has no
/// randomness of its own, so callers control reproducibility).
pub fn key_from_nonce(nonce: [u8; 16]) -> String {
    STANDARD.encode(nonce)
}

/// An HTTP request head, serialised verbatim by [`Request::to_bytes`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub version: String,
    /// In sending order; names keep the caller's spelling.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// A conforming upgrade request with the headers in the order browsers
    /// and `esp_websocket_client` commonly use.
    pub fn websocket(target: &str, host: &str, key: &str) -> Self {
        Request {
            method: "GET".to_string(),
            target: target.to_string(),
            version: "HTTP/1.1".to_string(),
            headers: vec![
                ("Host".to_string(), host.to_string()),
                ("Upgrade".to_string(), "websocket".to_string()),
                ("Connection".to_string(), "Upgrade".to_string()),
                ("Sec-WebSocket-Key".to_string(), key.to_string()),
                ("Sec-WebSocket-Version".to_string(), "13".to_string()),
            ],
        }
    }

    /// Replaces the first header called `name` (case-insensitively) in
    /// place, name spelling included, so the header keeps its position;
    /// appends if there is none. Later duplicates are left alone.
    pub fn set_header(&mut self, name: &str, value: &str) {
        match self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(h) => *h = (name.to_string(), value.to_string()),
            None => self.headers.push((name.to_string(), value.to_string())),
        }
    }

    /// Removes every header called `name` (case-insensitively).
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The value of the first header called `name` (case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// `METHOD target VERSION\r\n`, each header as `Name: value\r\n`, then
    /// `\r\n`. Nothing is validated or normalised.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} {}\r\n", self.method, self.target, self.version);
        for (n, v) in &self.headers {
            out.push_str(n);
            out.push_str(": ");
            out.push_str(v);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A parsed HTTP response.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Response {
    /// e.g. `HTTP/1.1`.
    pub version: String,
    pub status: u16,
    pub reason: String,
    /// In received order. Values that are not UTF-8 are converted lossily.
    pub headers: Vec<(String, String)>,
    /// Empty for 101; see [`parse_response`] for other statuses.
    pub body: Vec<u8>,
    /// Length of the head including the blank line: where WebSocket frames
    /// (after a 101) or the body begin.
    pub head_len: usize,
}

impl Response {
    /// The value of the first header called `name` (case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The first `Content-Length`, if present and a plain decimal number.
    pub fn content_length(&self) -> Option<usize> {
        parse_content_length(self.header("Content-Length")?)
    }

    /// e.g. `HTTP/1.1 404 Not Found`.
    pub fn status_line(&self) -> String {
        format!("{} {} {}", self.version, self.status, self.reason)
            .trim_end()
            .to_string()
    }
}

fn parse_content_length(v: &str) -> Option<usize> {
    let v = v.trim();
    // Digits only: `usize::from_str` would accept a leading `+`, which HTTP
    // does not.
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Result of [`parse_response`] on the bytes received so far.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ResponseParse {
    /// Keep reading.
    Incomplete,
    Complete(Response),
}

/// Why the server's answer is not an HTTP response we can read. Each variant
/// carries the start of what was received, escaped, because the useful
/// diagnosis is usually "the server sent *this*".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("invalid HTTP response ({source}); received: \"{received}\"")]
    Http {
        #[source]
        source: httparse::Error,
        received: String,
    },
    #[error("invalid Content-Length {value:?}; received: \"{received}\"")]
    InvalidContentLength { value: String, received: String },
}

/// How much of the received data error messages quote.
const QUOTE_MAX: usize = 80;

fn quote_received(buf: &[u8]) -> String {
    if buf.len() > QUOTE_MAX {
        format!("{}…", escape_bytes(&buf[..QUOTE_MAX]))
    } else {
        escape_bytes(buf)
    }
}

/// Header slots tried first; doubled on `TooManyHeaders` up to the cap.
const HEADERS_INITIAL: usize = 32;
const HEADERS_MAX: usize = 1024;

/// Parses the server's reply to the upgrade request from the bytes
/// received so far.
///
/// `Incomplete` until the whole head has arrived. A 101's body is empty and
/// everything from `head_len` on is WebSocket data. For other statuses with
/// a `Content-Length`, `Incomplete` until that many body bytes are present,
/// then exactly those bytes as the body; without one, the body is whatever
/// follows the head (the caller reads until the connection closes and calls
/// again).
pub fn parse_response(buf: &[u8]) -> Result<ResponseParse, HandshakeError> {
    let mut slots = HEADERS_INITIAL;
    loop {
        let mut headers = vec![httparse::EMPTY_HEADER; slots];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(buf) {
            Ok(httparse::Status::Partial) => return Ok(ResponseParse::Incomplete),
            Ok(httparse::Status::Complete(head_len)) => {
                return finish(&resp, buf, head_len);
            }
            Err(httparse::Error::TooManyHeaders) if slots < HEADERS_MAX => slots *= 2,
            Err(source) => {
                return Err(HandshakeError::Http {
                    source,
                    received: quote_received(buf),
                });
            }
        }
    }
}

fn finish(
    resp: &httparse::Response<'_, '_>,
    buf: &[u8],
    head_len: usize,
) -> Result<ResponseParse, HandshakeError> {
    // httparse only reports Complete once version and code are parsed.
    let status = resp.code.unwrap_or_default();
    let mut r = Response {
        version: format!("HTTP/1.{}", resp.version.unwrap_or_default()),
        status,
        reason: resp.reason.unwrap_or_default().to_string(),
        headers: owned_headers(resp.headers),
        body: Vec::new(),
        head_len,
    };
    if status == 101 {
        return Ok(ResponseParse::Complete(r));
    }
    let rest = &buf[head_len..];
    match r.header("Content-Length") {
        None => r.body = rest.to_vec(),
        Some(v) => {
            let Some(len) = parse_content_length(v) else {
                return Err(HandshakeError::InvalidContentLength {
                    value: v.to_string(),
                    received: quote_received(buf),
                });
            };
            if rest.len() < len {
                return Ok(ResponseParse::Incomplete);
            }
            r.body = rest[..len].to_vec();
        }
    }
    Ok(ResponseParse::Complete(r))
}

/// httparse's borrowed headers as owned pairs, in order and as spelt.
fn owned_headers(headers: &[httparse::Header]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

/// Result of [`parse_request`] on the bytes received so far.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RequestParse {
    /// Keep reading.
    Incomplete,
    /// The head, and how many bytes it took (what follows is the client's
    /// next data: WebSocket frames after an upgrade).
    Complete { request: Request, head_len: usize },
}

/// Why a client's opening bytes are not an HTTP request head.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid HTTP request ({source}); received: \"{received}\"")]
pub struct RequestError {
    #[source]
    pub source: httparse::Error,
    pub received: String,
}

/// Parses a client's opening handshake request (the server side of RFC
/// 6455 §4.2.1) from the bytes received so far: `Incomplete` until the
/// whole head has arrived. Headers keep their order and spelling; nothing
/// is checked beyond HTTP syntax.
pub fn parse_request(buf: &[u8]) -> Result<RequestParse, RequestError> {
    let mut slots = HEADERS_INITIAL;
    loop {
        let mut headers = vec![httparse::EMPTY_HEADER; slots];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(buf) {
            Ok(httparse::Status::Partial) => return Ok(RequestParse::Incomplete),
            Ok(httparse::Status::Complete(head_len)) => {
                let request = Request {
                    method: req.method.unwrap_or_default().to_string(),
                    target: req.path.unwrap_or_default().to_string(),
                    version: format!("HTTP/1.{}", req.version.unwrap_or_default()),
                    headers: owned_headers(req.headers),
                };
                return Ok(RequestParse::Complete { request, head_len });
            }
            Err(httparse::Error::TooManyHeaders) if slots < HEADERS_MAX => slots *= 2,
            Err(source) => {
                return Err(RequestError {
                    source,
                    received: quote_received(buf),
                });
            }
        }
    }
}

#[cfg(test)]
mod request_tests {
    use super::*;

    #[test]
    fn a_request_head_is_read_in_order_and_the_rest_left() {
        let bytes = b"GET /x HTTP/1.1\r\nConnection: Upgrade\r\nHost: h:1\r\n\r\n\x81\x80";
        assert_eq!(
            parse_request(&bytes[..20]).unwrap(),
            RequestParse::Incomplete
        );
        let RequestParse::Complete { request, head_len } = parse_request(bytes).unwrap() else {
            panic!("complete");
        };
        assert_eq!(request.method, "GET");
        assert_eq!(request.target, "/x");
        assert_eq!(request.version, "HTTP/1.1");
        assert_eq!(
            request.headers,
            vec![
                ("Connection".to_string(), "Upgrade".to_string()),
                ("Host".to_string(), "h:1".to_string())
            ]
        );
        assert_eq!(&bytes[head_len..], b"\x81\x80");
        assert!(parse_request(b"\x81\x80garbage\r\n\r\n").is_err());
    }
}
