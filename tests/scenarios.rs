//! Every scenario under `scenarios/` on every firmware profile it applies to,
//! as one test each (`name` on the default profile, `name@profile` on the
//! others), its serial log asserted with insta against
//! `scenarios/snapshots/name[@profile].snap`. A scenario that lists a known
//! bug for a profile must fail there (and its snapshot shows how). A
//! server-role scenario (the firmware dials esp-ws) runs on an instance of
//! its own, started with the address esp-ws listens at.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Duration;

use esp_ws_catalogue::Firmware;
use esp_ws_runner::{exec, snapshot};
use libtest_mimic::{Arguments, Failed, Trial};

mod common;

fn run(
    path: &Path,
    scenario: esp_ws_scenario::Scenario,
    firmware: &'static Firmware,
) -> Result<(), Failed> {
    let opts = common::sim_run_options(firmware.name, None);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let file = esp_ws_runner::ScenarioFile {
        path: path.to_path_buf(),
        scenario: scenario.clone(),
    };
    let run = rt
        .block_on(async {
            if scenario.role == esp_ws_scenario::Role::Server {
                let d = esp_ws_runner::start_dialing(&opts, "sim".into()).await?;
                let run =
                    exec::run_served(&scenario, &d.inst, &opts.exec, d.listener, d.started).await;
                d.inst.stop().await;
                return Ok(run);
            }
            let inst = esp_ws_runner::start_instance(&opts, "sim".into()).await?;
            let mut run = exec::run_scenario(&scenario, &inst, &opts.exec).await;
            if inst.crash(run.log_start).is_some() {
                esp_ws_runner::recover_into(&mut run, &inst, &opts).await?;
            }
            inst.stop().await;
            Ok::<_, esp_ws_runner::RunError>(run)
        })
        .map_err(|e| e.to_string())?;
    let bug = scenario.known_bug(firmware.name);
    match (&run.failure, bug) {
        (Some(_), None) => {
            let result = esp_ws_runner::ScenarioResult {
                file,
                instance: "sim".into(),
                status: esp_ws_runner::Status::Failed,
                run: Some(run),
                snapshot: None,
                snapshot_path: PathBuf::new(),
                snapshot_text: None,
                snapshot_scope: Default::default(),
                elapsed: Duration::ZERO,
                notes: Vec::new(),
                forced_pass: false,
                artifacts: None,
            };
            return Err(
                esp_ws_runner::report::failure_details(&result, "cargo insta review").into(),
            );
        }
        (None, Some(b)) => {
            return Err(format!(
                "{} passed on {}, but it lists a known bug there ({}): is it fixed?",
                scenario.name, firmware.name, b.issue
            )
            .into());
        }
        _ => {}
    }
    let snapshot = snapshot::contents(&scenario, &run).map_err(|e| e.to_string())?;
    let snapshot_dir = path.parent().unwrap_or(Path::new(".")).join("snapshots");
    let name = scenario.name.clone();
    let input = path.to_path_buf();
    let suffix = firmware.snapshot_suffix();
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(snapshot_dir);
        settings.set_prepend_module_to_snapshot(false);
        settings.set_input_file(&input);
        if let Some(s) = suffix {
            settings.set_snapshot_suffix(s);
        }
        // `assert_snapshot!` would name this file as the snapshot's source;
        // the scenario file is, as `esp-ws run` writes it (the macro's own
        // call, with the scenario as the assertion's file).
        let source = input
            .strip_prefix(common::root())
            .unwrap_or(&input)
            .to_string_lossy()
            .replace('\\', "/");
        settings.bind(|| {
            insta::_macro_support::assert_snapshot(
                (name.as_str(), snapshot.as_str()).into(),
                common::root().as_path(),
                "run",
                module_path!(),
                &source,
                0,
                esp_ws_runner::snapshot::EXPRESSION,
            )
            .unwrap();
        });
    }))
    .map_err(|_| {
        Failed::from(format!(
            "the log snapshot of {name}{} does not match (see the diff above)",
            suffix.map(|s| format!("@{s}")).unwrap_or_default()
        ))
    })
}

fn main() {
    let args = Arguments::from_args();
    let dir = common::root().join("scenarios");
    let files = esp_ws_runner::discover::find(std::slice::from_ref(&dir))
        .expect("scenarios/ exists")
        .files;
    let firmwares = esp_ws_catalogue::firmwares();
    let mut trials = Vec::new();
    for f in files {
        let name = f
            .strip_prefix(&dir)
            .unwrap_or(&f)
            .with_extension("")
            .to_string_lossy()
            .replace('\\', "/");
        let scenario = match esp_ws_scenario::load_file(&f) {
            Ok(s) => s,
            Err(errors) => {
                let msg = errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n");
                trials.push(Trial::test(name, move || Err(msg.into())));
                continue;
            }
        };
        for fw in firmwares.iter().filter(|fw| scenario.applies_to(fw)) {
            let trial_name = match fw.snapshot_suffix() {
                None => name.clone(),
                Some(s) => format!("{name}@{s}"),
            };
            let (f, s) = (f.clone(), scenario.clone());
            trials.push(Trial::test(trial_name, move || run(&f, s, fw)));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
