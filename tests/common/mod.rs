//! Helpers shared by the integration tests (each test crate uses some).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

/// The `esp-ws` binary under test.
pub const ESP_WS: &str = env!("CARGO_BIN_EXE_esp-ws");

/// `esp-ws`, with the snapshot switches of the test's environment removed:
/// each test decides about snapshot writing itself.
pub fn esp_ws() -> std::process::Command {
    let mut c = std::process::Command::new(ESP_WS);
    c.env_remove("INSTA_UPDATE")
        .env_remove("CI")
        .env_remove("INSTA_FORCE_PASS");
    c
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Writes a file, creating its folder.
pub fn write(path: &std::path::Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// A libtest-mimic assertion: `msg` is the failure when `ok` is false.
pub fn check(ok: bool, msg: impl std::fmt::Display) -> Result<(), libtest_mimic::Failed> {
    if ok {
        Ok(())
    } else {
        Err(msg.to_string().into())
    }
}

/// A multi-threaded tokio runtime for a test.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A child process that is killed on every way out of a test.
pub struct Reap(pub Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The scenarios under `scenarios/` that apply to the default firmware
/// profile (the others are reported as skipped on it).
pub fn default_profile_scenarios() -> usize {
    let files = esp_ws_runner::discover::find(&[root().join("scenarios")])
        .unwrap()
        .files;
    let default = esp_ws_catalogue::default_firmware();
    files
        .iter()
        .filter(|p| esp_ws_scenario::load_file(p).unwrap().applies_to(default))
        .count()
}

/// The scenarios that apply to the default firmware profile, and how many
/// of them need no more than INFO lines from the firmware.
pub fn default_profile_scenarios_at_info() -> (usize, usize) {
    let files = esp_ws_runner::discover::find(&[root().join("scenarios")])
        .unwrap()
        .files;
    let default = esp_ws_catalogue::default_firmware();
    let scenarios: Vec<_> = files
        .iter()
        .map(|p| esp_ws_scenario::load_file(p).unwrap())
        .filter(|s| s.applies_to(default))
        .collect();
    let at_info = scenarios
        .iter()
        .filter(|s| esp_ws_runner::needed_log_level(s) <= esp_ws_log::Level::Info)
        .count();
    (scenarios.len(), at_info)
}

/// Run options for the in-process simulator running `firmware` at debug
/// level (what the scenario tests and the documented-output test use).
pub fn sim_run_options(firmware: &str, log_colors: Option<bool>) -> esp_ws_runner::RunOptions {
    let fw = esp_ws_catalogue::find(firmware).expect("a catalogue profile");
    let profile = esp_ws_sim::profile::find(firmware).expect("a simulated profile");
    let mut opts = esp_ws_dut::SimOptions {
        log_level: esp_ws_log::Level::Debug,
        ..esp_ws_dut::SimOptions::new(profile)
    };
    if let Some(c) = log_colors {
        opts.log_colors = c;
    }
    esp_ws_runner::RunOptions {
        target: std::sync::Arc::new(esp_ws_dut::SimTarget { opts }),
        firmware: fw,
        jobs: 1,
        exec: Default::default(),
        update: esp_ws_runner::snapshot::Update::No,
        force_pass: false,
        artifacts: esp_ws_runner::artifacts::Artifacts::none(),
        ready_markers: esp_ws_runner::ready_markers(fw),
        boot_timeout: std::time::Duration::from_secs(30),
        impair: None,
        log_level: None,
        listen: None,
    }
}

/// Runs a command to its end within `timeout` (a test of a hang must not
/// hang), killing it past that.
pub fn output_within(
    cmd: &mut std::process::Command,
    timeout: std::time::Duration,
) -> std::process::Output {
    use std::process::Stdio;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the command did not finish within {timeout:?}: {cmd:?}");
        }
    }
}
/// The descriptors process `pid` holds (the entries of /proc/PID/fd).
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/fd: {e}"))
        .count()
}

/// The descriptors process `pid` holds once the count has stayed the same
/// for 200 ms (at most 5 s): its number at rest.
pub fn fd_count_at_rest(pid: u32) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = fd_count(pid);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = fd_count(pid);
        if now == last || Instant::now() >= deadline {
            return now;
        }
        last = now;
    }
}

/// Polls `ok` every 20 ms until it holds or `max` has passed; whether it held.
pub fn wait_for(max: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + max;
    loop {
        if ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The CPU time process `pid` has used so far: utime + stime of
/// /proc/PID/stat (fields 14 and 15, in clock ticks).
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/stat: {e}"));
    // The command name (field 2) is in parentheses and may hold spaces:
    // count fields after its closing parenthesis (field 3 comes first).
    let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let f: Vec<u64> = rest
        .split(' ')
        .skip(11)
        .take(2)
        .map(|x| x.parse().expect("a tick count"))
        .collect();
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis((f[0] + f[1]) * 1000 / hz)
}

/// The CPU time process `pid` uses over the next `window`.
pub fn cpu_used_over(pid: u32, window: Duration) -> Duration {
    let before = cpu_time(pid);
    std::thread::sleep(window);
    cpu_time(pid).saturating_sub(before)
}

/// Lowers the descriptor limit (RLIMIT_NOFILE, soft and hard) of the process
/// `cmd` starts to `n`.
pub fn limit_descriptors(cmd: &mut std::process::Command, n: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec the closure only calls setrlimit, which
    // is async-signal-safe, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: n as libc::rlim_t,
                rlim_max: n as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

/// A WebSocket opening handshake for /ws, as a standard client sends it.
pub const WS_REQUEST: &[u8] = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// The length of esp_http_server's 101 response to [`WS_REQUEST`].
pub const WS_RESPONSE_LEN: usize = 129;

/// Connects to 127.0.0.1:`port`, every wait on the socket bounded by `max`.
pub fn connect(port: u16, max: Duration) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), max)?;
    s.set_read_timeout(Some(max))?;
    s.set_write_timeout(Some(max))?;
    Ok(s)
}

/// Sends [`WS_REQUEST`] and reads the response, which must be a 101.
pub fn ws_handshake(s: &mut TcpStream) -> std::io::Result<()> {
    s.write_all(WS_REQUEST)?;
    let mut b = [0u8; WS_RESPONSE_LEN];
    s.read_exact(&mut b)?;
    if b.starts_with(b"HTTP/1.1 101 ") {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "not a 101: {:?}",
            String::from_utf8_lossy(&b)
        )))
    }
}

/// The peer closed or reset the connection (rather than a timeout or a
/// local failure).
pub fn closed_by_peer(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof | ErrorKind::BrokenPipe
    )
}

/// Closes `s` with an RST instead of a FIN (SO_LINGER {1, 0}), as a client
/// that aborts its connection does.
pub fn close_with_rst(s: TcpStream) {
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER");
    drop(s);
}

/// A pseudo-terminal pair: a program under test gets the `slave` side as
/// its terminal (stdin, stdout) and the test types and reads on `master`.
pub struct Pty {
    pub master: std::os::fd::OwnedFd,
    pub slave: std::os::fd::OwnedFd,
    pub path: PathBuf,
}

impl Pty {
    /// `raw`: no echo, no line editing (a serial port); otherwise a
    /// terminal as a user has one.
    pub fn open(raw: bool) -> Pty {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        let (mut m, mut s) = (0, 0);
        // SAFETY: openpty writes two fds; the other pointers may be null.
        let r = unsafe {
            libc::openpty(
                &mut m,
                &mut s,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both fds were just opened and are owned here.
        let (master, slave) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
        if raw {
            // SAFETY: termios is plain data, filled by tcgetattr.
            unsafe {
                let mut t: libc::termios = std::mem::zeroed();
                assert_eq!(libc::tcgetattr(slave.as_raw_fd(), &mut t), 0);
                libc::cfmakeraw(&mut t);
                assert_eq!(libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t), 0);
            }
        }
        let path = std::fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd())).unwrap();
        Pty {
            master,
            slave,
            path,
        }
    }

    /// The program's side, for its stdin, stdout or stderr.
    pub fn slave_stdio(&self) -> std::process::Stdio {
        std::process::Stdio::from(self.slave.try_clone().unwrap())
    }

    /// The other side (a board's UART, say).
    pub fn master_stdio(&self) -> std::process::Stdio {
        std::process::Stdio::from(self.master.try_clone().unwrap())
    }

    pub fn type_in(&self, text: &str) {
        use std::io::Write;
        let mut f = std::fs::File::from(self.master.try_clone().unwrap());
        f.write_all(text.as_bytes()).unwrap();
    }

    /// What the program printed until `needle` appears (at most `max`).
    pub fn read_until(&self, needle: &str, max: std::time::Duration) -> String {
        use std::os::fd::AsRawFd;
        let deadline = std::time::Instant::now() + max;
        let mut got = Vec::new();
        while !String::from_utf8_lossy(&got).contains(needle) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(
                !left.is_zero(),
                "{needle:?} did not appear within {max:?}; got:\n{}",
                String::from_utf8_lossy(&got)
            );
            let mut fds = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut fds, 1, left.as_millis().min(1000) as i32) };
            if n > 0 {
                let mut buf = [0u8; 4096];
                // SAFETY: reading into a local buffer of its size.
                let r = unsafe {
                    libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())
                };
                if r > 0 {
                    got.extend_from_slice(&buf[..r as usize]);
                }
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    }
}
