//! Serial bytes into lines and log records: what every target's output goes
//! through.

use esp_ws_log::{LineSplitter, parse_line};

fn main() {
    divan::main();
}

/// A debug-level esp_http_server log, as the simulator prints it.
fn serial(lines: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..lines {
        v.extend_from_slice(
            format!(
                "D ({}) httpd_txrx: httpd_recv_with_opt: requested length = 128\r\n",
                i * 10
            )
            .as_bytes(),
        );
    }
    v
}

#[divan::bench(args = [1, 64, 4096])]
fn split_in_reads_of(b: divan::Bencher, read: usize) {
    let bytes = serial(1000);
    b.counter(divan::counter::BytesCount::new(bytes.len()))
        .bench(|| {
            let mut s = LineSplitter::new();
            let mut n = 0;
            for piece in bytes.chunks(read) {
                n += s.push(piece).len();
            }
            n
        });
}

#[divan::bench]
fn parse_records(b: divan::Bencher) {
    let text = String::from_utf8(serial(1000)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    b.counter(divan::counter::ItemsCount::new(lines.len()))
        .bench(|| {
            for l in &lines {
                divan::black_box(parse_line(l));
            }
        });
}
