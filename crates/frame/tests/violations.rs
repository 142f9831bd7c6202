//! `Frame::violations` (each rule, positive and negative) and
//! `Frame::summary`.

use esp_ws_frame::{
    Frame, FrameSpec, LengthEncoding, Opcode, Role, Violation, close_payload, decode_all, encode,
    parse_header,
};

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn frame(spec: FrameSpec) -> Frame {
    let bytes = encode(&spec).unwrap();
    let (mut frames, rest) = decode_all(&bytes, u64::MAX).unwrap();
    assert!(rest.is_empty());
    assert_eq!(frames.len(), 1);
    frames.pop().unwrap()
}

/// A server frame (unmasked) and its violations as sent by the server.
fn server(spec: FrameSpec) -> Vec<Violation> {
    frame(spec).violations(Role::Server)
}

#[test]
fn clean_frames_have_no_violations() {
    for op in [
        Opcode::CONTINUATION,
        Opcode::TEXT,
        Opcode::BINARY,
        Opcode::CLOSE,
        Opcode::PING,
        Opcode::PONG,
    ] {
        assert_eq!(server(FrameSpec::new(op, vec![])), vec![], "{op}");
        let client = frame(FrameSpec::new(op, vec![]).with_mask(Some(MASK)));
        assert_eq!(client.violations(Role::Client), vec![], "{op}");
    }
    assert_eq!(
        server(FrameSpec::new(Opcode::TEXT, b"x".repeat(70000))),
        vec![]
    );
    assert_eq!(
        server(FrameSpec::new(Opcode::TEXT, b"Hel".to_vec()).with_fin(false)),
        vec![]
    );
}

#[test]
fn rsv_set() {
    for rsv in 1..=7 {
        assert_eq!(
            server(FrameSpec::new(Opcode::TEXT, vec![]).with_rsv(rsv)),
            vec![Violation::RsvSet(rsv)]
        );
    }
    assert_eq!(
        server(FrameSpec::new(Opcode::TEXT, vec![]).with_rsv(0)),
        vec![]
    );
}

#[test]
fn reserved_opcode() {
    for op in (3..=7).chain(11..=15) {
        assert_eq!(
            server(FrameSpec::new(Opcode(op), vec![])),
            vec![Violation::ReservedOpcode(Opcode(op))],
            "{op}"
        );
    }
    for op in [0, 1, 2, 8, 9, 10] {
        assert_eq!(server(FrameSpec::new(Opcode(op), vec![])), vec![], "{op}");
    }
}

#[test]
fn control_frame_too_long() {
    for op in [Opcode::PING, Opcode::PONG, Opcode::CLOSE] {
        let mut payload = close_payload(Some(1000), b"");
        payload.resize(126, b'a');
        assert_eq!(
            server(FrameSpec::new(op, payload.clone())),
            vec![Violation::ControlFrameTooLong(126)],
            "{op}"
        );
        payload.pop();
        assert_eq!(server(FrameSpec::new(op, payload)), vec![], "{op}");
    }
    // Data frames may be long.
    assert_eq!(server(FrameSpec::new(Opcode::BINARY, vec![0; 126])), vec![]);
    // Reserved control opcodes follow the control rules too.
    assert_eq!(
        server(FrameSpec::new(Opcode(0xB), vec![0; 200])),
        vec![
            Violation::ReservedOpcode(Opcode(0xB)),
            Violation::ControlFrameTooLong(200)
        ]
    );
}

#[test]
fn fragmented_control_frame() {
    for op in [Opcode::PING, Opcode::PONG, Opcode::CLOSE] {
        assert_eq!(
            server(FrameSpec::new(op, vec![]).with_fin(false)),
            vec![Violation::FragmentedControlFrame],
            "{op}"
        );
        assert_eq!(server(FrameSpec::new(op, vec![]).with_fin(true)), vec![]);
    }
    assert_eq!(
        server(FrameSpec::new(Opcode::BINARY, vec![]).with_fin(false)),
        vec![]
    );
}

#[test]
fn masking_by_role() {
    let masked = frame(FrameSpec::new(Opcode::TEXT, b"hi".to_vec()).with_mask(Some(MASK)));
    let unmasked = frame(FrameSpec::new(Opcode::TEXT, b"hi".to_vec()));
    assert_eq!(
        masked.violations(Role::Server),
        vec![Violation::MaskedFromServer]
    );
    assert_eq!(masked.violations(Role::Client), vec![]);
    assert_eq!(
        unmasked.violations(Role::Client),
        vec![Violation::UnmaskedFromClient]
    );
    assert_eq!(unmasked.violations(Role::Server), vec![]);
    // An all-zero key is still a mask.
    let zero = frame(FrameSpec::new(Opcode::TEXT, vec![]).with_mask(Some([0; 4])));
    assert_eq!(
        zero.violations(Role::Server),
        vec![Violation::MaskedFromServer]
    );
}

#[test]
fn non_minimal_length() {
    let ext16 = |n: usize| {
        server(
            FrameSpec::new(Opcode::BINARY, vec![0; n])
                .with_length_encoding(LengthEncoding::Extended16),
        )
    };
    let ext64 = |n: usize| {
        server(
            FrameSpec::new(Opcode::BINARY, vec![0; n])
                .with_length_encoding(LengthEncoding::Extended64),
        )
    };
    assert_eq!(ext16(0), vec![Violation::NonMinimalLength]);
    assert_eq!(ext16(125), vec![Violation::NonMinimalLength]);
    assert_eq!(ext16(126), vec![]);
    assert_eq!(ext64(5), vec![Violation::NonMinimalLength]);
    assert_eq!(ext64(65535), vec![Violation::NonMinimalLength]);
    assert_eq!(ext64(65536), vec![]);
    assert_eq!(
        server(
            FrameSpec::new(Opcode::BINARY, vec![0; 125])
                .with_length_encoding(LengthEncoding::Short)
        ),
        vec![]
    );
}

#[test]
fn length64_high_bit_set() {
    // Such a frame can never arrive in full, so the check is on the header.
    let bytes = encode(
        &FrameSpec::new(Opcode::BINARY, vec![])
            .with_declared_len(Some(u64::MAX))
            .with_length_encoding(LengthEncoding::Extended64),
    )
    .unwrap();
    let h = parse_header(&bytes).unwrap();
    assert_eq!(
        h.violations(Role::Server),
        vec![Violation::Length64HighBitSet]
    );

    let bytes = encode(
        &FrameSpec::new(Opcode::BINARY, vec![])
            .with_declared_len(Some(u64::MAX >> 1))
            .with_length_encoding(LengthEncoding::Extended64),
    )
    .unwrap();
    let h = parse_header(&bytes).unwrap();
    assert_eq!(h.violations(Role::Server), vec![]);

    // The header of a decoded frame reports the same rules as the frame.
    let f = frame(
        FrameSpec::new(Opcode::PING, vec![0; 130])
            .with_rsv(2)
            .with_fin(false)
            .with_mask(Some(MASK))
            .with_length_encoding(LengthEncoding::Extended64),
    );
    assert_eq!(
        f.header().violations(Role::Server),
        f.violations(Role::Server)
    );
    assert_eq!(
        f.violations(Role::Server),
        vec![
            Violation::RsvSet(2),
            Violation::ControlFrameTooLong(130),
            Violation::FragmentedControlFrame,
            Violation::MaskedFromServer,
            Violation::NonMinimalLength,
        ]
    );
}

#[test]
fn close_payload_rules() {
    let close = |p: Vec<u8>| server(FrameSpec::new(Opcode::CLOSE, p));
    assert_eq!(close(vec![0x03]), vec![Violation::ClosePayloadOneByte]);
    assert_eq!(close(vec![]), vec![]);
    assert_eq!(close(close_payload(Some(1000), b"")), vec![]);
    assert_eq!(close(close_payload(Some(1000), "ok ✓".as_bytes())), vec![]);

    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        assert_eq!(
            close(close_payload(Some(code), b"")),
            vec![Violation::InvalidCloseCode(code)],
            "{code}"
        );
    }
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
    ] {
        assert_eq!(close(close_payload(Some(code), b"")), vec![], "{code}");
    }

    assert_eq!(
        close(close_payload(Some(1000), b"\xff\xfe")),
        vec![Violation::InvalidUtf8InCloseReason]
    );
    assert_eq!(
        close(close_payload(Some(1005), b"\xc3")),
        vec![
            Violation::InvalidCloseCode(1005),
            Violation::InvalidUtf8InCloseReason
        ]
    );
    // The same payload on a non-CLOSE frame is not judged as a close.
    assert_eq!(server(FrameSpec::new(Opcode::PING, vec![0x03])), vec![]);
    assert_eq!(
        server(FrameSpec::new(
            Opcode::BINARY,
            close_payload(Some(5), b"\xff")
        )),
        vec![]
    );
}

#[test]
fn violation_display() {
    let all = [
        (Violation::RsvSet(4), "RSV bits set (rsv=0b100)"),
        (Violation::ReservedOpcode(Opcode(3)), "reserved opcode 3"),
        (
            Violation::ControlFrameTooLong(126),
            "control frame payload of 126 bytes (max 125)",
        ),
        (
            Violation::FragmentedControlFrame,
            "control frame without FIN (control frames must not be fragmented)",
        ),
        (Violation::MaskedFromServer, "masked frame from the server"),
        (
            Violation::UnmaskedFromClient,
            "unmasked frame from the client",
        ),
        (
            Violation::NonMinimalLength,
            "payload length not in the minimal encoding",
        ),
        (
            Violation::Length64HighBitSet,
            "most significant bit of the 64-bit payload length is set",
        ),
        (
            Violation::ClosePayloadOneByte,
            "CLOSE payload of exactly 1 byte",
        ),
        (Violation::InvalidCloseCode(1005), "invalid close code 1005"),
        (
            Violation::InvalidUtf8InCloseReason,
            "CLOSE reason is not valid UTF-8",
        ),
    ];
    for (v, s) in all {
        assert_eq!(v.to_string(), s);
    }
}

#[test]
fn summaries() {
    let s = |spec: FrameSpec| frame(spec).summary();
    assert_eq!(
        s(FrameSpec::new(Opcode::TEXT, b"hello".to_vec())),
        "TEXT fin len=5 \"hello\""
    );
    assert_eq!(
        s(FrameSpec::new(
            Opcode::BINARY,
            vec![0, 1, 2, 0xff, 0xfe, 0x80]
        )),
        "BINARY fin len=6 hex=000102fffe80"
    );
    assert_eq!(
        s(FrameSpec::new(Opcode::TEXT, b"Hel".to_vec()).with_fin(false)),
        "TEXT nofin len=3 \"Hel\""
    );
    assert_eq!(
        s(FrameSpec::new(Opcode::CONTINUATION, b"Hel".to_vec()).with_fin(false)),
        "CONTINUATION nofin len=3 \"Hel\""
    );
    assert_eq!(s(FrameSpec::new(Opcode::CLOSE, vec![])), "CLOSE fin len=0");
    assert_eq!(
        s(FrameSpec::new(
            Opcode::CLOSE,
            close_payload(Some(1000), b"bye")
        )),
        "CLOSE fin len=5 code=1000 reason=\"bye\""
    );
    assert_eq!(
        s(FrameSpec::new(
            Opcode::CLOSE,
            close_payload(Some(1001), b"")
        )),
        "CLOSE fin len=2 code=1001"
    );
    assert_eq!(
        s(FrameSpec::new(Opcode::CLOSE, vec![7])),
        "CLOSE fin len=1 hex=07"
    );
    assert_eq!(s(FrameSpec::new(Opcode::PING, vec![])), "PING fin len=0");
    assert_eq!(
        s(FrameSpec::new(Opcode::PING, b"hb".to_vec())),
        "PING fin len=2 \"hb\""
    );
    assert_eq!(
        s(FrameSpec::new(Opcode::PONG, vec![0, 0xff])),
        "PONG fin len=2 hex=00ff"
    );
    assert_eq!(
        s(FrameSpec::new(Opcode(3), vec![1])),
        "OPCODE-3 fin len=1 hex=01"
    );
    assert_eq!(
        s(FrameSpec::new(Opcode::TEXT, b"a\"b\r\n\xff".to_vec())),
        "TEXT fin len=6 \"a\\\"b\\r\\n\\xff\""
    );
    assert_eq!(
        s(FrameSpec::new(Opcode::TEXT, b"hello".to_vec())
            .with_rsv(4)
            .with_mask(Some(MASK))),
        "TEXT fin rsv=4 masked len=5 \"hello\""
    );
    assert_eq!(
        s(FrameSpec::new(Opcode::TEXT, b"hi".to_vec())
            .with_length_encoding(LengthEncoding::Extended16)),
        "TEXT fin ext16 len=2 \"hi\""
    );
}

#[test]
fn long_payload_summaries_are_truncated() {
    let s = frame(
        FrameSpec::new(Opcode::TEXT, vec![b'A'; 65535])
            .with_length_encoding(LengthEncoding::Extended64),
    )
    .summary();
    assert_eq!(
        s,
        format!("TEXT fin ext64 len=65535 \"{}…\"", "A".repeat(32))
    );

    let s = frame(FrameSpec::new(Opcode::BINARY, vec![0xab; 65])).summary();
    assert_eq!(s, format!("BINARY fin len=65 hex={}…", "ab".repeat(32)));

    // 64 bytes is still shown whole.
    let s = frame(FrameSpec::new(Opcode::TEXT, vec![b'z'; 64])).summary();
    assert_eq!(s, format!("TEXT fin len=64 \"{}\"", "z".repeat(64)));

    // Always a single line, whatever the payload.
    let all: Vec<u8> = (0..=255).collect();
    for op in 0..=15 {
        let s = frame(FrameSpec::new(Opcode(op), all[..60].to_vec())).summary();
        assert!(!s.contains('\n') && !s.contains('\r'), "{s}");
        let s = frame(FrameSpec::new(Opcode(op), all[196..].to_vec())).summary();
        assert!(!s.contains('\n') && !s.contains('\r'), "{s}");
    }
}
