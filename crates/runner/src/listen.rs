//! esp-ws as the server a firmware dials: a TCP listener whose accept loop
//! runs apart from the steps, so that every connection is stamped with
//! the instant it arrived (an `expect_connect` window is judged on that
//! instant, whatever step ran meanwhile) and queued until a step claims it.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Most connections one listener accepts: far beyond any scenario (a
/// client that reconnects every 10 s makes 360 an hour), a bound on a
/// client that reconnects in a tight loop.
pub const MAX_CONNECTIONS: usize = 10_000;

/// One connection the firmware opened.
#[derive(Debug)]
pub struct Incoming {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// When it was accepted.
    pub at: Instant,
}

/// A bound listener and its accept loop (stopped when dropped).
#[derive(Debug)]
pub struct Listener {
    addr: SocketAddr,
    rx: mpsc::UnboundedReceiver<Incoming>,
    task: tokio::task::JoinHandle<()>,
    /// When each connection claimed so far arrived, in order.
    claimed: Vec<Instant>,
}

impl Listener {
    /// Binds `addr` (port 0: a free port) and starts accepting.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Listener> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut backoff = std::time::Duration::from_millis(5);
            let mut accepted = 0;
            while accepted < MAX_CONNECTIONS {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        accepted += 1;
                        backoff = std::time::Duration::from_millis(5);
                        let incoming = Incoming {
                            stream,
                            peer,
                            at: Instant::now(),
                        };
                        if tx.send(incoming).is_err() {
                            break;
                        }
                    }
                    // Out of descriptors or memory: wait, never spin.
                    Err(e) => {
                        tracing::debug!("accept on {addr}: {e}");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(std::time::Duration::from_secs(1));
                    }
                }
            }
        });
        Ok(Listener {
            addr,
            rx,
            task,
            claimed: Vec::new(),
        })
    }

    /// Stops accepting (what arrived before stays queued).
    pub async fn stop(&mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }

    /// The accept loop has ended (stopped, or its most connections).
    pub fn finished(&self) -> bool {
        self.task.is_finished() && self.rx.is_empty()
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next connection not yet claimed, waiting until `deadline`.
    pub async fn next(&mut self, deadline: Instant) -> Option<Incoming> {
        let got = tokio::time::timeout_at(deadline, self.rx.recv())
            .await
            .ok()
            .flatten();
        if let Some(i) = &got {
            self.claimed.push(i.at);
        }
        got
    }

    /// Connections that arrived and no step claimed, at once.
    pub fn unclaimed(&mut self) -> Vec<Incoming> {
        let mut v = Vec::new();
        while let Ok(i) = self.rx.try_recv() {
            v.push(i);
        }
        v
    }

    /// When the latest claimed connection arrived.
    pub fn last_claimed(&self) -> Option<Instant> {
        self.claimed.last().copied()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}
