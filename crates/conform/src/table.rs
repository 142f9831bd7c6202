//! The case table: every case, numbered as Autobahn|Testsuite numbers its
//! server-side cases where Autobahn has one (categories 1 to 7 and 9), with
//! the opening handshake as `H`. Pure data, built by loops where a group is
//! one rule applied to many values (payload lengths, byte sequences, close
//! codes).
//!
//! Nothing in the table names a firmware: it runs unchanged against any
//! WebSocket server that echoes TEXT and BINARY messages on the endpoint
//! path (`{path}`), as esp_http_server's ws_echo_server example does.

use crate::case::*;

/// Every case, in id order.
pub fn all() -> Vec<Case> {
    let mut t = Table::default();
    framing(&mut t);
    ping_pong(&mut t);
    reserved_bits(&mut t);
    opcodes(&mut t);
    fragmentation(&mut t);
    utf8(&mut t);
    close(&mut t);
    limits(&mut t);
    handshake(&mut t);
    t.cases
}

#[derive(Default)]
struct Table {
    cases: Vec<Case>,
}

impl Table {
    fn add(
        &mut self,
        category: Category,
        id: impl Into<String>,
        title: impl Into<String>,
        rfc: &'static str,
        steps: Vec<Step>,
        expect: Expect,
    ) {
        self.add_with(category, id, title, rfc, Request::standard(), steps, expect);
    }

    #[allow(clippy::too_many_arguments)]
    fn add_with(
        &mut self,
        category: Category,
        id: impl Into<String>,
        title: impl Into<String>,
        rfc: &'static str,
        request: Request,
        steps: Vec<Step>,
        expect: Expect,
    ) {
        self.cases.push(Case {
            id: id.into(),
            category,
            title: title.into(),
            rfc,
            request,
            steps,
            expect,
        });
    }
}

fn frame(opcode: u8, fin: bool, payload: impl Into<Vec<u8>>) -> Out {
    Out {
        fin,
        rsv: 0,
        opcode,
        payload: payload.into(),
        write: Write::Whole,
        unmasked: false,
    }
}

const CONT: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

fn text(p: impl Into<Vec<u8>>) -> Out {
    frame(TEXT, true, p)
}
fn binary(p: impl Into<Vec<u8>>) -> Out {
    frame(BINARY, true, p)
}
fn ping(p: impl Into<Vec<u8>>) -> Out {
    frame(PING, true, p)
}
fn pong(p: impl Into<Vec<u8>>) -> Out {
    frame(PONG, true, p)
}
fn close_frame(code: u16, reason: &[u8]) -> Out {
    frame(CLOSE, true, esp_ws_frame::close_payload(Some(code), reason))
}

impl Out {
    fn nofin(mut self) -> Out {
        self.fin = false;
        self
    }
    fn rsv(mut self, rsv: u8) -> Out {
        self.rsv = rsv;
        self
    }
    fn chops(mut self, n: usize) -> Out {
        self.write = Write::Chops(n);
        self
    }
    fn bytewise(mut self, n: usize) -> Out {
        self.write = Write::HeaderBytewise(n);
        self
    }
    fn unmasked(mut self) -> Out {
        self.unmasked = true;
        self
    }
    fn step(self) -> Step {
        Step::Send(self)
    }
}

fn pause(ms: u64) -> Step {
    Step::Pause { ms }
}

fn replies(ok: Vec<Msg>) -> Expect {
    Expect::Replies {
        ok,
        non_strict: None,
    }
}

fn fail(before: Vec<Msg>) -> Expect {
    Expect::Fail {
        before,
        codes: vec![1002],
    }
}

fn fail_utf8() -> Expect {
    Expect::Fail {
        before: vec![],
        codes: vec![1007],
    }
}

fn t(p: impl Into<Vec<u8>>) -> Msg {
    Msg::Text(p.into())
}

const HELLO: &[u8] = b"Hello, world!";

// 1: payload lengths, each in one write and in pieces.
fn framing(t_: &mut Table) {
    const LENGTHS: [usize; 7] = [0, 125, 126, 127, 128, 65535, 65536];
    for (group, op, name, byte) in [(1, TEXT, "TEXT", b'*'), (2, BINARY, "BINARY", 0xfe)] {
        for (i, &len) in LENGTHS.iter().enumerate() {
            let payload = vec![byte; len];
            let msg = if op == TEXT {
                Msg::Text(payload.clone())
            } else {
                Msg::Binary(payload.clone())
            };
            t_.add(
                Category::Framing,
                format!("1.{group}.{}", i + 1),
                format!("{name} message of {len} bytes"),
                "§5.2, §5.6",
                vec![frame(op, true, payload).step()],
                replies(vec![msg]),
            );
        }
        let payload = vec![byte; 65536];
        let msg = if op == TEXT {
            Msg::Text(payload.clone())
        } else {
            Msg::Binary(payload.clone())
        };
        t_.add(
            Category::Framing,
            format!("1.{group}.8"),
            format!("{name} message of 65536 bytes written in pieces of 997 bytes"),
            "§5.2, §5.6",
            vec![frame(op, true, payload).chops(997).step()],
            replies(vec![msg]),
        );
    }
    for (group, op, name, byte) in [(3, TEXT, "TEXT", b'*'), (4, BINARY, "BINARY", 0xfe)] {
        for (i, &len) in LENGTHS.iter().enumerate() {
            let payload = vec![byte; len];
            let msg = if op == TEXT {
                Msg::Text(payload.clone())
            } else {
                Msg::Binary(payload.clone())
            };
            t_.add(
                Category::Framing,
                format!("1.{group}.{}", i + 1),
                format!(
                    "{name} message of {len} bytes, its header written a byte at a time and its payload in pieces of 997 bytes"
                ),
                "§5.2, §5.6",
                vec![frame(op, true, payload).bytewise(997).step()],
                replies(vec![msg]),
            );
        }
    }
    t_.add(
        Category::Framing,
        "1.5.1",
        "unmasked TEXT frame \"Hello, world!\"",
        "§5.1, §5.3",
        vec![text(HELLO).unmasked().step()],
        fail(vec![]),
    );
    t_.add(
        Category::Framing,
        "1.5.2",
        "unmasked BINARY frame",
        "§5.1, §5.3",
        vec![binary(vec![0xfe; 16]).unmasked().step()],
        fail(vec![]),
    );
}

// 2: PING and PONG.
fn ping_pong(t_: &mut Table) {
    let c = Category::PingPong;
    let bin = vec![0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff];
    t_.add(
        c,
        "2.1",
        "PING without payload",
        "§5.5.2, §5.5.3",
        vec![ping(vec![]).step()],
        replies(vec![Msg::Pong(vec![])]),
    );
    t_.add(
        c,
        "2.2",
        "PING with a text payload",
        "§5.5.2, §5.5.3",
        vec![ping(HELLO).step()],
        replies(vec![Msg::Pong(HELLO.to_vec())]),
    );
    t_.add(
        c,
        "2.3",
        "PING with a binary payload",
        "§5.5.2, §5.5.3",
        vec![ping(bin.clone()).step()],
        replies(vec![Msg::Pong(bin)]),
    );
    t_.add(
        c,
        "2.4",
        "PING with a 125-byte payload (the largest a control frame may carry)",
        "§5.5, §5.5.3",
        vec![ping(vec![0xfe; 125]).step()],
        replies(vec![Msg::Pong(vec![0xfe; 125])]),
    );
    t_.add(
        c,
        "2.5",
        "PING with a 126-byte payload (one more than a control frame may carry)",
        "§5.5",
        vec![ping(vec![0xfe; 126]).step()],
        fail(vec![]),
    );
    t_.add(
        c,
        "2.6",
        "PING with a 125-byte payload, written a byte at a time",
        "§5.5.2, §5.5.3",
        vec![ping(vec![0xfe; 125]).chops(1).step()],
        replies(vec![Msg::Pong(vec![0xfe; 125])]),
    );
    t_.add(
        c,
        "2.7",
        "unsolicited PONG without payload",
        "§5.5.3",
        vec![pong(vec![]).step()],
        // "A response to an unsolicited Pong frame is not expected", but a
        // PONG back is itself an unsolicited PONG, which §5.5.3 allows.
        Expect::Replies {
            ok: vec![],
            non_strict: Some(vec![Msg::Pong(vec![])]),
        },
    );
    t_.add(
        c,
        "2.8",
        "unsolicited PONG with a payload",
        "§5.5.3",
        vec![pong(b"unsolicited pong payload".to_vec()).step()],
        Expect::Replies {
            ok: vec![],
            non_strict: Some(vec![Msg::Pong(b"unsolicited pong payload".to_vec())]),
        },
    );
    t_.add(
        c,
        "2.9",
        "unsolicited PONG, then a PING",
        "§5.5.2, §5.5.3",
        vec![
            pong(b"unsolicited pong payload".to_vec()).step(),
            ping(b"ping payload".to_vec()).step(),
        ],
        Expect::Replies {
            ok: vec![Msg::Pong(b"ping payload".to_vec())],
            non_strict: Some(vec![
                Msg::Pong(b"unsolicited pong payload".to_vec()),
                Msg::Pong(b"ping payload".to_vec()),
            ]),
        },
    );
    for (id, chopped) in [("2.10", false), ("2.11", true)] {
        let pings: Vec<Vec<u8>> = (0..10)
            .map(|i| format!("payload-{i}").into_bytes())
            .collect();
        t_.add(
            c,
            id,
            if chopped {
                "10 PINGs, each written a byte at a time"
            } else {
                "10 PINGs in a row"
            },
            "§5.5.2, §5.5.3",
            pings
                .iter()
                .map(|p| {
                    let f = ping(p.clone());
                    if chopped { f.chops(1) } else { f }.step()
                })
                .collect(),
            Expect::Replies {
                ok: pings.iter().map(|p| Msg::Pong(p.clone())).collect(),
                // "MAY elect to send a Pong frame for only the most recently
                // processed Ping frame" (§5.5.3).
                non_strict: Some(vec![Msg::Pong(pings[9].clone())]),
            },
        );
    }
    t_.add(
        c,
        "2.12",
        "PING with the payload \"Espressif\"",
        "§5.5.2, §5.5.3",
        vec![ping(b"Espressif".to_vec()).step()],
        replies(vec![Msg::Pong(b"Espressif".to_vec())]),
    );
}

// 3: RSV bits, which no extension was negotiated to give a meaning.
fn reserved_bits(t_: &mut Table) {
    let c = Category::ReservedBits;
    let rfc = "§5.2";
    t_.add(
        c,
        "3.1",
        "TEXT \"Hello, world!\" with RSV=1",
        rfc,
        vec![text(HELLO).rsv(1).step()],
        fail(vec![]),
    );
    t_.add(
        c,
        "3.2",
        "TEXT, then TEXT with RSV=2, then PING",
        rfc,
        vec![
            text(HELLO).step(),
            text(HELLO).rsv(2).step(),
            ping(HELLO).step(),
        ],
        fail(vec![t(HELLO)]),
    );
    t_.add(
        c,
        "3.3",
        "TEXT, then TEXT with RSV=3, then PING, each written a byte at a time",
        rfc,
        vec![
            text(HELLO).chops(1).step(),
            text(HELLO).rsv(3).chops(1).step(),
            ping(HELLO).chops(1).step(),
        ],
        fail(vec![t(HELLO)]),
    );
    t_.add(
        c,
        "3.4",
        "TEXT, then TEXT with RSV=4, then PING, with pauses between them",
        rfc,
        vec![
            text(HELLO).step(),
            pause(20),
            text(HELLO).rsv(4).step(),
            pause(20),
            ping(HELLO).step(),
        ],
        fail(vec![t(HELLO)]),
    );
    t_.add(
        c,
        "3.5",
        "BINARY with RSV=5",
        rfc,
        vec![
            binary(vec![0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff])
                .rsv(5)
                .step(),
        ],
        fail(vec![]),
    );
    t_.add(
        c,
        "3.6",
        "PING with RSV=6",
        rfc,
        vec![ping(HELLO).rsv(6).step()],
        fail(vec![]),
    );
    t_.add(
        c,
        "3.7",
        "CLOSE 1000 with RSV=7",
        rfc,
        vec![close_frame(1000, b"").rsv(7).step()],
        fail(vec![]),
    );
    t_.add(
        c,
        "3.8",
        "TEXT fragment, then its final CONTINUATION with RSV=1",
        rfc,
        vec![
            text(b"fragment1".to_vec()).nofin().step(),
            frame(CONT, true, b"fragment2".to_vec()).rsv(1).step(),
        ],
        fail(vec![]),
    );
}

// 4: opcodes RFC 6455 reserves.
fn opcodes(t_: &mut Table) {
    let c = Category::Opcodes;
    let rfc = "§5.2";
    for (group, codes) in [(1, [3u8, 4, 5, 6, 7]), (2, [11, 12, 13, 14, 15])] {
        let kind = if group == 1 { "non-control" } else { "control" };
        for (i, &op) in codes.iter().enumerate() {
            let id = format!("4.{group}.{}", i + 1);
            match i {
                0 => t_.add(
                    c,
                    id,
                    format!("frame with reserved {kind} opcode {op}, no payload"),
                    rfc,
                    vec![frame(op, true, vec![]).step()],
                    fail(vec![]),
                ),
                1 => t_.add(
                    c,
                    id,
                    format!("frame with reserved {kind} opcode {op} and a payload"),
                    rfc,
                    vec![frame(op, true, b"reserved opcode payload".to_vec()).step()],
                    fail(vec![]),
                ),
                2 => t_.add(
                    c,
                    id,
                    format!("TEXT, then reserved {kind} opcode {op}, then PING"),
                    rfc,
                    vec![
                        text(HELLO).step(),
                        frame(op, true, vec![]).step(),
                        ping(HELLO).step(),
                    ],
                    fail(vec![t(HELLO)]),
                ),
                _ => t_.add(
                    c,
                    id,
                    format!(
                        "TEXT, then reserved {kind} opcode {op} with a payload, then PING{}",
                        if i == 4 {
                            ", each written a byte at a time"
                        } else {
                            ""
                        }
                    ),
                    rfc,
                    {
                        let steps = vec![
                            text(HELLO),
                            frame(op, true, b"reserved opcode payload".to_vec()),
                            ping(HELLO),
                        ];
                        steps
                            .into_iter()
                            .map(|f| if i == 4 { f.chops(1) } else { f }.step())
                            .collect()
                    },
                    fail(vec![t(HELLO)]),
                ),
            }
        }
    }
}

/// Steps written whole, a byte at a time, or with pauses between frames.
#[derive(Copy, Clone)]
enum Pace {
    Whole,
    Bytes,
    Pauses,
}

fn paced(frames: Vec<Out>, pace: Pace) -> Vec<Step> {
    let mut steps = Vec::new();
    for (i, f) in frames.into_iter().enumerate() {
        if i > 0 && matches!(pace, Pace::Pauses) {
            steps.push(pause(20));
        }
        steps.push(match pace {
            Pace::Bytes => f.chops(1).step(),
            _ => f.step(),
        });
    }
    steps
}

fn pace_text(p: Pace) -> &'static str {
    match p {
        Pace::Whole => "",
        Pace::Bytes => ", each frame written a byte at a time",
        Pace::Pauses => ", with pauses between the frames",
    }
}

// 5: fragmented messages, control frames inside them, and the sequences
// RFC 6455 forbids.
fn fragmentation(t_: &mut Table) {
    let c = Category::Fragmentation;
    let f1 = b"fragment1".to_vec();
    let f2 = b"fragment2".to_vec();
    t_.add(
        c,
        "5.1",
        "PING fragmented into 2 frames",
        "§5.4, §5.5",
        vec![
            frame(PING, false, f1.clone()).step(),
            frame(CONT, true, f2.clone()).step(),
        ],
        fail(vec![]),
    );
    t_.add(
        c,
        "5.2",
        "PONG fragmented into 2 frames",
        "§5.4, §5.5",
        vec![
            frame(PONG, false, f1.clone()).step(),
            frame(CONT, true, f2.clone()).step(),
        ],
        fail(vec![]),
    );
    let both = b"fragment1fragment2".to_vec();
    for (n, pace) in [(3, Pace::Whole), (4, Pace::Bytes), (5, Pace::Pauses)] {
        t_.add(
            c,
            format!("5.{n}"),
            format!("TEXT in 2 fragments{}", pace_text(pace)),
            "§5.4",
            paced(
                vec![text(f1.clone()).nofin(), frame(CONT, true, f2.clone())],
                pace,
            ),
            replies(vec![t(both.clone())]),
        );
    }
    for (n, pace) in [(6, Pace::Whole), (7, Pace::Bytes), (8, Pace::Pauses)] {
        t_.add(
            c,
            format!("5.{n}"),
            format!(
                "TEXT in 2 fragments with a PING between them{}",
                pace_text(pace)
            ),
            "§5.4, §5.5",
            paced(
                vec![
                    text(f1.clone()).nofin(),
                    ping(b"ping payload".to_vec()),
                    frame(CONT, true, f2.clone()),
                ],
                pace,
            ),
            replies(vec![Msg::Pong(b"ping payload".to_vec()), t(both.clone())]),
        );
    }
    for (n, fin, pace) in [
        (9, true, Pace::Whole),
        (10, true, Pace::Bytes),
        (11, true, Pace::Pauses),
        (12, false, Pace::Whole),
        (13, false, Pace::Bytes),
        (14, false, Pace::Pauses),
    ] {
        t_.add(
            c,
            format!("5.{n}"),
            format!(
                "CONTINUATION ({}) without a message to continue, then TEXT{}",
                if fin { "FIN" } else { "not FIN" },
                pace_text(pace)
            ),
            "§5.4",
            paced(
                vec![
                    frame(CONT, fin, b"non-continuation payload".to_vec()),
                    text(HELLO),
                ],
                pace,
            ),
            fail(vec![]),
        );
    }
    t_.add(
        c,
        "5.15",
        "TEXT in 2 fragments, then a CONTINUATION (not FIN) and a TEXT fragment that continue nothing",
        "§5.4",
        vec![
            text(f1.clone()).nofin().step(),
            frame(CONT, true, f2.clone()).step(),
            frame(CONT, false, b"fragment3".to_vec()).step(),
            text(b"fragment4".to_vec()).step(),
        ],
        fail(vec![t(both.clone())]),
    );
    for (n, first_fin) in [(16, false), (17, true)] {
        let round = || {
            vec![
                frame(CONT, first_fin, f1.clone()),
                text(f2.clone()).nofin(),
                frame(CONT, true, b"fragment3".to_vec()),
            ]
        };
        let mut frames = round();
        frames.extend(round());
        t_.add(
            c,
            format!("5.{n}"),
            format!(
                "twice: CONTINUATION ({}) without a message, TEXT fragment, final CONTINUATION",
                if first_fin { "FIN" } else { "not FIN" }
            ),
            "§5.4",
            paced(frames, Pace::Whole),
            fail(vec![]),
        );
    }
    t_.add(
        c,
        "5.18",
        "a new TEXT message inside a fragmented one (TEXT not FIN, then TEXT)",
        "§5.4",
        vec![text(f1.clone()).nofin().step(), text(f2.clone()).step()],
        fail(vec![]),
    );
    for (n, pace) in [(19, Pace::Pauses), (20, Pace::Bytes)] {
        let frames = vec![
            text(b"fragment1".to_vec()).nofin(),
            frame(CONT, false, b"fragment2".to_vec()),
            ping(b"pongme 1!".to_vec()),
            frame(CONT, false, b"fragment3".to_vec()),
            frame(CONT, false, b"fragment4".to_vec()),
            ping(b"pongme 2!".to_vec()),
            frame(CONT, true, b"fragment5".to_vec()),
        ];
        t_.add(
            c,
            format!("5.{n}"),
            format!(
                "TEXT in 5 fragments with 2 PINGs among them{}",
                pace_text(pace)
            ),
            "§5.4, §5.5",
            paced(frames, pace),
            replies(vec![
                Msg::Pong(b"pongme 1!".to_vec()),
                Msg::Pong(b"pongme 2!".to_vec()),
                t(b"fragment1fragment2fragment3fragment4fragment5".to_vec()),
            ]),
        );
    }
    t_.add(
        c,
        "5.21",
        "TEXT \"Hello, world\" in 3 fragments (\"Hel\", \"lo, \", \"world\")",
        "§5.4",
        vec![
            text(b"Hel".to_vec()).nofin().step(),
            frame(CONT, false, b"lo, ".to_vec()).step(),
            frame(CONT, true, b"world".to_vec()).step(),
        ],
        replies(vec![t(b"Hello, world".to_vec())]),
    );
    t_.add(
        c,
        "5.22",
        "BINARY in 3 fragments",
        "§5.4",
        vec![
            binary(vec![1, 2, 3]).nofin().step(),
            frame(CONT, false, vec![4, 5]).step(),
            frame(CONT, true, vec![6]).step(),
        ],
        replies(vec![Msg::Binary(vec![1, 2, 3, 4, 5, 6])]),
    );
    let big = vec![b'*'; 65536];
    let frames: Vec<Out> = big
        .chunks(1300)
        .enumerate()
        .map(|(i, chunk)| {
            let last = (i + 1) * 1300 >= big.len();
            frame(if i == 0 { TEXT } else { CONT }, last, chunk.to_vec())
        })
        .collect();
    t_.add(
        c,
        "5.23",
        "TEXT of 65536 bytes in fragments of 1300 bytes",
        "§5.4",
        paced(frames, Pace::Whole),
        replies(vec![t(big)]),
    );
}

/// A TEXT message sent in one frame, or one fragment per byte.
fn utf8_case(t_: &mut Table, id: String, what: String, bytes: &[u8], per_byte: bool) {
    let valid = std::str::from_utf8(bytes).is_ok();
    let steps = if per_byte && !bytes.is_empty() {
        bytes
            .iter()
            .enumerate()
            .map(|(i, b)| {
                frame(
                    if i == 0 { TEXT } else { CONT },
                    i + 1 == bytes.len(),
                    vec![*b],
                )
                .step()
            })
            .collect()
    } else {
        vec![text(bytes.to_vec()).step()]
    };
    let hex = hex::encode(bytes);
    let shown = if bytes.len() <= 24 {
        format!(" ({hex})")
    } else {
        String::new()
    };
    t_.add(
        Category::Utf8,
        id,
        format!(
            "TEXT with {} UTF-8: {what}{shown}{}",
            if valid { "valid" } else { "invalid" },
            if per_byte {
                ", one fragment per byte"
            } else {
                ""
            }
        ),
        if valid { "§5.6, §8.1" } else { "§8.1" },
        steps,
        if valid {
            replies(vec![t(bytes.to_vec())])
        } else {
            fail_utf8()
        },
    );
}

// 6: UTF-8 in TEXT messages: valid and invalid sequences (the test vectors
// of Markus Kuhn's UTF-8 decoder test, as Autobahn uses them), whole, split
// inside a code point, across fragments.
fn utf8(t_: &mut Table) {
    let c = Category::Utf8;
    t_.add(
        c,
        "6.1.1",
        "empty TEXT message",
        "§5.6",
        vec![text(vec![]).step()],
        replies(vec![t(vec![])]),
    );
    t_.add(
        c,
        "6.1.2",
        "empty TEXT message in 3 empty fragments",
        "§5.4, §5.6",
        vec![
            text(vec![]).nofin().step(),
            frame(CONT, false, vec![]).step(),
            frame(CONT, true, vec![]).step(),
        ],
        replies(vec![t(vec![])]),
    );
    t_.add(
        c,
        "6.1.3",
        "TEXT in 3 fragments, the first and last empty",
        "§5.4, §5.6",
        vec![
            text(vec![]).nofin().step(),
            frame(CONT, false, b"middle frame payload".to_vec()).step(),
            frame(CONT, true, vec![]).step(),
        ],
        replies(vec![t(b"middle frame payload".to_vec())]),
    );
    let hello = "Hello-µ@ßöäüàá-UTF-8!!".as_bytes();
    utf8_case(
        t_,
        "6.2.1".into(),
        "\"Hello-µ@ßöäüàá-UTF-8!!\"".into(),
        hello,
        false,
    );
    let cut = "Hello-µ@ßöä".len();
    t_.add(
        c,
        "6.2.2",
        "TEXT with valid UTF-8 \"Hello-µ@ßöäüàá-UTF-8!!\" in 2 fragments split between code points",
        "§5.4, §8.1",
        vec![
            text(hello[..cut].to_vec()).nofin().step(),
            frame(CONT, true, hello[cut..].to_vec()).step(),
        ],
        replies(vec![t(hello.to_vec())]),
    );
    utf8_case(
        t_,
        "6.2.3".into(),
        "\"Hello-µ@ßöäüàá-UTF-8!!\" (code points split across fragments)".into(),
        hello,
        true,
    );
    let kosme = "κόσμε".as_bytes();
    utf8_case(
        t_,
        "6.2.4".into(),
        "\"κόσμε\" (code points split across fragments)".into(),
        kosme,
        true,
    );
    let mut invalid = kosme.to_vec();
    invalid.extend_from_slice(b"\xed\xa0\x80edited");
    utf8_case(
        t_,
        "6.3.1".into(),
        "\"κόσμε\", a surrogate, \"edited\"".into(),
        &invalid,
        false,
    );
    utf8_case(
        t_,
        "6.3.2".into(),
        "\"κόσμε\", a surrogate, \"edited\"".into(),
        &invalid,
        true,
    );
    // Fail fast: the invalid sequence comes in a fragment before the end.
    let fragments: [(&str, Vec<Vec<u8>>); 4] = [
        (
            "3 fragments: valid, invalid (U+110000), valid",
            vec![
                kosme.to_vec(),
                b"\xf4\x90\x80\x80".to_vec(),
                b"edited".to_vec(),
            ],
        ),
        (
            "3 fragments, the invalid sequence split between the first two",
            vec![
                [kosme, b"\xf4\x90"].concat(),
                b"\x80\x80".to_vec(),
                b"edited".to_vec(),
            ],
        ),
        (
            "3 fragments: an invalid first byte, then valid ones",
            vec![b"\xff".to_vec(), kosme.to_vec(), b"edited".to_vec()],
        ),
        (
            "2 fragments: valid, then a lone continuation byte at the end",
            vec![kosme.to_vec(), b"edited\x80".to_vec()],
        ),
    ];
    for (i, (what, parts)) in fragments.into_iter().enumerate() {
        let n = parts.len();
        let mut steps = Vec::new();
        for (j, p) in parts.into_iter().enumerate() {
            if j > 0 {
                steps.push(pause(20));
            }
            steps.push(frame(if j == 0 { TEXT } else { CONT }, j + 1 == n, p).step());
        }
        t_.add(
            c,
            format!("6.4.{}", i + 1),
            format!("TEXT with invalid UTF-8 in {what}, with pauses"),
            "§8.1",
            steps,
            fail_utf8(),
        );
    }
    let valid_texts = [
        "\"κόσμε\"",
        "\"Ünïcödé ✓ 🎉\"",
        "\"日本語テキスト\"",
        "\"Привет, мир\"",
        "\"a𝄞b\" (a 4-byte code point)",
    ];
    let valid_bytes: [&str; 5] = [
        "κόσμε",
        "Ünïcödé ✓ 🎉",
        "日本語テキスト",
        "Привет, мир",
        "a𝄞b",
    ];
    for (i, (what, s)) in valid_texts.iter().zip(valid_bytes).enumerate() {
        utf8_case(
            t_,
            format!("6.5.{}", i + 1),
            what.to_string(),
            s.as_bytes(),
            false,
        );
    }
    for len in 1..=kosme.len() {
        utf8_case(
            t_,
            format!("6.6.{len}"),
            format!("the first {len} bytes of \"κόσμε\""),
            &kosme[..len],
            false,
        );
    }
    let groups: &[(&str, &str, &[&[u8]])] = &[
        (
            "6.7",
            "the first possible sequence of its length",
            &[b"\x00", b"\xc2\x80", b"\xe0\xa0\x80", b"\xf0\x90\x80\x80"],
        ),
        (
            "6.8",
            "the first possible sequence of a 5- or 6-byte length (not UTF-8)",
            &[b"\xf8\x88\x80\x80\x80", b"\xfc\x84\x80\x80\x80\x80"],
        ),
        (
            "6.9",
            "the last possible sequence of its length",
            &[b"\x7f", b"\xdf\xbf", b"\xef\xbf\xbf", b"\xf4\x8f\xbf\xbf"],
        ),
        (
            "6.10",
            "a sequence beyond U+10FFFF",
            &[
                b"\xf4\x90\x80\x80",
                b"\xf7\xbf\xbf\xbf",
                b"\xfb\xbf\xbf\xbf\xbf",
                b"\xfd\xbf\xbf\xbf\xbf\xbf",
            ],
        ),
        (
            "6.11",
            "a boundary of the code space",
            &[
                b"\xed\x9f\xbf",
                b"\xee\x80\x80",
                b"\xef\xbf\xbd",
                b"\xf4\x8f\xbf\xbf",
                b"\xf4\x90\x80\x80",
            ],
        ),
        (
            "6.12",
            "unexpected continuation bytes",
            &[
                b"\x80",
                b"\xbf",
                b"\x80\xbf",
                b"\x80\xbf\x80",
                b"\x80\xbf\x80\xbf",
                b"\x80\xbf\x80\xbf\x80",
                b"\x80\xbf\x80\xbf\x80\xbf",
            ],
        ),
        (
            "6.14",
            "a sequence with its last byte missing",
            &[
                b"\xc0",
                b"\xe0\x80",
                b"\xf0\x80\x80",
                b"\xf8\x80\x80\x80",
                b"\xfc\x80\x80\x80\x80",
                b"\xdf",
                b"\xef\xbf",
                b"\xf7\xbf\xbf",
                b"\xfb\xbf\xbf\xbf",
                b"\xfd\xbf\xbf\xbf\xbf",
            ],
        ),
        (
            "6.16",
            "impossible bytes",
            &[b"\xfe", b"\xff", b"\xfe\xfe\xff\xff"],
        ),
        (
            "6.17",
            "an overlong \"/\"",
            &[
                b"\xc0\xaf",
                b"\xe0\x80\xaf",
                b"\xf0\x80\x80\xaf",
                b"\xf8\x80\x80\x80\xaf",
                b"\xfc\x80\x80\x80\x80\xaf",
            ],
        ),
        (
            "6.18",
            "the largest overlong sequence of its length",
            &[
                b"\xc1\xbf",
                b"\xe0\x9f\xbf",
                b"\xf0\x8f\xbf\xbf",
                b"\xf8\x87\xbf\xbf\xbf",
                b"\xfc\x83\xbf\xbf\xbf\xbf",
            ],
        ),
        (
            "6.19",
            "an overlong NUL",
            &[
                b"\xc0\x80",
                b"\xe0\x80\x80",
                b"\xf0\x80\x80\x80",
                b"\xf8\x80\x80\x80\x80",
                b"\xfc\x80\x80\x80\x80\x80",
            ],
        ),
        (
            "6.20",
            "a single UTF-16 surrogate",
            &[
                b"\xed\xa0\x80",
                b"\xed\xad\xbf",
                b"\xed\xae\x80",
                b"\xed\xaf\xbf",
                b"\xed\xb0\x80",
                b"\xed\xbe\x80",
                b"\xed\xbf\xbf",
            ],
        ),
        (
            "6.21",
            "a pair of UTF-16 surrogates",
            &[
                b"\xed\xa0\x80\xed\xb0\x80",
                b"\xed\xa0\x80\xed\xbf\xbf",
                b"\xed\xad\xbf\xed\xb0\x80",
                b"\xed\xad\xbf\xed\xbf\xbf",
                b"\xed\xae\x80\xed\xb0\x80",
                b"\xed\xae\x80\xed\xbf\xbf",
                b"\xed\xaf\xbf\xed\xb0\x80",
                b"\xed\xaf\xbf\xed\xbf\xbf",
            ],
        ),
        (
            "6.23",
            "a special code point (U+FFFD, U+FEFF, NUL inside text)",
            &[b"\xef\xbf\xbd", b"\xef\xbb\xbfBOM", b"a\x00b"],
        ),
    ];
    let push_group = |t_: &mut Table, id: &str, what: &str, seqs: &[&[u8]]| {
        for (i, s) in seqs.iter().enumerate() {
            utf8_case(t_, format!("{id}.{}", i + 1), what.to_string(), s, false);
        }
    };
    for (id, what, seqs) in &groups[..6] {
        push_group(t_, id, what, seqs);
    }
    // 6.13: lonely start bytes, each followed by a space.
    let lonely: Vec<(String, Vec<u8>)> = [
        (0xc0u8..=0xdf, "2-byte"),
        (0xe0..=0xef, "3-byte"),
        (0xf0..=0xf7, "4-byte"),
        (0xf8..=0xfb, "5-byte"),
        (0xfc..=0xfd, "6-byte"),
    ]
    .into_iter()
    .map(|(range, kind)| {
        (
            format!("every lonely {kind} start byte, each followed by a space"),
            range.flat_map(|b| [b, b' ']).collect(),
        )
    })
    .collect();
    for (i, (what, bytes)) in lonely.iter().enumerate() {
        utf8_case(t_, format!("6.13.{}", i + 1), what.clone(), bytes, false);
    }
    push_group(t_, groups[6].0, groups[6].1, groups[6].2);
    let all_missing: Vec<u8> = groups[6].2.concat();
    utf8_case(
        t_,
        "6.15.1".into(),
        "all 10 sequences of 6.14 (last byte missing) in a row".into(),
        &all_missing,
        false,
    );
    for (id, what, seqs) in &groups[7..13] {
        push_group(t_, id, what, seqs);
    }
    // 6.22: noncharacters are valid UTF-8 (Unicode corrigendum #9).
    let mut nonchars: Vec<char> = vec!['\u{FFFE}', '\u{FFFF}'];
    for plane in 1..=16u32 {
        for low in [0xFFFE, 0xFFFF] {
            nonchars.push(char::from_u32(plane << 16 | low).expect("a noncharacter is a char"));
        }
    }
    for (i, ch) in nonchars.iter().enumerate() {
        let s = ch.to_string();
        utf8_case(
            t_,
            format!("6.22.{}", i + 1),
            format!("the noncharacter U+{:04X}", *ch as u32),
            s.as_bytes(),
            false,
        );
    }
    push_group(t_, groups[13].0, groups[13].1, groups[13].2);
}

// 7: the closing handshake: data after CLOSE, payloads, reasons, codes.
fn close(t_: &mut Table) {
    let c = Category::Close;
    let reply = |before: Vec<Msg>, codes: Vec<u16>| Expect::CloseReply {
        before,
        codes,
        empty_ok: false,
    };
    t_.add(
        c,
        "7.1.1",
        "TEXT, then CLOSE 1000",
        "§5.5.1, §7.1.2",
        vec![
            text(b"Hello World!".to_vec()).step(),
            close_frame(1000, b"").step(),
        ],
        reply(vec![t(b"Hello World!".to_vec())], vec![1000]),
    );
    t_.add(
        c,
        "7.1.2",
        "CLOSE 1000 twice",
        "§5.5.1",
        vec![close_frame(1000, b"").step(), close_frame(1000, b"").step()],
        reply(vec![], vec![1000]),
    );
    t_.add(
        c,
        "7.1.3",
        "CLOSE 1000, then PING (must not be answered)",
        "§5.5.1",
        vec![close_frame(1000, b"").step(), ping(HELLO).step()],
        reply(vec![], vec![1000]),
    );
    t_.add(
        c,
        "7.1.4",
        "CLOSE 1000, then TEXT (must not be answered)",
        "§5.5.1",
        vec![close_frame(1000, b"").step(), text(HELLO).step()],
        reply(vec![], vec![1000]),
    );
    t_.add(
        c,
        "7.1.5",
        "TEXT fragment, CLOSE 1000, then the final CONTINUATION",
        "§5.5.1",
        vec![
            text(b"fragment1".to_vec()).nofin().step(),
            close_frame(1000, b"").step(),
            frame(CONT, true, b"fragment2".to_vec()).step(),
        ],
        reply(vec![], vec![1000]),
    );
    t_.add(
        c,
        "7.3.1",
        "CLOSE without payload",
        "§5.5.1, §7.4",
        vec![frame(CLOSE, true, vec![]).step()],
        Expect::CloseReply {
            before: vec![],
            codes: vec![1000],
            empty_ok: true,
        },
    );
    t_.add(
        c,
        "7.3.2",
        "CLOSE with a 1-byte payload",
        "§5.5.1",
        vec![frame(CLOSE, true, vec![0x03]).step()],
        fail(vec![]),
    );
    t_.add(
        c,
        "7.3.3",
        "CLOSE 1000 without a reason",
        "§5.5.1, §7.4",
        vec![close_frame(1000, b"").step()],
        reply(vec![], vec![1000]),
    );
    t_.add(
        c,
        "7.3.4",
        "CLOSE 1000 with the reason \"bye\"",
        "§5.5.1, §7.4",
        vec![close_frame(1000, b"bye").step()],
        reply(vec![], vec![1000]),
    );
    t_.add(
        c,
        "7.3.5",
        "CLOSE 1000 with a 123-byte reason (a 125-byte payload, the most a control frame may carry)",
        "§5.5, §5.5.1",
        vec![close_frame(1000, &[b'*'; 123]).step()],
        reply(vec![], vec![1000]),
    );
    t_.add(
        c,
        "7.3.6",
        "CLOSE 1000 with a 124-byte reason (a 126-byte payload: too long for a control frame)",
        "§5.5",
        vec![close_frame(1000, &[b'*'; 124]).step()],
        fail(vec![]),
    );
    let reasons: [(&str, &[u8], bool); 4] = [
        (
            "an invalid UTF-8 reason (\"κόσμε\", a surrogate, \"edited\")",
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            false,
        ),
        (
            "a reason cut inside a code point (\"κόσμ\" and the first byte of \"ε\")",
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce",
            false,
        ),
        ("the valid UTF-8 reason \"κόσμε\"", "κόσμε".as_bytes(), true),
        (
            "a valid UTF-8 reason with 4-byte code points (\"🎉 done 🎉\")",
            "🎉 done 🎉".as_bytes(),
            true,
        ),
    ];
    for (i, (what, reason, valid)) in reasons.into_iter().enumerate() {
        t_.add(
            c,
            format!("7.5.{}", i + 1),
            format!("CLOSE 1000 with {what}"),
            if valid {
                "§5.5.1, §7.1.6"
            } else {
                "§5.5.1, §8.1"
            },
            vec![close_frame(1000, reason).step()],
            if valid {
                reply(vec![], vec![1000])
            } else {
                fail_utf8()
            },
        );
    }
    // 1012-1014 are registered with IANA (RFC 6455 §11.7) since 2012.
    let valid = [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ];
    for (i, code) in valid.into_iter().enumerate() {
        t_.add(
            c,
            format!("7.7.{}", i + 1),
            format!("CLOSE with the valid code {code}"),
            "§5.5.1, §7.4",
            vec![close_frame(code, b"").step()],
            reply(vec![], vec![code, 1000]),
        );
    }
    let invalid = [0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999];
    for (i, code) in invalid.into_iter().enumerate() {
        t_.add(
            c,
            format!("7.9.{}", i + 1),
            format!("CLOSE with the code {code}, which must not be sent"),
            "§7.4.1, §7.4.2",
            vec![close_frame(code, b"").step()],
            fail(vec![]),
        );
    }
    for (i, code) in [5000u16, 65535].into_iter().enumerate() {
        t_.add(
            c,
            format!("7.13.{}", i + 1),
            format!("CLOSE with the code {code}, which RFC 6455 does not define"),
            "§7.4.2",
            vec![close_frame(code, b"").step()],
            Expect::Informational,
        );
    }
}

// 9: messages larger than a small device may hold.
fn limits(t_: &mut Table) {
    let c = Category::Limits;
    const SIZES: [(usize, &str); 3] = [(65536, "64 KiB"), (262144, "256 KiB"), (1048576, "1 MiB")];
    for (group, op, name, byte) in [(1, TEXT, "TEXT", b'*'), (2, BINARY, "BINARY", 0xfe)] {
        for (i, (len, size)) in SIZES.iter().enumerate() {
            let payload = vec![byte; *len];
            let msg = if op == TEXT {
                Msg::Text(payload.clone())
            } else {
                Msg::Binary(payload.clone())
            };
            t_.add(
                c,
                format!("9.{group}.{}", i + 1),
                format!("{name} message of {size} in one frame"),
                "§5.2, §7.4.1 (1009), §10.4",
                vec![frame(op, true, payload).step()],
                Expect::Limit { echo: vec![msg] },
            );
        }
    }
    for (i, (len, size, piece)) in [
        (262144usize, "256 KiB", 65536usize),
        (1048576, "1 MiB", 65536),
    ]
    .into_iter()
    .enumerate()
    {
        let payload = vec![b'*'; len];
        let frames: Vec<Out> = payload
            .chunks(piece)
            .enumerate()
            .map(|(j, chunk)| {
                frame(
                    if j == 0 { TEXT } else { CONT },
                    (j + 1) * piece >= len,
                    chunk.to_vec(),
                )
            })
            .collect();
        t_.add(
            c,
            format!("9.3.{}", i + 1),
            format!("TEXT message of {size} in fragments of 64 KiB"),
            "§5.4, §7.4.1 (1009), §10.4",
            paced(frames, Pace::Whole),
            Expect::Limit {
                echo: vec![t(payload)],
            },
        );
    }
}

// H: the opening handshake.
fn handshake(t_: &mut Table) {
    let c = Category::Handshake;
    let accept = || Expect::Handshake(HandshakeExpect::Accept);
    let reject = |preferred: &[u16]| {
        Expect::Handshake(HandshakeExpect::Reject {
            preferred: preferred.to_vec(),
            header: None,
        })
    };
    let version_reject = || {
        Expect::Handshake(HandshakeExpect::Reject {
            preferred: vec![426],
            header: Some(("Sec-WebSocket-Version".into(), "13".into())),
        })
    };
    let std = Request::standard;
    let renamed = |f: fn(&str) -> String| {
        let mut r = std();
        for h in &mut r.headers {
            h.0 = f(&h.0);
        }
        r
    };
    let valid: Vec<(&str, Request)> = vec![
        ("a conforming upgrade request", std()),
        (
            "header names in lower case",
            renamed(|n| n.to_ascii_lowercase()),
        ),
        (
            "header names in upper case",
            renamed(|n| n.to_ascii_uppercase()),
        ),
        (
            "Upgrade: WebSocket (the value in mixed case)",
            std().with("Upgrade", "WebSocket"),
        ),
        (
            "Connection: keep-alive, Upgrade (a list of tokens)",
            std().with("Connection", "keep-alive, Upgrade"),
        ),
        (
            "Connection: upgrade (lower case)",
            std().with("Connection", "upgrade"),
        ),
        ("the headers in reverse order", {
            let mut r = std();
            r.headers.reverse();
            r
        }),
        (
            "extra headers (User-Agent, Origin, Cache-Control)",
            std()
                .adding("User-Agent", "esp-ws conform")
                .adding("Origin", "http://{host}")
                .adding("Cache-Control", "no-cache"),
        ),
        ("a query string on the path", {
            let mut r = std();
            r.target = "{path}?client=esp-ws".into();
            r
        }),
    ];
    for (i, (what, req)) in valid.into_iter().enumerate() {
        t_.add_with(
            c,
            format!("H.1.{}", i + 1),
            format!("opening handshake with {what}"),
            "§4.1, §4.2.1, §4.2.2",
            req,
            vec![],
            accept(),
        );
    }
    let bad: Vec<(&str, Request, Vec<u16>)> = vec![
        ("no Host header", std().without("Host"), vec![400]),
        (
            "no Upgrade header",
            std().without("Upgrade"),
            vec![400, 426],
        ),
        ("Upgrade: h2c", std().with("Upgrade", "h2c"), vec![400, 426]),
        (
            "no Connection header",
            std().without("Connection"),
            vec![400, 426],
        ),
        (
            "Connection: keep-alive (without upgrade)",
            std().with("Connection", "keep-alive"),
            vec![400, 426],
        ),
        (
            "no Sec-WebSocket-Key",
            std().without("Sec-WebSocket-Key"),
            vec![400],
        ),
        (
            "an empty Sec-WebSocket-Key",
            std().with("Sec-WebSocket-Key", ""),
            vec![400],
        ),
        (
            "Sec-WebSocket-Key: gfhjgfhjfj (not base64 of 16 bytes)",
            std().with("Sec-WebSocket-Key", "gfhjgfhjfj"),
            vec![400],
        ),
        (
            "a Sec-WebSocket-Key of 15 bytes",
            std().with("Sec-WebSocket-Key", "AAECAwQFBgcICQoLDA0O"),
            vec![400],
        ),
        (
            "a Sec-WebSocket-Key of 20 bytes (28 characters)",
            std().with("Sec-WebSocket-Key", "AAECAwQFBgcICQoLDA0ODxAREhM="),
            vec![400],
        ),
        (
            "two Sec-WebSocket-Key headers",
            std().adding("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            vec![400],
        ),
    ];
    for (i, (what, req, preferred)) in bad.into_iter().enumerate() {
        t_.add_with(
            c,
            format!("H.2.{}", i + 1),
            format!("opening handshake with {what}"),
            "§4.2.1",
            req,
            vec![],
            reject(&preferred),
        );
    }
    t_.add_with(
        c,
        "H.3.1",
        "opening handshake without Sec-WebSocket-Version",
        "§4.2.1, §4.4",
        std().without("Sec-WebSocket-Version"),
        vec![],
        reject(&[400, 426]),
    );
    for (i, v) in ["12", "8", "130", "14", "abc"].into_iter().enumerate() {
        t_.add_with(
            c,
            format!("H.3.{}", i + 2),
            format!("opening handshake with Sec-WebSocket-Version: {v}"),
            "§4.2.1, §4.4",
            std().with("Sec-WebSocket-Version", v),
            vec![],
            version_reject(),
        );
    }
    for (i, p) in ["chat", "chat, superchat", "echo"].into_iter().enumerate() {
        t_.add_with(
            c,
            format!("H.4.{}", i + 1),
            format!("opening handshake offering the sub-protocols {p:?}"),
            "§4.2.2 (/subprotocol/)",
            std().adding("Sec-WebSocket-Protocol", p),
            vec![],
            accept(),
        );
    }
    t_.add_with(
        c,
        "H.5.1",
        "opening handshake offering permessage-deflate",
        "§4.2.2 (/extensions/), §9.1; RFC 7692",
        std().adding(
            "Sec-WebSocket-Extensions",
            "permessage-deflate; client_max_window_bits",
        ),
        vec![],
        Expect::Handshake(HandshakeExpect::Extension {
            name: "permessage-deflate".into(),
        }),
    );
    for (i, v) in ["HTTP/1.0", "HTTP/2.0"].into_iter().enumerate() {
        let mut r = std();
        r.version = v.into();
        t_.add_with(
            c,
            format!("H.6.{}", i + 1),
            format!("upgrade request as {v}"),
            "§4.1, §4.2.1",
            r,
            vec![],
            reject(&[400, 505]),
        );
    }
    for (i, m) in ["POST", "PUT", "HEAD", "DELETE", "OPTIONS"]
        .into_iter()
        .enumerate()
    {
        let mut r = std();
        r.method = m.into();
        t_.add_with(
            c,
            format!("H.7.{}", i + 1),
            format!("upgrade request with the method {m}"),
            "§4.1, §4.2.1",
            r,
            vec![],
            reject(&[400, 405]),
        );
    }
    let mut r = std();
    r.target = "/esp-ws-no-such-endpoint".into();
    t_.add_with(
        c,
        "H.8.1",
        "upgrade request for a path the server does not serve",
        "§4.2.1 (/resource name/), §4.2.2",
        r,
        vec![],
        reject(&[404]),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_each_category_has_cases() {
        let cases = all();
        let mut seen = std::collections::BTreeSet::new();
        for c in &cases {
            assert!(seen.insert(c.id.clone()), "duplicate id {}", c.id);
            assert!(
                c.id.starts_with(&format!("{}.", c.category.number())),
                "{} is not in category {:?}",
                c.id,
                c.category
            );
            assert!(!c.title.is_empty() && !c.rfc.is_empty() && !c.judged().is_empty());
        }
        for cat in Category::ALL {
            assert!(cases.iter().any(|c| c.category == cat), "{cat:?}");
        }
        assert!(cases.len() >= 200, "{} cases", cases.len());
    }

    #[test]
    fn utf8_cases_expect_what_the_bytes_are() {
        for c in all().iter().filter(|c| c.category == Category::Utf8) {
            let sent: Vec<u8> = c
                .steps
                .iter()
                .filter_map(|s| match s {
                    Step::Send(o) => Some(o.payload.clone()),
                    _ => None,
                })
                .flatten()
                .collect();
            let valid = std::str::from_utf8(&sent).is_ok();
            match &c.expect {
                Expect::Replies { ok, .. } => {
                    assert!(valid, "{} expects an echo of invalid UTF-8", c.id);
                    assert_eq!(ok, &vec![Msg::Text(sent)], "{}", c.id);
                }
                Expect::Fail { codes, .. } => {
                    assert!(!valid, "{} fails valid UTF-8", c.id);
                    assert_eq!(codes, &vec![1007], "{}", c.id);
                }
                other => panic!("{}: {other:?}", c.id),
            }
        }
    }
}
