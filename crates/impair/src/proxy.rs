//! The proxy: one task per connection relays both directions, scheduling
//! each piece of data at the time the impairment gives it, and carries the
//! way each side closes across: a FIN becomes a FIN, an error or a reset
//! becomes an RST on the other side.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::spec::Impairment;

/// How long the proxy tries to reach the target for a new connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The least time between two pieces of a cut write: less, and the
/// receiving end's next read would take several at once.
const CHUNK_GAP: Duration = Duration::from_millis(1);
/// Queued pieces per direction before the proxy stops reading (TCP's flow
/// control then holds the sender back).
const QUEUE_LIMIT: usize = 256;

/// What the proxy has done so far.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections: AtomicU64,
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
    /// Connections the proxy reset (impairment, or an error on one side).
    pub resets: AtomicU64,
}

/// A running proxy. Dropping it stops it and drops every connection.
pub struct Proxy {
    addr: SocketAddr,
    accept: JoinHandle<()>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    stats: Arc<Stats>,
}

impl Proxy {
    /// Listens on loopback (a free port) and relays every connection to
    /// `upstream` through `imp`.
    pub async fn start(upstream: SocketAddr, imp: Impairment) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let stats: Arc<Stats> = Arc::default();
        let accept = {
            let conns = conns.clone();
            let stats = stats.clone();
            tokio::spawn(async move {
                let mut index = 0u64;
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    index += 1;
                    stats.connections.fetch_add(1, Ordering::Relaxed);
                    let task =
                        tokio::spawn(relay(client, upstream, imp.clone(), index, stats.clone()));
                    let mut c = conns.lock().unwrap();
                    c.retain(|t| !t.is_finished());
                    c.push(task);
                }
            })
        };
        tracing::debug!("impairment proxy {addr} -> {upstream}");
        Ok(Proxy {
            addr,
            accept,
            conns,
            stats,
        })
    }

    /// Where clients connect instead of the target.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for t in self.conns.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

enum Item {
    Data(Instant, Vec<u8>),
    Stall(Duration),
    Fin,
    Reset,
}

/// One direction: its queue and the impairment's state for it.
struct Lane {
    up: bool,
    queue: VecDeque<Item>,
    /// The release time of the last piece queued (order is kept).
    last: Instant,
    /// When the link is free again under the bandwidth limit.
    free_at: Instant,
    /// Bytes read from the source so far.
    bytes: u64,
    stalled: bool,
    reading: bool,
    done: bool,
}

impl Lane {
    fn new(up: bool) -> Lane {
        let now = Instant::now();
        Lane {
            up,
            queue: VecDeque::new(),
            last: now,
            free_at: now,
            bytes: 0,
            stalled: false,
            reading: true,
            done: false,
        }
    }

    /// Queues what was read, as the impairment cuts and times it.
    fn push(&mut self, imp: &Impairment, rng: &mut StdRng, mut data: &[u8]) {
        let applies = imp.direction.includes(self.up);
        if self.up {
            if let Some(limit) = imp.reset_after {
                // Forward up to the limit, then reset: mid-frame if that is
                // where it falls.
                let room = limit.saturating_sub(self.bytes) as usize;
                if data.len() >= room {
                    let (head, _) = data.split_at(room);
                    self.bytes += head.len() as u64;
                    self.queue_data(imp, rng, head, applies);
                    self.queue.push_back(Item::Reset);
                    self.reading = false;
                    return;
                }
            }
            if let Some((d, at)) = imp.stall
                && !self.stalled
                && self.bytes + data.len() as u64 >= at
            {
                let split = (at.saturating_sub(self.bytes) as usize).min(data.len());
                let (head, tail) = data.split_at(split);
                self.bytes += head.len() as u64;
                self.queue_data(imp, rng, head, applies);
                self.queue.push_back(Item::Stall(d));
                self.stalled = true;
                data = tail;
            }
        }
        self.bytes += data.len() as u64;
        self.queue_data(imp, rng, data, applies);
    }

    fn queue_data(&mut self, imp: &Impairment, rng: &mut StdRng, data: &[u8], applies: bool) {
        let mut rest = data;
        while !rest.is_empty() {
            let n = match imp.chunk {
                Some((lo, hi)) if applies => rng.random_range(lo..=hi).min(rest.len()),
                _ => rest.len(),
            };
            let (piece, tail) = rest.split_at(n);
            rest = tail;
            let mut at = Instant::now();
            if applies {
                at += imp.delay;
                if !imp.jitter.is_zero() {
                    at += imp.jitter.mul_f64(rng.random::<f64>());
                }
                if let Some(rate) = imp.bandwidth {
                    at = at.max(self.free_at);
                    self.free_at = at + Duration::from_secs_f64(piece.len() as f64 / rate as f64);
                }
            }
            // Never before the piece ahead of it: TCP keeps order. Cut
            // pieces keep a gap, or the receiver would read them together.
            let gap = if applies && imp.chunk.is_some() {
                CHUNK_GAP
            } else {
                Duration::ZERO
            };
            at = at.max(self.last + gap);
            self.last = at;
            self.queue.push_back(Item::Data(at, piece.to_vec()));
        }
    }

    /// When the front of the queue is due (None: nothing to send).
    fn due(&self) -> Option<Instant> {
        match self.queue.front()? {
            Item::Data(at, _) => Some(*at),
            _ => Some(Instant::now()),
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Makes the socket's close an RST.
fn abort_on_close(s: &TcpStream) {
    let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
}

/// Sends the front of a lane's queue; true when the connection is to be
/// reset (the write failed, or the impairment says so).
async fn deliver<W: AsyncWrite + Unpin>(lane: &mut Lane, w: &mut W) -> bool {
    match lane.queue.pop_front() {
        Some(Item::Data(_, d)) => w.write_all(&d).await.is_err(),
        Some(Item::Stall(d)) => {
            tokio::time::sleep(d).await;
            false
        }
        Some(Item::Fin) => {
            let _ = w.shutdown().await;
            lane.done = true;
            false
        }
        Some(Item::Reset) => true,
        None => false,
    }
}

async fn relay(
    mut client: TcpStream,
    upstream: SocketAddr,
    imp: Impairment,
    index: u64,
    stats: Arc<Stats>,
) {
    let mut server = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream)).await
    {
        Ok(Ok(s)) => s,
        other => {
            tracing::debug!("impairment proxy: cannot reach {upstream}: {other:?}");
            abort_on_close(&client);
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let mut rng = StdRng::seed_from_u64(imp.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index);
    let mut up = Lane::new(true);
    let mut down = Lane::new(false);
    let reset = {
        let (mut cr, mut cw) = client.split();
        let (mut sr, mut sw) = server.split();
        let mut cbuf = vec![0u8; 16 * 1024];
        let mut sbuf = vec![0u8; 16 * 1024];
        loop {
            if up.done && down.done {
                break false;
            }
            let read_up = up.reading && up.queue.len() < QUEUE_LIMIT;
            let read_down = down.reading && down.queue.len() < QUEUE_LIMIT;
            tokio::select! {
                r = cr.read(&mut cbuf), if read_up => match r {
                    Ok(0) => {
                        up.reading = false;
                        up.queue.push_back(Item::Fin);
                    }
                    Ok(n) => {
                        stats.bytes_up.fetch_add(n as u64, Ordering::Relaxed);
                        up.push(&imp, &mut rng, &cbuf[..n]);
                    }
                    Err(_) => break true,
                },
                r = sr.read(&mut sbuf), if read_down => match r {
                    Ok(0) => {
                        down.reading = false;
                        down.queue.push_back(Item::Fin);
                    }
                    Ok(n) => {
                        stats.bytes_down.fetch_add(n as u64, Ordering::Relaxed);
                        down.push(&imp, &mut rng, &sbuf[..n]);
                    }
                    Err(_) => break true,
                },
                _ = sleep_until(up.due()) => {
                    if deliver(&mut up, &mut sw).await {
                        break true;
                    }
                }
                _ = sleep_until(down.due()) => {
                    if deliver(&mut down, &mut cw).await {
                        break true;
                    }
                }
            }
        }
    };
    if reset {
        // Either side failed, or the impairment says so: both peers get an
        // RST, as they would from a link that went away mid-connection.
        stats.resets.fetch_add(1, Ordering::Relaxed);
        abort_on_close(&client);
        abort_on_close(&server);
    }
}
