//! A model of the lwIP socket layer as esp_http_server sees it on an ESP32.
//!
//! The firmware model calls this like the BSD socket API (blocking `select`,
//! `accept`, `recv` with `SO_RCVTIMEO`, `send`, `close`); a host (the real TCP
//! front end in `esp-ws-dut`, or a test) feeds it connections and bytes.
//! It owns no real sockets: it is the seam between the pure model and I/O.
//!
//! What it reproduces, because snapshots depend on it:
//! - socket numbers: ESP-IDF maps lwIP sockets to the top of newlib's fd
//!   space, `LWIP_SOCKET_OFFSET = FD_SETSIZE - CONFIG_LWIP_MAX_SOCKETS`
//!   (components/lwip/port/include/lwipopts.h), i.e. 64 - 10 = 54, and lwIP
//!   hands out the lowest free slot (`alloc_socket()` in lwip/src/api/sockets.c);
//! - `recv` returns as soon as some data is there, at most what was asked
//!   (`lwip_recv_tcp`), 0 after the peer's FIN, -1/ECONNRESET after its RST,
//!   -1/EAGAIN when `SO_RCVTIMEO` expires;
//! - closing a socket with unread received data resets the connection
//!   (`tcp_close_shutdown` sends RST when `pcb->rcv_wnd != TCP_WND_MAX`),
//!   otherwise it is a FIN;
//! - an RST ends the connection on the wire at once (the pcb is freed), the
//!   socket stays until the firmware closes it; a connection reset while it
//!   waits in the listen backlog is still handed to `accept()`, which fails
//!   with ENOTCONN (`lwip_accept` in lwip/src/api/sockets.c).
//!
//! The host side keeps the other half of that contract: after reporting an
//! RST ([`Lwip::host_reset`]) it holds nothing for that connection, and the
//! model never asks it to close one.

mod netconn;

pub use netconn::{NETCONN_ACCEPTMBOX_SIZE, Netbuf, Netconn, NetconnErr, TCP_MSS};

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::chip::Chip;

pub type Fd = i32;
/// The host's name for one TCP connection.
pub type ConnId = u64;

/// An lwIP `errno` value, as esp_http_server logs it (`error in recv : 104`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub const EBADF: Errno = Errno(9);
    pub const EAGAIN: Errno = Errno(11);
    pub const ENFILE: Errno = Errno(23);
    pub const ECONNRESET: Errno = Errno(104);
    pub const ENOTCONN: Errno = Errno(128);
    /// lwIP's errno.h values for a failed `connect()` (lwip/src/include/lwip/errno.h).
    pub const ETIMEDOUT: Errno = Errno(116);
    pub const ECONNREFUSED: Errno = Errno(111);
    pub const EHOSTUNREACH: Errno = Errno(113);
    /// `connect()` on a socket that is already connected.
    pub const EISCONN: Errno = Errno(127);
    /// Not an errno: the chip was powered off while a call was blocked.
    pub const HALTED: Errno = Errno(-1000);
}

/// The host side of the wire: what the model wants done to real connections.
pub trait Wire: Send + Sync {
    fn send(&self, conn: ConnId, data: &[u8]);
    /// Close the connection: `reset` = RST (unread data was pending), else FIN.
    /// Also cancels a connection the host is still opening for [`Wire::connect`].
    fn close(&self, conn: ConnId, reset: bool);
    /// The firmware's `connect()`: open a TCP connection to `host:port` for
    /// `conn` (the host stands in for DNS and routing, so `host` may be a
    /// name). The host answers later with [`Lwip::host_connected`] or
    /// [`Lwip::host_refused`]; data then flows as on accepted connections.
    /// Returns false when this host opens no connections (the default):
    /// `connect()` then fails at once with EHOSTUNREACH.
    fn connect(&self, conn: ConnId, host: &str, port: u16) -> bool {
        let _ = (conn, host, port);
        false
    }
}

/// The first [`ConnId`] of connections the firmware opens: the host names
/// the connections it accepts from 1 up, so the two never meet.
pub const OUTBOUND_CONN_BASE: ConnId = 1 << 62;

#[derive(Clone, Debug)]
pub struct LwipConfig {
    /// `LWIP_SOCKET_OFFSET`: 54 with the ESP-IDF defaults.
    pub socket_offset: Fd,
    /// `CONFIG_LWIP_MAX_SOCKETS` (default 10).
    pub max_sockets: usize,
    /// `CONFIG_LWIP_UDP_RECVMBOX_SIZE` (default 6): datagrams a UDP socket holds.
    pub udp_recvmbox_size: usize,
}

impl Default for LwipConfig {
    fn default() -> Self {
        LwipConfig {
            socket_offset: 54,
            max_sockets: 10,
            udp_recvmbox_size: 6,
        }
    }
}

struct ConnState {
    rx: VecDeque<u8>,
    /// The lengths of the pieces `rx` arrived in, oldest first: each is one
    /// `host_data` call, which stands in for one TCP segment (lwIP's
    /// netconn API hands segments out one pbuf at a time).
    segs: VecDeque<usize>,
    eof: bool,
    /// `recv()` has returned the FIN (0) once. lwIP then shuts the receive
    /// side (api_lib.c netconn_recv_data_tcp, "handle_fin"): later calls
    /// fail with ENOTCONN and select no longer reports the socket readable.
    eof_delivered: bool,
    reset: bool,
    /// An outbound connection the host is still opening (the SYN is out).
    opening: bool,
    /// The host could not open it: the peer refused (RST to the SYN).
    refused: bool,
}

impl ConnState {
    fn new() -> ConnState {
        ConnState {
            rx: VecDeque::new(),
            segs: VecDeque::new(),
            eof: false,
            eof_delivered: false,
            reset: false,
            opening: false,
            refused: false,
        }
    }
}

enum Sock {
    /// `netconn_new(NETCONN_TCP)`, not listening or connected yet.
    NetconnNew { port: Option<u16> },
    /// `socket(AF_INET, SOCK_STREAM, 0)`, not connected yet.
    TcpNew,
    Listen {
        backlog: VecDeque<ConnId>,
        limit: usize,
    },
    Tcp {
        conn: ConnId,
        rcvtimeo: Option<Duration>,
    },
    Udp {
        port: Option<u16>,
        queue: VecDeque<u64>,
    },
}

/// What [`Lwip::peek`] found on a socket.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Peek {
    Data,
    Fin,
    Reset,
    Nothing,
}

/// How much at rest the firmware must be for [`Lwip::wait_idle`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Rest {
    /// Nothing happens until the host acts.
    Idle,
    /// Nothing happens until the host acts or a receive timeout fires: the
    /// firmware has read what it was sent and waits for more (the rest of
    /// a frame, say).
    AwaitingInput,
}

struct State {
    slots: Vec<Option<Sock>>,
    conns: HashMap<ConnId, ConnState>,
    halted: bool,
    /// The model is blocked in `select` or a read with nothing ready.
    idle: bool,
    /// ... in a read with a receive timeout (SO_RCVTIMEO): the firmware
    /// does something when it fires, host event or not.
    idle_timed: bool,
    /// Incremented on every host event, so `wait_idle` can tell "idle again
    /// after my event" from "still idle from before".
    epoch: u64,
    idle_epoch: u64,
    /// The next [`ConnId`] for a connection the firmware opens.
    next_outbound: ConnId,
}

impl ConnState {
    /// Takes `n` bytes off the front, whatever segments they came in.
    fn take(&mut self, n: usize) -> Vec<u8> {
        let out: Vec<u8> = self.rx.drain(..n).collect();
        let mut left = n;
        while left > 0 {
            let Some(front) = self.segs.front_mut() else {
                break;
            };
            if *front <= left {
                left -= *front;
                self.segs.pop_front();
            } else {
                *front -= left;
                left = 0;
            }
        }
        out
    }
}

pub struct Lwip {
    cfg: LwipConfig,
    state: Mutex<State>,
    cv: Condvar,
    wire: Arc<dyn Wire>,
}

impl Lwip {
    pub fn new(cfg: LwipConfig, wire: Arc<dyn Wire>) -> Self {
        let slots = (0..cfg.max_sockets).map(|_| None).collect();
        Lwip {
            cfg,
            state: Mutex::new(State {
                slots,
                conns: HashMap::new(),
                halted: false,
                idle: false,
                idle_timed: false,
                epoch: 0,
                idle_epoch: 0,
                next_outbound: OUTBOUND_CONN_BASE,
            }),
            cv: Condvar::new(),
            wire,
        }
    }

    /// Registers the stack with the chip: when the CPU stops (a panic, the
    /// power going) every blocked call returns, and a reset forgets every
    /// socket and connection.
    pub fn attach(self: &Arc<Self>, chip: &Chip) {
        let lwip = self.clone();
        chip.on_halt(move || lwip.halt());
        let lwip = self.clone();
        chip.on_reset(move || lwip.reset());
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn slot(&self, fd: Fd) -> Option<usize> {
        let i = fd - self.cfg.socket_offset;
        (i >= 0 && (i as usize) < self.cfg.max_sockets).then_some(i as usize)
    }

    fn alloc(&self, st: &mut State, sock: Sock) -> Result<Fd, Errno> {
        match st.slots.iter().position(Option::is_none) {
            Some(i) => {
                st.slots[i] = Some(sock);
                Ok(self.cfg.socket_offset + i as Fd)
            }
            None => Err(Errno::ENFILE),
        }
    }

    // ----- model side -------------------------------------------------------

    /// `socket(); bind(port); listen(backlog)`.
    pub fn tcp_listen(&self, backlog: usize) -> Result<Fd, Errno> {
        let mut st = self.lock();
        self.alloc(
            &mut st,
            Sock::Listen {
                backlog: VecDeque::new(),
                limit: backlog.max(1),
            },
        )
    }

    /// `socket(AF_INET, SOCK_DGRAM)`, bound to `port` if given.
    pub fn udp_socket(&self, port: Option<u16>) -> Result<Fd, Errno> {
        let mut st = self.lock();
        self.alloc(
            &mut st,
            Sock::Udp {
                port,
                queue: VecDeque::new(),
            },
        )
    }

    /// `sendto()` of one datagram to the UDP socket bound to `port` on loopback.
    /// The payload is an opaque token; the receiver keeps its meaning.
    pub fn udp_sendto(&self, port: u16, token: u64) -> Result<(), Errno> {
        let mut st = self.lock();
        let limit = self.cfg.udp_recvmbox_size;
        for sock in st.slots.iter_mut().flatten() {
            if let Sock::Udp {
                port: Some(p),
                queue,
            } = sock
                && *p == port
            {
                // A full recvmbox drops the datagram silently (netconn_recv
                // side), which is what the semaphore in httpd_queue_work
                // exists to prevent.
                if queue.len() < limit {
                    queue.push_back(token);
                }
                // Another task may send (NodeMCU's Lua task queues work on
                // httpd): the datagram is news to whoever waits in select.
                self.host_event(&mut st);
                return Ok(());
            }
        }
        Ok(())
    }

    pub fn udp_recv(&self, fd: Fd) -> Result<u64, Errno> {
        let mut st = self.lock();
        let i = self.slot(fd).ok_or(Errno::EBADF)?;
        match st.slots[i].as_mut() {
            Some(Sock::Udp { queue, .. }) => queue.pop_front().ok_or(Errno::EAGAIN),
            _ => Err(Errno::EBADF),
        }
    }

    pub fn set_rcvtimeo(&self, fd: Fd, timeout: Duration) -> Result<(), Errno> {
        let mut st = self.lock();
        let i = self.slot(fd).ok_or(Errno::EBADF)?;
        match st.slots[i].as_mut() {
            Some(Sock::Tcp { rcvtimeo, .. }) => {
                *rcvtimeo = Some(timeout);
                Ok(())
            }
            _ => Err(Errno::EBADF),
        }
    }

    fn readable(&self, st: &State, fd: Fd) -> bool {
        let Some(i) = self.slot(fd) else {
            return false;
        };
        match &st.slots[i] {
            Some(Sock::Listen { backlog, .. }) => !backlog.is_empty(),
            Some(Sock::Udp { queue, .. }) => !queue.is_empty(),
            Some(Sock::NetconnNew { .. } | Sock::TcpNew) => false,
            Some(Sock::Tcp { conn, .. }) => match st.conns.get(conn) {
                Some(c) => !c.rx.is_empty() || (c.eof && !c.eof_delivered) || c.reset,
                // The connection is gone (host dropped it): an error is pending.
                None => true,
            },
            None => false,
        }
    }

    /// `select(maxfd+1, &read_set, NULL, NULL, NULL)`: blocks until one of
    /// `fds` is readable and returns the readable ones.
    pub fn select(&self, fds: &[Fd]) -> Result<Vec<Fd>, Errno> {
        let mut st = self.lock();
        loop {
            if st.halted {
                return Err(Errno::HALTED);
            }
            let ready: Vec<Fd> = fds
                .iter()
                .copied()
                .filter(|&fd| self.readable(&st, fd))
                .collect();
            if !ready.is_empty() {
                st.idle = false;
                return Ok(ready);
            }
            self.mark_idle(&mut st, false);
            // The calling task blocks: the chip's scheduler may let its
            // creator go on.
            crate::chip::blocking();
            st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// `accept(fd, &addr, &addrlen)` on a listening socket (esp_http_server's
    /// `httpd_accept_conn` always asks for the peer's address).
    pub fn accept(&self, fd: Fd) -> Result<Fd, Errno> {
        let mut st = self.lock();
        let i = self.slot(fd).ok_or(Errno::EBADF)?;
        let conn = match st.slots[i].as_mut() {
            Some(Sock::Listen { backlog, .. }) => backlog.pop_front().ok_or(Errno::EAGAIN)?,
            _ => return Err(Errno::EBADF),
        };
        // A connection the peer reset while it waited in the backlog is still
        // there: err_tcp() (api_msg.c) only marks its netconn and frees the
        // pcb, and netconn_accept() hands it out all the same.
        let was_reset = st.conns.get(&conn).is_none_or(|c| c.reset);
        match self.alloc(
            &mut st,
            Sock::Tcp {
                conn,
                rcvtimeo: None,
            },
        ) {
            Ok(new) if was_reset => {
                // lwip_accept() then asks netconn_peer() for the address, which
                // fails with ERR_CONN (lwip_netconn_do_getaddr: no pcb); the
                // new socket is freed again (free_socket) and accept() fails
                // with err_to_errno(ERR_CONN) = ENOTCONN. Nothing goes on the
                // wire: the pcb went with the RST.
                if let Some(j) = self.slot(new) {
                    st.slots[j] = None;
                }
                st.conns.remove(&conn);
                Err(Errno::ENOTCONN)
            }
            Ok(new) => Ok(new),
            Err(e) => {
                // No socket left: lwIP aborts the new connection (unless the
                // peer has reset it already: then there is nothing to abort).
                st.conns.remove(&conn);
                drop(st);
                if !was_reset {
                    self.wire.close(conn, true);
                }
                Err(e)
            }
        }
    }

    fn tcp_conn(&self, st: &State, fd: Fd) -> Result<(ConnId, Option<Duration>), Errno> {
        let i = self.slot(fd).ok_or(Errno::EBADF)?;
        match &st.slots[i] {
            Some(Sock::Tcp { conn, rcvtimeo }) => Ok((*conn, *rcvtimeo)),
            _ => Err(Errno::EBADF),
        }
    }

    /// `socket(AF_INET, SOCK_STREAM, 0)`: a TCP socket to `connect()`.
    pub fn tcp_socket(&self) -> Result<Fd, Errno> {
        let mut st = self.lock();
        self.alloc(&mut st, Sock::TcpNew)
    }

    /// `connect(fd, addr, len)` on a blocking TCP socket (`lwip_connect`,
    /// which waits in `netconn_connect` for the handshake): the host opens
    /// the real connection ([`Wire::connect`]) and the call returns when
    /// it answers. Fails with ECONNREFUSED when the peer refused (lwIP's
    /// `tcp_connected` never comes: `err_tcp` with ERR_RST), EHOSTUNREACH
    /// when the host opens no connections, and, with `timeout`, ETIMEDOUT
    /// when no answer came in time (what a caller that connects
    /// non-blocking and waits in `select` with a timeout sees): the
    /// half-open connection is then aborted. A SYN in flight is not rest:
    /// the firmware is busy until the host answers.
    pub fn connect(
        &self,
        fd: Fd,
        host: &str,
        port: u16,
        timeout: Option<Duration>,
    ) -> Result<(), Errno> {
        let mut st = self.lock();
        if st.halted {
            return Err(Errno::HALTED);
        }
        let i = self.slot(fd).ok_or(Errno::EBADF)?;
        match st.slots[i] {
            Some(Sock::TcpNew) => {}
            Some(Sock::Tcp { .. }) => return Err(Errno::EISCONN),
            _ => return Err(Errno::EBADF),
        }
        let conn = st.next_outbound;
        st.next_outbound += 1;
        let mut c = ConnState::new();
        c.opening = true;
        st.conns.insert(conn, c);
        st.idle = false;
        drop(st);
        if !self.wire.connect(conn, host, port) {
            self.lock().conns.remove(&conn);
            return Err(Errno::EHOSTUNREACH);
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.lock();
        loop {
            if st.halted {
                return Err(Errno::HALTED);
            }
            let Some(c) = st.conns.get(&conn) else {
                // A chip reset forgot it (the host was told to drop it).
                return Err(Errno::ECONNRESET);
            };
            if c.refused {
                st.conns.remove(&conn);
                return Err(Errno::ECONNREFUSED);
            }
            if !c.opening {
                st.slots[i] = Some(Sock::Tcp {
                    conn,
                    rcvtimeo: None,
                });
                return Ok(());
            }
            crate::chip::blocking();
            match deadline {
                None => st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        st.conns.remove(&conn);
                        drop(st);
                        self.wire.close(conn, true);
                        return Err(Errno::ETIMEDOUT);
                    }
                    st = self
                        .cv
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }

    /// `select(fd+1, &readset, NULL, NULL, &timeout)` on one socket: true
    /// when it is readable (data, the peer's FIN or RST), false when the
    /// timeout expired first. A task waiting here with nothing to read is
    /// at rest until the host acts or the timeout fires (a timed rest, as
    /// a read with `SO_RCVTIMEO` is).
    pub fn poll_read(&self, fd: Fd, timeout: Duration) -> Result<bool, Errno> {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        self.slot(fd).ok_or(Errno::EBADF)?;
        loop {
            if st.halted {
                return Err(Errno::HALTED);
            }
            if self.readable(&st, fd) {
                st.idle = false;
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                st.idle = false;
                return Ok(false);
            }
            self.mark_idle(&mut st, true);
            crate::chip::blocking();
            st = self
                .cv
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// `recv(fd, buf, max, 0)` on a blocking TCP socket.
    ///
    /// Ok(empty) is the peer's FIN (recv() == 0).
    pub fn recv(&self, fd: Fd, max: usize) -> Result<Vec<u8>, Errno> {
        let mut st = self.lock();
        let (conn, timeout) = self.tcp_conn(&st, fd)?;
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if st.halted {
                return Err(Errno::HALTED);
            }
            let Some(c) = st.conns.get_mut(&conn) else {
                return Err(Errno::ECONNRESET);
            };
            if !c.rx.is_empty() {
                let n = max.min(c.rx.len());
                let data = c.take(n);
                st.idle = false;
                return Ok(data);
            }
            if c.reset {
                return Err(Errno::ECONNRESET);
            }
            if c.eof {
                if c.eof_delivered {
                    return Err(Errno::ENOTCONN);
                }
                c.eof_delivered = true;
                return Ok(Vec::new());
            }
            if max == 0 {
                return Ok(Vec::new());
            }
            // Waiting for the rest of a frame is waiting for the network
            // too: nothing happens until the peer sends more or the
            // receive timeout fires (as netconn_recv() marks it).
            self.mark_idle(&mut st, deadline.is_some());
            crate::chip::blocking();
            match deadline {
                None => st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Err(Errno::EAGAIN);
                    }
                    st = self
                        .cv
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }

    /// What a `recv(fd, &b, 1, MSG_PEEK)` after a `select()` would find:
    /// data, the peer's FIN, its RST, or nothing yet.
    pub fn peek(&self, fd: Fd) -> Result<Peek, Errno> {
        let st = self.lock();
        let (conn, _) = self.tcp_conn(&st, fd)?;
        Ok(match st.conns.get(&conn) {
            None => Peek::Reset,
            Some(c) if !c.rx.is_empty() => Peek::Data,
            Some(c) if c.reset => Peek::Reset,
            Some(c) if c.eof => Peek::Fin,
            Some(_) => Peek::Nothing,
        })
    }

    /// `send(fd, buf, len, 0)`: the whole buffer goes to the wire at once
    /// (lwIP copies it into its send buffer; the host never pushes back).
    pub fn send(&self, fd: Fd, data: &[u8]) -> Result<usize, Errno> {
        let st = self.lock();
        if st.halted {
            return Err(Errno::HALTED);
        }
        let (conn, _) = self.tcp_conn(&st, fd)?;
        match st.conns.get(&conn) {
            Some(c) if !c.reset => {}
            _ => return Err(Errno::ECONNRESET),
        }
        drop(st);
        self.wire.send(conn, data);
        Ok(data.len())
    }

    /// `close(fd)`.
    pub fn close(&self, fd: Fd) -> Result<(), Errno> {
        let mut st = self.lock();
        // A halted CPU closes nothing: its connections end with the reset.
        if st.halted {
            return Err(Errno::HALTED);
        }
        let i = self.slot(fd).ok_or(Errno::EBADF)?;
        let sock = st.slots[i].take().ok_or(Errno::EBADF)?;
        let mut to_close = Vec::new();
        match sock {
            // A reset connection has no pcb left to close (err_tcp()): the
            // host dropped it when it reported the RST.
            Sock::Tcp { conn, .. } => {
                if let Some(c) = st.conns.remove(&conn)
                    && !c.reset
                {
                    to_close.push((conn, !c.rx.is_empty()));
                }
            }
            Sock::Listen { backlog, .. } => {
                for conn in backlog {
                    if st.conns.remove(&conn).is_some_and(|c| !c.reset) {
                        to_close.push((conn, true));
                    }
                }
            }
            Sock::Udp { .. } | Sock::NetconnNew { .. } | Sock::TcpNew => {}
        }
        drop(st);
        for (conn, reset) in to_close {
            self.wire.close(conn, reset);
        }
        Ok(())
    }

    /// `fcntl(fd, F_GETFD) != -1`.
    pub fn fd_is_valid(&self, fd: Fd) -> bool {
        let st = self.lock();
        self.slot(fd).is_some_and(|i| st.slots[i].is_some())
    }

    pub fn is_halted(&self) -> bool {
        self.lock().halted
    }

    // ----- host side --------------------------------------------------------

    fn host_event(&self, st: &mut State) {
        st.epoch += 1;
        st.idle = false;
        self.cv.notify_all();
    }

    /// A TCP connection reached the listening port. Returns false when nothing
    /// listens, or the CPU is halted (the host should refuse the connection).
    pub fn host_connect(&self, conn: ConnId) -> bool {
        let mut st = self.lock();
        if st.halted {
            return false;
        }
        let listen = st.slots.iter_mut().flatten().find_map(|s| match s {
            Sock::Listen { backlog, limit } => Some((backlog, *limit)),
            _ => None,
        });
        let Some((backlog, _limit)) = listen else {
            return false;
        };
        // lwIP would stop completing handshakes beyond `limit`; the host's own
        // kernel has already accepted the connection, so it just waits here.
        backlog.push_back(conn);
        st.conns.insert(conn, ConnState::new());
        self.host_event(&mut st);
        true
    }

    /// The host opened the connection the firmware asked for
    /// ([`Wire::connect`]): the firmware's `connect()` returns 0. False
    /// when the firmware no longer waits for it (its `connect()` timed
    /// out, or the chip reset): the host then closes it.
    pub fn host_connected(&self, conn: ConnId) -> bool {
        let mut st = self.lock();
        let Some(c) = st.conns.get_mut(&conn).filter(|c| c.opening) else {
            return false;
        };
        c.opening = false;
        self.host_event(&mut st);
        true
    }

    /// The host could not open the connection: the peer answered the SYN
    /// with an RST (or nothing listens, or the name did not resolve). The
    /// firmware's `connect()` fails with ECONNREFUSED; the host holds
    /// nothing for `conn`.
    pub fn host_refused(&self, conn: ConnId) {
        let mut st = self.lock();
        if let Some(c) = st.conns.get_mut(&conn).filter(|c| c.opening) {
            c.opening = false;
            c.refused = true;
        }
        self.host_event(&mut st);
    }

    /// Bytes received on `conn`. Returns how many bytes are now buffered and
    /// unread by the firmware (the host stops reading past a window).
    pub fn host_data(&self, conn: ConnId, data: &[u8]) -> usize {
        let mut st = self.lock();
        let Some(c) = st.conns.get_mut(&conn) else {
            return 0;
        };
        c.rx.extend(data.iter().copied());
        if !data.is_empty() {
            c.segs.push_back(data.len());
        }
        let n = c.rx.len();
        self.host_event(&mut st);
        n
    }

    pub fn host_buffered(&self, conn: ConnId) -> Option<usize> {
        self.lock().conns.get(&conn).map(|c| c.rx.len())
    }

    /// The peer sent FIN.
    pub fn host_eof(&self, conn: ConnId) {
        let mut st = self.lock();
        if let Some(c) = st.conns.get_mut(&conn) {
            c.eof = true;
        }
        self.host_event(&mut st);
    }

    /// The peer reset the connection (or the host could not write to it).
    /// The host has let go of the connection: lwIP frees the pcb on an RST
    /// (tcp_input(), `TF_RESET`), so nothing the firmware does with the socket
    /// afterwards reaches the wire, and its `close()` calls no `Wire::close`.
    ///
    /// A connection still in the listen backlog stays there: lwIP has already
    /// queued its netconn on the listener (accept_function() in api_msg.c),
    /// and the RST only marks it (err_tcp()). The firmware's next `accept()`
    /// takes it and fails (see [`Lwip::accept`]), which frees it.
    pub fn host_reset(&self, conn: ConnId) {
        let mut st = self.lock();
        if let Some(c) = st.conns.get_mut(&conn) {
            c.reset = true;
        }
        self.host_event(&mut st);
    }

    /// The count of host events so far, if the firmware is blocked waiting
    /// for the network with nothing to do after the last of them (or the
    /// CPU is halted).
    pub fn idle_mark(&self, rest: Rest) -> Option<u64> {
        let st = self.lock();
        Self::at_rest(&st, rest).then_some(st.epoch)
    }

    /// Nothing for the network side to do: halted, a task waits for the
    /// network with nothing new since, or there is no socket at all (a
    /// firmware that serves nothing, such as a NodeMCU script without a
    /// server).
    fn at_rest(st: &State, rest: Rest) -> bool {
        st.halted
            || (st.idle
                && st.idle_epoch == st.epoch
                && (rest == Rest::AwaitingInput || !st.idle_timed))
            || (st.slots.iter().all(Option::is_none) && st.conns.is_empty())
    }

    /// The calling task is about to wait for the network with nothing to
    /// do: the firmware is idle until the next host event (or, `timed`,
    /// until its receive timeout fires).
    fn mark_idle(&self, st: &mut State, timed: bool) {
        st.idle = true;
        st.idle_timed = timed;
        st.idle_epoch = st.epoch;
        self.cv.notify_all();
    }

    /// Waits until the firmware is blocked waiting for the network with
    /// nothing to do after every host event so far. Returns false on
    /// timeout.
    pub fn wait_idle(&self, timeout: Duration, rest: Rest) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            if Self::at_rest(&st, rest) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .cv
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// A chip reset: the stack forgets every socket and connection. Peers
    /// find out from the RST their next segment draws; the host is told to
    /// reset them now.
    pub fn reset(&self) {
        let mut st = self.lock();
        let conns: Vec<ConnId> = st.conns.keys().copied().collect();
        st.conns.clear();
        for s in st.slots.iter_mut() {
            *s = None;
        }
        st.halted = false;
        st.idle = false;
        st.epoch += 1;
        self.cv.notify_all();
        drop(st);
        for c in conns {
            self.wire.close(c, true);
        }
    }

    /// Power off: every blocked call returns [`Errno::HALTED`].
    pub fn halt(&self) {
        let mut st = self.lock();
        st.halted = true;
        self.cv.notify_all();
    }

    /// Connections the firmware still holds (accepted or in the backlog).
    pub fn open_connections(&self) -> Vec<ConnId> {
        let st = self.lock();
        let mut v: Vec<ConnId> = st.conns.keys().copied().collect();
        v.sort_unstable();
        v
    }
}
