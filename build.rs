//! Records the git commit esp-ws is built from, for `esp-ws --version`
//! (a build outside a git checkout, e.g. from a crate archive, says so).

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "not built from a git checkout".into());
    println!("cargo:rustc-env=ESP_WS_GIT_COMMIT={commit}");
    // A new commit, a change of branch or of the work tree gives a new
    // version string: watch HEAD, the branch it points at, and the index
    // (git says where they are, in a worktree too).
    let git_path = |p: &str| {
        Command::new("git")
            .args(["rev-parse", "--git-path", p])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let mut watch = vec!["HEAD".to_string(), "index".into(), "packed-refs".into()];
    if let Some(head) = git_path("HEAD")
        && let Ok(text) = std::fs::read_to_string(&head)
        && let Some(r) = text.trim().strip_prefix("ref: ")
    {
        watch.push(r.to_string());
    }
    for f in watch.iter().filter_map(|w| git_path(w)) {
        if std::path::Path::new(&f).exists() {
            println!("cargo:rerun-if-changed={f}");
        }
    }
}
