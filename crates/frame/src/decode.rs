//! Reading frames exactly as they appeared on the wire.
//!
//! The decoder never rejects a frame for breaking RFC 6455: the harness
//! needs to see what a server actually sends. Deviations are reported by
//! [`Frame::violations`] instead. The only error is a declared length above
//! the caller's limit, because honouring it would mean buffering an
//! unbounded amount of data.

use std::fmt;
use std::fmt::Write;

use crate::close::{ClosePayload, is_valid_close_code, parse_close_payload};
use crate::encode::{FrameSpec, LengthEncoding, apply_mask, minimal_encoding};
use crate::escape::escape_bytes;
use crate::opcode::Opcode;

/// Who sent a frame; decides which masking rule applies.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Client,
    Server,
}

/// One way a frame deviates from RFC 6455.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Violation {
    /// RSV bits set (no extensions are ever negotiated by the harness).
    RsvSet(u8),
    ReservedOpcode(Opcode),
    /// Control frame payload above 125 bytes (the value is the length).
    ControlFrameTooLong(usize),
    FragmentedControlFrame,
    MaskedFromServer,
    UnmaskedFromClient,
    /// A 16-bit length below 126 or a 64-bit length below 65536.
    NonMinimalLength,
    /// The most significant bit of a 64-bit length is set.
    Length64HighBitSet,
    ClosePayloadOneByte,
    InvalidCloseCode(u16),
    InvalidUtf8InCloseReason,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::RsvSet(rsv) => write!(f, "RSV bits set (rsv={rsv:#05b})"),
            Violation::ReservedOpcode(op) => write!(f, "reserved opcode {}", op.value()),
            Violation::ControlFrameTooLong(len) => {
                write!(f, "control frame payload of {len} bytes (max 125)")
            }
            Violation::FragmentedControlFrame => {
                f.write_str("control frame without FIN (control frames must not be fragmented)")
            }
            Violation::MaskedFromServer => f.write_str("masked frame from the server"),
            Violation::UnmaskedFromClient => f.write_str("unmasked frame from the client"),
            Violation::NonMinimalLength => {
                f.write_str("payload length not in the minimal encoding")
            }
            Violation::Length64HighBitSet => {
                f.write_str("most significant bit of the 64-bit payload length is set")
            }
            Violation::ClosePayloadOneByte => f.write_str("CLOSE payload of exactly 1 byte"),
            Violation::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            Violation::InvalidUtf8InCloseReason => f.write_str("CLOSE reason is not valid UTF-8"),
        }
    }
}

/// The fixed part of a frame, available before its payload has arrived.
///
/// Exposed so a caller can still tell what a peer tried to send when the
/// payload never comes or is refused as too large (e.g. a 64-bit length with
/// the high bit set can never be received in full).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: Opcode,
    pub mask: Option<[u8; 4]>,
    /// The length field's value, unchecked.
    pub declared_len: u64,
    /// The form of the length field (never `Minimal`).
    pub length_encoding: LengthEncoding,
    /// Bytes of header including extended length and mask.
    pub header_len: usize,
}

impl FrameHeader {
    /// The violations visible from the header alone: everything except the
    /// CLOSE payload checks.
    pub fn violations(&self, from: Role) -> Vec<Violation> {
        let mut v = Vec::new();
        if self.rsv != 0 {
            v.push(Violation::RsvSet(self.rsv));
        }
        if self.opcode.is_reserved() {
            v.push(Violation::ReservedOpcode(self.opcode));
        }
        if self.opcode.is_control() && self.declared_len > 125 {
            v.push(Violation::ControlFrameTooLong(
                usize::try_from(self.declared_len).unwrap_or(usize::MAX),
            ));
        }
        if self.opcode.is_control() && !self.fin {
            v.push(Violation::FragmentedControlFrame);
        }
        match (from, self.mask) {
            (Role::Server, Some(_)) => v.push(Violation::MaskedFromServer),
            (Role::Client, None) => v.push(Violation::UnmaskedFromClient),
            _ => {}
        }
        if is_non_minimal(self.length_encoding, self.declared_len) {
            v.push(Violation::NonMinimalLength);
        }
        if self.length_encoding == LengthEncoding::Extended64 && self.declared_len >> 63 != 0 {
            v.push(Violation::Length64HighBitSet);
        }
        v
    }
}

/// Whether `encoding` is longer than RFC 6455 allows for `len`.
fn is_non_minimal(encoding: LengthEncoding, len: u64) -> bool {
    let minimal = minimal_encoding(len);
    match encoding {
        LengthEncoding::Extended16 => minimal == LengthEncoding::Short,
        LengthEncoding::Extended64 => minimal != LengthEncoding::Extended64,
        LengthEncoding::Short | LengthEncoding::Minimal => false,
    }
}

/// Parses a frame header from the start of `buf`; `None` means more bytes
/// are needed. Total: any byte sequence is some header.
pub fn parse_header(buf: &[u8]) -> Option<FrameHeader> {
    let [b0, b1, rest @ ..] = buf else {
        return None;
    };
    let masked = b1 & 0x80 != 0;
    let len7 = b1 & 0x7F;
    let (declared_len, length_encoding, ext_len) = match len7 {
        126 => {
            let bytes: [u8; 2] = rest.get(..2)?.try_into().ok()?;
            (
                u64::from(u16::from_be_bytes(bytes)),
                LengthEncoding::Extended16,
                2,
            )
        }
        127 => {
            let bytes: [u8; 8] = rest.get(..8)?.try_into().ok()?;
            (u64::from_be_bytes(bytes), LengthEncoding::Extended64, 8)
        }
        n => (u64::from(n), LengthEncoding::Short, 0),
    };
    let mask = if masked {
        let key: [u8; 4] = rest.get(ext_len..ext_len + 4)?.try_into().ok()?;
        Some(key)
    } else {
        None
    };
    Some(FrameHeader {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 0b111,
        opcode: Opcode::new(*b0),
        mask,
        declared_len,
        length_encoding,
        header_len: 2 + ext_len + if masked { 4 } else { 0 },
    })
}

/// A decoded frame.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Frame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: Opcode,
    pub mask: Option<[u8; 4]>,
    /// The payload after unmasking.
    pub payload: Vec<u8>,
    /// The form of the length field on the wire (never `Minimal`).
    pub length_encoding: LengthEncoding,
    /// Bytes of header including extended length and mask.
    pub header_len: usize,
}

impl Frame {
    /// Bytes this frame occupied on the wire.
    pub fn wire_len(&self) -> usize {
        self.header_len + self.payload.len()
    }

    /// The header this frame was decoded from.
    pub fn header(&self) -> FrameHeader {
        FrameHeader {
            fin: self.fin,
            rsv: self.rsv,
            opcode: self.opcode,
            mask: self.mask,
            declared_len: self.payload.len() as u64,
            length_encoding: self.length_encoding,
            header_len: self.header_len,
        }
    }

    /// A spec that [`crate::encode()`] turns back into exactly this frame's bytes,
    /// which lets the harness replay what a peer sent.
    pub fn to_spec(&self) -> FrameSpec {
        FrameSpec {
            fin: self.fin,
            rsv: self.rsv,
            opcode: self.opcode,
            mask: self.mask,
            payload: self.payload.clone(),
            declared_len: None,
            length_encoding: self.length_encoding,
        }
    }

    /// Every RFC 6455 rule this frame breaks when sent by `from`, in the
    /// order the [`Violation`] variants are declared.
    pub fn violations(&self, from: Role) -> Vec<Violation> {
        let mut v = self.header().violations(from);
        if self.opcode == Opcode::CLOSE {
            match parse_close_payload(&self.payload) {
                ClosePayload::Empty => {}
                ClosePayload::Malformed(_) => v.push(Violation::ClosePayloadOneByte),
                ClosePayload::Code { code, reason } => {
                    if !is_valid_close_code(code) {
                        v.push(Violation::InvalidCloseCode(code));
                    }
                    if std::str::from_utf8(&reason).is_err() {
                        v.push(Violation::InvalidUtf8InCloseReason);
                    }
                }
            }
        }
        v
    }

    /// One stable line describing the frame, for logs and transcript diffs.
    ///
    /// Layout: `NAME fin|nofin [rsv=N] [masked] [ext16|ext64] len=N [payload]`.
    /// `ext16`/`ext64` appear only when the length field is not minimal; the
    /// mask key is left out because real clients pick it at random and it
    /// would make every transcript differ. The payload is shown as a quoted,
    /// escaped string for TEXT and CONTINUATION, as `hex=` for BINARY, as
    /// `code=` and `reason=` for CLOSE (or `hex=` for a 1-byte CLOSE), and for
    /// other opcodes as a string when it is UTF-8 without control characters,
    /// else as hex. Payloads over 64 bytes show their first 32 bytes then `…`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} {}",
            self.opcode.name(),
            if self.fin { "fin" } else { "nofin" }
        );
        if self.rsv != 0 {
            let _ = write!(s, " rsv={}", self.rsv);
        }
        if self.mask.is_some() {
            s.push_str(" masked");
        }
        if is_non_minimal(self.length_encoding, self.payload.len() as u64) {
            s.push_str(match self.length_encoding {
                LengthEncoding::Extended16 => " ext16",
                _ => " ext64",
            });
        }
        let _ = write!(s, " len={}", self.payload.len());
        if self.payload.is_empty() {
            return s;
        }
        let p = &self.payload;
        match self.opcode {
            Opcode::TEXT | Opcode::CONTINUATION => push_quoted(&mut s, p),
            Opcode::BINARY => push_hex(&mut s, p),
            Opcode::CLOSE => match parse_close_payload(p) {
                ClosePayload::Empty => {}
                ClosePayload::Malformed(b) => push_hex(&mut s, &b),
                ClosePayload::Code { code, reason } => {
                    let _ = write!(s, " code={code}");
                    if !reason.is_empty() {
                        s.push_str(" reason=");
                        push_quoted_raw(&mut s, &reason);
                    }
                }
            },
            _ if looks_textual(p) => push_quoted(&mut s, p),
            _ => push_hex(&mut s, p),
        }
        s
    }
}

/// Longest payload shown in full by [`Frame::summary`].
const SUMMARY_FULL_MAX: usize = 64;
/// Bytes shown of a longer payload.
const SUMMARY_PREFIX: usize = 32;

fn shown(p: &[u8]) -> (&[u8], &'static str) {
    if p.len() > SUMMARY_FULL_MAX {
        (&p[..SUMMARY_PREFIX], "…")
    } else {
        (p, "")
    }
}

fn push_quoted(s: &mut String, p: &[u8]) {
    s.push(' ');
    push_quoted_raw(s, p);
}

fn push_quoted_raw(s: &mut String, p: &[u8]) {
    let (b, more) = shown(p);
    let _ = write!(s, "\"{}{more}\"", escape_bytes(b));
}

fn push_hex(s: &mut String, p: &[u8]) {
    let (b, more) = shown(p);
    s.push_str(" hex=");
    for byte in b {
        let _ = write!(s, "{byte:02x}");
    }
    s.push_str(more);
}

fn looks_textual(p: &[u8]) -> bool {
    std::str::from_utf8(p).is_ok_and(|t| {
        t.chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\r' | '\n'))
    })
}

/// The one thing the decoder refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame declares more payload than the caller allows. Checked on the
    /// header alone, before any payload is buffered.
    #[error("{}", too_large_message(*declared, *max))]
    TooLarge { declared: u64, max: u64 },
}

fn too_large_message(declared: u64, max: u64) -> String {
    let mut m = format!("frame declares a payload of {declared} bytes, above the limit of {max}");
    if declared >> 63 != 0 {
        m.push_str(" (the 64-bit length has its most significant bit set)");
    }
    m
}

/// Incremental frame decoder: push bytes as they arrive, pull frames out.
///
/// Memory use is bounded by what has been pushed; a declared length is
/// never used to allocate ahead of the data.
#[derive(Clone, Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`. Consumed bytes are dropped
    /// lazily in `push` so decoding many frames from one chunk stays linear.
    pos: usize,
    max_payload: u64,
}

impl Decoder {
    /// A decoder refusing frames that declare more than `max_payload` bytes.
    pub fn new(max_payload: u64) -> Self {
        Decoder {
            buf: Vec::new(),
            pos: 0,
            max_payload,
        }
    }

    pub fn max_payload(&self) -> u64 {
        self.max_payload
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, or `Ok(None)` if more bytes are needed.
    ///
    /// On [`DecodeError::TooLarge`] nothing is consumed, so the same error
    /// comes back on every call: the stream cannot be resynchronised past a
    /// frame that will not be read. [`Decoder::pending_header`] and
    /// [`Decoder::buffered`] show what was received.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        let avail = &self.buf[self.pos..];
        let Some(h) = parse_header(avail) else {
            return Ok(None);
        };
        if h.declared_len > self.max_payload {
            return Err(DecodeError::TooLarge {
                declared: h.declared_len,
                max: self.max_payload,
            });
        }
        // Compared in u64 so a huge (but permitted) declared length cannot
        // overflow usize; once the bytes are present it fits in usize.
        let total = (h.header_len as u64).saturating_add(h.declared_len);
        if (avail.len() as u64) < total {
            return Ok(None);
        }
        let total = total as usize;
        let mut payload = avail[h.header_len..total].to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut payload, key, 0);
        }
        self.pos += total;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        Ok(Some(Frame {
            fin: h.fin,
            rsv: h.rsv,
            opcode: h.opcode,
            mask: h.mask,
            payload,
            length_encoding: h.length_encoding,
            header_len: h.header_len,
        }))
    }

    /// The header of the frame at the front of the buffer, if complete.
    pub fn pending_header(&self) -> Option<FrameHeader> {
        parse_header(self.buffered())
    }

    /// Bytes not yet consumed as frames.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Removes and returns the unconsumed bytes (e.g. to show a trailing
    /// partial frame when the connection closes).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        let rest = self.buf.split_off(self.pos);
        self.buf.clear();
        self.pos = 0;
        rest
    }
}

/// Decodes every complete frame in `bytes`; the second element is the
/// trailing bytes that do not form a complete frame.
pub fn decode_all(bytes: &[u8], max_payload: u64) -> Result<(Vec<Frame>, Vec<u8>), DecodeError> {
    let mut d = Decoder::new(max_payload);
    d.push(bytes);
    let mut frames = Vec::new();
    while let Some(f) = d.next_frame()? {
        frames.push(f);
    }
    Ok((frames, d.take_buffered()))
}
