//! WebSocket wire format (RFC 6455) for a *test client*.
//!
//! The harness probes real `esp_http_server` builds, which are lenient in
//! ways a conforming library would never let us exercise: they accept RSV
//! bits, reserved opcodes, over-long control frames, non-minimal length
//! fields and unmasked client frames. So this crate deliberately lets the
//! caller *produce* every one of those deviations ([`FrameSpec`],
//! [`encode()`]) and *observe* them exactly as they appeared on the wire
//! ([`Decoder`], [`Frame::violations`]) instead of normalising or rejecting
//! them. It also covers the client side of the opening handshake
//! ([`Request`], [`parse_response`], [`accept_key`]).
//!
//! The crate is pure logic: no sockets, processes, async runtime, file I/O
//! or randomness. Masking keys and handshake nonces are passed in by the
//! caller, which keeps every byte it produces reproducible in tests and
//! transcripts.

pub mod close;
pub mod decode;
pub mod encode;
pub mod escape;
pub mod handshake;
pub mod opcode;

pub use close::{ClosePayload, close_payload, parse_close_payload};
pub use decode::{
    DecodeError, Decoder, Frame, FrameHeader, Role, Violation, decode_all, parse_header,
};
pub use encode::{EncodeError, FrameSpec, LengthEncoding, apply_mask, encode};
pub use escape::escape_bytes;
pub use handshake::{
    HandshakeError, Request, RequestError, RequestParse, Response, ResponseParse, WS_GUID,
    accept_key, key_from_nonce, parse_request, parse_response,
};
pub use opcode::{Opcode, ParseOpcodeError};
