//! The whole conformance suite against the simulator, in cases per second
//! (`cargo bench -p esp-ws-conform`). Speed is measured here, never
//! asserted by a timed test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use esp_ws_dut::{Level, SimOptions, SimTarget};
use esp_ws_runner::{ExecOptions, RunOptions, artifacts::Artifacts, snapshot::Update};

fn options(profile: &str, jobs: usize) -> RunOptions {
    let fw = esp_ws_catalogue::find(profile).expect("a catalogue profile");
    let model = esp_ws_sim::profile::find(fw.name).expect("a simulated profile");
    RunOptions {
        target: Arc::new(SimTarget {
            opts: SimOptions {
                log_level: Level::Info,
                ..SimOptions::new(model)
            },
        }),
        firmware: fw,
        jobs,
        exec: ExecOptions {
            settle_max: Duration::from_secs(10),
            ..ExecOptions::default()
        },
        update: Update::No,
        force_pass: false,
        artifacts: Artifacts::none(),
        ready_markers: esp_ws_runner::ready_markers(fw),
        boot_timeout: Duration::from_secs(30),
        impair: None,
        log_level: None,
        listen: None,
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let drive = esp_ws_conform::DriveOptions {
        path: "/ws".into(),
        host_header: None,
        quiet: Duration::from_millis(20),
        timeout: Duration::from_secs(2),
        exact_sync: true,
    };
    for (profile, jobs) in [("v5.5.5", 1), ("v5.5.5", 2), ("master", 2)] {
        let cases = esp_ws_conform::table::all();
        let n = cases.len();
        let opts = options(profile, jobs);
        let started = Instant::now();
        let results = rt
            .block_on(esp_ws_conform::run_all(cases, &drive, &opts, |_| {}))
            .expect("the simulator starts");
        let took = started.elapsed();
        assert_eq!(results.len(), n);
        println!(
            "conform {profile:<8} jobs={jobs}: {n} cases in {:.2} s, {:.0} cases/s",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64()
        );
    }
}
