//! `expect_close`, `expect_closed` and `close`: how each side ends the
//! session, with a CLOSE frame or at the TCP level.

use super::*;

impl Ctx<'_> {
    pub(super) async fn expect_close(
        &mut self,
        e: &sc::ExpectClose,
        timeout: Duration,
        deadline: tokio::time::Instant,
    ) -> StepResult {
        let mut want = vec!["CLOSE".to_string()];
        if e.empty {
            want.push("with an empty payload".into());
        }
        if let Some(c) = e.code {
            want.push(format!("code={c}"));
        }
        if let Some(r) = &e.reason {
            want.push(format!("reason {}", matcher_text(r)));
        }
        let want = want.join(" ");
        let ev = self.next_frame(&e.conn, deadline).await?;
        let f = match ev {
            FrameEvent::Frame(f) => f,
            FrameEvent::Timeout { partial } if partial.is_empty() => {
                return Err(Fail::diff(
                    format!("no CLOSE frame within {} ms", timeout.as_millis()),
                    want,
                    "(nothing)",
                ));
            }
            other => {
                let got = self.describe_frame_event(&e.conn, other);
                return Err(Fail::diff("expected a CLOSE frame", want, got));
            }
        };
        self.record(&e.conn, '<', f.summary(), Some(f.payload.clone()));
        let mut problems = Vec::new();
        if f.opcode != Opcode::CLOSE {
            problems.push(format!("a {} frame instead of CLOSE", f.opcode));
        } else {
            match esp_ws_frame::parse_close_payload(&f.payload) {
                ClosePayload::Empty => {
                    if e.code.is_some() || e.reason.is_some() {
                        problems.push("the CLOSE frame has no status code".into());
                    }
                }
                ClosePayload::Code { code, reason } => {
                    if e.empty {
                        problems.push(format!("the CLOSE frame carries code {code}"));
                    }
                    if let Some(c) = e.code
                        && c != code
                    {
                        problems.push(format!("code {code} instead of {c}"));
                    }
                    if let Some(r) = &e.reason {
                        let text = String::from_utf8_lossy(&reason);
                        if !matcher_ok(r, &text, &self.vars)? {
                            problems.push(format!("reason {text:?}, expected {}", matcher_text(r)));
                        }
                    }
                }
                ClosePayload::Malformed(b) => {
                    problems.push(format!("a malformed CLOSE payload {}", hex::encode(&b)));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Fail::diff(problems.join("; "), want, f.summary()))
        }
    }

    pub(super) async fn expect_closed(
        &mut self,
        e: &sc::ExpectClosed,
        timeout: Duration,
        deadline: tokio::time::Instant,
    ) -> StepResult {
        // A close seen before this step (a `drop` drains the connection
        // and notes the peer's close) is in the transcript already.
        let seen = self.conn(&e.conn)?.conn.closed();
        let ev = self.next_frame(&e.conn, deadline).await?;
        match ev {
            FrameEvent::Closed { how, trailing } if trailing.is_empty() => {
                if seen.is_none() {
                    self.record(&e.conn, '<', format!("closed ({how})"), None);
                }
                let ok = match e.how {
                    sc::ClosedHow::Any => true,
                    sc::ClosedHow::Fin => how == Closed::Fin,
                    sc::ClosedHow::Rst => how == Closed::Rst,
                };
                if ok {
                    Ok(())
                } else {
                    Err(Fail::diff(
                        "the connection closed the other way",
                        format!("closed ({})", closed_how(e.how)),
                        format!("closed ({how})"),
                    ))
                }
            }
            FrameEvent::Timeout { partial } if partial.is_empty() => Err(Fail::diff(
                format!(
                    "the connection was still open after {} ms",
                    timeout.as_millis()
                ),
                format!("closed ({})", closed_how(e.how)),
                "(still open)",
            )),
            other => {
                let got = self.describe_frame_event(&e.conn, other);
                Err(Fail::diff(
                    "expected the connection to close",
                    format!("closed ({})", closed_how(e.how)),
                    got,
                ))
            }
        }
    }

    pub(super) async fn close(
        &mut self,
        c: &sc::Close,
        deadline: tokio::time::Instant,
    ) -> StepResult {
        let how = match c.how {
            sc::CloseHow::Fin => Closed::Fin,
            sc::CloseHow::Rst => Closed::Rst,
        };
        let st = self.conn(&c.conn)?;
        let seen = st.conn.closed();
        let (drained, server) = st.conn.close(how, deadline).await;
        let server = server.filter(|_| seen.is_none());
        self.note_close(&c.conn, how, drained, server, false);
        Ok(())
    }
}

fn closed_how(h: sc::ClosedHow) -> &'static str {
    match h {
        sc::ClosedHow::Fin => "FIN",
        sc::ClosedHow::Rst => "RST",
        sc::ClosedHow::Any => "FIN or RST",
    }
}
