//! Finding and loading scenario files.

use std::path::{Path, PathBuf};

use esp_ws_scenario::ScenarioError;

use crate::ScenarioFile;

/// Every `*.json` under `paths` (directories are searched recursively,
/// skipping `snapshots/`), sorted, without duplicates. A path that does not
/// exist is an error.
pub fn find(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out).map_err(|e| format!("{}: {e}", p.display()))?;
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            if e.file_name() != "snapshots" {
                walk(&p, out)?;
            }
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    Ok(())
}

/// Loads and validates every file; all errors of all files are returned.
/// Two scenarios may not share a name in one directory (their snapshots
/// would collide).
pub fn load(files: &[PathBuf]) -> Result<Vec<ScenarioFile>, Vec<ScenarioError>> {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match esp_ws_scenario::load_file(f) {
            Ok(s) => ok.push(ScenarioFile {
                path: f.clone(),
                scenario: s,
            }),
            Err(e) => errors.extend(e),
        }
    }
    let mut seen: std::collections::HashMap<(PathBuf, String), PathBuf> = Default::default();
    for f in &ok {
        let dir = f.path.parent().unwrap_or(Path::new(".")).to_path_buf();
        if let Some(other) = seen.insert((dir, f.scenario.name.clone()), f.path.clone()) {
            errors.push(ScenarioError {
                file: f.path.display().to_string(),
                line: 1,
                column: 1,
                field: "name".into(),
                message: format!(
                    "scenario name {:?} is already used by {} in the same directory (their snapshots would collide)",
                    f.scenario.name,
                    other.display()
                ),
            });
        }
    }
    if errors.is_empty() {
        Ok(ok)
    } else {
        Err(errors)
    }
}
