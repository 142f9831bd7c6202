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
//!   as long as the process. It reaches the direct child only (a wrapper
//!   script, not the QEMU or `esp-ws sim` the script started), so
//! - each child's process group has a *guard*: a small process that kills
//!   the whole group with SIGKILL once esp-ws is gone ([`Guard`]).
//!
//! Why a guard forked from esp-ws, and not one of the alternatives:
//! - re-executing esp-ws in a hidden supervisor mode would not work where
//!   the process is not esp-ws (the tests of this crate run a test binary),
//!   and a supervisor standing between esp-ws and the child would have to
//!   relay its exit status, its output and the signals of the normal stop;
//! - cgroups need a delegated hierarchy (root, or a systemd user slice),
//!   which containers and plain shells often do not have;
//! - a PID namespace needs user namespaces, which are often disabled;
//! - the guard needs nothing but `fork`: it works for any user, as root too,
//!   and leaves the child as it was (esp-ws's child, the leader of its
//!   group, stopped by the normal escalation, its status and stderr read by
//!   esp-ws itself).
//!
//! The guard learns that esp-ws is gone from a socket pair: esp-ws holds
//! one end (close-on-exec, so no program it runs keeps it open), the guard
//! the other. However esp-ws dies, the kernel closes its end, and the guard
//! reads end-of-file. Before its exec the child sends its pid (its group's
//! number) over the pair, so there is no moment when the program runs, and
//! may fork, with a guard that does not know its group. When the job ends,
//! esp-ws sends a dismissal ([`Guard::dismiss`]): the guard exits without
//! killing, so it never outlives its job and never signals a group number
//! that may have been reused; esp-ws reaps it. What a guard cannot catch is
//! what leaves the group on purpose (`setsid`, a daemon); nor can the normal
//! stop.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
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

/// Forks `cmd` from the spawner thread, as the leader of a process group of
/// its own, and tells `guard` its group before the program runs.
fn spawn_from_spawner(mut cmd: Command, guard: &Guard) -> std::io::Result<Child> {
    let parent = nix::unistd::getpid();
    let lifeline = guard.lifeline_fd();
    // SAFETY: only async-signal-safe calls (prctl, getppid, getpid, send,
    // _exit) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent.as_raw() {
                libc::_exit(1);
            }
            // `process_group(0)`: the group's number is the child's pid.
            let group = libc::getpid().to_ne_bytes();
            let sent = libc::send(
                lifeline,
                group.as_ptr().cast(),
                group.len(),
                libc::MSG_NOSIGNAL,
            );
            if sent != group.len() as isize {
                // The guard is gone: no program runs unguarded.
                return Err(std::io::Error::from_raw_os_error(libc::EPIPE));
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

/// The name guard processes carry (`/proc/<pid>/comm`, `ps`), so that one
/// can be told from the esp-ws it is a copy of.
pub const GUARD_NAME: &std::ffi::CStr = c"esp-ws-guard";

/// esp-ws's side of the guard of one child's process group (see the module
/// comment): its end of the socket pair, and the guard's pid, to reap it.
/// Dropped without [`Guard::dismiss`], it lets the guard kill the group (an
/// early return between the spawn and the reaper).
struct Guard {
    lifeline: Option<UnixStream>,
    pid: libc::pid_t,
}

impl Guard {
    /// Forks the guard. It is forked from a process with many threads, so
    /// the copy runs only async-signal-safe code ([`guard_main`]).
    fn start() -> std::io::Result<Guard> {
        // Close-on-exec, both ends: no program esp-ws runs holds either.
        let (lifeline, guard_end) = UnixStream::pair()?;
        // SAFETY: the child branch calls guard_main, which never returns
        // into Rust code and calls only async-signal-safe functions.
        match unsafe { libc::fork() } {
            -1 => Err(std::io::Error::last_os_error()),
            0 => unsafe { guard_main(guard_end.as_raw_fd()) },
            pid => Ok(Guard {
                lifeline: Some(lifeline),
                pid,
            }),
        }
    }

    fn lifeline_fd(&self) -> RawFd {
        self.lifeline.as_ref().map_or(-1, |l| l.as_raw_fd())
    }

    /// The job is over (the group's leader reaped and the rest of the group
    /// killed, or the spawn failed): the guard exits without killing.
    fn dismiss(self) {
        if let Some(l) = &self.lifeline {
            let done = (0 as libc::pid_t).to_ne_bytes();
            // MSG_NOSIGNAL: a guard killed by hand must not raise SIGPIPE.
            // SAFETY: a valid socket and a buffer of that length.
            unsafe {
                libc::send(
                    l.as_raw_fd(),
                    done.as_ptr().cast(),
                    done.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
        }
    }
}

impl Drop for Guard {
    /// Closes esp-ws's end (the guard reads a dismissal, or end-of-file and
    /// kills the group) and reaps the guard, which exits at once either
    /// way; one that does not within a second (stopped by hand) is killed,
    /// and left to init if even that is not reaped.
    fn drop(&mut self) {
        drop(self.lifeline.take());
        let reaped = |timeout: Duration| {
            let deadline = std::time::Instant::now() + timeout;
            loop {
                let mut status = 0;
                // SAFETY: waitpid on our own child.
                match unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) } {
                    0 if std::time::Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(1))
                    }
                    0 => return false,
                    // Reaped, or not ours to reap any more (ECHILD).
                    _ => return true,
                }
            }
        };
        if !reaped(Duration::from_secs(1)) {
            tracing::warn!(pid = self.pid, "a guard process did not exit; killing it");
            // SAFETY: our own, unreaped child: the pid is still its.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            reaped(Duration::from_secs(1));
        }
    }
}

/// The guard: learns its group, then waits, and kills the group if esp-ws
/// goes away without dismissing it. A copy of esp-ws made by fork while
/// other threads ran (they do not exist here, and may have held locks): it
/// calls only async-signal-safe functions, allocates nothing, never returns.
unsafe fn guard_main(end: RawFd) -> ! {
    unsafe {
        // A group of its own: out of esp-ws's group, the keys of a terminal
        // (Ctrl-C, Ctrl-Z) and a job-control `kill %1` do not reach it.
        libc::setpgid(0, 0);
        // esp-ws's signal handlers (tokio's, for SIGINT and SIGTERM) must not
        // run in this copy: the defaults first. Then ignore what a terminal
        // or a tidy-up by name (`pkill esp-ws`) sends, so that only the end
        // of its job or SIGKILL ends the guard.
        for sig in 1..=64 {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
        for sig in [
            libc::SIGHUP,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGTERM,
            libc::SIGPIPE,
        ] {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = libc::SIG_IGN;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
        libc::prctl(libc::PR_SET_NAME, GUARD_NAME.as_ptr());
        // Every other descriptor goes: esp-ws's end of this very pair (held,
        // it would keep end-of-file from ever coming), and the pipes, files,
        // sockets and listeners esp-ws holds (their readers wait for
        // end-of-file, their ports must be freed when esp-ws ends).
        close_all_but(end);
        let read = |buf: &mut [u8]| -> usize {
            let mut got = 0;
            while got < buf.len() {
                let n = libc::read(end, buf[got..].as_mut_ptr().cast(), buf.len() - got);
                if n > 0 {
                    got += n as usize;
                } else if n == 0 || errno() != libc::EINTR {
                    break;
                }
            }
            got
        };
        // Messages of one pid_t each: a group, from the child before its
        // exec (again from each attempt of a spawn retried after ETXTBSY:
        // the last one counts), or 0, the dismissal.
        let mut group: libc::pid_t = 0;
        loop {
            let mut msg = [0u8; 4];
            if read(&mut msg) < msg.len() {
                // End-of-file (or an error, which only a peer that is gone
                // causes): esp-ws ended without dismissing the guard. No
                // group yet: no child got as far as its exec. Never 1 or
                // less: kill(-1) would be every process there is.
                if group > 1 {
                    libc::kill(-group, libc::SIGKILL);
                }
                break;
            }
            match libc::pid_t::from_ne_bytes(msg) {
                0 => break,
                g => group = g,
            }
        }
        libc::_exit(0)
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Closes every file descriptor but `keep`; async-signal-safe.
unsafe fn close_all_but(keep: RawFd) {
    let keep = keep as u32;
    let close_range = |first: u32, last: u32| unsafe {
        libc::syscall(libc::SYS_close_range, first, last, 0u32) == 0
    };
    if (keep == 0 || close_range(0, keep - 1)) && close_range(keep + 1, u32::MAX) {
        return;
    }
    // Before Linux 5.9: one by one, up to the limit on descriptors.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur.min(1 << 20) as u32
    } else {
        1024
    };
    for fd in (0..max).filter(|&fd| fd != keep) {
        unsafe { libc::close(fd as i32) };
    }
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
        let cannot = |e: std::io::Error| {
            std::io::Error::new(e.kind(), format!("cannot start {program}: {e}"))
        };
        let guard = Guard::start().map_err(cannot)?;
        let mut child = match spawn_from_spawner(cmd, &guard) {
            Ok(c) => c,
            Err(e) => {
                // The group, if the child sent it, is gone already (std
                // reaped the child whose exec failed): nothing to kill.
                guard.dismiss();
                return Err(cannot(e));
            }
        };
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
                // Before the status is published: whoever sees the exit
                // sees no guard either.
                guard.dismiss();
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
