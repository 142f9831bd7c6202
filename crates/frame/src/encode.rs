//! Building frames, well-formed or deliberately not.

use crate::opcode::Opcode;

/// How the payload length is written in the frame header.
///
/// Anything but [`LengthEncoding::Minimal`] forces a specific form, which is
/// how the harness sends non-minimal lengths (e.g. the 64-bit form for 65535
/// bytes, which is what ESP-IDF itself emits). Decoded frames always report
/// the form seen on the wire, never `Minimal`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum LengthEncoding {
    /// The shortest form RFC 6455 requires for the length.
    #[default]
    Minimal,
    /// The 7-bit field alone.
    Short,
    /// 7-bit field 126 followed by a 16-bit length.
    Extended16,
    /// 7-bit field 127 followed by a 64-bit length.
    Extended64,
}

/// Everything needed to put one frame on the wire, including the parts a
/// conforming client would never choose (RSV bits, reserved opcodes, a
/// missing mask, a length field that lies about the payload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameSpec {
    pub fin: bool,
    /// The three RSV bits: `0b100` = RSV1, `0b010` = RSV2, `0b001` = RSV3.
    pub rsv: u8,
    pub opcode: Opcode,
    /// `None` sends the frame unmasked (a protocol violation from a client,
    /// but ESP-IDF accepts it, so the harness needs to send it).
    pub mask: Option<[u8; 4]>,
    /// The payload before masking; [`encode()`] masks it.
    pub payload: Vec<u8>,
    /// `Some(n)` writes `n` as the length field while still sending exactly
    /// `payload.len()` bytes, to produce frames whose header lies.
    pub declared_len: Option<u64>,
    pub length_encoding: LengthEncoding,
}

impl FrameSpec {
    /// A final, unmasked frame with no RSV bits and a minimal length.
    pub fn new(opcode: Opcode, payload: Vec<u8>) -> Self {
        FrameSpec {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            payload,
            declared_len: None,
            length_encoding: LengthEncoding::Minimal,
        }
    }

    pub fn with_fin(mut self, fin: bool) -> Self {
        self.fin = fin;
        self
    }

    pub fn with_rsv(mut self, rsv: u8) -> Self {
        self.rsv = rsv;
        self
    }

    pub fn with_mask(mut self, mask: Option<[u8; 4]>) -> Self {
        self.mask = mask;
        self
    }

    pub fn with_declared_len(mut self, declared_len: Option<u64>) -> Self {
        self.declared_len = declared_len;
        self
    }

    pub fn with_length_encoding(mut self, length_encoding: LengthEncoding) -> Self {
        self.length_encoding = length_encoding;
        self
    }
}

/// Why a [`FrameSpec`] could not be encoded.
///
/// These are only the cases where the requested bytes cannot exist at all;
/// every merely *invalid* frame is encodable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("length {len} does not fit the forced {encoding:?} length encoding (max {max})")]
    LengthDoesNotFit {
        len: u64,
        encoding: LengthEncoding,
        max: u64,
    },
    /// Rejected rather than truncated: a value above 7 is a bug in the
    /// caller, and dropping bits would send a different frame than asked.
    #[error("rsv {0:#b} does not fit in the 3 RSV bits")]
    RsvOutOfRange(u8),
    /// Rejected rather than truncated, for the same reason as `RsvOutOfRange`.
    #[error("opcode {0} does not fit in 4 bits")]
    OpcodeOutOfRange(u8),
}

/// Serialises `spec` to wire bytes.
///
/// With `declared_len: None` the length field is `payload.len()`. A forced
/// [`LengthEncoding::Short`] holds at most 125, except that with an explicit
/// `declared_len` it may hold 126 or 127 (a 7-bit field announcing extended
/// length bytes that are not there), since producing such frames is the
/// point of `declared_len`. [`LengthEncoding::Extended64`] accepts any `u64`,
/// including values with the most significant bit set.
pub fn encode(spec: &FrameSpec) -> Result<Vec<u8>, EncodeError> {
    if spec.rsv > 0b111 {
        return Err(EncodeError::RsvOutOfRange(spec.rsv));
    }
    if spec.opcode.0 > 0x0F {
        return Err(EncodeError::OpcodeOutOfRange(spec.opcode.0));
    }
    let len = spec.declared_len.unwrap_or(spec.payload.len() as u64);
    let encoding = match spec.length_encoding {
        LengthEncoding::Minimal => minimal_encoding(len),
        forced => forced,
    };
    let short_max = if spec.declared_len.is_some() {
        127
    } else {
        125
    };
    let max = match encoding {
        LengthEncoding::Short => short_max,
        LengthEncoding::Extended16 => u64::from(u16::MAX),
        LengthEncoding::Extended64 | LengthEncoding::Minimal => u64::MAX,
    };
    if len > max {
        return Err(EncodeError::LengthDoesNotFit { len, encoding, max });
    }

    let mut out = Vec::with_capacity(14 + spec.payload.len());
    out.push((u8::from(spec.fin) << 7) | (spec.rsv << 4) | spec.opcode.0);
    let mask_bit = if spec.mask.is_some() { 0x80 } else { 0 };
    match encoding {
        // `len <= 127` was checked above.
        LengthEncoding::Short => out.push(mask_bit | len as u8),
        LengthEncoding::Extended16 => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        LengthEncoding::Extended64 | LengthEncoding::Minimal => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    let start = out.len() + if spec.mask.is_some() { 4 } else { 0 };
    if let Some(key) = spec.mask {
        out.extend_from_slice(&key);
    }
    out.extend_from_slice(&spec.payload);
    if let Some(key) = spec.mask {
        apply_mask(&mut out[start..], key, 0);
    }
    Ok(out)
}

/// The form RFC 6455 §5.2 requires for a payload of `len` bytes.
pub(crate) fn minimal_encoding(len: u64) -> LengthEncoding {
    if len <= 125 {
        LengthEncoding::Short
    } else if len <= u64::from(u16::MAX) {
        LengthEncoding::Extended16
    } else {
        LengthEncoding::Extended64
    }
}

/// XORs `data` with the masking key, as if `data` started `offset` bytes
/// into the payload; the offset lets callers (un)mask a payload in pieces.
/// Masking is its own inverse.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[(offset.wrapping_add(i)) % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_mask_with_offset_matches_whole() {
        let key = [1, 2, 3, 4];
        let data: Vec<u8> = (0..23).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        for split in 0..data.len() {
            let mut parts = data.clone();
            let (a, b) = parts.split_at_mut(split);
            apply_mask(a, key, 0);
            apply_mask(b, key, split);
            assert_eq!(parts, whole, "split {split}");
        }
        apply_mask(&mut whole, key, 0);
        assert_eq!(whole, data);
    }

    #[test]
    fn minimal_boundaries() {
        assert_eq!(minimal_encoding(0), LengthEncoding::Short);
        assert_eq!(minimal_encoding(125), LengthEncoding::Short);
        assert_eq!(minimal_encoding(126), LengthEncoding::Extended16);
        assert_eq!(minimal_encoding(65535), LengthEncoding::Extended16);
        assert_eq!(minimal_encoding(65536), LengthEncoding::Extended64);
    }
}
