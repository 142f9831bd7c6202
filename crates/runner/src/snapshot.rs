//! Log snapshots: what is asserted about a scenario's serial log (and what
//! the client saw on the wire), and the `.snap` files that hold them.
//!
//! The files use insta's format (YAML front matter, `---`, the contents), so
//! `cargo insta review` / `cargo insta accept` work on pending `.snap.new`
//! files whether the Rust test harness or `esp-ws run` wrote them. The
//! metadata written here is the one the test harness's
//! `insta::assert_snapshot!` writes, so switching between the two never
//! rewrites a snapshot that did not change.

use std::path::{Path, PathBuf};

use esp_ws_log::{Line, Normalizer};
use esp_ws_scenario as sc;

use crate::exec::ScenarioRun;

/// The expression the test harness asserts (`expression:` in `.snap` files).
pub const EXPRESSION: &str = "snapshot";

/// A scenario's normalization rule that does not compile (validation checks
/// them, so this is a rule that compiles alone but not in the normalizer).
#[derive(Debug, thiserror::Error)]
#[error("normalize rule /{regex}/: {reason}")]
pub struct BadRule {
    pub regex: String,
    pub reason: String,
}

/// The normalizer for a scenario's run: ESP-IDF's built-in rules, the values
/// this run chose at random, and the scenario's own rules.
pub fn normalizer(scenario: &sc::Scenario, run: &ScenarioRun) -> Result<Normalizer, BadRule> {
    let mut n = Normalizer::esp_idf();
    for (from, to) in &run.volatile {
        n.add_literal(from, to);
    }
    for r in &scenario.normalize {
        n.add_regex(&r.regex, &r.replace).map_err(|e| BadRule {
            regex: r.regex.clone(),
            reason: e.to_string(),
        })?;
    }
    Ok(n)
}

/// The serial lines of the scenario at the snapshot's level, normalized.
pub fn log_lines(scenario: &sc::Scenario, run: &ScenarioRun, n: &Normalizer) -> Vec<String> {
    let level = scenario.log_level;
    run.log
        .iter()
        .filter(|l| match &l.line {
            Line::Log(r) => r.level.shows_at(level),
            Line::Other(t) => !t.trim().is_empty(),
        })
        .map(|l| n.normalize(&l.line))
        .collect()
}

/// The snapshot text of a run.
pub fn contents(scenario: &sc::Scenario, run: &ScenarioRun) -> Result<String, BadRule> {
    let n = normalizer(scenario, run)?;
    let mut out = String::new();
    // `>` is what esp-ws sent, `<` what the firmware sent, in either role.
    out.push_str(match scenario.role {
        sc::Role::Client => "wire (as seen by the client):\n",
        sc::Role::Server => "wire (as seen by the server):\n",
    });
    for e in &run.transcript.events {
        out.push_str(&format!("  {} {} {}\n", e.conn, e.dir, n.apply(&e.text)));
    }
    out.push_str(&format!(
        "serial log ({} and above):\n",
        scenario.log_level.name()
    ));
    for l in log_lines(scenario, run, &n) {
        out.push_str("  ");
        out.push_str(&l);
        out.push('\n');
    }
    Ok(out)
}

/// Where a scenario's snapshot lives: `snapshots/<name>.snap` next to the
/// scenario file (insta's layout), with an `@suffix` for non-default
/// firmware profiles.
pub fn path_for(scenario_file: &Path, name: &str, suffix: Option<&str>) -> PathBuf {
    let dir = scenario_file.parent().unwrap_or(Path::new("."));
    let file = match suffix {
        Some(s) => format!("{name}@{s}.snap"),
        None => format!("{name}.snap"),
    };
    dir.join("snapshots").join(file)
}

/// insta's comparison: trailing whitespace and CRLF do not count.
pub fn normalize_for_compare(s: &str) -> String {
    s.trim_end().replace("\r\n", "\n")
}

/// Reads the contents of a `.snap` file (without its front matter).
pub fn read(path: &Path) -> std::io::Result<Option<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    // Front matter: a first line `---`, YAML, a line `---`.
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or_default();
    if first.trim_end() != "---" {
        return Ok(Some(text));
    }
    let mut offset = first.len();
    for l in lines {
        offset += l.len();
        if l.trim_end() == "---" {
            return Ok(Some(text[offset..].to_string()));
        }
    }
    Ok(Some(String::new()))
}

fn yaml_string(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '@'))
        && !s.starts_with(['-', '.', '@']);
    if plain {
        s.to_string()
    } else {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
}

/// Writes a snapshot in insta's format. Its `source` is the scenario file
/// (the snapshot's true source: there is no assertion, hence no
/// `assertion_line`); the test harness tells insta the same.
pub fn write(path: &Path, contents: &str, input_file: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut s = String::from("---\n");
    s.push_str(&format!("source: {}\n", yaml_string(input_file)));
    s.push_str(&format!("expression: {}\n", yaml_string(EXPRESSION)));
    s.push_str(&format!("input_file: {}\n", yaml_string(input_file)));
    s.push_str("---\n");
    s.push_str(contents.trim_end());
    s.push('\n');
    std::fs::write(path, s)
}

/// What to do with a snapshot that is new or differs (insta's INSTA_UPDATE,
/// as insta 1.49 reads it: env.rs `snapshot_update_behavior`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Update {
    /// Write `.snap` files directly (`--accept`, INSTA_UPDATE=always or 1).
    Always,
    /// As `Always`, and rewrite matching snapshots too, which refreshes
    /// their header (INSTA_UPDATE=force).
    Force,
    /// Write `.snap.new` files for review (INSTA_UPDATE=new, the default off CI).
    New,
    /// New snapshots are written directly, changed ones go to `.snap.new`.
    Unseen,
    /// Write nothing (INSTA_UPDATE=no, the default on CI).
    No,
}

impl Update {
    /// From INSTA_UPDATE and CI, as insta decides: `auto` (or unset) is `no`
    /// on CI and `new` elsewhere; any other value is an error, as in insta.
    pub fn from_env() -> Result<Update, String> {
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
        Self::parse(std::env::var("INSTA_UPDATE").ok().as_deref(), ci)
    }

    fn parse(value: Option<&str>, ci: bool) -> Result<Update, String> {
        Ok(match value {
            None | Some("") | Some("auto") if ci => Update::No,
            None | Some("") | Some("auto") => Update::New,
            Some("always") | Some("1") => Update::Always,
            Some("force") => Update::Force,
            Some("new") => Update::New,
            Some("unseen") => Update::Unseen,
            Some("no") => Update::No,
            Some(other) => {
                return Err(format!(
                    "INSTA_UPDATE={other:?}: expected auto, always, 1, force, new, unseen or no"
                ));
            }
        })
    }
}

/// INSTA_FORCE_PASS as insta reads it: `1` passes mismatching snapshots
/// (they are still shown and written as INSTA_UPDATE says), `0` or unset
/// does not, anything else is an error.
pub fn force_pass_from_env() -> Result<bool, String> {
    match std::env::var("INSTA_FORCE_PASS").as_deref() {
        Err(_) | Ok("") | Ok("0") => Ok(false),
        Ok("1") => Ok(true),
        Ok(other) => Err(format!("INSTA_FORCE_PASS={other:?}: expected 0 or 1")),
    }
}

/// The outcome of comparing a run with its snapshot.
#[derive(Debug)]
pub enum Outcome {
    Matches,
    /// No snapshot existed; `written` says where the new one went.
    New {
        written: Option<PathBuf>,
    },
    Differs {
        old: String,
        written: Option<PathBuf>,
    },
}

impl Outcome {
    pub fn passed(&self, accepted: bool) -> bool {
        match self {
            Outcome::Matches => true,
            // A snapshot written straight to `.snap` is accepted.
            Outcome::New { written } | Outcome::Differs { written, .. } => {
                accepted
                    && written
                        .as_ref()
                        .is_some_and(|p| p.extension().is_some_and(|e| e == "snap"))
            }
        }
    }
}

/// How much of a snapshot a run can vouch for.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Scope {
    /// Everything.
    #[default]
    Full,
    /// Not the debug and verbose lines: the link split or merged the
    /// client's writes (an impairment), and the firmware's debug log shows
    /// every read it made.
    WithoutDebugLines,
    /// The wire only: there is no serial log (a board without `--serial`).
    WireOnly,
}

/// The part of a snapshot text that `scope` covers.
pub fn view(text: &str, scope: Scope) -> String {
    let text = normalize_for_compare(text);
    match scope {
        Scope::Full => text,
        Scope::WireOnly => text
            .lines()
            .take_while(|l| !l.starts_with("serial log ("))
            .collect::<Vec<_>>()
            .join("\n"),
        Scope::WithoutDebugLines => text
            .lines()
            .filter(|l| !(l.starts_with("  D (") || l.starts_with("  V (")))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// Compares the part of `new` that `scope` covers with the same part of
/// the snapshot at `path`. A partial view is never written: it would
/// replace a whole snapshot with less.
pub fn check_scoped(
    path: &Path,
    new: &str,
    input_file: &str,
    update: Update,
    scope: Scope,
) -> std::io::Result<Outcome> {
    if scope == Scope::Full {
        return check(path, new, input_file, update);
    }
    Ok(match read(path)? {
        Some(old) if view(&old, scope) == view(new, scope) => Outcome::Matches,
        Some(old) => Outcome::Differs {
            old: view(&old, scope),
            written: None,
        },
        None => Outcome::New { written: None },
    })
}

/// Compares `new` with the snapshot at `path` and writes files per `update`.
pub fn check(path: &Path, new: &str, input_file: &str, update: Update) -> std::io::Result<Outcome> {
    let pending = path.with_extension("snap.new");
    let old = read(path)?;
    match old {
        Some(old) if normalize_for_compare(&old) == normalize_for_compare(new) => {
            if update == Update::Force {
                write(path, new, input_file)?;
            }
            // A stale pending file would be offered for review: drop it.
            let _ = std::fs::remove_file(&pending);
            Ok(Outcome::Matches)
        }
        Some(old) => {
            let written = match update {
                Update::Always | Update::Force => {
                    write(path, new, input_file)?;
                    let _ = std::fs::remove_file(&pending);
                    Some(path.to_path_buf())
                }
                Update::New | Update::Unseen => {
                    write(&pending, new, input_file)?;
                    Some(pending)
                }
                Update::No => None,
            };
            Ok(Outcome::Differs { old, written })
        }
        None => {
            let written = match update {
                Update::Always | Update::Force | Update::Unseen => {
                    write(path, new, input_file)?;
                    let _ = std::fs::remove_file(&pending);
                    Some(path.to_path_buf())
                }
                Update::New => {
                    write(&pending, new, input_file)?;
                    Some(pending)
                }
                Update::No => None,
            };
            Ok(Outcome::New { written })
        }
    }
}

/// A snapshot waiting for review: `pending` (`x.snap.new`) would become
/// `snapshot` (`x.snap`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub pending: PathBuf,
    pub snapshot: PathBuf,
}

impl Pending {
    /// How review names it: the snapshot's file stem (`echo`, `echo@v4.2`).
    pub fn name(&self) -> String {
        self.snapshot
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Makes the pending snapshot the snapshot.
    pub fn accept(&self) -> std::io::Result<()> {
        std::fs::rename(&self.pending, &self.snapshot)
    }

    /// Drops the pending snapshot.
    pub fn reject(&self) -> std::io::Result<()> {
        std::fs::remove_file(&self.pending)
    }

    /// The diff from the snapshot to the pending one, or the whole pending
    /// one when there is no snapshot yet.
    pub fn diff(&self) -> std::io::Result<String> {
        let new = read(&self.pending)?.unwrap_or_default();
        Ok(match read(&self.snapshot)? {
            Some(old) => diff(&old, &new),
            None => normalize_for_compare(&new)
                .lines()
                .map(|l| format!("+{l}\n"))
                .collect(),
        })
    }
}

/// Every `*.snap.new` under `paths` (folders searched recursively, build
/// folders and hidden ones left out), sorted.
pub fn pending(paths: &[PathBuf]) -> std::io::Result<Vec<Pending>> {
    let mut out = Vec::new();
    let mut todo: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = todo.pop() {
        let meta = std::fs::metadata(&p)?;
        if meta.is_dir() {
            for e in std::fs::read_dir(&p)? {
                let e = e?;
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') || name == "target" || name == "esp-ws-artifacts" {
                    continue;
                }
                let child = e.path();
                if child.is_dir() {
                    todo.push(child);
                } else if name.ends_with(".snap.new") {
                    out.push(child);
                }
            }
        } else if p.to_string_lossy().ends_with(".snap.new") {
            out.push(p);
        }
    }
    out.sort();
    out.dedup();
    Ok(out
        .into_iter()
        .map(|pending| Pending {
            snapshot: pending.with_extension(""),
            pending,
        })
        .collect())
}

/// A unified diff of two snapshot texts, for the terminal.
pub fn diff(old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(&normalize_for_compare(old), &normalize_for_compare(new))
        .unified_diff()
        .context_radius(3)
        .header("snapshot", "this run")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_files_read_back_and_carry_insta_front_matter() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("snapshots/x.snap");
        write(&p, "line 1\nline 2\n\n", "scenarios/x.json").unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(
            text,
            "---\nsource: scenarios/x.json\nexpression: snapshot\ninput_file: scenarios/x.json\n---\nline 1\nline 2\n"
        );
        assert_eq!(read(&p).unwrap().as_deref(), Some("line 1\nline 2\n"));
        assert_eq!(read(&dir.path().join("none.snap")).unwrap(), None);
    }

    /// INSTA_UPDATE as insta 1.49 reads it (env.rs).
    #[test]
    fn insta_update_values_mean_what_they_mean_to_insta() {
        assert_eq!(Update::parse(None, false), Ok(Update::New));
        assert_eq!(Update::parse(Some("auto"), true), Ok(Update::No));
        assert_eq!(Update::parse(Some(""), true), Ok(Update::No));
        assert_eq!(Update::parse(Some("1"), true), Ok(Update::Always));
        assert_eq!(Update::parse(Some("always"), false), Ok(Update::Always));
        assert_eq!(Update::parse(Some("force"), false), Ok(Update::Force));
        assert_eq!(Update::parse(Some("unseen"), false), Ok(Update::Unseen));
        assert_eq!(Update::parse(Some("no"), false), Ok(Update::No));
        assert!(
            Update::parse(Some("yes"), false)
                .unwrap_err()
                .contains("INSTA_UPDATE=\"yes\"")
        );
    }

    #[test]
    fn force_rewrites_a_matching_snapshot_with_a_fresh_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.snap");
        std::fs::write(&p, "---\nsource: old.rs\nexpression: snapshot\n---\na\n").unwrap();
        assert!(matches!(
            check(&p, "a", "i.json", Update::Always).unwrap(),
            Outcome::Matches
        ));
        assert!(std::fs::read_to_string(&p).unwrap().contains("old.rs"));
        assert!(matches!(
            check(&p, "a", "i.json", Update::Force).unwrap(),
            Outcome::Matches
        ));
        assert!(
            std::fs::read_to_string(&p)
                .unwrap()
                .contains("source: i.json")
        );
    }

    #[test]
    fn yaml_strings_are_quoted_when_needed() {
        assert_eq!(yaml_string("scenarios/a-b_c.json"), "scenarios/a-b_c.json");
        assert_eq!(yaml_string("has space"), "\"has space\"");
        assert_eq!(yaml_string("-dash"), "\"-dash\"");
        assert_eq!(yaml_string("q\"uote"), "\"q\\\"uote\"");
    }

    #[test]
    fn update_modes_write_where_insta_would() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.snap");
        let pending = dir.path().join("s.snap.new");
        // New snapshot: `no` writes nothing, `new` a pending file, `always` the snapshot.
        assert!(matches!(
            check(&p, "a", "i", Update::No).unwrap(),
            Outcome::New { written: None }
        ));
        assert!(!pending.exists() && !p.exists());
        assert!(matches!(
            check(&p, "a", "i", Update::New).unwrap(),
            Outcome::New { written: Some(_) }
        ));
        assert!(pending.exists() && !p.exists());
        let o = check(&p, "a", "i", Update::Always).unwrap();
        assert!(o.passed(true));
        assert!(p.exists() && !pending.exists());
        // Trailing whitespace does not count, like insta.
        assert!(matches!(
            check(&p, "a\n\n", "i", Update::No).unwrap(),
            Outcome::Matches
        ));
        // A change: `unseen` writes a pending file for an existing snapshot.
        match check(&p, "b", "i", Update::Unseen).unwrap() {
            Outcome::Differs {
                old,
                written: Some(w),
            } => {
                assert_eq!(old.trim(), "a");
                assert_eq!(w, pending);
            }
            other => panic!("{other:?}"),
        }
        // Matching again removes the stale pending file.
        assert!(matches!(
            check(&p, "a", "i", Update::No).unwrap(),
            Outcome::Matches
        ));
        assert!(!pending.exists());
    }

    #[test]
    fn diffs_show_both_sides() {
        let d = diff("x\ny\n", "x\nz\n");
        assert!(d.contains("-y") && d.contains("+z"), "{d}");
    }
}
