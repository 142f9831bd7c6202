//! The reports of a conformance run, written to one folder: a Markdown
//! summary (counts per category and verdict, then every case that is not
//! OK), a static HTML page (every case with what it sends, what RFC 6455
//! requires, the frames exchanged and the serial lines; no script, no
//! CDN), one JSON file per case, and JUnit XML (one testcase per case,
//! FAILED as a failure).
//!
//! Nothing in the Markdown, HTML and JSON depends on when or how fast the
//! run went: the same verdicts give the same files, so a report can be
//! checked in and checked for being up to date. Only the JUnit XML carries
//! times, as JUnit consumers expect.

mod comparison;
mod html;
mod json;
mod junit;
mod markdown;

use std::path::{Path, PathBuf};

use crate::case::Category;
use crate::drive::CaseResult;
use crate::judge::{Behavior, CloseBehavior};

pub use comparison::{Column, comparison};
pub use html::html;
pub use json::{case_json, results_json};
pub use junit::junit;
pub use markdown::markdown;

/// What a report is about.
#[derive(Clone, Debug)]
pub struct Meta {
    /// The profile the firmware is (or is declared to be).
    pub profile: String,
    /// What ran ("the simulator (v5.5.5)", "exec: python3 ...").
    pub target: String,
    /// The endpoint path the cases used.
    pub path: String,
}

/// File names in a report folder.
pub const SUMMARY: &str = "summary.md";
pub const HTML: &str = "index.html";
pub const JUNIT: &str = "junit.xml";
pub const RESULTS: &str = "results.json";
pub const CASES: &str = "cases";

/// Writes every report into `dir`; returns the files written.
pub fn write_all(
    dir: &Path,
    meta: &Meta,
    results: &[CaseResult],
    elapsed: std::time::Duration,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir.join(CASES))?;
    let mut written = Vec::new();
    let mut put = |name: PathBuf, text: String| -> std::io::Result<()> {
        std::fs::write(&name, text)?;
        written.push(name);
        Ok(())
    };
    put(dir.join(SUMMARY), markdown(meta, results))?;
    put(dir.join(HTML), html(meta, results))?;
    put(dir.join(JUNIT), junit(meta, results, elapsed))?;
    put(dir.join(RESULTS), results_json(meta, results))?;
    for r in results {
        put(
            dir.join(CASES).join(format!("{}.json", r.case.id)),
            case_json(meta, r),
        )?;
    }
    Ok(written)
}

/// Counts of each verdict in a set of results.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub cases: usize,
    pub behavior: [usize; 5],
    pub close: [usize; 5],
}

impl Counts {
    pub fn of<'a>(results: impl IntoIterator<Item = &'a CaseResult>) -> Counts {
        let mut c = Counts::default();
        for r in results {
            c.cases += 1;
            let b = Behavior::ALL
                .iter()
                .position(|b| *b == r.verdict.behavior)
                .expect("listed");
            c.behavior[b] += 1;
            let k = CloseBehavior::ALL
                .iter()
                .position(|k| *k == r.verdict.close)
                .expect("listed");
            c.close[k] += 1;
        }
        c
    }

    pub fn get(&self, b: Behavior) -> usize {
        self.behavior[Behavior::ALL.iter().position(|x| *x == b).expect("listed")]
    }

    /// `OK 200, NON-STRICT 3, FAILED 20` (verdicts with no case left out).
    pub fn line(&self) -> String {
        Behavior::ALL
            .iter()
            .zip(self.behavior)
            .filter(|(_, n)| *n > 0)
            .map(|(b, n)| format!("{} {n}", b.name()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The categories that have results, in order, each with its results.
pub fn by_category(results: &[CaseResult]) -> Vec<(Category, Vec<&CaseResult>)> {
    Category::ALL
        .iter()
        .map(|c| {
            (
                *c,
                results
                    .iter()
                    .filter(|r| r.case.category == *c)
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// The exchange of a case as text lines (request, answer, frames, closes).
pub fn transcript(r: &CaseResult) -> Vec<String> {
    use crate::record::Event;
    let o = &r.observation;
    let mut lines = Vec::new();
    if o.request.is_empty() {
        return lines;
    }
    let first = o.request.lines().next().unwrap_or_default();
    lines.push(format!("> {first}"));
    for l in o.request.lines().skip(1).filter(|l| !l.is_empty()) {
        lines.push(format!(">   {l}"));
    }
    lines.push(format!("< {}", o.answer.describe()));
    if let crate::record::Answer::Response { headers, body, .. } = &o.answer {
        for (n, v) in headers {
            lines.push(format!("<   {n}: {v}"));
        }
        if !body.is_empty() {
            lines.push(format!("<   body: \"{body}\""));
        }
    }
    for e in &o.events {
        lines.push(match e {
            Event::Sent {
                summary,
                writes,
                closing,
                ..
            } => format!(
                "> {summary}{}{}",
                if *writes > 1 {
                    format!(" (in {writes} writes)")
                } else {
                    String::new()
                },
                if *closing { " (closing)" } else { "" }
            ),
            Event::Received(f) => format!("< {}", f.summary),
            Event::ServerClosed { how } => format!("< TCP closed ({how})"),
            Event::ClientClosed { how } => format!("> TCP closed ({how})"),
            Event::Note { text } => format!("= {text}"),
        });
    }
    if let Some(c) = &o.crash {
        lines.push(format!("= {c}"));
    }
    if let Some(c) = &o.recovery {
        lines.push(format!("= {c}"));
    }
    lines
}
