//! `esp-ws serve`: esp-ws as the WebSocket server a firmware dials. With
//! scenario paths it runs them as `esp-ws run` does (server-role ones);
//! without, it is a plain echo server that prints each connection's wire
//! transcript live, until Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::run::{RunArgs, TargetArgs, parse_listen, shutdown_signal, usage};

/// The echo server's port when neither --listen nor --profile says.
const DEFAULT_PORT: u16 = 8080;

#[derive(Args)]
pub struct ServeArgs {
    /// Server-role scenario files or directories to run, as `esp-ws run`
    /// runs them; none: serve as a plain WebSocket echo server and print
    /// each connection's transcript until Ctrl-C (the firmware runs
    /// elsewhere, e.g. on a board at the desk: only --listen and --profile
    /// count then).
    pub paths: Vec<PathBuf>,
    /// Write new and changed snapshots as accepted (with scenario paths).
    #[arg(long)]
    pub accept: bool,
    #[command(flatten)]
    pub t: TargetArgs,
}

pub fn main(args: ServeArgs, verbose: u8) -> ExitCode {
    if !args.paths.is_empty() {
        let run = RunArgs {
            paths: args.paths,
            filter: Vec::new(),
            skip: Vec::new(),
            list: false,
            rerun_failed: false,
            partition: None,
            accept: args.accept,
            junit: None,
            report_json: None,
            t: args.t,
        };
        return crate::run::main(run, verbose);
    }
    let port = match &args.t.profile {
        None => DEFAULT_PORT,
        Some(p) => match esp_ws_catalogue::find(p) {
            Some(f) => f.port,
            None => {
                return usage(format!(
                    "--profile {p}: {}",
                    esp_ws_catalogue::unknown_message(p)
                ));
            }
        },
    };
    let addr = match &args.t.listen {
        Some(s) => match parse_listen(s, port) {
            Ok(a) => a,
            Err(e) => return usage(e),
        },
        None => std::net::SocketAddr::from(([127, 0, 0, 1], port)),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return usage(format!("cannot start the async runtime: {e}")),
    };
    rt.block_on(echo(addr))
}

async fn echo(addr: std::net::SocketAddr) -> ExitCode {
    let listener = match esp_ws_runner::listen::Listener::bind(addr).await {
        Ok(l) => l,
        Err(e) => return usage(format!("cannot listen on {addr}: {e}")),
    };
    println!(
        "{:>12} an echo server on ws://{}/ (Ctrl-C stops it)",
        "Listening",
        listener.local_addr()
    );
    let serve = esp_ws_runner::echo::serve(listener, |l| {
        println!(
            "[{:>9.3}] {} {} {}",
            l.at.as_secs_f64(),
            l.conn,
            l.dir,
            l.text
        );
    });
    tokio::select! {
        _ = serve => ExitCode::SUCCESS,
        (what, code) = shutdown_signal() => {
            // Dropping the server closes every connection and its tasks.
            eprintln!("esp-ws: {what}: stopping");
            ExitCode::from(code)
        }
    }
}
