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
use std::process::Command;
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

/// Runs a probe command with a deadline; stdout or why it failed.
fn run_bounded(path: &Path, args: &[&str], timeout: Duration) -> Result<String, String> {
    let deadline = std::time::Instant::now() + timeout;
    let mut child = loop {
        match Command::new(path)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
        {
            Ok(c) => break c,
            // ETXTBSY: the file is still open for writing somewhere (being
            // installed, or held by a process forked while it was written);
            // that passes within moments.
            Err(e)
                if e.raw_os_error() == Some(libc::ETXTBSY)
                    && std::time::Instant::now() + Duration::from_millis(20) < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{} {}` did not finish in {timeout:?}",
                    path.display(),
                    args.join(" ")
                ));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "`{} {}` failed ({}): {}",
            path.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Probes a QEMU binary (`--version`, `-machine help`), each bounded to 10 s.
pub fn probe(path: &Path) -> Result<QemuBinary, String> {
    probe_within(path, Duration::from_secs(10))
}

/// [`probe`] with another bound on each command.
pub fn probe_within(path: &Path, timeout: Duration) -> Result<QemuBinary, String> {
    let version = run_bounded(path, &["--version"], timeout)?;
    let version_line = version.lines().next().unwrap_or("").trim().to_string();
    let help = run_bounded(path, &["-machine", "help"], timeout)?;
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
            "  then `. $IDF_PATH/export.sh` puts it on PATH (or pass --qemu PATH, or set ESP_WS_QEMU)"
        )
    }
}

impl std::error::Error for NotFound {}

/// Where to look, in order.
#[derive(Clone, Debug, Default)]
pub struct Search {
    /// `--qemu PATH`: when given, the only candidate.
    pub explicit: Option<PathBuf>,
    /// `ESP_WS_QEMU`.
    pub env: Option<PathBuf>,
    /// `PATH`.
    pub path_var: Option<std::ffi::OsString>,
    /// `IDF_TOOLS_PATH`.
    pub idf_tools_path: Option<PathBuf>,
    pub home: Option<PathBuf>,
}

impl Search {
    pub fn from_env(explicit: Option<PathBuf>) -> Search {
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
    if let Some(p) = &s.explicit {
        return try_path("--qemu".into(), p, &mut looked).ok_or(NotFound { looked });
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
