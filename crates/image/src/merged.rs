//! A merged flash image (`esptool merge_bin --fill-flash-size …`, or one
//! made by [`crate::assemble`] earlier): one file standing for the whole
//! flash, checked as the boot chain reads it.

use crate::app::{AppImage, HEADER_LEN, parse_app_image};
use crate::assemble::check_partitions_fit;
use crate::chip::{Chip, QEMU_FLASH_SIZES};
use crate::error::ImageError;
use crate::partitions::{self, PartitionInfo};

/// What a merged image holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedImage {
    pub flash_size: u32,
    pub bootloader: AppImage,
    pub partitions: Vec<PartitionInfo>,
    /// Offset of the app partition checked (the first in the table).
    pub app_offset: u32,
    pub app: AppImage,
}

/// Checks a merged image named `name` (for messages) for `chip`, with its
/// partition table at `partition_table_offset` (0x8000 unless the firmware
/// sets `CONFIG_PARTITION_TABLE_OFFSET`).
///
/// The size must be one QEMU takes; the chip's bootloader must be at the
/// offset its ROM reads; the partition table must be valid and fit; and the
/// first app partition in table order (the factory partition in ESP-IDF's
/// layouts, which the bootloader boots while the OTA data is blank) must
/// hold a valid app for the chip.
pub fn check_merged(
    bytes: &[u8],
    name: &str,
    chip: Chip,
    partition_table_offset: u32,
) -> Result<MergedImage, ImageError> {
    let len = bytes.len();
    let Some(flash_size) = u32::try_from(len)
        .ok()
        .filter(|n| QEMU_FLASH_SIZES.contains(n))
    else {
        return Err(ImageError::MergedSize {
            name: name.to_string(),
            len,
        });
    };

    let boot_at = chip.bootloader_offset();
    let bootloader = parse_app_image(&bytes[boot_at as usize..]).map_err(|message| {
        ImageError::NoBootloader {
            name: name.to_string(),
            offset: boot_at,
            chip,
            reason: erased_or(&bytes[boot_at as usize..], message),
        }
    })?;
    check_chip(&bootloader, name, boot_at, chip)?;

    let table_at = partition_table_offset as usize;
    if table_at >= len {
        return Err(ImageError::PartitionTable {
            file: name.to_string(),
            offset: partition_table_offset,
            message: format!("the offset is past the end of the {len:#x}-byte image"),
        });
    }
    let parts =
        partitions::parse_table(&bytes[table_at..], partition_table_offset).map_err(|message| {
            ImageError::PartitionTable {
                file: name.to_string(),
                offset: partition_table_offset,
                message,
            }
        })?;
    check_partitions_fit(&parts, name, partition_table_offset, flash_size)?;

    // esp-idf-part already rejects tables without an app partition; this
    // only keeps a future version that does not from panicking here.
    let part = parts
        .iter()
        .find(|p| partitions::is_app(p))
        .ok_or_else(|| ImageError::PartitionTable {
            file: name.to_string(),
            offset: partition_table_offset,
            message: "it has no app partition".to_string(),
        })?;
    let app_at = part.offset();
    // The partition lies within the image: checked just above.
    let region = &bytes[app_at as usize..(app_at + part.size()) as usize];
    let app = parse_app_image(region).map_err(|message| ImageError::NoApp {
        name: name.to_string(),
        offset: app_at,
        partition: part.name(),
        reason: erased_or(region, message),
    })?;
    check_chip(&app, name, app_at, chip)?;

    Ok(MergedImage {
        flash_size,
        bootloader,
        partitions: parts.iter().map(PartitionInfo::from).collect(),
        app_offset: app_at,
        app,
    })
}

/// Erased flash where an image should start says "nothing was written
/// here", which is clearer than the bad magic it also is.
fn erased_or(region: &[u8], message: String) -> String {
    let head = &region[..region.len().min(HEADER_LEN)];
    if !head.is_empty() && head.iter().all(|&b| b == 0xFF) {
        "the flash there is erased (all 0xff)".to_string()
    } else {
        message
    }
}

fn check_chip(image: &AppImage, name: &str, offset: u32, chip: Chip) -> Result<(), ImageError> {
    if image.chip_id == chip.chip_id() {
        Ok(())
    } else {
        Err(ImageError::WrongChip {
            file: name.to_string(),
            offset,
            found: image.chip_id,
            expected: chip,
        })
    }
}
