//! Build directories generated on the fly: app images in ESP-IDF's format,
//! partition tables written by esp-idf-part from CSV, and the
//! `flasher_args.json` ESP-IDF writes. Nothing binary is checked in.

use std::path::Path;

use esp_idf_part::PartitionTable;
use esp_ws_image::{Assembled, FlashSize, ImageError, assemble, read_build_dir};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const MIB: u32 = 1024 * 1024;

/// ESP-IDF's single-app layout (`partitions_singleapp.csv`), factory app at
/// 0x10000, 1M.
pub const FACTORY_CSV: &str = "\
# Name,   Type, SubType, Offset,  Size, Flags
nvs,      data, nvs,     0x9000,  0x6000,
phy_init, data, phy,     0xf000,  0x1000,
factory,  app,  factory, 0x10000, 1M,
";

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

/// `len` bytes that are neither 0xFF nor constant, so a misplaced or
/// missing copy cannot pass for erased flash or another file.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) & 0x7F)
        .collect()
}

/// An image in ESP-IDF's app image format, as esptool's `elf2image`
/// writes it: header (DIO, 40 MHz, 2MB), segments, zero padding, XOR
/// checksum, SHA-256.
pub fn app_image(chip_id: u16, entry: u32, segments: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut v = vec![0xE9, segments.len() as u8, 0x02, 0x10];
    v.extend_from_slice(&entry.to_le_bytes());
    v.push(0xEE); // wp_pin: not used
    v.extend_from_slice(&[0, 0, 0]); // spi_pin_drv
    v.extend_from_slice(&chip_id.to_le_bytes());
    v.push(0); // min_chip_rev
    v.extend_from_slice(&0u16.to_le_bytes()); // min_chip_rev_full
    v.extend_from_slice(&399u16.to_le_bytes()); // max_chip_rev_full (v3.99)
    v.extend_from_slice(&[0; 4]); // reserved
    v.push(1); // hash_appended
    assert_eq!(v.len(), 24);
    let mut checksum = 0xEFu8;
    for (load, data) in segments {
        v.extend_from_slice(&load.to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        checksum = data.iter().fold(checksum, |a, b| a ^ b);
    }
    while v.len() % 16 != 15 {
        v.push(0);
    }
    v.push(checksum);
    let digest = Sha256::digest(&v);
    v.extend_from_slice(&digest);
    v
}

/// A 2nd-stage bootloader: two segments (DRAM, IRAM).
pub fn bootloader(chip_id: u16) -> Vec<u8> {
    app_image(
        chip_id,
        0x4008_0400,
        &[
            (0x3fff_0030, pattern(0x10, 1)),
            (0x4007_8000, pattern(0x20, 2)),
        ],
    )
}

/// An app: three segments (DROM, DRAM, IROM) of 0x400, 0x100, 0x1000
/// bytes, so its checksum sits at byte 0x153f.
pub fn app(chip_id: u16) -> Vec<u8> {
    app_image(
        chip_id,
        0x4008_1000,
        &[
            (0x3f40_0020, pattern(0x400, 3)),
            (0x3ffb_0000, pattern(0x100, 4)),
            (0x400d_0020, pattern(0x1000, 5)),
        ],
    )
}

/// A binary partition table as ESP-IDF's `gen_esp32part.py` writes it
/// (entries, MD5 row, 0xFF up to 0xC00 bytes), made by esp-idf-part.
pub fn table(csv: &str) -> Vec<u8> {
    PartitionTable::try_from_str(csv).unwrap().to_bin().unwrap()
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
