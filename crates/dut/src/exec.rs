//! Any program as the device under test: it prints the serial log on
//! stdout and serves WebSocket on a port (a firmware built for ESP-IDF's
//! `linux` target, or `esp-ws sim` itself), or dials out to esp-ws.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::future::BoxFuture;

use crate::process::{StopTimeouts, Supervised};
use crate::serial::SerialLog;
use crate::{Dut, DutError, StartContext, Stopped, Target};

/// In the program's arguments: the port it is to serve on.
pub const PORT: &str = "{port}";
/// In the program's arguments: the WebSocket URI to dial (a firmware that
/// dials out).
pub const URI: &str = "{uri}";

/// How the program is run.
#[derive(Clone, Debug)]
pub struct ExecConfig {
    pub program: String,
    /// [`PORT`] and [`URI`] in them are replaced per instance.
    pub args: Vec<String>,
    /// The port it serves on; `None`: a free port per instance, passed as
    /// [`PORT`].
    pub port: Option<u16>,
}

impl ExecConfig {
    /// The port is fixed (given, or not passed to the program at all): then
    /// every instance would serve on it, so there can be only one. A
    /// program given [`URI`] dials out and serves no port.
    pub fn fixed_port(&self) -> bool {
        self.port.is_some()
            || !self
                .args
                .iter()
                .any(|a| a.contains(PORT) || a.contains(URI))
    }
}

#[derive(Clone, Debug)]
pub struct ExecTarget {
    pub cfg: ExecConfig,
}

impl Target for ExecTarget {
    fn kind(&self) -> &'static str {
        "exec"
    }

    fn describe(&self) -> String {
        format!("program {}", self.cfg.program)
    }

    fn max_instances(&self) -> Option<(usize, String)> {
        self.cfg.fixed_port().then(|| {
            let why = match self.cfg.port {
                Some(p) => format!("the program serves on the fixed port {p}"),
                None => format!("the program's arguments hold no {PORT}"),
            };
            (1, why)
        })
    }

    fn start(&self, ctx: StartContext) -> BoxFuture<'_, Result<Box<dyn Dut>, DutError>> {
        Box::pin(async move {
            let dir = crate::required_dir(&ctx, "program")?;
            let label = ctx.label;
            let port = match self.cfg.port {
                Some(p) => p,
                None => crate::free_port().map_err(|source| DutError::NoFreePort {
                    label: label.clone(),
                    source,
                })?,
            };
            let uri = ctx.dial.as_ref().map(|d| d.uri.as_str()).unwrap_or("");
            let args: Vec<String> = self
                .cfg
                .args
                .iter()
                .map(|a| a.replace(PORT, &port.to_string()).replace(URI, uri))
                .collect();
            let line = crate::qemu::shell_line(
                &std::iter::once(self.cfg.program.clone())
                    .chain(args.iter().cloned())
                    .collect::<Vec<_>>(),
            );
            tracing::info!("{label}: {line}");
            crate::write_file(
                &label,
                &dir.join("command.txt"),
                format!("{line}\n").as_bytes(),
            )?;
            let serial_path = dir.join("serial.log");
            let serial =
                SerialLog::new(Some(serial_path.clone())).map_err(|source| DutError::Write {
                    label: label.clone(),
                    path: serial_path,
                    source,
                })?;
            let child = Supervised::spawn(
                &label,
                &self.cfg.program,
                &args,
                serial.clone(),
                Some(dir.join("stderr.log")),
                None,
            )
            .map_err(|source| DutError::Spawn {
                label: label.clone(),
                source,
            })?;
            // A program that dials out serves nothing.
            let endpoint = ctx
                .dial
                .is_none()
                .then(|| SocketAddr::from(([127, 0, 0, 1], port)));
            Ok(Box::new(ProcessDut {
                label,
                endpoint,
                serial,
                dir,
                child,
                qmp: None,
            }) as Box<dyn Dut>)
        })
    }
}

/// A firmware in a supervised child process (a program, QEMU).
pub(crate) struct ProcessDut {
    pub label: String,
    pub endpoint: Option<SocketAddr>,
    pub serial: SerialLog,
    pub dir: PathBuf,
    pub child: Supervised,
    /// QEMU's monitor, for a graceful `quit`.
    pub qmp: Option<SocketAddr>,
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

impl Dut for ProcessDut {
    fn label(&self) -> &str {
        &self.label
    }

    fn endpoint(&self) -> Option<SocketAddr> {
        self.endpoint
    }

    fn serial(&self) -> &SerialLog {
        &self.serial
    }

    fn dir(&self) -> Option<&Path> {
        Some(&self.dir)
    }

    fn ended(&self) -> Option<String> {
        let status = self.child.exit_status()?;
        let stderr = self.child.stderr_tail();
        let mut what = format!("the process exited ({status})");
        if !stderr.trim().is_empty() {
            what.push_str(&format!(
                "; its stderr ends with: {}",
                last_lines(&stderr, 5)
            ));
        }
        Some(what)
    }

    fn wait_exit(&self, timeout: Duration) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.child.wait_exit(timeout).await;
        })
    }

    fn pid(&self) -> Option<i32> {
        Some(self.child.pid())
    }

    fn stop(self: Box<Self>) -> BoxFuture<'static, Option<Stopped>> {
        Box::pin(async move {
            let graceful = self.qmp.map(crate::qemu::qmp_quit);
            Some(self.child.stop(graceful, StopTimeouts::default()).await)
        })
    }
}
