//! `expect_frame` and `expect_no_frame`: what the server sends, matched
//! against the scenario's expectations.

use super::*;

impl Ctx<'_> {
    pub(super) async fn next_frame(
        &mut self,
        name: &str,
        deadline: tokio::time::Instant,
    ) -> Result<FrameEvent, Fail> {
        let st = self.conn(name)?;
        let ev = st
            .conn
            .next_frame(deadline)
            .await
            .map_err(|e| Fail::msg(format!("reading from {name}: {e}")))?;
        if let Some(srv) = &mut self.server {
            match &ev {
                FrameEvent::Frame(f) => srv.saw_mask(f.mask),
                FrameEvent::Closed { .. } => srv.disconnected(name, self.step),
                _ => {}
            }
        }
        Ok(ev)
    }

    /// Records what arrived instead of the expected thing; returns its text.
    pub(super) fn describe_frame_event(&mut self, name: &str, ev: FrameEvent) -> String {
        let text = match ev {
            FrameEvent::Frame(f) => f.summary(),
            FrameEvent::Closed { how, trailing } if trailing.is_empty() => {
                format!("closed ({how})")
            }
            FrameEvent::Closed { how, trailing } => format!(
                "closed ({how}) after {} bytes that are not a whole frame: \"{}\"",
                trailing.len(),
                esc(&trailing)
            ),
            FrameEvent::Timeout { partial } if partial.is_empty() => "(nothing)".into(),
            FrameEvent::Timeout { partial } => {
                format!(
                    "{} bytes of an incomplete frame: \"{}\"",
                    partial.len(),
                    esc(&partial)
                )
            }
            FrameEvent::TooLarge(e) => format!("a frame too large to buffer: {e}"),
        };
        if text != "(nothing)" {
            self.record(name, '<', text.clone(), None);
        }
        text
    }

    pub(super) async fn expect_frame(
        &mut self,
        e: &sc::ExpectFrame,
        timeout: Duration,
        deadline: tokio::time::Instant,
    ) -> StepResult {
        let want = describe_expected_frame(e);
        let ev = self.next_frame(&e.conn, deadline).await?;
        let f = match ev {
            FrameEvent::Frame(f) => f,
            FrameEvent::Timeout { partial } if partial.is_empty() => {
                return Err(Fail::diff(
                    format!("no frame within {} ms", timeout.as_millis()),
                    want,
                    "(nothing)",
                ));
            }
            other => {
                let got = self.describe_frame_event(&e.conn, other);
                return Err(Fail::diff("expected a frame", want, got));
            }
        };
        self.record(&e.conn, '<', f.summary(), Some(f.payload.clone()));
        let mut problems = Vec::new();
        if let Some(op) = e.opcode
            && f.opcode.value() != op.0
        {
            problems.push(format!("opcode {} instead of {}", f.opcode, op));
        }
        if let Some(fin) = e.fin
            && f.fin != fin
        {
            problems.push(format!("FIN={} instead of {}", f.fin as u8, fin as u8));
        }
        if let Some(rsv) = e.rsv
            && f.rsv != rsv
        {
            problems.push(format!("RSV={} instead of {rsv}", f.rsv));
        }
        if let Some(len) = e.len
            && f.payload.len() != len
        {
            problems.push(format!(
                "payload length {} instead of {len}",
                f.payload.len()
            ));
        }
        if let Some(m) = &e.payload {
            self.check_payload(m, &f, &mut problems)?;
        }
        match (e.masked, f.mask) {
            (Some(true), None) => {
                problems.push("the frame is not masked (a client masks every frame)".into())
            }
            (Some(false), Some(_)) => problems.push("the frame is masked".into()),
            _ => {}
        }
        if e.fresh_mask
            && let Some(key) = f.mask
            && self.server.as_ref().is_some_and(|s| s.mask_repeated)
        {
            problems.push(format!(
                "the masking key {} was used by an earlier frame (a client picks a new key per frame)",
                hex::encode(key)
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Fail::diff(problems.join("; "), want, f.summary()))
        }
    }

    pub(super) fn check_payload(
        &mut self,
        m: &sc::PayloadMatcher,
        f: &Frame,
        problems: &mut Vec<String>,
    ) -> StepResult {
        match m {
            sc::PayloadMatcher::Text(t) => {
                let t = sc::substitute(t, &self.vars).map_err(Fail::msg)?;
                if f.payload != t.as_bytes() {
                    problems.push(format!("payload \"{}\" instead of {t:?}", esc(&f.payload)));
                }
            }
            sc::PayloadMatcher::Bytes(b) => {
                if &f.payload != b {
                    problems.push(format!(
                        "payload {} instead of {}",
                        hex::encode(&f.payload),
                        hex::encode(b)
                    ));
                }
            }
            sc::PayloadMatcher::Prefix(p) => {
                let p = sc::substitute(p, &self.vars).map_err(Fail::msg)?;
                if !f.payload.starts_with(p.as_bytes()) {
                    problems.push(format!(
                        "payload \"{}\" does not start with {p:?}",
                        esc(&f.payload)
                    ));
                }
            }
            sc::PayloadMatcher::Regex(r) => {
                let r = sc::substitute_regex(r, &self.vars).map_err(Fail::msg)?;
                let re = Regex::new(&r).map_err(|e| Fail::msg(format!("bad regex {r:?}: {e}")))?;
                let text = String::from_utf8_lossy(&f.payload);
                match re.captures(&text) {
                    Some(c) => self.capture(&re, &c),
                    None => problems.push(format!(
                        "payload \"{}\" does not match /{r}/",
                        esc(&f.payload)
                    )),
                }
            }
        }
        Ok(())
    }

    pub(super) fn capture(&mut self, re: &Regex, c: &regex::Captures<'_>) {
        for name in re.capture_names().flatten() {
            if let Some(m) = c.name(name) {
                self.vars.insert(name.to_string(), m.as_str().to_string());
            }
        }
    }

    pub(super) async fn expect_no_frame(&mut self, e: &sc::ExpectNoFrame) -> StepResult {
        let until = tokio::time::Instant::now() + e.duration;
        let ev = self.next_frame(&e.conn, until).await?;
        match ev {
            FrameEvent::Timeout { partial } if partial.is_empty() => {
                self.record(
                    &e.conn,
                    '=',
                    format!("no frame for {} ms", e.duration.as_millis()),
                    None,
                );
                Ok(())
            }
            other => {
                let got = self.describe_frame_event(&e.conn, other);
                Err(Fail::diff(
                    format!("expected nothing for {} ms", e.duration.as_millis()),
                    "(nothing)",
                    got,
                ))
            }
        }
    }
}

fn describe_expected_frame(e: &sc::ExpectFrame) -> String {
    let mut v = vec![match e.opcode {
        Some(op) => op.name(),
        None => "a frame".into(),
    }];
    if let Some(fin) = e.fin {
        v.push(if fin { "fin".into() } else { "nofin".into() });
    }
    if let Some(rsv) = e.rsv {
        v.push(format!("rsv={rsv}"));
    }
    if let Some(len) = e.len {
        v.push(format!("len={len}"));
    }
    match e.masked {
        Some(true) if e.fresh_mask => v.push("masked (a fresh key)".into()),
        Some(true) => v.push("masked".into()),
        Some(false) => v.push("unmasked".into()),
        None => {}
    }
    match &e.payload {
        Some(sc::PayloadMatcher::Text(t)) => v.push(format!("{t:?}")),
        Some(sc::PayloadMatcher::Bytes(b)) => v.push(format!("hex={}", hex::encode(b))),
        Some(sc::PayloadMatcher::Prefix(p)) => v.push(format!("starting with {p:?}")),
        Some(sc::PayloadMatcher::Regex(r)) => v.push(format!("matching /{r}/")),
        None => {}
    }
    v.join(" ")
}
