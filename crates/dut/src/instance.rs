//! A running target instance, whatever kind it is: its WebSocket endpoint,
//! its serial log, how to wait for it to settle, how to stop it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::board::{BoardConfig, SerialLink};
use crate::process::{StopTimeouts, Stopped, Supervised};
use crate::qemu::{self, Launch, QemuBinary};
use crate::serial::{SerialLine, SerialLog};
use crate::sim::{SimHost, SimOptions};

struct ProcessTarget {
    child: Supervised,
    qmp: Option<SocketAddr>,
}

struct BoardTarget {
    serial: Option<std::sync::Arc<SerialLink>>,
    prompt: Option<tokio::task::JoinHandle<()>>,
}

enum Backend {
    Sim(SimHost),
    Process(ProcessTarget),
    Board(BoardTarget),
}

pub struct Instance {
    /// A short name for messages (`sim#1`, `qemu#2`).
    pub label: String,
    /// Where WebSocket clients connect.
    pub endpoint: SocketAddr,
    pub serial: SerialLog,
    /// The instance's folder in the run's artifacts, if any.
    pub dir: Option<PathBuf>,
    /// The impairment proxy clients go through, if any (`endpoint` is then
    /// its address, and `target_endpoint` the target's own).
    proxy: Option<esp_ws_impair::Proxy>,
    /// Where the target itself listens.
    pub target_endpoint: SocketAddr,
    /// The serial line the current boot starts at: a panic before it
    /// belongs to an earlier boot that the target has recovered from.
    boot_line: std::sync::atomic::AtomicUsize,
    backend: Backend,
}

/// What a finished settle reports.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// The target says it has nothing left to do (exact, simulator only).
    Idle,
    /// No serial output for the quiet period.
    Quiet,
    /// The deadline passed first.
    TimedOut,
}

/// The firmware crashed or its process ended.
#[derive(Clone, Debug)]
pub struct Crash {
    /// One line saying what happened.
    pub what: String,
    /// The serial lines that show it (the panic output), if any.
    pub lines: Vec<String>,
}

/// Serial lines that mean the firmware died: ESP-IDF's panic handler, an
/// abort, and the reset reasons the ROM prints after a software or
/// watchdog reset (with `-no-reboot`, QEMU exits right after them).
pub fn panic_marker(text: &str) -> bool {
    const MARKERS: &[&str] = &[
        "Guru Meditation Error",
        "abort() was called",
        "***ERROR*** A stack overflow",
        "rst:0xc (SW_CPU_RESET)",
        "(TG0WDT_SYS_RESET)",
        "(TG1WDT_SYS_RESET)",
        "(RTCWDT_SYS_RESET)",
        "(TGWDT_CPU_RESET)",
        "(RTCWDT_CPU_RESET)",
        "(RTCWDT_RTC_RESET)",
    ];
    MARKERS.iter().any(|m| text.contains(m))
}

/// The panic block starting at `start`: until `Rebooting...` or 40 lines.
fn panic_block(lines: &[SerialLine], start: usize) -> Vec<String> {
    let mut out = Vec::new();
    for l in lines[start..].iter().take(40) {
        let t = l.text();
        let end = t.contains("Rebooting...");
        out.push(t);
        if end {
            break;
        }
    }
    out
}

/// A free TCP port on loopback (bound and released: the caller must cope
/// with losing the race, e.g. QEMU's hostfwd error).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// How QEMU is to be started (everything but the ports).
#[derive(Clone, Debug)]
pub struct QemuConfig {
    pub binary: QemuBinary,
    /// The flash image, already assembled and checked (every instance
    /// gets its own copy: QEMU writes to it).
    pub image: std::sync::Arc<Vec<u8>>,
    pub psram: Option<String>,
    pub guest_port: u16,
    pub extra: Vec<String>,
}

/// How a program started by `--target exec` is run.
#[derive(Clone, Debug)]
pub struct ExecConfig {
    pub program: String,
    /// `{port}` is replaced by the port.
    pub args: Vec<String>,
    /// None: a free port is chosen per instance.
    pub port: Option<u16>,
}

fn create_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

impl Instance {
    /// Starts the in-process simulator. `serial_file` receives the raw
    /// serial output.
    pub async fn start_sim(
        label: String,
        opts: SimOptions,
        serial_file: Option<PathBuf>,
    ) -> std::io::Result<Instance> {
        let serial = SerialLog::new(serial_file)?;
        let sink = {
            let serial = serial.clone();
            std::sync::Arc::new(move |b: &[u8]| serial.push(b))
        };
        let host = SimHost::start(opts, sink).await?;
        Ok(Instance {
            label,
            endpoint: host.local_addr(),
            target_endpoint: host.local_addr(),
            serial,
            dir: None,
            boot_line: Default::default(),
            proxy: None,
            backend: Backend::Sim(host),
        })
    }

    /// Starts a program that prints a serial log on stdout and serves
    /// WebSocket on a port (a linux-target firmware, `esp-ws sim`).
    pub async fn start_exec(
        label: String,
        cfg: &ExecConfig,
        dir: PathBuf,
    ) -> std::io::Result<Instance> {
        create_dir(&dir)?;
        let port = match cfg.port {
            Some(p) => p,
            None => free_port()?,
        };
        let args: Vec<String> = cfg
            .args
            .iter()
            .map(|a| a.replace("{port}", &port.to_string()))
            .collect();
        let mut cmd = Command::new(&cfg.program);
        cmd.args(&args);
        let line = qemu::shell_line(
            &std::iter::once(cfg.program.clone())
                .chain(args)
                .collect::<Vec<_>>(),
        );
        tracing::info!("{label}: {line}");
        std::fs::write(dir.join("command.txt"), format!("{line}\n"))?;
        let serial = SerialLog::new(Some(dir.join("serial.log")))?;
        let child = Supervised::spawn(
            &label,
            cmd,
            serial.clone(),
            Some(dir.join("stderr.log")),
            None,
        )?;
        Ok(Instance {
            label,
            endpoint: SocketAddr::from(([127, 0, 0, 1], port)),
            target_endpoint: SocketAddr::from(([127, 0, 0, 1], port)),
            serial,
            dir: Some(dir),
            boot_line: Default::default(),
            proxy: None,
            backend: Backend::Process(ProcessTarget { child, qmp: None }),
        })
    }

    /// Starts Espressif's QEMU on a copy of the flash image, with a fresh
    /// eFuse file, the firmware's port forwarded to a free loopback port and
    /// a QMP socket.
    pub async fn start_qemu(
        label: String,
        cfg: &QemuConfig,
        dir: PathBuf,
    ) -> Result<Instance, String> {
        let io = |e: std::io::Error| format!("{label}: {e}");
        create_dir(&dir).map_err(io)?;
        let flash = dir.join("flash.bin");
        let efuse = dir.join("efuse.bin");
        std::fs::write(&flash, cfg.image.as_slice()).map_err(io)?;
        std::fs::write(&efuse, esp_ws_image::esp32_default_efuse()).map_err(io)?;
        let make = |host_port: u16, qmp_port: u16| {
            qemu::command_line(&Launch {
                qemu: cfg.binary.path.clone(),
                machine: "esp32".into(),
                psram: cfg.psram.clone(),
                flash: flash.clone(),
                efuse: efuse.clone(),
                host_port,
                guest_port: cfg.guest_port,
                qmp_port,
                extra: cfg.extra.clone(),
            })
        };
        let started = spawn_qemu(&label, make, &dir, None).await?;
        Ok(Instance {
            label,
            endpoint: SocketAddr::from(([127, 0, 0, 1], started.host_port)),
            target_endpoint: SocketAddr::from(([127, 0, 0, 1], started.host_port)),
            serial: started.serial,
            dir: Some(dir),
            boot_line: Default::default(),
            proxy: None,
            backend: Backend::Process(ProcessTarget {
                child: started.child,
                qmp: Some(started.qmp),
            }),
        })
    }

    /// For a process whose output ended: waits (bounded) for its exit
    /// status, which the reaper records a moment after the pipes close.
    pub async fn wait_exit(&self, timeout: Duration) {
        if let Backend::Process(p) = &self.backend {
            p.child.wait_exit(timeout).await;
        }
    }

    /// The process behind the instance, if it is one.
    pub fn pid(&self) -> Option<i32> {
        match &self.backend {
            Backend::Process(p) => Some(p.child.pid()),
            Backend::Sim(_) | Backend::Board(_) => None,
        }
    }

    /// Did the firmware crash (a panic in the serial log from line `from`
    /// on, in its current boot) or its process end?
    pub fn crash(&self, from: usize) -> Option<Crash> {
        let from = from.max(self.boot_line());
        let lines = self.serial.lines(from, usize::MAX);
        if let Some(i) = lines.iter().position(|l| panic_marker(&l.text())) {
            return Some(Crash {
                what: format!("{}: the firmware crashed", self.label),
                lines: panic_block(&lines, i),
            });
        }
        if let Backend::Process(p) = &self.backend
            && let Some(status) = p.child.exit_status()
        {
            let stderr = p.child.stderr_tail();
            let mut what = format!("{}: the process exited ({status})", self.label);
            if !stderr.trim().is_empty() {
                what.push_str(&format!(
                    "; its stderr ends with: {}",
                    last_lines(&stderr, 5)
                ));
            }
            return Some(Crash {
                what,
                lines: Vec::new(),
            });
        }
        None
    }

    /// False for a board without `--serial`: there is no log to read.
    pub fn has_serial_log(&self) -> bool {
        !matches!(&self.backend, Backend::Board(b) if b.serial.is_none())
    }

    /// Puts the impairment proxy between clients and the target: from now
    /// on `endpoint` is the proxy's address.
    pub async fn impair(&mut self, imp: esp_ws_impair::Impairment) -> std::io::Result<()> {
        let proxy = esp_ws_impair::Proxy::start(self.target_endpoint, imp).await?;
        self.endpoint = proxy.local_addr();
        self.proxy = Some(proxy);
        Ok(())
    }

    /// Starts a board target: resolves its address, opens its serial port
    /// (if any) and, with `reset`, pulses it into a fresh boot. Readiness
    /// is the caller's: from the log after a reset, from the network when
    /// attaching to a running board.
    pub async fn start_board(
        label: String,
        cfg: &BoardConfig,
        dir: PathBuf,
    ) -> Result<Instance, String> {
        let endpoint = crate::board::resolve(&cfg.host, Duration::from_secs(10)).await?;
        create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let serial = SerialLog::new(Some(dir.join("serial.log")))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        if let Some(w) = &cfg.wifi {
            // Before any byte is read, so the password is never stored.
            serial.redact(&w.password);
        }
        let link = match &cfg.serial {
            Some(sc) => Some(std::sync::Arc::new(SerialLink::open(sc, serial.clone())?)),
            None => None,
        };
        let prompt = match (&link, &cfg.wifi) {
            (Some(l), Some(w)) => Some(crate::board::answer_wifi_prompt(
                serial.clone(),
                l.clone(),
                w.clone(),
            )),
            _ => None,
        };
        if cfg.reset {
            let Some(l) = &link else {
                return Err(
                    "--reset needs --serial (the reset goes through its RTS and DTR lines)".into(),
                );
            };
            l.hard_reset()?;
        }
        tracing::info!("{label}: board at {endpoint}");
        Ok(Instance {
            label,
            endpoint,
            target_endpoint: endpoint,
            serial,
            dir: Some(dir),
            boot_line: Default::default(),
            proxy: None,
            backend: Backend::Board(BoardTarget {
                serial: link,
                prompt,
            }),
        })
    }

    /// The serial line the current boot starts at.
    pub fn boot_line(&self) -> usize {
        self.boot_line.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Records that the firmware booted again from serial line `line` on
    /// (after a panic reboot): earlier panics no longer count as a crash.
    pub fn rebooted_at(&self, line: usize) {
        self.boot_line
            .store(line, std::sync::atomic::Ordering::SeqCst);
    }

    /// Has the process behind the instance ended?
    pub fn exited(&self) -> bool {
        match &self.backend {
            Backend::Process(p) => p.child.exit_status().is_some(),
            Backend::Sim(h) => h.halted(),
            // A board does not go away; it reboots or hangs.
            Backend::Board(_) => false,
        }
    }

    /// Waits until the target has finished reacting to everything a
    /// scenario did (so the next scenario's log slice starts clean).
    pub async fn settle(&self, quiet: Duration, max: Duration) -> Settled {
        match &self.backend {
            Backend::Sim(h) => {
                if h.settle(max).await {
                    Settled::Idle
                } else {
                    Settled::TimedOut
                }
            }
            Backend::Board(b) if b.serial.is_none() => {
                // Nothing to watch: give the board the quiet period.
                tokio::time::sleep(quiet.min(max)).await;
                Settled::Quiet
            }
            Backend::Process(_) | Backend::Board(_) => {
                let deadline = tokio::time::Instant::now() + max;
                if self.serial.wait_quiet(quiet, deadline).await {
                    Settled::Quiet
                } else {
                    Settled::TimedOut
                }
            }
        }
    }

    /// Waits until the target has processed what it was sent so far, when
    /// the target can tell (the simulator); otherwise returns at once.
    pub async fn sync(&self, max: Duration) {
        if let Backend::Sim(h) = &self.backend {
            h.wait_idle(max).await;
        }
    }

    /// Stops the target: the simulator is powered off; a process gets QMP
    /// `quit` (QEMU), then SIGTERM, then SIGKILL, each with a bounded wait.
    pub async fn stop(self) -> Option<Stopped> {
        let stopped = match self.backend {
            Backend::Sim(h) => {
                h.stop().await;
                None
            }
            Backend::Board(b) => {
                if let Some(t) = b.prompt {
                    t.abort();
                }
                // The reader thread stops within its read timeout.
                drop(b.serial);
                None
            }
            Backend::Process(p) => {
                let graceful = p.qmp.map(qemu::qmp_quit);
                let s = p.child.stop(graceful, StopTimeouts::default()).await;
                tracing::debug!(label = self.label, "stopped: {s:?}");
                Some(s)
            }
        };
        self.serial.close();
        stopped
    }
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// A QEMU process that got past start-up.
pub struct StartedQemu {
    pub child: Supervised,
    pub serial: SerialLog,
    pub host_port: u16,
    pub qmp: SocketAddr,
}

/// Starts QEMU with the command line `make(host_port, qmp_port)` builds.
/// Ports are chosen free, but another process can take one before QEMU
/// binds it: QEMU then exits at once with "Could not set up host forwarding
/// rule", and this retries with new ports (3 attempts). `first` forces the
/// ports of the first attempt. The command line goes to `qemu-command.txt`,
/// UART0 to `serial.log`, QEMU's own messages to `qemu-stderr.log`.
pub async fn spawn_qemu(
    label: &str,
    make: impl Fn(u16, u16) -> Vec<String>,
    dir: &Path,
    first: Option<(u16, u16)>,
) -> Result<StartedQemu, String> {
    let io = |e: std::io::Error| format!("{label}: {e}");
    let mut last_error = String::new();
    for attempt in 1..=3 {
        let (host_port, qmp_port) = match (attempt, first) {
            (1, Some(p)) => p,
            _ => (free_port().map_err(io)?, free_port().map_err(io)?),
        };
        let args = make(host_port, qmp_port);
        let line = qemu::shell_line(&args);
        tracing::info!("{label}: {line}");
        std::fs::write(dir.join("qemu-command.txt"), format!("{line}\n")).map_err(io)?;
        let serial = SerialLog::new(Some(dir.join("serial.log"))).map_err(io)?;
        let mut cmd = Command::new(&args[0]);
        cmd.args(&args[1..]);
        let qmp = SocketAddr::from(([127, 0, 0, 1], qmp_port));
        let child = Supervised::spawn(
            label,
            cmd,
            serial.clone(),
            Some(dir.join("qemu-stderr.log")),
            Some(qmp),
        )
        .map_err(io)?;
        // Start-up errors (a taken port, a bad option) end QEMU at once.
        if let Some(status) = child.wait_exit(Duration::from_millis(500)).await {
            let stderr = child.stderr_tail();
            if stderr.contains(qemu::HOSTFWD_BUSY) {
                tracing::info!("{label}: host port {host_port} was taken, retrying with others");
                last_error = stderr;
                continue;
            }
            return Err(format!(
                "{label}: QEMU exited at start ({status}):\n{}\n  command: {line}",
                stderr.trim()
            ));
        }
        return Ok(StartedQemu {
            child,
            serial,
            host_port,
            qmp,
        });
    }
    Err(format!(
        "{label}: QEMU could not forward a host port in 3 attempts: {}",
        last_error.trim()
    ))
}
