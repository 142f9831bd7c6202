//! A real board: its address on the network, and its UART through the USB
//! serial port of the board's USB-UART bridge.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::serial::SerialLog;
use crate::{Dut, DutError, Link, Readiness, Settled, StartContext, Stopped, Target};

/// What the example prints when built with
/// CONFIG_EXAMPLE_WIFI_SSID_PWD_FROM_STDIN (protocol_examples_common,
/// wifi_connect.c), before it reads `ssid password` from its console.
pub const WIFI_PROMPT: &str = "Please input ssid password:";

/// Wi-Fi credentials to type at the firmware's prompt.
#[derive(Clone)]
pub struct WifiCredentials {
    pub ssid: String,
    pub password: String,
}

impl std::fmt::Debug for WifiCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WifiCredentials")
            .field("ssid", &self.ssid)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

#[derive(Clone, Debug)]
pub struct SerialConfig {
    pub path: PathBuf,
    pub baud: u32,
}

/// How a board target is reached.
#[derive(Clone, Debug)]
pub struct BoardConfig {
    /// `ADDR[:PORT]` as given: an IP address or a host name (port 80 when
    /// none is given).
    pub host: String,
    pub serial: Option<SerialConfig>,
    /// Pulse RTS/DTR as esptool's hard reset does, so that the board boots
    /// and its whole boot log is captured.
    pub reset: bool,
    pub wifi: Option<WifiCredentials>,
}

/// `ADDR[:PORT]` → (host, port): `10.0.0.2`, `10.0.0.2:8080`, `esp32.local`,
/// `[fe80::1]:80`, and a bare IPv6 address.
pub fn split_host(host: &str) -> Result<(String, u16), DutError> {
    let bad = |why: &str| DutError::Host {
        host: format!("{host:?}"),
        reason: format!("{why} (expected ADDR or ADDR:PORT)"),
    };
    if host.is_empty() {
        return Err(bad("empty"));
    }
    if let Some(rest) = host.strip_prefix('[') {
        let Some((addr, tail)) = rest.split_once(']') else {
            return Err(bad("no closing ] after an IPv6 address"));
        };
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad("the port is not a number"))?,
            None if tail.is_empty() => 80,
            None => return Err(bad("unexpected text after ]")),
        };
        return Ok((addr.to_string(), port));
    }
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok((host.to_string(), 80));
    }
    match host.rsplit_once(':') {
        Some((h, p)) => {
            let port = p.parse().map_err(|_| bad("the port is not a number"))?;
            if h.is_empty() {
                return Err(bad("no address before the port"));
            }
            Ok((h.to_string(), port))
        }
        None => Ok((host.to_string(), 80)),
    }
}

/// Resolves `ADDR[:PORT]` with the system resolver, within `timeout`.
pub async fn resolve(host: &str, timeout: Duration) -> Result<SocketAddr, DutError> {
    let (h, port) = split_host(host)?;
    let lookup = tokio::net::lookup_host((h.as_str(), port));
    let bad = |reason: String| DutError::Host {
        host: host.to_string(),
        reason,
    };
    match tokio::time::timeout(timeout, lookup).await {
        Err(_) => Err(bad(format!("resolving {h} took longer than {timeout:?}"))),
        Ok(Err(e)) => Err(bad(format!("cannot resolve {h}: {e}"))),
        Ok(Ok(mut addrs)) => addrs
            .next()
            .ok_or_else(|| bad(format!("{h} has no address"))),
    }
}

/// The board's serial port: a reader thread feeds the serial log; writes
/// (Wi-Fi credentials) and modem-control lines go through a clone.
pub struct SerialLink {
    path: PathBuf,
    writer: Mutex<Box<dyn serialport::SerialPort>>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl SerialLink {
    /// Opens the port at `baud`, 8N1, no flow control, leaving DTR and RTS
    /// as the kernel sets them on open (both asserted: the auto-reset
    /// circuit of ESP32 boards does not reset on that), and starts reading.
    pub fn open(cfg: &SerialConfig, log: SerialLog) -> Result<SerialLink, DutError> {
        let name = cfg.path.display().to_string();
        let port = serialport::new(name, cfg.baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(serialport::FlowControl::None)
            .timeout(Duration::from_millis(100))
            .preserve_dtr_on_open()
            .open()
            .map_err(|source| DutError::SerialOpen {
                path: cfg.path.clone(),
                source,
            })?;
        let mut reader_port = port.try_clone().map_err(|source| DutError::SerialOpen {
            path: cfg.path.clone(),
            source,
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("serial-rx".into())
                .spawn(move || {
                    let mut buf = [0u8; 4096];
                    // The read times out every 100 ms, so the stop flag is
                    // seen within that.
                    while !stop.load(Ordering::SeqCst) {
                        match reader_port.read(&mut buf) {
                            Ok(0) => std::thread::sleep(Duration::from_millis(10)),
                            Ok(n) => log.push(&buf[..n]),
                            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                tracing::warn!("serial port read failed: {e}");
                                break;
                            }
                        }
                    }
                    log.close();
                })
                .map_err(|source| DutError::SerialIo {
                    path: cfg.path.clone(),
                    what: "cannot start its reader",
                    source,
                })?
        };
        Ok(SerialLink {
            path: cfg.path.clone(),
            writer: Mutex::new(port),
            stop,
            reader: Some(reader),
        })
    }

    /// esptool's hard reset: DTR released (IO0 high: boot from flash), RTS
    /// asserted (EN low: the chip held in reset) for 100 ms, then released.
    pub fn hard_reset(&self) -> Result<(), DutError> {
        let mut p = self.writer.lock().unwrap();
        let refused = |line: &'static str, source: serialport::Error| DutError::SerialReset {
            path: self.path.clone(),
            line,
            source,
        };
        p.write_data_terminal_ready(false)
            .map_err(|e| refused("DTR", e))?;
        p.write_request_to_send(true)
            .map_err(|e| refused("RTS", e))?;
        std::thread::sleep(Duration::from_millis(100));
        p.write_request_to_send(false)
            .map_err(|e| refused("RTS", e))?;
        Ok(())
    }

    /// Sends bytes to the board's console.
    pub fn write(&self, bytes: &[u8]) -> Result<(), DutError> {
        let mut p = self.writer.lock().unwrap();
        p.write_all(bytes)
            .and_then(|_| p.flush())
            .map_err(|source| DutError::SerialIo {
                path: self.path.clone(),
                what: "write failed",
                source,
            })
    }
}

impl Drop for SerialLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.reader.take() {
            let _ = t.join();
        }
    }
}

/// Answers the Wi-Fi prompt with the credentials each time the firmware
/// prints it (after every boot), for as long as the task runs. The password
/// is redacted from the serial log before anything is stored.
pub fn answer_wifi_prompt(
    log: SerialLog,
    link: Arc<SerialLink>,
    wifi: WifiCredentials,
) -> tokio::task::JoinHandle<()> {
    log.recognise(WIFI_PROMPT);
    log.redact(&wifi.password);
    tokio::spawn(async move {
        let mut from = 0;
        loop {
            // Bounded waits, one after the other, until the task is aborted.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
            let Some(line) = log
                .wait_for(from, deadline, |l| l.recognised.contains(&WIFI_PROMPT))
                .await
            else {
                if log.is_closed() {
                    return;
                }
                continue;
            };
            from = line.index + 1;
            let answer = format!("{} {}\n", wifi.ssid, wifi.password);
            match link.write(answer.as_bytes()) {
                Ok(()) => tracing::info!(
                    "answered the firmware's Wi-Fi prompt (SSID {}, password redacted)",
                    wifi.ssid
                ),
                Err(e) => tracing::warn!("{e}"),
            }
        }
    })
}

/// A real board on the network, its log from its USB serial port.
#[derive(Clone, Debug)]
pub struct BoardTarget {
    pub cfg: BoardConfig,
}

impl Target for BoardTarget {
    fn kind(&self) -> &'static str {
        "board"
    }

    fn describe(&self) -> String {
        match &self.cfg.serial {
            Some(s) => format!("board at {} (serial {})", self.cfg.host, s.path.display()),
            None => format!("board at {} (no serial log)", self.cfg.host),
        }
    }

    fn max_instances(&self) -> Option<(usize, String)> {
        Some((1, "there is one board".into()))
    }

    fn link(&self) -> Link {
        Link::Network
    }

    /// A board reaches esp-ws over the network: the user names the LAN
    /// address (`--listen`); loopback would never see it.
    fn listen_default(&self, _firmware_port: u16) -> Option<SocketAddr> {
        None
    }

    /// Resolves the board's address, opens its serial port (if any) and,
    /// with `reset`, pulses it into a fresh boot.
    fn start(&self, ctx: StartContext) -> BoxFuture<'_, Result<Box<dyn Dut>, DutError>> {
        Box::pin(async move {
            let cfg = &self.cfg;
            // A firmware that dials out is reached at no address of its own.
            let endpoint = match &ctx.dial {
                Some(_) => None,
                None => Some(resolve(&cfg.host, Duration::from_secs(10)).await?),
            };
            let dir = crate::required_dir(&ctx, "board")?;
            let label = ctx.label;
            let serial_path = dir.join("serial.log");
            let serial =
                SerialLog::new(Some(serial_path.clone())).map_err(|source| DutError::Write {
                    label: label.clone(),
                    path: serial_path,
                    source,
                })?;
            // Before any byte is read: the prompt is recognised as printed,
            // and then the password is redacted, so it is never stored (even
            // where it is a word of the prompt itself).
            serial.recognise(WIFI_PROMPT);
            if let Some(w) = &cfg.wifi {
                serial.redact(&w.password);
            }
            let link = match &cfg.serial {
                Some(sc) => Some(Arc::new(SerialLink::open(sc, serial.clone())?)),
                None => None,
            };
            let prompt = match (&link, &cfg.wifi) {
                (Some(l), Some(w)) => {
                    Some(answer_wifi_prompt(serial.clone(), l.clone(), w.clone()))
                }
                _ => None,
            };
            if cfg.reset {
                let Some(l) = &link else {
                    return Err(DutError::ResetWithoutSerial);
                };
                l.hard_reset()?;
            }
            match (endpoint, &ctx.dial) {
                (Some(e), _) => tracing::info!("{label}: board at {e}"),
                (None, Some(d)) => tracing::info!("{label}: a board that dials {}", d.uri),
                (None, None) => {}
            }
            Ok(Box::new(BoardDut {
                label,
                endpoint,
                serial,
                dir,
                reset: cfg.reset,
                link,
                prompt,
            }) as Box<dyn Dut>)
        })
    }
}

struct BoardDut {
    label: String,
    endpoint: Option<SocketAddr>,
    serial: SerialLog,
    dir: PathBuf,
    /// It was reset, so it boots now; otherwise esp-ws attached to it.
    reset: bool,
    link: Option<Arc<SerialLink>>,
    prompt: Option<tokio::task::JoinHandle<()>>,
}

impl Dut for BoardDut {
    fn label(&self) -> &str {
        &self.label
    }

    fn endpoint(&self) -> Option<SocketAddr> {
        self.endpoint
    }

    fn serial(&self) -> &SerialLog {
        &self.serial
    }

    fn has_serial_log(&self) -> bool {
        self.link.is_some()
    }

    fn dir(&self) -> Option<&std::path::Path> {
        Some(&self.dir)
    }

    fn readiness(&self) -> Readiness {
        if self.reset {
            Readiness::BootLog { probe: true }
        } else {
            // A board that was not reset is already running: its boot log
            // is gone.
            Readiness::Handshake
        }
    }

    /// A board does not go away; it reboots or hangs.
    fn ended(&self) -> Option<String> {
        None
    }

    fn settle(&self, max: Duration) -> BoxFuture<'_, Settled> {
        Box::pin(async move {
            let quiet = Duration::from_millis(500);
            if self.link.is_none() {
                // Nothing to watch: give the board the quiet period.
                tokio::time::sleep(quiet.min(max)).await;
                return Settled::Quiet;
            }
            let deadline = tokio::time::Instant::now() + max;
            if self.serial.wait_quiet(quiet, deadline).await {
                Settled::Quiet
            } else {
                Settled::TimedOut
            }
        })
    }

    /// When the firmware sits at its Wi-Fi prompt, it waits for credentials.
    fn hint(&self) -> Option<crate::Hint> {
        let asked = self
            .serial
            .lines(0, usize::MAX)
            .iter()
            .any(|l| l.recognised.contains(&WIFI_PROMPT));
        asked.then_some(crate::Hint::WifiPrompt(WIFI_PROMPT))
    }

    fn stop(self: Box<Self>) -> BoxFuture<'static, Option<Stopped>> {
        Box::pin(async move {
            if let Some(t) = self.prompt {
                t.abort();
            }
            // The reader thread stops within its read timeout.
            drop(self.link);
            None
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_forms() {
        assert_eq!(split_host("10.0.0.2").unwrap(), ("10.0.0.2".into(), 80));
        assert_eq!(
            split_host("10.0.0.2:8080").unwrap(),
            ("10.0.0.2".into(), 8080)
        );
        assert_eq!(
            split_host("esp32.local").unwrap(),
            ("esp32.local".into(), 80)
        );
        assert_eq!(split_host("[fe80::1]:81").unwrap(), ("fe80::1".into(), 81));
        assert_eq!(split_host("[::1]").unwrap(), ("::1".into(), 80));
        assert_eq!(split_host("::1").unwrap(), ("::1".into(), 80));
        let e = split_host("10.0.0.2:http").unwrap_err().to_string();
        assert!(e.contains("the port is not a number"), "{e}");
        assert!(split_host("").is_err());
        assert!(split_host(":80").is_err());
        assert!(split_host("[::1").is_err());
    }

    #[test]
    fn credentials_never_show_their_password_in_debug_output() {
        let w = WifiCredentials {
            ssid: "net".into(),
            password: "hunter2".into(),
        };
        let d = format!("{w:?}");
        assert!(d.contains("net") && !d.contains("hunter2"), "{d}");
    }
}
