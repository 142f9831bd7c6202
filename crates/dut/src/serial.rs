//! The serial console of a target, as lines.
//!
//! Every target (simulator, child process, QEMU, board) pushes raw UART
//! bytes here; they are split into lines with the same splitter, kept in
//! order with the time they arrived, written verbatim to the run's artifacts,
//! and handed to whoever waits for a line (readiness, `expect_log`).

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use esp_ws_log::{Line, LineSplitter, RawLine};
use tokio::sync::watch;

/// One complete line of serial output.
/// Longest serial line kept whole (longer ones are split, never dropped).
pub const MAX_LINE: usize = 256 * 1024;

#[derive(Clone, Debug)]
pub struct SerialLine {
    /// Position in the whole log (0-based).
    pub index: usize,
    /// Which of the texts given to [`SerialLog::recognise`] the line held as
    /// the target printed it, before any secret was redacted (a prompt
    /// whose words include the password is still recognised).
    pub recognised: Vec<&'static str>,
    /// When it arrived, since the log was created.
    pub at: Duration,
    pub raw: RawLine,
    pub line: Line,
}

impl SerialLine {
    pub fn text(&self) -> String {
        self.line.text()
    }
}

struct State {
    lines: Vec<SerialLine>,
    splitter: LineSplitter,
    file: Option<File>,
    closed: bool,
    /// Secrets that must never be kept (Wi-Fi passwords): replaced in every
    /// line, and the artifact is then written line by line, after that.
    redact: Vec<Vec<u8>>,
    /// Texts to recognise in lines before they are redacted.
    recognise: Vec<&'static str>,
}

impl State {
    /// A complete line: recognised, then redacted, written to the artifact
    /// (when redacting, a line at a time) and kept.
    fn complete(&mut self, mut raw: RawLine, at: Duration, newline: bool) {
        let recognised = self
            .recognise
            .iter()
            .copied()
            .filter(|t| raw.bytes.windows(t.len()).any(|w| w == t.as_bytes()))
            .collect();
        if !self.redact.is_empty() {
            redact(&mut raw.bytes, &self.redact);
            if let Some(f) = self.file.as_mut() {
                let nl: &[u8] = if newline { b"\n" } else { b"" };
                let _ = f
                    .write_all(&raw.bytes)
                    .and_then(|_| f.write_all(nl))
                    .and_then(|_| f.flush());
            }
        }
        let index = self.lines.len();
        let line = raw.parse();
        self.lines.push(SerialLine {
            index,
            recognised,
            at,
            raw,
            line,
        });
    }
}

/// What a redacted secret becomes.
pub const REDACTED: &[u8] = b"[REDACTED]";

fn redact(bytes: &mut Vec<u8>, secrets: &[Vec<u8>]) {
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i..].starts_with(s) {
                out.extend_from_slice(REDACTED);
                i += s.len();
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        *bytes = out;
    }
}

#[derive(Clone)]
pub struct SerialLog {
    state: Arc<Mutex<State>>,
    count: Arc<watch::Sender<usize>>,
    start: Instant,
}

impl SerialLog {
    /// `artifact`: where the raw bytes are written as they arrive.
    pub fn new(artifact: Option<PathBuf>) -> std::io::Result<Self> {
        let file = match artifact {
            Some(p) => {
                if let Some(dir) = p.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                Some(File::create(p)?)
            }
            None => None,
        };
        let (tx, _) = watch::channel(0);
        Ok(SerialLog {
            state: Arc::new(Mutex::new(State {
                lines: Vec::new(),
                // The example prints whole payloads (`Got packet with message:
                // %s`), so a line can be as long as the largest frame.
                splitter: LineSplitter::with_max_line(MAX_LINE),
                file,
                closed: false,
                redact: Vec::new(),
                recognise: Vec::new(),
            })),
            count: Arc::new(tx),
            start: Instant::now(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes from the target's UART. Callable from any thread.
    pub fn push(&self, bytes: &[u8]) {
        let mut st = self.lock();
        let redacting = !st.redact.is_empty();
        if !redacting && let Some(f) = st.file.as_mut() {
            // A failing artifact write must not stop the run; the harness
            // still has the lines in memory.
            let _ = f.write_all(bytes).and_then(|_| f.flush());
        }
        let new = st.splitter.push(bytes);
        let at = self.start.elapsed();
        for raw in new {
            st.complete(raw, at, true);
        }
        let n = st.lines.len();
        drop(st);
        self.count.send_replace(n);
    }

    /// The source ended (the process exited, the port closed).
    pub fn close(&self) {
        let mut st = self.lock();
        if let Some(raw) = st.splitter.finish() {
            let at = self.start.elapsed();
            st.complete(raw, at, false);
        }
        st.closed = true;
        let n = st.lines.len();
        drop(st);
        self.count.send_replace(n);
    }

    /// From now on `secret` is replaced by `[REDACTED]` in every line and in
    /// the artifact file (which is then written a line at a time, so that a
    /// secret split across two reads is still caught).
    pub fn redact(&self, secret: &str) {
        if !secret.is_empty() {
            self.lock().redact.push(secret.as_bytes().to_vec());
        }
    }

    /// From now on, lines that hold `text` (as printed, before redaction)
    /// carry it in [`SerialLine::recognised`].
    pub fn recognise(&self, text: &'static str) {
        let mut st = self.lock();
        if !st.recognise.contains(&text) {
            st.recognise.push(text);
        }
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Number of complete lines so far.
    pub fn len(&self) -> usize {
        self.lock().lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lines `from..to` (clamped).
    pub fn lines(&self, from: usize, to: usize) -> Vec<SerialLine> {
        let st = self.lock();
        let to = to.min(st.lines.len());
        st.lines[from.min(to)..to].to_vec()
    }

    /// The incomplete last line (a prompt without a newline).
    pub fn partial(&self) -> Vec<u8> {
        self.lock().splitter.partial().to_vec()
    }

    /// Time of the most recent line.
    pub fn last_activity(&self) -> Option<Duration> {
        self.lock().lines.last().map(|l| l.at)
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Waits for the first line at index `from` or later that satisfies
    /// `pred`; None when `deadline` passes (or the log closes) first.
    pub async fn wait_for(
        &self,
        from: usize,
        deadline: tokio::time::Instant,
        mut pred: impl FnMut(&SerialLine) -> bool,
    ) -> Option<SerialLine> {
        let mut rx = self.count.subscribe();
        let mut next = from;
        loop {
            let (found, closed, len) = {
                let st = self.lock();
                let found = st.lines[next.min(st.lines.len())..]
                    .iter()
                    .find(|l| pred(l))
                    .cloned();
                (found, st.closed, st.lines.len())
            };
            if let Some(l) = found {
                return Some(l);
            }
            next = len;
            if closed {
                return None;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }

    /// Waits until no line has arrived for `quiet`, counted from the call
    /// (output still on its way counts), at most until `deadline`. Returns
    /// true if the log went quiet.
    pub async fn wait_quiet(&self, quiet: Duration, deadline: tokio::time::Instant) -> bool {
        let called = self.start.elapsed();
        loop {
            let last = self.last_activity().unwrap_or_default().max(called);
            let since = self.start.elapsed().saturating_sub(last);
            if since >= quiet {
                return true;
            }
            let wake = tokio::time::Instant::now() + (quiet - since);
            if wake > deadline {
                tokio::time::sleep_until(deadline).await;
                return false;
            }
            tokio::time::sleep_until(wake).await;
        }
    }
}
