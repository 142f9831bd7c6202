//! Build directories generated on the fly: app images in ESP-IDF's format,
//! partition tables written by esp-idf-part from CSV, and the
//! `flasher_args.json` ESP-IDF writes. Nothing binary is checked in.

use std::path::Path;

use esp_ws_image::{Assembled, FlashSize, ImageError, assemble, read_build_dir};
use serde_json::{Value, json};

pub const MIB: u32 = 1024 * 1024;

pub use esp_ws_image::synthetic::FACTORY_CSV;

/// ESP-IDF's two-OTA layout (`partitions_two_ota.csv`), for a 4MB flash.
pub const OTA_CSV: &str = "\
# Name,   Type, SubType, Offset,   Size, Flags
nvs,      data, nvs,     0x9000,   0x4000,
otadata,  data, ota,     0xd000,   0x2000,
phy_init, data, phy,     0xf000,   0x1000,
factory,  app,  factory, 0x10000,  1M,
ota_0,    app,  ota_0,   0x110000, 1M,
ota_1,    app,  ota_1,   0x210000, 1M,
";

pub use esp_ws_image::synthetic::{app, bootloader, pattern};

/// A binary partition table made by esp-idf-part.
pub fn table(csv: &str) -> Vec<u8> {
    esp_ws_image::synthetic::partition_table(csv)
}

pub const BOOTLOADER: &str = "bootloader/bootloader.bin";
pub const TABLE: &str = "partition_table/partition-table.bin";
pub const APP: &str = "ws_echo_server.bin";
pub const OTADATA: &str = "ota_data_initial.bin";

/// A build directory in a tempdir.
pub struct Build {
    pub dir: tempfile::TempDir,
    pub args: Value,
}

impl Build {
    /// The ESP32 `ws_echo_server` build of the brief: 2MB, single app.
    pub fn new() -> Build {
        let b = Build {
            dir: tempfile::tempdir().unwrap(),
            args: json!({
                "write_flash_args": ["--flash_mode", "dio", "--flash_size", "2MB", "--flash_freq", "40m"],
                "flash_settings": { "flash_mode": "dio", "flash_size": "2MB", "flash_freq": "40m" },
                "flash_files": { "0x1000": BOOTLOADER, "0x10000": APP, "0x8000": TABLE },
                "bootloader": { "offset": "0x1000", "file": BOOTLOADER, "encrypted": "false" },
                "app": { "offset": "0x10000", "file": APP, "encrypted": "false" },
                "partition-table": { "offset": "0x8000", "file": TABLE, "encrypted": "false" },
                "extra_esptool_args": { "after": "hard_reset", "before": "default_reset", "stub": true, "chip": "esp32" }
            }),
        };
        b.write(BOOTLOADER, &bootloader(0));
        b.write(TABLE, &table(FACTORY_CSV));
        b.write(APP, &app(0));
        b.save();
        b
    }

    /// The same with the two-OTA layout: 4MB, and `ota_data_initial.bin`.
    pub fn ota() -> Build {
        let mut b = Build::new();
        b.args["flash_settings"]["flash_size"] = json!("4MB");
        b.write(TABLE, &table(OTA_CSV));
        b.add(Some("otadata"), 0xd000, OTADATA, &[0xFF; 0x2000]);
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, bytes: &[u8]) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path().join(rel)).unwrap()
    }

    /// Changes a file in place.
    pub fn patch(&self, rel: &str, f: impl FnOnce(&mut Vec<u8>)) {
        let mut bytes = self.read(rel);
        f(&mut bytes);
        self.write(rel, &bytes);
    }

    pub fn save(&self) {
        let text = serde_json::to_string_pretty(&self.args).unwrap();
        std::fs::write(self.path().join("flasher_args.json"), text).unwrap();
    }

    /// Adds a file to `flash_files` (and a named entry for `role`).
    pub fn add(&mut self, role: Option<&str>, offset: u32, rel: &str, bytes: &[u8]) {
        let off = format!("{offset:#x}");
        self.args["flash_files"][&off] = json!(rel);
        if let Some(role) = role {
            self.args[role] = json!({ "offset": off, "file": rel, "encrypted": "false" });
        }
        self.write(rel, bytes);
        self.save();
    }

    /// Moves the file at `from` to `to`, in `flash_files` and its named
    /// entry, as a build for another layout would have it.
    pub fn relocate(&mut self, from: u32, to: u32) {
        let (from, to) = (format!("{from:#x}"), format!("{to:#x}"));
        let files = self.args["flash_files"].as_object_mut().unwrap();
        let rel = files.remove(&from).unwrap();
        files.insert(to.clone(), rel);
        for (_, entry) in self.args.as_object_mut().unwrap() {
            if entry.get("offset") == Some(&json!(from)) {
                entry["offset"] = json!(to);
            }
        }
        self.save();
    }

    pub fn assemble_with(&self, size: Option<FlashSize>) -> Result<Assembled, ImageError> {
        assemble(&read_build_dir(self.path())?, size)
    }

    pub fn assemble(&self) -> Result<Assembled, ImageError> {
        self.assemble_with(None)
    }

    /// The message of the error assembling must fail with.
    pub fn error(&self) -> String {
        match self.assemble() {
            Ok(_) => panic!("assembling {} succeeded", self.path().display()),
            Err(e) => e.to_string(),
        }
    }
}
