//! The proxy between a client and a small loopback server that records what
//! it reads and how its peer closed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use esp_ws_impair::{Impairment, Proxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What the upstream server saw on one connection.
#[derive(Debug)]
enum Seen {
    Read(Vec<u8>, Instant),
    Eof,
    Error(std::io::ErrorKind),
}

/// A server that echoes everything back and reports each read.
async fn echo_server() -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut b = [0u8; 4096];
                loop {
                    match s.read(&mut b).await {
                        Ok(0) => {
                            let _ = tx.send(Seen::Eof);
                            let _ = s.shutdown().await;
                            break;
                        }
                        Ok(n) => {
                            let _ = tx.send(Seen::Read(b[..n].to_vec(), Instant::now()));
                            if s.write_all(&b[..n]).await.is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Seen::Error(e.kind()));
                            break;
                        }
                    }
                }
            });
        }
    });
    (addr, rx)
}

async fn proxy(upstream: SocketAddr, spec: &str) -> Proxy {
    Proxy::start(upstream, Impairment::parse(spec).unwrap())
        .await
        .unwrap()
}

async fn read_exactly(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut v))
        .await
        .expect("bounded")
        .unwrap();
    v
}

#[tokio::test]
async fn small_pieces_arrive_whole_and_in_order_over_many_reads() {
    let (up, mut seen) = echo_server().await;
    let p = proxy(up, "chunk=1..3,delay=1ms,jitter=2ms,dir=up").await;
    let mut c = TcpStream::connect(p.local_addr()).await.unwrap();
    let data: Vec<u8> = (0..200u8).collect();
    c.write_all(&data).await.unwrap();
    assert_eq!(read_exactly(&mut c, 200).await, data);
    let mut got = Vec::new();
    let mut reads = 0;
    while got.len() < 200 {
        match seen.recv().await.unwrap() {
            Seen::Read(d, _) => {
                reads += 1;
                got.extend(d);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, data);
    // 200 bytes in pieces of 1 to 3, each its own write a little after the
    // one before: the server reads them apart.
    assert!(reads > 40, "{reads} reads");
    assert!(
        p.stats()
            .bytes_up
            .load(std::sync::atomic::Ordering::Relaxed)
            == 200
    );
}

#[tokio::test]
async fn delay_applies_each_way() {
    let (up, _seen) = echo_server().await;
    let p = proxy(up, "delay=30ms").await;
    let mut c = TcpStream::connect(p.local_addr()).await.unwrap();
    let t = Instant::now();
    c.write_all(b"ping").await.unwrap();
    assert_eq!(read_exactly(&mut c, 4).await, b"ping");
    assert!(
        t.elapsed() >= Duration::from_millis(60),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn bandwidth_paces_the_bytes() {
    let (up, _seen) = echo_server().await;
    // 2000 bytes at 10 kB/s: at least 0.2 s up (and again down).
    let p = proxy(up, "bandwidth=10k,chunk=100,dir=up").await;
    let mut c = TcpStream::connect(p.local_addr()).await.unwrap();
    let t = Instant::now();
    c.write_all(&[7u8; 2000]).await.unwrap();
    read_exactly(&mut c, 2000).await;
    assert!(
        t.elapsed() >= Duration::from_millis(190),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn a_stall_holds_the_bytes_after_the_mark() {
    let (up, mut seen) = echo_server().await;
    let p = proxy(up, "stall=200ms@5").await;
    let mut c = TcpStream::connect(p.local_addr()).await.unwrap();
    c.write_all(b"0123456789").await.unwrap();
    let mut times = Vec::new();
    let mut got = Vec::new();
    while got.len() < 10 {
        if let Seen::Read(d, at) = seen.recv().await.unwrap() {
            times.push(at);
            got.extend(d);
        }
    }
    assert_eq!(got, b"0123456789");
    assert_eq!(times.len(), 2, "before and after the stall");
    assert!(times[1] - times[0] >= Duration::from_millis(190));
}

#[tokio::test]
async fn reset_cuts_the_connection_at_the_byte_count() {
    let (up, mut seen) = echo_server().await;
    let p = proxy(up, "reset=@10").await;
    let mut c = TcpStream::connect(p.local_addr()).await.unwrap();
    c.write_all(&[1u8; 20]).await.unwrap();
    let mut upstream = Vec::new();
    let end = loop {
        match seen.recv().await.unwrap() {
            Seen::Read(d, _) => upstream.extend(d),
            other => break other,
        }
    };
    assert_eq!(upstream.len(), 10, "exactly the bytes before the reset");
    assert!(
        matches!(end, Seen::Error(std::io::ErrorKind::ConnectionReset)),
        "{end:?}"
    );
    // The client sees a reset too (possibly after the echo of those bytes).
    let mut b = [0u8; 64];
    let r = loop {
        match tokio::time::timeout(Duration::from_secs(5), c.read(&mut b))
            .await
            .unwrap()
        {
            Ok(n) if n > 0 => continue,
            other => break other,
        }
    };
    assert!(
        matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "{r:?}"
    );
    assert_eq!(
        p.stats().resets.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn fin_crosses_both_ways() {
    let (up, mut seen) = echo_server().await;
    let p = proxy(up, "delay=5ms").await;
    let mut c = TcpStream::connect(p.local_addr()).await.unwrap();
    c.write_all(b"bye").await.unwrap();
    c.shutdown().await.unwrap();
    assert!(matches!(seen.recv().await.unwrap(), Seen::Read(..)));
    assert!(matches!(seen.recv().await.unwrap(), Seen::Eof));
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest, b"bye", "the echo, then the server's FIN");
}

#[tokio::test]
async fn a_reset_from_the_target_reaches_the_client_as_a_reset() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = l.local_addr().unwrap();
    tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s);
    });
    let p = proxy(up, "").await;
    let mut c = TcpStream::connect(p.local_addr()).await.unwrap();
    let mut b = [0u8; 8];
    let r = tokio::time::timeout(Duration::from_secs(5), c.read(&mut b))
        .await
        .unwrap();
    assert!(
        matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "{r:?}"
    );
}

#[tokio::test]
async fn an_unreachable_target_resets_the_client() {
    // A port nobody listens on.
    let up = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let p = proxy(up, "").await;
    let mut c = TcpStream::connect(p.local_addr()).await.unwrap();
    let mut b = [0u8; 8];
    let r = tokio::time::timeout(Duration::from_secs(10), c.read(&mut b))
        .await
        .unwrap();
    assert!(
        matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "{r:?}"
    );
}
