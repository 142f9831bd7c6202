//! Firmware inputs for QEMU: an ESP-IDF build directory, assembled into a
//! flash image in Rust, or a merged flash image, checked; and
//! `esp-ws flash-image`, which does the assembly on its own.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use esp_ws_image::{Chip, FlashSize};

use crate::EXIT_USAGE;

#[derive(Args)]
pub struct FlashImageArgs {
    /// An ESP-IDF build directory (with flasher_args.json).
    pub build_dir: PathBuf,
    /// Where to write the image.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Flash size (2MB, 4MB, 8MB, 16MB) [default: the build's flash_settings].
    #[arg(long, value_name = "SIZE")]
    pub flash_size: Option<FlashSize>,
}

/// The build directory behind `path`: the directory itself, or its `build/`.
fn build_dir_of(path: &Path) -> Option<PathBuf> {
    if path.join("flasher_args.json").is_file() {
        Some(path.to_path_buf())
    } else if path.join("build").join("flasher_args.json").is_file() {
        Some(path.join("build"))
    } else {
        None
    }
}

fn assemble(dir: &Path, size: Option<FlashSize>) -> Result<esp_ws_image::Assembled, String> {
    let build = esp_ws_image::read_build_dir(dir).map_err(|e| e.to_string())?;
    let a = esp_ws_image::assemble(&build, size).map_err(|e| e.to_string())?;
    for w in &a.warnings {
        eprintln!("warning: {w}");
    }
    Ok(a)
}

/// The flash image QEMU boots, from a build directory or a merged image.
/// The user's files are only read.
pub fn load_firmware(path: &Path, size: Option<FlashSize>) -> Result<Vec<u8>, String> {
    if !path.exists() {
        return Err(format!(
            "--firmware {}: no such build directory or flash image (--firmware is ./build unless given). \
             Build the firmware for QEMU first: in this repository `cargo xtask build-firmware [--project DIR]` \
             builds into target/firmware/<project> and prints the --firmware to pass; in a firmware project, \
             `idf.py -B build-qemu -DSDKCONFIG=build-qemu/sdkconfig -DSDKCONFIG_DEFAULTS=\"sdkconfig.defaults;sdkconfig.qemu\" build`, \
             then --firmware build-qemu (README: Firmware CI with QEMU)",
            path.display()
        ));
    }
    if path.is_dir() {
        let dir = build_dir_of(path).ok_or_else(|| {
            format!(
                "{}: not an ESP-IDF build directory (no flasher_args.json in it or in its build/); build the firmware with `idf.py build` or pass a merged flash image",
                path.display()
            )
        })?;
        return Ok(assemble(&dir, size)?.image);
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if size.is_some() {
        return Err(format!(
            "{}: --flash-size applies to build directories; a merged image keeps its size",
            path.display()
        ));
    }
    esp_ws_image::check_merged(&bytes, &path.display().to_string(), Chip::Esp32, 0x8000)
        .map_err(|e| e.to_string())?;
    Ok(bytes)
}

pub fn main(args: FlashImageArgs) -> ExitCode {
    let Some(dir) = build_dir_of(&args.build_dir) else {
        eprintln!(
            "error: {}: not an ESP-IDF build directory (no flasher_args.json)",
            args.build_dir.display()
        );
        return ExitCode::from(EXIT_USAGE);
    };
    let a = match assemble(&dir, args.flash_size) {
        Ok(a) => a,
        Err(e) => {
            anstream::eprintln!("{} {e}", crate::ui::error_prefix());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Err(e) = std::fs::write(&args.output, &a.image) {
        anstream::eprintln!(
            "{} {}: {e}",
            crate::ui::error_prefix(),
            args.output.display()
        );
        return ExitCode::from(EXIT_USAGE);
    }
    println!(
        "{}: {} flash image",
        args.output.display(),
        esp_ws_image::size_name(a.flash_size)
    );
    for p in &a.layout {
        println!(
            "  0x{:06x}..0x{:06x} {}{}",
            p.offset,
            p.offset + p.len,
            p.rel,
            p.role
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
    }
    for p in &a.partitions {
        println!(
            "  partition {:<12} {}/{} at 0x{:06x}, {} bytes",
            p.name, p.ty, p.subtype, p.offset, p.size
        );
    }
    ExitCode::SUCCESS
}
