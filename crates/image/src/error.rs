//! Everything that can be wrong with a build directory or a merged image.

use std::path::PathBuf;

use crate::chip::{Chip, FlashSize, chip_desc, size_name};

/// Why no bootable image could be made or accepted.
///
/// Each message names the file (its path as `flasher_args.json` writes it,
/// relative to the build directory, or the merged image's name), its flash
/// offset in hex, and what was expected instead, because the user fixes
/// these by looking at that file or at the partition table.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Neither the directory nor its `build/` holds a `flasher_args.json`.
    #[error(
        "no flasher_args.json in {} (expected an esp-idf build directory, as written by `idf.py build`)",
        .dir.display()
    )]
    NoFlasherArgs { dir: PathBuf },

    /// A file exists but cannot be read (a directory, no permission, …).
    #[error("cannot read {file}: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },

    /// `flasher_args.json` is not JSON at all.
    #[error("{file} is not valid json: {message}")]
    Json { file: String, message: String },

    /// A key `flasher_args.json` always has is absent.
    #[error("{file} has no \"{key}\"")]
    MissingKey { file: String, key: String },

    /// A key of `flasher_args.json` has the wrong shape.
    #[error("{file}: {message}")]
    BadArgs { file: String, message: String },

    /// An offset that is not `0x`-prefixed hex fitting 32 bits.
    #[error("{file}: offset \"{text}\" in \"{key}\" is not a hex number like \"0x1000\"")]
    BadOffset {
        file: String,
        key: String,
        text: String,
    },

    /// `flash_settings.flash_size` is none of esptool's sizes.
    #[error(
        "{file}: flash_size \"{text}\" is not one of 1MB, 2MB, 4MB, 8MB, 16MB, 32MB, 64MB, 128MB, keep or detect"
    )]
    BadFlashSize { file: String, text: String },

    /// `extra_esptool_args.chip` is none of the chips we know.
    #[error(
        "{file}: chip \"{text}\" is not one of esp32, esp32s2, esp32c3, esp32s3, esp32c2, esp32c6, esp32h2 or esp32p4"
    )]
    BadChip { file: String, text: String },

    /// A file `flash_files` lists is not in the build directory.
    #[error("{file} at {offset:#x}: no such file in the build directory")]
    MissingFile { file: String, offset: u32 },

    /// Two files would be written over each other.
    #[error(
        "{file} at {offset:#x}..{end:#x} overlaps {other} at {other_offset:#x}..{other_end:#x}"
    )]
    Overlap {
        file: String,
        offset: u32,
        end: u64,
        other: String,
        other_offset: u32,
        other_end: u64,
    },

    /// The flash size (from `flasher_args.json` or the caller) is one QEMU
    /// cannot emulate.
    #[error("{origin} {} is not supported by qemu (it takes 2MB, 4MB, 8MB or 16MB)", size_name(*.size))]
    UnsupportedSize { origin: String, size: u32 },

    /// `keep`/`detect`, and the files reach past the largest QEMU flash.
    #[error(
        "{origin} {setting}: the files end at {end:#x}, beyond the largest flash qemu supports (16MB)"
    )]
    TooBigForQemu {
        origin: String,
        setting: FlashSize,
        end: u64,
    },

    /// A file reaches past the end of the flash.
    #[error("{file} at {offset:#x} ends at {end:#x}, beyond the {} flash ({flash_size:#x} bytes)", size_name(*.flash_size))]
    BeyondFlash {
        file: String,
        offset: u32,
        end: u64,
        flash_size: u32,
    },

    /// `flash_files` lacks one of the three files every boot needs.
    #[error("{file}: flash_files has no {what} (expected one at {expected:#x})")]
    MissingPart {
        file: String,
        what: String,
        expected: u32,
    },

    /// The bootloader is not where the chip's ROM looks for it.
    #[error("{file} at {offset:#x}: the {chip} bootloader belongs at {expected:#x}")]
    BootloaderOffset {
        file: String,
        offset: u32,
        chip: Chip,
        expected: u32,
    },

    /// The bootloader or app is not a valid app image.
    #[error("{file} at {offset:#x} is not a valid app image: {message}")]
    BadAppImage {
        file: String,
        offset: u32,
        message: String,
    },

    /// An image built for another chip.
    #[error("{file} at {offset:#x} is built for {}, not for {expected} (chip id {})", chip_desc(*.found), .expected.chip_id())]
    WrongChip {
        file: String,
        offset: u32,
        found: u16,
        expected: Chip,
    },

    /// The partition table does not parse or validate.
    #[error("{file} at {offset:#x} is not a valid partition table: {message}")]
    PartitionTable {
        file: String,
        offset: u32,
        message: String,
    },

    /// A partition reaches past the end of the flash.
    #[error(
        "{file} at {offset:#x}: partition \"{name}\" at {part_offset:#x}..{part_end:#x} ends beyond the {} flash ({flash_size:#x} bytes)",
        size_name(*.flash_size)
    )]
    PartitionBeyondFlash {
        file: String,
        offset: u32,
        name: String,
        part_offset: u32,
        part_end: u64,
        flash_size: u32,
    },

    /// The app is not written where the bootloader would look for it.
    #[error(
        "{file} at {offset:#x} is not at the start of an app partition of {table} ({candidates})"
    )]
    NotAtAppPartition {
        file: String,
        offset: u32,
        table: String,
        candidates: String,
    },

    /// The app does not fit in its partition.
    #[error(
        "{file} at {offset:#x} is {len:#x} bytes, more than its partition \"{partition}\" holds ({size:#x} bytes)"
    )]
    AppTooBig {
        file: String,
        offset: u32,
        len: u64,
        partition: String,
        size: u32,
    },

    /// `otadata` is not where the partition table puts the OTA data.
    #[error(
        "{file} at {offset:#x} is not at the start of a data/ota partition of {table} ({candidates})"
    )]
    NotAtOtaPartition {
        file: String,
        offset: u32,
        table: String,
        candidates: String,
    },

    /// A merged image whose size QEMU does not accept.
    #[error("{name} is {len} bytes ({len:#x}), not 2MB, 4MB, 8MB or 16MB as qemu needs")]
    MergedSize { name: String, len: usize },

    /// A merged image with no bootloader where the ROM looks.
    #[error("{name} has no {chip} bootloader at {offset:#x}: {reason}")]
    NoBootloader {
        name: String,
        offset: u32,
        chip: Chip,
        reason: String,
    },

    /// A merged image with no app in the partition the bootloader boots.
    #[error("{name} has no app image at {offset:#x} (partition \"{partition}\"): {reason}")]
    NoApp {
        name: String,
        offset: u32,
        partition: String,
        reason: String,
    },
}
