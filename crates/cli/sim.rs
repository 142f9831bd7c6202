//! `esp-ws sim`: the simulated firmware as a process, serving WebSocket on a
//! TCP port and printing its serial console on stdout, like a board on a
//! USB serial port.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use esp_ws_dut::{SimHost, SimOptions};

use crate::EXIT_USAGE;

#[derive(Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Host port to listen on; 0 picks a free one and announces it on stderr.
    /// (The serial log always shows the firmware's own port, 80.)
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Firmware profile to simulate.
    #[arg(long, default_value = esp_ws_catalogue::DEFAULT)]
    pub firmware: String,
    /// CONFIG_LOG_DEFAULT_LEVEL: error, warn, info, debug or verbose.
    #[arg(long, default_value = "info")]
    pub log_level: esp_ws_log::Level,
    /// CONFIG_LOG_COLORS=y: colour the log lines as ESP-IDF does (the
    /// default of v4.x releases).
    #[arg(long, conflicts_with = "no_log_colors")]
    pub log_colors: bool,
    /// CONFIG_LOG_COLORS=n (the default of v5.x releases).
    #[arg(long)]
    pub no_log_colors: bool,
    /// A Lua script for a firmware that runs one (NodeMCU: it is installed
    /// as init.lua, in place of the module documentation's example).
    #[arg(long, value_name = "FILE")]
    pub script: Option<std::path::PathBuf>,
    /// For a firmware that dials out (esp-websocket-client-1.8.0,
    /// nodemcu-websocket-client): the WebSocket server it connects to,
    /// ws://HOST:PORT/PATH (esp_websocket_client's CONFIG_WEBSOCKET_URI;
    /// for NodeMCU, what `{uri}` in the script becomes). Required for such
    /// a firmware, unless its --script names the server itself.
    #[arg(long, value_name = "URI")]
    pub uri: Option<String>,
    /// For a client example: destroy the client no earlier than SECONDS
    /// after boot (default: as shipped, right after its last send).
    #[arg(long, value_name = "SECONDS")]
    pub destroy_after: Option<f64>,
    /// List the firmware profiles and exit.
    #[arg(long)]
    pub list_firmware: bool,
    /// Fault injection for testing crash handling: the firmware panics
    /// (LoadProhibited) when it receives a TEXT frame with this payload and
    /// prints ESP-IDF's panic lines; then the chip reboots (or, with
    /// --no-reboot, esp-ws sim exits).
    #[arg(long, value_name = "TEXT")]
    pub panic_on_message: Option<String>,
    /// After a firmware panic, exit instead of rebooting the simulated chip,
    /// as QEMU does with -no-reboot.
    #[arg(long)]
    pub no_reboot: bool,
    /// How the example reaches the network: `ethernet` (the OpenCores MAC,
    /// as built for QEMU) or `wifi` (a board; v5.x profiles).
    #[arg(long, value_enum, default_value = "ethernet")]
    pub network: NetworkKind,
    /// CONFIG_EXAMPLE_WIFI_SSID_PWD_FROM_STDIN: the firmware asks for
    /// "ssid password" on its console (read from stdin) before it connects.
    /// Implies --network wifi.
    #[arg(long)]
    pub wifi_credentials_from_stdin: bool,
    /// The IPv4 address the firmware reports getting (default: QEMU's
    /// 10.0.2.15; the gateway is .1 of its /24, or 10.0.2.2 for QEMU's).
    #[arg(long, value_name = "ADDR")]
    pub ip: Option<std::net::Ipv4Addr>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum NetworkKind {
    Ethernet,
    Wifi,
}

pub fn main(args: SimArgs) -> ExitCode {
    if args.list_firmware {
        for f in esp_ws_catalogue::firmwares() {
            println!("{}\t{}\t{}", f.name, f.release, f.summary);
        }
        return ExitCode::SUCCESS;
    }
    let Some(profile) = esp_ws_sim::profile::find(&args.firmware) else {
        eprintln!(
            "error: --firmware {}: {} (`esp-ws sim --list-firmware` lists them)",
            args.firmware,
            esp_ws_catalogue::unknown_message(&args.firmware)
        );
        return ExitCode::from(EXIT_USAGE);
    };
    let script = match &args.script {
        None => None,
        Some(path) => {
            if !profile.firmware.runs_scripts {
                eprintln!(
                    "error: --script {}: the {} profile runs no script (NodeMCU profiles do)",
                    path.display(),
                    profile.name
                );
                return ExitCode::from(EXIT_USAGE);
            }
            match std::fs::read(path) {
                Ok(s) => Some(s),
                Err(e) => {
                    anstream::eprintln!(
                        "{} --script {}: cannot read it: {e}",
                        crate::ui::error_prefix(),
                        path.display()
                    );
                    return ExitCode::from(EXIT_USAGE);
                }
            }
        }
    };
    let dials_out = profile.firmware.dials_out;
    // A script of one's own may name its server itself (NodeMCU's
    // `ws:connect(URL)`); a `{uri}` in it then becomes the documentation
    // example's own URL.
    if dials_out && args.uri.is_none() && args.script.is_none() {
        eprintln!(
            "error: --firmware {}: this firmware dials out to a WebSocket server; give it one with --uri ws://HOST:PORT/PATH",
            profile.name
        );
        return ExitCode::from(EXIT_USAGE);
    }
    if !dials_out {
        for (flag, given) in [
            ("--uri", args.uri.is_some()),
            ("--destroy-after", args.destroy_after.is_some()),
        ] {
            if given {
                eprintln!(
                    "error: {flag}: the {} profile serves WebSocket and dials nowhere ({flag} is for a firmware that dials out, such as esp-websocket-client-1.8.0)",
                    profile.name
                );
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }
    if let Some(uri) = &args.uri
        && !uri.starts_with("ws://")
    {
        eprintln!(
            "error: --uri {uri}: expected ws://HOST:PORT/PATH (the model speaks plain ws://)"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let destroy_after = match args.destroy_after {
        None => None,
        Some(s) if s.is_finite() && s >= 0.0 => Some(std::time::Duration::from_secs_f64(s)),
        Some(s) => {
            eprintln!("error: --destroy-after {s}: expected a number of seconds, 0 or more");
            return ExitCode::from(EXIT_USAGE);
        }
    };
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
    let network = if args.wifi_credentials_from_stdin || args.network == NetworkKind::Wifi {
        if !profile.idf.startup.prints_app_main_return() {
            eprintln!(
                "error: --network wifi: the {} profile models the Ethernet build only (v5.x profiles have the Wi-Fi start-up)",
                profile.name
            );
            return ExitCode::from(EXIT_USAGE);
        }
        esp_ws_sim::Network::Wifi {
            credentials_from_stdin: args.wifi_credentials_from_stdin,
        }
    } else {
        esp_ws_sim::Network::Ethernet
    };
    rt.block_on(async move {
        let mut net = esp_ws_sim::NetIdentity::default();
        if let Some(ip) = args.ip {
            let o = ip.octets();
            net.ip = o;
            net.gw = [o[0], o[1], o[2], 1];
        }
        let opts = SimOptions {
            profile: profile.clone(),
            network,
            net,
            log_level: args.log_level,
            log_colors: if args.log_colors {
                true
            } else if args.no_log_colors {
                false
            } else {
                profile.idf.log_colors_default
            },
            bind: SocketAddr::new(args.host, args.port),
            fault: args
                .panic_on_message
                .map(|m| esp_ws_sim::Fault::PanicOnMessage(m.into_bytes())),
            reboot_on_panic: !args.no_reboot,
            script,
            uri: args.uri.clone(),
            destroy_after,
            random_seed: None,
        };
        // The serial console: stdout, written line by line as the UART would.
        let sink = Arc::new(|b: &[u8]| {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(b);
            let _ = out.flush();
        });
        let host = match SimHost::start(opts, sink).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!(
                    "error: cannot listen on {}: {e}",
                    SocketAddr::new(args.host, args.port)
                );
                return ExitCode::from(EXIT_USAGE);
            }
        };
        match &args.uri {
            Some(uri) if dials_out => eprintln!("esp-ws sim: the firmware dials {uri}"),
            _ => eprintln!("esp-ws sim: listening on {}", host.local_addr()),
        }
        // The console's receive side: stdin, as a USB-UART bridge's TX.
        let (rx_tx, mut rx_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        std::thread::Builder::new()
            .name("uart-rx".into())
            .spawn(move || {
                use std::io::Read;
                let mut stdin = std::io::stdin().lock();
                let mut buf = [0u8; 256];
                while let Ok(n) = stdin.read(&mut buf) {
                    if n == 0 || rx_tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            })
            .expect("spawn the uart-rx thread");
        let uart = async {
            while let Some(b) = rx_rx.recv().await {
                host.uart_write(&b);
            }
            std::future::pending::<()>().await
        };
        tokio::select! {
            _ = uart => {}
            _ = wait_for_signal() => {}
            _ = async {
                while !host.halted() {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            } => {
                eprintln!("esp-ws sim: the firmware panicked; exiting");
            }
        }
        host.stop().await;
        ExitCode::SUCCESS
    })
}

/// Ctrl-C, SIGTERM or SIGHUP.
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = hup.recv() => {}
    }
}
