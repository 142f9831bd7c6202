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

impl Artifacts {
    pub fn none() -> Self {
        Artifacts { dir: None }
    }

    /// A fresh `run-<time>-<pid>` folder under `root`, pruning the oldest
    /// runs beyond [`KEEP_RUNS`].
    pub fn create(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
            .to_string()
            .replace([':', '-'], "")
            .replace('T', "-")
            .trim_end_matches('Z')
            .to_string();
        let dir = root.join(format!("run-{stamp}-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut runs: Vec<PathBuf> = std::fs::read_dir(root)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_dir()
                    && p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("run-"))
            })
            .collect();
        runs.sort();
        while runs.len() > KEEP_RUNS {
            let old = runs.remove(0);
            let _ = std::fs::remove_dir_all(old);
        }
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
            "FAILED at step {} ({}, line {}): {}",
            f.index + 1,
            f.kind,
            f.line,
            f.message
        );
    }
    s
}
