//! CLOSE frame payloads (RFC 6455 §5.5.1).

/// Builds a CLOSE payload: the 2-byte big-endian code followed by `reason`.
///
/// `None` gives an empty payload and ignores `reason`, because RFC 6455 has
/// no way to send a reason without a code. `reason` is raw bytes so the
/// harness can send invalid UTF-8 or over-long reasons.
pub fn close_payload(code: Option<u16>, reason: &[u8]) -> Vec<u8> {
    match code {
        None => Vec::new(),
        Some(code) => {
            let mut out = Vec::with_capacity(2 + reason.len());
            out.extend_from_slice(&code.to_be_bytes());
            out.extend_from_slice(reason);
            out
        }
    }
}

/// A CLOSE payload as received.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClosePayload {
    /// No payload: no status code.
    Empty,
    /// A status code and the (unvalidated) reason bytes.
    Code { code: u16, reason: Vec<u8> },
    /// Exactly one byte, which cannot hold a code (a protocol error).
    Malformed(Vec<u8>),
}

/// Splits a CLOSE payload into code and reason without judging them; the
/// judging is [`crate::Frame::violations`]' job, so a harness can still see
/// what a misbehaving peer sent.
pub fn parse_close_payload(payload: &[u8]) -> ClosePayload {
    match payload {
        [] => ClosePayload::Empty,
        [_] => ClosePayload::Malformed(payload.to_vec()),
        [hi, lo, reason @ ..] => ClosePayload::Code {
            code: u16::from_be_bytes([*hi, *lo]),
            reason: reason.to_vec(),
        },
    }
}

/// Whether `code` may appear in a CLOSE frame on the wire: 1000..=4999,
/// minus the codes reserved for local use (1004, 1005, 1006, 1015) and the
/// unassigned 1016..=2999 range.
pub(crate) fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=4999) && !matches!(code, 1004 | 1005 | 1006 | 1015 | 1016..=2999)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build() {
        assert_eq!(close_payload(None, b"ignored"), Vec::<u8>::new());
        assert_eq!(close_payload(Some(1000), b""), vec![0x03, 0xe8]);
        assert_eq!(close_payload(Some(1000), b"bye"), b"\x03\xe8bye".to_vec());
        assert_eq!(close_payload(Some(0xffff), b"\xff"), vec![0xff, 0xff, 0xff]);
    }

    #[test]
    fn parse() {
        assert_eq!(parse_close_payload(b""), ClosePayload::Empty);
        assert_eq!(
            parse_close_payload(b"\x03"),
            ClosePayload::Malformed(vec![3])
        );
        assert_eq!(
            parse_close_payload(b"\x03\xe8"),
            ClosePayload::Code {
                code: 1000,
                reason: vec![]
            }
        );
        assert_eq!(
            parse_close_payload(b"\x03\xe9going"),
            ClosePayload::Code {
                code: 1001,
                reason: b"going".to_vec()
            }
        );
    }

    #[test]
    fn round_trip() {
        for code in [0u16, 1000, 1005, 4999, 65535] {
            let p = close_payload(Some(code), b"r");
            assert_eq!(
                parse_close_payload(&p),
                ClosePayload::Code {
                    code,
                    reason: b"r".to_vec()
                }
            );
        }
    }

    #[test]
    fn codes() {
        for c in [
            1000, 1001, 1002, 1003, 1007, 1011, 1012, 1013, 1014, 3000, 4000, 4999,
        ] {
            assert!(is_valid_close_code(c), "{c}");
        }
        for c in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535,
        ] {
            assert!(!is_valid_close_code(c), "{c}");
        }
    }
}
