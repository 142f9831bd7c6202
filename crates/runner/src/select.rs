//! Picking scenarios: by name (`--filter`, `--skip`, as cargo-nextest's
//! filters and pytest's `-k` pick tests) and by the last run's outcome
//! (`--rerun-failed`, read from the results every run leaves in its
//! artifacts folder).

use std::path::{Path, PathBuf};

use crate::ScenarioFile;

/// One `--filter` or `--skip` pattern: a glob when it holds `*`, `?` or
/// `[`, matched against the whole name; otherwise a substring.
#[derive(Clone, Debug)]
enum Pattern {
    Substring(String),
    Glob(globset::GlobMatcher),
}

impl Pattern {
    fn parse(p: &str) -> Result<Pattern, String> {
        if p.contains(['*', '?', '[']) {
            globset::Glob::new(p)
                .map(|g| Pattern::Glob(g.compile_matcher()))
                .map_err(|e| format!("{p:?} is not a valid glob: {}", e.kind()))
        } else {
            Ok(Pattern::Substring(p.to_string()))
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Pattern::Substring(s) => name.contains(s.as_str()),
            Pattern::Glob(g) => g.is_match(name),
        }
    }
}

/// Scenario names to run: any `filters` (none: all), minus any `skips`.
#[derive(Clone, Debug, Default)]
pub struct NameFilter {
    filters: Vec<Pattern>,
    skips: Vec<Pattern>,
}

impl NameFilter {
    /// `Err` names the pattern that is not a valid glob.
    pub fn new(filters: &[String], skips: &[String]) -> Result<NameFilter, String> {
        let parse = |ps: &[String]| -> Result<Vec<Pattern>, String> {
            ps.iter().map(|p| Pattern::parse(p)).collect()
        };
        Ok(NameFilter {
            filters: parse(filters)?,
            skips: parse(skips)?,
        })
    }

    pub fn matches(&self, name: &str) -> bool {
        (self.filters.is_empty() || self.filters.iter().any(|p| p.matches(name)))
            && !self.skips.iter().any(|p| p.matches(name))
    }

    /// Keeps the scenarios whose names match.
    pub fn apply(&self, scenarios: Vec<ScenarioFile>) -> Vec<ScenarioFile> {
        scenarios
            .into_iter()
            .filter(|s| self.matches(&s.scenario.name))
            .collect()
    }
}

/// The file in a run folder with the run's results (as `--report-json`
/// writes them), written when the run ends.
pub const RESULTS: &str = "results.json";

/// What the last finished run left.
#[derive(Debug, PartialEq, Eq)]
pub struct LastRun {
    pub dir: PathBuf,
    /// Names of the scenarios that failed or were not run.
    pub failed: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LastRunError {
    #[error("no finished run under {root} (a run leaves its results there when it ends)")]
    None { root: String },
    #[error("{path}: {message}")]
    Unreadable { path: String, message: String },
}

/// The newest run folder under `root` that holds results, other than
/// `current` (the run that is starting), and the scenarios it failed.
pub fn last_failed(root: &Path, current: Option<&Path>) -> Result<LastRun, LastRunError> {
    let none = || LastRunError::None {
        root: crate::display_path(root),
    };
    let mut runs: Vec<(u128, PathBuf)> = std::fs::read_dir(root)
        .map_err(|_| none())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| Some(p.as_path()) != current && p.join(RESULTS).is_file())
        .map(|p| (crate::artifacts::started(&p), p))
        .collect();
    runs.sort();
    let (_, dir) = runs.pop().ok_or_else(none)?;
    let path = dir.join(RESULTS);
    let unreadable = |message: String| LastRunError::Unreadable {
        path: crate::display_path(&path),
        message,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| unreadable(e.to_string()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
    let scenarios = v["scenarios"]
        .as_array()
        .ok_or_else(|| unreadable("no \"scenarios\" list".into()))?;
    let mut failed: Vec<String> = scenarios
        .iter()
        .filter(|s| {
            s["status"] == "failed"
                || (s["status"] == "skipped"
                    && s["reason"]
                        .as_str()
                        .is_some_and(|r| r.starts_with("not run")))
        })
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect();
    failed.dedup();
    Ok(LastRun { dir, failed })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(f: &NameFilter, all: &[&str]) -> Vec<String> {
        all.iter()
            .filter(|n| f.matches(n))
            .map(|n| n.to_string())
            .collect()
    }

    const ALL: &[&str] = &[
        "frame-echo-text",
        "frame-echo-binary",
        "close-1000-reason",
        "app-trigger-async",
    ];

    #[test]
    fn a_pattern_is_a_substring_unless_it_holds_glob_characters() {
        let f = NameFilter::new(&["echo".into()], &[]).unwrap();
        assert_eq!(names(&f, ALL), ["frame-echo-text", "frame-echo-binary"]);
        let f = NameFilter::new(&["*-text".into(), "close-*".into()], &[]).unwrap();
        assert_eq!(names(&f, ALL), ["frame-echo-text", "close-1000-reason"]);
        // A glob matches the whole name: "echo*" is not "contains echo".
        let f = NameFilter::new(&["echo*".into()], &[]).unwrap();
        assert!(names(&f, ALL).is_empty());
    }

    #[test]
    fn skips_win_over_filters_and_no_filter_means_all() {
        let f = NameFilter::new(&[], &["binary".into()]).unwrap();
        assert_eq!(names(&f, ALL).len(), 3);
        let f = NameFilter::new(&["frame".into()], &["binary".into()]).unwrap();
        assert_eq!(names(&f, ALL), ["frame-echo-text"]);
    }

    #[test]
    fn a_bad_glob_is_named() {
        let e = NameFilter::new(&["frame-[".into()], &[]).unwrap_err();
        assert!(e.contains("\"frame-[\""), "{e}");
    }

    fn run_dir(root: &Path, name: &str, started: u128, results: Option<&str>) -> PathBuf {
        let d = root.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(crate::artifacts::STARTED), format!("{started}\n")).unwrap();
        if let Some(r) = results {
            std::fs::write(d.join(RESULTS), r).unwrap();
        }
        d
    }

    #[test]
    fn the_last_finished_run_gives_its_failed_and_unrun_scenarios() {
        let root = tempfile::tempdir().unwrap();
        run_dir(
            root.path(),
            "run-a",
            1,
            Some(r#"{"scenarios":[{"name":"old","status":"failed"}]}"#),
        );
        let newest = run_dir(
            root.path(),
            "run-b",
            2,
            Some(
                r#"{"scenarios":[{"name":"x","status":"failed"},{"name":"y","status":"passed"},
                {"name":"z","status":"skipped","reason":"not run: the target crashed"},
                {"name":"w","status":"skipped","reason":"for the nodemcu-httpd family"}]}"#,
            ),
        );
        // Started later, but unfinished (no results), and the current run.
        let current = run_dir(root.path(), "run-c", 3, None);
        let last = last_failed(root.path(), Some(&current)).unwrap();
        assert_eq!(last.dir, newest);
        assert_eq!(last.failed, ["x", "z"]);
    }

    #[test]
    fn without_a_finished_run_the_error_says_where_it_looked() {
        let root = tempfile::tempdir().unwrap();
        run_dir(root.path(), "run-a", 1, None);
        let e = last_failed(root.path(), None).unwrap_err();
        assert!(matches!(e, LastRunError::None { .. }));
        assert!(e.to_string().contains("no finished run under"), "{e}");
        run_dir(root.path(), "run-b", 2, Some("not json"));
        let e = last_failed(root.path(), None).unwrap_err();
        assert!(e.to_string().contains("results.json"), "{e}");
    }
}
