//! Opening handshake: accept keys, request bytes, response parsing.

use esp_ws_frame::{
    HandshakeError, Opcode, Request, ResponseParse, WS_GUID, accept_key, decode_all,
    key_from_nonce, parse_response,
};

#[test]
fn accept_key_vectors() {
    assert_eq!(WS_GUID, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    assert_eq!(
        accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    assert_eq!(accept_key(b"gfhjgfhjfj"), "Jg/fQVRsgwdDzYeG8yNBHRajUxw=");
    assert_eq!(accept_key(b"abcdefghjk"), "+5PolssIA7fMj9jkPR/arHzZVLo=");
}

#[test]
fn key_from_nonce_is_base64() {
    // The RFC 6455 sample nonce.
    assert_eq!(
        key_from_nonce(*b"the sample nonce"),
        "dGhlIHNhbXBsZSBub25jZQ=="
    );
    assert_eq!(key_from_nonce([0; 16]), "AAAAAAAAAAAAAAAAAAAAAA==");
}

#[test]
fn websocket_request_bytes() {
    let r = Request::websocket("/ws", "127.0.0.1:8080", "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(
        String::from_utf8(r.to_bytes()).unwrap(),
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    assert_eq!(r.header("sec-websocket-version"), Some("13"));
    assert_eq!(r.header("Origin"), None);
}

#[test]
fn set_and_remove_headers() {
    let mut r = Request::websocket("/", "h", "k");
    // Replacing keeps the position and takes the new spelling.
    r.set_header("upgrade", "WebSocket");
    assert_eq!(
        r.headers[1],
        ("upgrade".to_string(), "WebSocket".to_string())
    );
    assert_eq!(r.header("UPGRADE"), Some("WebSocket"));
    // Unknown names are appended.
    r.set_header("Origin", "http://x");
    assert_eq!(r.headers.last().unwrap().0, "Origin");
    assert_eq!(r.headers.len(), 6);

    // Only the first of duplicates is replaced; remove drops them all.
    r.headers.push(("Sec-WebSocket-Version".into(), "8".into()));
    r.set_header("sec-websocket-version", "12");
    assert_eq!(r.headers[4].1, "12");
    assert_eq!(r.headers[6].1, "8");
    r.remove_header("SEC-WEBSOCKET-VERSION");
    assert_eq!(r.header("Sec-WebSocket-Version"), None);
    assert_eq!(r.headers.len(), 5);
    r.remove_header("absent");
    assert_eq!(r.headers.len(), 5);

    assert_eq!(
        String::from_utf8(r.to_bytes()).unwrap(),
        "GET / HTTP/1.1\r\nHost: h\r\nupgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k\r\nOrigin: http://x\r\n\r\n"
    );
}

#[test]
fn request_fields_are_sent_verbatim() {
    let mut r = Request::websocket("/ws?a=1", "h", "k");
    r.method = "POST".into();
    r.version = "HTTP/1.0".into();
    r.headers.clear();
    assert_eq!(r.to_bytes(), b"POST /ws?a=1 HTTP/1.0\r\n\r\n");
}

const SWITCHING: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x05hello";

#[test]
fn parse_101_with_frame_bytes_after_the_head() {
    let ResponseParse::Complete(r) = parse_response(SWITCHING).unwrap() else {
        panic!("expected a complete response");
    };
    assert_eq!(r.status, 101);
    assert_eq!(r.version, "HTTP/1.1");
    assert_eq!(r.reason, "Switching Protocols");
    assert_eq!(r.status_line(), "HTTP/1.1 101 Switching Protocols");
    assert_eq!(
        r.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    assert_eq!(r.headers.len(), 3);
    assert_eq!(
        r.headers[0],
        ("Upgrade".to_string(), "websocket".to_string())
    );
    assert!(r.body.is_empty());
    assert_eq!(SWITCHING[r.head_len], 0x81);
    assert_eq!(r.head_len, SWITCHING.len() - 7);
    let (frames, rest) = decode_all(&SWITCHING[r.head_len..], 1024).unwrap();
    assert!(rest.is_empty());
    assert_eq!(frames[0].opcode, Opcode::TEXT);
    assert_eq!(frames[0].payload, b"hello");

    // Incomplete until the blank line has arrived.
    for cut in 0..r.head_len {
        assert_eq!(
            parse_response(&SWITCHING[..cut]).unwrap(),
            ResponseParse::Incomplete,
            "cut {cut}"
        );
    }
    assert!(matches!(
        parse_response(&SWITCHING[..r.head_len]).unwrap(),
        ResponseParse::Complete(ref x) if x.head_len == r.head_len
    ));
}

const NOT_FOUND: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 29\r\n\r\nNothing matches the given URI";

#[test]
fn parse_404_incrementally() {
    for cut in 0..NOT_FOUND.len() {
        assert_eq!(
            parse_response(&NOT_FOUND[..cut]).unwrap(),
            ResponseParse::Incomplete,
            "cut {cut}"
        );
    }
    let ResponseParse::Complete(r) = parse_response(NOT_FOUND).unwrap() else {
        panic!("expected a complete response");
    };
    assert_eq!(r.status, 404);
    assert_eq!(r.status_line(), "HTTP/1.1 404 Not Found");
    assert_eq!(r.content_length(), Some(29));
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert_eq!(r.body, b"Nothing matches the given URI");
    assert_eq!(r.head_len, NOT_FOUND.len() - 29);

    // Bytes past Content-Length are not part of the body.
    let mut more = NOT_FOUND.to_vec();
    more.extend_from_slice(b"HTTP/1.1 200");
    let ResponseParse::Complete(r2) = parse_response(&more).unwrap() else {
        panic!("expected a complete response");
    };
    assert_eq!(r2.body, r.body);
}

#[test]
fn parse_without_content_length_takes_the_rest() {
    let buf = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\nbad thing";
    let ResponseParse::Complete(r) = parse_response(buf).unwrap() else {
        panic!("expected a complete response");
    };
    assert_eq!(r.status, 400);
    assert_eq!(r.content_length(), None);
    assert_eq!(r.body, b"bad thing");

    let buf = b"HTTP/1.0 500 \r\n\r\n";
    let ResponseParse::Complete(r) = parse_response(buf).unwrap() else {
        panic!("expected a complete response");
    };
    assert_eq!(r.status_line(), "HTTP/1.0 500");
    assert!(r.body.is_empty());
}

#[test]
fn parse_garbage_quotes_what_was_received() {
    let err = parse_response(b"\x81\x05hello\r\n\r\n").unwrap_err();
    assert!(matches!(err, HandshakeError::Http { .. }));
    let msg = err.to_string();
    assert!(msg.contains("\\x81\\x05hello\\r\\n\\r\\n"), "{msg}");

    let err = parse_response(b"SSH-2.0-OpenSSH_9.6\r\n").unwrap_err();
    assert!(
        err.to_string().contains("SSH-2.0-OpenSSH_9.6\\r\\n"),
        "{err}"
    );

    // Long garbage is quoted only in part.
    let long = vec![b'x'; 500];
    let msg = parse_response(&[b"\x00".as_slice(), &long].concat())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("\\0xxx"), "{msg}");
    assert!(msg.contains('…'), "{msg}");
    assert!(msg.len() < 300, "{msg}");
}

#[test]
fn invalid_content_length_is_an_error() {
    let buf = b"HTTP/1.1 404 Not Found\r\nContent-Length: lots\r\n\r\nbody";
    let err = parse_response(buf).unwrap_err();
    assert!(
        matches!(err, HandshakeError::InvalidContentLength { ref value, .. } if value == "lots")
    );
    assert!(err.to_string().contains("Content-Length: lots"), "{err}");
}

#[test]
fn many_headers_are_accepted() {
    let mut buf = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
    for i in 0..100 {
        buf.extend_from_slice(format!("X-H{i}: {i}\r\n").as_bytes());
    }
    buf.extend_from_slice(b"\r\n");
    let ResponseParse::Complete(r) = parse_response(&buf).unwrap() else {
        panic!("expected a complete response");
    };
    assert_eq!(r.headers.len(), 100);
    assert_eq!(r.header("x-h99"), Some("99"));
    assert_eq!(r.head_len, buf.len());
}
