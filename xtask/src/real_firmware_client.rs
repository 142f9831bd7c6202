//! Replays sessions recorded on the real esp_websocket_client (JSON files
//! in ../shared/real-firmware/esp_websocket_client/: `events` with
//! `connect`, `C->S` writes and their decoded `frames`, `S->C` writes with
//! meaningful times, closes, and `log_timed`) against a simulated client
//! firmware. esp-ws plays the recorded server: each connection gets the
//! recorded handshake answer (a correct `Sec-WebSocket-Accept` recomputed
//! for the model's fresh key, a wrong one kept as it was), the recorded
//! timed sends at the same offsets from the handshake, and the recorded
//! reactions (echoes, PONGs, the close after the client's CLOSE).
//!
//! Compared: the handshake requests (bytes, keys normalized; keys fresh),
//! the client's frames (opcode, FIN, payload, masked; masks fresh) with
//! their times, connects and their times, TCP closes (who, FIN or RST) and
//! their times, and the I/W/E lines of the component's and the example's
//! tags after `Connecting to` (sheet section 1), each within a window of
//! [`WINDOW`]. The sessions run in real time (`window_s` each), in
//! parallel.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use esp_ws_sim::{ConnId, Level, Lwip, Profile, SimConfig, Simulator, Wire};

/// How far a time may be from the recorded one.
const WINDOW: f64 = 0.5;

/// The URI the recordings' client was built with.
const URI: &str = "ws://127.0.0.1:18080/";

/// The tags whose lines are the same on an ESP32 and the linux build.
const TAGS: [&str; 4] = ["websocket", "websocket_client", "transport_ws", "trans_tcp"];

#[derive(Clone, Debug, PartialEq)]
struct Frame {
    t: f64,
    conn: usize,
    opcode: u8,
    fin: bool,
    masked: bool,
    mask: Vec<u8>,
    payload: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq)]
struct Close {
    t: f64,
    conn: usize,
    by: &'static str,
    kind: &'static str,
}

/// What one side of a session did, in the terms compared.
#[derive(Default, Debug)]
struct Observed {
    connects: Vec<f64>,
    requests: Vec<String>,
    frames: Vec<Frame>,
    closes: Vec<Close>,
    log: Vec<(f64, String)>,
}

/// The recorded server's behaviour, read from the session.
#[derive(Clone, Debug)]
struct Script {
    /// The recorded handshake answer, and whether its accept value was
    /// the correct one for the recorded key.
    answer: Vec<u8>,
    answer_correct: bool,
    /// Sends at offsets (s) from the handshake answer.
    timed: Vec<(f64, Vec<u8>)>,
    echo: bool,
    /// The server closes TCP once the client's CLOSE has come.
    close_after_client_close: bool,
}

pub fn run(paths: &[PathBuf], profile: Arc<Profile>, verbose: bool) -> Result<bool> {
    let files = super::real_firmware::files(paths)?;
    if files.is_empty() {
        bail!("no session files (*.json) in the paths given");
    }
    let results: Vec<Result<(String, bool, Vec<String>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .iter()
            .map(|f| {
                let profile = profile.clone();
                s.spawn(move || replay(f, profile, verbose))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| bail!("a replay panicked")))
            .collect()
    });
    let mut failed = 0;
    for r in results {
        let (head, ok, report) = r?;
        println!("{} {head}", if ok { "same  " } else { "DIFFER" });
        for line in report {
            println!("{line}");
        }
        if !ok {
            failed += 1;
        }
    }
    println!("{} sessions, {} differ", files.len(), failed);
    Ok(failed == 0)
}

fn hex(s: &str) -> Result<Vec<u8>> {
    hex::decode(s.trim()).context("bad hex")
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn normalize_request(req: &str) -> String {
    req.split("\r\n")
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("sec-websocket-key:") {
                "Sec-WebSocket-Key: [KEY]".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// A log line as compared: I/W/E of the component's and the example's
/// tags, timestamp out, a trailing CR out.
fn log_line(line: &str) -> Option<String> {
    let line = line.trim_end_matches('\r');
    let level = line.chars().next()?;
    if !matches!(level, 'I' | 'W' | 'E') {
        return None;
    }
    let rest = line.get(1..)?.strip_prefix(" (")?;
    let close = rest.find(") ")?;
    if !rest[..close].chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let rest = &rest[close + 2..];
    let (tag, _) = rest.split_once(": ")?;
    TAGS.contains(&tag).then(|| format!("{level} (T) {rest}"))
}

/// Bytes as the recorder rendered them: UTF-8 as text, anything else as
/// `\xNN`.
fn render(bytes: &[u8]) -> String {
    let mut s = String::new();
    for chunk in bytes.utf8_chunks() {
        s.push_str(chunk.valid());
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

/// The lines after `Connecting to`, as compared.
fn filter_log(lines: impl IntoIterator<Item = (f64, String)>) -> Vec<(f64, String)> {
    let mut started = false;
    let mut out = Vec::new();
    for (t, l) in lines {
        if !started {
            started = l.contains(": Connecting to ");
        }
        if started && let Some(n) = log_line(&l) {
            out.push((t, n));
        }
    }
    out
}

fn recorded(doc: &serde_json::Value) -> Result<(Observed, Script, f64)> {
    let events = doc["events"].as_array().cloned().unwrap_or_default();
    let window = doc["window_s"].as_f64().unwrap_or(14.0);
    let stop = events
        .iter()
        .find(|e| e["kind"] == "client-process-stop")
        .and_then(|e| e["t"].as_f64())
        .unwrap_or(window);
    let mut obs = Observed::default();
    let mut conns: BTreeMap<i64, usize> = BTreeMap::new();
    let mut answer = None;
    let mut first_answer_t = None;
    let mut timed = Vec::new();
    let mut echo = false;
    let mut server_close_after = false;
    for e in &events {
        let t = e["t"].as_f64().unwrap_or(0.0);
        let cid = e["cid"].as_i64().unwrap_or(0);
        let kind = e["kind"].as_str().unwrap_or("");
        let dir = e["dir"].as_str().unwrap_or("");
        if kind == "connect" {
            let n = conns.len();
            conns.insert(cid, n);
            obs.connects.push(t);
            continue;
        }
        let Some(&conn) = conns.get(&cid) else {
            continue;
        };
        match (kind, dir) {
            (_, "C->S") => {
                let bytes = hex(e["hex"].as_str().unwrap_or(""))?;
                if obs.requests.len() == conn && bytes.starts_with(b"GET ") {
                    obs.requests
                        .push(String::from_utf8_lossy(&bytes).into_owned());
                }
                for f in e["frames"].as_array().into_iter().flatten() {
                    obs.frames.push(Frame {
                        t,
                        conn,
                        opcode: f["opcode"].as_u64().unwrap_or(0) as u8,
                        fin: f["fin"].as_bool().unwrap_or(false),
                        masked: f["masked"].as_bool().unwrap_or(false),
                        mask: hex(f["mask"].as_str().unwrap_or(""))?,
                        payload: hex(f["payload_hex"].as_str().unwrap_or(""))?,
                    });
                }
            }
            (_, "S->C") => {
                let bytes = hex(e["hex"].as_str().unwrap_or(""))?;
                let note = e["note"].as_str().unwrap_or("");
                if conn != 0 {
                    continue;
                }
                if note == "handshake response" {
                    first_answer_t = Some(t);
                    let req = obs.requests.first().cloned().unwrap_or_default();
                    let key = header(&req, "Sec-WebSocket-Key").unwrap_or("");
                    let head = String::from_utf8_lossy(&bytes).into_owned();
                    let correct = header(&head, "Sec-WebSocket-Accept")
                        == Some(esp_ws_frame::accept_key(key.as_bytes()).as_str());
                    answer = Some((bytes, correct));
                } else if note == "echo" {
                    echo = true;
                } else if note == "auto PONG" {
                    // Answered as a reaction to the client's PING.
                } else if let Some(t0) = first_answer_t {
                    timed.push((t - t0, bytes));
                }
            }
            ("closed", _) if t < stop => {
                let info = e["info"].as_str().unwrap_or("");
                if info.contains("client closed") {
                    obs.closes.push(Close {
                        t,
                        conn,
                        by: "client",
                        kind: if info.contains("RST") { "RST" } else { "FIN" },
                    });
                } else {
                    obs.closes.push(Close {
                        t,
                        conn,
                        by: "server",
                        kind: if info.contains("RST") { "RST" } else { "FIN" },
                    });
                }
            }
            ("server-close", _) if t < stop => {
                server_close_after |= e["info"]
                    .as_str()
                    .is_some_and(|i| i.contains("after CLOSE"));
                obs.closes.push(Close {
                    t,
                    conn,
                    by: "server",
                    kind: "FIN",
                });
            }
            _ => {}
        }
    }
    let Some((answer, answer_correct)) = answer else {
        bail!("no handshake response recorded");
    };
    obs.log = filter_log(doc["log_timed"].as_array().into_iter().flatten().map(|l| {
        (
            l["t"].as_f64().unwrap_or(0.0),
            l["line"].as_str().unwrap_or("").to_string(),
        )
    }));
    Ok((
        obs,
        Script {
            answer,
            answer_correct,
            timed,
            echo,
            close_after_client_close: server_close_after,
        },
        window,
    ))
}

enum ToServer {
    Data(Vec<u8>),
    Closed { reset: bool },
}

/// esp-ws as the recorded server, in process: the model's connections
/// end here.
struct ServerWire {
    start: Instant,
    script: Script,
    lwip: OnceLock<Arc<Lwip>>,
    conns: Mutex<BTreeMap<ConnId, mpsc::Sender<ToServer>>>,
    obs: Mutex<Observed>,
    deadline: Instant,
    /// Itself, for the connection threads it starts.
    me: OnceLock<std::sync::Weak<ServerWire>>,
}

impl ServerWire {
    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

impl Wire for ServerWire {
    fn send(&self, conn: ConnId, data: &[u8]) {
        if let Some(tx) = self.conns.lock().unwrap().get(&conn) {
            let _ = tx.send(ToServer::Data(data.to_vec()));
        }
    }
    fn close(&self, conn: ConnId, reset: bool) {
        if let Some(tx) = self.conns.lock().unwrap().remove(&conn) {
            let _ = tx.send(ToServer::Closed { reset });
        }
    }
    fn connect(&self, conn: ConnId, host: &str, port: u16) -> bool {
        if format!("ws://{host}:{port}/") != URI {
            return false;
        }
        let (tx, rx) = mpsc::channel();
        self.conns.lock().unwrap().insert(conn, tx);
        let Some(wire) = self.me.get().and_then(std::sync::Weak::upgrade) else {
            return false;
        };
        std::thread::spawn(move || serve(wire, conn, rx));
        true
    }
}

/// A client frame parsed off the wire: bytes used, opcode, FIN, masked,
/// mask, unmasked payload.
type Parsed = (usize, u8, bool, bool, Vec<u8>, Vec<u8>);

/// The console as lines: the partial line, and each completed one with
/// its time.
type Console = Mutex<(Vec<u8>, Vec<(f64, String)>)>;

fn parse_frame(buf: &[u8]) -> Option<Parsed> {
    if buf.len() < 2 {
        return None;
    }
    let fin = buf[0] & 0x80 != 0;
    let opcode = buf[0] & 0x0f;
    let masked = buf[1] & 0x80 != 0;
    let mut at = 2;
    let mut len = (buf[1] & 0x7f) as usize;
    if len == 126 {
        if buf.len() < 4 {
            return None;
        }
        len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
        at = 4;
    } else if len == 127 {
        if buf.len() < 10 {
            return None;
        }
        len = u64::from_be_bytes(buf[2..10].try_into().ok()?) as usize;
        at = 10;
    }
    let mut mask = Vec::new();
    if masked {
        if buf.len() < at + 4 {
            return None;
        }
        mask = buf[at..at + 4].to_vec();
        at += 4;
    }
    if buf.len() < at + len {
        return None;
    }
    let mut payload = buf[at..at + len].to_vec();
    if masked {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
    Some((at + len, opcode, fin, masked, mask, payload))
}

/// One connection of the recorded server.
fn serve(wire: Arc<ServerWire>, conn: ConnId, rx: mpsc::Receiver<ToServer>) {
    let Some(lwip) = wait_lwip(&wire) else {
        return;
    };
    let index = {
        let mut obs = wire.obs.lock().unwrap();
        obs.connects.push(wire.now());
        obs.connects.len() - 1
    };
    if !lwip.host_connected(conn) {
        return;
    }
    let mut buf: Vec<u8> = Vec::new();
    let mut answered_at: Option<Instant> = None;
    let mut pending: VecDeque<(f64, Vec<u8>)> = wire.script.timed.iter().cloned().collect();
    let mut server_closed = false;
    loop {
        let now = Instant::now();
        if now >= wire.deadline {
            return;
        }
        // Timed sends due.
        if let Some(at) = answered_at {
            while let Some((off, _)) = pending.front() {
                if at + Duration::from_secs_f64(*off) > now {
                    break;
                }
                let (_, bytes) = pending.pop_front().unwrap();
                lwip.host_data(conn, &bytes);
            }
        }
        let next = answered_at
            .and_then(|at| {
                pending
                    .front()
                    .map(|(off, _)| at + Duration::from_secs_f64(*off))
            })
            .unwrap_or(wire.deadline)
            .min(wire.deadline);
        let msg = match rx.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Ok(m) => m,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        match msg {
            ToServer::Closed { reset } => {
                if !server_closed {
                    wire.obs.lock().unwrap().closes.push(Close {
                        t: wire.now(),
                        conn: index,
                        by: "client",
                        kind: if reset { "RST" } else { "FIN" },
                    });
                }
                return;
            }
            ToServer::Data(d) => {
                let t = wire.now();
                buf.extend_from_slice(&d);
                if answered_at.is_none() {
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let req: Vec<u8> = buf.drain(..end + 4).collect();
                    let req = String::from_utf8_lossy(&req).into_owned();
                    let key = header(&req, "Sec-WebSocket-Key").unwrap_or("").to_string();
                    wire.obs.lock().unwrap().requests.push(req);
                    let mut answer = String::from_utf8_lossy(&wire.script.answer).into_owned();
                    if wire.script.answer_correct
                        && let Some(old) =
                            header(&answer, "Sec-WebSocket-Accept").map(str::to_string)
                    {
                        answer = answer.replace(&old, &esp_ws_frame::accept_key(key.as_bytes()));
                    }
                    lwip.host_data(conn, answer.as_bytes());
                    answered_at = Some(Instant::now());
                    continue;
                }
                while let Some((used, opcode, fin, masked, mask, payload)) = parse_frame(&buf) {
                    buf.drain(..used);
                    wire.obs.lock().unwrap().frames.push(Frame {
                        t,
                        conn: index,
                        opcode,
                        fin,
                        masked,
                        mask,
                        payload: payload.clone(),
                    });
                    match opcode {
                        0..=2 if wire.script.echo => {
                            let mut f = vec![opcode | if fin { 0x80 } else { 0 }];
                            push_len(&mut f, payload.len());
                            f.extend_from_slice(&payload);
                            lwip.host_data(conn, &f);
                        }
                        9 => {
                            let mut f = vec![0x8a];
                            push_len(&mut f, payload.len());
                            f.extend_from_slice(&payload);
                            lwip.host_data(conn, &f);
                        }
                        8 if wire.script.close_after_client_close && !server_closed => {
                            server_closed = true;
                            wire.obs.lock().unwrap().closes.push(Close {
                                t: wire.now(),
                                conn: index,
                                by: "server",
                                kind: "FIN",
                            });
                            lwip.host_eof(conn);
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

fn push_len(f: &mut Vec<u8>, len: usize) {
    if len <= 125 {
        f.push(len as u8);
    } else if len < 65536 {
        f.push(126);
        f.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        f.push(127);
        f.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

fn wait_lwip(wire: &ServerWire) -> Option<Arc<Lwip>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(l) = wire.lwip.get() {
            return Some(l.clone());
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn replay(
    path: &Path,
    profile: Arc<Profile>,
    verbose: bool,
) -> Result<(String, bool, Vec<String>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let (want, script, window) =
        recorded(&doc).with_context(|| format!("{}: reading the session", path.display()))?;
    let start = Instant::now();
    let wire = Arc::new(ServerWire {
        start,
        script,
        lwip: OnceLock::new(),
        conns: Mutex::new(BTreeMap::new()),
        obs: Mutex::new(Observed::default()),
        deadline: start + Duration::from_secs_f64(window),
        me: OnceLock::new(),
    });
    let _ = wire.me.set(Arc::downgrade(&wire));
    // The serial console, each completed line with its time.
    let lines: Arc<Console> = Arc::default();
    let sink = {
        let lines = lines.clone();
        Arc::new(move |b: &[u8]| {
            let t = start.elapsed().as_secs_f64();
            let mut l = lines.lock().unwrap();
            for &c in b {
                if c == b'\n' {
                    let line = render(&std::mem::take(&mut l.0));
                    l.1.push((t, line));
                } else {
                    l.0.push(c);
                }
            }
        })
    };
    let mut cfg = SimConfig::new(profile);
    cfg.log_level = Level::Debug;
    cfg.uri = Some(URI.into());
    // The recorded client lived through the window (sheet: its destroy
    // was delayed).
    cfg.destroy_after = Some(Duration::from_secs(3600));
    let mut chip = Simulator::power_on(cfg, sink, wire.clone());
    let _ = wire.lwip.set(chip.lwip());
    std::thread::sleep(wire.deadline.saturating_duration_since(Instant::now()));
    chip.power_off();
    let mut got = std::mem::take(&mut *wire.obs.lock().unwrap());
    got.log = filter_log(std::mem::take(&mut lines.lock().unwrap().1));
    let (ok, report) = compare(&want, &got, verbose);
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let title = doc["title"].as_str().unwrap_or("");
    Ok((format!("{name}: {title}"), ok, report))
}

fn within(a: f64, b: f64) -> bool {
    (a - b).abs() <= WINDOW
}

fn compare(want: &Observed, got: &Observed, verbose: bool) -> (bool, Vec<String>) {
    let mut report = Vec::new();
    // Connects and their times.
    let wc: Vec<String> = want.connects.iter().map(|t| format!("{t:.2}")).collect();
    let gc: Vec<String> = got.connects.iter().map(|t| format!("{t:.2}")).collect();
    if want.connects.len() != got.connects.len()
        || want
            .connects
            .iter()
            .zip(&got.connects)
            .any(|(a, b)| !within(*a, *b))
    {
        report.push(format!(
            "  connects (s, ±{WINDOW}): real firmware [{}], simulator [{}]",
            wc.join(", "),
            gc.join(", ")
        ));
    }
    // Handshake requests, keys normalized; keys fresh.
    let wr: Vec<String> = want.requests.iter().map(|r| normalize_request(r)).collect();
    let gr: Vec<String> = got.requests.iter().map(|r| normalize_request(r)).collect();
    if wr != gr {
        report.push(format!(
            "  handshake requests differ:\n    real firmware {wr:?}\n    simulator     {gr:?}"
        ));
    }
    let keys: Vec<&str> = got
        .requests
        .iter()
        .filter_map(|r| header(r, "Sec-WebSocket-Key"))
        .collect();
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != keys.len() || keys.iter().any(|k| k.len() != 24) {
        report.push(format!(
            "  the simulator's keys are not fresh 24-character keys: {keys:?}"
        ));
    }
    // Frames.
    let show = |f: &Frame| {
        format!(
            "conn {} t={:.2} opcode={} fin={} masked={} payload={}",
            f.conn,
            f.t,
            f.opcode,
            f.fin,
            f.masked,
            render_payload(&f.payload)
        )
    };
    let same_frame = |a: &Frame, b: &Frame| {
        a.conn == b.conn
            && a.opcode == b.opcode
            && a.fin == b.fin
            && a.masked == b.masked
            && a.payload == b.payload
            && within(a.t, b.t)
    };
    if want.frames.len() != got.frames.len()
        || want
            .frames
            .iter()
            .zip(&got.frames)
            .any(|(a, b)| !same_frame(a, b))
    {
        let diff = similar::TextDiff::from_lines(
            &want
                .frames
                .iter()
                .map(|f| show(f) + "\n")
                .collect::<String>(),
            &got.frames
                .iter()
                .map(|f| show(f) + "\n")
                .collect::<String>(),
        )
        .unified_diff()
        .header("real firmware frames", "simulator frames")
        .to_string();
        report.push(format!(
            "  client frames differ (times ±{WINDOW} s; a time within the window may show as a change):\n{diff}"
        ));
    }
    let masks: Vec<&Vec<u8>> = got.frames.iter().map(|f| &f.mask).collect();
    let mut um = masks.clone();
    um.sort();
    um.dedup();
    if um.len() != masks.len() || got.frames.iter().any(|f| !f.masked) {
        report.push("  the simulator's frames are not all masked with fresh masks".into());
    }
    // TCP closes.
    let same_close = |a: &Close, b: &Close| {
        a.conn == b.conn && a.by == b.by && a.kind == b.kind && within(a.t, b.t)
    };
    if want.closes.len() != got.closes.len()
        || want
            .closes
            .iter()
            .zip(&got.closes)
            .any(|(a, b)| !same_close(a, b))
    {
        report.push(format!(
            "  TCP closes differ:\n    real firmware {:?}\n    simulator     {:?}",
            want.closes, got.closes
        ));
    }
    // Log lines: each recorded line matched by the same line within the
    // window, in order.
    let mut used = vec![false; got.log.len()];
    let mut missing = Vec::new();
    for (t, line) in &want.log {
        match got
            .log
            .iter()
            .enumerate()
            .position(|(i, (gt, gl))| !used[i] && gl == line && within(*gt, *t))
        {
            Some(i) => used[i] = true,
            None => missing.push(format!("    - {t:7.3} {line}")),
        }
    }
    let extra: Vec<String> = got
        .log
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|((t, l), _)| format!("    + {t:7.3} {l}"))
        .collect();
    if !missing.is_empty() || !extra.is_empty() {
        report.push(format!(
            "  log lines (I/W/E of {TAGS:?} after `Connecting to`, ±{WINDOW} s): - only on the real firmware, + only on the simulator"
        ));
        report.extend(missing);
        report.extend(extra);
    }
    let ok = report.is_empty();
    if verbose {
        report.push("  simulator log:".into());
        for (t, l) in &got.log {
            report.push(format!("    {t:7.3} {l}"));
        }
    }
    (ok, report)
}

fn render_payload(p: &[u8]) -> String {
    if p.len() > 40 {
        format!("{}…({} bytes)", hex::encode(&p[..16]), p.len())
    } else {
        hex::encode(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session whose client sent `hello 0001` where the model sends
    /// `hello 0000`: the replay must report the frame and fail.
    #[test]
    fn a_different_frame_fails_the_replay_with_a_diff() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let request = format!(
            "GET / HTTP/1.1\r\nConnection: Upgrade\r\nHost: 127.0.0.1:18080\r\nUser-Agent: ESP32 Websocket Client\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\nHeaderNewKey: value\r\n\r\n"
        );
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            esp_ws_frame::accept_key(key.as_bytes())
        );
        let session = serde_json::json!({
            "title": "hello 0001",
            "window_s": 1.5,
            "events": [
                {"t": 0.0, "cid": 0, "kind": "client-process-start"},
                {"t": 0.01, "cid": 1, "kind": "connect"},
                {"t": 0.01, "cid": 1, "dir": "C->S", "hex": hex::encode(&request)},
                {"t": 0.01, "cid": 1, "dir": "S->C", "hex": hex::encode(&answer), "note": "handshake response"},
                {"t": 0.05, "cid": 1, "dir": "C->S", "hex": "", "frames": [{
                    "fin": true, "opcode": 1, "masked": true, "mask": "01020304",
                    "payload_hex": hex::encode("hello 0001"),
                }]},
            ],
            "log_timed": [],
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, session.to_string()).unwrap();
        let profile = esp_ws_sim::profile::find("esp-websocket-client-1.8.0").unwrap();
        let (_, ok, report) = replay(&path, profile, false).unwrap();
        assert!(!ok, "a difference must fail");
        let report = report.join("\n");
        assert!(report.contains("client frames differ"), "{report}");
        assert!(
            report.contains(&format!("payload={}", hex::encode("hello 0001"))),
            "{report}"
        );
    }
}
