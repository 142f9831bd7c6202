//! Finding and loading scenario files. `esp-ws validate` and `esp-ws run`
//! both go through [`find`] and [`load`], so they agree on what a scenario
//! folder holds.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use esp_ws_scenario::ScenarioError;

use crate::ScenarioFile;

/// What a search found.
#[derive(Debug, Default)]
pub struct Found {
    /// Every scenario file, sorted, without duplicates.
    pub files: Vec<PathBuf>,
    /// `*.json` entries that were left out, and why (a FIFO, a device, a
    /// link to nothing): worth a note, not an error.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Why a search could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("{}: {reason}", path.display())]
    Path { path: PathBuf, reason: String },
    #[error("no scenario files (*.json) in {}", list(.0))]
    Empty(Vec<PathBuf>),
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every `*.json` regular file under `paths` (directories are searched
/// recursively, skipping `snapshots/` and esp-ws's own run folders; a
/// directory reached twice, through a
/// symbolic link, is searched once). A path that cannot be read, or names
/// something that is neither a file nor a directory, is an error; so is a
/// search that finds no scenario at all.
pub fn find(paths: &[PathBuf]) -> Result<Found, FindError> {
    let mut found = Found::default();
    let mut seen_dirs = HashSet::new();
    for p in paths {
        let bad = |reason: String| FindError::Path {
            path: p.clone(),
            reason,
        };
        let meta = std::fs::metadata(p).map_err(|e| bad(io_reason(&e)))?;
        if meta.is_dir() {
            walk(p, &mut found, &mut seen_dirs).map_err(|e| bad(io_reason(&e)))?;
        } else if meta.is_file() {
            found.files.push(p.clone());
        } else {
            return Err(bad(format!(
                "{}, not a scenario file or a folder of them",
                esp_ws_scenario::file_kind(&meta)
            )));
        }
    }
    found.files.sort();
    found.files.dedup();
    if found.files.is_empty() {
        return Err(FindError::Empty(paths.to_vec()));
    }
    Ok(found)
}

/// The reason an I/O error gives, as a user reads it (without the errno
/// number Rust appends).
fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}

fn walk(dir: &Path, found: &mut Found, seen: &mut HashSet<PathBuf>) -> std::io::Result<()> {
    // A symbolic link back up the tree (`self -> .`) leads to a directory
    // already searched: search each directory once.
    if !seen.insert(dir.canonicalize()?) {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let is_json = p.extension().is_some_and(|x| x == "json");
        // Follows symbolic links: a link to a scenario is a scenario.
        let meta = match std::fs::metadata(&p) {
            Ok(m) => m,
            Err(err) => {
                if is_json {
                    found.skipped.push((p, io_reason(&err)));
                }
                continue;
            }
        };
        if meta.is_dir() {
            // An artifacts folder inside the scenarios' tree holds a run's
            // own JSON (results.json, conformance reports), not scenarios.
            let run_folder = e.file_name().to_string_lossy().starts_with("run-")
                && p.join(crate::artifacts::STARTED).is_file();
            if e.file_name() != "snapshots" && !run_folder {
                walk(&p, found, seen)?;
            }
        } else if is_json {
            if meta.is_file() {
                found.files.push(p);
            } else {
                found.skipped.push((
                    p,
                    format!("{}, not a regular file", esp_ws_scenario::file_kind(&meta)),
                ));
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `esp-ws run . --artifacts art` leaves art/run-*/results.json: the
    /// next run of `.` must not read it as a scenario.
    #[test]
    fn run_folders_inside_the_tree_are_not_searched() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.json"), "{}").unwrap();
        let run = d.path().join("art/run-20261206-000000-1");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join(crate::select::RESULTS), "{}").unwrap();
        // Not a run folder yet: no record of its start.
        let found = find(&[d.path().to_path_buf()]).unwrap();
        assert_eq!(found.files.len(), 2);
        std::fs::write(run.join(crate::artifacts::STARTED), "1\n").unwrap();
        let found = find(&[d.path().to_path_buf()]).unwrap();
        assert_eq!(found.files, [d.path().join("a.json")]);
    }
}
