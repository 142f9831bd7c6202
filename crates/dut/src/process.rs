//! Supervision of every child process esp-ws starts (QEMU, a linux-target
//! firmware, `esp-ws sim`): the one place that spawns.
//!
//! The rule is that no child outlives esp-ws, whatever way esp-ws ends:
//! - each child leads its own process group, and every signal goes to the
//!   whole group, so grandchildren (a wrapper script's QEMU) go too;
//! - a stop escalates: a graceful request (QMP `quit`), SIGTERM, SIGKILL,
//!   each with a bounded wait, and always ends by reaping;
//! - dropping a [`Supervised`] kills its group (panics unwind through it);
//! - a process-wide registry lets a signal handler or the panic hook stop
//!   every child that is still alive ([`stop_all`], [`kill_all_now`]);
//! - if esp-ws itself is killed outright (SIGKILL), the kernel delivers
//!   SIGKILL to each child (`PR_SET_PDEATHSIG`). That signal follows the
//!   *thread* that forked, so every child is forked by one thread that lives
//!   as long as the process.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::sync::watch;

use crate::serial::SerialLog;

/// How long each stage of a stop may take before the next, harsher one.
#[derive(Copy, Clone, Debug)]
pub struct StopTimeouts {
    pub graceful: Duration,
    pub term: Duration,
    pub kill: Duration,
}

impl Default for StopTimeouts {
    fn default() -> Self {
        StopTimeouts {
            graceful: Duration::from_secs(3),
            term: Duration::from_secs(3),
            kill: Duration::from_secs(3),
        }
    }
}

/// What a stop took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// The process had already exited.
    AlreadyExited(ExitStatus),
    Graceful(ExitStatus),
    Terminated(ExitStatus),
    Killed(ExitStatus),
    /// Not even SIGKILL was reaped in time (a process in uninterruptible
    /// sleep); the group was signalled and the reaper thread keeps waiting.
    Unreaped,
}

struct Entry {
    label: String,
    qmp: Option<SocketAddr>,
}

fn registry() -> &'static Mutex<BTreeMap<i32, Entry>> {
    static R: OnceLock<Mutex<BTreeMap<i32, Entry>>> = OnceLock::new();
    R.get_or_init(Default::default)
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// The thread that forks every child (see the module comment on
/// `PR_SET_PDEATHSIG`). It lives as long as the process.
fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static S: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    S.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("esp-ws-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    // ETXTBSY: the program is still open for writing (being
                    // installed, or inherited by a child forked while it was
                    // written); that passes within moments.
                    let mut tries = 0;
                    let r = loop {
                        match cmd.spawn() {
                            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 50 => {
                                tries += 1;
                                std::thread::sleep(std::time::Duration::from_millis(20));
                            }
                            r => break r,
                        }
                    };
                    let _ = reply.send(r);
                }
            })
            .expect("spawn the spawner thread");
        Mutex::new(tx)
    })
}

fn spawn_from_spawner(mut cmd: Command) -> std::io::Result<Child> {
    let parent = nix::unistd::getpid();
    // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between
    // fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent.as_raw() {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    cmd.process_group(0);
    let (tx, rx) = mpsc::channel();
    spawner()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((cmd, tx))
        .map_err(|_| std::io::Error::other("the spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| std::io::Error::other("the spawner thread did not answer"))?
}

/// A running child process and its captured output.
pub struct Supervised {
    pub label: String,
    pid: i32,
    status: watch::Receiver<Option<ExitStatus>>,
    stderr_tail: Arc<Mutex<Vec<u8>>>,
    pumps: Vec<std::thread::JoinHandle<()>>,
}

/// How much of a child's stderr is kept in memory for error messages (the
/// whole of it goes to the artifacts file).
const STDERR_TAIL: usize = 64 * 1024;

impl Supervised {
    /// Spawns `program` with `args`: stdin from /dev/null (QEMU would switch
    /// a terminal to raw mode), stdout into `serial`, stderr into
    /// `stderr_file` and a bounded in-memory tail.
    pub fn spawn(
        label: &str,
        program: &str,
        args: &[String],
        serial: SerialLog,
        stderr_file: Option<PathBuf>,
        qmp: Option<SocketAddr>,
    ) -> std::io::Result<Supervised> {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let program = format!("{:?}", cmd.get_program());
        let mut child = spawn_from_spawner(cmd)
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot start {program}: {e}")))?;
        let pid = child.id() as i32;
        registry().lock().unwrap_or_else(|e| e.into_inner()).insert(
            pid,
            Entry {
                label: label.to_string(),
                qmp,
            },
        );
        tracing::debug!(pid, label, "started {program}");
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let stderr_tail = Arc::new(Mutex::new(Vec::new()));
        let mut pumps = Vec::new();
        pumps.push(
            std::thread::Builder::new()
                .name(format!("{label}-stdout"))
                .spawn(move || {
                    let mut buf = [0u8; 8192];
                    loop {
                        match stdout.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => serial.push(&buf[..n]),
                        }
                    }
                    serial.close();
                })?,
        );
        let tail = stderr_tail.clone();
        // The reaper publishes the exit status only once stderr is drained
        // (bounded), so an error report always has the process's last words.
        let (stderr_done_tx, stderr_done) = mpsc::channel::<()>();
        let mut file = match stderr_file {
            Some(p) => Some(File::create(p)?),
            None => None,
        };
        pumps.push(
            std::thread::Builder::new()
                .name(format!("{label}-stderr"))
                .spawn(move || {
                    let mut buf = [0u8; 8192];
                    loop {
                        match stderr.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if let Some(f) = file.as_mut() {
                                    let _ = f.write_all(&buf[..n]).and_then(|_| f.flush());
                                }
                                let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                                t.extend_from_slice(&buf[..n]);
                                if t.len() > STDERR_TAIL {
                                    let cut = t.len() - STDERR_TAIL;
                                    t.drain(..cut);
                                }
                            }
                        }
                    }
                    let _ = stderr_done_tx.send(());
                })?,
        );
        // The reaper owns the Child: it is the only one that waits, so the
        // exit status is never lost and no zombie is left.
        let (tx, rx) = watch::channel(None);
        std::thread::Builder::new()
            .name(format!("{label}-reaper"))
            .spawn(move || {
                let status = child.wait().unwrap_or_else(|_| ExitStatus::from_raw(-1));
                // A grandchild may hold the pipe open: do not wait forever.
                let _ = stderr_done.recv_timeout(Duration::from_secs(1));
                registry()
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&pid);
                // Whatever the leader left behind in its group goes too.
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                let _ = tx.send(Some(status));
            })?;
        Ok(Supervised {
            label: label.to_string(),
            pid,
            status: rx,
            stderr_tail,
            pumps,
        })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn exit_status(&self) -> Option<ExitStatus> {
        *self.status.borrow()
    }

    /// The last part of what the process wrote on stderr.
    pub fn stderr_tail(&self) -> String {
        String::from_utf8_lossy(&self.stderr_tail.lock().unwrap_or_else(|e| e.into_inner()))
            .into_owned()
    }

    /// Waits for the process to exit, at most `timeout`.
    pub async fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let mut rx = self.status.clone();
        let r = tokio::time::timeout(timeout, rx.wait_for(|s| s.is_some())).await;
        match r {
            Ok(Ok(s)) => *s,
            _ => None,
        }
    }

    /// Sends `sig` to the process group.
    pub fn signal(&self, sig: Signal) {
        if self.exit_status().is_none() {
            let _ = killpg(Pid::from_raw(self.pid), sig);
        }
    }

    /// Stops the process: `graceful` first (e.g. a QMP `quit`), then
    /// SIGTERM, then SIGKILL, each stage bounded by `t`.
    pub async fn stop<F>(&self, graceful: Option<F>, t: StopTimeouts) -> Stopped
    where
        F: std::future::Future<Output = ()>,
    {
        if let Some(s) = self.exit_status() {
            return Stopped::AlreadyExited(s);
        }
        if let Some(g) = graceful {
            let _ = tokio::time::timeout(t.graceful, g).await;
            if let Some(s) = self.wait_exit(t.graceful).await {
                return Stopped::Graceful(s);
            }
            tracing::debug!(label = self.label, "no exit after the graceful stop");
        }
        self.signal(Signal::SIGTERM);
        if let Some(s) = self.wait_exit(t.term).await {
            return Stopped::Terminated(s);
        }
        tracing::debug!(label = self.label, "no exit after SIGTERM");
        self.signal(Signal::SIGKILL);
        match self.wait_exit(t.kill).await {
            Some(s) => Stopped::Killed(s),
            None => Stopped::Unreaped,
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if self.exit_status().is_none() {
            let _ = killpg(Pid::from_raw(self.pid), Signal::SIGKILL);
        }
        for p in self.pumps.drain(..) {
            // The pumps end when the pipes close, which the kill causes.
            let _ = p.join();
        }
    }
}

/// The labels and pids of the children alive right now.
pub fn live_children() -> Vec<(i32, String)> {
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(pid, e)| (*pid, e.label.clone()))
        .collect()
}

/// SIGKILL to every live child group, at once (a second Ctrl-C, a panic).
pub fn kill_all_now() {
    let pids: Vec<i32> = registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .keys()
        .copied()
        .collect();
    for pid in pids {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Stops every live child as [`Supervised::stop`] would (QMP `quit` where
/// there is a QMP socket, then SIGTERM, then SIGKILL), all in parallel, and
/// waits until they are gone. For the Ctrl-C / SIGTERM path, where the
/// owners of the children are somewhere in tasks being abandoned.
pub async fn stop_all(t: StopTimeouts) {
    let entries: Vec<(i32, Option<SocketAddr>)> = registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(pid, e)| (*pid, e.qmp))
        .collect();
    let gone = |pid: i32| {
        !registry()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&pid)
    };
    let mut tasks = Vec::new();
    for (pid, qmp) in entries {
        tasks.push(tokio::spawn(async move {
            let wait = |d: Duration| async move {
                let deadline = tokio::time::Instant::now() + d;
                while tokio::time::Instant::now() < deadline {
                    if gone(pid) {
                        return true;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                gone(pid)
            };
            if let Some(addr) = qmp {
                let _ = tokio::time::timeout(t.graceful, crate::qemu::qmp_quit(addr)).await;
                if wait(t.graceful).await {
                    return;
                }
            }
            let _ = killpg(Pid::from_raw(pid), Signal::SIGTERM);
            if wait(t.term).await {
                return;
            }
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            wait(t.kill).await;
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}

/// A panic anywhere in esp-ws kills every child first, then reports the
/// panic as the default hook does, then exits with 101: a panicking worker
/// thread must not leave QEMU running behind a process that carries on.
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        kill_all_now();
        default(info);
        std::process::exit(101);
    }));
}

/// Why a short command run to its end failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Spawn(std::io::Error),
    #[error("`{command}` did not finish in {timeout:?}")]
    Timeout { command: String, timeout: Duration },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: ExitStatus,
        stderr: String,
    },
}

/// Runs a short command (a probe such as `qemu --version`) to its end
/// within `timeout`, killing it past that; its stdout, or why it failed.
pub fn run_bounded(path: &Path, args: &[&str], timeout: Duration) -> Result<String, CommandError> {
    let command = || format!("{} {}", path.display(), args.join(" "));
    let deadline = std::time::Instant::now() + timeout;
    let mut child = loop {
        match Command::new(path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
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
            Err(e) => return Err(CommandError::Spawn(e)),
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
                return Err(CommandError::Timeout {
                    command: command(),
                    timeout,
                });
            }
            Err(e) => return Err(CommandError::Spawn(e)),
        }
    }
    let out = child.wait_with_output().map_err(CommandError::Spawn)?;
    if !out.status.success() {
        return Err(CommandError::Failed {
            command: command(),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
