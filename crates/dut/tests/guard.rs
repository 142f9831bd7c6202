//! The guard of a child's process group (process.rs): when the process
//! that supervises the child is killed outright, the child's whole group
//! goes, grandchildren included; when a job ends normally, its guard ends
//! with it. Each test runs itself again as a child process (the supervisor
//! here is a test binary, not esp-ws), so that the guards it finds among
//! that process's children are its own.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use esp_ws_dut::SerialLog;
use esp_ws_dut::process::{GUARD_NAME, StopTimeouts, Stopped, Supervised};

const MODE: &str = "ESP_WS_GUARD_TEST_CHILD";

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let st = s.rsplit(')').next().unwrap_or("").trim_start().to_string();
            !st.starts_with('Z') && !st.starts_with('X')
        })
        .unwrap_or(false)
}

/// `pid`'s children, zombies included.
fn children_of(pid: u32) -> Vec<i32> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let children = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        out.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<i32>().ok()),
        );
    }
    out
}

/// The guards among `pid`'s children (by the name a guard gives itself
/// first thing).
fn guards_of(pid: u32) -> Vec<i32> {
    let name = GUARD_NAME.to_str().unwrap();
    children_of(pid)
        .into_iter()
        .filter(|c| {
            std::fs::read_to_string(format!("/proc/{c}/comm"))
                .is_ok_and(|comm| comm.trim_end() == name)
        })
        .collect()
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// This test binary running `test` alone, as the child process.
fn this_test(test: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env(MODE, "1");
    c
}

fn inner() -> bool {
    std::env::var_os(MODE).is_some()
}

/// Processes the test kills on its way out, passed or failed.
struct KillOnDrop(Vec<i32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for &pid in &self.0 {
            if alive(pid) {
                // SAFETY: a plain kill(2) of a pid this test started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

#[test]
fn sigkill_of_the_supervisor_takes_the_childs_whole_group_along() {
    const TEST: &str = "sigkill_of_the_supervisor_takes_the_childs_whole_group_along";
    if inner() {
        // sh stays (it waits for its job): the sleep is a grandchild, which
        // the parent-death signal of sh does not reach.
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild");
        let child = Supervised::spawn(
            "tree",
            "sh",
            &[
                "-c".into(),
                "sleep 60 & echo $! > \"$0.tmp\"; mv \"$0.tmp\" \"$0\"; wait".into(),
                pidfile.display().to_string(),
            ],
            SerialLog::new(None).unwrap(),
            None,
            None,
        )
        .expect("spawn sh");
        wait_until("the grandchild's pid", Duration::from_secs(10), || {
            pidfile.exists()
        });
        let grandchild = std::fs::read_to_string(&pidfile).unwrap();
        println!("pid of child: {}", child.pid());
        println!("pid of grandchild: {}", grandchild.trim());
        // Until the test kills this process.
        std::thread::sleep(Duration::from_secs(30));
        unreachable!("the test kills this process");
    }
    let mut sup = this_test(TEST).stdout(Stdio::piped()).spawn().unwrap();
    let mut started = KillOnDrop(vec![sup.id() as i32]);
    let mut lines = BufReader::new(sup.stdout.take().unwrap()).lines();
    let mut pid_after = |prefix: &str| -> i32 {
        lines
            .by_ref()
            .map_while(Result::ok)
            // libtest may print "test <name> ... " on the same line first.
            .find_map(|l| {
                let (_, pid) = l.split_once(prefix)?;
                Some(pid.trim().parse().unwrap())
            })
            .unwrap_or_else(|| panic!("no {prefix:?} line"))
    };
    let child = pid_after("pid of child: ");
    let grandchild = pid_after("pid of grandchild: ");
    started.0.extend([child, grandchild]);
    let mut guards = Vec::new();
    wait_until("the guard", Duration::from_secs(5), || {
        guards = guards_of(sup.id());
        !guards.is_empty()
    });
    assert_eq!(guards.len(), 1, "one guard for one child: {guards:?}");
    started.0.extend(&guards);
    assert!(alive(child) && alive(grandchild) && alive(guards[0]));

    sup.kill().unwrap();
    sup.wait().unwrap();
    wait_until("the child to be gone", Duration::from_secs(5), || {
        !alive(child)
    });
    wait_until("the grandchild to be gone", Duration::from_secs(5), || {
        !alive(grandchild)
    });
    // Its work done, the guard is gone too.
    wait_until("the guard to be gone", Duration::from_secs(5), || {
        !alive(guards[0])
    });
}

#[test]
fn a_guard_ends_with_its_job_and_leaves_status_and_stderr_alone() {
    const TEST: &str = "a_guard_ends_with_its_job_and_leaves_status_and_stderr_alone";
    if inner() {
        let me = std::process::id();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            // Stopped: the escalation still reaches the child, and the guard,
            // out of the child's group, outlives the signal but not the job.
            let sleeper = Supervised::spawn(
                "sleeper",
                "sleep",
                &["60".into()],
                SerialLog::new(None).unwrap(),
                None,
                None,
            )
            .unwrap();
            wait_until("the guard", Duration::from_secs(5), || {
                guards_of(me).len() == 1
            });
            let stopped = sleeper
                .stop(None::<std::future::Ready<()>>, StopTimeouts::default())
                .await;
            let Stopped::Terminated(status) = stopped else {
                panic!("{stopped:?}");
            };
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(libc::SIGTERM));
            // The child and its guard reaped before the status was
            // published: not even a zombie.
            assert_eq!(children_of(me), Vec::<i32>::new());

            // Exits by itself: its status and last words, and no guard.
            let failing = Supervised::spawn(
                "failing",
                "sh",
                &["-c".into(), "echo 'bad config' >&2; exit 3".into()],
                SerialLog::new(None).unwrap(),
                None,
                None,
            )
            .unwrap();
            let status = failing.wait_exit(Duration::from_secs(10)).await.unwrap();
            assert_eq!(status.code(), Some(3));
            assert!(failing.stderr_tail().contains("bad config"));
            assert_eq!(children_of(me), Vec::<i32>::new());

            // Never started: the guard forked for it goes at once.
            let e = Supervised::spawn(
                "missing",
                "/nonexistent/esp-ws-test-program",
                &[],
                SerialLog::new(None).unwrap(),
                None,
                None,
            )
            .err()
            .expect("no such program");
            assert!(e.to_string().contains("cannot start"), "{e}");
            assert_eq!(children_of(me), Vec::<i32>::new());
        });
        println!("INNER OK");
        return;
    }
    let out = this_test(TEST).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("INNER OK"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
