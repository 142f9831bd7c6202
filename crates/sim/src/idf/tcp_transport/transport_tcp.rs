//! The TCP transport (`esp_transport_tcp_init()`: transport_ssl.c's plain
//! TCP functions over esp-tls's `esp_tls_plain_tcp_connect()`), on the
//! model's lwIP sockets.

use std::sync::Arc;
use std::time::Duration;

use crate::idf::lwip::{Errno, Fd, Lwip};

/// What a read on the transport gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    Data(Vec<u8>),
    /// The poll before the read timed out (`esp_transport_read()` == 0).
    Timeout,
    /// The peer closed: FIN (`ERR_TCP_TRANSPORT_CONNECTION_CLOSED_BY_FIN`).
    Fin,
    /// The connection failed: RST, or the chip stopped.
    Error(Errno),
}

/// Why `esp_transport_connect()` failed at the TCP level.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ConnectError {
    /// The peer refused, or could not be reached.
    Failed(Errno),
    /// No answer within the connect timeout (esp-tls connects
    /// non-blocking and waits in `select()` for `timeout_ms`).
    Timeout,
}

pub struct TcpTransport {
    lwip: Arc<Lwip>,
    fd: Option<Fd>,
}

impl TcpTransport {
    pub fn new(lwip: Arc<Lwip>) -> TcpTransport {
        TcpTransport { lwip, fd: None }
    }

    /// `tcp_connect()`: a new socket, connected to `host:port` within
    /// `timeout`.
    pub fn connect(
        &mut self,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<(), ConnectError> {
        self.close();
        let fd = self.lwip.tcp_socket().map_err(ConnectError::Failed)?;
        match self.lwip.connect(fd, host, port, Some(timeout)) {
            Ok(()) => {
                self.fd = Some(fd);
                Ok(())
            }
            Err(e) => {
                let _ = self.lwip.close(fd);
                Err(if e == Errno::ETIMEDOUT {
                    ConnectError::Timeout
                } else {
                    ConnectError::Failed(e)
                })
            }
        }
    }

    pub fn is_open(&self) -> bool {
        self.fd.is_some()
    }

    /// The socket, for a task that polls it without holding the lock the
    /// transport is kept under (esp_websocket_client polls so).
    pub fn socket(&self) -> Option<(Arc<Lwip>, Fd)> {
        self.fd.map(|fd| (self.lwip.clone(), fd))
    }

    /// `base_poll_read()`: `select()` for reading, at most `timeout`.
    /// Ok(false) on timeout; an error when the socket is gone.
    pub fn poll_read(&self, timeout: Duration) -> Result<bool, Errno> {
        let fd = self.fd.ok_or(Errno::EBADF)?;
        self.lwip.poll_read(fd, timeout)
    }

    /// `tcp_read()`: waits up to `timeout` for the socket to be readable,
    /// then one `recv()` of at most `max` bytes (what is there).
    pub fn read(&self, max: usize, timeout: Duration) -> Read {
        let Some(fd) = self.fd else {
            return Read::Error(Errno::EBADF);
        };
        match self.lwip.poll_read(fd, timeout) {
            Ok(false) => return Read::Timeout,
            Ok(true) => {}
            Err(e) => return Read::Error(e),
        }
        match self.lwip.recv(fd, max) {
            Ok(d) if d.is_empty() => Read::Fin,
            Ok(d) => Read::Data(d),
            // A FIN already delivered once: lwIP answers ENOTCONN.
            Err(Errno::ENOTCONN) => Read::Fin,
            Err(e) => Read::Error(e),
        }
    }

    /// What a `recv(MSG_PEEK)` would find on the socket.
    pub fn peek(&self) -> Result<crate::idf::lwip::Peek, Errno> {
        let fd = self.fd.ok_or(Errno::EBADF)?;
        self.lwip.peek(fd)
    }

    /// `tcp_write()`: one `send()` (lwIP copies it all).
    pub fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let fd = self.fd.ok_or(Errno::EBADF)?;
        self.lwip.send(fd, data)
    }

    /// `base_close()`: closes the socket (an RST when received data is
    /// left unread, as lwIP does).
    pub fn close(&mut self) {
        if let Some(fd) = self.fd.take() {
            let _ = self.lwip.close(fd);
        }
    }
}
