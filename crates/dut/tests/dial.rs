//! The seam works the other way round too: a firmware that dials out is
//! told where esp-ws listens, serves nothing, and is stopped like any other.

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use esp_ws_dut::{Dial, ExecConfig, ExecTarget, SimOptions, SimTarget, StartContext, Target};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A stand-in for a client firmware: it logs the URI it was given and
/// writes an opening handshake to it.
const CLIENT: &str = r#"
import socket, sys, time, urllib.parse
uri = urllib.parse.urlparse(sys.argv[1])
print("I (10) websocket_client: connecting to " + sys.argv[1], flush=True)
s = socket.create_connection((uri.hostname, uri.port))
s.sendall(("GET " + uri.path + " HTTP/1.1\r\n\r\n").encode())
time.sleep(30)
"#;

#[test]
fn a_program_that_dials_out_gets_the_uri_and_serves_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let uri = format!("ws://{addr}/from-esp-ws");
    let dir = tempfile::tempdir().unwrap();
    let target = ExecTarget {
        cfg: ExecConfig {
            program: "python3".into(),
            args: vec!["-c".into(), CLIENT.into(), "{uri}".into()],
            port: None,
        },
    };
    rt().block_on(async {
        let dut = target
            .start(StartContext {
                label: "exec#1".into(),
                dir: Some(dir.path().join("exec-1")),
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
        let pid = dut.pid().unwrap();
        // The firmware's connection arrives with its request.
        let got = tokio::task::spawn_blocking(move || {
            listener.set_nonblocking(false).unwrap();
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        })
        .await
        .unwrap();
        assert!(got.starts_with("GET /from-esp-ws HTTP/1.1"), "{got}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let line = dut
            .serial()
            .wait_for(0, deadline, |l| l.text().contains("connecting to"))
            .await
            .expect("the program logged the URI");
        assert!(line.text().ends_with(&uri), "{}", line.text());
        let start = Instant::now();
        let stopped = dut.stop().await;
        assert!(stopped.is_some(), "a process is stopped");
        assert!(start.elapsed() < Duration::from_secs(10));
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z")),
            "the program outlived its stop"
        );
    });
}

#[test]
fn the_simulator_says_its_firmware_does_not_dial_out() {
    let target = SimTarget {
        opts: SimOptions::new(esp_ws_sim::profile::find("v5.5.5").unwrap()),
    };
    let err = rt()
        .block_on(target.start(StartContext {
            label: "sim#1".into(),
            dir: None,
            dial: Some(Dial {
                addr: "127.0.0.1:9".parse().unwrap(),
                uri: "ws://127.0.0.1:9/".into(),
            }),
        }))
        .err()
        .expect("refused");
    assert_eq!(
        err.to_string(),
        "sim#1: the simulated firmware v5.5.5 serves WebSocket; it does not dial out"
    );
}
