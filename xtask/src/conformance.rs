//! `cargo xtask conformance-report`: the checked-in conformance reports of
//! each server family's default firmware (conformance/reports/<profile>/)
//! and the README's side-by-side table made from their baselines.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use esp_ws_catalogue::Role;
use esp_ws_conform::Baseline;
use esp_ws_conform::report::{Column, comparison};

use crate::{esp_ws, project_root};

/// The files of a checked-in report (the rest of a report folder, JSON per
/// case and JUnit, is left out: JUnit carries times).
pub const REPORT_FILES: &[&str] = &["summary.md", "index.html"];

/// Where the table sits in README.md.
const BEGIN: &str = "<!-- conformance-comparison: made by `cargo xtask conformance-report` from conformance/baselines/ -->";
const END: &str = "<!-- conformance-comparison end -->";

/// The firmwares whose reports are checked in: each server family's
/// default, so the table compares the servers a user chooses between.
pub fn reported() -> Vec<(&'static str, &'static str)> {
    esp_ws_catalogue::families()
        .iter()
        .filter(|f| f.role == Role::Server)
        .map(|f| (f.name, f.default_firmware))
        .collect()
}

/// The README table from the checked-in baselines.
pub fn table(root: &Path) -> anyhow::Result<String> {
    let mut baselines = Vec::new();
    for (family, profile) in reported() {
        let path = root.join(format!("conformance/baselines/{profile}.json"));
        baselines.push((
            format!("{family} ({profile})"),
            format!("conformance/reports/{profile}/summary.md"),
            Baseline::load(&path)?,
        ));
    }
    let columns: Vec<Column> = baselines
        .iter()
        .map(|(heading, report, baseline)| Column {
            heading,
            report,
            baseline,
        })
        .collect();
    Ok(comparison(&columns))
}

/// `readme` with the text between the markers replaced by `table`.
pub fn splice(readme: &str, table: &str) -> anyhow::Result<String> {
    let (Some(b), Some(e)) = (readme.find(BEGIN), readme.find(END)) else {
        anyhow::bail!("README.md: the conformance table's markers are missing ({BEGIN} ... {END})");
    };
    anyhow::ensure!(
        b < e,
        "README.md: the conformance table's end marker comes first"
    );
    let after_begin = b + BEGIN.len();
    Ok(format!(
        "{}\n{}{}",
        &readme[..after_begin],
        table,
        &readme[e..]
    ))
}

/// `esp-ws conform --firmware P` into a scratch folder for each reported
/// firmware, its Markdown and HTML into conformance/reports/P/, then the
/// README's table.
pub fn run() -> anyhow::Result<ExitCode> {
    let root = project_root();
    let scratch = std::env::temp_dir().join(format!("esp-ws-conformance-{}", std::process::id()));
    for (_, profile) in reported() {
        let dir = scratch.join(profile);
        let artifacts = scratch.join("artifacts");
        let code = esp_ws(
            &[
                "conform",
                "--firmware",
                profile,
                // One instance runs the cases in order: the firmware's
                // state carried between cases is the same on every machine.
                "--jobs",
                "1",
                "--report-dir",
                &dir.to_string_lossy(),
                "--artifacts",
                &artifacts.to_string_lossy(),
            ],
            &[],
        )?;
        if code != ExitCode::SUCCESS {
            println!("kept: {}", scratch.display());
            return Ok(code);
        }
        let dest: PathBuf = root.join("conformance/reports").join(profile);
        std::fs::create_dir_all(&dest)?;
        for f in REPORT_FILES {
            std::fs::copy(dir.join(f), dest.join(f))?;
            println!("wrote {}", dest.join(f).display());
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let readme = root.join("README.md");
    let text = std::fs::read_to_string(&readme)?;
    std::fs::write(&readme, splice(&text, &table(&root)?)?)?;
    println!("wrote the conformance table in {}", readme.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table in README.md is the one the checked-in baselines make
    /// (which tests/conform.rs holds to the model).
    #[test]
    fn the_readme_table_is_made_from_the_baselines() {
        let root = project_root();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let expected = splice(&readme, &table(&root).unwrap()).unwrap();
        assert!(
            readme == expected,
            "README.md's conformance table is out of date: run `cargo xtask conformance-report`"
        );
    }

    #[test]
    fn every_server_family_is_reported_once() {
        let r = reported();
        assert!(r.len() >= 3, "{r:?}");
        for (_, p) in &r {
            assert!(esp_ws_catalogue::find(p).is_some(), "{p}");
        }
    }
}
