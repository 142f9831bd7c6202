//! `cargo xtask snapshots`: rerun every scenario accepting whatever it
//! produces, then say which snapshots changed, which are new, and which
//! belong to no scenario any more.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn collect(dir: &Path, out: &mut BTreeMap<PathBuf, String>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "snap") {
            out.insert(p.clone(), std::fs::read_to_string(&p)?);
        }
    }
    Ok(())
}

/// Snapshots that no scenario run produces: their scenario (same
/// directory, same name) is gone, or their profile (`name@profile`, none for
/// its family's default) is not one the scenario applies to.
fn orphans(snaps: &BTreeMap<PathBuf, String>) -> Vec<(PathBuf, &'static str)> {
    // (snapshot dir, scenario name) -> the scenario
    let mut scenarios: std::collections::HashMap<(PathBuf, String), esp_ws_scenario::Scenario> =
        Default::default();
    for f in esp_ws_files(Path::new("scenarios")) {
        // An invalid scenario is reported by the run itself.
        if let Ok(s) = esp_ws_scenario::load_file(&f) {
            scenarios.insert((f.parent().unwrap().join("snapshots"), s.name.clone()), s);
        }
    }
    snaps
        .keys()
        .filter_map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy();
            let (name, suffix) = match stem.split_once('@') {
                Some((n, pr)) => (n.to_string(), Some(pr.to_string())),
                None => (stem.to_string(), None),
            };
            let why = match scenarios.get(&(p.parent().unwrap().to_path_buf(), name)) {
                None => "no scenario of that name; delete it if the scenario is gone",
                Some(s) => {
                    // The profile the snapshot belongs to: the named one, or
                    // the default of the scenario's family.
                    let profile = match &suffix {
                        Some(pr) => esp_ws_catalogue::find(pr),
                        None => {
                            let family = s.family.as_deref().and_then(esp_ws_catalogue::family);
                            let default =
                                family.map_or(esp_ws_catalogue::DEFAULT, |f| f.default_firmware);
                            esp_ws_catalogue::find(default)
                        }
                    };
                    match profile {
                        None => "no firmware profile of that name",
                        Some(fw) if fw.snapshot_suffix() != suffix.as_deref() => {
                            "the default profile's snapshot carries no @profile suffix"
                        }
                        Some(fw) if !s.applies_to(fw) => {
                            "the scenario does not apply to this profile"
                        }
                        Some(_) => return None,
                    }
                }
            };
            Some((p.clone(), why))
        })
        .collect()
}

fn esp_ws_files(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() && p.file_name().is_some_and(|n| n != "snapshots") {
                v.extend(esp_ws_files(&p));
            } else if p.extension().is_some_and(|x| x == "json") {
                v.push(p);
            }
        }
    }
    v
}

pub fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let mut before = BTreeMap::new();
    collect(Path::new("scenarios"), &mut before)?;
    // Every firmware profile has its own snapshots, unless the caller
    // chose a profile or another target.
    let chosen = args.iter().any(|a| {
        a == "--firmware"
            || a.starts_with("--firmware=")
            || a == "--target"
            || a.starts_with("--target=")
    });
    let mut code = ExitCode::SUCCESS;
    if chosen {
        code = crate::esp_ws(&["run", "scenarios", "--accept"], args)?;
    } else {
        for p in esp_ws_catalogue::firmwares() {
            println!("== firmware profile {}", p.name);
            let c = crate::esp_ws(
                &["run", "scenarios", "--accept", "--firmware", p.name],
                args,
            )?;
            if c != ExitCode::SUCCESS {
                code = c;
            }
        }
    }
    let mut after = BTreeMap::new();
    collect(Path::new("scenarios"), &mut after)?;
    let (mut changed, mut new, mut same) = (Vec::new(), Vec::new(), 0);
    for (p, text) in &after {
        match before.get(p) {
            None => new.push(p),
            Some(old) if old != text => changed.push(p),
            Some(_) => same += 1,
        }
    }
    println!();
    for p in &changed {
        println!("changed: {}", p.display());
    }
    for p in &new {
        println!("new:     {}", p.display());
    }
    for (p, why) in orphans(&after) {
        println!("orphan:  {} ({why})", p.display());
    }
    println!(
        "{} changed, {} new, {} unchanged (review with git diff scenarios/)",
        changed.len(),
        new.len(),
        same
    );
    Ok(code)
}
