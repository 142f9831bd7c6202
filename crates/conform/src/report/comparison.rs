//! The README's side-by-side table of several firmwares' conformance,
//! made from their baselines (which `cargo test` holds to the model), so
//! the table cannot drift from what the suite finds.

use std::fmt::Write as _;

use crate::baseline::Baseline;
use crate::case::Category;
use crate::judge::Behavior;

/// One column: a heading, where its full report is, its verdicts.
pub struct Column<'a> {
    pub heading: &'a str,
    pub report: &'a str,
    pub baseline: &'a Baseline,
}

/// The category a case id belongs to (`6.4.2` → UTF-8 handling).
fn category_of(id: &str) -> Option<Category> {
    let first = id.split('.').next()?;
    Category::ALL.into_iter().find(|c| c.number() == first)
}

/// `OK 28, NON-STRICT 2, FAILED 4 of 32`, or `-` without cases.
fn cell(entries: &[Behavior]) -> String {
    if entries.is_empty() {
        return "-".into();
    }
    let parts: Vec<String> = Behavior::ALL
        .iter()
        .filter_map(|b| {
            let n = entries.iter().filter(|e| *e == b).count();
            (n > 0).then(|| format!("{} {n}", b.name()))
        })
        .collect();
    format!("{} of {}", parts.join(", "), entries.len())
}

/// A Markdown table: a row per category (and one for all cases), a column
/// per firmware, each cell the behaviour verdicts it earned.
pub fn comparison(columns: &[Column]) -> String {
    let mut s = String::new();
    let _ = write!(s, "| category |");
    for c in columns {
        let _ = write!(s, " [{}]({}) |", c.heading, c.report);
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "| --- |{}", " --- |".repeat(columns.len()));
    let verdicts = |c: &Column, cat: Option<Category>| -> Vec<Behavior> {
        c.baseline
            .cases
            .iter()
            .filter(|(id, _)| cat.is_none() || category_of(id) == cat)
            .map(|(_, e)| e.behavior)
            .collect()
    };
    for cat in Category::ALL {
        let _ = write!(s, "| {} {} |", cat.number(), cat.title());
        for c in columns {
            let _ = write!(s, " {} |", cell(&verdicts(c, Some(cat))));
        }
        let _ = writeln!(s);
    }
    let _ = write!(s, "| **all** |");
    for c in columns {
        let _ = write!(s, " **{}** |", cell(&verdicts(c, None)));
    }
    let _ = writeln!(s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::{Entry, VERSION};
    use crate::judge::CloseBehavior;

    fn baseline(cases: &[(&str, Behavior)]) -> Baseline {
        Baseline {
            version: VERSION,
            profile: "p".into(),
            target: "t".into(),
            note: None,
            cases: cases
                .iter()
                .map(|(id, b)| {
                    (
                        id.to_string(),
                        Entry {
                            behavior: *b,
                            close: CloseBehavior::ALL[0],
                            crashed: false,
                            note: None,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn each_cell_counts_the_verdicts_of_its_category() {
        let a = baseline(&[
            ("1.1.1", Behavior::Ok),
            ("1.1.2", Behavior::Failed),
            ("6.4.2", Behavior::Failed),
        ]);
        let b = baseline(&[("H.1", Behavior::Ok)]);
        let t = comparison(&[
            Column {
                heading: "a",
                report: "ra",
                baseline: &a,
            },
            Column {
                heading: "b",
                report: "rb",
                baseline: &b,
            },
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "| category | [a](ra) | [b](rb) |");
        assert_eq!(lines[2], "| 1 Framing | OK 1, FAILED 1 of 2 | - |");
        assert!(
            t.contains("| 6 UTF-8 handling | FAILED 1 of 1 | - |"),
            "{t}"
        );
        assert!(t.contains("| H Opening handshake | - | OK 1 of 1 |"), "{t}");
        assert!(
            t.ends_with("| **all** | **OK 1, FAILED 2 of 3** | **OK 1 of 1** |\n"),
            "{t}"
        );
    }
}
