//! The architecture invariants of ARCHITECTURE.md, checked (as
//! rust-analyzer's tidy tests do): each failure names the file and line and
//! the rule it breaks.

mod common;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use common::{esp_ws, root, text};

/// Crates that do no I/O: they are fed bytes, text and time and give back
/// values (`image` and `scenario` read the files they are given).
const PURE: &[&str] = &[
    "esp-ws-catalogue",
    "esp-ws-log",
    "esp-ws-frame",
    "esp-ws-scenario",
    "esp-ws-sim",
    "esp-ws-image",
];

/// Crates a pure crate must not depend on, directly or not: async
/// runtimes, sockets, processes, serial ports, terminals.
const IO_CRATES: &[&str] = &[
    "tokio",
    "mio",
    "socket2",
    "nix",
    "serialport",
    "tungstenite",
    "tokio-tungstenite",
    "indicatif",
];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Lines of code (comments left out) that contain `needle`, as `file:line`.
fn code_lines_with(files: &[PathBuf], needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if line.contains(needle) {
                let rel = f.strip_prefix(root()).unwrap_or(f).display().to_string();
                hits.push(format!("{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    hits
}

fn src_of(krate: &str) -> PathBuf {
    root()
        .join("crates")
        .join(krate.trim_start_matches("esp-ws-"))
        .join("src")
}

#[test]
fn pure_crates_depend_on_no_io_crate() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    // Normal (not dev, not build) dependencies of each package.
    let mut deps: HashMap<&str, Vec<&str>> = HashMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let id = node["id"].as_str().unwrap();
        let normal = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            })
            .map(|d| d["pkg"].as_str().unwrap())
            .collect();
        deps.insert(id, normal);
    }
    let mut problems = Vec::new();
    for krate in PURE {
        let (id, _) = names
            .iter()
            .find(|(_, n)| *n == krate)
            .unwrap_or_else(|| panic!("{krate} is not in the workspace"));
        // Breadth first, remembering how each crate was reached.
        let mut via: HashMap<&str, &str> = HashMap::new();
        let mut queue = VecDeque::from([*id]);
        let mut seen = BTreeSet::from([*id]);
        while let Some(p) = queue.pop_front() {
            for d in deps.get(p).into_iter().flatten() {
                if seen.insert(d) {
                    via.insert(d, p);
                    queue.push_back(d);
                }
            }
        }
        for d in &seen {
            if IO_CRATES.contains(&names[d]) {
                let mut chain = vec![names[d]];
                let mut at = *d;
                while let Some(p) = via.get(at) {
                    chain.push(names[p]);
                    at = p;
                }
                chain.reverse();
                problems.push(chain.join(" -> "));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "pure crates must not depend on I/O crates (ARCHITECTURE.md, `crates/*` invariants):\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn pure_crates_open_no_sockets_and_start_no_processes() {
    let mut hits = Vec::new();
    for krate in PURE {
        let files = rust_files(&src_of(krate));
        for needle in ["std::net", "std::process", "tokio::"] {
            hits.extend(code_lines_with(&files, needle));
        }
    }
    assert!(
        hits.is_empty(),
        "a pure crate does I/O (ARCHITECTURE.md invariants):\n  {}",
        hits.join("\n  ")
    );
}

/// The conformance suite's case table, judge, records, baselines and
/// reports are pure: only its driver talks to targets.
#[test]
fn the_conformance_case_table_and_judge_do_no_io() {
    let src = root().join("crates/conform/src");
    let mut files: Vec<PathBuf> = [
        "case.rs",
        "table.rs",
        "judge.rs",
        "record.rs",
        "baseline.rs",
    ]
    .iter()
    .map(|f| src.join(f))
    .collect();
    files.extend(rust_files(&src.join("report")));
    assert!(files.iter().all(|f| f.is_file()), "{files:?}");
    let mut hits = Vec::new();
    for needle in [
        "std::net",
        "std::process",
        "tokio::",
        "esp_ws_dut",
        "esp_ws_client",
        "esp_ws_runner",
    ] {
        hits.extend(code_lines_with(&files, needle));
    }
    assert!(
        hits.is_empty(),
        "the case table, the judge and the reports are pure (ARCHITECTURE.md, esp-ws-conform); only drive.rs talks to targets:\n  {}",
        hits.join("\n  ")
    );
}

#[test]
fn only_the_process_module_spawns_processes() {
    let process = root().join("crates/dut/src/process.rs");
    let mut files = Vec::new();
    for e in std::fs::read_dir(root().join("crates")).unwrap().flatten() {
        files.extend(rust_files(&e.path()).into_iter().filter(|f| {
            // Tests drive real processes on purpose.
            !f.components().any(|c| c.as_os_str() == "tests") && *f != process
        }));
    }
    let mut hits = code_lines_with(&files, "Command::new(");
    hits.extend(code_lines_with(&files, ".spawn()"));
    assert!(
        hits.is_empty(),
        "only crates/dut/src/process.rs may start a process (ARCHITECTURE.md, esp-ws-dut):\n  {}",
        hits.join("\n  ")
    );
    // And it does: the invariant is not vacuous.
    assert!(!code_lines_with(&[process], ".spawn()").is_empty());
}

/// esp-ws's own long flags, from its help texts.
fn esp_ws_flags() -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    let re = regex::Regex::new(r"(?m)^\s+(?:-\w, )?(--[a-z][a-z0-9-]+)").unwrap();
    for sub in [
        "run",
        "serve",
        "conform",
        "sim",
        "validate",
        "schema",
        "flash-image",
    ] {
        let out = esp_ws().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success(), "esp-ws {sub} --help");
        for c in re.captures_iter(&text(&out.stdout)) {
            flags.insert(c[1].to_string());
        }
    }
    // clap's own.
    flags.remove("--help");
    flags.remove("--version");
    flags
}

#[test]
fn command_line_flags_are_named_only_in_the_cli() {
    let flags = esp_ws_flags();
    assert!(
        flags.contains("--firmware") && flags.contains("--host"),
        "{flags:?}"
    );
    let mut files = Vec::new();
    for e in std::fs::read_dir(root().join("crates")).unwrap().flatten() {
        if e.file_name() == "cli" {
            continue;
        }
        files.extend(
            rust_files(&e.path())
                .into_iter()
                .filter(|f| !f.components().any(|c| c.as_os_str() == "tests")),
        );
    }
    let mut hits = Vec::new();
    for f in &flags {
        // A flag in a string: `"--host` or ` --host` inside quotes.
        let word = regex::Regex::new(&format!(r#"["\s]{}\b"#, regex::escape(f))).unwrap();
        for hit in code_lines_with(&files, f) {
            let code = hit.splitn(3, ':').nth(2).unwrap_or("");
            if code.contains('"') && word.is_match(code) {
                hits.push(hit);
            }
        }
    }
    assert!(
        hits.is_empty(),
        "flag names belong to the CLI (crates/cli): the library crates say what is wrong, the CLI names the flag:\n  {}",
        hits.join("\n  ")
    );
}

#[test]
fn every_scenario_known_bug_is_one_the_catalogue_lists_for_those_profiles() {
    let files = esp_ws_runner::discover::find(&[root().join("scenarios")])
        .unwrap()
        .files;
    let mut problems = Vec::new();
    for f in &files {
        let s = esp_ws_scenario::load_file(f).unwrap();
        for b in &s.known_bugs {
            for id in b.issue.split(", ") {
                if esp_ws_catalogue::known_bug(id).is_none() {
                    problems.push(format!("{}: {id:?} is not a catalogue bug", f.display()));
                    continue;
                }
                for fw in &b.firmware {
                    let carried = esp_ws_catalogue::find(fw).is_some_and(|p| p.has_known_bug(id));
                    if !carried {
                        problems.push(format!(
                            "{}: the catalogue does not list {id:?} as a bug of {fw}",
                            f.display()
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_simulator_models_every_catalogue_profile_and_no_other() {
    let catalogue: Vec<&str> = esp_ws_catalogue::firmwares()
        .iter()
        .map(|f| f.name)
        .collect();
    let simulated: Vec<&str> = esp_ws_sim::profile::all().iter().map(|p| p.name).collect();
    assert_eq!(
        catalogue, simulated,
        "crates/catalogue/src/lib.rs and crates/sim/src/profile.rs list the same profiles, in the same order"
    );
}

/// `use crate::X` or `crate::X::` in a line of code.
fn names_module(files: &[PathBuf], module: &str) -> Vec<String> {
    let mut hits = code_lines_with(files, &format!("crate::{module}::"));
    hits.extend(code_lines_with(files, &format!("crate::{module};")));
    hits.extend(code_lines_with(files, &format!("crate::{module}}}")));
    hits.extend(code_lines_with(files, &format!("crate::{module},")));
    hits.extend(code_lines_with(files, &format!("crate::{{{module}")));
    hits
}

#[test]
fn each_layer_of_the_model_names_only_what_lies_below_it() {
    let sim = root().join("crates/sim/src");
    let chip = rust_files(&sim.join("chip"));
    let idf = rust_files(&sim.join("idf"));
    assert!(!chip.is_empty() && !idf.is_empty());
    let mut hits = Vec::new();
    for above in ["idf", "firmware", "profile"] {
        hits.extend(names_module(&chip, above));
    }
    for above in ["firmware", "profile"] {
        hits.extend(names_module(&idf, above));
    }
    assert!(
        hits.is_empty(),
        "a layer of crates/sim names one above it (ARCHITECTURE.md, crates/sim: chip/ names nothing above it, idf/ names no firmware):\n  {}",
        hits.join("\n  ")
    );
}

#[test]
fn no_file_of_the_esp_http_server_model_names_an_application() {
    let files = rust_files(&root().join("crates/sim/src/idf/esp_http_server"));
    assert!(!files.is_empty());
    // What the example application is called, and what it does.
    let app = regex::Regex::new(
        r"(?i)\b(ws_echo_server|echo_handler|echo|trigger async|ws_async_send|app_main|firmware)\b",
    )
    .unwrap();
    let mut hits = Vec::new();
    for f in &files {
        for (i, line) in std::fs::read_to_string(f).unwrap().lines().enumerate() {
            if app.is_match(line) {
                let rel = f.strip_prefix(root()).unwrap().display();
                hits.push(format!("{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "esp_http_server calls what applications register; it names none (ARCHITECTURE.md, crates/sim):\n  {}",
        hits.join("\n  ")
    );
}

/// UI lives in the CLI (ARCHITECTURE.md, `crates/cli`): no library crate
/// depends on a terminal-UI crate (spinners, colour), so every library
/// writes plain text and the front end decides how it looks.
#[test]
fn no_library_crate_draws_ui() {
    const UI_CRATES: &[&str] = &[
        "indicatif",
        "anstream",
        "anstyle",
        "owo-colors",
        "colored",
        "console",
        "termcolor",
        "yansi",
    ];
    let mut problems = Vec::new();
    for e in std::fs::read_dir(root().join("crates")).unwrap() {
        let manifest = e.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        // Only [dependencies]: tests and benches may use anything.
        let mut in_deps = false;
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with('[') {
                in_deps = t == "[dependencies]";
                continue;
            }
            let name = t.split(['=', ' ', '.']).next().unwrap_or_default();
            if in_deps && UI_CRATES.contains(&name) {
                problems.push(format!("{}: {name}", manifest.display()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "library crates must not draw UI (the CLI does, in crates/cli/ui.rs):\n  {}",
        problems.join("\n  ")
    );
}
