//! A plain WebSocket echo server for a firmware that dials out, at a desk
//! (`esp-ws serve` without scenarios): every connection gets a correct
//! 101, its TEXT, BINARY and CONTINUATION frames back as they came
//! (unmasked), a PONG for each PING and a CLOSE for a CLOSE; each event is
//! handed on as a transcript line, as a scenario's transcript writes it.

use std::sync::Arc;
use std::time::Duration;

use esp_ws_client::{Closed, Connection, FrameEvent, RequestEvent};
use esp_ws_frame::{ClosePayload, FrameSpec, Opcode};
use tokio::time::Instant;

use crate::listen::Listener;

/// How long a client may take to send its request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may stay silent before the server closes it
/// (esp_websocket_client's default pingpong_timeout is 120 s; its
/// keep-alive PING comes every 10 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Most frames one connection is answered: a bound on a client that
/// floods.
pub const MAX_FRAMES: usize = 1_000_000;

/// One line of a connection's transcript: the connection's name (`c1`,
/// `c2`, … in order), the direction (`<` from the firmware, `>` from
/// esp-ws, `=` a note) and what happened.
#[derive(Clone, Debug)]
pub struct EchoLine {
    /// Since the server started.
    pub at: Duration,
    pub conn: String,
    pub dir: char,
    pub text: String,
}

/// Serves until the listener has accepted its most connections or the
/// future is dropped (Ctrl-C); `on_line` sees every transcript line.
pub async fn serve(mut listener: Listener, on_line: impl Fn(EchoLine) + Send + Sync + 'static) {
    let on_line: Arc<dyn Fn(EchoLine) + Send + Sync> = Arc::new(on_line);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut n = 0;
    loop {
        let Some(incoming) = listener
            .next(Instant::now() + Duration::from_secs(60))
            .await
        else {
            if listener.finished() {
                // Its most connections: nothing more will come.
                break;
            }
            continue;
        };
        n += 1;
        let name = format!("c{n}");
        let emit = {
            let on_line = on_line.clone();
            let name = name.clone();
            move |dir: char, text: String| {
                on_line(EchoLine {
                    at: start.elapsed(),
                    conn: name.clone(),
                    dir,
                    text,
                })
            }
        };
        emit('=', format!("{} connected", incoming.peer));
        match Connection::accepted(incoming.stream) {
            Ok(conn) => {
                tasks.spawn(echo_connection(conn, emit));
            }
            Err(e) => emit('=', format!("cannot use the connection: {e}")),
        }
        // Finished connections free their tasks.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

async fn echo_connection(mut conn: Connection, emit: impl Fn(char, String)) {
    let request = match conn.read_request(Instant::now() + REQUEST_TIMEOUT).await {
        Ok(RequestEvent::Request(r)) => r,
        Ok(RequestEvent::Closed { how, .. }) => {
            emit('<', format!("closed ({how}) without a request"));
            return;
        }
        Ok(RequestEvent::Timeout { .. }) => {
            emit(
                '=',
                format!("no request within {REQUEST_TIMEOUT:?}: closing"),
            );
            conn.close(Closed::Fin, Instant::now() + Duration::from_secs(1))
                .await;
            return;
        }
        Err(e) => {
            emit('=', format!("unreadable request: {e}: closing"));
            conn.close(Closed::Fin, Instant::now() + Duration::from_secs(1))
                .await;
            return;
        }
    };
    emit(
        '<',
        format!("{} {} {}", request.method, request.target, request.version),
    );
    for (n, v) in &request.headers {
        emit('<', format!("  {n}: {v}"));
    }
    let key = request.header("Sec-WebSocket-Key").unwrap_or_default();
    let accept = esp_ws_frame::accept_key(key.as_bytes());
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    if let Err(e) = conn.write(&[answer.as_bytes()], Duration::ZERO).await {
        emit('=', format!("writing the answer: {e}"));
        return;
    }
    emit('>', "HTTP/1.1 101 Switching Protocols".into());
    for _ in 0..MAX_FRAMES {
        let ev = match conn.next_frame(Instant::now() + IDLE_TIMEOUT).await {
            Ok(ev) => ev,
            Err(e) => {
                emit('=', format!("reading: {e}"));
                return;
            }
        };
        let f = match ev {
            FrameEvent::Frame(f) => f,
            FrameEvent::Closed { how, .. } => {
                emit('<', format!("closed ({how})"));
                return;
            }
            FrameEvent::Timeout { .. } => {
                emit('=', format!("nothing for {IDLE_TIMEOUT:?}: closing"));
                conn.close(Closed::Fin, Instant::now() + Duration::from_secs(1))
                    .await;
                return;
            }
            FrameEvent::TooLarge(e) => {
                emit('=', format!("{e}: closing"));
                conn.close(Closed::Rst, Instant::now()).await;
                return;
            }
        };
        emit('<', f.summary());
        let reply = match f.opcode {
            Opcode::TEXT | Opcode::BINARY | Opcode::CONTINUATION => {
                Some(FrameSpec::new(f.opcode, f.payload.clone()).with_fin(f.fin))
            }
            Opcode::PING => Some(FrameSpec::new(Opcode::PONG, f.payload.clone())),
            Opcode::CLOSE => {
                let body = match esp_ws_frame::parse_close_payload(&f.payload) {
                    ClosePayload::Code { code, .. } => esp_ws_frame::close_payload(Some(code), b""),
                    _ => Vec::new(),
                };
                Some(FrameSpec::new(Opcode::CLOSE, body))
            }
            _ => None,
        };
        let Some(spec) = reply else {
            continue;
        };
        let Ok(bytes) = esp_ws_frame::encode(&spec) else {
            continue;
        };
        if let Err(e) = conn.write(&[&bytes], Duration::ZERO).await {
            emit('=', format!("writing: {e}"));
            return;
        }
        if let Ok((frames, _)) = esp_ws_frame::decode_all(&bytes, u64::MAX)
            && let Some(sent) = frames.first()
        {
            emit('>', sent.summary());
        }
        if f.opcode == Opcode::CLOSE {
            let (_, how) = conn
                .close(Closed::Fin, Instant::now() + Duration::from_secs(5))
                .await;
            emit(
                '>',
                format!(
                    "close TCP (FIN){}",
                    how.map(|h| format!("; the client closed ({h})"))
                        .unwrap_or_default()
                ),
            );
            return;
        }
    }
    emit('=', format!("{MAX_FRAMES} frames: closing"));
    conn.close(Closed::Fin, Instant::now() + Duration::from_secs(1))
        .await;
}
