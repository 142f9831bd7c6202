//! Flash images for Espressif's QEMU fork, which boots the *real* ESP-IDF
//! firmware from one file that stands for the whole SPI flash.
//!
//! Two inputs are understood:
//!
//! - an ESP-IDF build directory ([`read_build_dir`], then [`assemble`]):
//!   `flasher_args.json` lists every file `idf.py flash` writes and where;
//!   the image is those files laid at their offsets in a buffer of erased
//!   flash (0xFF) of one of the sizes QEMU accepts;
//! - a merged image, e.g. from `esptool merge_bin` ([`check_merged`]),
//!   which is only checked.
//!
//! Either way the input is validated the way the boot chain would see it
//! (the ROM loads the 2nd-stage bootloader, which reads the partition table
//! and loads the app), because a broken image does not fail in QEMU with a
//! useful message: it resets in a loop, or prints a ROM error and hangs. So
//! every failure here is an [`ImageError`] naming the file, the flash offset
//! and what was expected instead.
//!
//! [`esp32_default_efuse`] provides the eFuse file QEMU needs next to the
//! flash image.
//!
//! The crate is pure logic except for reading the build directory's files:
//! no network, no processes, no async. Partition tables are parsed by
//! Espressif's `esp-idf-part` crate, so that this crate agrees with the
//! Rust tooling (espflash) on what a valid table is.

mod app;
mod assemble;
mod build;
mod chip;
mod efuse;
mod error;
mod merged;
mod partitions;
pub mod synthetic;

pub use app::{AppImage, parse_app_image};
pub use assemble::{Assembled, Placed, assemble};
pub use build::{BuildDir, FlashFile, read_build_dir};
pub use chip::{Chip, FlashSize, ParseChipError, ParseFlashSizeError, QEMU_FLASH_SIZES, size_name};
pub use efuse::esp32_default_efuse;
pub use error::ImageError;
pub use merged::{MergedImage, check_merged};
pub use partitions::{DEFAULT_PARTITION_TABLE_OFFSET, PartitionInfo};
