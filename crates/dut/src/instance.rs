//! A running device under test as the runner holds it: the [`Dut`] and
//! what is the same for every kind (a crash read from the serial log, the
//! boot it is in, the impairment proxy in front of it).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::serial::{SerialLine, SerialLog};
use crate::{DutError, Level, Readiness, Settled, Stopped};

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

pub struct Instance {
    dut: Box<dyn crate::Dut>,
    /// Where clients connect: the firmware's endpoint, or the impairment
    /// proxy's in front of it.
    endpoint: Option<SocketAddr>,
    proxy: Option<esp_ws_impair::Proxy>,
    /// The serial line the current boot starts at: a panic before it
    /// belongs to an earlier boot that the target has recovered from.
    boot_line: AtomicUsize,
}

impl Instance {
    pub fn new(dut: Box<dyn crate::Dut>) -> Instance {
        Instance {
            endpoint: dut.endpoint(),
            dut,
            proxy: None,
            boot_line: AtomicUsize::new(0),
        }
    }

    pub fn label(&self) -> &str {
        self.dut.label()
    }

    /// Where WebSocket clients connect (through the proxy, if there is one).
    pub fn endpoint(&self) -> Option<SocketAddr> {
        self.endpoint
    }

    /// Where the firmware itself listens.
    pub fn target_endpoint(&self) -> Option<SocketAddr> {
        self.dut.endpoint()
    }

    pub fn serial(&self) -> &SerialLog {
        self.dut.serial()
    }

    pub fn has_serial_log(&self) -> bool {
        self.dut.has_serial_log()
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dut.dir()
    }

    pub fn readiness(&self) -> Readiness {
        self.dut.readiness()
    }

    pub fn log_level(&self) -> Option<Level> {
        self.dut.log_level()
    }

    pub fn hint(&self) -> Option<crate::Hint> {
        self.dut.hint()
    }

    pub fn pid(&self) -> Option<i32> {
        self.dut.pid()
    }

    /// Did the firmware crash (a panic in the serial log from line `from`
    /// on, in its current boot) or end?
    pub fn crash(&self, from: usize) -> Option<Crash> {
        let from = from.max(self.boot_line());
        let lines = self.serial().lines(from, usize::MAX);
        if let Some(i) = lines.iter().position(|l| panic_marker(&l.text())) {
            return Some(Crash {
                what: format!("{}: the firmware crashed", self.label()),
                lines: panic_block(&lines, i),
            });
        }
        self.dut.ended().map(|what| Crash {
            what: format!("{}: {what}", self.label()),
            lines: Vec::new(),
        })
    }

    /// Has the firmware ended for good?
    pub fn exited(&self) -> bool {
        self.dut.ended().is_some()
    }

    pub async fn wait_exit(&self, timeout: Duration) {
        self.dut.wait_exit(timeout).await
    }

    /// The serial line the current boot starts at.
    pub fn boot_line(&self) -> usize {
        self.boot_line.load(Ordering::SeqCst)
    }

    /// Records that the firmware booted again from serial line `line` on
    /// (after a panic reboot): earlier panics no longer count as a crash.
    pub fn rebooted_at(&self, line: usize) {
        self.boot_line.store(line, Ordering::SeqCst);
    }

    /// Puts the impairment proxy between clients and the firmware: from
    /// now on [`Instance::endpoint`] is the proxy's address.
    pub async fn impair(&mut self, imp: esp_ws_impair::Impairment) -> Result<(), DutError> {
        let Some(target) = self.dut.endpoint() else {
            return Err(DutError::Unsupported {
                label: self.label().to_string(),
                what: "the impairment proxy stands in front of a firmware that serves; this one dials out".into(),
            });
        };
        let proxy = esp_ws_impair::Proxy::start(target, imp)
            .await
            .map_err(|source| DutError::Proxy {
                label: self.label().to_string(),
                source,
            })?;
        self.endpoint = Some(proxy.local_addr());
        self.proxy = Some(proxy);
        Ok(())
    }

    /// Waits until the target has finished reacting to everything a
    /// scenario did (so the next scenario's log slice starts clean).
    pub async fn settle(&self, max: Duration) -> Settled {
        self.dut.settle(max).await
    }

    /// Waits until the target has processed what it was sent so far, when
    /// it can tell; otherwise returns at once.
    /// `sent`: what a client wrote on its connection to [`Instance::endpoint`]
    /// (ignored behind the impairment proxy, whose connections are its own).
    pub async fn sync(&self, max: Duration, sent: Option<crate::Sent>) {
        let sent = if self.proxy.is_some() { None } else { sent };
        self.dut.sync(max, sent).await
    }

    /// Stops the target and closes its serial log.
    pub async fn stop(self) -> Option<Stopped> {
        let label = self.label().to_string();
        let serial = self.serial().clone();
        drop(self.proxy);
        let stopped = self.dut.stop().await;
        tracing::debug!(label, "stopped: {stopped:?}");
        serial.close();
        stopped
    }
}
