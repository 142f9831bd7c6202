//! A running target instance, whatever kind it is: its WebSocket endpoint,
//! its serial log, how to wait for it to settle, how to stop it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::serial::SerialLog;
use crate::sim::{SimHost, SimOptions};

enum Backend {
    Sim(SimHost),
}

pub struct Instance {
    /// A short name for messages (`sim#1`).
    pub label: String,
    /// Where WebSocket clients connect.
    pub endpoint: SocketAddr,
    pub serial: SerialLog,
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
            serial,
            backend: Backend::Sim(host),
        })
    }

    /// Waits until the target has finished reacting to everything a
    /// scenario did (so the next scenario's log slice starts clean).
    pub async fn settle(&self, quiet: Duration, max: Duration) -> Settled {
        match &self.backend {
            Backend::Sim(h) => {
                let _ = quiet;
                if h.settle(max).await {
                    Settled::Idle
                } else {
                    Settled::TimedOut
                }
            }
        }
    }

    /// Waits until the target has processed what it was sent so far, when
    /// the target can tell (the simulator); otherwise returns at once.
    pub async fn sync(&self, max: Duration) {
        match &self.backend {
            Backend::Sim(h) => {
                h.wait_idle(max).await;
            }
        }
    }

    pub async fn stop(self) {
        match self.backend {
            Backend::Sim(h) => h.stop().await,
        }
        self.serial.close();
    }
}
