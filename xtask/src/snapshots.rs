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

/// Snapshots whose scenario (same directory, same name) no longer exists.
fn orphans(snaps: &BTreeMap<PathBuf, String>) -> Vec<PathBuf> {
    let mut names: std::collections::HashSet<(PathBuf, String)> = Default::default();
    let files = esp_ws_files(Path::new("scenarios"));
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let name = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_string))
            .unwrap_or_else(|| f.file_stem().unwrap().to_string_lossy().into_owned());
        names.insert((f.parent().unwrap().join("snapshots"), name));
    }
    snaps
        .keys()
        .filter(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy();
            let name = stem.split('@').next().unwrap_or(&stem).to_string();
            !names.contains(&(p.parent().unwrap().to_path_buf(), name))
        })
        .cloned()
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
    let code = crate::esp_ws(&["run", "scenarios", "--accept"], args)?;
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
    for p in orphans(&after) {
        println!(
            "orphan:  {} (no scenario of that name; delete it if the scenario is gone)",
            p.display()
        );
    }
    println!(
        "{} changed, {} new, {} unchanged (review with git diff scenarios/)",
        changed.len(),
        new.len(),
        same
    );
    Ok(code)
}
