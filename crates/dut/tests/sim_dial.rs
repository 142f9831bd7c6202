//! The simulator's outbound connections end to end: a firmware calls
//! lwIP's `connect()`, the host opens a real TCP connection to a real
//! listener, and bytes, FIN and RST flow both ways as on accepted
//! connections.
//!
//! The firmware here is the test's own (a profile can carry any
//! firmware): one task that dials the URI it was given five times and
//! logs what each socket call returned.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use esp_ws_dut::{Dial, SimOptions, SimTarget, StartContext, Target};
use esp_ws_sim::firmware::{Context, Firmware, Spec};
use esp_ws_sim::idf::lwip::{Errno, Lwip};
use esp_ws_sim::{Profile, log};

const TAG: &str = "dialer";

struct Dialer {
    uri: String,
}

impl Firmware for Dialer {
    fn app_main(&self, ctx: &Context<'_>) {
        let lwip = ctx.lwip.clone();
        let chip = ctx.chip.clone();
        let uri = self.uri.clone();
        ctx.chip.create_task("dialer", move || {
            let con = chip.console();
            let rest = uri.strip_prefix("ws://").unwrap();
            let hostport = rest.split('/').next().unwrap();
            let (host, port) = hostport.rsplit_once(':').unwrap();
            let port: u16 = port.parse().unwrap();
            for round in 1..=4 {
                let fd = lwip.tcp_socket().unwrap();
                match lwip.connect(fd, host, port, Some(Duration::from_secs(10))) {
                    Ok(()) => log!(con, Info, TAG, "round {round}: connected"),
                    Err(e) => {
                        log!(con, Info, TAG, "round {round}: connect failed: {}", e.0);
                        return;
                    }
                }
                lwip.send(fd, format!("hello {round}").as_bytes()).unwrap();
                match round {
                    // Echo one message, then close with nothing unread: FIN.
                    1 => {
                        let got = read_some(&lwip, fd);
                        lwip.send(fd, &[b"echo:".as_slice(), &got].concat())
                            .unwrap();
                        log!(con, Info, TAG, "round 1: closing");
                        lwip.close(fd).unwrap();
                    }
                    // Read four bytes of more: closing with unread data is an RST.
                    2 => {
                        let got = lwip.recv(fd, 4).unwrap();
                        assert_eq!(got, b"rst!");
                        // Wait until the rest has arrived too.
                        while lwip.poll_read(fd, Duration::from_secs(5)) != Ok(true) {}
                        log!(con, Info, TAG, "round 2: closing with unread data");
                        lwip.close(fd).unwrap();
                    }
                    // The peer closes: FIN, then RST.
                    3 | 4 => {
                        match lwip.recv(fd, 100) {
                            Ok(d) if d.is_empty() => log!(con, Info, TAG, "round {round}: FIN"),
                            Ok(d) => log!(con, Info, TAG, "round {round}: {} bytes", d.len()),
                            Err(Errno::ECONNRESET) => log!(con, Info, TAG, "round {round}: RST"),
                            Err(e) => log!(con, Info, TAG, "round {round}: errno {}", e.0),
                        }
                        lwip.close(fd).unwrap();
                    }
                    _ => unreachable!(),
                }
            }
            // Nothing listens there any more.
            let fd = lwip.tcp_socket().unwrap();
            match lwip.connect(fd, host, port, Some(Duration::from_secs(10))) {
                Ok(()) => log!(con, Info, TAG, "round 5: connected"),
                Err(e) => log!(con, Info, TAG, "round 5: connect failed: {}", e.0),
            }
            lwip.close(fd).unwrap();
        });
    }
}

fn read_some(lwip: &Lwip, fd: i32) -> Vec<u8> {
    lwip.recv(fd, 100).unwrap()
}

fn profile() -> Arc<Profile> {
    let base = esp_ws_sim::profile::find("v5.5.5").unwrap();
    Arc::new(Profile {
        name: "test-dialer",
        idf: base.idf.clone(),
        firmware: Spec::new("test_dialer", |o| {
            Arc::new(Dialer {
                uri: o.uri.clone().expect("the host gives the URI"),
            })
        })
        .dialing_out(),
    })
}

fn read_exact_timeout(s: &mut std::net::TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).unwrap();
    buf
}

#[test]
fn a_simulated_firmware_dials_out_and_data_fin_and_rst_flow_both_ways() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let uri = format!("ws://{addr}/");
    let server = std::thread::spawn(move || {
        let accept = || {
            let (s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s
        };
        // 1: bytes both ways, the firmware's FIN.
        let mut s = accept();
        assert_eq!(read_exact_timeout(&mut s, 7), b"hello 1");
        s.write_all(b"ping").unwrap();
        assert_eq!(read_exact_timeout(&mut s, 9), b"echo:ping");
        let mut rest = Vec::new();
        assert_eq!(s.read_to_end(&mut rest).unwrap(), 0, "FIN, nothing more");
        // 2: the firmware closes with unread data: RST.
        let mut s = accept();
        assert_eq!(read_exact_timeout(&mut s, 7), b"hello 2");
        s.write_all(b"rst!unread").unwrap();
        let mut buf = [0u8; 16];
        let e = s.read(&mut buf).expect_err("an RST");
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        // 3: the server's FIN.
        let mut s = accept();
        assert_eq!(read_exact_timeout(&mut s, 7), b"hello 3");
        s.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(s.read(&mut buf).unwrap(), 0, "the firmware closes too");
        // 4: the server's RST.
        let mut s = accept();
        assert_eq!(read_exact_timeout(&mut s, 7), b"hello 4");
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s);
        // 5: refused.
        drop(listener);
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let target = SimTarget {
            opts: SimOptions::new(profile()),
        };
        let dut = target
            .start(StartContext {
                label: "sim#1".into(),
                dir: None,
                dial: Some(Dial {
                    addr,
                    uri: uri.clone(),
                }),
            })
            .await
            .unwrap();
        assert_eq!(
            dut.endpoint(),
            None,
            "a firmware that dials out serves nothing"
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let line = dut
            .serial()
            .wait_for(0, deadline, |l| l.text().contains("round 5"))
            .await
            .expect("the firmware got to round 5");
        assert!(
            line.text().ends_with("round 5: connect failed: 111"),
            "ECONNREFUSED: {}",
            line.text()
        );
        let text: Vec<String> = dut
            .serial()
            .lines(0, dut.serial().len())
            .iter()
            .map(|l| l.text())
            .filter(|t| t.contains("dialer:"))
            .map(|t| t.split_once(") ").unwrap().1.to_string())
            .collect();
        assert_eq!(
            text,
            [
                "dialer: round 1: connected",
                "dialer: round 1: closing",
                "dialer: round 2: connected",
                "dialer: round 2: closing with unread data",
                "dialer: round 3: connected",
                "dialer: round 3: FIN",
                "dialer: round 4: connected",
                "dialer: round 4: RST",
                "dialer: round 5: connect failed: 111",
            ]
        );
        dut.stop().await;
    });
    server.join().unwrap();
}

#[test]
fn a_client_firmware_without_a_uri_is_refused_with_a_clear_error() {
    let target = SimTarget {
        opts: SimOptions::new(profile()),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(target.start(StartContext {
            label: "sim#1".into(),
            dir: None,
            dial: None,
        }))
        .err()
        .expect("refused");
    assert_eq!(
        err.to_string(),
        "sim#1: the simulated firmware test-dialer dials out to a WebSocket server; it needs the server's URI"
    );
}
