//! From a build directory to the flash image QEMU boots.

use serde::Serialize;

use crate::app::{self, AppImage, parse_app_image};
use crate::build::{BuildDir, FLASHER_ARGS, FlashFile};
use crate::chip::{Chip, FlashSize, QEMU_FLASH_SIZES, size_name};
use crate::error::ImageError;
use crate::partitions::{self, DEFAULT_PARTITION_TABLE_OFFSET, PartitionInfo};

/// Where a file went in the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placed {
    pub offset: u32,
    pub len: u32,
    pub rel: String,
    pub role: Option<String>,
}

/// A flash image ready for QEMU, and what is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembled {
    /// Exactly `flash_size` bytes.
    pub image: Vec<u8>,
    pub flash_size: u32,
    /// The files, by offset.
    pub layout: Vec<Placed>,
    /// The partition table, in table order.
    pub partitions: Vec<PartitionInfo>,
    /// Things that do not stop QEMU from booting the image but may make the
    /// firmware behave differently than on hardware.
    pub warnings: Vec<String>,
}

const ORIGIN_ARGS: &str = "flasher_args.json: flash_size";
const ORIGIN_CALLER: &str = "requested flash size";

struct Loaded<'a> {
    file: &'a FlashFile,
    bytes: Vec<u8>,
}

impl Loaded<'_> {
    fn end(&self) -> u64 {
        u64::from(self.file.offset) + self.bytes.len() as u64
    }

    fn rel(&self) -> String {
        self.file.rel.clone()
    }
}

/// Lays every file of the build at its offset in erased flash (0xFF) of
/// the flash size: `size` when given, else `flash_settings.flash_size`.
///
/// Before that it checks what would keep the image from booting: every
/// file exists, none overlaps another or runs past the flash, the size is
/// one QEMU takes, the bootloader sits where the chip's ROM looks and is a
/// valid image for the chip, the partition table is valid and fits, the
/// app is a valid image for the chip at the start of an app partition it
/// fits in, and `otadata` (if flashed) is at the OTA data partition.
pub fn assemble(build: &BuildDir, size: Option<FlashSize>) -> Result<Assembled, ImageError> {
    let mut files: Vec<&FlashFile> = build.files.iter().collect();
    // `BuildDir` is public, so it may not come from `read_build_dir`.
    files.sort_by_key(|f| f.offset);
    let mut loaded = Vec::with_capacity(files.len());
    for file in files {
        loaded.push(Loaded {
            file,
            bytes: read(file)?,
        });
    }

    check_overlaps(&loaded)?;

    let end = loaded.iter().map(Loaded::end).max().unwrap_or(0);
    let (setting, origin) = match size {
        Some(s) => (s, ORIGIN_CALLER),
        None => (build.flash_size, ORIGIN_ARGS),
    };
    let flash_size = resolve_size(setting, origin, end)?;
    for l in &loaded {
        if l.end() > u64::from(flash_size) {
            return Err(ImageError::BeyondFlash {
                file: l.rel(),
                offset: l.file.offset,
                end: l.end(),
                flash_size,
            });
        }
    }

    let mut warnings = Vec::new();

    let bootloader = check_bootloader(&loaded, build.chip)?;
    if let Some(header_size) = app::header_flash_size(&bootloader.bytes)
        && header_size != flash_size
    {
        // The bootloader header's size is what the firmware believes the
        // flash to be. Larger than the image, ESP-IDF's flash driver stops
        // with "Detected size ... smaller than the size in the binary image
        // header"; smaller, the rest of the image goes unused. Neither is
        // the image's fault, hence a warning.
        warnings.push(format!(
            "{} at {:#x}: its header says {} flash, but the image is {}",
            bootloader.file.rel,
            bootloader.file.offset,
            size_name(header_size),
            size_name(flash_size)
        ));
    }

    let table_file =
        find(&loaded, "partition-table", DEFAULT_PARTITION_TABLE_OFFSET).ok_or_else(|| {
            ImageError::MissingPart {
                file: FLASHER_ARGS.to_string(),
                what: "partition table".to_string(),
                expected: DEFAULT_PARTITION_TABLE_OFFSET,
            }
        })?;
    let parts =
        partitions::parse_table(&table_file.bytes, table_file.file.offset).map_err(|message| {
            ImageError::PartitionTable {
                file: table_file.rel(),
                offset: table_file.file.offset,
                message,
            }
        })?;
    check_partitions_fit(
        &parts,
        &table_file.file.rel,
        table_file.file.offset,
        flash_size,
    )?;

    check_app(&loaded, &parts, build.chip, table_file)?;
    check_otadata(&loaded, &parts, table_file)?;

    let mut image = vec![0xFF; flash_size as usize];
    let mut layout = Vec::with_capacity(loaded.len());
    for l in &loaded {
        let at = l.file.offset as usize;
        image[at..at + l.bytes.len()].copy_from_slice(&l.bytes);
        layout.push(Placed {
            offset: l.file.offset,
            // Fits: it ends within a flash of at most 16 MiB.
            len: l.bytes.len() as u32,
            rel: l.rel(),
            role: l.file.role.clone(),
        });
        if l.file.encrypted {
            warnings.push(format!(
                "{} at {:#x} is marked encrypted; it is laid out as plaintext, because qemu does not know the device key esptool would encrypt it with",
                l.file.rel, l.file.offset
            ));
        }
    }

    Ok(Assembled {
        image,
        flash_size,
        layout,
        partitions: parts.iter().map(PartitionInfo::from).collect(),
        warnings,
    })
}

fn read(file: &FlashFile) -> Result<Vec<u8>, ImageError> {
    std::fs::read(&file.path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ImageError::MissingFile {
                file: file.rel.clone(),
                offset: file.offset,
            }
        } else {
            ImageError::Read {
                file: file.rel.clone(),
                source: e,
            }
        }
    })
}

/// Files are sorted by offset, so each only needs comparing with the
/// furthest-reaching file before it.
fn check_overlaps(loaded: &[Loaded]) -> Result<(), ImageError> {
    let mut furthest: Option<&Loaded> = None;
    for l in loaded {
        if l.bytes.is_empty() {
            continue;
        }
        if let Some(prev) = furthest
            && prev.end() > u64::from(l.file.offset)
        {
            return Err(ImageError::Overlap {
                file: l.rel(),
                offset: l.file.offset,
                end: l.end(),
                other: prev.rel(),
                other_offset: prev.file.offset,
                other_end: prev.end(),
            });
        }
        if furthest.is_none_or(|prev| l.end() > prev.end()) {
            furthest = Some(l);
        }
    }
    Ok(())
}

/// The image size: an explicit size must be one QEMU takes; `keep` and
/// `detect` leave the size to the chip, so (as pytest-embedded does) take
/// the smallest QEMU size that holds the end of the last file.
fn resolve_size(setting: FlashSize, origin: &str, end: u64) -> Result<u32, ImageError> {
    match setting {
        FlashSize::Bytes(size) if QEMU_FLASH_SIZES.contains(&size) => Ok(size),
        FlashSize::Bytes(size) => Err(ImageError::UnsupportedSize {
            origin: origin.to_string(),
            size,
        }),
        FlashSize::Keep | FlashSize::Detect => QEMU_FLASH_SIZES
            .into_iter()
            .find(|&s| u64::from(s) >= end)
            .ok_or_else(|| ImageError::TooBigForQemu {
                origin: origin.to_string(),
                setting,
                end,
            }),
    }
}

/// The file with this named role, else (for older or hand-written
/// `flasher_args.json` without named entries) the file at `fallback`.
fn find<'l, 'a>(loaded: &'l [Loaded<'a>], role: &str, fallback: u32) -> Option<&'l Loaded<'a>> {
    loaded
        .iter()
        .find(|l| l.file.role.as_deref() == Some(role))
        .or_else(|| {
            loaded
                .iter()
                .find(|l| l.file.role.is_none() && l.file.offset == fallback)
        })
}

fn check_bootloader<'l, 'a>(
    loaded: &'l [Loaded<'a>],
    chip: Chip,
) -> Result<&'l Loaded<'a>, ImageError> {
    let expected = chip.bootloader_offset();
    let boot = find(loaded, "bootloader", expected).ok_or_else(|| ImageError::MissingPart {
        file: FLASHER_ARGS.to_string(),
        what: format!("{chip} bootloader"),
        expected,
    })?;
    if boot.file.offset != expected {
        return Err(ImageError::BootloaderOffset {
            file: boot.rel(),
            offset: boot.file.offset,
            chip,
            expected,
        });
    }
    check_image(boot, chip)?;
    Ok(boot)
}

/// Parses `l` as an app image built for `chip`.
fn check_image(l: &Loaded, chip: Chip) -> Result<AppImage, ImageError> {
    let image = parse_app_image(&l.bytes).map_err(|message| ImageError::BadAppImage {
        file: l.rel(),
        offset: l.file.offset,
        message,
    })?;
    if image.chip_id != chip.chip_id() {
        return Err(ImageError::WrongChip {
            file: l.rel(),
            offset: l.file.offset,
            found: image.chip_id,
            expected: chip,
        });
    }
    Ok(image)
}

pub(crate) fn check_partitions_fit(
    parts: &[esp_idf_part::Partition],
    file: &str,
    offset: u32,
    flash_size: u32,
) -> Result<(), ImageError> {
    for p in parts {
        let end = u64::from(p.offset()) + u64::from(p.size());
        if end > u64::from(flash_size) {
            return Err(ImageError::PartitionBeyondFlash {
                file: file.to_string(),
                offset,
                name: p.name(),
                part_offset: p.offset(),
                part_end: end,
                flash_size,
            });
        }
    }
    Ok(())
}

/// The app must start an app partition: the bootloader only looks there.
fn check_app(
    loaded: &[Loaded],
    parts: &[esp_idf_part::Partition],
    chip: Chip,
    table: &Loaded,
) -> Result<(), ImageError> {
    // esp-idf-part guarantees at least one app partition.
    let first_app = parts
        .iter()
        .find(|p| partitions::is_app(p))
        .map_or(0, |p| p.offset());
    let app = find(loaded, "app", first_app).ok_or_else(|| ImageError::MissingPart {
        file: FLASHER_ARGS.to_string(),
        what: "app".to_string(),
        expected: first_app,
    })?;
    let Some(part) = parts
        .iter()
        .find(|p| partitions::is_app(p) && p.offset() == app.file.offset)
    else {
        return Err(ImageError::NotAtAppPartition {
            file: app.rel(),
            offset: app.file.offset,
            table: table.rel(),
            candidates: partitions::list(parts, partitions::is_app, "app"),
        });
    };
    if app.bytes.len() as u64 > u64::from(part.size()) {
        return Err(ImageError::AppTooBig {
            file: app.rel(),
            offset: app.file.offset,
            len: app.bytes.len() as u64,
            partition: part.name(),
            size: part.size(),
        });
    }
    check_image(app, chip)?;
    Ok(())
}

/// `ota_data_initial.bin` is made for the OTA data partition; anywhere
/// else it clobbers another partition, and it means `flasher_args.json` and
/// the partition table disagree (typically a stale build).
fn check_otadata(
    loaded: &[Loaded],
    parts: &[esp_idf_part::Partition],
    table: &Loaded,
) -> Result<(), ImageError> {
    let Some(otadata) = loaded
        .iter()
        .find(|l| l.file.role.as_deref() == Some("otadata"))
    else {
        return Ok(());
    };
    if parts
        .iter()
        .any(|p| partitions::is_otadata(p) && p.offset() == otadata.file.offset)
    {
        return Ok(());
    }
    Err(ImageError::NotAtOtaPartition {
        file: otadata.rel(),
        offset: otadata.file.offset,
        table: table.rel(),
        candidates: partitions::list(parts, partitions::is_otadata, "data/ota"),
    })
}
