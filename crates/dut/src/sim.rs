//! The simulator target: the firmware model of `esp-ws-sim`, on real TCP.
//!
//! A listener accepts connections for the simulated chip; each connection
//! gets a task that feeds the model's lwIP buffers (bytes, FIN and RST as
//! events) and carries out what the firmware sends and its closes (an RST
//! when it closed with unread data, as lwIP does).
//!
//! Every host socket ends one of two ways: the firmware closes it (the model
//! calls `Wire::close`), or the peer resets it (or a write to it fails). In
//! the second case the task reports the RST to the model and drops the
//! socket at once: lwIP frees a connection's pcb on an RST, so the model
//! never closes it on the wire later, whatever the firmware does with its
//! socket (see `Lwip::host_reset`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use esp_ws_sim::{ConnId, Level, Lwip, Profile, SerialSink, SimConfig, Simulator, Wire};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How much the host buffers for the firmware before it stops reading from
/// the socket (TCP flow control does the rest).
const RX_WINDOW: usize = 64 * 1024;

/// How long the accept loop waits before it tries again after an `accept()`
/// that failed for want of a resource (EMFILE, ENFILE, ENOBUFS, ENOMEM): the
/// first wait, doubled on each failure in a row up to the second. The
/// connections wait meanwhile in the kernel's listen queue, and the loop
/// does not spin on an error that only time (connections closing) cures.
/// These are the numbers of Go's `net/http` `Server.Serve`.
const ACCEPT_BACKOFF_FIRST: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct SimOptions {
    pub profile: Arc<Profile>,
    pub log_level: Level,
    pub log_colors: bool,
    /// Where to listen (port 0 picks a free port).
    pub bind: SocketAddr,
    /// A fault to inject (crash-handling tests).
    pub fault: Option<esp_ws_sim::Fault>,
    /// After a panic the chip reboots (ESP-IDF's default), or stays halted
    /// (what QEMU's `-no-reboot` gives).
    pub reboot_on_panic: bool,
    /// Ethernet as built for QEMU (default), or Wi-Fi as on a board.
    pub network: esp_ws_sim::Network,
    /// The address the firmware reports (default: QEMU's 10.0.2.15).
    pub net: esp_ws_sim::NetIdentity,
    /// A script for a firmware that runs one (NodeMCU's init.lua).
    pub script: Option<Vec<u8>>,
    /// The server a firmware that dials out connects to (set by
    /// [`SimTarget`] from `StartContext::dial`).
    pub uri: Option<String>,
    /// When a client example destroys its client, counted from boot.
    pub destroy_after: Option<Duration>,
    /// Seeds the chip's random numbers (keys, masks): tests.
    pub random_seed: Option<u64>,
}

impl SimOptions {
    /// The default profile's firmware, built for QEMU, on a free loopback
    /// port: what `esp-ws run` simulates unless told otherwise.
    pub fn new(profile: Arc<Profile>) -> SimOptions {
        SimOptions {
            log_colors: profile.idf.log_colors_default,
            profile,
            log_level: Level::Info,
            bind: "127.0.0.1:0".parse().expect("valid address"),
            fault: None,
            reboot_on_panic: true,
            network: Default::default(),
            net: Default::default(),
            script: None,
            uri: None,
            destroy_after: None,
            random_seed: None,
        }
    }
}

enum WireCmd {
    Data(Vec<u8>),
    Close { reset: bool },
}

/// Bytes each host connection has handed to the model so far, by the
/// peer's address: what [`SimHost::sync`] waits for before it waits for
/// the firmware to be idle.
#[derive(Default)]
struct Delivered {
    /// (bytes, the connection has ended).
    conns: Mutex<HashMap<SocketAddr, (u64, bool)>>,
    changed: tokio::sync::Notify,
}

/// Ended connections kept for a late `sync` before they are forgotten.
const DELIVERED_KEEP: usize = 256;

impl Delivered {
    fn add(&self, peer: SocketAddr, n: u64) {
        self.conns.lock().unwrap().entry(peer).or_default().0 += n;
        self.changed.notify_waiters();
    }

    fn ended(&self, peer: SocketAddr) {
        let mut conns = self.conns.lock().unwrap();
        conns.entry(peer).or_default().1 = true;
        if conns.len() > DELIVERED_KEEP {
            conns.retain(|_, (_, ended)| !*ended);
        }
        drop(conns);
        self.changed.notify_waiters();
    }

    /// Waits until `peer` has handed over `bytes` (or has ended). False on
    /// timeout.
    async fn wait(&self, peer: SocketAddr, bytes: u64, deadline: tokio::time::Instant) -> bool {
        loop {
            let changed = self.changed.notified();
            let done = self
                .conns
                .lock()
                .unwrap()
                .get(&peer)
                .is_some_and(|(n, ended)| *n >= bytes || *ended);
            if done {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return false;
            }
        }
    }
}

#[derive(Default)]
struct ConnTable {
    writers: Mutex<HashMap<ConnId, mpsc::UnboundedSender<WireCmd>>>,
    /// What opens the connections the firmware dials (set once the chip is
    /// powered on: it needs the chip's lwIP).
    dialer: std::sync::OnceLock<Dialer>,
    /// What the firmware put on the wire that the host has not carried out
    /// yet: a firmware that is idle has not finished until its bytes and
    /// closes are on the sockets.
    in_flight: Mutex<u64>,
    carried_out: tokio::sync::Notify,
}

impl ConnTable {
    fn queue(&self, tx: &mpsc::UnboundedSender<WireCmd>, cmd: WireCmd) {
        *self.in_flight.lock().unwrap() += 1;
        if tx.send(cmd).is_err() {
            self.done(1);
        }
    }

    /// `n` commands were carried out (or dropped with their connection).
    fn done(&self, n: u64) {
        let mut f = self.in_flight.lock().unwrap();
        *f = f.saturating_sub(n);
        drop(f);
        self.carried_out.notify_waiters();
    }

    /// Waits until every queued command is carried out. False on timeout.
    async fn wait_carried_out(&self, deadline: tokio::time::Instant) -> bool {
        loop {
            let notified = self.carried_out.notified();
            if *self.in_flight.lock().unwrap() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }
}

impl Wire for ConnTable {
    fn send(&self, conn: ConnId, data: &[u8]) {
        if let Some(tx) = self.writers.lock().unwrap().get(&conn) {
            self.queue(tx, WireCmd::Data(data.to_vec()));
        }
    }
    fn close(&self, conn: ConnId, reset: bool) {
        if let Some(tx) = self.writers.lock().unwrap().remove(&conn) {
            self.queue(&tx, WireCmd::Close { reset });
        }
    }
    fn connect(&self, conn: ConnId, host: &str, port: u16) -> bool {
        let Some(dialer) = self.dialer.get() else {
            return false;
        };
        let (tx, rx) = mpsc::unbounded_channel();
        self.writers.lock().unwrap().insert(conn, tx);
        let task = dialer
            .runtime
            .spawn(dial(dialer.clone(), conn, format!("{host}:{port}"), rx));
        let mut t = dialer.tasks.lock().unwrap();
        t.retain(|h| !h.is_finished());
        t.push(task);
        true
    }
}

/// How long the host tries to open a connection the firmware dials before
/// it reports the peer unreachable (lwIP would retry its SYN for longer;
/// a firmware that connects with a timeout gives up first anyway).
const DIAL_TIMEOUT: Duration = Duration::from_secs(30);

/// What the host needs to open the firmware's outbound connections.
#[derive(Clone)]
struct Dialer {
    runtime: tokio::runtime::Handle,
    /// The chip's lwIP, once it is powered on (its firmware may dial
    /// before `power_on` has returned).
    lwip: tokio::sync::watch::Receiver<Option<Arc<Lwip>>>,
    table: std::sync::Weak<ConnTable>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    delivered: Arc<Delivered>,
}

/// Opens a real TCP connection for the firmware's `connect()` and then
/// serves it as an accepted one. The firmware may give up first (its
/// `close` arrives as a command): the attempt is dropped then.
async fn dial(dialer: Dialer, id: ConnId, addr: String, mut rx: mpsc::UnboundedReceiver<WireCmd>) {
    let Some(table) = dialer.table.upgrade() else {
        return;
    };
    let mut lwip = dialer.lwip.clone();
    let Ok(lwip) = lwip.wait_for(Option::is_some).await.map(|l| l.clone()) else {
        return;
    };
    let Some(lwip) = lwip.as_ref() else {
        return;
    };
    let opened = tokio::select! {
        r = tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(&addr)) => r.ok().and_then(Result::ok),
        // The firmware gave up (or the chip reset): the command is the
        // only one this connection will get.
        _ = rx.recv() => {
            table.done(1);
            return;
        }
    };
    let Some(stream) = opened else {
        table.writers.lock().unwrap().remove(&id);
        lwip.host_refused(id);
        return;
    };
    let _ = stream.set_nodelay(true);
    // The firmware's end, which the peer's accept() reported.
    let Ok(local) = stream.local_addr() else {
        table.writers.lock().unwrap().remove(&id);
        lwip.host_refused(id);
        return;
    };
    if !lwip.host_connected(id) {
        // Too late: the firmware no longer waits. Its close (queued for
        // this connection) is dropped with the receiver.
        table.writers.lock().unwrap().remove(&id);
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        drop(stream);
        rx.close();
        let mut dropped = 0;
        while rx.try_recv().is_ok() {
            dropped += 1;
        }
        table.done(dropped);
        return;
    }
    let delivered = dialer.delivered.clone();
    serve_conn(stream, id, lwip, &table, rx, |n| delivered.add(local, n)).await;
    delivered.ended(local);
}

pub struct SimHost {
    chip: Option<Simulator>,
    uart_rx: Arc<esp_ws_sim::chip::UartRx>,
    lwip: Arc<Lwip>,
    addr: SocketAddr,
    /// The firmware dials out (see [`SimHost::settle`]).
    dials_out: bool,
    accept_task: Option<JoinHandle<()>>,
    conn_tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    delivered: Arc<Delivered>,
    table: Arc<ConnTable>,
}

impl SimHost {
    /// Binds the listener, powers the chip on and starts serving.
    pub async fn start(opts: SimOptions, serial: SerialSink) -> std::io::Result<SimHost> {
        // A firmware that dials out serves nothing: no listener.
        let dials_out = opts.profile.firmware.dials_out;
        let listener = if dials_out {
            None
        } else {
            Some(TcpListener::bind(opts.bind).await?)
        };
        let addr = match &listener {
            Some(l) => l.local_addr()?,
            None => opts.bind,
        };
        let table = Arc::new(ConnTable::default());
        let mut cfg = SimConfig::new(opts.profile.clone());
        cfg.log_level = opts.log_level;
        cfg.log_colors = opts.log_colors;
        cfg.fault = opts.fault.clone();
        cfg.reboot_on_panic = opts.reboot_on_panic;
        cfg.network = opts.network;
        cfg.net = opts.net.clone();
        cfg.script = opts.script.clone();
        cfg.uri = opts.uri.clone();
        cfg.destroy_after = opts.destroy_after;
        cfg.random_seed = opts.random_seed;
        let uart_rx = cfg.uart_rx.clone();
        let conn_tasks = Arc::new(Mutex::new(Vec::new()));
        let delivered = Arc::new(Delivered::default());
        let (lwip_ready, lwip_rx) = tokio::sync::watch::channel(None);
        let _ = table.dialer.set(Dialer {
            runtime: tokio::runtime::Handle::current(),
            lwip: lwip_rx,
            table: Arc::downgrade(&table),
            tasks: conn_tasks.clone(),
            delivered: delivered.clone(),
        });
        let wire: Arc<dyn Wire> = table.clone();
        let chip = tokio::task::spawn_blocking(move || Simulator::power_on(cfg, serial, wire))
            .await
            .map_err(std::io::Error::other)?;
        let lwip = chip.lwip();
        let _ = lwip_ready.send(Some(lwip.clone()));
        let accept_task = listener.map(|listener| {
            tokio::spawn(accept_loop(
                listener,
                lwip.clone(),
                table.clone(),
                conn_tasks.clone(),
                delivered.clone(),
            ))
        });
        Ok(SimHost {
            chip: Some(chip),
            uart_rx,
            lwip,
            addr,
            dials_out,
            accept_task,
            conn_tasks,
            delivered,
            table,
        })
    }

    /// Where the firmware serves (for a firmware that dials out, which
    /// serves nothing: the address it was given to bind).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Types into the chip's console (UART0 receive).
    pub fn uart_write(&self, bytes: &[u8]) {
        self.uart_rx.push(bytes);
    }

    /// The firmware panicked: the chip is halted, until it has rebooted.
    pub fn crashed(&self) -> bool {
        self.chip.as_ref().is_some_and(|c| c.crashed())
    }

    /// The firmware panicked and the chip stays halted (no reboot).
    pub fn halted(&self) -> bool {
        self.chip.as_ref().is_some_and(|c| c.halted())
    }

    /// Boots so far: 1 after power-on, one more per panic reboot.
    pub fn boots(&self) -> u32 {
        self.chip.as_ref().map_or(0, |c| c.boots())
    }

    /// Waits until the firmware has closed every connection and has nothing
    /// left to do, at most `max`. Returns false on timeout.
    ///
    /// A firmware that dials out always has time running (its read poll,
    /// the wait before a reconnect, its keep-alive): it has settled when
    /// every task waits, for the network or for time, with nothing handed
    /// over between tasks (`Rest::AwaitingInput`), not only once nothing
    /// at all will happen (which for a client that reconnects is never).
    pub async fn settle(&self, max: Duration) -> bool {
        let lwip = self.lwip.clone();
        let deadline = tokio::time::Instant::now() + max;
        let rest_kind = if self.dials_out {
            esp_ws_sim::Rest::AwaitingInput
        } else {
            esp_ws_sim::Rest::Idle
        };
        loop {
            if lwip.open_connections().is_empty() {
                let rest = deadline.saturating_duration_since(tokio::time::Instant::now());
                return self.wait_rest(rest, rest_kind).await;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Waits until the bytes a client wrote have reached the model (when
    /// `sent` says which), then until the firmware is idle and what it sent
    /// and closed is on the sockets; at most `max` in all.
    pub async fn sync(&self, max: Duration, sent: Option<crate::Sent>) -> bool {
        let deadline = tokio::time::Instant::now() + max;
        if let Some(s) = sent
            && !self.delivered.wait(s.from, s.bytes, deadline).await
        {
            return false;
        }
        self.wait_rest(
            deadline.saturating_duration_since(tokio::time::Instant::now()),
            esp_ws_sim::Rest::AwaitingInput,
        )
        .await
            && self.table.wait_carried_out(deadline).await
    }

    /// Waits until the firmware has processed everything it was sent so far.
    /// A chip that is rebooting after a panic first finishes booting.
    pub async fn wait_idle(&self, max: Duration) -> bool {
        self.wait_rest(max, esp_ws_sim::Rest::Idle).await
    }

    async fn wait_rest(&self, max: Duration, rest: esp_ws_sim::Rest) -> bool {
        let Some(idle) = self.chip.as_ref().map(|c| c.idle_waiter(rest)) else {
            return true;
        };
        tokio::task::spawn_blocking(move || idle(max))
            .await
            .unwrap_or(false)
    }

    /// Powers the chip off and drops every connection.
    pub async fn stop(mut self) {
        if let Some(t) = &self.accept_task {
            t.abort();
        }
        for t in self.conn_tasks.lock().unwrap().drain(..) {
            t.abort();
        }
        if let Some(mut chip) = self.chip.take() {
            let _ = tokio::task::spawn_blocking(move || chip.power_off()).await;
        }
    }
}

impl Drop for SimHost {
    fn drop(&mut self) {
        if let Some(t) = &self.accept_task {
            t.abort();
        }
        for t in self.conn_tasks.lock().unwrap().drain(..) {
            t.abort();
        }
        // Chip's own Drop powers it off.
    }
}

async fn accept_loop(
    listener: TcpListener,
    lwip: Arc<Lwip>,
    table: Arc<ConnTable>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    delivered: Arc<Delivered>,
) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let mut backoff: Option<Duration> = None;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok((stream, peer)) => {
                if backoff.take().is_some() {
                    tracing::info!("the simulator accepts connections again");
                }
                (stream, peer)
            }
            Err(e) if accept_error_is_the_connections(&e) => continue,
            Err(e) => {
                let wait = match backoff {
                    None => {
                        tracing::warn!(
                            "the simulator cannot accept a connection ({e}); retrying with a back-off of up to {ACCEPT_BACKOFF_MAX:?}"
                        );
                        ACCEPT_BACKOFF_FIRST
                    }
                    Some(w) => (w * 2).min(ACCEPT_BACKOFF_MAX),
                };
                backoff = Some(wait);
                tokio::time::sleep(wait).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        table.writers.lock().unwrap().insert(id, tx);
        if !lwip.host_connect(id) {
            // Nothing listens yet (the server has not started): refuse.
            table.writers.lock().unwrap().remove(&id);
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            drop(stream);
            delivered.ended(peer);
            continue;
        }
        let delivered = delivered.clone();
        let lwip = lwip.clone();
        let table = table.clone();
        let task = tokio::spawn(async move {
            serve_conn(stream, id, &lwip, &table, rx, |n| delivered.add(peer, n)).await;
            delivered.ended(peer);
        });
        let mut t = tasks.lock().unwrap();
        t.retain(|h| !h.is_finished());
        t.push(task);
    }
}

/// An `accept()` error that belongs to one pending connection (it was
/// aborted or reset before it was taken, or the call was interrupted):
/// that connection is gone from the queue, so trying again at once makes
/// progress. Any other error (out of descriptors or memory, or one not
/// known here) is waited out with a back-off.
fn accept_error_is_the_connections(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
    ) || e.raw_os_error() == Some(libc::EPROTO)
}

/// `delivered(n)`: n more bytes from the peer are in the model's buffers.
async fn serve_conn(
    mut stream: TcpStream,
    id: ConnId,
    lwip: &Lwip,
    table: &ConnTable,
    mut rx: mpsc::UnboundedReceiver<WireCmd>,
    delivered: impl Fn(u64),
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut peer_done = false;
    let mut closing = 0;
    // The peer reset the connection, or a write to it failed: it is over on
    // the wire. The model is told (its recv fails with ECONNRESET, as
    // esp_http_server expects) and the socket is dropped now: the model will
    // not ask to close it (`Lwip::host_reset`).
    let peer_gone = || {
        table.writers.lock().unwrap().remove(&id);
        lwip.host_reset(id);
    };
    loop {
        let window_full = lwip.host_buffered(id).unwrap_or(0) > RX_WINDOW;
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(WireCmd::Data(d)) => {
                    let written = stream.write_all(&d).await;
                    table.done(1);
                    if written.is_err() {
                        peer_gone();
                        break;
                    }
                }
                Some(WireCmd::Close { reset }) => {
                    if reset {
                        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                    }
                    // Counted as carried out once the socket is closed.
                    closing = 1;
                    break;
                }
                None => break,
            },
            r = stream.read(&mut buf), if !peer_done && !window_full => match r {
                Ok(0) => {
                    peer_done = true;
                    lwip.host_eof(id);
                }
                Ok(n) => {
                    lwip.host_data(id, &buf[..n]);
                    delivered(n as u64);
                }
                Err(_) => {
                    peer_gone();
                    break;
                }
            },
            // The firmware has not drained its receive window yet.
            _ = tokio::time::sleep(Duration::from_millis(1)), if !peer_done && window_full => {}
        }
    }
    // Dropping the socket closes it: FIN, or RST with the linger set above
    // (Linux also resets when unread bytes are left in its buffer). After a
    // reset it only frees the descriptor.
    drop(stream);
    // Whatever the firmware still queued for this connection goes nowhere.
    rx.close();
    let mut dropped = 0;
    while rx.try_recv().is_ok() {
        dropped += 1;
    }
    table.done(closing + dropped);
}

/// The simulator as a kind of device under test.
#[derive(Clone)]
pub struct SimTarget {
    pub opts: SimOptions,
}

impl crate::Target for SimTarget {
    fn kind(&self) -> &'static str {
        "sim"
    }

    fn describe(&self) -> String {
        format!("simulator ({})", self.opts.profile.name)
    }

    fn start(
        &self,
        ctx: crate::StartContext,
    ) -> futures::future::BoxFuture<'_, Result<Box<dyn crate::Dut>, crate::DutError>> {
        Box::pin(async move {
            let label = ctx.label;
            let dials_out = self.opts.profile.firmware.dials_out;
            let mut opts = self.opts.clone();
            match (&ctx.dial, dials_out) {
                (Some(_), false) => {
                    return Err(crate::DutError::Unsupported {
                        label,
                        what: format!(
                            "the simulated firmware {} serves WebSocket; it does not dial out",
                            self.opts.profile.name
                        ),
                    });
                }
                // The server's URI is built in as CONFIG_WEBSOCKET_URI.
                (Some(dial), true) => opts.uri = Some(dial.uri.clone()),
                (None, true) if opts.uri.is_none() => {
                    return Err(crate::DutError::Unsupported {
                        label,
                        what: format!(
                            "the simulated firmware {} dials out to a WebSocket server; it needs the server's URI",
                            self.opts.profile.name
                        ),
                    });
                }
                _ => {}
            }
            let serial_file = match &ctx.dir {
                Some(d) => {
                    crate::create_dir(&label, d)?;
                    Some(d.join("serial.log"))
                }
                None => None,
            };
            let failed = |source| crate::DutError::Simulator {
                label: label.clone(),
                source,
            };
            let serial = crate::SerialLog::new(serial_file).map_err(failed)?;
            let sink = {
                let serial = serial.clone();
                Arc::new(move |b: &[u8]| serial.push(b))
            };
            let host = SimHost::start(opts, sink).await.map_err(failed)?;
            Ok(Box::new(SimDut {
                label,
                dir: ctx.dir,
                serial,
                log_level: self.opts.log_level,
                dials_out,
                host,
            }) as Box<dyn crate::Dut>)
        })
    }
}

/// A running simulated chip.
struct SimDut {
    label: String,
    dir: Option<std::path::PathBuf>,
    serial: crate::SerialLog,
    log_level: Level,
    /// The firmware dials out: it serves nothing.
    dials_out: bool,
    host: SimHost,
}

impl crate::Dut for SimDut {
    fn label(&self) -> &str {
        &self.label
    }

    fn endpoint(&self) -> Option<SocketAddr> {
        (!self.dials_out).then(|| self.host.local_addr())
    }

    fn serial(&self) -> &crate::SerialLog {
        &self.serial
    }

    fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_deref()
    }

    fn readiness(&self) -> crate::Readiness {
        // The model listens before it says it is ready: nothing to probe.
        crate::Readiness::BootLog { probe: false }
    }

    fn log_level(&self) -> Option<Level> {
        Some(self.log_level)
    }

    fn ended(&self) -> Option<String> {
        self.host
            .halted()
            .then(|| "the chip is halted after a panic (it does not reboot)".to_string())
    }

    fn settle(&self, max: Duration) -> futures::future::BoxFuture<'_, crate::Settled> {
        Box::pin(async move {
            if self.host.settle(max).await {
                crate::Settled::Idle
            } else {
                crate::Settled::TimedOut
            }
        })
    }

    fn sync(&self, max: Duration, sent: Option<crate::Sent>) -> futures::future::BoxFuture<'_, ()> {
        Box::pin(async move {
            self.host.sync(max, sent).await;
        })
    }

    fn stop(self: Box<Self>) -> futures::future::BoxFuture<'static, Option<crate::Stopped>> {
        Box::pin(async move {
            self.host.stop().await;
            None
        })
    }
}
