//! Bringing an instance up: start it, wait until it is ready (by its boot
//! log, by a probe of its port, or by a handshake when attached to a
//! running firmware), and bring it back after a panic reboot.

use std::time::{Duration, Instant};

use crate::progress::{Progress, Wait};
use esp_ws_dut::{Dial, Instance, Level, Readiness, StartContext, panic_marker};

use crate::{RunError, RunOptions};

/// The ready lines of a firmware profile, as regexes.
pub fn ready_markers(firmware: &esp_ws_catalogue::Firmware) -> Vec<regex::Regex> {
    firmware
        .ready
        .iter()
        .map(|r| regex::Regex::new(r).expect("catalogue regexes are valid"))
        .collect()
}

fn log_path(inst: &Instance) -> Option<String> {
    inst.dir()
        .map(|d| crate::display_path(&d.join("serial.log")))
}

/// Starts one instance and waits until it is ready: every ready marker in
/// order, within the boot timeout, failing at once (quoting the panic, or
/// the process's last words) if the firmware crashes or the process exits.
/// A port forwarded to the firmware is then probed with bounded connection
/// retries, because it accepts before the firmware listens.
pub async fn start_instance(opts: &RunOptions, label: String) -> Result<Instance, RunError> {
    let ctx = StartContext {
        dir: opts.artifacts.instance_dir(&label),
        label: label.clone(),
        dial: None,
    };
    let mut inst = Instance::new(opts.target.start(ctx).await?);
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + opts.boot_timeout;
    let progress = &opts.exec.progress;
    progress.waiting(&label, || Wait::new("booting"));
    let readiness = inst.readiness();
    let ready = match readiness {
        Readiness::Handshake => {
            probe_websocket(&inst, opts.firmware.ws_path, deadline, progress).await
        }
        Readiness::BootLog { .. } => wait_ready(&inst, opts, 0, deadline, Some(progress)).await,
    };
    progress.done(&label);
    if let Err(err) = ready {
        inst.stop().await;
        return Err(err);
    }
    tracing::info!(
        "{label}: ready after {:.1}s",
        started.elapsed().as_secs_f64()
    );
    if readiness == (Readiness::BootLog { probe: true })
        && let Some(addr) = inst.endpoint()
        && let Err(e) = probe_until_served(&inst, addr, deadline).await
    {
        inst.stop().await;
        return Err(e);
    }
    if let Some(imp) = &opts.impair
        && let Err(e) = inst.impair(imp.clone()).await
    {
        inst.stop().await;
        return Err(e.into());
    }
    // Output printed around the marker belongs to start-up, not to the first
    // scenario.
    inst.settle(opts.exec.settle_max).await;
    Ok(inst)
}

/// An instance of a firmware that dials out, and where it dials.
pub struct Dialing {
    pub inst: Instance,
    /// Where esp-ws listens for it.
    pub listener: crate::listen::Listener,
    /// When esp-ws started it.
    pub started: tokio::time::Instant,
}

/// Starts an instance of a firmware that dials out: binds the listener
/// ([`RunOptions::listen_addr`]), starts the firmware with the URI to dial
/// (`ws://HOST:PORT/PATH`, the host as the target reaches this machine,
/// the profile's path) and waits for its ready lines. Connections that
/// arrive meanwhile wait in the listener, stamped with their arrival.
pub async fn start_dialing(opts: &RunOptions, label: String) -> Result<Dialing, RunError> {
    let addr = opts.listen_addr().map_err(RunError::Listen)?;
    let listener = crate::listen::Listener::bind(addr).await.map_err(|e| {
        RunError::Listen(format!(
            "{label}: cannot listen on {addr} for {} to dial: {e}",
            opts.firmware.name
        ))
    })?;
    let bound = listener.local_addr();
    let uri = format!(
        "ws://{}{}",
        opts.target.dial_host(bound),
        opts.firmware.ws_path
    );
    tracing::info!("{label}: listening on {bound}; the firmware dials {uri}");
    let ctx = StartContext {
        dir: opts.artifacts.instance_dir(&label),
        label: label.clone(),
        dial: Some(Dial { addr: bound, uri }),
    };
    let started = tokio::time::Instant::now();
    let inst = Instance::new(opts.target.start(ctx).await?);
    let deadline = tokio::time::Instant::now() + opts.boot_timeout;
    let progress = &opts.exec.progress;
    progress.waiting(&label, || Wait::new("booting"));
    // A board esp-ws attaches to is running already: it dials when it
    // dials. Otherwise the boot log says when the firmware is up.
    let ready = match inst.readiness() {
        Readiness::Handshake => Ok(()),
        Readiness::BootLog { .. } => wait_ready(&inst, opts, 0, deadline, Some(progress)).await,
    };
    progress.done(&label);
    if let Err(err) = ready {
        inst.stop().await;
        return Err(err);
    }
    Ok(Dialing {
        inst,
        listener,
        started,
    })
}

/// The log level the firmware logs at: what the target knows, else what
/// the user said, else what its boot log shows (a firmware built at debug
/// level prints `D` lines while it starts: esp_http_server's task start and
/// handler registration). `None` when there is no boot log to tell from.
pub fn firmware_log_level(inst: &Instance, stated: Option<Level>) -> Option<Level> {
    if let Some(l) = inst.log_level().or(stated) {
        return Some(l);
    }
    if !inst.has_serial_log() || inst.readiness() == Readiness::Handshake {
        return None;
    }
    let boot = inst.serial().lines(inst.boot_line(), usize::MAX);
    let levels: Vec<Level> = boot
        .iter()
        .filter_map(|l| l.line.as_log().map(|r| r.level))
        .collect();
    // `Level` orders the most severe first: the most verbose line is the max.
    levels.into_iter().max()
}

/// A running firmware is ready when it completes a WebSocket handshake on
/// `path` (a route its profile serves); tried with growing pauses (a board on Wi-Fi may be slow to
/// answer, or still joining the network) until `deadline`.
async fn probe_websocket(
    inst: &Instance,
    path: &str,
    deadline: tokio::time::Instant,
    progress: &Progress,
) -> Result<(), RunError> {
    let label = inst.label().to_string();
    let Some(addr) = inst.endpoint() else {
        return Ok(());
    };
    let mut attempts = 0;
    let mut pause = Duration::from_millis(100);
    loop {
        attempts += 1;
        progress.waiting(&label, || {
            Wait::new("booting").detail(format!(
                "a WebSocket handshake with {addr}, attempt {attempts}"
            ))
        });
        let attempt = async {
            let attempt_deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            let mut c = esp_ws_client::Connection::connect(addr, Duration::from_secs(5))
                .await
                .map_err(|e| e.to_string())?;
            let key = esp_ws_frame::key_from_nonce(*b"esp-ws readiness");
            let req = esp_ws_frame::Request::websocket(path, &addr.to_string(), &key);
            c.write(&[&req.to_bytes()], Duration::ZERO)
                .await
                .map_err(|e| e.to_string())?;
            let ev = c
                .read_response(attempt_deadline)
                .await
                .map_err(|e| e.to_string())?;
            // Going away without a CLOSE frame is what the firmware copes
            // with best (it logs one warning and closes).
            c.close(esp_ws_client::Closed::Fin, attempt_deadline).await;
            match ev {
                esp_ws_client::ResponseEvent::Response(r) if r.status == 101 => Ok(()),
                esp_ws_client::ResponseEvent::Response(r) => {
                    Err(format!("answered {:?}", r.status_line()))
                }
                esp_ws_client::ResponseEvent::Closed { how, .. } => {
                    Err(format!("closed ({how}) without a response"))
                }
                esp_ws_client::ResponseEvent::Timeout { .. } => {
                    Err("no response within 5 s".to_string())
                }
            }
        };
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let last = match tokio::time::timeout(left.min(Duration::from_secs(5)), attempt).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => e,
            Err(_) => "no answer within 5 s".to_string(),
        };
        if tokio::time::Instant::now() + pause >= deadline {
            return Err(RunError::NoHandshake {
                label,
                addr,
                path: path.to_string(),
                attempts,
                last,
                hint: inst.hint(),
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// Waits until the serial log, from line `from` on, shows every ready
/// marker in order; fails at once (quoting the panic, or the process's last
/// words) if the firmware crashes or the process exits.
async fn wait_ready(
    inst: &Instance,
    opts: &RunOptions,
    from: usize,
    deadline: tokio::time::Instant,
    progress: Option<&Progress>,
) -> Result<(), RunError> {
    let mut from = from;
    for m in &opts.ready_markers {
        if let Some(p) = progress {
            p.waiting(inst.label(), || {
                Wait::new("booting").detail(format!("waiting for {:?}", m.as_str()))
            });
        }
        let found = inst
            .serial()
            .wait_for(from, deadline, |l| {
                if let Some(p) = progress {
                    p.waiting(inst.label(), || {
                        Wait::new("booting").detail(format!(
                            "waiting for {:?}, the last line: {}",
                            m.as_str(),
                            l.text()
                        ))
                    });
                }
                m.is_match(&l.text()) || panic_marker(&l.text())
            })
            .await;
        if found.is_none() && inst.serial().is_closed() {
            // The output ended: the process is exiting.
            inst.wait_exit(Duration::from_secs(2)).await;
        }
        match (found, inst.crash(0)) {
            (_, Some(c)) => {
                return Err(RunError::CrashedWhileStarting {
                    what: c.what,
                    lines: c.lines,
                    log: log_path(inst),
                });
            }
            (Some(l), None) => from = l.index + 1,
            (None, None) => {
                let serial = inst.serial();
                let tail: Vec<String> = serial
                    .lines(serial.len().saturating_sub(10), usize::MAX)
                    .iter()
                    .map(|l| l.text())
                    .collect();
                return Err(RunError::NotReady {
                    label: inst.label().to_string(),
                    waited: humantime::format_duration(opts.boot_timeout).to_string(),
                    marker: m.as_str().to_string(),
                    tail,
                    hint: inst.hint(),
                    log: log_path(inst),
                });
            }
        }
    }
    Ok(())
}

/// After a panic, a chip that reboots (a board, the simulator; not QEMU
/// with `-no-reboot`) prints the ROM banner again and boots: waits for that
/// banner and then for the ready markers, as at start-up, so that the next
/// scenario runs on a fresh boot. Errors say why the target is gone.
pub async fn recover(inst: &Instance, opts: &RunOptions) -> Result<(), RunError> {
    let Some(crash) = inst.crash(0) else {
        return Ok(());
    };
    let deadline = tokio::time::Instant::now() + opts.boot_timeout;
    let boot = inst.boot_line();
    let lines = inst.serial().lines(boot, usize::MAX);
    let Some(p) = lines.iter().position(|l| panic_marker(&l.text())) else {
        // The process ended without a panic: nothing to recover from.
        return Err(RunError::Ended(crash.what));
    };
    let panic_at = boot + p;
    // The ROM's reset line (`rst:0x..`), which may be the panic line itself
    // (a watchdog reset shows only there).
    let banner = inst
        .serial()
        .wait_for(panic_at, deadline, |l| l.text().starts_with("rst:0x"))
        .await;
    let Some(banner) = banner else {
        if inst.serial().is_closed() {
            inst.wait_exit(Duration::from_secs(2)).await;
        }
        return Err(RunError::NoReboot {
            what: crash.what,
            within: (!inst.exited())
                .then(|| humantime::format_duration(opts.boot_timeout).to_string()),
        });
    };
    inst.rebooted_at(banner.index + 1);
    wait_ready(inst, opts, banner.index + 1, deadline, None)
        .await
        .map_err(|e| RunError::AfterReboot(Box::new(e)))?;
    tracing::info!("{}: rebooted after a panic", inst.label());
    inst.settle(opts.exec.settle_max).await;
    Ok(())
}

/// After a scenario crashed the firmware: [`recover`], and the reboot
/// becomes part of the scenario's log (the next scenario starts on a fresh
/// boot). Errors say why the target is gone.
pub async fn recover_into(
    run: &mut crate::ScenarioRun,
    inst: &Instance,
    opts: &RunOptions,
) -> Result<(), RunError> {
    recover(inst, opts).await?;
    run.log = inst.serial().lines(run.log_start, inst.serial().len());
    Ok(())
}

/// Connects until a connection stays open (a forwarded port that nobody
/// listens behind yet is accepted and then reset), then closes it.
async fn probe_until_served(
    inst: &Instance,
    addr: std::net::SocketAddr,
    deadline: tokio::time::Instant,
) -> Result<(), RunError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut attempts = 0;
    loop {
        attempts += 1;
        let last = match tokio::time::timeout_at(deadline, tokio::net::TcpStream::connect(addr))
            .await
        {
            Err(_) => "timed out connecting".to_string(),
            Ok(Err(e)) => e.to_string(),
            Ok(Ok(mut s)) => {
                let mut b = [0u8; 1];
                match tokio::time::timeout(Duration::from_millis(300), s.read(&mut b)).await {
                    // Nothing arrives and nothing closes: something serves.
                    Err(_) => {
                        let _ = s.shutdown().await;
                        let _ = tokio::time::timeout(Duration::from_secs(1), s.read(&mut b)).await;
                        return Ok(());
                    }
                    Ok(Ok(0)) => "accepted, then closed".to_string(),
                    Ok(Ok(_)) => return Ok(()),
                    Ok(Err(e)) => e.to_string(),
                }
            }
        };
        if tokio::time::Instant::now() + Duration::from_millis(250) >= deadline {
            return Err(RunError::NotServed {
                label: inst.label().to_string(),
                addr,
                attempts,
                last,
                log: log_path(inst),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
