//! The frame codec: encoding what the client sends, decoding what a server
//! sends, for the sizes the example and the conformance cases use.

use esp_ws_frame::{Decoder, FrameSpec, Opcode, encode};

fn main() {
    divan::main();
}

const SIZES: &[usize] = &[5, 125, 126, 65_535, 65_536];

fn frame(len: usize) -> Vec<u8> {
    encode(&FrameSpec {
        mask: Some([1, 2, 3, 4]),
        ..FrameSpec::new(Opcode::BINARY, vec![0x5a; len])
    })
    .unwrap()
}

#[divan::bench(args = SIZES)]
fn encode_masked(b: divan::Bencher, len: usize) {
    let spec = FrameSpec {
        mask: Some([1, 2, 3, 4]),
        ..FrameSpec::new(Opcode::BINARY, vec![0x5a; len])
    };
    b.counter(divan::counter::BytesCount::new(len))
        .bench(|| encode(divan::black_box(&spec)).unwrap());
}

#[divan::bench(args = SIZES)]
fn decode_whole(b: divan::Bencher, len: usize) {
    let bytes = frame(len);
    b.counter(divan::counter::BytesCount::new(bytes.len()))
        .bench(|| {
            let mut d = Decoder::new(u64::MAX);
            d.push(divan::black_box(&bytes));
            d.next_frame().unwrap().unwrap()
        });
}

/// A frame arriving a few bytes at a time, as over a slow link.
#[divan::bench(args = [125, 65_536])]
fn decode_in_16_byte_pieces(b: divan::Bencher, len: usize) {
    let bytes = frame(len);
    b.counter(divan::counter::BytesCount::new(bytes.len()))
        .bench(|| {
            let mut d = Decoder::new(u64::MAX);
            let mut got = None;
            for piece in bytes.chunks(16) {
                d.push(piece);
                if let Some(f) = d.next_frame().unwrap() {
                    got = Some(f);
                }
            }
            got.unwrap()
        });
}
