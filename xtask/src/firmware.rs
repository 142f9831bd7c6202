//! `cargo xtask build-firmware`: builds an ESP-IDF project for Espressif's
//! QEMU with `idf.py`, applying `fixtures/qemu/sdkconfig.qemu` over the
//! project's own `sdkconfig.defaults`. The build goes to its own directory
//! with its own sdkconfig, so the project's files are never written.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

#[derive(clap::Args)]
pub struct Args {
    /// The ESP-IDF project [default: $IDF_PATH/examples/protocols/http_server/ws_echo_server].
    #[arg(long)]
    pub project: Option<PathBuf>,
    /// Where the build goes [default: target/firmware/<project name>].
    #[arg(long)]
    pub build_dir: Option<PathBuf>,
    /// The chip.
    #[arg(long, default_value = "esp32")]
    pub target: String,
}

/// The `idf.py` invocation (separate so that it can be checked).
pub fn idf_py_command(
    idf_path: &Path,
    project: &Path,
    build_dir: &Path,
    overlay: &Path,
    target: &str,
) -> Command {
    let mut defaults = Vec::new();
    let own = project.join("sdkconfig.defaults");
    if own.is_file() {
        defaults.push(own);
    }
    defaults.push(overlay.to_path_buf());
    let defaults = defaults
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(";");
    let mut cmd = Command::new("python3");
    cmd.arg(idf_path.join("tools").join("idf.py"))
        .arg("-C")
        .arg(project)
        .arg("-B")
        .arg(build_dir)
        .arg(format!(
            "-DSDKCONFIG={}",
            build_dir.join("sdkconfig").display()
        ))
        .arg(format!("-DSDKCONFIG_DEFAULTS={defaults}"))
        .arg(format!("-DIDF_TARGET={target}"))
        .arg("build");
    cmd
}

/// Where the example is built by default (and where `qemu-test` looks).
pub const DEFAULT_BUILD_DIR: &str = "target/firmware/ws_echo_server";

pub fn run(args: Args, idf_path: Option<PathBuf>) -> Result<ExitCode> {
    let Some(idf_path) = idf_path else {
        bail!(
            "IDF_PATH is not set: build-firmware needs ESP-IDF. Install it and run `. $IDF_PATH/export.sh` \
             (https://docs.espressif.com/projects/esp-idf/en/stable/esp32/get-started/)"
        );
    };
    let idf_py = idf_path.join("tools").join("idf.py");
    if !idf_py.is_file() {
        bail!(
            "IDF_PATH={} has no tools/idf.py: it is not an ESP-IDF checkout",
            idf_path.display()
        );
    }
    let project = args
        .project
        .unwrap_or_else(|| idf_path.join("examples/protocols/http_server/ws_echo_server"));
    if !project.join("CMakeLists.txt").is_file() {
        bail!(
            "{}: not an ESP-IDF project (no CMakeLists.txt)",
            project.display()
        );
    }
    let name = project
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "firmware".into());
    let build_dir = args
        .build_dir
        .unwrap_or_else(|| PathBuf::from("target").join("firmware").join(name));
    std::fs::create_dir_all(&build_dir)
        .with_context(|| format!("creating {}", build_dir.display()))?;
    let build_dir = build_dir.canonicalize()?;
    let overlay = Path::new("fixtures/qemu/sdkconfig.qemu").canonicalize()?;
    let mut cmd = idf_py_command(&idf_path, &project, &build_dir, &overlay, &args.target);
    eprintln!("running {cmd:?}");
    let status = cmd
        .status()
        .context("running idf.py (is python3 installed?)")?;
    if !status.success() {
        bail!(
            "idf.py failed ({status}); the build is in {}",
            build_dir.display()
        );
    }
    println!(
        "firmware built in {}\nrun it: cargo xtask qemu-test --firmware {}",
        build_dir.display(),
        build_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_idf_path_the_error_says_what_to_do() {
        let e = run(
            Args {
                project: None,
                build_dir: None,
                target: "esp32".into(),
            },
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("IDF_PATH is not set"), "{e}");
        assert!(e.contains("export.sh"), "{e}");
    }

    #[test]
    fn an_idf_path_without_idf_py_is_rejected() {
        let t = tempfile::tempdir().unwrap();
        let e = run(
            Args {
                project: None,
                build_dir: None,
                target: "esp32".into(),
            },
            Some(t.path().to_path_buf()),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("has no tools/idf.py"), "{e}");
    }

    #[test]
    fn the_overlay_comes_after_the_projects_defaults_and_the_build_is_separate() {
        let t = tempfile::tempdir().unwrap();
        let project = t.path().join("ws_echo_server");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(
            project.join("sdkconfig.defaults"),
            "CONFIG_HTTPD_WS_SUPPORT=y\n",
        )
        .unwrap();
        let cmd = idf_py_command(
            Path::new("/idf"),
            &project,
            Path::new("/out/b"),
            Path::new("/esp-ws/fixtures/qemu/sdkconfig.qemu"),
            "esp32",
        );
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args[0], "/idf/tools/idf.py");
        assert!(args.contains(&"-B".to_string()) && args.contains(&"/out/b".to_string()));
        assert!(
            args.contains(&"-DSDKCONFIG=/out/b/sdkconfig".to_string()),
            "{args:?}"
        );
        let defaults = args
            .iter()
            .find(|a| a.starts_with("-DSDKCONFIG_DEFAULTS="))
            .unwrap();
        assert_eq!(
            defaults,
            &format!(
                "-DSDKCONFIG_DEFAULTS={};/esp-ws/fixtures/qemu/sdkconfig.qemu",
                project.join("sdkconfig.defaults").display()
            )
        );
        assert_eq!(args.last().unwrap(), "build");
    }
}
