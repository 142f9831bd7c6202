//! `esp-ws run` and `esp-ws validate`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use esp_ws_catalogue::Firmware;
use esp_ws_dut::process::StopTimeouts;
use esp_ws_dut::{
    BoardTarget, ExecConfig, ExecTarget, Link, QemuConfig, QemuTarget, SimOptions, SimTarget,
    Target, qemu,
};
use esp_ws_runner::{RunOptions, artifacts::Artifacts, report, snapshot};

use crate::EXIT_USAGE;
use crate::errors::{render_run_error, render_scenario_error};

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetKind {
    /// The built-in simulator (no hardware, nothing to install).
    Sim,
    /// A program that prints a serial log on stdout and serves WebSocket on
    /// a port: `--target exec [--port P] -- PROGRAM ARGS...` (`{port}` in
    /// ARGS is replaced by the port).
    Exec,
    /// Real firmware under Espressif's QEMU: `--firmware BUILD_DIR|IMAGE`.
    Qemu,
    /// A real board on the network: `--host ADDR[:PORT]`, its log from
    /// `--serial PORT`.
    Board,
}

#[derive(Args)]
pub struct RunArgs {
    /// Scenario files or directories (searched recursively).
    #[arg(default_value = "scenarios")]
    pub paths: Vec<PathBuf>,
    /// Run only the scenarios whose names match PATTERN: a substring, or a
    /// glob (`*`, `?`, `[…]`) matched against the whole name. Repeatable:
    /// a scenario runs if any pattern matches.
    #[arg(long, short = 'k', value_name = "PATTERN")]
    pub filter: Vec<String>,
    /// Leave out the scenarios whose names match PATTERN (as --filter;
    /// repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub skip: Vec<String>,
    /// List the scenarios that would run (name, file, the profiles each
    /// applies to, description) and exit without running them.
    #[arg(long)]
    pub list: bool,
    /// Run only the scenarios that failed (or were not run) in the last
    /// finished run under --artifacts.
    #[arg(long)]
    pub rerun_failed: bool,
    /// Run only part K of N of the scenarios (CI sharding), e.g. 1/3.
    #[arg(long, value_name = "K/N")]
    pub partition: Option<String>,
    /// Write new and changed snapshots as accepted (.snap), like INSTA_UPDATE=always.
    #[arg(long)]
    pub accept: bool,
    /// Also write the results as JUnit XML to FILE (one testcase per
    /// scenario and profile; a failure carries its details, the scenario's
    /// serial lines are its output).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write the results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    #[command(flatten)]
    pub t: TargetArgs,
}

/// What to run against, and how: the flags `run` and `conform` share.
#[derive(Args)]
pub struct TargetArgs {
    /// The program and its arguments, for --target exec (after `--`).
    #[arg(last = true, value_name = "PROGRAM")]
    pub program: Vec<String>,
    /// What to run against.
    #[arg(long, value_enum, default_value_t = TargetKind::Sim)]
    pub target: TargetKind,
    /// The firmware: a profile name for the simulator (see `esp-ws sim
    /// --list-firmware`; default: for the scenarios in a family's folder,
    /// that family's default, else v5.5.5), an ESP-IDF build directory or
    /// a merged flash image for QEMU (default: ./build).
    #[arg(long)]
    pub firmware: Option<String>,
    /// The profile a real firmware (exec, qemu, board) behaves as, for
    /// scenarios' `firmware` lists, known bugs, snapshot names and ready
    /// lines [default: v5.5.5].
    #[arg(long)]
    pub profile: Option<String>,
    /// QEMU binary [default: ESP_WS_QEMU, qemu-system-xtensa on PATH, ESP-IDF's tools folder].
    #[arg(long, value_name = "PATH")]
    pub qemu: Option<PathBuf>,
    /// An extra argument for QEMU (repeatable).
    #[arg(long = "qemu-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub qemu_args: Vec<String>,
    /// The firmware's port inside QEMU [default: the profile's port: 80,
    /// 9998 for the netconn server].
    #[arg(long)]
    pub guest_port: Option<u16>,
    /// PSRAM for QEMU (`-m`), or `none`.
    #[arg(long, default_value = "4M")]
    pub psram: String,
    /// Flash size of the image built from a build directory [default: its flash_settings].
    #[arg(long, value_name = "SIZE")]
    pub flash_size: Option<String>,
    /// Port of the program, for --target exec [default: a free port per instance, passed as {port}].
    #[arg(long)]
    pub port: Option<u16>,
    /// Longest time an instance may take to become ready.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub boot_timeout: Duration,
    /// A serial-log regex that must appear before the target counts as ready
    /// (repeatable, in order) [default: the IPv4 address line, "Starting
    /// server on port", "Returned from app_main()"].
    #[arg(long = "ready", value_name = "REGEX")]
    pub ready: Vec<String>,
    /// The firmware's CONFIG_LOG_DEFAULT_LEVEL: what the simulator is built
    /// with [default: debug]; for a real firmware, what it was built with
    /// [default: what its boot log shows]. Scenarios that need more verbose
    /// lines are skipped.
    #[arg(long)]
    pub log_level: Option<esp_ws_log::Level>,
    /// Target instances to run scenarios on in parallel [default: the number of cores].
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Where run folders with logs and transcripts go.
    #[arg(long, default_value = "esp-ws-artifacts")]
    pub artifacts: PathBuf,
    /// Multiply every step timeout by this factor [default: 3 for a board,
    /// 1 otherwise].
    #[arg(long)]
    pub timeout_scale: Option<f64>,
    /// The board's address, for --target board: an IP address or a host
    /// name, with :PORT when it is not 80.
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub host: Option<String>,
    /// The board's USB serial port (e.g. /dev/ttyUSB0), for its log. Without
    /// it, scenarios that expect log lines are skipped.
    #[arg(long, value_name = "PORT")]
    pub serial: Option<PathBuf>,
    /// Baud rate of --serial (8N1, no flow control).
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
    /// Reset the board through --serial's RTS/DTR lines (as esptool does)
    /// and wait for it to boot; without it, esp-ws attaches to the running
    /// board.
    #[arg(long)]
    pub reset: bool,
    /// SSID to answer the firmware's "Please input ssid password:" prompt
    /// with (CONFIG_EXAMPLE_WIFI_SSID_PWD_FROM_STDIN), over --serial.
    #[arg(long, env = "ESP_WS_WIFI_SSID", value_name = "SSID")]
    pub wifi_ssid: Option<String>,
    /// The Wi-Fi password for that prompt; it is redacted from every log
    /// and report (prefer the environment variable to the command line).
    #[arg(
        long,
        env = "ESP_WS_WIFI_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub wifi_password: Option<String>,
    /// Put esp-ws's impairment proxy between the client and the target,
    /// e.g. delay=10ms,jitter=5ms,chunk=1..64 (keys: delay, jitter, chunk,
    /// bandwidth, stall, reset, dir, seed).
    #[arg(long, value_name = "SPEC")]
    pub impair: Option<String>,
    /// The Host header sent in opening handshakes [default: the target's address].
    #[arg(long)]
    pub host_header: Option<String>,
    /// Where esp-ws listens for a firmware that dials out (server-role
    /// scenarios): needed for a board (this machine's LAN address, the one
    /// the firmware dials; the port defaults to the profile's); elsewhere
    /// optional [default: 127.0.0.1 and a free port the firmware is given
    /// as {uri}; QEMU: 127.0.0.1 and the profile's port, which the guest
    /// reaches as 10.0.2.2].
    #[arg(long, value_name = "ADDR[:PORT]")]
    pub listen: Option<String>,
}

/// `--listen ADDR[:PORT]`: an IP address, with the port when it is given
/// (`[v6]:PORT` for IPv6); without one, `default_port`.
pub fn parse_listen(s: &str, default_port: u16) -> Result<std::net::SocketAddr, String> {
    if let Ok(a) = s.parse::<std::net::SocketAddr>() {
        return Ok(a);
    }
    match s.parse::<std::net::IpAddr>() {
        Ok(ip) => Ok(std::net::SocketAddr::new(ip, default_port)),
        Err(_) => Err(format!(
            "--listen {s}: expected an IP address of this machine, with :PORT or not (e.g. 192.168.1.10 or 192.168.1.10:8080)"
        )),
    }
}

/// Finds and loads the scenarios of `paths`, the same way for `validate`
/// and `run`: every problem is printed (`what` says what happens to the
/// command), and `None` means exit 2.
fn load_scenarios(paths: &[PathBuf], what: &str) -> Option<Vec<esp_ws_runner::ScenarioFile>> {
    let found = match esp_ws_runner::discover::find(paths) {
        Ok(f) => f,
        Err(e) => {
            anstream::eprintln!("{} {e}", crate::ui::error_prefix());
            // A bare word where a path goes is most likely a scenario name.
            if let esp_ws_runner::discover::FindError::Path { path, .. } = &e
                && !path.exists()
                && path.components().count() == 1
                && path.extension().is_none()
            {
                eprintln!(
                    "  tip: to pick scenarios by name, use --filter: esp-ws run --filter {}",
                    path.display()
                );
            }
            return None;
        }
    };
    for (p, why) in &found.skipped {
        eprintln!("note: skipped {}: {why}", p.display());
    }
    match esp_ws_runner::discover::load(&found.files) {
        Ok(s) => Some(s),
        Err(errors) => {
            for e in &errors {
                anstream::eprint!("{}", render_scenario_error(e));
            }
            eprintln!("{} in scenario files{what}", count(errors.len(), "error"));
            None
        }
    }
}

/// `--list`: each scenario's name, file, the profiles it applies to and
/// its description.
fn list(scenarios: &[esp_ws_runner::ScenarioFile]) {
    for s in scenarios {
        let profiles: Vec<&str> = esp_ws_catalogue::firmwares()
            .iter()
            .filter(|f| s.scenario.applies_to(f))
            .map(|f| f.name)
            .collect();
        println!(
            "{}  {}  [{}]",
            s.scenario.name,
            esp_ws_runner::display_path(&s.path),
            profiles.join(", ")
        );
        if let Some(d) = &s.scenario.description {
            println!("    {d}");
        }
    }
    println!("{}", count(scenarios.len(), "scenario"));
}

/// The scenarios split by the simulated firmware that runs them, when
/// `--firmware` names none: those in a family's folder run on that
/// family's default profile (the default profile would skip every one of
/// another family's), the rest, and those the family's default does not
/// apply to, on `default`. The default's group first, then the
/// catalogue's order; no empty group.
fn by_family_default(
    scenarios: Vec<esp_ws_runner::ScenarioFile>,
    default: &'static esp_ws_catalogue::Firmware,
) -> Vec<(
    &'static esp_ws_catalogue::Firmware,
    Vec<esp_ws_runner::ScenarioFile>,
)> {
    let runs_on = |s: &esp_ws_runner::ScenarioFile| {
        s.scenario
            .family
            .as_deref()
            .and_then(esp_ws_catalogue::family)
            .and_then(|f| esp_ws_catalogue::find(f.default_firmware))
            .filter(|fw| s.scenario.applies_to(fw))
            .unwrap_or(default)
    };
    let mut groups: Vec<(&'static esp_ws_catalogue::Firmware, Vec<_>)> = vec![(default, vec![])];
    groups.extend(
        esp_ws_catalogue::firmwares()
            .iter()
            .filter(|f| f.name != default.name)
            .map(|f| (f, vec![])),
    );
    for s in scenarios {
        let fw = runs_on(&s);
        if let Some(g) = groups.iter_mut().find(|(f, _)| f.name == fw.name) {
            g.1.push(s);
        }
    }
    groups.retain(|(_, files)| !files.is_empty());
    groups
}

/// `1 error`, `2 errors`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

pub fn validate(paths: &[PathBuf]) -> ExitCode {
    match load_scenarios(paths, "") {
        Some(ok) => {
            let n = ok.len();
            println!(
                "{} {} valid",
                count(n, "scenario file"),
                if n == 1 { "is" } else { "are" }
            );
            ExitCode::SUCCESS
        }
        None => ExitCode::from(EXIT_USAGE),
    }
}

pub fn main(args: RunArgs, _verbose: u8) -> ExitCode {
    esp_ws_dut::process::install_panic_hook();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            anstream::eprintln!(
                "{} cannot start the async runtime: {e}",
                crate::ui::error_prefix()
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let code = rt.block_on(run(args));
    // Anything still running belongs to an interrupted run.
    esp_ws_dut::process::kill_all_now();
    code
}

/// How a user reviews a pending snapshot.
const REVIEW: &str = "esp-ws review, or esp-ws run --accept";

pub fn usage(msg: impl std::fmt::Display) -> ExitCode {
    anstream::eprintln!("{} {msg}", crate::ui::error_prefix());
    ExitCode::from(EXIT_USAGE)
}

/// `K/N` of `--partition`.
fn parse_partition(s: &str) -> Result<(usize, usize), String> {
    let err = || format!("--partition {s}: expected K/N with 1 <= K <= N, e.g. 1/3");
    let (k, n) = s.split_once('/').ok_or_else(err)?;
    let k: usize = k.trim().parse().map_err(|_| err())?;
    let n: usize = n.trim().parse().map_err(|_| err())?;
    if n == 0 || k == 0 || k > n {
        return Err(err());
    }
    Ok((k, n))
}

/// A firmware profile named on the command line.
fn firmware(flag: &str, name: &str) -> Result<&'static Firmware, String> {
    esp_ws_catalogue::find(name)
        .ok_or_else(|| format!("{flag} {name}: {}", esp_ws_catalogue::unknown_message(name)))
}

/// What the target runs and which firmware that is.
type Chosen = (Arc<dyn Target>, &'static Firmware);

fn sim_target(args: &TargetArgs) -> Result<Chosen, String> {
    if let Some(p) = &args.profile {
        return Err(format!(
            "--profile {p}: that is for a real firmware (exec, qemu, board); the simulator runs the profile --firmware names"
        ));
    }
    let name = args
        .firmware
        .clone()
        .unwrap_or_else(|| esp_ws_catalogue::DEFAULT.to_string());
    sim_target_named(args, &name)
}

/// The simulator running the profile `name`.
fn sim_target_named(args: &TargetArgs, name: &str) -> Result<Chosen, String> {
    let fw = firmware("--firmware", name)?;
    let profile = esp_ws_sim::profile::find(fw.name)
        .ok_or_else(|| format!("--firmware {name}: the simulator does not model it"))?;
    let target = SimTarget {
        opts: SimOptions {
            log_level: args.log_level.unwrap_or(esp_ws_log::Level::Debug),
            ..SimOptions::new(profile)
        },
    };
    Ok((Arc::new(target), fw))
}

/// The profile a real firmware was declared to be.
fn declared_profile(args: &TargetArgs) -> Result<&'static Firmware, String> {
    match &args.profile {
        Some(p) => firmware("--profile", p),
        None => Ok(esp_ws_catalogue::default_firmware()),
    }
}

fn board_target(args: &TargetArgs) -> Result<Chosen, String> {
    let declared = declared_profile(args)?;
    let dials = declared.role() == esp_ws_catalogue::Role::Client;
    let host = match (args.host.clone(), dials) {
        (Some(h), _) => h,
        // A board that dials esp-ws is reached at no address of its own.
        (None, true) => String::new(),
        (None, false) => {
            return Err("--target board needs the board's address: --host ADDR[:PORT]".into());
        }
    };
    if dials && args.listen.is_none() {
        return Err(format!(
            "--target board with {}, which dials out: name this machine's LAN address, the one the firmware dials, with --listen ADDR[:PORT] (the port defaults to {})",
            declared.name, declared.port
        ));
    }
    if !host.is_empty() {
        esp_ws_dut::board::split_host(&host).map_err(|e| format!("--host {e}"))?;
    }
    // Without a port, the one the declared firmware serves on.
    let host = with_default_port(&host, declared.port);
    if args.reset && args.serial.is_none() {
        return Err("--reset needs --serial (the reset goes through its RTS and DTR lines)".into());
    }
    let wifi = match (&args.wifi_ssid, &args.wifi_password) {
        (Some(ssid), password) => {
            if args.serial.is_none() {
                return Err(
                    "--wifi-ssid: the credentials are typed over --serial, which is missing".into(),
                );
            }
            if ssid.contains(' ') || password.as_deref().is_some_and(|p| p.contains(' ')) {
                return Err("--wifi-ssid / --wifi-password: the example reads \"ssid password\" split at spaces, so neither may contain one".into());
            }
            Some(esp_ws_dut::WifiCredentials {
                ssid: ssid.clone(),
                password: password.clone().unwrap_or_default(),
            })
        }
        (None, Some(_)) => return Err("--wifi-password needs --wifi-ssid".into()),
        (None, None) => None,
    };
    let target = BoardTarget {
        cfg: esp_ws_dut::BoardConfig {
            host,
            serial: args.serial.clone().map(|path| esp_ws_dut::SerialConfig {
                path,
                baud: args.baud,
            }),
            reset: args.reset,
            wifi,
        },
    };
    Ok((Arc::new(target), declared))
}

/// `ADDR` as `ADDR:PORT` (`[ADDR]:PORT` for IPv6) when it names no port.
fn with_default_port(host: &str, port: u16) -> String {
    if port == 80 {
        return host.to_string();
    }
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        return format!("[{host}]:{port}");
    }
    let has_port = if host.starts_with('[') {
        host.contains("]:")
    } else {
        host.contains(':')
    };
    if has_port {
        host.to_string()
    } else {
        format!("{host}:{port}")
    }
}

fn exec_target(args: &TargetArgs) -> Result<Chosen, String> {
    let Some((program, rest)) = args.program.split_first() else {
        return Err("--target exec needs the program after `--`, e.g. `esp-ws run --target exec -- esp-ws sim --port {port}`".into());
    };
    let cfg = ExecConfig {
        program: program.clone(),
        args: rest.to_vec(),
        port: args.port,
    };
    let declared = declared_profile(args)?;
    if declared.role() == esp_ws_catalogue::Role::Client {
        if !rest.iter().any(|a| a.contains(esp_ws_dut::exec::URI)) {
            return Err(format!(
                "--target exec with {}, which dials out: put {} in the program's arguments (esp-ws replaces it with the URI it listens at)",
                declared.name,
                esp_ws_dut::exec::URI
            ));
        }
        return Ok((Arc::new(ExecTarget { cfg }), declared));
    }
    if args.port.is_none() && cfg.fixed_port() {
        return Err(format!(
            "--target exec: the program's port is not known: put {} in its arguments (esp-ws picks a free port per instance) or give --port P",
            esp_ws_dut::exec::PORT
        ));
    }
    Ok((Arc::new(ExecTarget { cfg }), declared))
}

/// Finds QEMU, then builds or checks the flash image.
fn qemu_target(args: &TargetArgs) -> Result<Chosen, String> {
    let search = qemu::Search::from_env(args.qemu.clone().map(|p| ("--qemu".to_string(), p)));
    let binary = qemu::find(&search).map_err(|e| format!("{e} (or pass --qemu PATH)"))?;
    let sizes = binary.flash_sizes();
    println!(
        "{:>12} {} ({}), which accepts {} flash images",
        "QEMU",
        binary.path.display(),
        binary.version_line,
        qemu::size_list(&sizes)
    );
    let firmware = PathBuf::from(args.firmware.clone().unwrap_or_else(|| "build".into()));
    let size = match &args.flash_size {
        Some(s) => Some(
            s.parse::<esp_ws_image::FlashSize>()
                .map_err(|e| format!("--flash-size {s}: {e}"))?,
        ),
        None => None,
    };
    let image = crate::flash::load_firmware(&firmware, size)?;
    if !sizes.contains(&(image.len() as u32)) {
        return Err(format!(
            "{}: the flash image is {}, but {} accepts {} images only (pass --flash-size, or set CONFIG_ESPTOOLPY_FLASHSIZE)",
            firmware.display(),
            esp_ws_image::size_name(image.len() as u32),
            binary.version_line,
            qemu::size_list(&sizes)
        ));
    }
    let psram = match args.psram.as_str() {
        "none" | "" => None,
        m => Some(m.to_string()),
    };
    let declared = declared_profile(args)?;
    let target = QemuTarget {
        cfg: QemuConfig {
            binary,
            image: Arc::new(image),
            psram,
            guest_port: args.guest_port.unwrap_or(declared.port),
            extra: args.qemu_args.clone(),
        },
    };
    Ok((Arc::new(target), declared))
}

/// SIGINT, SIGTERM or SIGHUP: the exit code a shell expects for it.
pub async fn shutdown_signal() -> (&'static str, u8) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    tokio::select! {
        _ = int.recv() => ("interrupted (SIGINT)", 130),
        _ = term.recv() => ("terminated (SIGTERM)", 143),
        _ = hup.recv() => ("hung up (SIGHUP)", 129),
    }
}

/// A target ready to start, with the options every run shares.
pub struct Prepared {
    pub opts: RunOptions,
    pub artifacts: Artifacts,
}

/// Checks the target flags and builds what runs: the target, the profile,
/// the ready lines, the artifacts folder. `Err` is the exit code of a
/// usage error (already printed).
pub fn prepare(t: &TargetArgs, update: snapshot::Update) -> Result<Prepared, ExitCode> {
    if !t.program.is_empty() && t.target != TargetKind::Exec {
        return Err(usage("a program after `--` is only for --target exec"));
    }
    if let Some(scale) = t.timeout_scale
        && !(scale > 0.0 && scale <= 100.0)
    {
        return Err(usage(format!(
            "--timeout-scale must be greater than 0 and at most 100, not {scale}"
        )));
    }
    if t.target != TargetKind::Board {
        for (given, flag) in [
            (t.host.is_some(), "--host"),
            (t.serial.is_some(), "--serial"),
            (t.reset, "--reset"),
        ] {
            if given {
                return Err(usage(format!("{flag} is for --target board")));
            }
        }
    }
    let chosen = match t.target {
        TargetKind::Sim => sim_target(t),
        TargetKind::Exec => exec_target(t),
        TargetKind::Qemu => qemu_target(t),
        TargetKind::Board => board_target(t),
    };
    let (target, firmware) = chosen.map_err(usage)?;
    let listen = match &t.listen {
        None => None,
        Some(s) => {
            // Without a port: the profile's where the firmware's own
            // configuration fixes it (QEMU, a board), else a free one.
            let default_port = target
                .listen_default(firmware.port)
                .map_or(firmware.port, |a| a.port());
            Some(parse_listen(s, default_port).map_err(usage)?)
        }
    };
    let ready_markers = if t.ready.is_empty() {
        esp_ws_runner::ready_markers(firmware)
    } else {
        let mut v = Vec::new();
        for r in &t.ready {
            match regex::Regex::new(r) {
                Ok(re) => v.push(re),
                Err(e) => return Err(usage(format!("--ready {r:?}: {e}"))),
            }
        }
        v
    };
    let artifacts = Artifacts::create(&t.artifacts)
        .map_err(|e| usage(format!("cannot create {}: {e}", t.artifacts.display())))?;
    let jobs = t
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let impair = match t.impair.as_deref().map(esp_ws_impair::Impairment::parse) {
        None => None,
        Some(Ok(i)) => Some(i),
        Some(Err(e)) => return Err(usage(format!("--impair {e}"))),
    };
    let force_pass = snapshot::force_pass_from_env().map_err(usage)?;
    // Wi-Fi is slower and less even than loopback.
    let network = target.link() == Link::Network;
    let stated_level = match t.target {
        // The simulator's level is its build setting, which it knows.
        TargetKind::Sim => None,
        _ => t.log_level,
    };
    let opts = RunOptions {
        target,
        firmware,
        jobs,
        exec: esp_ws_runner::ExecOptions {
            timeout_scale: t.timeout_scale.unwrap_or(if network { 3.0 } else { 1.0 }),
            connect_attempts: if network { 5 } else { 1 },
            host_header: t.host_header.clone(),
            settle_max: Duration::from_secs(10),
            // The command that shows progress sets it.
            progress: Default::default(),
        },
        update,
        force_pass,
        artifacts: artifacts.clone(),
        ready_markers,
        boot_timeout: t.boot_timeout,
        impair,
        log_level: stated_level,
        listen,
    };
    Ok(Prepared { opts, artifacts })
}

async fn run(args: RunArgs) -> ExitCode {
    let Some(mut scenarios) = load_scenarios(&args.paths, "; nothing was run") else {
        return ExitCode::from(EXIT_USAGE);
    };
    let names = match esp_ws_runner::select::NameFilter::new(&args.filter, &args.skip) {
        Ok(f) => f,
        Err(e) => return usage(format!("--filter/--skip {e}")),
    };
    let found = scenarios.len();
    scenarios = names.apply(scenarios);
    if scenarios.is_empty() {
        return usage(format!(
            "none of the {} scenarios found matches --filter {:?} and --skip {:?}",
            found, args.filter, args.skip
        ));
    }
    if args.rerun_failed {
        match esp_ws_runner::select::last_failed(&args.t.artifacts, None) {
            Ok(last) => {
                scenarios.retain(|s| last.failed.contains(&s.scenario.name));
                if scenarios.is_empty() {
                    println!(
                        "the last run ({}) failed no scenario{}: nothing to run",
                        esp_ws_runner::display_path(&last.dir),
                        if args.filter.is_empty() && args.skip.is_empty() {
                            ""
                        } else {
                            " that --filter and --skip keep"
                        }
                    );
                    return ExitCode::SUCCESS;
                }
            }
            Err(e) => {
                return usage(format!(
                    "--rerun-failed: {e}; it reads the last run under --artifacts {}",
                    args.t.artifacts.display()
                ));
            }
        }
    }
    if let Some(p) = &args.partition {
        match parse_partition(p) {
            Ok((k, n)) => {
                scenarios = scenarios
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| i % n == k - 1)
                    .map(|(_, s)| s)
                    .collect();
                if scenarios.is_empty() {
                    println!("partition {k}/{n} has no scenarios");
                    return ExitCode::SUCCESS;
                }
            }
            Err(e) => return usage(e),
        }
    }
    if args.list {
        list(&scenarios);
        return ExitCode::SUCCESS;
    }
    let update = if args.accept {
        snapshot::Update::Always
    } else {
        match snapshot::Update::from_env() {
            Ok(u) => u,
            Err(e) => return usage(e),
        }
    };
    let Prepared {
        mut opts,
        artifacts,
    } = match prepare(&args.t, update) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let view = Arc::new(crate::ui::ProgressView::new());
    opts.exec.progress = view.progress();
    let groups = if args.t.target == TargetKind::Sim && args.t.firmware.is_none() {
        let mut groups = Vec::new();
        for (fw, files) in by_family_default(scenarios, opts.firmware) {
            let mut o = opts.clone();
            if fw.name != opts.firmware.name {
                match sim_target_named(&args.t, fw.name) {
                    Ok((target, fw)) => {
                        o.target = target;
                        o.firmware = fw;
                        if args.t.ready.is_empty() {
                            o.ready_markers = esp_ws_runner::ready_markers(fw);
                        }
                    }
                    Err(e) => return usage(e),
                }
            }
            groups.push((o, files));
        }
        groups
    } else {
        vec![(opts.clone(), scenarios)]
    };
    let started = Instant::now();
    let artifacts_dir = artifacts.dir.clone();
    let print_artifacts = || {
        if let Some(d) = &artifacts_dir {
            println!("artifacts: {}", esp_ws_runner::display_path(d));
        }
    };
    let shown = view.clone();
    let run = async move {
        let mut results = Vec::new();
        for (opts, files) in groups {
            if let Some((max, why)) = opts.target.max_instances()
                && opts.jobs > max
                && files.len() > 1
            {
                println!(
                    "{:>12} {max} instance{}: {why}",
                    "Note",
                    if max == 1 { "" } else { "s" }
                );
            }
            let n = opts.instances().min(files.len());
            println!(
                "{:>12} {} against the {}, {} instance{}",
                "Starting",
                count(files.len(), "scenario"),
                opts.target.describe(),
                n,
                if n == 1 { "" } else { "s" }
            );
            let shown = shown.clone();
            let done = esp_ws_runner::run_all(files, &opts, move |r| {
                use crate::ui::{paint_details, paint_status};
                shown.println(&paint_status(&report::status_line(r)));
                if r.status == esp_ws_runner::Status::Failed {
                    shown.print(&paint_details(&report::failure_details(r, REVIEW)));
                } else if r.forced_pass {
                    // INSTA_FORCE_PASS passes a mismatch; it does not hide it.
                    shown.print(&paint_details(&report::snapshot_details(r, REVIEW)));
                }
            })
            .await?;
            results.extend(done);
        }
        Ok::<_, esp_ws_runner::RunError>(results)
    };
    let results = tokio::select! {
        r = run => r,
        (what, code) = shutdown_signal() => {
            eprintln!("esp-ws: {what}: stopping the targets (again to kill them at once)");
            tokio::select! {
                _ = esp_ws_dut::process::stop_all(StopTimeouts::default()) => {}
                _ = shutdown_signal() => esp_ws_dut::process::kill_all_now(),
            }
            print_artifacts();
            return ExitCode::from(code);
        }
    };
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            anstream::eprintln!("{} {}", crate::ui::error_prefix(), render_run_error(&e));
            print_artifacts();
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let elapsed = started.elapsed();
    drop(view);
    print!("{}", report::summary(&results, elapsed));
    let profile = opts.firmware.name;
    if let Some(d) = &artifacts.dir {
        // What --rerun-failed reads.
        let path = d.join(esp_ws_runner::select::RESULTS);
        if let Err(e) = write_report(&path, &report::json(&results, profile)) {
            tracing::warn!("cannot write {}: {e}", path.display());
        }
    }
    print_artifacts();
    let files = [
        (
            &args.junit,
            "JUnit XML",
            args.junit
                .as_ref()
                .map(|_| report::junit(&results, profile, elapsed, REVIEW)),
        ),
        (
            &args.report_json,
            "JSON report",
            args.report_json
                .as_ref()
                .map(|_| report::json(&results, profile)),
        ),
    ];
    for (path, what, text) in files {
        if let (Some(path), Some(text)) = (path, text) {
            if let Err(e) = write_report(path, &text) {
                return usage(format!(
                    "cannot write the {what} to {}: {e}",
                    path.display()
                ));
            }
            println!("{what}: {}", esp_ws_runner::display_path(path));
        }
    }
    if report::totals(&results).failed > 0
        || results.iter().any(
            |r| matches!(&r.status, esp_ws_runner::Status::Skipped(w) if w.starts_with("not run")),
        )
    {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Writes a report file, creating its folder.
pub fn write_report(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::{by_family_default, with_default_port};

    #[test]
    fn without_a_firmware_each_familys_scenarios_run_on_its_default() {
        let file = |path: &str, role: &str| {
            let text = format!(r#"{{"version": 1{role}, "steps": [{{"sleep": {{"ms": 1}}}}]}}"#);
            esp_ws_runner::ScenarioFile {
                path: path.into(),
                scenario: esp_ws_scenario::parse_str(&text, path).unwrap(),
            }
        };
        let server = r#", "role": "server""#;
        let groups = by_family_default(
            vec![
                file("scenarios/nodemcu-websocket-client/a.json", server),
                file("scenarios/esp-http-server/b.json", ""),
                file("scenarios/esp-websocket-client/c.json", server),
                file("elsewhere/d.json", server),
                file("scenarios/nodemcu-websocket-client/e.json", server),
                file("scenarios/nodemcu-httpd/f.json", ""),
                file("scenarios/lwip-netconn/g.json", ""),
            ],
            esp_ws_catalogue::default_firmware(),
        );
        let names: Vec<(&str, Vec<String>)> = groups
            .iter()
            .map(|(fw, files)| {
                let names = files.iter().map(|f| f.scenario.name.clone()).collect();
                (fw.name, names)
            })
            .collect();
        assert_eq!(
            names,
            [
                // A server-role scenario outside a family's folder stays
                // with the default (which skips it, saying why).
                ("v5.5.5", vec!["b".to_string(), "d".into()]),
                ("nodemcu-pr3514", vec!["f".into()]),
                ("netconn-hx", vec!["g".into()]),
                ("esp-websocket-client-1.8.0", vec!["c".into()]),
                ("nodemcu-websocket-client", vec!["a".into(), "e".into()]),
            ]
        );
    }

    #[test]
    fn a_board_address_without_a_port_gets_the_profiles() {
        assert_eq!(with_default_port("192.168.1.50", 9998), "192.168.1.50:9998");
        assert_eq!(with_default_port("esp32.local", 9998), "esp32.local:9998");
        assert_eq!(
            with_default_port("192.168.1.50:81", 9998),
            "192.168.1.50:81"
        );
        assert_eq!(with_default_port("fe80::1", 9998), "[fe80::1]:9998");
        assert_eq!(with_default_port("[fe80::1]:81", 9998), "[fe80::1]:81");
        assert_eq!(with_default_port("192.168.1.50", 80), "192.168.1.50");
    }
}
