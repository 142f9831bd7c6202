//! The driver: runs cases against instances of any target through the
//! device-under-test seam, with the runner's start, readiness and recovery.
//!
//! Each case runs on a fresh connection: the opening handshake, the case's
//! frames as it says to write them, a wait for the replies (bounded; on the
//! simulator the firmware tells when it has processed everything), then the
//! closing handshake as a well-behaved client does it (it answers a
//! server's CLOSE, or sends CLOSE 1000 itself), and the target settles so
//! that the case's serial lines are exactly its own. A firmware that
//! crashes is recovered (it reboots) before the next case.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use esp_ws_client::{Closed, Connection, FrameEvent, ResponseEvent};
use esp_ws_dut::Instance;
use esp_ws_frame::{FrameSpec, Opcode};
use esp_ws_runner::{RunError, RunOptions};

use crate::case::{Case, Expect, Step, Write};
use crate::judge::{self, Verdict};
use crate::record::{Answer, Event, Observation, hex_prefix};

/// How the driver treats the target.
#[derive(Clone, Debug)]
pub struct DriveOptions {
    /// The endpoint's path (esp_http_server's example serves `/ws`).
    pub path: String,
    /// The Host header (default: the address dialled).
    pub host_header: Option<String>,
    /// After the case's frames, how long nothing may arrive before the
    /// driver stops waiting for replies that have not come (the simulator
    /// first says when it has processed everything, so a short wait does).
    pub quiet: Duration,
    /// The longest wait for the handshake's answer, for replies, and for
    /// the closing handshake, each.
    pub timeout: Duration,
    /// The target says exactly when it has processed everything
    /// (`Instance::sync`, the simulator): then a server that has not closed
    /// after the client's CLOSE once it is idle and quiet never will, and
    /// the driver stops waiting after `quiet` instead of `timeout`.
    pub exact_sync: bool,
}

/// The longest a single `sync` may wait: a firmware blocked in a read
/// (waiting for the rest of a frame) is not idle until its read times out.
const SYNC_MAX: Duration = Duration::from_millis(250);

/// A case, what happened and the verdicts.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub case: Case,
    pub observation: Observation,
    pub verdict: Verdict,
    /// The instance it ran on (empty when it did not run).
    pub instance: String,
    pub elapsed: Duration,
    /// The firmware crashed and did not come back: no case can run on
    /// this instance any more.
    pub target_gone: bool,
}

/// A reproducible number from a case id (FNV-1a), for keys and masks:
/// reports must not change between runs.
fn seed(id: &str, salt: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt.wrapping_mul(0x100_0000_01b3);
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// The case's Sec-WebSocket-Key.
pub fn key_for(id: &str) -> String {
    let a = seed(id, 1).to_be_bytes();
    let b = seed(id, 2).to_be_bytes();
    let mut nonce = [0u8; 16];
    nonce[..8].copy_from_slice(&a);
    nonce[8..].copy_from_slice(&b);
    esp_ws_frame::key_from_nonce(nonce)
}

fn mask_for(id: &str, frame: usize) -> [u8; 4] {
    let s = seed(id, 100 + frame as u64).to_be_bytes();
    [s[0], s[1], s[2], s[3]]
}

/// The pieces a frame's bytes are written in.
fn pieces(bytes: &[u8], write: Write) -> Vec<&[u8]> {
    match write {
        Write::Whole => vec![bytes],
        Write::Chops(n) => bytes.chunks(n.max(1)).collect(),
        Write::HeaderBytewise(n) => {
            let header = esp_ws_frame::parse_header(bytes).map_or(bytes.len(), |h| h.header_len);
            let (head, payload) = bytes.split_at(header.min(bytes.len()));
            head.chunks(1).chain(payload.chunks(n.max(1))).collect()
        }
    }
}

struct Session<'a> {
    conn: Connection,
    events: Vec<Event>,
    opts: &'a DriveOptions,
    inst: &'a Instance,
    closed: bool,
}

impl Session<'_> {
    /// Reads one event before `deadline`: false when nothing (complete)
    /// came, or the connection is closed.
    async fn read_one(&mut self, deadline: tokio::time::Instant) -> Read {
        if self.closed {
            return Read::Closed;
        }
        match self.conn.next_frame(deadline).await {
            Ok(FrameEvent::Frame(f)) => {
                self.events.push(Event::Received(judge::received(&f)));
                Read::Frame
            }
            Ok(FrameEvent::Closed { how, trailing }) => {
                if !trailing.is_empty() {
                    self.note(format!(
                        "{} bytes that are not a whole frame came before the close: {}",
                        trailing.len(),
                        hex_prefix(&trailing)
                    ));
                }
                self.events.push(Event::ServerClosed {
                    how: how.to_string(),
                });
                self.closed = true;
                Read::Closed
            }
            Ok(FrameEvent::Timeout { partial }) if partial.is_empty() => Read::Nothing,
            Ok(FrameEvent::Timeout { .. }) => Read::Partial,
            Ok(FrameEvent::TooLarge(e)) => {
                self.note(format!("the client stopped reading: {e}"));
                Read::Closed
            }
            Err(e) => {
                self.note(format!("reading failed: {e}"));
                self.closed = true;
                Read::Closed
            }
        }
    }

    /// Waits until the firmware has processed what this connection wrote.
    async fn sync(&self) {
        let sent = self.conn.local_addr().map(|from| esp_ws_dut::Sent {
            from,
            bytes: self.conn.bytes_out,
        });
        self.inst.sync(SYNC_MAX.min(self.opts.timeout), sent).await;
    }

    fn note(&mut self, text: String) {
        self.events.push(Event::Note { text });
    }

    async fn send(&mut self, spec: FrameSpec, write: Write, closing: bool) -> Result<(), ()> {
        let bytes = esp_ws_frame::encode(&spec).expect("the table's frames are encodable");
        let summary = match esp_ws_frame::decode_all(&bytes, u64::MAX) {
            Ok((f, rest)) if f.len() == 1 && rest.is_empty() => f[0].summary(),
            _ => format!("{} bytes", bytes.len()),
        };
        let parts = pieces(&bytes, write);
        let writes = parts.len();
        let result = if self.opts.exact_sync {
            // Each piece processed before the next one is written (the
            // firmware has read it and waits for more, or is done), so that
            // the firmware reads what each write carried whatever the load
            // on this machine: verdicts that depend on how bytes arrive
            // (esp-idf#15235, a CLOSE followed by more data) come out the
            // same on every run.
            let mut r = Ok(());
            for (i, piece) in parts.iter().enumerate() {
                if let Err(mut e) = self.conn.write(&[piece], Duration::ZERO).await {
                    e.written = i;
                    r = Err(e);
                    break;
                }
                self.sync().await;
            }
            r
        } else {
            self.conn.write(&parts, Duration::ZERO).await
        };
        self.events.push(Event::Sent {
            summary,
            hex: hex_prefix(&bytes),
            writes,
            closing,
        });
        if let Err(e) = result {
            self.note(format!(
                "the write failed after {} of {writes} pieces: {e}",
                e.written
            ));
            return Err(());
        }
        Ok(())
    }

    /// Waits for replies until the case is settled, nothing more comes for
    /// the quiet period, the server closes, or the timeout.
    async fn wait_replies(&mut self, expect: &Expect) {
        let until = tokio::time::Instant::now() + self.opts.timeout;
        loop {
            if self.closed || judge::enough(expect, &self.events) {
                return;
            }
            self.sync().await;
            let quiet = (tokio::time::Instant::now() + self.opts.quiet).min(until);
            match self.read_one(quiet).await {
                Read::Frame | Read::Partial if tokio::time::Instant::now() < until => {}
                Read::Partial => {
                    let t = self.opts.timeout;
                    self.note(format!("a frame was still arriving after {t:?}"));
                    return;
                }
                _ => return,
            }
        }
    }

    /// The closing handshake, as a client does it.
    async fn close(&mut self, case_sent_close: bool, mask: [u8; 4]) {
        let server_close = self.events.iter().find_map(|e| match e {
            Event::Received(f) if f.opcode == Opcode::CLOSE.0 => Some(f.payload.clone()),
            _ => None,
        });
        if !self.closed && server_close.is_some() && !case_sent_close {
            // The server closed first: let it finish (it may close TCP at
            // once), then answer its CLOSE with its code, as §5.5.1 says.
            self.sync().await;
            let quiet = tokio::time::Instant::now() + self.opts.quiet;
            while !self.closed && matches!(self.read_one(quiet).await, Read::Frame | Read::Partial)
            {
            }
        }
        if !self.closed && !case_sent_close {
            let payload = match &server_close {
                Some(p) => match esp_ws_frame::parse_close_payload(p) {
                    esp_ws_frame::ClosePayload::Code { code, .. } => {
                        esp_ws_frame::close_payload(Some(code), b"")
                    }
                    _ => Vec::new(),
                },
                None => esp_ws_frame::close_payload(Some(1000), b""),
            };
            let spec = FrameSpec::new(Opcode::CLOSE, payload).with_mask(Some(mask));
            let _ = self.send(spec, Write::Whole, true).await;
        }
        let until = tokio::time::Instant::now() + self.opts.timeout;
        while !self.closed {
            let deadline = if self.opts.exact_sync {
                self.sync().await;
                (tokio::time::Instant::now() + self.opts.quiet).min(until)
            } else {
                until
            };
            let got = self.read_one(deadline).await;
            if self.closed {
                break;
            }
            let now = tokio::time::Instant::now();
            if matches!(got, Read::Nothing) || now >= until {
                // No time in the note: reports must not change between runs.
                self.note(if self.opts.exact_sync {
                    "the server was idle and had not closed TCP after the client's CLOSE".into()
                } else {
                    format!(
                        "the server had not closed TCP {:?} after the client's CLOSE",
                        self.opts.timeout
                    )
                });
                break;
            }
        }
        if !self.closed {
            let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
            let (_, how) = self.conn.close(Closed::Fin, deadline).await;
            self.events.push(Event::ClientClosed { how: "FIN".into() });
            if let Some(how) = how {
                self.events.push(Event::ServerClosed {
                    how: how.to_string(),
                });
            }
        } else {
            let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
            let _ = self.conn.close(Closed::Fin, deadline).await;
        }
    }
}

enum Read {
    Frame,
    Partial,
    Nothing,
    Closed,
}

/// How much of a serial line the records keep (the example prints every
/// message it gets, 1 MiB ones too).
const LINE_SHOWN: usize = 200;

fn cut_line(line: String) -> String {
    let n = line.chars().count();
    if n <= LINE_SHOWN {
        return line;
    }
    let head: String = line.chars().take(LINE_SHOWN).collect();
    format!("{head}… ({} more characters)", n - LINE_SHOWN)
}

/// Runs one case on a ready instance and judges it.
pub async fn run_case(
    case: &Case,
    inst: &Instance,
    opts: &DriveOptions,
    run: &RunOptions,
) -> CaseResult {
    let started = Instant::now();
    let log_start = inst.serial().len();
    let mut obs = exchange(case, inst, opts).await;
    let mut target_gone = false;
    inst.settle(run.exec.settle_max).await;
    if let Some(c) = inst.crash(log_start) {
        let mut what = c.what;
        for l in &c.lines {
            what.push_str(" | ");
            what.push_str(l);
        }
        obs.crash = Some(what);
        obs.recovery = Some(match esp_ws_runner::recover(inst, run).await {
            Ok(()) => format!("{}: the firmware rebooted", inst.label()),
            Err(e) => {
                target_gone = true;
                e.to_string()
            }
        });
    }
    let mut normalizer = esp_ws_log::Normalizer::esp_idf();
    if let Some(e) = inst.endpoint() {
        normalizer.add_literal(&e.to_string(), "[HOST]");
    }
    obs.log = inst
        .serial()
        .lines(log_start, inst.serial().len())
        .iter()
        .map(|l| cut_line(normalizer.normalize(&l.line)))
        .collect();
    let verdict = judge::judge(case, &obs);
    CaseResult {
        case: case.clone(),
        observation: obs,
        verdict,
        instance: inst.label().to_string(),
        elapsed: started.elapsed(),
        target_gone,
    }
}

/// The handshake, the case's frames, the replies, the closing handshake.
async fn exchange(case: &Case, inst: &Instance, opts: &DriveOptions) -> Observation {
    let key = key_for(&case.id);
    let mut obs = Observation {
        expected_accept: esp_ws_frame::accept_key(key.as_bytes()),
        ..Default::default()
    };
    obs.request = case.request.render(&opts.path, "[HOST]", &key);
    let Some(addr) = inst.endpoint() else {
        obs.answer = Answer::ConnectFailed {
            error: "the firmware dials out: it serves nothing to connect to".into(),
        };
        return obs;
    };
    let host = opts.host_header.clone().unwrap_or_else(|| addr.to_string());
    let request = case.request.render(&opts.path, &host, &key);
    let mut conn = match Connection::connect(addr, opts.timeout).await {
        Ok(c) => c,
        Err(e) => {
            obs.answer = Answer::ConnectFailed {
                error: e.to_string(),
            };
            return obs;
        }
    };
    let deadline = tokio::time::Instant::now() + opts.timeout;
    let escaped = |b: &[u8]| esp_ws_frame::escape_bytes(b);
    let answer = match conn.write(&[request.as_bytes()], Duration::ZERO).await {
        Err(e) => Answer::ConnectFailed {
            error: format!("writing the request: {e}"),
        },
        Ok(()) => match conn.read_response(deadline).await {
            Ok(ResponseEvent::Response(r)) => Answer::Response {
                status: r.status,
                status_line: r.status_line(),
                headers: r.headers.clone(),
                body: escaped(&r.body[..r.body.len().min(200)]),
            },
            Ok(ResponseEvent::Closed { how, partial }) => Answer::Closed {
                how: how.to_string(),
                partial: escaped(&partial),
            },
            Ok(ResponseEvent::Timeout { partial }) => Answer::Timeout {
                partial: escaped(&partial),
            },
            Err(e) => Answer::Closed {
                how: "unreadable".into(),
                partial: e.to_string(),
            },
        },
    };
    let upgraded = answer.status() == Some(101);
    obs.answer = answer;
    let mut s = Session {
        conn,
        events: Vec::new(),
        opts,
        inst,
        closed: false,
    };
    if !upgraded {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(200);
        let _ = s.conn.close(Closed::Fin, deadline).await;
        return obs;
    }
    let mut case_sent_close = false;
    let mut frame_no = 0;
    for step in &case.steps {
        match step {
            Step::Pause { ms } => tokio::time::sleep(Duration::from_millis(*ms)).await,
            Step::Send(o) => {
                frame_no += 1;
                let mask = (!o.unmasked).then(|| mask_for(&case.id, frame_no));
                let spec = FrameSpec {
                    fin: o.fin,
                    rsv: o.rsv,
                    opcode: Opcode(o.opcode),
                    mask,
                    payload: o.payload.clone(),
                    declared_len: None,
                    length_encoding: esp_ws_frame::LengthEncoding::Minimal,
                };
                case_sent_close |= o.opcode == Opcode::CLOSE.0;
                if s.send(spec, o.write, false).await.is_err() {
                    break;
                }
            }
        }
    }
    s.wait_replies(&case.expect).await;
    s.close(case_sent_close, mask_for(&case.id, 0)).await;
    obs.events = s.events;
    obs
}

/// A case that did not run (the target was gone).
pub fn not_run(case: &Case, why: &str) -> CaseResult {
    CaseResult {
        case: case.clone(),
        observation: Observation::default(),
        verdict: Verdict {
            behavior: judge::Behavior::Failed,
            reason: format!("not run: {why}"),
            close: judge::CloseBehavior::NotApplicable,
            close_reason: "not run".into(),
        },
        instance: String::new(),
        elapsed: Duration::ZERO,
        target_gone: false,
    }
}

/// Runs `cases` on as many instances as the run options allow;
/// `on_result` sees each result as it finishes. Results come back in the
/// order of `cases`. A target that crashes and does not come back ends
/// the run: the cases left are reported as not run.
/// Cases waiting for an instance, with their places in the table.
type Queue = Arc<Mutex<VecDeque<(usize, Case)>>>;

pub async fn run_all(
    cases: Vec<Case>,
    drive: &DriveOptions,
    run: &RunOptions,
    on_result: impl Fn(&CaseResult) + Send + Sync + 'static,
) -> Result<Vec<CaseResult>, RunError> {
    let total = cases.len();
    let gone = Arc::new(AtomicBool::new(false));
    let on_result = Arc::new(on_result);
    let jobs = run.instances().min(total.max(1));
    // A firmware carries state from one connection to the next (the v5.x
    // esp_http_server keeps one mask key for all sockets, and a mask read
    // short echoes with the previous frame's bytes): on a target that syncs
    // exactly, each instance takes a fixed run of the cases in order, so
    // that a report depends on the --jobs it ran with and on nothing else.
    // Elsewhere instances take the next case as they become free.
    let queues: Vec<Queue> = if drive.exact_sync {
        (0..jobs)
            .map(|j| {
                let (from, to) = (j * total / jobs, (j + 1) * total / jobs);
                Arc::new(Mutex::new(
                    cases
                        .iter()
                        .cloned()
                        .enumerate()
                        .take(to)
                        .skip(from)
                        .collect(),
                ))
            })
            .collect()
    } else {
        let one = Arc::new(Mutex::new(cases.iter().cloned().enumerate().collect()));
        (0..jobs).map(|_| Arc::clone(&one)).collect()
    };
    let mut workers = Vec::new();
    for (j, queue) in queues.into_iter().enumerate() {
        let run = run.clone();
        let drive = drive.clone();
        let on_result = on_result.clone();
        let gone = gone.clone();
        let label = format!("{}#{}", run.target.kind(), j + 1);
        workers.push(tokio::spawn(async move {
            let inst = esp_ws_runner::start_instance(&run, label).await?;
            let mut done = Vec::new();
            while !gone.load(Ordering::SeqCst) {
                let next = queue.lock().expect("queue lock").pop_front();
                let Some((i, case)) = next else { break };
                let r = run_case(&case, &inst, &drive, &run).await;
                on_result(&r);
                let target_gone = r.target_gone;
                done.push((i, r));
                if target_gone {
                    gone.store(true, Ordering::SeqCst);
                }
            }
            inst.stop().await;
            Ok::<_, RunError>(done)
        }));
    }
    let mut results: Vec<Option<CaseResult>> = (0..total).map(|_| None).collect();
    let mut errors = Vec::new();
    for w in workers {
        match w.await {
            Ok(Ok(done)) => {
                for (i, r) in done {
                    results[i] = Some(r);
                }
            }
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(RunError::Worker(e.to_string())),
        }
    }
    match errors.len() {
        0 => {}
        1 => return Err(errors.pop().expect("one error")),
        _ => return Err(RunError::Several(errors)),
    }
    Ok(results
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| {
                not_run(
                    &cases[i],
                    "the target crashed earlier and did not come back",
                )
            })
        })
        .collect())
}

/// Cases whose ids match one of the patterns (`1.*`, `5.1`, `6.4.*`, `*`);
/// `Err` names a pattern that matches nothing.
pub fn select(cases: Vec<Case>, patterns: &[String]) -> Result<Vec<Case>, String> {
    if patterns.is_empty() {
        return Ok(cases);
    }
    for p in patterns {
        if !cases.iter().any(|c| matches(p, &c.id)) {
            return Err(format!(
                "{p:?} matches no case (ids look like 1.1.1, 5.3, H.2.6)"
            ));
        }
    }
    Ok(cases
        .into_iter()
        .filter(|c| patterns.iter().any(|p| matches(p, &c.id)))
        .collect())
}

/// A glob where `*` stands for any text.
pub fn matches(pattern: &str, id: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == id;
    }
    let mut rest = id;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_patterns() {
        assert!(matches("1.*", "1.1.1"));
        assert!(!matches("1.*", "10.1"));
        assert!(matches("*", "H.2.6"));
        assert!(matches("5.1", "5.1"));
        assert!(!matches("5.1", "5.10"));
        assert!(matches("6.*.1", "6.22.1"));
        assert!(!matches("6.*.1", "6.22.2"));
        let all = crate::table::all();
        let some = select(all.clone(), &["2.*".into(), "H.1.1".into()]).unwrap();
        assert!(
            some.iter()
                .all(|c| c.id.starts_with("2.") || c.id == "H.1.1")
        );
        assert_eq!(some.len(), 13);
        assert!(select(all, &["8.*".into()]).unwrap_err().contains("8.*"));
    }

    #[test]
    fn keys_and_masks_are_reproducible_and_differ_between_cases() {
        assert_eq!(key_for("1.1.1"), key_for("1.1.1"));
        assert_ne!(key_for("1.1.1"), key_for("1.1.2"));
        assert_ne!(mask_for("1.1.1", 1), mask_for("1.1.1", 2));
        assert_eq!(key_for("H.1.1").len(), 24, "base64 of 16 bytes");
    }

    #[test]
    fn a_header_written_bytewise_goes_out_a_byte_at_a_time() {
        let f = FrameSpec::new(Opcode::TEXT, vec![b'x'; 300]).with_mask(Some([1, 2, 3, 4]));
        let bytes = esp_ws_frame::encode(&f).unwrap();
        let p = pieces(&bytes, Write::HeaderBytewise(100));
        // 2 + 2 (16-bit length) + 4 (mask) header bytes, then 3 pieces.
        assert_eq!(p.len(), 8 + 3);
        assert!(p[..8].iter().all(|x| x.len() == 1));
        assert_eq!(p.concat(), bytes);
    }
}
