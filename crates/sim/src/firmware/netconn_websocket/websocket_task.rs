//! `WebSocket_Task.c` of the netconn WebSocket tutorial (Thomas Barth's
//! original, as the HX / xiaolongba "Chapter 18" copy has it: the two
//! differ only in comments and layout, fact sheet
//! lwip-netconn-ws-server.md section 0). Every behaviour names the
//! function and the sheet's section behind it; what the sheet marks
//! inferred is said so here.
//!
//! It prints nothing: the file has no `printf` and no `ESP_LOGx` (sheet
//! section 9).

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use sha1::{Digest, Sha1};

use crate::chip::Queue;
use crate::idf::lwip::{Lwip, Netbuf, Netconn, NetconnErr};

/// `WS_PORT`.
pub const WS_PORT: u16 = 9998;
/// `WS_CLIENT_KEY_L`: key bytes copied after the needle.
const WS_CLIENT_KEY_L: usize = 24;
/// `WS_STD_LEN`: the longest payload received or sent.
pub const WS_STD_LEN: usize = 125;
/// `WS_sec_WS_keys`; `sizeof` is 19 (18 characters and the NUL), which
/// is where the key is taken from: one byte after the colon.
const WS_SEC_WS_KEYS: &[u8] = b"Sec-WebSocket-Key:";
const WS_SEC_WS_KEYS_SIZEOF: usize = 19;
/// `WS_sec_conKey`, copied with its NUL.
const WS_SEC_CON_KEY: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11\0";

/// `WS_OPCODES`.
pub const WS_OP_TXT: u8 = 0x1;
pub const WS_OP_CLS: u8 = 0x8;

/// `WebSocket_frame_t`: what the server task queues for the receive task.
#[derive(Clone, Debug)]
pub struct WebSocketFrame {
    /// `frame_header.opcode` (always TEXT: nothing else is queued).
    pub opcode: u8,
    pub fin: bool,
    /// `payload_length`: the 7-bit length field.
    pub payload_length: usize,
    /// `payload`: the unmasked bytes and, for a masked frame, the NUL that
    /// `malloc(len + 1)` made room for.
    pub payload: Vec<u8>,
}

/// The file's statics: `WS_conn` and `WebSocket_rx_queue`.
#[derive(Clone)]
pub struct WebSocketTask {
    lwip: Arc<Lwip>,
    /// `static struct netconn* WS_conn`: the one open WebSocket, read by
    /// the receive task without a lock (sheet section 6).
    ws_conn: Arc<Mutex<Option<Netconn>>>,
    /// `WebSocket_rx_queue` (10 items), created by the receive task.
    pub rx_queue: Queue<WebSocketFrame>,
}

impl WebSocketTask {
    pub fn new(lwip: Arc<Lwip>, rx_queue: Queue<WebSocketFrame>) -> Self {
        WebSocketTask {
            lwip,
            ws_conn: Arc::new(Mutex::new(None)),
            rx_queue,
        }
    }

    fn set_ws_conn(&self, conn: Option<Netconn>) {
        *self.ws_conn.lock().unwrap_or_else(|e| e.into_inner()) = conn;
    }

    /// `ws_server()` (the "ws_server" task): listen on 9998 and serve one
    /// client at a time, in accept order, synchronously (sheet section 3).
    /// The return codes of new, bind and listen are ignored.
    pub fn ws_server(&self) {
        let Ok(conn) = self.lwip.netconn_new() else {
            return;
        };
        let _ = self.lwip.netconn_bind(conn, WS_PORT);
        let _ = self.lwip.netconn_listen(conn);
        while let Ok(newconn) = self.lwip.netconn_accept(conn) {
            self.ws_server_netconn_serve(newconn);
        }
        // netconn_accept() failed (in the model: the CPU stopped). The C
        // code closes the listener and returns from the task function,
        // which FreeRTOS turns into an abort (inferred, sheet section 3);
        // a halted chip prints nothing more either way.
        let _ = self.lwip.netconn_close(conn);
        self.lwip.netconn_delete(conn);
    }

    /// `ws_server_netconn_serve()`: the handshake from the first segment,
    /// then one frame per segment until a CLOSE or an error (sheet
    /// sections 4, 5 and 8).
    fn ws_server_netconn_serve(&self, conn: Netconn) {
        // The SHA-1 buffers (61 and 20 bytes) and the response buffer
        // (132 bytes) come from the heap; they never fail in the model.
        if let Ok(Netbuf(buf)) = self.lwip.netconn_recv(conn)
            && let Some(response) = handshake_response(&buf)
        {
            // One netconn_write of strlen(response) bytes.
            let _ = self.lwip.netconn_write(conn, &response);
            self.set_ws_conn(Some(conn));
            // Frame bytes that came in the handshake's segment are never
            // looked at (sheet 4.10).
            while let Ok(Netbuf(buf)) = self.lwip.netconn_recv(conn) {
                if !self.receive_frame(&buf) {
                    break;
                }
            }
        }
        // Cleanup (sheet section 8): WS_conn = NULL, close, delete.
        self.set_ws_conn(None);
        let _ = self.lwip.netconn_close(conn);
        self.lwip.netconn_delete(conn);
    }

    /// One iteration of the receive loop: the frame that starts at byte 0
    /// of the segment (`netbuf_data`'s pointer; the length it gives is not
    /// used). False for a CLOSE, which ends the session with no reply.
    fn receive_frame(&self, buf: &[u8]) -> bool {
        // Past the end of the pbuf the C code reads whatever memory
        // follows (inferred, sheet 5); the model reads zeros there.
        let at = |i: usize| buf.get(i).copied().unwrap_or(0);
        // `WS_frame_header_t` bit-fields: opcode:4, reserved:3, FIN:1,
        // payload_length:7, mask:1 (LSB first on the Xtensa).
        let opcode = at(0) & 0x0f;
        let fin = at(0) & 0x80 != 0;
        let payload_length = usize::from(at(1) & 0x7f);
        let masked = at(1) & 0x80 != 0;
        if opcode == WS_OP_CLS {
            // FIN, mask and payload are not examined; no CLOSE goes back.
            return false;
        }
        if payload_length > WS_STD_LEN {
            // 126 and 127: the frame is ignored, the connection stays.
            return true;
        }
        let payload = if masked {
            // malloc(len + 1): payload[i] = buf[6 + i] ^ buf[2 + i % 4],
            // then a NUL.
            let mut p: Vec<u8> = (0..payload_length)
                .map(|i| at(6 + i) ^ at(2 + i % 4))
                .collect();
            p.push(0);
            p
        } else {
            // An unmasked frame's payload is a pointer into the netbuf,
            // with no NUL after it; the receive task free()s that pointer
            // later (heap corruption) after the netbuf was deleted
            // (inferred, sheet 5.4). The model hands the bytes over as
            // they were and does not reproduce the corruption.
            (0..payload_length).map(|i| at(2 + i)).collect()
        };
        // Only TEXT is forwarded (FIN is never checked); BINARY,
        // CONTINUATION, PING, PONG and reserved opcodes are dropped, PING
        // unanswered. xQueueSendFromISR without a wait: a full queue drops
        // the frame (and leaks its buffer).
        if opcode == WS_OP_TXT {
            let _ = self.rx_queue.send(WebSocketFrame {
                opcode,
                fin,
                payload_length,
                payload,
            });
        }
        true
    }

    /// `WS_write_data()`: one unmasked TEXT frame with a 7-bit length, as
    /// two writes (header, payload). ERR_CONN without a client, ERR_VAL
    /// above 125 bytes (nothing sent).
    pub fn ws_write_data(&self, data: &[u8]) -> Result<(), WriteErr> {
        let Some(conn) = *self.ws_conn.lock().unwrap_or_else(|e| e.into_inner()) else {
            return Err(WriteErr::Conn);
        };
        if data.len() > WS_STD_LEN {
            return Err(WriteErr::Val);
        }
        let header = [0x80 | WS_OP_TXT, data.len() as u8];
        self.lwip
            .netconn_write(conn, &header)
            .map_err(WriteErr::Netconn)?;
        self.lwip
            .netconn_write(conn, data)
            .map_err(WriteErr::Netconn)
    }
}

/// What `WS_write_data()` returns besides ERR_OK.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum WriteErr {
    /// ERR_CONN (-14 in ESP-IDF v3.0's lwIP, sheet section 6): no client.
    Conn,
    /// ERR_VAL (-6): longer than 125 bytes.
    Val,
    Netconn(NetconnErr),
}

/// The handshake of `ws_server_netconn_serve()` (sheet section 4): no
/// check of method, path or any header but the key, which is the 24 bytes
/// found one byte after `Sec-WebSocket-Key:`, wherever `strstr` finds it
/// first. None when the needle is not there: the connection is closed
/// with no response.
pub fn handshake_response(segment: &[u8]) -> Option<Vec<u8>> {
    // strstr() stops at the first NUL of the haystack. The segment is not
    // NUL-terminated: C may read on past it (inferred, sheet 4.4); the
    // model searches the segment only.
    let haystack = match segment.iter().position(|&b| b == 0) {
        Some(n) => &segment[..n],
        None => segment,
    };
    let at = haystack
        .windows(WS_SEC_WS_KEYS.len())
        .position(|w| w == WS_SEC_WS_KEYS)?;
    // p_SHA1_Inp[0..24] = the key, [24..61] = the GUID with its NUL.
    let mut input: Vec<u8> = (0..WS_CLIENT_KEY_L)
        .map(|i| {
            // Bytes past the segment are whatever memory follows in C; the
            // model reads zeros there, which end the hashed string.
            segment
                .get(at + WS_SEC_WS_KEYS_SIZEOF + i)
                .copied()
                .unwrap_or(0)
        })
        .collect();
    input.extend_from_slice(WS_SEC_CON_KEY);
    // esp_sha(SHA1, input, strlen(input), ...): up to the first NUL.
    let len = input.iter().position(|&b| b == 0).unwrap_or(input.len());
    let digest = Sha1::digest(&input[..len]);
    // _base64_encode() gives 28 characters and a newline, i = 29; the
    // format prints i - 1 = 28 of them (inferred, sheet 4.7).
    let accept = base64::engine::general_purpose::STANDARD.encode(digest);
    // WS_srv_hs, with the space before the first CRLF: 130 bytes.
    Some(
        format!(
            "HTTP/1.1 101 Switching Protocols \r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_sample_key_gets_its_accept_in_130_bytes() {
        let req =
            b"GET /chat HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        let r = handshake_response(req).unwrap();
        assert_eq!(r.len(), 130);
        assert!(
            String::from_utf8(r)
                .unwrap()
                .contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n")
        );
    }

    #[test]
    fn the_key_is_taken_one_byte_after_the_colon_whatever_it_is() {
        let good = handshake_response(b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n").unwrap();
        let tab = handshake_response(b"Sec-WebSocket-Key:\tdGhlIHNhbXBsZSBub25jZQ==\r\n").unwrap();
        let none = handshake_response(b"Sec-WebSocket-Key:dGhlIHNhbXBsZSBub25jZQ==\r\n").unwrap();
        assert_eq!(good, tab);
        assert_ne!(good, none);
        assert_eq!(none.len(), 130);
    }

    #[test]
    fn a_key_header_in_another_case_is_not_found() {
        assert!(handshake_response(b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n").is_none());
    }
}
