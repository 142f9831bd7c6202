//! Espressif's QEMU: finding it, telling it apart from a stock build, the
//! command line `idf.py qemu` uses, and QMP.
//!
//! Facts used here (the QEMU fact sheet; ESP-IDF tools/idf_py_actions/
//! qemu_ext.py): Espressif's `qemu-system-xtensa` lists an `esp32` machine in
//! `-machine help`, a stock build does not; ESP-IDF installs it under
//! `~/.espressif/tools/qemu-xtensa/<version>/qemu/bin/`; its builds before
//! 8.0.0 only accept 4 MB flash images, later ones 2, 4, 8 or 16 MB.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub const BINARY: &str = "qemu-system-xtensa";

/// A QEMU binary and what probing it showed.
#[derive(Clone, Debug)]
pub struct QemuBinary {
    pub path: PathBuf,
    /// `QEMU emulator version X.Y.Z (...)`, the first line of `--version`.
    pub version_line: String,
    pub version: Option<(u32, u32, u32)>,
    pub machines: Vec<String>,
}

impl QemuBinary {
    pub fn has_esp32(&self) -> bool {
        self.machines.iter().any(|m| m == "esp32")
    }

    /// Flash image sizes this QEMU accepts for the ESP32 machine.
    pub fn flash_sizes(&self) -> Vec<u32> {
        flash_sizes_for(self.version)
    }
}

/// Espressif's builds before 8.0.0 take 4 MB images only.
pub fn flash_sizes_for(version: Option<(u32, u32, u32)>) -> Vec<u32> {
    const MB: u32 = 1024 * 1024;
    match version {
        Some((major, _, _)) if major < 8 => vec![4 * MB],
        _ => vec![2 * MB, 4 * MB, 8 * MB, 16 * MB],
    }
}

pub fn size_list(sizes: &[u32]) -> String {
    sizes
        .iter()
        .map(|s| format!("{}MB", s / (1024 * 1024)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `QEMU emulator version 9.2.2 (esp_develop_9.2.2_20250817)`.
pub fn parse_version(line: &str) -> Option<(u32, u32, u32)> {
    let rest = line.split("version").nth(1)?.trim();
    let v = rest.split_whitespace().next()?;
    let mut it = v.split('.').map(|p| {
        p.chars()
            .take_while(|c| c.is_ascii_digit())
            .collect::<String>()
            .parse::<u32>()
    });
    let major = it.next()?.ok()?;
    let minor = it.next().and_then(|r| r.ok()).unwrap_or(0);
    let patch = it.next().and_then(|r| r.ok()).unwrap_or(0);
    Some((major, minor, patch))
}

/// Parses `-machine help`: `name   description` lines after the header.
pub fn parse_machines(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Supported machines"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Probes a QEMU binary (`--version`, `-machine help`), each bounded to 10 s.
pub fn probe(path: &Path) -> Result<QemuBinary, crate::process::CommandError> {
    probe_within(path, Duration::from_secs(10))
}

/// [`probe`] with another bound on each command.
pub fn probe_within(
    path: &Path,
    timeout: Duration,
) -> Result<QemuBinary, crate::process::CommandError> {
    let version = crate::process::run_bounded(path, &["--version"], timeout)?;
    let version_line = version.lines().next().unwrap_or("").trim().to_string();
    let help = crate::process::run_bounded(path, &["-machine", "help"], timeout)?;
    Ok(QemuBinary {
        path: path.to_path_buf(),
        version: parse_version(&version_line),
        version_line,
        machines: parse_machines(&help),
    })
}

/// Where the search looked and what it found there.
#[derive(Clone, Debug)]
pub struct Looked {
    pub place: String,
    pub found: String,
}

#[derive(Debug)]
pub struct NotFound {
    pub looked: Vec<Looked>,
}

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "QEMU with the esp32 machine not found")?;
        writeln!(f, "  looked at:")?;
        for l in &self.looked {
            writeln!(f, "    {}: {}", l.place, l.found)?;
        }
        writeln!(
            f,
            "  install Espressif's QEMU with `python $IDF_PATH/tools/idf_tools.py install qemu-xtensa`,"
        )?;
        write!(
            f,
            "  then `. $IDF_PATH/export.sh` puts it on PATH (or set ESP_WS_QEMU to its path)"
        )
    }
}

impl std::error::Error for NotFound {}

/// Where to look, in order.
#[derive(Clone, Debug, Default)]
pub struct Search {
    /// A binary the user named, and how they named it (for the list of
    /// places looked at): when given, the only candidate.
    pub explicit: Option<(String, PathBuf)>,
    /// `ESP_WS_QEMU`.
    pub env: Option<PathBuf>,
    /// `PATH`.
    pub path_var: Option<std::ffi::OsString>,
    /// `IDF_TOOLS_PATH`.
    pub idf_tools_path: Option<PathBuf>,
    pub home: Option<PathBuf>,
}

impl Search {
    pub fn from_env(explicit: Option<(String, PathBuf)>) -> Search {
        Search {
            explicit,
            env: std::env::var_os("ESP_WS_QEMU").map(PathBuf::from),
            path_var: std::env::var_os("PATH"),
            idf_tools_path: std::env::var_os("IDF_TOOLS_PATH").map(PathBuf::from),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }
}

/// `<tools>/qemu-xtensa/*/qemu/bin/qemu-system-xtensa`, newest version first.
fn idf_tool_candidates(tools: &Path) -> Result<Vec<PathBuf>, String> {
    let dir = tools.join("tools").join("qemu-xtensa");
    let rd = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut versions: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    // Directory names carry the version (esp_develop_9.2.2_20250817):
    // compare the numbers in them, newest first.
    let key = |p: &PathBuf| -> Vec<u64> {
        p.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok())
            .collect()
    };
    versions.sort_by_key(|p| std::cmp::Reverse(key(p)));
    Ok(versions
        .into_iter()
        .map(|v| v.join("qemu").join("bin").join(BINARY))
        .collect())
}

fn describe(q: &QemuBinary) -> String {
    let machines = if q.machines.is_empty() {
        "no machines listed".to_string()
    } else {
        q.machines.join(" ")
    };
    format!(
        "{} ({}); machines: {machines}{}",
        q.path.display(),
        q.version_line,
        if q.has_esp32() {
            ""
        } else {
            " (no esp32: not Espressif's build)"
        }
    )
}

/// Finds a QEMU with the `esp32` machine: `--qemu`, else `ESP_WS_QEMU`,
/// else `qemu-system-xtensa` on PATH, else ESP-IDF's tools folders.
pub fn find(s: &Search) -> Result<QemuBinary, NotFound> {
    let mut looked = Vec::new();
    let try_path = |place: String, p: &Path, looked: &mut Vec<Looked>| -> Option<QemuBinary> {
        if !p.exists() {
            looked.push(Looked {
                place,
                found: format!("{}: no such file", p.display()),
            });
            return None;
        }
        match probe(p) {
            Ok(q) if q.has_esp32() => Some(q),
            Ok(q) => {
                looked.push(Looked {
                    place,
                    found: describe(&q),
                });
                None
            }
            Err(e) => {
                looked.push(Looked {
                    place,
                    found: format!("{}: {e}", p.display()),
                });
                None
            }
        }
    };
    if let Some((place, p)) = &s.explicit {
        return try_path(place.clone(), p, &mut looked).ok_or(NotFound { looked });
    }
    match &s.env {
        Some(p) => {
            if let Some(q) = try_path("ESP_WS_QEMU".into(), p, &mut looked) {
                return Ok(q);
            }
        }
        None => looked.push(Looked {
            place: "ESP_WS_QEMU".into(),
            found: "not set".into(),
        }),
    }
    let on_path: Vec<PathBuf> = s
        .path_var
        .as_ref()
        .map(|v| std::env::split_paths(v).map(|d| d.join(BINARY)).collect())
        .unwrap_or_default();
    // The same binary can be on PATH twice (/bin is /usr/bin on merged-usr
    // systems): probe each file once.
    let mut seen = std::collections::HashSet::new();
    let existing: Vec<&PathBuf> = on_path
        .iter()
        .filter(|p| p.exists())
        .filter(|p| seen.insert(p.canonicalize().unwrap_or_else(|_| p.to_path_buf())))
        .collect();
    if existing.is_empty() {
        looked.push(Looked {
            place: "PATH".into(),
            found: format!("no {BINARY}"),
        });
    }
    for p in existing {
        if let Some(q) = try_path("PATH".into(), p, &mut looked) {
            return Ok(q);
        }
    }
    let mut tool_roots = Vec::new();
    match &s.idf_tools_path {
        Some(p) => tool_roots.push(("$IDF_TOOLS_PATH".to_string(), p.clone())),
        None => looked.push(Looked {
            place: "$IDF_TOOLS_PATH/tools/qemu-xtensa".into(),
            found: "IDF_TOOLS_PATH not set".into(),
        }),
    }
    if let Some(h) = &s.home {
        tool_roots.push(("~/.espressif".to_string(), h.join(".espressif")));
    }
    for (name, root) in tool_roots {
        let place = format!("{name}/tools/qemu-xtensa/*/qemu/bin");
        match idf_tool_candidates(&root) {
            Err(e) => looked.push(Looked { place, found: e }),
            Ok(c) if c.is_empty() => looked.push(Looked {
                place,
                found: "no versions installed".into(),
            }),
            Ok(c) => {
                for p in c {
                    if let Some(q) = try_path(place.clone(), &p, &mut looked) {
                        return Ok(q);
                    }
                }
            }
        }
    }
    Err(NotFound { looked })
}

/// What one QEMU instance is started with.
#[derive(Clone, Debug)]
pub struct Launch {
    pub qemu: PathBuf,
    pub machine: String,
    /// `-m 4M` adds PSRAM; None leaves it out.
    pub psram: Option<String>,
    pub flash: PathBuf,
    pub efuse: PathBuf,
    pub host_port: u16,
    pub guest_port: u16,
    pub qmp_port: u16,
    pub extra: Vec<String>,
}

/// The command line of `idf.py qemu` for the ESP32 (qemu_ext.py), with the
/// changes a harness needs: the firmware's port forwarded to a free host
/// port on loopback, a QMP socket, `-no-reboot` (a reset or panic ends
/// QEMU instead of looping), UART0 on stdout.
pub fn command_line(l: &Launch) -> Vec<String> {
    let mut v = vec![l.qemu.display().to_string(), "-M".into(), l.machine.clone()];
    if let Some(m) = &l.psram {
        v.extend(["-m".into(), m.clone()]);
    }
    v.extend([
        "-drive".into(),
        format!("file={},if=mtd,format=raw", l.flash.display()),
        "-drive".into(),
        format!("file={},if=none,format=raw,id=efuse", l.efuse.display()),
        "-global".into(),
        format!(
            "driver=nvram.{}.efuse,property=drive,value=efuse",
            l.machine
        ),
        "-global".into(),
        format!(
            "driver=timer.{}.timg,property=wdt_disable,value=true",
            l.machine
        ),
    ]);
    if !l.extra.iter().any(|a| a == "-nic") {
        v.extend([
            "-nic".into(),
            format!(
                "user,model=open_eth,hostfwd=tcp:127.0.0.1:{}-:{}",
                l.host_port, l.guest_port
            ),
        ]);
    }
    v.extend([
        "-nographic".into(),
        "-serial".into(),
        "mon:stdio".into(),
        "-no-reboot".into(),
        "-qmp".into(),
        format!("tcp:127.0.0.1:{},server,wait=off", l.qmp_port),
    ]);
    v.extend(l.extra.iter().cloned());
    v
}

/// A command line as a shell would take it (for logs and artifacts).
pub fn shell_line(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The message QEMU prints (and exits 1) when the host port of a `hostfwd`
/// rule is taken.
pub const HOSTFWD_BUSY: &str = "Could not set up host forwarding rule";

/// A QMP session (JSON lines over TCP).
pub struct Qmp {
    rd: BufReader<tokio::net::tcp::OwnedReadHalf>,
    wr: tokio::net::tcp::OwnedWriteHalf,
}

impl Qmp {
    /// Connects, reads the greeting and leaves capabilities negotiation mode.
    /// QEMU opens its QMP socket early in start-up, but a connection can come
    /// before it: refused connections are retried for up to 3 s.
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Qmp> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        let s = loop {
            match TcpStream::connect(addr).await {
                Ok(s) => break s,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!("QMP {addr}: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let (rd, wr) = s.into_split();
        let mut q = Qmp {
            rd: BufReader::new(rd),
            wr,
        };
        let greeting = q.read_message().await?;
        if greeting.get("QMP").is_none() {
            return Err(std::io::Error::other(format!(
                "not a QMP greeting: {greeting}"
            )));
        }
        q.execute("qmp_capabilities").await?;
        Ok(q)
    }

    async fn read_message(&mut self) -> std::io::Result<serde_json::Value> {
        let mut line = String::new();
        if self.rd.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "QMP connection closed",
            ));
        }
        serde_json::from_str(&line).map_err(std::io::Error::other)
    }

    /// Runs a command; returns its `return` value (events are skipped).
    pub async fn execute(&mut self, cmd: &str) -> std::io::Result<serde_json::Value> {
        let msg = serde_json::json!({ "execute": cmd });
        self.wr.write_all(format!("{msg}\n").as_bytes()).await?;
        loop {
            let m = self.read_message().await?;
            if let Some(r) = m.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = m.get("error") {
                return Err(std::io::Error::other(format!("QMP {cmd}: {e}")));
            }
        }
    }
}

/// Asks QEMU to quit over QMP (its cleanest stop: exit code 0).
pub async fn qmp_quit(addr: SocketAddr) {
    if let Ok(mut q) = Qmp::connect(addr).await {
        let _ = q.execute("quit").await;
    }
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

/// Espressif's QEMU running a real firmware image.
#[derive(Clone, Debug)]
pub struct QemuTarget {
    pub cfg: QemuConfig,
}

impl crate::Target for QemuTarget {
    fn kind(&self) -> &'static str {
        "qemu"
    }

    fn describe(&self) -> String {
        format!("QEMU ({})", self.cfg.binary.path.display())
    }

    /// The guest's URI is built into its flash image (e.g. the example's
    /// CONFIG_WEBSOCKET_URI), so the port is the profile's: esp-ws listens
    /// on the host's loopback there, which slirp's gateway reaches.
    fn listen_default(&self, firmware_port: u16) -> Option<SocketAddr> {
        Some(SocketAddr::from(([127, 0, 0, 1], firmware_port)))
    }

    /// A guest reaches the host at slirp's gateway, 10.0.2.2 (user-mode
    /// networking: nothing to forward, the host's loopback answers).
    fn dial_host(&self, addr: SocketAddr) -> String {
        format!("10.0.2.2:{}", addr.port())
    }

    /// Boots a copy of the flash image, with a fresh eFuse file, the
    /// firmware's port forwarded to a free loopback port and a QMP socket.
    fn start(
        &self,
        ctx: crate::StartContext,
    ) -> futures::future::BoxFuture<'_, Result<Box<dyn crate::Dut>, crate::DutError>> {
        Box::pin(async move {
            let dir = crate::required_dir(&ctx, "QEMU")?;
            let label = ctx.label;
            let cfg = &self.cfg;
            let flash = dir.join("flash.bin");
            let efuse = dir.join("efuse.bin");
            crate::write_file(&label, &flash, cfg.image.as_slice())?;
            crate::write_file(&label, &efuse, &esp_ws_image::esp32_default_efuse())?;
            let make = |host_port: u16, qmp_port: u16| {
                command_line(&Launch {
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
            // A firmware that dials out reaches the host at slirp's
            // gateway; nothing on the guest side is served to esp-ws then.
            let endpoint = ctx
                .dial
                .is_none()
                .then(|| SocketAddr::from(([127, 0, 0, 1], started.host_port)));
            Ok(Box::new(crate::exec::ProcessDut {
                label,
                endpoint,
                serial: started.serial,
                dir,
                child: started.child,
                qmp: Some(started.qmp),
            }) as Box<dyn crate::Dut>)
        })
    }
}

/// A QEMU process that got past start-up.
pub struct StartedQemu {
    pub child: crate::process::Supervised,
    pub serial: crate::SerialLog,
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
) -> Result<StartedQemu, crate::DutError> {
    use crate::DutError;
    let no_port = |source| DutError::NoFreePort {
        label: label.to_string(),
        source,
    };
    let mut last_error = String::new();
    for attempt in 1..=3 {
        let (host_port, qmp_port) = match (attempt, first) {
            (1, Some(p)) => p,
            _ => (
                crate::free_port().map_err(no_port)?,
                crate::free_port().map_err(no_port)?,
            ),
        };
        let args = make(host_port, qmp_port);
        let line = shell_line(&args);
        tracing::info!("{label}: {line}");
        crate::write_file(
            label,
            &dir.join("qemu-command.txt"),
            format!("{line}\n").as_bytes(),
        )?;
        let serial_path = dir.join("serial.log");
        let serial =
            crate::SerialLog::new(Some(serial_path.clone())).map_err(|source| DutError::Write {
                label: label.to_string(),
                path: serial_path,
                source,
            })?;
        let qmp = SocketAddr::from(([127, 0, 0, 1], qmp_port));
        let child = crate::process::Supervised::spawn(
            label,
            &args[0],
            &args[1..],
            serial.clone(),
            Some(dir.join("qemu-stderr.log")),
            Some(qmp),
        )
        .map_err(|source| DutError::Spawn {
            label: label.to_string(),
            source,
        })?;
        // Start-up errors (a taken port, a bad option) end QEMU at once.
        if let Some(status) = child.wait_exit(Duration::from_millis(500)).await {
            let stderr = child.stderr_tail();
            if stderr.contains(HOSTFWD_BUSY) {
                tracing::info!("{label}: host port {host_port} was taken, retrying with others");
                last_error = stderr;
                continue;
            }
            return Err(DutError::QemuExited {
                label: label.to_string(),
                status: status.to_string(),
                stderr: stderr.trim().to_string(),
                command: line,
            });
        }
        return Ok(StartedQemu {
            child,
            serial,
            host_port,
            qmp,
        });
    }
    Err(DutError::QemuPorts {
        label: label.to_string(),
        last: last_error.trim().to_string(),
    })
}
