//! An ESP-IDF build directory, as `build/flasher_args.json` describes it.
//!
//! ESP-IDF writes that file from `components/esptool_py/flasher_args.json.in`
//! for `idf.py flash`: `flash_files` maps every offset to the file written
//! there; named entries (`bootloader`, `app`, `partition-table`, `otadata`,
//! and any a component adds) say which file is which.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::chip::{Chip, FlashSize, parse_offset};
use crate::error::ImageError;

pub(crate) const FLASHER_ARGS: &str = "flasher_args.json";

/// Top-level keys of `flasher_args.json` that are not named flash entries.
const NOT_ENTRIES: [&str; 4] = [
    "write_flash_args",
    "flash_settings",
    "flash_files",
    "extra_esptool_args",
];

/// One file `idf.py flash` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashFile {
    /// Flash offset.
    pub offset: u32,
    /// The path as `flasher_args.json` gives it, relative to the build
    /// directory; used in messages.
    pub rel: String,
    /// The path to read.
    pub path: PathBuf,
    /// The named entry this file is (`bootloader`, `app`,
    /// `partition-table`, `otadata`, …), if any.
    pub role: Option<String>,
    /// The named entry says `"encrypted": "true"`: esptool would encrypt
    /// the file with the device key while flashing.
    pub encrypted: bool,
}

/// What `flasher_args.json` says about a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildDir {
    /// The directory holding `flasher_args.json`.
    pub dir: PathBuf,
    /// `extra_esptool_args.chip` (`esp32` when absent, as in ESP-IDF
    /// versions that did not write it and only supported the ESP32).
    pub chip: Chip,
    /// `flash_settings.flash_mode` (`keep` when absent).
    pub flash_mode: String,
    /// `flash_settings.flash_size`.
    pub flash_size: FlashSize,
    /// `flash_settings.flash_freq` (`keep` when absent).
    pub flash_freq: String,
    /// Every file of `flash_files`, sorted by offset.
    pub files: Vec<FlashFile>,
}

/// Reads `flasher_args.json` from `dir`, or from `dir/build` when `dir` is
/// the project directory rather than the build directory.
///
/// Only `flasher_args.json` is read: whether the files it lists exist and
/// are valid is checked by [`crate::assemble`], which has to read them
/// anyway.
pub fn read_build_dir(dir: &Path) -> Result<BuildDir, ImageError> {
    let dir = if !dir.join(FLASHER_ARGS).exists() && dir.join("build").join(FLASHER_ARGS).is_file()
    {
        dir.join("build")
    } else {
        dir.to_path_buf()
    };
    let bytes = match std::fs::read(dir.join(FLASHER_ARGS)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ImageError::NoFlasherArgs { dir });
        }
        Err(source) => {
            return Err(ImageError::Read {
                file: FLASHER_ARGS.to_string(),
                source,
            });
        }
    };
    let json: Value = serde_json::from_slice(&bytes).map_err(|e| ImageError::Json {
        file: FLASHER_ARGS.to_string(),
        message: e.to_string(),
    })?;
    let Some(top) = json.as_object() else {
        return Err(bad_args("the top level is not a json object"));
    };

    let chip = match top.get("extra_esptool_args").and_then(|a| a.get("chip")) {
        None => Chip::Esp32,
        Some(Value::String(text)) => text.parse().map_err(|_| ImageError::BadChip {
            file: FLASHER_ARGS.to_string(),
            text: text.clone(),
        })?,
        Some(_) => return Err(bad_args("\"extra_esptool_args\".\"chip\" is not a string")),
    };

    let settings = object(top, "flash_settings")?;
    let flash_size = match settings.get("flash_size") {
        None => return Err(missing("flash_settings.flash_size")),
        Some(Value::String(text)) => text.parse().map_err(|_| ImageError::BadFlashSize {
            file: FLASHER_ARGS.to_string(),
            text: text.clone(),
        })?,
        Some(_) => {
            return Err(bad_args(
                "\"flash_settings\".\"flash_size\" is not a string",
            ));
        }
    };
    // Mode and frequency do not shape the image; esptool's "keep" is what
    // not passing them means.
    let flash_mode = optional_string(settings, "flash_settings", "flash_mode")?;
    let flash_freq = optional_string(settings, "flash_settings", "flash_freq")?;

    let flash_files = object(top, "flash_files")?;
    if flash_files.is_empty() {
        return Err(bad_args("\"flash_files\" is empty"));
    }
    let mut files = Vec::with_capacity(flash_files.len());
    for (key, value) in flash_files {
        let offset = offset(key, "flash_files")?;
        let Some(rel) = value.as_str() else {
            return Err(bad_args(&format!(
                "\"flash_files\".\"{key}\" is not a string"
            )));
        };
        files.push(FlashFile {
            offset,
            rel: rel.to_string(),
            path: dir.join(rel),
            role: None,
            encrypted: false,
        });
    }
    files.sort_by_key(|f| f.offset);

    for (key, value) in top {
        if NOT_ENTRIES.contains(&key.as_str()) {
            continue;
        }
        // Named entries look like {"offset": "0x1000", "file": "…", "encrypted": "false"};
        // anything else at the top level is not ours to judge.
        let Some(entry) = value.as_object() else {
            continue;
        };
        let (Some(off), Some(file)) = (entry.get("offset"), entry.get("file")) else {
            continue;
        };
        let (Some(off), Some(file)) = (off.as_str(), file.as_str()) else {
            return Err(bad_args(&format!(
                "\"{key}\" has an offset or file that is not a string"
            )));
        };
        let off = offset(off, key)?;
        // An entry whose offset is not in flash_files is not flashed by
        // `idf.py flash` (e.g. the bootloader under secure boot), so it is
        // not part of the image either.
        let Some(f) = files.iter_mut().find(|f| f.offset == off) else {
            continue;
        };
        if f.rel != file {
            return Err(bad_args(&format!(
                "\"{key}\" names {file} at {off:#x}, but flash_files has {} there",
                f.rel
            )));
        }
        if f.role.is_none() {
            f.role = Some(key.clone());
        }
        // ESP-IDF writes "true"/"false" as strings; accept a JSON bool too.
        f.encrypted |= matches!(entry.get("encrypted"), Some(Value::Bool(true)))
            || entry.get("encrypted").and_then(Value::as_str) == Some("true");
    }

    Ok(BuildDir {
        dir,
        chip,
        flash_mode,
        flash_size,
        flash_freq,
        files,
    })
}

fn object<'a>(
    top: &'a Map<String, Value>,
    key: &str,
) -> Result<&'a Map<String, Value>, ImageError> {
    match top.get(key) {
        None => Err(missing(key)),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(bad_args(&format!("\"{key}\" is not an object"))),
    }
}

fn optional_string(
    map: &Map<String, Value>,
    parent: &str,
    key: &str,
) -> Result<String, ImageError> {
    match map.get(key) {
        None => Ok("keep".to_string()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(bad_args(&format!("\"{parent}\".\"{key}\" is not a string"))),
    }
}

fn offset(text: &str, key: &str) -> Result<u32, ImageError> {
    parse_offset(text).ok_or_else(|| ImageError::BadOffset {
        file: FLASHER_ARGS.to_string(),
        key: key.to_string(),
        text: text.to_string(),
    })
}

fn missing(key: &str) -> ImageError {
    ImageError::MissingKey {
        file: FLASHER_ARGS.to_string(),
        key: key.to_string(),
    }
}

fn bad_args(message: &str) -> ImageError {
    ImageError::BadArgs {
        file: FLASHER_ARGS.to_string(),
        message: message.to_string(),
    }
}
