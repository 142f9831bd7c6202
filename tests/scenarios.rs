//! One test per scenario file under scenarios/, run against the simulator
//! and asserted with insta (so `cargo insta review` and `cargo insta accept`
//! handle the log snapshots). libtest-mimic gives the usual test runner:
//! filters, `--list`, nextest.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Duration;

use esp_ws_runner::{RunOptions, TargetSpec, artifacts::Artifacts, exec, snapshot};
use esp_ws_target::SimOptions;
use libtest_mimic::{Arguments, Failed, Trial};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn options() -> RunOptions {
    let profile = esp_ws_sim::profile::find(esp_ws_sim::profile::DEFAULT).expect("default profile");
    RunOptions {
        target: TargetSpec::Sim(SimOptions {
            profile,
            log_level: esp_ws_log::Level::Debug,
            log_colors: false,
            bind: "127.0.0.1:0".parse().unwrap(),
            fault: None,
            reboot_on_panic: true,
        }),
        jobs: 1,
        exec: Default::default(),
        update: snapshot::Update::No,
        force_pass: false,
        artifacts: Artifacts::none(),
        ready_markers: esp_ws_runner::default_ready_markers(),
        boot_timeout: Duration::from_secs(30),
    }
}

fn run(path: &Path) -> Result<(), Failed> {
    let scenario = esp_ws_scenario::load_file(path).map_err(|errors| {
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let opts = options();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let file = esp_ws_runner::ScenarioFile {
        path: path.to_path_buf(),
        scenario: scenario.clone(),
    };
    let run = rt.block_on(async {
        let inst = esp_ws_runner::start_instance(&opts, "sim".into()).await?;
        let run = exec::run_scenario(&scenario, &inst, &opts.exec).await;
        inst.stop().await;
        Ok::<_, String>(run)
    })?;
    if run.failure.is_some() {
        let result = esp_ws_runner::ScenarioResult {
            file,
            instance: "sim".into(),
            status: esp_ws_runner::Status::Failed,
            run: Some(run),
            snapshot: None,
            snapshot_path: PathBuf::new(),
            snapshot_text: None,
            elapsed: Duration::ZERO,
            notes: Vec::new(),
            artifacts: None,
        };
        return Err(esp_ws_runner::report::failure_details(&result).into());
    }
    let snapshot = snapshot::contents(&scenario, &run)?;
    let snapshot_dir = path.parent().unwrap_or(Path::new(".")).join("snapshots");
    let name = scenario.name.clone();
    let input = path.to_path_buf();
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(snapshot_dir);
        settings.set_prepend_module_to_snapshot(false);
        settings.set_input_file(input);
        settings.bind(|| {
            insta::assert_snapshot!(name.as_str(), snapshot);
        });
    }))
    .map_err(|_| {
        Failed::from(format!(
            "the log snapshot of {name} does not match (see the diff above)"
        ))
    })
}

fn main() {
    let args = Arguments::from_args();
    let dir = root().join("scenarios");
    let files =
        esp_ws_runner::discover::find(std::slice::from_ref(&dir)).expect("scenarios/ exists");
    let trials = files
        .into_iter()
        .map(|f| {
            let name = f
                .strip_prefix(&dir)
                .unwrap_or(&f)
                .with_extension("")
                .to_string_lossy()
                .replace('\\', "/");
            Trial::test(name, move || run(&f))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
