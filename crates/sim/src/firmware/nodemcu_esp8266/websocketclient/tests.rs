//! The client's logic against a recording espconn: every close status a
//! server or the script can cause, and each bug of the fact sheet.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Resolve(Vec<u8>),
    Connect([u8; 4], u16),
    Send(Vec<u8>),
    Disconnect,
    Delete,
    Arm(u32, bool),
    Disarm,
}

#[derive(Default)]
struct Rec {
    calls: Vec<Call>,
    /// os_random's values: 0, 1, 2, ...
    next: u32,
    /// What dns_gethostbyname answers at once.
    dns: Option<[u8; 4]>,
}

impl Espconn for Rec {
    fn random(&mut self) -> u32 {
        self.next += 1;
        self.next - 1
    }
    fn resolve(&mut self, host: &[u8]) -> Option<[u8; 4]> {
        self.calls.push(Call::Resolve(host.to_vec()));
        self.dns
    }
    fn connect(&mut self, ip: [u8; 4], port: u16, _secure: bool) {
        self.calls.push(Call::Connect(ip, port));
    }
    fn send(&mut self, data: &[u8]) {
        self.calls.push(Call::Send(data.to_vec()));
    }
    fn disconnect(&mut self) {
        self.calls.push(Call::Disconnect);
    }
    fn delete(&mut self) {
        self.calls.push(Call::Delete);
    }
    fn arm_timer(&mut self, ms: u32, repeat: bool) {
        self.calls.push(Call::Arm(ms, repeat));
    }
    fn disarm_timer(&mut self) {
        self.calls.push(Call::Disarm);
    }
}

impl Rec {
    fn sends(&self) -> Vec<Vec<u8>> {
        self.calls
            .iter()
            .filter_map(|c| match c {
                Call::Send(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }
    fn take(&mut self) -> Vec<Call> {
        std::mem::take(&mut self.calls)
    }
}

/// Runs a method's upcall and every one it resumes into; callbacks do
/// nothing.
fn drain(ws: &mut WsInfo, env: &mut Rec, first: Option<Upcall>) -> Vec<Upcall> {
    let mut out = Vec::new();
    let mut up = first;
    while let Some(u) = up {
        out.push(u);
        up = ws.resume(env);
    }
    out
}

fn server_frame(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![if fin { 0x80 } else { 0 } | op];
    if payload.len() < 126 {
        f.push(payload.len() as u8);
    } else {
        f.push(126);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    f.extend_from_slice(payload);
    f
}

/// Unmasks a frame the client sent: (first byte, payload).
fn client_frame(f: &[u8]) -> (u8, Vec<u8>) {
    assert!(f[1] & 0x80 != 0, "the client masks every frame");
    let (len, off) = match f[1] & 0x7f {
        126 => (u16::from_be_bytes([f[2], f[3]]) as usize, 4),
        n => (n as usize, 2),
    };
    let mask = &f[off..off + 4];
    let p = f[off + 4..off + 4 + len]
        .iter()
        .enumerate()
        .map(|(i, c)| c ^ mask[i % 4])
        .collect();
    assert_eq!(f.len(), off + 4 + len, "one frame per send");
    (f[0], p)
}

fn response(accept: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes()
}

/// A client through DNS (a literal address) and TCP: its request sent,
/// what it called so far taken.
fn tcp_up(url: &[u8]) -> (WsInfo, Rec) {
    let mut env = Rec {
        dns: Some([127, 0, 0, 1]),
        ..Rec::default()
    };
    let mut ws = WsInfo::new();
    assert_eq!(ws.connect(url, &mut env), None);
    ws.connected(&mut env);
    env.take();
    (ws, env)
}

/// A client through DNS (a literal address), TCP and a good 101.
fn open() -> (WsInfo, Rec) {
    let (mut ws, mut env) = tcp_up(b"ws://127.0.0.1:8080/echo");
    let accept = ws.expected_key().unwrap().to_string();
    let ups = {
        let first = ws.received(&response(&accept), &mut env);
        drain(&mut ws, &mut env, first)
    };
    assert_eq!(ups, vec![Upcall::Connection]);
    env.take();
    (ws, env)
}

#[test]
fn urls_that_do_not_parse_close_at_once_with_1_to_4() {
    for (url, code) in [
        (&b"http://h/"[..], -1),
        (b"ws:/h", -1),
        (b"", -1),
        (&[b"ws://".as_slice(), &[b'a'; 256], b"/x"].concat(), -2),
        (b"ws://h:/", -3),
        (b"ws://h:x/", -3),
        (b"ws://h:0", -3),
        (b"ws://h:65536/", -3),
        (b"ws://h:-1/", -3),
        (b"ws:///x", -4),
        (b"ws://:80", -4),
    ] {
        let mut env = Rec::default();
        let mut ws = WsInfo::new();
        assert_eq!(
            ws.connect(url, &mut env),
            Some(Upcall::Close(code)),
            "{}",
            String::from_utf8_lossy(url)
        );
        assert!(env.calls.is_empty(), "nothing reaches espconn");
        assert_eq!(ws.state, 0, "connect() left state 0");
    }
    // 255 bytes of host fit; without a path the length is not checked.
    let long = [b"ws://".as_slice(), &[b'a'; 255], b"/x"].concat();
    assert!(parse_url(&long).is_ok());
    assert!(parse_url(&[b"ws://".as_slice(), &[b'a'; 300]].concat()).is_ok());
}

#[test]
fn urls_parse_as_ws_connect_reads_them() {
    let u = parse_url(b"WSS://Example.org").unwrap();
    assert_eq!(
        (u.secure, u.host.as_slice(), u.port, u.path.as_slice()),
        (true, &b"Example.org"[..], 443, &b"/"[..])
    );
    let u = parse_url(b"ws://h:8080/a/b?c=d:e").unwrap();
    assert_eq!(
        (u.secure, u.host.as_slice(), u.port, u.path.as_slice()),
        (false, &b"h"[..], 8080, &b"/a/b?c=d:e"[..])
    );
    // atoi: digits up to the first other character.
    assert_eq!(parse_url(b"ws://h:81x/").unwrap().port, 81);
    assert_eq!(parse_url(b"ws://h").unwrap().port, 80);
}

#[test]
fn the_request_has_its_headers_in_order_with_a_fresh_key() {
    let mut env = Rec {
        dns: Some([127, 0, 0, 1]),
        ..Rec::default()
    };
    let mut ws = WsInfo::new();
    ws.connect(b"ws://127.0.0.1/chat?x=1", &mut env);
    assert_eq!(
        env.take(),
        vec![
            Call::Resolve(b"127.0.0.1".to_vec()),
            Call::Arm(10_000, false),
            Call::Connect([127, 0, 0, 1], 80)
        ]
    );
    assert_eq!(ws.state, 2);
    ws.connected(&mut env);
    assert_eq!(ws.state, 3, "state 3 at TCP connect, before any 101");
    let sent = env.sends();
    assert_eq!(sent.len(), 1, "one send");
    // os_random gave 0..15: the key is base64 of those bytes.
    let key = base64::engine::general_purpose::STANDARD.encode((0u8..16).collect::<Vec<_>>());
    assert_eq!(
        String::from_utf8(sent[0].clone()).unwrap(),
        format!(
            "GET /chat?x=1 HTTP/1.1\r\nHost: 127.0.0.1:80\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: ESP8266\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
        )
    );
    assert_eq!(ws.expected_key(), Some(accept_for(&key).as_str()));
    // The next connection draws a new key.
    env.take();
    ws.state = 4;
    ws.connect(b"ws://127.0.0.1/", &mut env);
    ws.connected(&mut env);
    assert!(
        !String::from_utf8(env.sends()[0].clone())
            .unwrap()
            .contains(&key)
    );
}

#[test]
fn extra_headers_replace_defaults_but_never_the_mandatory_ones() {
    let url = parse_url(b"ws://h:1/").unwrap();
    let extra = vec![
        (b"user-agent".to_vec(), b"NodeMCU".to_vec()),
        (b"UPGRADE".to_vec(), b"no".to_vec()),
        (b"Host".to_vec(), b"other".to_vec()),
        (b"X-A".to_vec(), b"1".to_vec()),
        (b"x-a".to_vec(), b"2".to_vec()),
    ];
    let r = String::from_utf8(request(&url, "K", &extra)).unwrap();
    assert_eq!(
        r,
        "GET / HTTP/1.1\r\nHost: h:1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: K\r\nSec-WebSocket-Version: 13\r\nuser-agent: NodeMCU\r\nHost: other\r\nX-A: 1\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
    );
}

#[test]
fn a_response_without_http_1_1_101_in_the_first_segment_is_17() {
    for first in [
        &b"HTTP/1.1 404 Not Found\r\n\r\n"[..],
        b"HTTP/1.0 101 Switching Protocols\r\n\r\n",
        // The status line split across segments.
        b"HTTP/1.1 10",
        // strstr stops at a NUL byte.
        b"\0HTTP/1.1 101 Switching Protocols\r\n\r\n",
    ] {
        let (mut ws, mut env) = tcp_up(b"ws://127.0.0.1:1/");
        assert_eq!(ws.received(first, &mut env), None);
        assert_eq!(env.take(), vec![Call::Disconnect]);
        assert_eq!(
            ws.disconnected(&mut env),
            Some(Upcall::Close(-17)),
            "{first:?}"
        );
        assert_eq!(env.take(), vec![Call::Disarm, Call::Delete]);
        assert_eq!(ws.state, 4);
    }
}

#[test]
fn a_wrong_or_late_accept_is_7_and_the_header_name_is_not_checked() {
    let (mut ws, mut env) = tcp_up(b"ws://127.0.0.1:1/");
    assert_eq!(
        ws.received(&response("dGhlIHNhbXBsZSBub25jZQ=="), &mut env),
        None
    );
    assert_eq!(env.take(), vec![Call::Disconnect]);
    assert_eq!(ws.disconnected(&mut env), Some(Upcall::Close(-7)));

    // The accept value anywhere in the segment will do.
    let mut ws = WsInfo::new();
    ws.connect(b"ws://127.0.0.1:1/", &mut env);
    ws.connected(&mut env);
    let key = ws.expected_key().unwrap().to_string();
    let odd = format!("HTTP/1.1 101 OK\r\nX-Whatever: {key}\r\n\r\n");
    let first = ws.received(odd.as_bytes(), &mut env);
    assert_eq!(drain(&mut ws, &mut env, first), vec![Upcall::Connection]);
}

#[test]
fn frames_in_the_101_segment_come_after_connection() {
    let (mut ws, mut env) = tcp_up(b"ws://127.0.0.1:1/");
    let mut seg = response(ws.expected_key().unwrap());
    seg.extend(server_frame(true, 1, b"hi"));
    seg.extend(server_frame(true, 2, b"\x00\x01"));
    let first = ws.received(&seg, &mut env);
    assert_eq!(
        drain(&mut ws, &mut env, first),
        vec![
            Upcall::Connection,
            Upcall::Receive {
                payload: b"hi".to_vec(),
                opcode: 1
            },
            Upcall::Receive {
                payload: vec![0, 1],
                opcode: 2
            },
        ]
    );
    // Connect timer off, the 30 s health check on (and re-armed by the
    // frames' receive).
    assert_eq!(
        env.take(),
        vec![
            Call::Disarm,
            Call::Arm(30_000, true),
            Call::Disarm,
            Call::Arm(30_000, true)
        ]
    );
}

#[test]
fn sends_are_fin_masked_with_a_fresh_mask_and_cut_to_16_bits() {
    let (mut ws, mut env) = open();
    ws.send(1, b"hello", &mut env);
    ws.send(1, b"hello", &mut env);
    let s = env.sends();
    assert_eq!(client_frame(&s[0]), (0x81, b"hello".to_vec()));
    assert_eq!(client_frame(&s[1]), (0x81, b"hello".to_vec()));
    assert_ne!(s[0][2..6], s[1][2..6], "a fresh mask per frame");
    env.take();
    // 65 536 + 3 bytes: 3 are sent.
    ws.send(2, &vec![7u8; 65_539], &mut env);
    assert_eq!(client_frame(&env.sends()[0]), (0x82, vec![7, 7, 7]));
    env.take();
    ws.send(2, &vec![7u8; 300], &mut env);
    let f = &env.sends()[0];
    assert_eq!((f[1], f[2], f[3]), (0x80 | 126, 1, 44));
    env.take();
    // An opcode above 15 spills into the FIN/RSV bits (0x80 + 0x11).
    ws.send(0x11, b"", &mut env);
    assert_eq!(env.sends()[0][0], 0x91);
}

#[test]
fn the_first_fragment_is_lost() {
    let (mut ws, mut env) = open();
    let mut seg = server_frame(false, 1, b"one ");
    seg.extend(server_frame(false, 0, b"two "));
    seg.extend(server_frame(true, 0, b"three"));
    let first = ws.received(&seg, &mut env);
    assert_eq!(
        drain(&mut ws, &mut env, first),
        vec![Upcall::Receive {
            payload: b"two three".to_vec(),
            opcode: 1
        }]
    );
    // Two fragments: only the second's bytes, with the first's opcode.
    let mut seg = server_frame(false, 2, b"AB");
    seg.extend(server_frame(true, 0, b"CD"));
    let first = ws.received(&seg, &mut env);
    assert_eq!(
        drain(&mut ws, &mut env, first),
        vec![Upcall::Receive {
            payload: b"CD".to_vec(),
            opcode: 2
        }]
    );
}

#[test]
fn a_final_continuation_without_a_fragment_is_15() {
    let (mut ws, mut env) = open();
    let mut seg = server_frame(true, 0, b"x");
    seg.extend(server_frame(true, 1, b"never"));
    let first = ws.received(&seg, &mut env);
    assert_eq!(drain(&mut ws, &mut env, first), vec![]);
    assert_eq!(env.take().last(), Some(&Call::Disconnect));
    assert_eq!(ws.disconnected(&mut env), Some(Upcall::Close(-15)));
}

#[test]
fn a_64_bit_length_reads_as_its_high_half() {
    let (mut ws, mut env) = open();
    // FIN text, len7 127, 8 bytes of length (5), "hello": C reads a
    // length of 0 from b[2..6], and then "\0\0\0\x05hello" as frames.
    let mut seg = vec![0x81, 127, 0, 0, 0, 0, 0, 0, 0, 5];
    seg.extend_from_slice(b"hello");
    let first = ws.received(&seg, &mut env);
    let ups = drain(&mut ws, &mut env, first);
    assert_eq!(
        ups[0],
        Upcall::Receive {
            payload: vec![],
            opcode: 1
        }
    );
    // b[6..]: 0x00 0x00 (a non-FIN continuation of length 0: the fragment
    // buffer starts), then 0x00 0x05 "hello" (a non-FIN continuation of
    // 5 bytes), nothing more delivered.
    assert_eq!(ups.len(), 1, "{ups:?}");
    // A top bit in b[2]: a negative int, a huge length: incomplete.
    let (mut ws, mut env) = open();
    let seg = vec![0x81, 127, 0x80, 0, 0, 1, 0, 0, 0, 0];
    assert_eq!(ws.received(&seg, &mut env), None);
    assert!(ws.frame_buffer.is_some());
}

#[test]
fn a_masked_frame_across_segments_is_unmasked_twice() {
    let (mut ws, mut env) = open();
    let mask = [1u8, 2, 3, 4];
    let payload = b"abcdefgh";
    let mut f = vec![0x81, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, c)| c ^ mask[i % 4]));
    assert_eq!(ws.received(&f[..10], &mut env), None, "incomplete");
    let first = ws.received(&f[10..], &mut env);
    let ups = drain(&mut ws, &mut env, first);
    // The 4 bytes that came first were unmasked, buffered, and unmasked
    // again: masked once more; the rest is right.
    let mut want: Vec<u8> = payload[..4]
        .iter()
        .enumerate()
        .map(|(i, c)| c ^ mask[i % 4])
        .collect();
    want.extend_from_slice(&payload[4..]);
    assert_eq!(
        ups,
        vec![Upcall::Receive {
            payload: want,
            opcode: 1
        }]
    );
    // A masked frame in one segment is read right.
    let first = ws.received(&f, &mut env);
    assert_eq!(
        drain(&mut ws, &mut env, first),
        vec![Upcall::Receive {
            payload: payload.to_vec(),
            opcode: 1
        }]
    );
}

#[test]
fn a_segment_that_completes_a_buffered_frame_and_carries_more_reparses() {
    let (mut ws, mut env) = open();
    let a = server_frame(true, 1, b"AAAA");
    let b = server_frame(true, 1, b"B");
    assert_eq!(ws.received(&a[..3], &mut env), None);
    let mut seg = a[3..].to_vec();
    seg.extend_from_slice(&b);
    let first = ws.received(&seg, &mut env);
    let ups = drain(&mut ws, &mut env, first);
    // "AAAA" once; then the buffer is A's frame + B's, parsing starts at
    // its start with len = B's 3 bytes: A's header says 4 bytes of
    // payload, more than 1 left: incomplete. B is not delivered (yet).
    assert_eq!(
        ups,
        vec![Upcall::Receive {
            payload: b"AAAA".to_vec(),
            opcode: 1
        }]
    );
    // The next segment is appended after A's frame (frameBufferLen is
    // the old 6 + 3) and everything is parsed again from the start: A is
    // delivered a second time.
    let c = server_frame(true, 1, b"C");
    let first = ws.received(&c, &mut env);
    let again = drain(&mut ws, &mut env, first);
    assert_eq!(
        again.first(),
        Some(&Upcall::Receive {
            payload: b"AAAA".to_vec(),
            opcode: 1
        }),
        "{again:?}"
    );
}

#[test]
fn frames_in_one_segment_are_delivered_in_order_and_pings_answered() {
    let (mut ws, mut env) = open();
    let mut seg = server_frame(true, 1, b"a");
    seg.extend(server_frame(true, 9, b"p!"));
    seg.extend(server_frame(true, 10, b""));
    seg.extend(server_frame(true, 3, b"r"));
    let first = ws.received(&seg, &mut env);
    assert_eq!(
        drain(&mut ws, &mut env, first),
        vec![
            Upcall::Receive {
                payload: b"a".to_vec(),
                opcode: 1
            },
            Upcall::Receive {
                payload: b"r".to_vec(),
                opcode: 3
            }
        ]
    );
    let s = env.sends();
    assert_eq!(s.len(), 1);
    assert_eq!(
        client_frame(&s[0]),
        (0x8A, b"p!".to_vec()),
        "PONG, same payload"
    );
}

#[test]
fn a_server_close_is_echoed_and_closes_with_6_once_sent() {
    let (mut ws, mut env) = open();
    let mut seg = server_frame(true, 8, b"\x03\xe8bye");
    seg.extend(server_frame(true, 1, b"after"));
    let first = ws.received(&seg, &mut env);
    // Data after a CLOSE in the same segment is still delivered.
    assert_eq!(
        drain(&mut ws, &mut env, first),
        vec![Upcall::Receive {
            payload: b"after".to_vec(),
            opcode: 1
        }]
    );
    assert_eq!(
        client_frame(&env.sends()[0]),
        (0x88, b"\x03\xe8bye".to_vec())
    );
    assert_eq!(ws.state, 4);
    env.take();
    ws.sent(&mut env);
    assert_eq!(env.take(), vec![Call::Disconnect]);
    assert_eq!(ws.disconnected(&mut env), Some(Upcall::Close(-6)));
    // One close only.
    assert_eq!(ws.disconnected(&mut env), None);
    assert_eq!(ws.timer_fired(&mut env), None);
}

#[test]
fn a_tcp_close_without_a_reason_is_99_and_status_0_never_comes() {
    let (mut ws, mut env) = open();
    assert_eq!(ws.disconnected(&mut env), Some(Upcall::Close(-99)));
    // ws:close() then the server closes TCP: -99, not 0.
    let (mut ws, mut env) = open();
    assert_eq!(ws.close(&mut env), None);
    let calls = env.take();
    assert_eq!(
        &calls[1..],
        &[Call::Disarm, Call::Arm(5_000, false)],
        "an empty CLOSE, then the 5 s force close"
    );
    let Call::Send(f) = &calls[0] else {
        panic!("{calls:?}")
    };
    assert_eq!(client_frame(f), (0x88, vec![]), "no status code");
    assert_eq!(ws.disconnected(&mut env), Some(Upcall::Close(-99)));
    // ws:close() and silence: the timer disconnects after 5 s: -99.
    let (mut ws, mut env) = open();
    ws.close(&mut env);
    env.take();
    assert_eq!(ws.timer_fired(&mut env), None);
    assert_eq!(env.take(), vec![Call::Disconnect]);
    assert_eq!(ws.disconnected(&mut env), Some(Upcall::Close(-99)));
    // ws:close() answered by a CLOSE: a second CLOSE, then -6.
    let (mut ws, mut env) = open();
    ws.close(&mut env);
    env.take();
    let first = ws.received(&server_frame(true, 8, b"\x03\xe8"), &mut env);
    assert_eq!(drain(&mut ws, &mut env, first), vec![]);
    // Data re-armed the force-close timer as the 30 s periodic one.
    let calls = env.take();
    assert_eq!(&calls[..2], &[Call::Disarm, Call::Arm(30_000, true)]);
    ws.sent(&mut env);
    assert_eq!(ws.disconnected(&mut env), Some(Upcall::Close(-6)));
}

#[test]
fn close_does_nothing_when_idle_or_closed_and_99_during_dns() {
    let mut env = Rec::default();
    let mut ws = WsInfo::new();
    assert_eq!(ws.close(&mut env), None);
    assert!(env.calls.is_empty());
    // A name: DNS pending (state 1); close() reports -99 at once.
    assert_eq!(ws.connect(b"ws://example.org/", &mut env), None);
    assert_eq!(ws.state, 1);
    assert_eq!(ws.close(&mut env), Some(Upcall::Close(-99)));
    assert_eq!(ws.close(&mut env), None, "state 4");
    // A DNS answer for a closed client is ignored.
    assert_eq!(ws.dns_found(Some([1, 2, 3, 4]), &mut env), None);
}

#[test]
fn dns_failure_is_5_and_tcp_errors_are_minus_100() {
    let mut env = Rec::default();
    let mut ws = WsInfo::new();
    ws.connect(b"ws://nowhere.invalid/", &mut env);
    assert_eq!(ws.dns_found(None, &mut env), Some(Upcall::Close(-5)));
    let mut ws = WsInfo::new();
    env.dns = Some([127, 0, 0, 1]);
    ws.connect(b"ws://127.0.0.1:9/", &mut env);
    assert_eq!(ws.error(-9, &mut env), Some(Upcall::Close(-109)));
}

#[test]
fn the_connect_timeout_is_18_without_a_disconnect() {
    let (mut ws, mut env) = tcp_up(b"ws://127.0.0.1:9/");
    assert_eq!(ws.timer_fired(&mut env), Some(Upcall::Close(-18)));
    assert_eq!(env.take(), vec![Call::Disarm, Call::Delete]);
}

#[test]
fn silence_brings_pings_at_30_and_60_s_and_19_at_90() {
    let (mut ws, mut env) = open();
    assert_eq!(ws.timer_fired(&mut env), None);
    assert_eq!(ws.timer_fired(&mut env), None);
    let s = env.sends();
    assert_eq!(s.len(), 2);
    for f in &s {
        assert_eq!(client_frame(f), (0x89, vec![]));
        assert_eq!(f.len(), 6, "0x89 0x80 and a mask");
    }
    env.take();
    assert_eq!(ws.timer_fired(&mut env), None);
    assert_eq!(env.take(), vec![Call::Disconnect]);
    assert_eq!(ws.disconnected(&mut env), Some(Upcall::Close(-19)));
}

#[test]
fn any_received_data_resets_the_health_count_but_own_sends_do_not() {
    let (mut ws, mut env) = open();
    ws.timer_fired(&mut env);
    ws.timer_fired(&mut env);
    ws.send(1, b"still here", &mut env);
    let first = ws.received(&server_frame(true, 10, b""), &mut env);
    assert_eq!(drain(&mut ws, &mut env, first), vec![]);
    env.take();
    // Count back at 0: two more pings before -19.
    ws.timer_fired(&mut env);
    ws.timer_fired(&mut env);
    assert_eq!(env.sends().len(), 2);
    env.take();
    ws.timer_fired(&mut env);
    assert_eq!(env.take(), vec![Call::Disconnect]);
}

#[test]
fn a_callback_may_send_and_parsing_goes_on_after_it() {
    let (mut ws, mut env) = open();
    let mut seg = server_frame(true, 1, b"one");
    seg.extend(server_frame(true, 1, b"two"));
    let mut up = ws.received(&seg, &mut env);
    let mut got = Vec::new();
    while let Some(u) = up {
        // The receive callback echoes, as a script would.
        if let Upcall::Receive { payload, .. } = &u {
            ws.send(1, payload, &mut env);
        }
        got.push(u);
        up = ws.resume(&mut env);
    }
    assert_eq!(got.len(), 2);
    let echoed: Vec<Vec<u8>> = env.sends().iter().map(|f| client_frame(f).1).collect();
    assert_eq!(echoed, vec![b"one".to_vec(), b"two".to_vec()]);
}

#[test]
fn a_header_cut_by_the_segment_waits_for_the_rest() {
    let (mut ws, mut env) = open();
    let f = server_frame(true, 1, &[b'x'; 200]);
    assert_eq!(ws.received(&f[..1], &mut env), None);
    let first = ws.received(&f[1..], &mut env);
    assert_eq!(
        drain(&mut ws, &mut env, first),
        vec![Upcall::Receive {
            payload: vec![b'x'; 200],
            opcode: 1
        }]
    );
}
