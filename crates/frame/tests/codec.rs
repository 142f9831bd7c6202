//! Encoder/decoder behaviour: round trips, exact wire bytes, malformed
//! length fields and incremental decoding.

use esp_ws_frame::{
    DecodeError, Decoder, EncodeError, Frame, FrameSpec, LengthEncoding, Opcode, close_payload,
    decode_all, encode, parse_header,
};

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const NO_LIMIT: u64 = u64::MAX;

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).unwrap()
}

fn decode_one(bytes: &[u8]) -> Frame {
    let (frames, rest) = decode_all(bytes, NO_LIMIT).unwrap();
    assert!(rest.is_empty(), "unexpected trailing bytes {rest:02x?}");
    assert_eq!(frames.len(), 1, "expected exactly one frame");
    frames.into_iter().next().unwrap()
}

fn payload_of(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

#[test]
fn round_trip_every_opcode_fin_rsv_mask_and_length() {
    let lengths = [0usize, 1, 125, 126, 127, 65535, 65536];
    for len in lengths {
        let payload = payload_of(len);
        let (len_byte, ext): (u8, Vec<u8>) = if len <= 125 {
            (len as u8, vec![])
        } else if len <= 65535 {
            (126, (len as u16).to_be_bytes().to_vec())
        } else {
            (127, (len as u64).to_be_bytes().to_vec())
        };
        for op in 0u8..=15 {
            for fin in [false, true] {
                for rsv in 0u8..=7 {
                    for mask in [None, Some(MASK)] {
                        let spec = FrameSpec {
                            fin,
                            rsv,
                            opcode: Opcode(op),
                            mask,
                            payload: payload.clone(),
                            declared_len: None,
                            length_encoding: LengthEncoding::Minimal,
                        };
                        let bytes = encode(&spec).unwrap();
                        let ctx = format!("op={op} fin={fin} rsv={rsv} mask={mask:?} len={len}");

                        // Header layout.
                        assert_eq!(bytes[0], (u8::from(fin) << 7) | (rsv << 4) | op, "{ctx}");
                        let mask_bit = if mask.is_some() { 0x80 } else { 0 };
                        assert_eq!(bytes[1], mask_bit | len_byte, "{ctx}");
                        assert_eq!(&bytes[2..2 + ext.len()], &ext[..], "{ctx}");
                        let header_len = 2 + ext.len() + if mask.is_some() { 4 } else { 0 };
                        if let Some(k) = mask {
                            assert_eq!(&bytes[2 + ext.len()..header_len], &k, "{ctx}");
                            // The masked payload differs from the plain one
                            // (the key has no zero byte).
                            if len > 0 {
                                assert_ne!(bytes[header_len], payload[0], "{ctx}");
                            }
                        } else {
                            assert_eq!(&bytes[header_len..], &payload[..], "{ctx}");
                        }
                        assert_eq!(bytes.len(), header_len + len, "{ctx}");

                        let f = decode_one(&bytes);
                        assert_eq!(f.fin, fin, "{ctx}");
                        assert_eq!(f.rsv, rsv, "{ctx}");
                        assert_eq!(f.opcode, Opcode(op), "{ctx}");
                        assert_eq!(f.mask, mask, "{ctx}");
                        assert!(f.payload == payload, "{ctx}: payload differs");
                        assert_ne!(f.length_encoding, LengthEncoding::Minimal, "{ctx}");
                        assert_eq!(f.header_len, header_len, "{ctx}");
                        assert_eq!(f.wire_len(), bytes.len(), "{ctx}");
                        // Replaying a decoded frame gives the same bytes.
                        assert!(encode(&f.to_spec()).unwrap() == bytes, "{ctx}: replay");
                    }
                }
            }
        }
    }
}

#[test]
fn forced_extended16_for_small_payload() {
    let spec = FrameSpec::new(Opcode::TEXT, b"hello".to_vec())
        .with_length_encoding(LengthEncoding::Extended16);
    let bytes = encode(&spec).unwrap();
    assert_eq!(bytes, hex("81 7e 00 05 68 65 6c 6c 6f"));
    let f = decode_one(&bytes);
    assert_eq!(f.length_encoding, LengthEncoding::Extended16);
    assert_eq!(f.header_len, 4);
    assert_eq!(f.payload, b"hello");
    assert_eq!(encode(&f.to_spec()).unwrap(), bytes);
}

#[test]
fn forced_extended64_for_65535_like_esp_idf() {
    let payload = vec![b'A'; 65535];
    let spec = FrameSpec::new(Opcode::TEXT, payload.clone())
        .with_length_encoding(LengthEncoding::Extended64);
    let bytes = encode(&spec).unwrap();
    assert_eq!(&bytes[..10], &hex("81 7f 00 00 00 00 00 00 ff ff")[..]);
    assert_eq!(bytes.len(), 10 + 65535);
    let f = decode_one(&bytes);
    assert_eq!(f.length_encoding, LengthEncoding::Extended64);
    assert_eq!(f.header_len, 10);
    assert_eq!(f.payload, payload);
    assert_eq!(encode(&f.to_spec()).unwrap(), bytes);
}

#[test]
fn forced_encodings_masked_and_empty() {
    let spec = FrameSpec::new(Opcode::PING, vec![])
        .with_mask(Some(MASK))
        .with_length_encoding(LengthEncoding::Extended64);
    let bytes = encode(&spec).unwrap();
    assert_eq!(bytes, hex("89 ff 00 00 00 00 00 00 00 00 37 fa 21 3d"));
    let f = decode_one(&bytes);
    assert_eq!(f.length_encoding, LengthEncoding::Extended64);
    assert_eq!(f.header_len, 14);
    assert_eq!(f.mask, Some(MASK));

    let spec =
        FrameSpec::new(Opcode::BINARY, vec![1, 2, 3]).with_length_encoding(LengthEncoding::Short);
    assert_eq!(encode(&spec).unwrap(), hex("82 03 01 02 03"));
}

#[test]
fn forced_encoding_that_cannot_hold_the_length_is_an_error() {
    let short =
        FrameSpec::new(Opcode::TEXT, vec![0; 200]).with_length_encoding(LengthEncoding::Short);
    assert_eq!(
        encode(&short),
        Err(EncodeError::LengthDoesNotFit {
            len: 200,
            encoding: LengthEncoding::Short,
            max: 125
        })
    );
    // 126 is already too much for a 7-bit field describing real bytes.
    let short126 =
        FrameSpec::new(Opcode::TEXT, vec![0; 126]).with_length_encoding(LengthEncoding::Short);
    assert!(encode(&short126).is_err());
    let ext16 = FrameSpec::new(Opcode::BINARY, vec![0; 65536])
        .with_length_encoding(LengthEncoding::Extended16);
    let err = encode(&ext16).unwrap_err();
    assert!(matches!(
        err,
        EncodeError::LengthDoesNotFit {
            len: 65536,
            encoding: LengthEncoding::Extended16,
            ..
        }
    ));
    assert!(err.to_string().contains("65536"), "{err}");
}

#[test]
fn out_of_range_rsv_and_opcode_are_errors() {
    let spec = FrameSpec::new(Opcode::TEXT, vec![]).with_rsv(8);
    assert_eq!(encode(&spec), Err(EncodeError::RsvOutOfRange(8)));
    let spec = FrameSpec::new(Opcode(16), vec![]);
    assert_eq!(encode(&spec), Err(EncodeError::OpcodeOutOfRange(16)));
}

#[test]
fn exact_wire_bytes() {
    assert_eq!(
        encode(&FrameSpec::new(Opcode::TEXT, b"hello".to_vec())).unwrap(),
        hex("81 05 68 65 6c 6c 6f")
    );
    assert_eq!(
        encode(&FrameSpec::new(Opcode::CLOSE, vec![])).unwrap(),
        hex("88 00")
    );
    assert_eq!(
        encode(&FrameSpec::new(Opcode::PING, vec![])).unwrap(),
        hex("89 00")
    );
    assert_eq!(
        encode(&FrameSpec::new(Opcode::TEXT, b"hello".to_vec()).with_mask(Some(MASK))).unwrap(),
        hex("81 85 37 fa 21 3d 5f 9f 4d 51 58")
    );
    assert_eq!(
        encode(
            &FrameSpec::new(Opcode::CLOSE, close_payload(Some(1000), b"bye")).with_mask(Some(MASK))
        )
        .unwrap(),
        hex("88 85 37 fa 21 3d 34 12 43 44 52")
    );
    let pong = encode(&FrameSpec::new(Opcode::PONG, vec![0x55; 126])).unwrap();
    assert_eq!(&pong[..4], &hex("8a 7e 00 7e")[..]);
    assert_eq!(pong.len(), 4 + 126);
    // Non-final fragment and RSV1 set.
    assert_eq!(
        encode(
            &FrameSpec::new(Opcode::TEXT, b"Hel".to_vec())
                .with_fin(false)
                .with_rsv(0b100)
        )
        .unwrap(),
        hex("41 03 48 65 6c")
    );
}

#[test]
fn decodes_known_bytes() {
    let f = decode_one(&hex("81 85 37 fa 21 3d 5f 9f 4d 51 58"));
    assert_eq!(f.opcode, Opcode::TEXT);
    assert!(f.fin);
    assert_eq!(f.mask, Some(MASK));
    assert_eq!(f.payload, b"hello");
    assert_eq!(f.header_len, 6);
    assert_eq!(f.length_encoding, LengthEncoding::Short);
}

#[test]
fn declared_len_writes_a_lying_length_field() {
    // Claims 10 bytes, carries 3: the decoder waits for the rest.
    let spec = FrameSpec::new(Opcode::TEXT, b"abc".to_vec()).with_declared_len(Some(10));
    let bytes = encode(&spec).unwrap();
    assert_eq!(bytes, hex("81 0a 61 62 63"));
    let (frames, rest) = decode_all(&bytes, NO_LIMIT).unwrap();
    assert!(frames.is_empty());
    assert_eq!(rest, bytes);

    // Claims 1 byte, carries 3: the extra bytes are read as the next frame.
    let spec = FrameSpec::new(Opcode::BINARY, vec![0xaa, 0x89, 0x00]).with_declared_len(Some(1));
    let bytes = encode(&spec).unwrap();
    assert_eq!(bytes, hex("82 01 aa 89 00"));
    let (frames, rest) = decode_all(&bytes, NO_LIMIT).unwrap();
    assert!(rest.is_empty());
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].payload, vec![0xaa]);
    assert_eq!(frames[1].opcode, Opcode::PING);

    // A 7-bit 126 with no extended length bytes after it.
    let spec = FrameSpec::new(Opcode::TEXT, b"\x00\x02hi".to_vec())
        .with_declared_len(Some(126))
        .with_length_encoding(LengthEncoding::Short);
    let bytes = encode(&spec).unwrap();
    assert_eq!(bytes, hex("81 7e 00 02 68 69"));
    let f = decode_one(&bytes);
    assert_eq!(f.length_encoding, LengthEncoding::Extended16);
    assert_eq!(f.payload, b"hi");

    // 127 fits a forced 7-bit field only because it is declared.
    let spec = FrameSpec::new(Opcode::TEXT, vec![])
        .with_declared_len(Some(127))
        .with_length_encoding(LengthEncoding::Short);
    assert_eq!(encode(&spec).unwrap(), hex("81 7f"));
    let spec = FrameSpec::new(Opcode::TEXT, vec![])
        .with_declared_len(Some(128))
        .with_length_encoding(LengthEncoding::Short);
    assert!(encode(&spec).is_err());

    // Minimal encoding follows the declared length, not the payload.
    let spec = FrameSpec::new(Opcode::BINARY, vec![]).with_declared_len(Some(70000));
    assert_eq!(encode(&spec).unwrap(), hex("82 7f 00 00 00 00 00 01 11 70"));

    // Masked: the key follows the lying length and the payload is masked.
    let spec = FrameSpec::new(Opcode::TEXT, b"hello".to_vec())
        .with_mask(Some(MASK))
        .with_declared_len(Some(300));
    assert_eq!(
        encode(&spec).unwrap(),
        hex("81 fe 01 2c 37 fa 21 3d 5f 9f 4d 51 58")
    );
}

#[test]
fn declared_len_with_high_bit() {
    let spec = FrameSpec::new(Opcode::BINARY, vec![])
        .with_declared_len(Some(1 << 63))
        .with_length_encoding(LengthEncoding::Extended64);
    let bytes = encode(&spec).unwrap();
    assert_eq!(bytes, hex("82 7f 80 00 00 00 00 00 00 00"));
    let h = parse_header(&bytes).unwrap();
    assert_eq!(h.declared_len, 1 << 63);
    let err = decode_all(&bytes, 1 << 20).unwrap_err();
    assert_eq!(
        err,
        DecodeError::TooLarge {
            declared: 1 << 63,
            max: 1 << 20
        }
    );
    assert!(err.to_string().contains("most significant bit"), "{err}");

    // Even with no limit the decoder stays total: it just waits.
    let mut d = Decoder::new(u64::MAX);
    d.push(&bytes);
    assert_eq!(d.next_frame(), Ok(None));
    assert_eq!(d.buffered(), &bytes[..]);
}

#[test]
fn too_large_is_rejected_on_the_header_and_is_sticky() {
    let mut d = Decoder::new(125);
    let ok = encode(&FrameSpec::new(Opcode::TEXT, vec![b'x'; 125])).unwrap();
    let big = encode(&FrameSpec::new(Opcode::BINARY, vec![0; 126])).unwrap();
    d.push(&ok);
    d.push(&big[..4]); // header only
    assert_eq!(d.next_frame().unwrap().unwrap().payload.len(), 125);
    let err = d.next_frame().unwrap_err();
    assert_eq!(
        err,
        DecodeError::TooLarge {
            declared: 126,
            max: 125
        }
    );
    assert!(err.to_string().contains("126"), "{err}");
    assert!(!err.to_string().contains("most significant"), "{err}");
    // Nothing was consumed; the caller can inspect it.
    assert_eq!(d.next_frame(), Err(err));
    assert_eq!(d.buffered(), &big[..4]);
    let h = d.pending_header().unwrap();
    assert_eq!(h.opcode, Opcode::BINARY);
    assert_eq!(h.declared_len, 126);
    assert_eq!(d.take_buffered(), big[..4].to_vec());
    assert!(d.buffered().is_empty());
    assert_eq!(d.next_frame(), Ok(None));
}

#[test]
fn decoder_needs_more_bytes_for_partial_headers() {
    let bytes = encode(
        &FrameSpec::new(Opcode::BINARY, vec![9; 300])
            .with_mask(Some(MASK))
            .with_length_encoding(LengthEncoding::Extended64),
    )
    .unwrap();
    for cut in 0..bytes.len() {
        let mut d = Decoder::new(NO_LIMIT);
        d.push(&bytes[..cut]);
        assert_eq!(d.next_frame(), Ok(None), "cut {cut}");
        assert_eq!(d.buffered(), &bytes[..cut]);
        assert_eq!(d.pending_header().is_some(), cut >= 14, "cut {cut}");
    }
}

fn mixed_specs() -> Vec<FrameSpec> {
    vec![
        FrameSpec::new(Opcode::TEXT, b"hello".to_vec()),
        FrameSpec::new(Opcode::TEXT, b"Hel".to_vec()).with_fin(false),
        FrameSpec::new(Opcode::PING, vec![]).with_mask(Some(MASK)),
        FrameSpec::new(Opcode::CONTINUATION, b"lo".to_vec()),
        FrameSpec::new(Opcode::BINARY, payload_of(126)).with_mask(Some([1, 2, 3, 4])),
        FrameSpec::new(Opcode::CLOSE, vec![]),
        FrameSpec::new(Opcode::PONG, payload_of(125)).with_rsv(0b101),
        FrameSpec::new(Opcode(3), payload_of(300)),
        FrameSpec::new(Opcode::BINARY, payload_of(5))
            .with_length_encoding(LengthEncoding::Extended64),
        FrameSpec::new(Opcode::TEXT, vec![]).with_length_encoding(LengthEncoding::Extended16),
        FrameSpec::new(Opcode::CLOSE, close_payload(Some(1000), b"bye")).with_mask(Some(MASK)),
        FrameSpec::new(Opcode(0xB), vec![0]).with_fin(false),
    ]
}

fn encode_all(specs: &[FrameSpec]) -> Vec<u8> {
    specs.iter().flat_map(|s| encode(s).unwrap()).collect()
}

fn drain(d: &mut Decoder, out: &mut Vec<Frame>) {
    while let Some(f) = d.next_frame().unwrap() {
        out.push(f);
    }
}

#[test]
fn split_at_every_position_gives_the_same_frames() {
    let specs = mixed_specs();
    let bytes = encode_all(&specs);
    let (expected, rest) = decode_all(&bytes, NO_LIMIT).unwrap();
    assert!(rest.is_empty());
    assert_eq!(expected.len(), specs.len());
    for (f, s) in expected.iter().zip(&specs) {
        assert_eq!(f.opcode, s.opcode);
        assert_eq!(f.payload, s.payload);
        assert_eq!(f.mask, s.mask);
        assert_eq!(f.fin, s.fin);
        assert_eq!(f.rsv, s.rsv);
    }

    for split in 0..=bytes.len() {
        let mut d = Decoder::new(NO_LIMIT);
        let mut got = Vec::new();
        d.push(&bytes[..split]);
        drain(&mut d, &mut got);
        // Whatever is not yet a frame is still buffered, unchanged.
        let consumed: usize = got.iter().map(Frame::wire_len).sum();
        assert_eq!(d.buffered(), &bytes[consumed..split], "split {split}");
        d.push(&bytes[split..]);
        drain(&mut d, &mut got);
        assert_eq!(got, expected, "split at {split}");
        assert!(d.buffered().is_empty());
    }
}

#[test]
fn one_byte_at_a_time_gives_the_same_frames() {
    let mut specs = mixed_specs();
    specs.push(FrameSpec::new(Opcode::BINARY, payload_of(65536)).with_mask(Some(MASK)));
    specs.push(FrameSpec::new(Opcode::TEXT, b"after".to_vec()));
    let bytes = encode_all(&specs);
    let (expected, _) = decode_all(&bytes, NO_LIMIT).unwrap();
    assert_eq!(expected.len(), specs.len());

    let mut d = Decoder::new(NO_LIMIT);
    let mut got = Vec::new();
    for b in &bytes {
        d.push(std::slice::from_ref(b));
        drain(&mut d, &mut got);
    }
    assert_eq!(got, expected);
    assert!(d.buffered().is_empty());
}

#[test]
fn decode_all_returns_trailing_partial_frame() {
    let bytes = encode_all(&mixed_specs());
    let (all, _) = decode_all(&bytes, NO_LIMIT).unwrap();
    for cut in 0..=bytes.len() {
        let (frames, rest) = decode_all(&bytes[..cut], NO_LIMIT).unwrap();
        assert_eq!(&frames[..], &all[..frames.len()], "cut {cut}");
        let consumed: usize = frames.iter().map(Frame::wire_len).sum();
        assert_eq!(rest, &bytes[consumed..cut], "cut {cut}");
        // A complete next frame would have been returned.
        if frames.len() < all.len() {
            assert!(rest.len() < all[frames.len()].wire_len(), "cut {cut}");
        }
    }
}

#[test]
fn take_buffered_resets() {
    let mut d = Decoder::new(NO_LIMIT);
    d.push(&hex("81 05 68 65 6c 6c 6f 82 03 01"));
    assert_eq!(d.next_frame().unwrap().unwrap().payload, b"hello");
    assert_eq!(d.next_frame(), Ok(None));
    assert_eq!(d.buffered(), &hex("82 03 01")[..]);
    assert_eq!(d.take_buffered(), hex("82 03 01"));
    assert!(d.buffered().is_empty());
    d.push(&hex("89 00"));
    assert_eq!(d.next_frame().unwrap().unwrap().opcode, Opcode::PING);
}
