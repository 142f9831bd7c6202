//! `open` and `expect_response`: the opening handshake, as the scenario
//! writes it (a request built from fields, or raw bytes), and the checks on
//! the answer.

use super::*;

impl Ctx<'_> {
    pub(super) async fn open(
        &mut self,
        o: &sc::Open,
        timeout: Duration,
        deadline: tokio::time::Instant,
    ) -> StepResult {
        if let Some(old) = self.conns.get_mut(&o.conn)
            && old.conn.is_open()
        {
            return Err(Fail::msg(format!(
                "connection {:?} is already open (close it first)",
                o.conn
            )));
        }
        let Some(addr) = self.target.endpoint() else {
            return Err(Fail::msg(
                "the firmware dials out: it serves nothing an `open` step could connect to",
            ));
        };
        // A board on Wi-Fi may refuse or drop a first attempt: try again,
        // pausing twice as long each time, within the step's time.
        let mut attempt = 1;
        let mut pause = Duration::from_millis(100);
        let conn = loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match Connection::connect(addr, left.min(timeout)).await {
                Ok(c) => break c,
                Err(e)
                    if attempt < self.opts.connect_attempts
                        && tokio::time::Instant::now() + pause < deadline =>
                {
                    tracing::debug!("connecting to {addr}, attempt {attempt}: {e}");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                Err(e) => {
                    return Err(Fail::msg(format!(
                        "cannot connect to {addr} ({attempt} attempt{}): {e}",
                        if attempt == 1 { "" } else { "s" }
                    )));
                }
            }
        };
        let (bytes, key, first_line) = match &o.request {
            sc::Request::Http(h) => {
                let (key, random) = match &h.key {
                    Some(k) => (sc::substitute(k, &self.vars).map_err(Fail::msg)?, false),
                    None => (random_key(), true),
                };
                if random {
                    self.volatile.push((key.clone(), "[KEY]".into()));
                    self.volatile
                        .push((esp_ws_frame::accept_key(key.as_bytes()), "[ACCEPT]".into()));
                }
                let host = self
                    .opts
                    .host_header
                    .clone()
                    .unwrap_or_else(|| addr.to_string());
                let headers = h.header_list(&host, &key, &self.vars).map_err(Fail::msg)?;
                let path = sc::substitute(&h.path, &self.vars).map_err(Fail::msg)?;
                let req = esp_ws_frame::Request {
                    method: h.method.clone(),
                    target: path.clone(),
                    version: h.http_version.clone(),
                    headers,
                };
                let first = format!("{} {} {}", h.method, path, h.http_version);
                (req.to_bytes(), Some(key), first)
            }
            sc::Request::Raw(b) => {
                let first = b.split(|&c| c == b'\n').next().unwrap_or_default();
                let first = esc(first.strip_suffix(b"\r").unwrap_or(first));
                (b.clone(), raw_key(b), format!("raw request: {first}"))
            }
        };
        self.conns.insert(
            o.conn.clone(),
            ConnState {
                conn,
                key: key.clone(),
                last_write: None,
                request: None,
            },
        );
        self.write(&o.conn, bytes, &o.write, first_line).await?;
        self.check_response(&o.conn, &o.response, key.as_deref(), timeout, deadline)
            .await
    }

    pub(super) async fn check_response(
        &mut self,
        name: &str,
        spec: &sc::ResponseSpec,
        key: Option<&str>,
        timeout: Duration,
        deadline: tokio::time::Instant,
    ) -> StepResult {
        if matches!(spec, sc::ResponseSpec::Later) {
            return Ok(());
        }
        let st = self.conn(name)?;
        let ev = st
            .conn
            .read_response(deadline)
            .await
            .map_err(|e| Fail::msg(format!("reading the response on {name}: {e}")))?;
        let got_text = match &ev {
            ResponseEvent::Response(r) => describe_response(r).join("\n"),
            ResponseEvent::Closed { how, partial } if partial.is_empty() => {
                format!("closed ({how}) without a response")
            }
            ResponseEvent::Closed { how, partial } => {
                format!("closed ({how}) after \"{}\"", esc(partial))
            }
            ResponseEvent::Timeout { partial } if partial.is_empty() => {
                format!("no response for {} ms", self.declared.as_millis())
            }
            ResponseEvent::Timeout { partial } => {
                format!(
                    "incomplete response after {} ms: \"{}\"",
                    self.declared.as_millis(),
                    esc(partial)
                )
            }
        };
        for l in got_text.lines() {
            self.record(name, '<', l.to_string(), None);
        }
        match (spec, ev) {
            (sc::ResponseSpec::Closed, ResponseEvent::Closed { partial, .. })
                if partial.is_empty() =>
            {
                Ok(())
            }
            (sc::ResponseSpec::Closed, _) => Err(Fail::diff(
                "expected the server to close the connection without a response",
                "closed without a response",
                got_text,
            )),
            (sc::ResponseSpec::None, ResponseEvent::Timeout { partial }) if partial.is_empty() => {
                Ok(())
            }
            (sc::ResponseSpec::None, _) => Err(Fail::diff(
                format!(
                    "expected no response and an open connection for {} ms",
                    timeout.as_millis()
                ),
                "no response",
                got_text,
            )),
            (sc::ResponseSpec::Expect(exp), ResponseEvent::Response(r)) => {
                self.check_expected_response(exp, &r, key, &got_text)
            }
            (sc::ResponseSpec::Expect(exp), _) => Err(Fail::diff(
                format!("expected an HTTP {} response", exp.status),
                format!("HTTP/1.1 {} …", exp.status),
                got_text,
            )),
            (sc::ResponseSpec::Later, _) => Ok(()),
        }
    }

    pub(super) fn check_expected_response(
        &self,
        exp: &sc::ResponseExpect,
        r: &Response,
        key: Option<&str>,
        got_text: &str,
    ) -> StepResult {
        let mut want = vec![format!("status {}", exp.status)];
        let mut problems = Vec::new();
        if r.status != exp.status {
            problems.push(format!("status {} instead of {}", r.status, exp.status));
        }
        check_headers(
            &exp.headers,
            |name| r.header(name),
            &self.vars,
            &mut want,
            &mut problems,
        )?;
        if let Some(m) = &exp.body {
            want.push(format!("body {}", matcher_text(m)));
            let body = String::from_utf8_lossy(&r.body);
            if !matcher_ok(m, &body, &self.vars)? {
                problems.push(format!(
                    "body is \"{}\", expected {}",
                    esc(&r.body),
                    matcher_text(m)
                ));
            }
        }
        if exp.accept && exp.status == 101 && r.status == 101 {
            match key {
                Some(k) => {
                    let expected = esp_ws_frame::accept_key(k.as_bytes());
                    want.push(format!("Sec-WebSocket-Accept: {expected}"));
                    match r.header("Sec-WebSocket-Accept") {
                        Some(v) if v == expected => {}
                        Some(v) => problems.push(format!(
                            "Sec-WebSocket-Accept is {v:?}, expected {expected:?} (from key {k:?})"
                        )),
                        None => problems.push("Sec-WebSocket-Accept is missing".into()),
                    }
                }
                None => problems.push(
                    "cannot check Sec-WebSocket-Accept: the request had no Sec-WebSocket-Key"
                        .into(),
                ),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Fail::diff(problems.join("; "), want.join("\n"), got_text))
        }
    }
}

/// The Sec-WebSocket-Key of a raw request, if it has one.
fn raw_key(req: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(req);
    text.split("\r\n").find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("Sec-WebSocket-Key")
            .then(|| value.trim().to_string())
    })
}
