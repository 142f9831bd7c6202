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
    // version string: watch HEAD, the branch it points at, and the index.
    let mut watch = vec![".git/HEAD".to_string(), ".git/index".into(), ".git/packed-refs".into()];
    if let Ok(head) = std::fs::read_to_string(".git/HEAD")
        && let Some(r) = head.trim().strip_prefix("ref: ")
    {
        watch.push(format!(".git/{r}"));
    }
    for f in watch {
        if std::path::Path::new(&f).exists() {
            println!("cargo:rerun-if-changed={f}");
        }
    }
}
