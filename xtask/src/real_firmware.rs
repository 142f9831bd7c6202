//! Replays wire sessions recorded on a real esp_http_server (JSON files:
//! `events` with `connect`, `C->S` bytes, `client-close`, and the server's
//! `S->C` bytes, `closed`, plus the serial `log`) against the simulator, and
//! reports every difference in bytes, closes and (debug-level) log lines.
//!
//! This is a development tool: the recordings are measurements kept outside
//! the repository, so nothing here is part of the test suite.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use esp_ws_log::{LineSplitter, Normalizer};
use esp_ws_sim::{ConnId, Level, SimConfig, Simulator, Wire};

#[derive(clap::Args)]
pub struct Args {
    /// Session files or directories of them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Firmware profile to run.
    #[arg(long, default_value = esp_ws_catalogue::DEFAULT)]
    firmware: String,
    /// Print the full logs side by side even when they match.
    #[arg(long)]
    verbose: bool,
}

#[derive(Default)]
struct Recorder {
    sent: BTreeMap<ConnId, Vec<u8>>,
    closed: BTreeMap<ConnId, &'static str>,
}

struct RecWire(Mutex<Recorder>);

impl Wire for RecWire {
    fn send(&self, conn: ConnId, data: &[u8]) {
        let mut r = self.0.lock().unwrap();
        r.sent.entry(conn).or_default().extend_from_slice(data);
    }
    fn close(&self, conn: ConnId, reset: bool) {
        let mut r = self.0.lock().unwrap();
        r.closed.insert(conn, if reset { "RST" } else { "FIN" });
    }
}

pub(crate) fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if !p.exists() {
            bail!(
                "{}: no such file or folder. The recordings are JSON transcripts of sessions with real firmware \
                 (bytes each side sent, closes, serial log); the project's CI keeps them beside the repository, \
                 in ../shared/real-firmware/v5.5.5/ and ../shared/real-firmware/master/",
                p.display()
            );
        }
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            v.sort();
            out.extend(v);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

pub fn run(args: Args) -> Result<ExitCode> {
    let Some(profile) = esp_ws_sim::profile::find(&args.firmware) else {
        bail!("unknown firmware profile {:?}", args.firmware);
    };
    // A firmware that dials out: esp-ws plays the recorded server.
    if profile.firmware.dials_out {
        let ok = crate::real_firmware_client::run(&args.paths, profile, args.verbose)?;
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let mut failed = 0;
    let files = files(&args.paths)?;
    for f in &files {
        if !replay(f, profile.clone(), args.verbose)? {
            failed += 1;
        }
    }
    println!("{} sessions, {} differ", files.len(), failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn normalize(log: &str) -> Vec<String> {
    let mut n = Normalizer::esp_idf();
    n.add_socket_fd_rules();
    let mut split = LineSplitter::new();
    let mut lines = split.push(log.as_bytes());
    lines.extend(split.finish());
    lines
        .iter()
        .map(|l| n.normalize(&l.parse()))
        .filter(|l| !l.trim().is_empty())
        .collect()
}

fn replay(path: &Path, profile: Arc<esp_ws_sim::Profile>, verbose: bool) -> Result<bool> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: serde_json::Value = serde_json::from_str(&text)?;
    let title = doc["title"].as_str().unwrap_or("");
    let serial = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = {
        let serial = serial.clone();
        Arc::new(move |b: &[u8]| serial.lock().unwrap().extend_from_slice(b))
    };
    let wire = Arc::new(RecWire(Mutex::new(Recorder::default())));
    let mut cfg = SimConfig::new(profile);
    cfg.log_level = Level::Debug;
    let chip = Simulator::power_on(cfg, sink, wire.clone());
    if !chip.wait_booted(Duration::from_secs(5)) {
        bail!("the simulated chip did not boot");
    }
    chip.wait_idle(Duration::from_secs(5));
    serial.lock().unwrap().clear();
    let lwip = chip.lwip();
    let mut ids: BTreeMap<String, ConnId> = BTreeMap::new();
    let mut expect_sent: BTreeMap<ConnId, Vec<u8>> = BTreeMap::new();
    let mut expect_closed: BTreeMap<ConnId, String> = BTreeMap::new();
    let events = doc["events"].as_array().cloned().unwrap_or_default();
    for ev in &events {
        let cid = ev["cid"].as_str().unwrap_or("c").to_string();
        let next = ids.len() as ConnId + 1;
        let id = *ids.entry(cid).or_insert(next);
        match (ev["kind"].as_str(), ev["dir"].as_str()) {
            (Some("connect"), _) => {
                lwip.host_connect(id);
            }
            (_, Some("C->S")) => {
                let bytes = hex(ev["hex"].as_str().unwrap_or(""))?;
                lwip.host_data(id, &bytes);
            }
            (Some("client-close"), _) => {
                let info = ev["info"].as_str().unwrap_or("");
                if info.contains("RST") {
                    lwip.host_reset(id);
                } else {
                    lwip.host_eof(id);
                }
            }
            (_, Some("S->C")) => {
                expect_sent.insert(id, hex(ev["hex"].as_str().unwrap_or(""))?);
            }
            (Some("closed"), _) => {
                expect_closed.insert(id, ev["info"].as_str().unwrap_or("").to_string());
            }
            _ => {}
        }
        // Replies came about 100 ms after each request on the real build;
        // here the model settles completely before the next event.
        if !chip.wait_idle(Duration::from_secs(8)) {
            println!("  (the model did not settle after an event)");
        }
    }
    let got_log = String::from_utf8_lossy(&serial.lock().unwrap()).into_owned();
    let rec = wire.0.lock().unwrap();
    let mut ok = true;
    let name = path.file_name().unwrap().to_string_lossy();
    let mut report = Vec::new();
    for (id, want) in &expect_sent {
        let got = rec.sent.get(id).cloned().unwrap_or_default();
        if &got != want {
            ok = false;
            report.push(format!(
                "  bytes S->C conn {id}:\n    want {}\n    got  {}",
                esc(want),
                esc(&got)
            ));
        }
    }
    for (id, got) in &rec.sent {
        if !expect_sent.contains_key(id) && !got.is_empty() {
            ok = false;
            report.push(format!(
                "  bytes S->C conn {id}: none expected, got {}",
                esc(got)
            ));
        }
    }
    for (id, want) in &expect_closed {
        match rec.closed.get(id) {
            Some(got) if got == want => {}
            other => {
                ok = false;
                report.push(format!(
                    "  server close of conn {id}: want {want}, got {other:?}"
                ));
            }
        }
    }
    let want_log = normalize(doc["log"].as_str().unwrap_or(""));
    let got_log = normalize(&got_log);
    if want_log != got_log || verbose {
        if want_log != got_log {
            ok = false;
        }
        let diff = similar::TextDiff::from_lines(&want_log.join("\n"), &got_log.join("\n"))
            .unified_diff()
            .header("real firmware", "simulator")
            .to_string();
        report.push(diff);
    }
    println!("{} {name}: {title}", if ok { "same  " } else { "DIFFER" });
    for r in report {
        println!("{r}");
    }
    Ok(ok)
}

fn hex(s: &str) -> Result<Vec<u8>> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(s).context("bad hex")
}

fn esc(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b.iter().take(200) {
        if c.is_ascii_graphic() || c == b' ' {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    if b.len() > 200 {
        s.push_str(&format!("…({} bytes)", b.len()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session in which the server answered a handshake without a key by
    /// closing with an RST, where the model closes with a FIN: a difference,
    /// which must make the command fail (CI relies on its exit code).
    #[test]
    fn any_difference_fails_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let request = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let session = serde_json::json!({
            "name": "x",
            "title": "no key, answered with an RST",
            "events": [
                {"cid": "c", "kind": "connect"},
                {"cid": "c", "dir": "C->S", "hex": hex::encode(request)},
                {"cid": "c", "kind": "closed", "info": "RST"},
            ],
            "log": "",
        });
        std::fs::write(dir.path().join("x.json"), session.to_string()).unwrap();
        let code = run(Args {
            paths: vec![dir.path().to_path_buf()],
            firmware: "v5.5.5".into(),
            verbose: false,
        })
        .unwrap();
        assert_eq!(code, ExitCode::FAILURE);
    }
}
