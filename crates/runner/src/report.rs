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

/// What a scenario's result says in one line (failures: the failed step's
/// message, or the first note).
fn reason(r: &ScenarioResult) -> String {
    match &r.status {
        Status::Passed => "passed".into(),
        Status::Skipped(why) => why.clone(),
        Status::KnownBug(what) => format!("known bug: {what}"),
        Status::Failed => r
            .run
            .as_ref()
            .and_then(|run| run.failure.as_ref())
            .map(|f| format!("steps[{}] ({}): {}", f.index, f.kind, f.message))
            .or_else(|| r.notes.first().cloned())
            .or_else(|| {
                r.snapshot
                    .as_ref()
                    .filter(|o| !o.passed(true))
                    .map(|_| "the snapshot does not match".to_string())
            })
            .unwrap_or_else(|| "failed".into()),
    }
}

/// The scenario's serial lines, as the target printed them.
fn log_text(r: &ScenarioResult) -> String {
    r.run
        .as_ref()
        .map(|run| {
            run.log
                .iter()
                .map(|l| l.text())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// The run as JUnit XML: one testsuite for the profile, one testcase per
/// scenario (classname: the profile, name: the scenario). A failure
/// carries its message and the details a run prints (`review` as in
/// [`failure_details`]); a skip its reason; the scenario's serial lines
/// are the testcase's output.
pub fn junit(results: &[ScenarioResult], profile: &str, elapsed: Duration, review: &str) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("esp-ws run");
    report.set_time(elapsed);
    let mut suite = TestSuite::new(format!("esp-ws run {profile}"));
    for r in results {
        let status = match &r.status {
            Status::Passed | Status::KnownBug(_) => TestCaseStatus::success(),
            Status::Skipped(why) => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(why.clone());
                s
            }
            Status::Failed => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(reason(r));
                s.set_type("FAIL");
                s.set_description(failure_details(r, review));
                s
            }
        };
        let mut tc = TestCase::new(r.file.scenario.name.clone(), status);
        tc.set_classname(profile.to_string());
        tc.set_time(r.elapsed);
        if let Status::KnownBug(what) = &r.status {
            tc.properties
                .push(quick_junit::Property::new("xfail", what.clone()));
        }
        let out = log_text(r);
        if !out.is_empty() {
            tc.set_system_out(out);
        }
        suite.add_test_case(tc);
    }
    report.add_test_suite(suite);
    report.to_string().expect("JUnit XML")
}

/// The run as JSON: the profile, the totals, and per scenario its file,
/// status, reason, instance, time, the failed step (its index N in the
/// file's `steps[N]`), the notes, the
/// artifacts folder and the serial lines.
pub fn json(results: &[ScenarioResult], profile: &str) -> String {
    let t = totals(results);
    let v = serde_json::json!({
        "profile": profile,
        "passed": t.passed,
        "failed": t.failed,
        "skipped": t.skipped,
        "known_bugs": t.known_bugs,
        "scenarios": results.iter().map(|r| {
            let failure = r.run.as_ref().and_then(|run| run.failure.as_ref()).map(|f| serde_json::json!({
                // Counted as the file and every message count: steps[N].
                "step": f.index,
                "kind": f.kind,
                "line": f.line,
                "column": f.column,
                "message": f.message,
                "expected": f.expected,
                "got": f.got,
            }));
            serde_json::json!({
                "name": r.file.scenario.name,
                "file": crate::display_path(&r.file.path),
                "status": match r.status {
                    Status::Passed => "passed",
                    Status::Failed => "failed",
                    Status::Skipped(_) => "skipped",
                    Status::KnownBug(_) => "xfail",
                },
                "reason": reason(r),
                "instance": r.instance,
                "elapsed_ms": r.elapsed.as_millis() as u64,
                "failure": failure,
                "notes": r.notes,
                "artifacts": r.artifacts.as_ref().map(|a| crate::display_path(a)),
                "log": r.run.as_ref().map(|run| run.log.iter().map(|l| l.text()).collect::<Vec<_>>()).unwrap_or_default(),
            })
        }).collect::<Vec<_>>(),
    });
    let mut s = serde_json::to_string_pretty(&v).expect("JSON");
    s.push('\n');
    s
}
