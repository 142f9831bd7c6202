//! Properties of the codec that hold for every frame the harness can send,
//! however its bytes arrive.

use esp_ws_frame::{Decoder, FrameSpec, LengthEncoding, Opcode, encode};
use proptest::prelude::*;

/// Payload lengths around every boundary of the length field, and small ones.
fn payload_len() -> impl Strategy<Value = usize> {
    prop_oneof![0usize..=130, 65_530usize..=65_540, Just(70_000usize),]
}

/// A well-formed frame spec: any FIN, RSV, opcode and mask, a payload, and
/// a length encoding that can hold its length.
fn spec() -> impl Strategy<Value = FrameSpec> {
    (
        any::<bool>(),
        0u8..8,
        0u8..16,
        proptest::option::of(any::<[u8; 4]>()),
        payload_len(),
        any::<u8>(),
        0usize..4,
    )
        .prop_map(|(fin, rsv, op, mask, len, seed, enc)| {
            let payload: Vec<u8> = (0..len)
                .map(|i| (i as u8).wrapping_mul(31) ^ seed)
                .collect();
            let length_encoding = match enc {
                1 if len <= 125 => LengthEncoding::Short,
                2 if len <= 65_535 => LengthEncoding::Extended16,
                3 => LengthEncoding::Extended64,
                _ => LengthEncoding::Minimal,
            };
            FrameSpec {
                fin,
                rsv,
                opcode: Opcode::new(op),
                mask,
                payload,
                declared_len: None,
                length_encoding,
            }
        })
}

/// Cuts `bytes` into pieces of the given sizes (cycled), as a network might.
fn pieces<'a>(bytes: &'a [u8], sizes: &'a [usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < bytes.len() {
        let n = sizes[i % sizes.len()].max(1).min(bytes.len() - at);
        out.push(&bytes[at..at + n]);
        at += n;
        i += 1;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn decode_of_encode_is_the_frame_whatever_the_pieces(
        spec in spec(),
        sizes in proptest::collection::vec(1usize..200, 1..8),
    ) {
        let bytes = encode(&spec).unwrap();
        let mut d = Decoder::new(u64::MAX);
        let mut frames = Vec::new();
        for p in pieces(&bytes, &sizes) {
            d.push(p);
            while let Some(f) = d.next_frame().unwrap() {
                frames.push(f);
            }
        }
        prop_assert_eq!(frames.len(), 1);
        let f = &frames[0];
        prop_assert_eq!(f.fin, spec.fin);
        prop_assert_eq!(f.rsv, spec.rsv);
        prop_assert_eq!(f.opcode, spec.opcode);
        prop_assert_eq!(f.mask, spec.mask);
        prop_assert_eq!(&f.payload, &spec.payload);
        prop_assert_eq!(f.wire_len(), bytes.len());
        if spec.length_encoding != LengthEncoding::Minimal {
            prop_assert_eq!(f.length_encoding, spec.length_encoding);
        }
        prop_assert!(d.buffered().is_empty());
    }

    /// Whatever the bytes, the decoder gives frames, waits, or refuses a
    /// length; it never panics, and a prefix it refused once it refuses again.
    #[test]
    fn the_decoder_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut d = Decoder::new(1 << 20);
        d.push(&bytes);
        for _ in 0..bytes.len() + 1 {
            match d.next_frame() {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }
}
