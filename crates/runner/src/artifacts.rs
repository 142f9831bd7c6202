//! The run's artifacts folder: the full serial log of each instance, and per
//! scenario its log slice, wire transcript and snapshot text. Kept whether
//! the run passes or fails; the path is printed at the end of every run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::ScenarioFile;
use crate::exec::ScenarioRun;

#[derive(Clone, Debug)]
pub struct Artifacts {
    /// `None`: keep nothing (tests that only need the verdict).
    pub dir: Option<PathBuf>,
}

/// How many run folders to keep under the artifacts root.
pub const KEEP_RUNS: usize = 20;

/// The file in a run folder that records when the run started
/// (nanoseconds since the Unix epoch).
pub const STARTED: &str = "started";

/// When a run folder's run started: its record, or for a folder without one
/// (written by hand, or by an older esp-ws) its modification time.
pub(crate) fn started(dir: &Path) -> u128 {
    std::fs::read_to_string(dir.join(STARTED))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .or_else(|| {
            let m = std::fs::metadata(dir).ok()?.modified().ok()?;
            Some(m.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos())
        })
        .unwrap_or(0)
}

/// Deletes the oldest run folders under `root` beyond [`KEEP_RUNS`], never
/// `current`.
fn prune(root: &Path, current: &Path) -> std::io::Result<()> {
    let mut runs: Vec<(u128, PathBuf)> = std::fs::read_dir(root)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && p != current
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("run-"))
        })
        .map(|p| (started(&p), p))
        .collect();
    // Newest first; the current run is one of the kept.
    runs.sort_by(|a, b| b.cmp(a));
    for (_, old) in runs.into_iter().skip(KEEP_RUNS - 1) {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(())
}

impl Artifacts {
    pub fn none() -> Self {
        Artifacts { dir: None }
    }

    /// A fresh `run-<time>-<pid>` folder under `root`, pruning the oldest
    /// runs beyond [`KEEP_RUNS`]. Each run records when it started (in
    /// [`STARTED`]), and runs are pruned by that, not by their names: a
    /// folder someone named `run-zzz` neither outlives its turn nor makes a
    /// new run delete itself.
    pub fn create(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        let now = std::time::SystemTime::now();
        let stamp = humantime::format_rfc3339_seconds(now)
            .to_string()
            .replace([':', '-'], "")
            .replace('T', "-")
            .trim_end_matches('Z')
            .to_string();
        let dir = root.join(format!("run-{stamp}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let nanos = now
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        std::fs::write(dir.join(STARTED), format!("{nanos}\n"))?;
        prune(root, &dir)?;
        Ok(Artifacts { dir: Some(dir) })
    }

    /// An instance's folder (its serial log, QEMU's image copy and
    /// command line, a program's stderr).
    pub fn instance_dir(&self, label: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(label.replace('#', "-")))
    }

    /// Writes a scenario's artifacts; returns their folder.
    pub fn write_scenario(
        &self,
        file: &ScenarioFile,
        run: &ScenarioRun,
        snapshot: Option<&str>,
    ) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?.join(&file.scenario.name);
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            let mut serial = Vec::new();
            for l in &run.log {
                serial.extend_from_slice(&l.raw.bytes);
                serial.push(b'\n');
            }
            std::fs::write(dir.join("serial.log"), serial)?;
            std::fs::write(dir.join("transcript.txt"), transcript(file, run))?;
            if let Some(s) = snapshot {
                std::fs::write(dir.join("snapshot.txt"), s)?;
            }
            Ok(())
        };
        match write() {
            Ok(()) => Some(dir),
            Err(e) => {
                tracing::warn!("cannot write artifacts to {}: {e}", dir.display());
                None
            }
        }
    }
}

/// The wire transcript with times, round trips and the bytes.
pub fn transcript(file: &ScenarioFile, run: &ScenarioRun) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "scenario {} ({})",
        file.scenario.name,
        file.path.display()
    );
    for e in &run.transcript.events {
        let rtt = e
            .rtt
            .map(|r| format!(" rtt={:.1}ms", r.as_secs_f64() * 1000.0))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "[{:>9.3}s] {} {} {}{rtt}",
            e.at.as_secs_f64(),
            e.conn,
            e.dir,
            e.text
        );
        if let Some(b) = &e.bytes {
            for chunk in b.chunks(32).take(64) {
                let hex: Vec<String> = chunk.iter().map(|x| format!("{x:02x}")).collect();
                let _ = writeln!(s, "              {}", hex.join(" "));
            }
            if b.len() > 32 * 64 {
                let _ = writeln!(s, "              … ({} bytes in all)", b.len());
            }
        }
    }
    if let Some(f) = &run.failure {
        let _ = writeln!(
            s,
            "FAILED at steps[{}] ({}, line {}): {}",
            f.index, f.kind, f.line, f.message
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn old_run(root: &Path, name: &str, started_ns: u128) -> PathBuf {
        let d = root.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(STARTED), format!("{started_ns}\n")).unwrap();
        d
    }

    /// Folders whose names sort after a new run's are pruned by when they
    /// started, and the new run never deletes itself.
    #[test]
    fn runs_are_pruned_by_their_start_time_not_their_names() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        // Older than anything else, but named to sort last.
        let zz: Vec<PathBuf> = (0..5)
            .map(|i| old_run(root, &format!("run-zzz-{i}"), 1_000 + i))
            .collect();
        let recent: Vec<PathBuf> = (0..KEEP_RUNS)
            .map(|i| old_run(root, &format!("run-2000-{i:02}"), 1_000_000 + i as u128))
            .collect();
        let a = Artifacts::create(root).unwrap();
        let new = a.dir.unwrap();
        assert!(new.is_dir(), "the new run deleted itself");
        for z in &zz {
            assert!(!z.exists(), "{} should have been pruned", z.display());
        }
        // The newest earlier runs stay, with the new one: KEEP_RUNS in all.
        assert!(!recent[0].exists());
        assert!(recent[1..].iter().all(|r| r.exists()));
        let left = std::fs::read_dir(root).unwrap().count();
        assert_eq!(left, KEEP_RUNS);
    }
}
