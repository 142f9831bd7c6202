//! One scripted connection: raw bytes out (in chunks, with delays), an HTTP
//! response (or, on a connection esp-ws accepted as the server, a request)
//! and WebSocket frames in, and exactly how the peer closed (FIN or RST). It
//! never validates or repairs what it sends or receives: the point is to see
//! what the peer does with anything.

use std::net::SocketAddr;
use std::time::Duration;

use esp_ws_frame::{DecodeError, Decoder, Frame, Request, RequestParse, Response, ResponseParse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How a TCP connection ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Closed {
    /// Orderly close (the peer sent FIN; read returned 0).
    Fin,
    /// Reset (ECONNRESET).
    Rst,
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Closed::Fin => "FIN",
            Closed::Rst => "RST",
        })
    }
}

/// What arrived while waiting for a response.
#[derive(Debug)]
pub enum ResponseEvent {
    Response(Response),
    /// The connection closed before a complete response; `partial` holds
    /// whatever bytes came first.
    Closed {
        how: Closed,
        partial: Vec<u8>,
    },
    /// Nothing complete before the deadline.
    Timeout {
        partial: Vec<u8>,
    },
}

/// What arrived while waiting for a client's request (server side).
#[derive(Debug)]
pub enum RequestEvent {
    Request(Request),
    /// The connection closed before a complete request head.
    Closed {
        how: Closed,
        partial: Vec<u8>,
    },
    /// Nothing complete before the deadline.
    Timeout {
        partial: Vec<u8>,
    },
}

/// What arrived while waiting for a frame.
#[derive(Debug)]
pub enum FrameEvent {
    Frame(Frame),
    Closed {
        how: Closed,
        trailing: Vec<u8>,
    },
    Timeout {
        partial: Vec<u8>,
    },
    /// The peer announced a frame longer than the client will buffer.
    TooLarge(DecodeError),
}

/// A write that did not complete: how many pieces went out before it failed.
#[derive(Debug)]
pub struct WriteError {
    pub written: usize,
    pub error: std::io::Error,
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for WriteError {}

pub struct Connection {
    stream: Option<TcpStream>,
    peer: SocketAddr,
    /// Received bytes not yet consumed (HTTP head, then frames).
    inbox: Vec<u8>,
    decoder: Decoder,
    handshake_done: bool,
    closed: Option<Closed>,
    /// Bytes received in total (for transcripts).
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Frames larger than this are not buffered (a protection against peers
/// that announce gigabytes).
pub const MAX_FRAME: u64 = 16 * 1024 * 1024;

impl Connection {
    /// Connects with a deadline.
    pub async fn connect(addr: SocketAddr, timeout: Duration) -> std::io::Result<Connection> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("connecting to {addr} timed out after {timeout:?}"),
                )
            })??;
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            stream: Some(stream),
            peer: addr,
            inbox: Vec::new(),
            decoder: Decoder::new(MAX_FRAME),
            handshake_done: false,
            closed: None,
            bytes_in: 0,
            bytes_out: 0,
        })
    }

    /// A connection esp-ws accepted, playing the server: the first thing
    /// to read is the client's request ([`Connection::read_request`]).
    pub fn accepted(stream: TcpStream) -> std::io::Result<Connection> {
        let peer = stream.peer_addr()?;
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            stream: Some(stream),
            peer,
            inbox: Vec::new(),
            decoder: Decoder::new(MAX_FRAME),
            handshake_done: false,
            closed: None,
            bytes_in: 0,
            bytes_out: 0,
        })
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The client's end of the connection (None once it is closed).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.stream.as_ref().and_then(|s| s.local_addr().ok())
    }

    /// Set when the peer's close was observed.
    pub fn closed(&self) -> Option<Closed> {
        self.closed
    }

    /// Writes the pieces one `write` each, pausing `delay` between them
    /// (a frame header split over many TCP segments is a case servers get
    /// wrong).
    pub async fn write(&mut self, pieces: &[&[u8]], delay: Duration) -> Result<(), WriteError> {
        let n = pieces.len();
        for (i, piece) in pieces.iter().enumerate() {
            let failed = |error| WriteError { written: i, error };
            let stream = self.stream.as_mut().ok_or_else(|| {
                failed(std::io::Error::new(
                    std::io::ErrorKind::NotConnected,
                    "connection already closed",
                ))
            })?;
            stream.write_all(piece).await.map_err(failed)?;
            stream.flush().await.map_err(failed)?;
            self.bytes_out += piece.len() as u64;
            if i + 1 < n && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
        }
        Ok(())
    }

    /// Reads more bytes into the inbox. Ok(false) on timeout.
    async fn fill(&mut self, deadline: Instant) -> std::io::Result<bool> {
        if self.closed.is_some() {
            return Ok(true);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Ok(true);
        };
        let mut buf = [0u8; 16 * 1024];
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => Ok(false),
            Ok(Ok(0)) => {
                self.closed = Some(Closed::Fin);
                Ok(true)
            }
            Ok(Ok(n)) => {
                self.bytes_in += n as u64;
                if self.handshake_done {
                    self.decoder.push(&buf[..n]);
                } else {
                    self.inbox.extend_from_slice(&buf[..n]);
                }
                Ok(true)
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                self.closed = Some(Closed::Rst);
                Ok(true)
            }
            Ok(Err(e)) => Err(e),
        }
    }

    /// Waits for the HTTP response. After a 101, the bytes that follow it
    /// are WebSocket frames.
    pub async fn read_response(&mut self, deadline: Instant) -> std::io::Result<ResponseEvent> {
        loop {
            match esp_ws_frame::parse_response(&self.inbox) {
                Ok(ResponseParse::Complete(resp)) => {
                    let used = if resp.status == 101 {
                        resp.head_len
                    } else {
                        resp.head_len + resp.body.len()
                    };
                    let rest = self.inbox.split_off(used.min(self.inbox.len()));
                    self.inbox.clear();
                    if resp.status == 101 {
                        self.handshake_done = true;
                        self.decoder.push(&rest);
                    } else {
                        self.inbox = rest;
                    }
                    return Ok(ResponseEvent::Response(resp));
                }
                Ok(ResponseParse::Incomplete) => {}
                Err(e) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        e.to_string(),
                    ));
                }
            }
            if let Some(how) = self.closed {
                return Ok(ResponseEvent::Closed {
                    how,
                    partial: std::mem::take(&mut self.inbox),
                });
            }
            if !self.fill(deadline).await? {
                return Ok(ResponseEvent::Timeout {
                    partial: self.inbox.clone(),
                });
            }
        }
    }

    /// Waits for the client's request head (server side). Whatever follows
    /// the head is read as WebSocket frames from then on: a client sends
    /// frames only after the answer, whatever the answer was.
    pub async fn read_request(&mut self, deadline: Instant) -> std::io::Result<RequestEvent> {
        loop {
            match esp_ws_frame::parse_request(&self.inbox) {
                Ok(RequestParse::Complete { request, head_len }) => {
                    let rest = self.inbox.split_off(head_len.min(self.inbox.len()));
                    self.inbox.clear();
                    self.handshake_done = true;
                    self.decoder.push(&rest);
                    return Ok(RequestEvent::Request(request));
                }
                Ok(RequestParse::Incomplete) => {}
                Err(e) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        e.to_string(),
                    ));
                }
            }
            if let Some(how) = self.closed {
                return Ok(RequestEvent::Closed {
                    how,
                    partial: std::mem::take(&mut self.inbox),
                });
            }
            if !self.fill(deadline).await? {
                return Ok(RequestEvent::Timeout {
                    partial: self.inbox.clone(),
                });
            }
        }
    }

    /// Waits for the next frame. Until a 101 has been read, the bytes are
    /// not known to be frames: a frame read then takes its bytes off the
    /// front and leaves the rest, so that a response can still follow (a
    /// firmware may write a frame on a socket before its handshake answer).
    pub async fn next_frame(&mut self, deadline: Instant) -> std::io::Result<FrameEvent> {
        loop {
            let decoded = if self.handshake_done {
                self.decoder.next_frame()
            } else {
                self.decoder.push(&std::mem::take(&mut self.inbox));
                let r = self.decoder.next_frame();
                self.inbox = self.decoder.take_buffered();
                r
            };
            match decoded {
                Ok(Some(f)) => return Ok(FrameEvent::Frame(f)),
                Ok(None) => {}
                Err(e) => return Ok(FrameEvent::TooLarge(e)),
            }
            if let Some(how) = self.closed {
                return Ok(FrameEvent::Closed {
                    how,
                    trailing: self.take_unread(),
                });
            }
            if !self.fill(deadline).await? {
                let partial = if self.handshake_done {
                    self.decoder.buffered().to_vec()
                } else {
                    self.inbox.clone()
                };
                return Ok(FrameEvent::Timeout { partial });
            }
        }
    }

    /// The bytes received and not yet read as a response or a frame.
    fn take_unread(&mut self) -> Vec<u8> {
        if self.handshake_done {
            self.decoder.take_buffered()
        } else {
            std::mem::take(&mut self.inbox)
        }
    }

    /// Closes the client side.
    ///
    /// RST: `SO_LINGER` 0 and close, at once. FIN: shut the write side down
    /// and keep reading until the server closes too (or `deadline`), so that
    /// bytes the server still sends do not turn the close into an RST (the
    /// kernel resets a socket closed with unread data). Returns the bytes
    /// read while draining and how the server's side ended, if it did.
    pub async fn close(&mut self, how: Closed, deadline: Instant) -> (Vec<u8>, Option<Closed>) {
        let Some(mut stream) = self.stream.take() else {
            return (Vec::new(), self.closed);
        };
        if how == Closed::Rst {
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            drop(stream);
            return (Vec::new(), self.closed);
        }
        let _ = stream.shutdown().await;
        let mut drained = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        while self.closed.is_none() {
            match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                Err(_) => break,
                Ok(Ok(0)) => self.closed = Some(Closed::Fin),
                Ok(Ok(n)) => {
                    self.bytes_in += n as u64;
                    drained.extend_from_slice(&buf[..n]);
                }
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    self.closed = Some(Closed::Rst)
                }
                Ok(Err(_)) => break,
            }
        }
        drop(stream);
        (drained, self.closed)
    }

    pub fn is_open(&self) -> bool {
        self.stream.is_some()
    }
}
