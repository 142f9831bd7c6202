//! What a run prints: one line per scenario as it finishes, the details of
//! every failure (what a step expected and what came, the snapshot diff, the
//! last serial lines, where the artifacts are), and the summary.

use std::fmt::Write as _;
use std::time::Duration;

use crate::snapshot::{self, Outcome};
use crate::{ScenarioResult, Status};

pub fn status_line(r: &ScenarioResult) -> String {
    let (word, extra) = match &r.status {
        Status::Passed if r.forced_pass => (
            "PASS",
            " (the snapshot differs; passed because INSTA_FORCE_PASS=1)".to_string(),
        ),
        Status::Passed => ("PASS", String::new()),
        Status::Failed => ("FAIL", String::new()),
        Status::Skipped(why) => ("SKIP", format!(" ({why})")),
        Status::KnownBug(what) => ("XFAIL", format!(" (known bug: {what})")),
    };
    format!(
        "{word:>12} [{:>8.3}s] {}{extra}",
        r.elapsed.as_secs_f64(),
        r.file.scenario.name
    )
}

fn indent(text: &str, by: &str) -> String {
    text.lines().map(|l| format!("{by}{l}\n")).collect()
}

/// The details of a failed scenario. `review` says how a pending snapshot
/// is reviewed (the front end knows its own commands).
pub fn failure_details(r: &ScenarioResult, review: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "--- FAIL {} ({}, on {})",
        r.file.scenario.name,
        crate::display_path(&r.file.path),
        r.instance
    );
    if let Some(run) = &r.run
        && let Some(f) = &run.failure
    {
        let _ = writeln!(
            s,
            // Counted as the scenario file and `validate` count them.
            "  steps[{}] ({}, {}:{}:{}): {}",
            f.index,
            f.kind,
            crate::display_path(&r.file.path),
            f.line,
            f.column,
            f.message
        );
        if let (Some(want), Some(got)) = (&f.expected, &f.got) {
            let _ = writeln!(s, "    expected:");
            s.push_str(&indent(want, "      - "));
            let _ = writeln!(s, "    got:");
            s.push_str(&indent(got, "      + "));
        }
    }
    for n in &r.notes {
        let _ = writeln!(s, "  {n}");
    }
    s.push_str(&snapshot_details(r, review));
    if let Some(run) = &r.run
        && run.failure.is_some()
    {
        // At the snapshot's level: the full log is in the artifacts.
        let level = r.file.scenario.log_level;
        let tail: Vec<String> = run
            .log
            .iter()
            .filter(|l| l.line.as_log().is_none_or(|rec| rec.level.shows_at(level)))
            .rev()
            .take(15)
            .map(|l| l.text())
            .collect();
        if !tail.is_empty() {
            let _ = writeln!(
                s,
                "  last serial lines ({} and above):",
                r.file.scenario.log_level
            );
            for l in tail.iter().rev() {
                let _ = writeln!(s, "    {l}");
            }
        }
    }
    if let Some(a) = &r.artifacts {
        let _ = writeln!(s, "  artifacts: {}", crate::display_path(a));
    }
    s
}

/// What differs about a scenario's snapshot, and where the new one went:
/// the diff against the old snapshot, or the whole new one when there was
/// none. Empty when the snapshot matched.
pub fn snapshot_details(r: &ScenarioResult, review: &str) -> String {
    let mut s = String::new();
    match &r.snapshot {
        Some(Outcome::Differs { old, written }) => {
            let what = match r.snapshot_scope {
                snapshot::Scope::Full => "",
                snapshot::Scope::WireOnly => " (its wire part: there is no serial log)",
                snapshot::Scope::WithoutDebugLines => {
                    " (without debug lines: the link changed how writes arrive)"
                }
            };
            let _ = writeln!(
                s,
                "  snapshot {}{what} does not match:",
                crate::display_path(&r.snapshot_path)
            );
            if let Some(new) = &r.snapshot_text {
                let new = snapshot::view(new, r.snapshot_scope);
                s.push_str(&indent(&snapshot::diff(old, &new), "    "));
            }
            if let Some(p) = written {
                let _ = writeln!(
                    s,
                    "  the new snapshot is in {} (review: {review})",
                    crate::display_path(p)
                );
            }
        }
        Some(Outcome::New { written }) => {
            let _ = writeln!(
                s,
                "  no snapshot yet at {}",
                crate::display_path(&r.snapshot_path)
            );
            if let Some(new) = &r.snapshot_text {
                s.push_str(&indent(new, "    + "));
            }
            if let Some(p) = written {
                let _ = writeln!(
                    s,
                    "  the new snapshot is in {} (review: {review})",
                    crate::display_path(p)
                );
            }
        }
        _ => {}
    }
    s
}

pub struct Totals {
    /// Includes the known bugs reproduced as expected.
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub known_bugs: usize,
}

pub fn totals(results: &[ScenarioResult]) -> Totals {
    let mut t = Totals {
        passed: 0,
        failed: 0,
        skipped: 0,
        known_bugs: 0,
    };
    for r in results {
        match r.status {
            Status::Passed => t.passed += 1,
            Status::KnownBug(_) => {
                t.passed += 1;
                t.known_bugs += 1;
            }
            Status::Failed => t.failed += 1,
            Status::Skipped(_) => t.skipped += 1,
        }
    }
    t
}

/// The end of a run: failures again by name, then the closing line
/// `N passed, N failed` alone on its line.
pub fn summary(results: &[ScenarioResult], elapsed: Duration) -> String {
    let t = totals(results);
    let mut s = String::new();
    let ran = results.len() - t.skipped;
    let _ = writeln!(
        s,
        "{:>12} [{:>8.3}s] {ran} scenario{} run",
        "Summary",
        elapsed.as_secs_f64(),
        if ran == 1 { "" } else { "s" }
    );
    for r in results.iter().filter(|r| r.status == Status::Failed) {
        let _ = writeln!(
            s,
            "{:>12} {} ({})",
            "FAIL",
            r.file.scenario.name,
            crate::display_path(&r.file.path)
        );
    }
    for r in results {
        if let Status::Skipped(why) = &r.status {
            let _ = writeln!(s, "{:>12} {} ({why})", "SKIP", r.file.scenario.name);
        }
    }
    if t.skipped > 0 {
        let _ = writeln!(s, "{} skipped", t.skipped);
    }
    if t.known_bugs > 0 {
        let _ = writeln!(
            s,
            "{} known firmware bug{} reproduced as expected (XFAIL, counted as passed)",
            t.known_bugs,
            if t.known_bugs == 1 { "" } else { "s" }
        );
    }
    let _ = writeln!(s, "{} passed, {} failed", t.passed, t.failed);
    s
}
