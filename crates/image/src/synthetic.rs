//! Synthetic ESP-IDF build output: app images in ESP-IDF's format,
//! partition tables and `flasher_args.json`, made on the fly. For testing
//! tools that read build directories (this crate's tests, esp-ws's QEMU
//! launch path) without checking in binaries or needing ESP-IDF.

use std::path::Path;

use esp_idf_part::PartitionTable;
use sha2::{Digest, Sha256};

/// ESP-IDF's single-app layout (`partitions_singleapp.csv`).
pub const FACTORY_CSV: &str = "\
# Name,   Type, SubType, Offset,  Size, Flags
nvs,      data, nvs,     0x9000,  0x6000,
phy_init, data, phy,     0xf000,  0x1000,
factory,  app,  factory, 0x10000, 1M,
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
pub fn partition_table(csv: &str) -> Vec<u8> {
    PartitionTable::try_from_str(csv)
        .expect("a valid partition CSV")
        .to_bin()
        .expect("the table encodes")
}

/// Writes an ESP32 `ws_echo_server` build directory (bootloader at 0x1000,
/// single-app partition table at 0x8000, app at 0x10000) of the given
/// flash size (`"4MB"`).
pub fn write_build_dir(dir: &Path, flash_size: &str) -> std::io::Result<()> {
    let files: [(&str, Vec<u8>); 3] = [
        ("bootloader/bootloader.bin", bootloader(0)),
        (
            "partition_table/partition-table.bin",
            partition_table(FACTORY_CSV),
        ),
        ("ws_echo_server.bin", app(0)),
    ];
    for (rel, bytes) in &files {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(p, bytes)?;
    }
    let args = serde_json::json!({
        "write_flash_args": ["--flash_mode", "dio", "--flash_size", flash_size, "--flash_freq", "40m"],
        "flash_settings": { "flash_mode": "dio", "flash_size": flash_size, "flash_freq": "40m" },
        "flash_files": {
            "0x1000": "bootloader/bootloader.bin",
            "0x8000": "partition_table/partition-table.bin",
            "0x10000": "ws_echo_server.bin"
        },
        "bootloader": { "offset": "0x1000", "file": "bootloader/bootloader.bin", "encrypted": "false" },
        "partition-table": { "offset": "0x8000", "file": "partition_table/partition-table.bin", "encrypted": "false" },
        "app": { "offset": "0x10000", "file": "ws_echo_server.bin", "encrypted": "false" },
        "extra_esptool_args": { "after": "hard_reset", "before": "default_reset", "stub": true, "chip": "esp32" }
    });
    std::fs::write(
        dir.join("flasher_args.json"),
        serde_json::to_string_pretty(&args).expect("JSON"),
    )
}
