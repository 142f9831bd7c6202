//! The server role's steps: `expect_connect` (a connection inside a time
//! window), `expect_request`, `accept` and `drop`. The firmware dials the
//! listener the runner bound; connections are claimed in the order they
//! arrived, each judged on the instant it was accepted.

use std::collections::HashSet;

use base64::Engine;
use esp_ws_client::RequestEvent;
use esp_ws_frame::Request;
use tokio::time::Instant as TokioInstant;

use super::*;
use crate::listen::Listener;

/// What the server role measures against, beside the connections.
pub(crate) struct ServerState {
    listener: Listener,
    /// When esp-ws started the firmware.
    started: TokioInstant,
    /// When each step ended, and its kind.
    step_ends: Vec<(TokioInstant, &'static str)>,
    /// When the last connection ended, and what ended it.
    last_disconnect: Option<(TokioInstant, String)>,
    /// Connections whose end is counted already.
    ended: HashSet<String>,
    /// Every Sec-WebSocket-Key read so far, with its connection.
    keys: Vec<(String, String)>,
    /// Every masking key of a frame read so far.
    masks: HashSet<[u8; 4]>,
    /// The frame read last had a masking key seen before.
    pub(super) mask_repeated: bool,
}

/// A client's request, as read.
pub(super) struct ReadRequest {
    request: Request,
    /// The connection that sent the same key before, if one did.
    key_used_by: Option<String>,
}

impl ServerState {
    pub(super) fn new(listener: Listener, started: TokioInstant) -> ServerState {
        ServerState {
            listener,
            started,
            step_ends: Vec::new(),
            last_disconnect: None,
            ended: HashSet::new(),
            keys: Vec::new(),
            masks: HashSet::new(),
            mask_repeated: false,
        }
    }

    pub(super) fn step_ended(&mut self, index: usize, kind: &'static str) {
        // Steps end in order; a slot per step keeps indexes aligned.
        self.step_ends.truncate(index);
        self.step_ends.push((TokioInstant::now(), kind));
    }

    pub(super) fn saw_mask(&mut self, mask: Option<[u8; 4]>) {
        self.mask_repeated = match mask {
            Some(k) => !self.masks.insert(k),
            None => false,
        };
    }

    /// Connection `conn` ended now, seen during `step`.
    pub(super) fn disconnected(&mut self, conn: &str, step: (usize, &'static str)) {
        if self.ended.insert(conn.to_string()) {
            self.last_disconnect = Some((
                TokioInstant::now(),
                format!("{conn} ended (seen by step {} {})", step.0, step.1),
            ));
        }
    }

    /// Stops accepting; closes what arrived and no step claimed.
    pub(super) async fn stop_listening(&mut self) {
        self.listener.stop().await;
        for i in self.listener.unclaimed() {
            tracing::debug!("closing a connection from {} no step claimed", i.peer);
            drop(i.stream);
        }
    }

    fn since_start(&self, t: TokioInstant) -> String {
        format!("+{} s", secs(t.saturating_duration_since(self.started)))
    }
}

/// Seconds, as short as exact to the millisecond: `9.5`, `10`, `0.012`.
fn secs(d: Duration) -> String {
    let s = format!("{:.3}", d.as_secs_f64());
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// `d` after (or, negative, before) `reference`, in seconds.
fn signed_secs(at: TokioInstant, reference: TokioInstant) -> String {
    if at >= reference {
        secs(at - reference)
    } else {
        format!("-{}", secs(reference - at))
    }
}

impl Ctx<'_> {
    fn server(&mut self) -> Result<&mut ServerState, Fail> {
        self.server.as_mut().ok_or_else(|| {
            Fail::msg(
                "esp-ws is not listening: a server-role step needs the scenario run as one (\"role\": \"server\")",
            )
        })
    }

    pub(super) async fn expect_connect(
        &mut self,
        e: &sc::ExpectConnect,
        timeout: Duration,
    ) -> StepResult {
        let index = self.step.0;
        let srv = self.server()?;
        let (reference, what) = match e.after {
            sc::After::Start => (srv.started, "the firmware started".to_string()),
            sc::After::Previous => match index.checked_sub(1).and_then(|i| srv.step_ends.get(i)) {
                Some((t, kind)) => (*t, format!("step {} ({kind}) ended", index - 1)),
                None => (srv.started, "the firmware started".to_string()),
            },
            sc::After::Step(i) => match srv.step_ends.get(i) {
                Some((t, kind)) => (*t, format!("step {i} ({kind}) ended")),
                None => return Err(Fail::msg(format!("step {i} has not run"))),
            },
            sc::After::Disconnect => match &srv.last_disconnect {
                Some((t, what)) => (*t, what.clone()),
                None => {
                    return Err(Fail::msg(
                        "no connection has ended yet: `after: \"disconnect\"` counts from the last one that did",
                    ));
                }
            },
        };
        let deadline = match e.within {
            Some((_, max)) => reference + max,
            None => TokioInstant::now() + timeout,
        };
        let got = srv.listener.next(deadline).await;
        let last = match srv.listener.last_claimed() {
            Some(t) => format!(
                "the firmware last connected at {} (after it started)",
                srv.since_start(t)
            ),
            None => "the firmware has not connected since it started".to_string(),
        };
        let window = e
            .within
            .map(|(min, max)| format!("{}–{} s after {what}", secs(min), secs(max)));
        let incoming = match (got, &window) {
            (None, None) => {
                return Err(Fail::diff(
                    format!(
                        "no connection within {} ms; {last}",
                        self.declared.as_millis()
                    ),
                    "a connection from the firmware",
                    "(none)",
                ));
            }
            (None, Some(w)) => {
                return Err(Fail::diff(
                    format!("no connection within {w}; {last}"),
                    format!("a connection {w}"),
                    "(none)",
                ));
            }
            (Some(i), _) => i,
        };
        if let (Some((min, _)), Some(w)) = (e.within, &window)
            && incoming.at < reference + min
        {
            let at = signed_secs(incoming.at, reference);
            // It stays claimed: a later step must not take it for the next one.
            return Err(Fail::diff(
                format!("the firmware connected {at} s after {what}, before the window ({w})"),
                format!("a connection {w}"),
                format!("a connection {at} s after {what}"),
            ));
        }
        let conn = Connection::accepted(incoming.stream)
            .map_err(|err| Fail::msg(format!("the accepted connection: {err}")))?;
        self.conns.insert(
            e.conn.clone(),
            ConnState {
                conn,
                key: None,
                last_write: None,
                request: None,
            },
        );
        self.record(&e.conn, '=', "the firmware connected".into(), None);
        Ok(())
    }

    /// Reads the client's request on `name` (once), recording it.
    async fn read_request(&mut self, name: &str, deadline: TokioInstant) -> StepResult {
        if self.conn(name)?.request.is_some() {
            return Ok(());
        }
        let st = self.conn(name)?;
        let ev = st
            .conn
            .read_request(deadline)
            .await
            .map_err(|e| Fail::msg(format!("reading the request on {name}: {e}")))?;
        let request = match ev {
            RequestEvent::Request(r) => r,
            RequestEvent::Closed { how, partial } => {
                if let Some(srv) = &mut self.server {
                    srv.disconnected(name, self.step);
                }
                let got = if partial.is_empty() {
                    format!("closed ({how}) without a request")
                } else {
                    format!("closed ({how}) after \"{}\"", esc(&partial))
                };
                self.record(name, '<', got.clone(), None);
                return Err(Fail::diff(
                    "expected the client's request",
                    "a request",
                    got,
                ));
            }
            RequestEvent::Timeout { partial } => {
                let got = if partial.is_empty() {
                    format!("no request for {} ms", self.declared.as_millis())
                } else {
                    format!(
                        "an incomplete request after {} ms: \"{}\"",
                        self.declared.as_millis(),
                        esc(&partial)
                    )
                };
                return Err(Fail::diff(
                    "expected the client's request",
                    "a request",
                    got,
                ));
            }
        };
        let key = request.header("Sec-WebSocket-Key").map(str::to_string);
        let mut key_used_by = None;
        if let Some(k) = &key {
            // Random per connection: never in a snapshot.
            self.volatile.push((k.clone(), "[KEY]".into()));
            self.volatile
                .push((esp_ws_frame::accept_key(k.as_bytes()), "[ACCEPT]".into()));
            let srv = self.server()?;
            key_used_by = srv
                .keys
                .iter()
                .find(|(_, earlier)| earlier == k)
                .map(|(c, _)| c.clone());
            srv.keys.push((name.to_string(), k.clone()));
        }
        self.record(
            name,
            '<',
            format!("{} {} {}", request.method, request.target, request.version),
            None,
        );
        for (n, v) in &request.headers {
            self.record(name, '<', format!("  {n}: {v}"), None);
        }
        let st = self.conn(name)?;
        st.key = key;
        st.request = Some(ReadRequest {
            request,
            key_used_by,
        });
        Ok(())
    }

    pub(super) async fn expect_request(
        &mut self,
        e: &sc::ExpectRequest,
        deadline: TokioInstant,
    ) -> StepResult {
        self.read_request(&e.conn, deadline).await?;
        let st = self.conn(&e.conn)?;
        let read = st.request.as_ref().expect("read above");
        let r = &read.request;
        let key_used_by = read.key_used_by.clone();
        let r = r.clone();
        let mut want = Vec::new();
        let mut problems = Vec::new();
        if let Some(m) = &e.method {
            want.push(format!("method {}", matcher_text(m)));
            if !matcher_ok(m, &r.method, &self.vars)? {
                problems.push(format!(
                    "method {:?}, expected {}",
                    r.method,
                    matcher_text(m)
                ));
            }
        }
        if let Some(m) = &e.path {
            want.push(format!("path {}", matcher_text(m)));
            if !matcher_ok(m, &r.target, &self.vars)? {
                problems.push(format!("path {:?}, expected {}", r.target, matcher_text(m)));
            }
        }
        check_headers(
            &e.headers,
            |name| r.header(name),
            &self.vars,
            &mut want,
            &mut problems,
        )?;
        let listed: Vec<&str> = e
            .headers
            .iter()
            .filter(|(_, m)| m.is_some())
            .map(|(n, _)| n.as_str())
            .collect();
        let sent: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
        match e.order {
            sc::HeaderOrder::Any => {}
            sc::HeaderOrder::Listed => {
                // The listed headers that came, in the order they came.
                let came: Vec<&str> = sent
                    .iter()
                    .filter(|s| listed.iter().any(|l| l.eq_ignore_ascii_case(s)))
                    .copied()
                    .collect();
                let expected: Vec<&str> = listed
                    .iter()
                    .filter(|l| sent.iter().any(|s| s.eq_ignore_ascii_case(l)))
                    .copied()
                    .collect();
                if !same_names(&came, &expected) {
                    want.push(format!("headers in the order {}", expected.join(", ")));
                    problems.push(format!("headers in the order {}", came.join(", ")));
                }
            }
            sc::HeaderOrder::Exact => {
                if !same_names(&sent, &listed) {
                    want.push(format!("exactly the headers {}", listed.join(", ")));
                    problems.push(format!("the headers are {}", sent.join(", ")));
                }
            }
        }
        if e.fresh_key {
            want.push("a fresh Sec-WebSocket-Key (base64 of 16 bytes)".into());
            match r.header("Sec-WebSocket-Key") {
                None => problems.push("Sec-WebSocket-Key is missing".into()),
                Some(k) => {
                    let decoded = base64::engine::general_purpose::STANDARD.decode(k.trim());
                    match decoded {
                        Ok(b) if b.len() == 16 => {}
                        Ok(b) => problems.push(format!(
                            "Sec-WebSocket-Key {k:?} is base64 of {} bytes, not 16",
                            b.len()
                        )),
                        Err(_) => problems.push(format!("Sec-WebSocket-Key {k:?} is not base64")),
                    }
                    if let Some(c) = key_used_by {
                        problems.push(format!(
                            "Sec-WebSocket-Key {k:?} was sent before, on {c} (a client picks a new key per connection)"
                        ));
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            let mut got = vec![format!("{} {} {}", r.method, r.target, r.version)];
            got.extend(r.headers.iter().map(|(n, v)| format!("  {n}: {v}")));
            Err(Fail::diff(
                problems.join("; "),
                want.join("\n"),
                got.join("\n"),
            ))
        }
    }

    pub(super) async fn accept(&mut self, a: &sc::Accept, deadline: TokioInstant) -> StepResult {
        self.read_request(&a.conn, deadline).await?;
        let h = match &a.answer {
            sc::Answer::None => {
                self.record(&a.conn, '=', "no answer".into(), None);
                return Ok(());
            }
            sc::Answer::Http(h) => h,
        };
        if !a.delay.is_zero() {
            tokio::time::sleep(a.delay).await;
        }
        let key = self.conn(&a.conn)?.key.clone().unwrap_or_default();
        let accept = esp_ws_frame::accept_key(key.as_bytes());
        let headers = h.header_list(&accept, &self.vars).map_err(Fail::msg)?;
        let body = sc::substitute(&h.body, &self.vars).map_err(Fail::msg)?;
        let status_line = format!("HTTP/1.1 {} {}", h.status, h.reason_phrase());
        let mut bytes = format!("{status_line}\r\n").into_bytes();
        let mut lines = vec![status_line];
        for (n, v) in &headers {
            bytes.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
            lines.push(format!("  {n}: {v}"));
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body.as_bytes());
        if !body.is_empty() {
            lines.push(format!("  body: \"{}\"", esc(body.as_bytes())));
        }
        for f in &h.frames {
            let (frame, summary) = self.encode_send(f)?;
            bytes.extend_from_slice(&frame);
            lines.push(summary);
        }
        let note = Self::pieces_note(&a.write, bytes.len());
        let pieces = a.write.split(&bytes);
        let total = pieces.len();
        let st = self.conn(&a.conn)?;
        let result = st.conn.write(&pieces, a.write.delay).await;
        st.last_write = Some(Instant::now());
        if let Err(e) = &result {
            lines[0].push_str(&format!(
                " (write failed after {} of {total} writes)",
                e.written
            ));
        } else {
            lines[0].push_str(&note);
        }
        for l in lines {
            self.record(&a.conn, '>', l, None);
        }
        result.map_err(|e| Fail::msg(format!("writing to {}: {e}", a.conn)))
    }

    pub(super) async fn drop_connection(
        &mut self,
        d: &sc::DropConnection,
        deadline: TokioInstant,
    ) -> StepResult {
        let close = sc::Close {
            conn: d.conn.clone(),
            how: d.how,
        };
        self.close(&close, deadline).await?;
        let step = self.step;
        if let Some(srv) = &mut self.server {
            // esp-ws ended it: that is the instant a reconnect counts from,
            // even if a read saw the client's close while draining.
            srv.ended.insert(d.conn.clone());
            srv.last_disconnect = Some((
                TokioInstant::now(),
                format!("step {} ({}) dropped {}", step.0, step.1, d.conn),
            ));
        }
        Ok(())
    }
}

fn same_names(a: &[&str], b: &[&str]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}
