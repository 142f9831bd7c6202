//! lwIP's netconn API (lwip/src/api/api_lib.c): the sequential TCP API
//! below the socket layer, which firmwares may call directly
//! (`netconn_new`, `netconn_bind`, `netconn_listen`, `netconn_accept`,
//! `netconn_recv`, `netbuf_data`, `netconn_write`, `netconn_close`,
//! `netconn_delete`). No socket numbers are involved; the model keeps a
//! netconn in the same table as sockets, which nothing shows.
//!
//! What it reproduces, because the firmwares on it depend on it:
//! - `netconn_recv` hands out what arrived as one piece: a `netbuf` whose
//!   first pbuf is one TCP segment. A host's read stands in for one
//!   segment, cut at [`TCP_MSS`] (the segments a peer sends are at most
//!   that long). `netbuf_data` gives the first pbuf only.
//! - every blocking call waits without a timeout (no
//!   `netconn_set_recvtimeout`), and a task blocked in `netconn_accept` or
//!   `netconn_recv` with nothing to take is the firmware at rest.
//! - a connection reset while it waits in the accept mailbox is still
//!   handed out by `netconn_accept` (lwIP 2.0 api_msg.c `err_tcp` only
//!   marks the new netconn); its first `netconn_recv` fails.
//! - closing with data received but not taken by `netconn_recv` resets the
//!   connection (`tcp_close_shutdown`: the receive window is not full), as
//!   a socket's `close` does.

use std::collections::VecDeque;

use super::{ConnId, Lwip, Sock};
use crate::chip;

/// CONFIG_TCP_MSS of the ESP-IDF v3.0 build of the netconn tutorial
/// (its sdkconfig, fact sheet lwip-netconn-ws-server.md section 1).
pub const TCP_MSS: usize = 1436;

/// `DEFAULT_ACCEPTMBOX_SIZE` of ESP-IDF v3.0's lwipopts.h (fact sheet
/// section 3): connections waiting to be accepted. The host's kernel has
/// accepted them already, so more simply wait (as with sockets).
pub const NETCONN_ACCEPTMBOX_SIZE: usize = 6;

/// `struct netconn *`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Netconn(i32);

/// What `netconn_recv` gave: the bytes of the netbuf's first pbuf
/// (`netbuf_data`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Netbuf(pub Vec<u8>);

/// The `err_t` values the model's netconn calls return.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum NetconnErr {
    /// ERR_CLSD: the peer closed (FIN), or the netconn is closed.
    Closed,
    /// ERR_RST / ERR_ABRT: the connection was reset.
    Reset,
    /// ERR_CONN: not connected.
    NotConnected,
    /// ERR_MEM: out of netconns.
    Memory,
    /// The CPU stopped while the call was blocked.
    Halted,
}

impl Lwip {
    /// `netconn_new(NETCONN_TCP)`.
    pub fn netconn_new(&self) -> Result<Netconn, NetconnErr> {
        let mut st = self.lock();
        self.alloc(&mut st, Sock::NetconnNew { port: None })
            .map(Netconn)
            .map_err(|_| NetconnErr::Memory)
    }

    /// `netconn_bind(conn, NULL, port)`: any local address.
    pub fn netconn_bind(&self, conn: Netconn, port: u16) -> Result<(), NetconnErr> {
        let mut st = self.lock();
        let i = self.slot(conn.0).ok_or(NetconnErr::NotConnected)?;
        match st.slots[i].as_mut() {
            Some(Sock::NetconnNew { port: p }) => {
                *p = Some(port);
                Ok(())
            }
            _ => Err(NetconnErr::NotConnected),
        }
    }

    /// `netconn_listen(conn)`: the host's connections come here from now on
    /// (the host maps its own port to the one bound).
    pub fn netconn_listen(&self, conn: Netconn) -> Result<(), NetconnErr> {
        let mut st = self.lock();
        let i = self.slot(conn.0).ok_or(NetconnErr::NotConnected)?;
        match st.slots[i] {
            Some(Sock::NetconnNew { .. }) => {
                st.slots[i] = Some(Sock::Listen {
                    backlog: VecDeque::new(),
                    limit: NETCONN_ACCEPTMBOX_SIZE,
                });
                Ok(())
            }
            _ => Err(NetconnErr::NotConnected),
        }
    }

    /// `netconn_accept(conn, &newconn)`: waits for a connection.
    pub fn netconn_accept(&self, conn: Netconn) -> Result<Netconn, NetconnErr> {
        let mut st = self.lock();
        let i = self.slot(conn.0).ok_or(NetconnErr::NotConnected)?;
        loop {
            if st.halted {
                return Err(NetconnErr::Halted);
            }
            let next = match st.slots[i].as_mut() {
                Some(Sock::Listen { backlog, .. }) => backlog.pop_front(),
                _ => return Err(NetconnErr::NotConnected),
            };
            if let Some(c) = next {
                st.idle = false;
                return match self.alloc(
                    &mut st,
                    Sock::Tcp {
                        conn: c,
                        rcvtimeo: None,
                    },
                ) {
                    Ok(fd) => Ok(Netconn(fd)),
                    Err(_) => {
                        // No netconn left: lwIP aborts the new connection.
                        let was_reset = st.conns.remove(&c).is_none_or(|s| s.reset);
                        drop(st);
                        if !was_reset {
                            self.wire.close(c, true);
                        }
                        Err(NetconnErr::Memory)
                    }
                };
            }
            self.mark_idle(&mut st, false);
            drop(st);
            chip::blocking();
            st = self.lock();
            let empty = matches!(
                st.slots[i].as_ref(),
                Some(Sock::Listen { backlog, .. }) if backlog.is_empty()
            );
            if empty && !st.halted {
                st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        }
    }

    fn netconn_conn(&self, st: &super::State, conn: Netconn) -> Result<ConnId, NetconnErr> {
        let i = self.slot(conn.0).ok_or(NetconnErr::NotConnected)?;
        match &st.slots[i] {
            Some(Sock::Tcp { conn, .. }) => Ok(*conn),
            _ => Err(NetconnErr::NotConnected),
        }
    }

    /// `netconn_recv(conn, &buf)` then `netbuf_data(buf, ...)`: waits for
    /// the next segment and returns it (its first pbuf).
    pub fn netconn_recv(&self, conn: Netconn) -> Result<Netbuf, NetconnErr> {
        self.recv_segment(conn.0, TCP_MSS)
    }

    /// What lwIP's raw API hands a connected pcb's `tcp_recv` callback,
    /// for a stack built with `mss`: the next segment (one host read, cut
    /// at `mss`), waiting for it; `Closed` is the peer's FIN, `Reset` its
    /// RST. The SDK's espconn on the ESP8266 receives this way; a socket
    /// `fd` from [`Lwip::tcp_socket`] and [`Lwip::connect`] stands for the
    /// pcb.
    pub fn recv_segment(&self, fd: super::Fd, mss: usize) -> Result<Netbuf, NetconnErr> {
        let mut st = self.lock();
        let id = self.netconn_conn(&st, Netconn(fd))?;
        loop {
            if st.halted {
                return Err(NetconnErr::Halted);
            }
            let Some(c) = st.conns.get_mut(&id) else {
                return Err(NetconnErr::Reset);
            };
            if !c.rx.is_empty() {
                let seg = c.segs.front().copied().unwrap_or(c.rx.len());
                let n = seg.min(mss).min(c.rx.len());
                let data = c.take(n);
                st.idle = false;
                return Ok(Netbuf(data));
            }
            if c.reset {
                st.idle = false;
                return Err(NetconnErr::Reset);
            }
            if c.eof {
                c.eof_delivered = true;
                st.idle = false;
                return Err(NetconnErr::Closed);
            }
            self.mark_idle(&mut st, false);
            drop(st);
            chip::blocking();
            st = self.lock();
            let waiting = st
                .conns
                .get(&id)
                .is_some_and(|c| c.rx.is_empty() && !c.reset && !c.eof);
            if waiting && !st.halted {
                st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        }
    }

    /// `netconn_write(conn, data, len, NETCONN_COPY)`: all of it goes to
    /// the wire (a zero-length write sends nothing and succeeds).
    pub fn netconn_write(&self, conn: Netconn, data: &[u8]) -> Result<(), NetconnErr> {
        let st = self.lock();
        if st.halted {
            return Err(NetconnErr::Halted);
        }
        let id = self.netconn_conn(&st, conn)?;
        match st.conns.get(&id) {
            Some(c) if !c.reset => {}
            _ => return Err(NetconnErr::Reset),
        }
        drop(st);
        if !data.is_empty() {
            self.wire.send(id, data);
        }
        Ok(())
    }

    /// `netconn_close(conn)`: FIN, or RST when received data was left
    /// untaken; a listening netconn stops listening.
    pub fn netconn_close(&self, conn: Netconn) -> Result<(), NetconnErr> {
        self.close(conn.0).map_err(|e| match e {
            super::Errno::HALTED => NetconnErr::Halted,
            _ => NetconnErr::Closed,
        })
    }

    /// `netconn_delete(conn)`: frees the netconn, closing it first if that
    /// has not been done.
    pub fn netconn_delete(&self, conn: Netconn) {
        if self.fd_is_valid(conn.0) {
            let _ = self.close(conn.0);
        }
    }
}
