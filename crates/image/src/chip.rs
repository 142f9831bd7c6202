//! Chips and flash sizes, as ESP-IDF and esptool name them.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

const MIB: u32 = 1024 * 1024;

/// The flash sizes Espressif's QEMU accepts for an image (2, 4, 8 and
/// 16 MiB): its SPI flash model only knows chips of those sizes, and it
/// refuses to start with any other image size.
pub const QEMU_FLASH_SIZES: [u32; 4] = [2 * MIB, 4 * MIB, 8 * MIB, 16 * MIB];

/// The flash sizes esptool knows for ESP32-class chips, in bytes.
const ESPTOOL_FLASH_SIZES: [u32; 8] = [
    MIB,
    2 * MIB,
    4 * MIB,
    8 * MIB,
    16 * MIB,
    32 * MIB,
    64 * MIB,
    128 * MIB,
];

/// An Espressif chip, as named by `idf.py set-target` and esptool's
/// `--chip` (the `chip` of `extra_esptool_args` in `flasher_args.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Chip {
    Esp32,
    Esp32S2,
    Esp32C3,
    Esp32S3,
    Esp32C2,
    Esp32C6,
    Esp32H2,
    Esp32P4,
}

impl Chip {
    /// Every chip, in the order of their chip ids.
    pub const ALL: [Chip; 8] = [
        Chip::Esp32,
        Chip::Esp32S2,
        Chip::Esp32C3,
        Chip::Esp32S3,
        Chip::Esp32C2,
        Chip::Esp32C6,
        Chip::Esp32H2,
        Chip::Esp32P4,
    ];

    /// The name ESP-IDF and esptool use (`esp32s3`).
    pub fn name(self) -> &'static str {
        match self {
            Chip::Esp32 => "esp32",
            Chip::Esp32S2 => "esp32s2",
            Chip::Esp32C3 => "esp32c3",
            Chip::Esp32S3 => "esp32s3",
            Chip::Esp32C2 => "esp32c2",
            Chip::Esp32C6 => "esp32c6",
            Chip::Esp32H2 => "esp32h2",
            Chip::Esp32P4 => "esp32p4",
        }
    }

    /// The `chip_id` an app image built for this chip carries in its header
    /// (`esp_chip_id_t` in ESP-IDF's `esp_app_format.h`); the bootloader
    /// refuses images whose id is not its own.
    pub fn chip_id(self) -> u16 {
        match self {
            Chip::Esp32 => 0,
            Chip::Esp32S2 => 2,
            Chip::Esp32C3 => 5,
            Chip::Esp32S3 => 9,
            Chip::Esp32C2 => 12,
            Chip::Esp32C6 => 13,
            Chip::Esp32H2 => 16,
            Chip::Esp32P4 => 18,
        }
    }

    /// The chip with this header `chip_id`, if it is one of ours.
    pub fn from_chip_id(id: u16) -> Option<Chip> {
        Chip::ALL.into_iter().find(|c| c.chip_id() == id)
    }

    /// Where the ROM looks for the 2nd-stage bootloader: fixed in each
    /// chip's mask ROM, so a bootloader anywhere else never runs.
    pub fn bootloader_offset(self) -> u32 {
        match self {
            Chip::Esp32 | Chip::Esp32S2 => 0x1000,
            Chip::Esp32P4 => 0x2000,
            Chip::Esp32C3 | Chip::Esp32S3 | Chip::Esp32C2 | Chip::Esp32C6 | Chip::Esp32H2 => 0x0,
        }
    }
}

impl fmt::Display for Chip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A chip name that is none of [`Chip::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown chip \"{0}\" (expected esp32, esp32s2, esp32c3, esp32s3, esp32c2, esp32c6, esp32h2 or esp32p4)"
)]
pub struct ParseChipError(pub String);

impl FromStr for Chip {
    type Err = ParseChipError;

    /// Accepts esptool's names (`esp32s3`) and, for convenience, the
    /// marketing spelling (`ESP32-S3`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key: String = s
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Chip::ALL
            .into_iter()
            .find(|c| c.name() == key)
            .ok_or_else(|| ParseChipError(s.to_string()))
    }
}

/// `flash_settings.flash_size` of `flasher_args.json` (esptool's
/// `--flash_size`): a size, or `keep`/`detect`, which leave the size to the
/// chip and so say nothing about how big the image must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlashSize {
    Bytes(u32),
    Keep,
    Detect,
}

/// A flash size esptool would not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown flash size \"{0}\" (expected 1MB, 2MB, 4MB, 8MB, 16MB, 32MB, 64MB, 128MB, keep or detect)"
)]
pub struct ParseFlashSizeError(pub String);

impl FromStr for FlashSize {
    type Err = ParseFlashSizeError;

    /// `2MB` … `128MB` (also `2MiB`, any case), esptool's `2MB-c1`/`4MB-c1`
    /// variants (a different chip package, the same size), `keep`, `detect`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ParseFlashSizeError(s.to_string());
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "keep" => return Ok(FlashSize::Keep),
            "detect" => return Ok(FlashSize::Detect),
            _ => {}
        }
        let base = lower.strip_suffix("-c1").unwrap_or(&lower);
        let digits = base
            .strip_suffix("mib")
            .or_else(|| base.strip_suffix("mb"))
            .ok_or_else(bad)?;
        // Digits only: `u32::from_str` would also take a leading `+`.
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let mib: u32 = digits.parse().map_err(|_| bad())?;
        mib.checked_mul(MIB)
            .filter(|bytes| ESPTOOL_FLASH_SIZES.contains(bytes))
            .map(FlashSize::Bytes)
            .ok_or_else(bad)
    }
}

impl fmt::Display for FlashSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlashSize::Bytes(n) => f.write_str(&size_name(*n)),
            FlashSize::Keep => f.write_str("keep"),
            FlashSize::Detect => f.write_str("detect"),
        }
    }
}

/// A size as esptool spells flash sizes (`4MB`); sizes that are no whole
/// number of MiB fall back to `KB` or plain bytes so nothing is rounded.
pub fn size_name(bytes: u32) -> String {
    if bytes != 0 && bytes.is_multiple_of(MIB) {
        format!("{}MB", bytes / MIB)
    } else if bytes != 0 && bytes.is_multiple_of(1024) {
        format!("{}KB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// The `0x1000` offsets of `flasher_args.json`: ESP-IDF always writes them
/// in hex with the `0x` prefix, so anything else is a broken file rather
/// than another notation to guess at.
pub(crate) fn parse_offset(text: &str) -> Option<u32> {
    let hex = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))?;
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// `esp32s3 (chip id 9)`, or `an unknown chip (chip id 77)`.
pub(crate) fn chip_desc(id: u16) -> String {
    match Chip::from_chip_id(id) {
        Some(chip) => format!("{chip} (chip id {id})"),
        None => format!("an unknown chip (chip id {id})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chips_round_trip_and_know_their_ids_and_bootloader_offsets() {
        for chip in Chip::ALL {
            assert_eq!(chip.name().parse::<Chip>(), Ok(chip));
            assert_eq!(chip.to_string(), chip.name());
            assert_eq!(Chip::from_chip_id(chip.chip_id()), Some(chip));
        }
        assert_eq!("ESP32-S3".parse::<Chip>(), Ok(Chip::Esp32S3));
        assert_eq!(Chip::Esp32S3.chip_id(), 9);
        assert_eq!(Chip::Esp32P4.chip_id(), 18);
        assert_eq!(Chip::Esp32.bootloader_offset(), 0x1000);
        assert_eq!(Chip::Esp32S2.bootloader_offset(), 0x1000);
        assert_eq!(Chip::Esp32C3.bootloader_offset(), 0);
        assert_eq!(Chip::Esp32H2.bootloader_offset(), 0);
        assert_eq!(Chip::Esp32P4.bootloader_offset(), 0x2000);
        assert_eq!(Chip::from_chip_id(1), None);
        assert_eq!(
            "esp8266".parse::<Chip>().unwrap_err().to_string(),
            "unknown chip \"esp8266\" (expected esp32, esp32s2, esp32c3, esp32s3, esp32c2, esp32c6, esp32h2 or esp32p4)"
        );
    }

    #[test]
    fn flash_sizes_parse_and_display() {
        assert_eq!("2MB".parse(), Ok(FlashSize::Bytes(2 * MIB)));
        assert_eq!("4MiB".parse(), Ok(FlashSize::Bytes(4 * MIB)));
        assert_eq!("16mb".parse(), Ok(FlashSize::Bytes(16 * MIB)));
        assert_eq!("128MB".parse(), Ok(FlashSize::Bytes(128 * MIB)));
        assert_eq!("4MB-c1".parse(), Ok(FlashSize::Bytes(4 * MIB)));
        assert_eq!("keep".parse(), Ok(FlashSize::Keep));
        assert_eq!("detect".parse(), Ok(FlashSize::Detect));
        for bad in ["3MB", "256MB", "MB", "+2MB", "2", "2GB", "", "0MB"] {
            assert_eq!(
                bad.parse::<FlashSize>(),
                Err(ParseFlashSizeError(bad.to_string())),
                "{bad}"
            );
        }
        assert_eq!(FlashSize::Bytes(4 * MIB).to_string(), "4MB");
        assert_eq!(FlashSize::Keep.to_string(), "keep");
        assert_eq!(FlashSize::Detect.to_string(), "detect");
        assert_eq!(size_name(32 * MIB), "32MB");
        assert_eq!(size_name(512 * 1024), "512KB");
        assert_eq!(size_name(1000), "1000 bytes");
        assert_eq!(
            QEMU_FLASH_SIZES,
            [0x20_0000, 0x40_0000, 0x80_0000, 0x100_0000]
        );
    }

    #[test]
    fn offsets_are_prefixed_hex() {
        assert_eq!(parse_offset("0x1000"), Some(0x1000));
        assert_eq!(parse_offset("0X10000"), Some(0x10000));
        assert_eq!(parse_offset("0x0"), Some(0));
        assert_eq!(parse_offset("0xffffffff"), Some(u32::MAX));
        for bad in [
            "1000",
            "0x",
            "0x1g00",
            "0x100000000",
            " 0x1000",
            "0x+1",
            "-0x1",
        ] {
            assert_eq!(parse_offset(bad), None, "{bad}");
        }
    }
}
