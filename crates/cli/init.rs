//! `esp-ws init`: scaffolds esp-ws in a firmware repository: a first
//! scenario for the firmware's WebSocket route and, on request, a CI
//! workflow that runs the scenarios on QEMU (and on ESP-IDF's linux target
//! where the project builds for it). Existing files are left as they are.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::run::usage;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Ci {
    /// A GitHub Actions workflow (.github/workflows/esp-ws.yml).
    Github,
}

#[derive(Args)]
pub struct InitArgs {
    /// The firmware's WebSocket route (the `uri` of its httpd_uri_t).
    #[arg(long, default_value = "/ws")]
    pub uri: String,
    /// The text message the first scenario sends.
    #[arg(long, default_value = "hello from esp-ws")]
    pub message: String,
    /// The route does not echo: the scenario sends the message and expects
    /// no particular reply (the serial log snapshot shows what happened).
    #[arg(long)]
    pub no_echo: bool,
    /// Also write a CI workflow.
    #[arg(long, value_enum)]
    pub ci: Option<Ci>,
    /// The git URL the CI workflow installs esp-ws from [default: the
    /// repository variable ESP_WS_GIT].
    #[arg(long, value_name = "URL")]
    pub esp_ws_git: Option<String>,
    /// Add the job that runs the scenarios on a build for ESP-IDF's linux
    /// target [default: when the project has sdkconfig.defaults.linux or
    /// its sdkconfig targets linux].
    #[arg(long)]
    pub linux: bool,
    /// The firmware repository [default: the current folder].
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,
}

/// The QEMU overlay the workflow builds with (the one `cargo xtask
/// build-firmware` uses).
const SDKCONFIG_QEMU: &str = include_str!("../../fixtures/qemu/sdkconfig.qemu");

pub fn main(args: InitArgs) -> ExitCode {
    if !args.uri.starts_with('/') {
        return usage(format!(
            "--uri {}: expected a path starting with /, e.g. /ws",
            args.uri
        ));
    }
    if !args.dir.is_dir() {
        return usage(format!(
            "--dir {}: not a folder (run esp-ws init in your firmware repository)",
            args.dir.display()
        ));
    }
    let name = scenario_name(&args.uri);
    let mut files: Vec<(PathBuf, String)> = vec![(
        PathBuf::from("scenarios").join(format!("{name}.json")),
        first_scenario(&name, &args),
    )];
    let mut notes = Vec::new();
    if args.ci == Some(Ci::Github) {
        let project = project_name(&args.dir);
        let linux = match (args.linux, builds_for_linux(&args.dir)) {
            (true, _) => Some("--linux".to_string()),
            (false, Some(why)) => Some(why),
            (false, None) => None,
        };
        match (&linux, &project) {
            (Some(why), Some(_)) => notes.push(format!("a linux-target job too ({why})")),
            (Some(_), None) => notes.push(
                "no linux-target job: no project(NAME) in CMakeLists.txt to name the build's program".into(),
            ),
            (None, _) => notes.push(
                "no linux-target job: the project does not build for ESP-IDF's linux target (add sdkconfig.defaults.linux, or pass --linux)".into(),
            ),
        }
        let linux_project = linux.and(project);
        files.push((
            PathBuf::from(".github/workflows/esp-ws.yml"),
            github_workflow(args.esp_ws_git.as_deref(), linux_project.as_deref()),
        ));
        files.push((
            PathBuf::from("ci/sdkconfig.qemu"),
            SDKCONFIG_QEMU.to_string(),
        ));
    }
    for (rel, text) in &files {
        let path = args.dir.join(rel);
        if path.exists() {
            println!("{:>12} {} (it exists)", "Kept", rel.display());
            continue;
        }
        if let Err(e) = write(&path, text) {
            return usage(format!("cannot write {}: {e}", path.display()));
        }
        println!("{:>12} {}", "Wrote", rel.display());
    }
    for n in notes {
        println!("{:>12} {n}", "Note");
    }
    println!();
    println!("Next:");
    println!("  esp-ws validate scenarios");
    println!(
        "  esp-ws run scenarios --target qemu --firmware build-qemu --ready 'Returned from app_main'"
    );
    println!("  esp-ws review     # accept the first snapshot of your firmware's log");
    ExitCode::SUCCESS
}

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(path, text)
}

/// `/ws` → `ws-first`, `/` → `root-first`, `/api/v1/socket` →
/// `api-v1-socket-first`.
fn scenario_name(uri: &str) -> String {
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    let words: Vec<String> = path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if words.is_empty() {
        "root-first".into()
    } else {
        format!("{}-first", words.join("-"))
    }
}

fn first_scenario(name: &str, args: &InitArgs) -> String {
    let mut steps = vec![
        serde_json::json!({"open": {
            "path": args.uri,
            "comment": "the opening handshake: esp-ws checks the 101 and its Sec-WebSocket-Accept"
        }}),
        serde_json::json!({"send": {"text": args.message}}),
    ];
    if !args.no_echo {
        steps.push(serde_json::json!({"expect_frame": {
            "opcode": "text",
            "text": args.message,
            "comment": "the reply of an echoing handler; change it to what yours sends"
        }}));
    }
    steps.extend([
        serde_json::json!({"send": {"opcode": "close", "code": 1000}}),
        serde_json::json!({"expect_close": {
            "comment": "esp_http_server answers a CLOSE with an empty CLOSE"
        }}),
        serde_json::json!({"expect_closed": {}}),
    ]);
    let scenario = serde_json::json!({
        "version": 1,
        "name": name,
        "description": format!(
            "A first scenario for {}, written by esp-ws init: the opening handshake, one text message{}, and a clean close. The firmware's serial log at info level is held as a snapshot next to this file (esp-ws review shows it).",
            args.uri,
            if args.no_echo { "" } else { " and its echo" }
        ),
        "log_level": "info",
        "steps": steps,
    });
    let mut text = serde_json::to_string_pretty(&scenario).expect("JSON");
    text.push('\n');
    text
}

/// `project(NAME)` of the top-level CMakeLists.txt: the name of the
/// program a linux-target build produces (`build/NAME.elf`).
fn project_name(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("CMakeLists.txt")).ok()?;
    let at = text.find("project(")? + "project(".len();
    let name: String = text[at..]
        .chars()
        .skip_while(|c| c.is_whitespace())
        .take_while(|c| !c.is_whitespace() && *c != ')')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Why the project looks like it builds for ESP-IDF's linux target.
fn builds_for_linux(dir: &Path) -> Option<String> {
    if dir.join("sdkconfig.defaults.linux").is_file() {
        return Some("the project has sdkconfig.defaults.linux".into());
    }
    let sdkconfig = std::fs::read_to_string(dir.join("sdkconfig")).unwrap_or_default();
    sdkconfig
        .lines()
        .any(|l| l.trim() == "CONFIG_IDF_TARGET=\"linux\"")
        .then(|| "its sdkconfig targets linux".into())
}

fn github_workflow(git: Option<&str>, linux_project: Option<&str>) -> String {
    let git_line = match git {
        Some(url) => format!("  ESP_WS_GIT: {url}\n"),
        None => "  # The git URL esp-ws is installed from: set the repository variable\n  # ESP_WS_GIT (Settings > Secrets and variables > Actions > Variables).\n  ESP_WS_GIT: ${{ vars.ESP_WS_GIT }}\n".to_string(),
    };
    let mut y = format!(
        r#"# Written by `esp-ws init --ci github`: runs the WebSocket scenarios in
# scenarios/ against this firmware under Espressif's QEMU{linux_note}.
name: esp-ws

on: [push, pull_request]

env:
{git_line}
jobs:
  qemu:
    runs-on: ubuntu-latest
    container: espressif/idf:v5.5.5
    steps:
      - uses: actions/checkout@v4
      - name: Install Rust and esp-ws
        run: |
          test -n "$ESP_WS_GIT" || {{ echo "::error::ESP_WS_GIT is not set: the git URL of esp-ws"; exit 1; }}
          curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
          $HOME/.cargo/bin/cargo install --locked --git "$ESP_WS_GIT" esp-ws
      - name: Install Espressif's QEMU
        run: python $IDF_PATH/tools/idf_tools.py install qemu-xtensa
      - name: Build for QEMU and run the scenarios
        run: |
          . $IDF_PATH/export.sh
          # Ethernet instead of Wi-Fi, no IPv6, 4 MB flash: see ci/sdkconfig.qemu.
          defaults=ci/sdkconfig.qemu
          if [ -f sdkconfig.defaults ]; then defaults="sdkconfig.defaults;$defaults"; fi
          idf.py -B build-qemu -DSDKCONFIG=build-qemu/sdkconfig -DSDKCONFIG_DEFAULTS="$defaults" build
          # Ready once ESP-IDF's main task has returned from app_main();
          # add --ready REGEX for a line your firmware prints once it serves.
          $HOME/.cargo/bin/esp-ws run scenarios --target qemu --firmware build-qemu \
            --ready 'Returned from app_main' \
            --junit reports/junit-qemu.xml --report-json reports/results-qemu.json
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: esp-ws-qemu
          path: |
            esp-ws-artifacts
            reports
"#,
        linux_note = if linux_project.is_some() {
            ", and on a build for ESP-IDF's linux target"
        } else {
            ""
        },
    );
    if let Some(project) = linux_project {
        y.push_str(&format!(
            r#"
  linux:
    runs-on: ubuntu-latest
    container: espressif/idf:v5.5.5
    steps:
      - uses: actions/checkout@v4
      - name: Install Rust and esp-ws
        run: |
          test -n "$ESP_WS_GIT" || {{ echo "::error::ESP_WS_GIT is not set: the git URL of esp-ws"; exit 1; }}
          curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
          $HOME/.cargo/bin/cargo install --locked --git "$ESP_WS_GIT" esp-ws
      - name: Build for the linux target and run the scenarios
        run: |
          . $IDF_PATH/export.sh
          idf.py -B build-linux --preview set-target linux
          idf.py -B build-linux build
          # The program serves on the firmware's own port (80): one instance.
          $HOME/.cargo/bin/esp-ws run scenarios --target exec --port 80 \
            --ready 'Returned from app_main' \
            --junit reports/junit-linux.xml --report-json reports/results-linux.json \
            -- build-linux/{project}.elf
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: esp-ws-linux
          path: |
            esp-ws-artifacts
            reports
"#
        ));
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_come_from_the_route() {
        assert_eq!(scenario_name("/ws"), "ws-first");
        assert_eq!(scenario_name("/"), "root-first");
        assert_eq!(scenario_name("/api/v1/Socket?x=1"), "api-v1-socket-first");
    }

    #[test]
    fn the_project_name_is_read_from_cmakelists() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(project_name(d.path()), None);
        std::fs::write(
            d.path().join("CMakeLists.txt"),
            "cmake_minimum_required(VERSION 3.16)\ninclude($ENV{IDF_PATH}/tools/cmake/project.cmake)\nproject( my_fw )\n",
        )
        .unwrap();
        assert_eq!(project_name(d.path()).as_deref(), Some("my_fw"));
    }
}
