//! The ESP8266 NONOS SDK's espconn, as a TCP client (the SDK's
//! lwip/app/espconn.c and espconn_tcp.c, which NodeMCU builds from
//! app/lwip/app/): `espconn_connect`, `espconn_send`,
//! `espconn_disconnect`, `espconn_delete`, and the callbacks a caller
//! registers (`espconn_regist_connectcb`, `_recvcb`, `_sentcb`,
//! `_disconcb`, `_reconcb`), here one function taking an [`Event`].
//!
//! The NONOS SDK has no threads: lwIP runs its raw API from the SDK's one
//! task and calls espconn, which calls the registered callbacks. The
//! model's lwIP is blocking, so each connection has a task of its own
//! that stands for lwIP's raw callbacks (`tcp_connected`, `tcp_recv`,
//! `tcp_err`) and hands each one to the registered function; a caller
//! that runs everything in one task (NodeMCU's Lua task) posts them there.
//!
//! What it reproduces (the SDK's espconn_tcp.c, `espconn_client_*`):
//! - a connection refused, or reset later, is the reconnect callback with
//!   ESPCONN_RST (`espconn_client_err` passes lwIP's err on: the SDK's
//!   lwIP numbers ERR_RST -9, which espconn.h names ESPCONN_RST; which
//!   error a refused SYN gives is inferred, fact sheet
//!   nodemcu-websocket-client.md section 9);
//! - the peer's FIN is answered with a FIN (`espconn_client_recv` with no
//!   pbuf calls `espconn_client_close`: `tcp_close`), then the disconnect
//!   callback;
//! - each TCP segment is one receive callback (`tcp_recv` hands one pbuf
//!   chain per segment), segments being at most [`TCP_MSS`];
//! - `espconn_disconnect` closes (FIN, or RST with unread data, as lwIP's
//!   `tcp_close` does), then the disconnect callback;
//! - the sent callback comes once what was sent is acknowledged: the
//!   model's peer acknowledges at once, so it follows each send (inferred).
//!
//! Not modelled: TLS (`espconn_secure_*`; the modelled NodeMCU build has
//! no SSL), listening (`espconn_accept`), UDP.

use std::sync::{Arc, Mutex};

use super::lwip::{Errno, Fd, Lwip, NetconnErr};
use crate::chip::Services;

/// TCP_MSS of NodeMCU's ESP8266 lwIP (app/include/lwipopts.h): the
/// longest segment a receive callback gets.
pub const TCP_MSS: usize = 1460;

/// `ESPCONN_RST` (include/espconn.h): the connection was reset.
pub const ESPCONN_RST: i8 = -9;

/// What espconn calls back, one registered callback each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `connect_callback`: TCP is up.
    Connected,
    /// `recv_callback`: one segment.
    Received(Vec<u8>),
    /// `sent_callback`: a send was acknowledged.
    Sent,
    /// `disconnect_callback`: the connection is closed.
    Disconnected,
    /// `reconnect_callback`: a TCP error, with espconn's error code.
    Error(i8),
}

type Callback = dyn Fn(Event) + Send + Sync;

#[derive(Copy, Clone, PartialEq, Eq)]
enum Phase {
    /// The SYN is out.
    Connecting,
    Connected,
    /// `espconn_disconnect` was called, or the connection ended.
    Closed,
    /// `espconn_delete`: no more callbacks.
    Deleted,
}

struct Conn {
    fd: Fd,
    /// The socket standing for the pcb is closed (freed: lwIP may hand its
    /// number out again, so it is closed once, under this lock).
    fd_closed: bool,
    phase: Phase,
    callback: Arc<Callback>,
}

impl Conn {
    fn close_fd(&mut self, lwip: &Lwip) {
        if !std::mem::replace(&mut self.fd_closed, true) {
            let _ = lwip.close(self.fd);
        }
    }
}

/// One `struct espconn` of type ESPCONN_TCP, connecting as a client.
pub struct Espconn {
    lwip: Arc<Lwip>,
    conn: Arc<Mutex<Conn>>,
}

impl Espconn {
    /// `espconn_regist_*cb` then `espconn_connect` to `ip:port`. None
    /// when lwIP has no pcb left (`espconn_connect` returns ESPCONN_MEM
    /// and calls nothing back).
    pub fn connect(
        chip: &Services,
        lwip: &Arc<Lwip>,
        ip: [u8; 4],
        port: u16,
        callback: impl Fn(Event) + Send + Sync + 'static,
    ) -> Option<Espconn> {
        let fd = lwip.tcp_socket().ok()?;
        let conn = Arc::new(Mutex::new(Conn {
            fd,
            fd_closed: false,
            phase: Phase::Connecting,
            callback: Arc::new(callback),
        }));
        {
            let (lwip, conn) = (lwip.clone(), conn.clone());
            let host = format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]);
            chip.create_task("espconn", move || client_task(&lwip, &conn, &host, port));
        }
        Some(Espconn {
            lwip: lwip.clone(),
            conn,
        })
    }

    /// `espconn_send`: one write; the sent callback follows. Nothing
    /// while not connected (`espconn_send` returns ESPCONN_ARG).
    pub fn send(&self, data: &[u8]) {
        let (fd, callback) = {
            let c = lock(&self.conn);
            if c.phase != Phase::Connected {
                return;
            }
            (c.fd, c.callback.clone())
        };
        if self.lwip.send(fd, data).is_ok() {
            callback(Event::Sent);
        }
    }

    /// `espconn_disconnect`: the connection closes, then the disconnect
    /// callback. A connection still opening is closed once it opens.
    pub fn disconnect(&self) {
        let callback = {
            let mut c = lock(&self.conn);
            match c.phase {
                Phase::Connected => c.close_fd(&self.lwip),
                // The task closes it when the SYN is answered.
                Phase::Connecting => {}
                Phase::Closed | Phase::Deleted => return,
            }
            c.phase = Phase::Closed;
            c.callback.clone()
        };
        callback(Event::Disconnected);
    }

    /// `espconn_delete`: espconn forgets the connection and calls nothing
    /// back any more. It closes nothing (`espconn_tcp_delete` acts on
    /// servers only): a connection still open stays open on the wire
    /// until the peer ends it; what arrives meanwhile is dropped, and the
    /// peer's FIN is answered (lwIP's `tcp_recv_null`, inferred: the pcb
    /// keeps espconn's callbacks in the SDK).
    pub fn delete(&self) {
        lock(&self.conn).phase = Phase::Deleted;
    }
}

fn lock(conn: &Mutex<Conn>) -> std::sync::MutexGuard<'_, Conn> {
    conn.lock().unwrap_or_else(|e| e.into_inner())
}

/// The callback, unless the caller deleted the espconn.
fn call(conn: &Mutex<Conn>, event: Event) {
    let callback = {
        let c = lock(conn);
        if c.phase == Phase::Deleted {
            return;
        }
        c.callback.clone()
    };
    callback(event);
}

/// lwIP's raw callbacks for one connection, in order: connected (or the
/// error), each segment, then the FIN or RST. Ends when the connection
/// does, or the chip stops.
fn client_task(lwip: &Lwip, conn: &Mutex<Conn>, host: &str, port: u16) {
    let fd = lock(conn).fd;
    match lwip.connect(fd, host, port, None) {
        Ok(()) => {}
        Err(Errno::ECONNREFUSED) => {
            let mut c = lock(conn);
            c.close_fd(lwip);
            if c.phase == Phase::Connecting {
                c.phase = Phase::Closed;
                drop(c);
                call(conn, Event::Error(ESPCONN_RST));
            }
            return;
        }
        // The chip stopped, or the host opens no connections: no answer
        // ever comes (the caller's own timeout decides).
        Err(_) => return,
    }
    {
        let mut c = lock(conn);
        match c.phase {
            Phase::Connecting => c.phase = Phase::Connected,
            // Closed while the SYN was out: closed now.
            Phase::Closed => {
                c.close_fd(lwip);
                return;
            }
            Phase::Connected | Phase::Deleted => {}
        }
    }
    call(conn, Event::Connected);
    loop {
        // A closed socket's number may already be another connection's: it
        // is not read again.
        if lock(conn).fd_closed {
            return;
        }
        let got = lwip.recv_segment(fd, TCP_MSS);
        if lock(conn).phase == Phase::Closed {
            // espconn_disconnect closed it: nothing more is called back.
            return;
        }
        match got {
            Ok(segment) => call(conn, Event::Received(segment.0)),
            Err(e @ (NetconnErr::Closed | NetconnErr::Reset)) => {
                let mut c = lock(conn);
                c.close_fd(lwip);
                if c.phase != Phase::Connected {
                    return;
                }
                c.phase = Phase::Closed;
                drop(c);
                call(
                    conn,
                    if e == NetconnErr::Closed {
                        Event::Disconnected
                    } else {
                        Event::Error(ESPCONN_RST)
                    },
                );
                return;
            }
            Err(_) => return,
        }
    }
}
