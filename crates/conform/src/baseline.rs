//! Baselines: the verdicts a target earned once, to hold later runs to.
//! A case whose behaviour or close verdict ranks lower than its baseline is
//! a regression; higher is an improvement; another verdict of the same rank
//! is a change worth listing.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::drive::CaseResult;
use crate::judge::{Behavior, CloseBehavior};

pub const VERSION: u32 = 1;

/// One case's verdicts, with an optional note a person wrote (kept when
/// the baseline is written again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub behavior: Behavior,
    pub close: CloseBehavior,
    /// The firmware crashed during the case.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub crashed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    pub version: u32,
    /// The profile the verdicts were recorded for.
    pub profile: String,
    /// What ran (the target's description).
    pub target: String,
    /// Free text a person wrote (what is observed, what is not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub cases: IndexMap<String, Entry>,
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: version {found}, expected {VERSION}")]
    Version { path: PathBuf, found: u32 },
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Baseline {
    pub fn from_results(profile: &str, target: &str, results: &[CaseResult]) -> Baseline {
        Baseline {
            version: VERSION,
            profile: profile.to_string(),
            target: target.to_string(),
            note: None,
            cases: results
                .iter()
                .map(|r| {
                    (
                        r.case.id.clone(),
                        Entry {
                            behavior: r.verdict.behavior,
                            close: r.verdict.close,
                            crashed: r.observation.crash.is_some(),
                            note: None,
                        },
                    )
                })
                .collect(),
        }
    }

    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Baseline::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Baseline, BaselineError> {
        let b: Baseline = serde_json::from_str(text).map_err(|e| BaselineError::Parse {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        if b.version != VERSION {
            return Err(BaselineError::Version {
                path: path.to_path_buf(),
                found: b.version,
            });
        }
        Ok(b)
    }

    /// This baseline with the notes of `old` kept (the file's own and each
    /// case's, where the case is still there).
    pub fn keeping_notes(mut self, old: &Baseline) -> Baseline {
        self.note = old.note.clone();
        for (id, e) in &mut self.cases {
            if let Some(o) = old.cases.get(id) {
                e.note = o.note.clone();
            }
        }
        self
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a baseline is JSON");
        s.push('\n');
        s
    }

    /// Writes it, keeping the notes of the file it replaces.
    pub fn write(self, path: &Path) -> Result<(), BaselineError> {
        let b = match Baseline::load(path) {
            Ok(old) => self.keeping_notes(&old),
            Err(_) => self,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| BaselineError::Write {
                path: path.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(path, b.to_json()).map_err(|source| BaselineError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Compares `results` with this baseline.
    pub fn compare(&self, results: &[CaseResult]) -> Comparison {
        let mut c = Comparison::default();
        for r in results {
            let after = Entry {
                behavior: r.verdict.behavior,
                close: r.verdict.close,
                crashed: r.observation.crash.is_some(),
                note: None,
            };
            let Some(before) = self.cases.get(&r.case.id) else {
                c.new.push(r.case.id.clone());
                continue;
            };
            if before.behavior == after.behavior
                && before.close == after.close
                && before.crashed == after.crashed
            {
                continue;
            }
            let change = Change {
                id: r.case.id.clone(),
                title: r.case.title.clone(),
                before: before.clone(),
                after,
                reason: r.verdict.reason.clone(),
            };
            // Worse in any respect is a regression, whatever got better: a
            // firmware that now crashes where it did not has regressed even
            // if the crash happens to end the connection more cleanly.
            let (b, a) = (before, &change.after);
            let worse = a.behavior.rank() < b.behavior.rank()
                || a.close.rank() < b.close.rank()
                || (a.crashed && !b.crashed);
            let better = a.behavior.rank() > b.behavior.rank()
                || a.close.rank() > b.close.rank()
                || (b.crashed && !a.crashed);
            if worse {
                c.regressions.push(change);
            } else if better {
                c.improvements.push(change);
            } else {
                c.changed.push(change);
            }
        }
        c
    }
}

/// A case whose verdicts differ from the baseline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub id: String,
    pub title: String,
    pub before: Entry,
    pub after: Entry,
    /// The judge's reason for the new verdict.
    pub reason: String,
}

impl Change {
    pub fn line(&self) -> String {
        let crash = |e: &Entry| if e.crashed { " (crashed)" } else { "" };
        format!(
            "{} ({}): {} / {}{} -> {} / {}{}: {}",
            self.id,
            self.title,
            self.before.behavior.name(),
            self.before.close.name(),
            crash(&self.before),
            self.after.behavior.name(),
            self.after.close.name(),
            crash(&self.after),
            self.reason
        )
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Worse in behaviour or in how the connection closed.
    pub regressions: Vec<Change>,
    pub improvements: Vec<Change>,
    /// Another verdict of the same rank (INFORMATIONAL for NON-STRICT).
    pub changed: Vec<Change>,
    /// Cases the baseline does not have.
    pub new: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::Verdict;
    use crate::record::Observation;

    fn result(id: &str, behavior: Behavior, close: CloseBehavior) -> CaseResult {
        let case = crate::table::all()
            .into_iter()
            .find(|c| c.id == id)
            .unwrap();
        CaseResult {
            case,
            observation: Observation::default(),
            verdict: Verdict {
                behavior,
                reason: "because".into(),
                close,
                close_reason: String::new(),
            },
            instance: String::new(),
            elapsed: std::time::Duration::ZERO,
            target_gone: false,
        }
    }

    #[test]
    fn worse_is_a_regression_better_an_improvement() {
        use Behavior::*;
        use CloseBehavior::*;
        let base = Baseline::from_results(
            "p",
            "t",
            &[
                result("1.1.1", Ok, Clean),
                result("2.1", Failed, WrongCode),
                result("2.2", NonStrict, Clean),
                result("2.3", Ok, Clean),
            ],
        );
        let now = [
            result("1.1.1", Ok, Clean),
            result("2.1", Ok, WrongCode),
            result("2.2", Informational, Clean),
            result("2.3", Ok, Unclean),
            result("2.4", Ok, Clean),
        ];
        let c = base.compare(&now);
        assert_eq!(
            c.regressions
                .iter()
                .map(|x| x.id.as_str())
                .collect::<Vec<_>>(),
            ["2.3"]
        );
        assert_eq!(
            c.improvements
                .iter()
                .map(|x| x.id.as_str())
                .collect::<Vec<_>>(),
            ["2.1"]
        );
        assert_eq!(
            c.changed.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
            ["2.2"]
        );
        assert_eq!(c.new, ["2.4"]);
        assert!(
            c.regressions[0]
                .line()
                .contains("OK / CLEAN -> OK / UNCLEAN")
        );
    }

    #[test]
    fn a_new_crash_is_a_regression_even_if_the_close_looks_better() {
        use Behavior::*;
        use CloseBehavior::*;
        let base = Baseline::from_results("p", "t", &[result("3.1", Failed, NeverClosed)]);
        let mut crashed = result("3.1", Failed, Unclean);
        crashed.observation.crash = Some("sim#1: the firmware crashed".into());
        let c = base.compare(&[crashed]);
        assert_eq!(c.regressions.len(), 1, "{c:?}");
        assert!(c.regressions[0].line().contains("UNCLEAN (crashed)"));
        assert!(c.improvements.is_empty());
    }

    #[test]
    fn a_baseline_round_trips_and_keeps_notes() {
        let mut old = Baseline::from_results(
            "p",
            "t",
            &[result("2.1", Behavior::Ok, CloseBehavior::Clean)],
        );
        old.note = Some("file note".into());
        old.cases["2.1"].note = Some("case note".into());
        let text = old.to_json();
        let parsed = Baseline::parse(Path::new("b.json"), &text).unwrap();
        assert_eq!(parsed, old);
        let new = Baseline::from_results(
            "p",
            "t",
            &[result("2.1", Behavior::Failed, CloseBehavior::Clean)],
        )
        .keeping_notes(&old);
        assert_eq!(new.note.as_deref(), Some("file note"));
        assert_eq!(new.cases["2.1"].note.as_deref(), Some("case note"));
        assert_eq!(new.cases["2.1"].behavior, Behavior::Failed);
        let err =
            Baseline::parse(Path::new("b.json"), "{\"version\": 1,\n \"cases\": 3}").unwrap_err();
        assert!(err.to_string().starts_with("b.json:"), "{err}");
    }
}
