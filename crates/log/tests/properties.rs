//! The serial line splitter loses no byte and gives the same lines, however
//! the stream is cut into reads.

use esp_ws_log::LineSplitter;
use proptest::prelude::*;

/// Runs a splitter over `bytes` cut into pieces of `sizes` (cycled), then
/// ends the stream.
fn split(bytes: &[u8], sizes: &[usize], max: usize) -> Vec<Vec<u8>> {
    let mut s = LineSplitter::with_max_line(max);
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < bytes.len() {
        let n = sizes[i % sizes.len()].max(1).min(bytes.len() - at);
        out.extend(s.push(&bytes[at..at + n]).into_iter().map(|l| l.bytes));
        at += n;
        i += 1;
    }
    out.extend(s.finish().map(|l| l.bytes));
    out
}

/// What the lines must hold in all: the input without its newlines, where
/// a `\r` right before a `\n` (and one at the very end) is a line ending.
fn content(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') || i + 1 == bytes.len() => {}
            b'\n' => {}
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// Streams rich in line endings, long runs and non-UTF-8 bytes.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            4 => any::<u8>(),
            2 => Just(b'\n'),
            2 => Just(b'\r'),
            1 => Just(0xffu8),
        ],
        0..600,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_byte_is_lost_and_the_cut_does_not_matter(
        bytes in stream(),
        sizes in proptest::collection::vec(1usize..50, 1..6),
        max in 1usize..80,
    ) {
        let whole = split(&bytes, &[bytes.len().max(1)], max);
        let cut = split(&bytes, &sizes, max);
        prop_assert_eq!(&cut, &whole);
        prop_assert_eq!(cut.concat(), content(&bytes));
        prop_assert!(cut.iter().all(|l| l.len() <= max));
    }
}
