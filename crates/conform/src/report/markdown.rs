//! The Markdown summary: counts per category and verdict, then each case
//! that is not OK with the judge's reason.

use std::fmt::Write as _;

use super::{Counts, Meta, by_category};
use crate::drive::CaseResult;
use crate::judge::{Behavior, CloseBehavior};

/// A table cell: pipes and line breaks would break the table.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(meta: &Meta, results: &[CaseResult]) -> String {
    let mut s = String::new();
    let total = Counts::of(results);
    let _ = writeln!(s, "# RFC 6455 conformance: {}", meta.profile);
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{} cases of `esp-ws conform`. Target: {}; endpoint `{}`. Cases are numbered as Autobahn|Testsuite numbers its server cases (H is the opening handshake, which Autobahn does not test); each says what it sends, what RFC 6455 requires and how it is judged in `index.html` beside this file.",
        total.cases, meta.target, meta.path
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "**{}**", total.line());
    let _ = writeln!(s);
    let _ = writeln!(s, "## Behaviour per category");
    let _ = writeln!(s);
    let _ = write!(s, "| category | cases |");
    for b in Behavior::ALL {
        let _ = write!(s, " {} |", b.name());
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "|---|---:|{}", "---:|".repeat(Behavior::ALL.len()));
    let cats = by_category(results);
    for (cat, rs) in &cats {
        let c = Counts::of(rs.iter().copied());
        let _ = write!(s, "| {} {} | {} |", cat.number(), cat.title(), c.cases);
        for n in c.behavior {
            let _ = write!(s, " {n} |");
        }
        let _ = writeln!(s);
    }
    let _ = write!(s, "| **all** | **{}** |", total.cases);
    for n in total.behavior {
        let _ = write!(s, " **{n}** |");
    }
    let _ = writeln!(s);
    let _ = writeln!(s);
    let _ = writeln!(s, "## Close behaviour per category");
    let _ = writeln!(s);
    let _ = write!(s, "| category |");
    for k in CloseBehavior::ALL {
        let _ = write!(s, " {} |", k.name());
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "|---|{}", "---:|".repeat(CloseBehavior::ALL.len()));
    for (cat, rs) in &cats {
        let c = Counts::of(rs.iter().copied());
        let _ = write!(s, "| {} {} |", cat.number(), cat.title());
        for n in c.close {
            let _ = write!(s, " {n} |");
        }
        let _ = writeln!(s);
    }
    let _ = write!(s, "| **all** |");
    for n in total.close {
        let _ = write!(s, " **{n}** |");
    }
    let _ = writeln!(s);
    let _ = writeln!(s);
    let _ = writeln!(s, "## Cases that are not OK");
    for (cat, rs) in &cats {
        let bad: Vec<&&CaseResult> = rs
            .iter()
            .filter(|r| r.verdict.behavior != Behavior::Ok)
            .collect();
        if bad.is_empty() {
            continue;
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "### {} {}", cat.number(), cat.title());
        let _ = writeln!(s);
        let _ = writeln!(s, "| case | sends | behaviour | close | why |");
        let _ = writeln!(s, "|---|---|---|---|---|");
        for r in bad {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                r.case.id,
                cell(&r.case.title),
                r.verdict.behavior.name(),
                r.verdict.close.name(),
                cell(&r.verdict.reason)
            );
        }
    }
    let crashed: Vec<&CaseResult> = results
        .iter()
        .filter(|r| r.observation.crash.is_some())
        .collect();
    if !crashed.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "## Crashes");
        let _ = writeln!(s);
        for r in crashed {
            let _ = writeln!(
                s,
                "- {}: {}",
                r.case.id,
                cell(r.observation.crash.as_deref().unwrap_or_default())
            );
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "## Verdicts");
    let _ = writeln!(s);
    let _ = writeln!(s, "- OK: what RFC 6455 requires.");
    let _ = writeln!(
        s,
        "- NON-STRICT: not what RFC 6455 asks for, but harmless to a client (a refusal without the HTTP status RFC 6455 names, a CLOSE reply without the status code)."
    );
    let _ = writeln!(
        s,
        "- INFORMATIONAL: RFC 6455 leaves it open; the report says what happened (a size limit, an undefined close code)."
    );
    let _ = writeln!(
        s,
        "- UNIMPLEMENTED: an optional feature the server does not offer."
    );
    let _ = writeln!(
        s,
        "- FAILED: against RFC 6455: it accepted what it must refuse, refused what it must accept, or sent what a server must not send."
    );
    let _ = writeln!(
        s,
        "- Close: CLEAN (a closing handshake with the expected code, then TCP closed by the server), WRONG CODE (a closing handshake with another code or none), UNCLEAN (TCP ended without a complete closing handshake, or with a reset), NEVER CLOSED (the server did not close when it had to), N/A (no WebSocket connection)."
    );
    s
}
