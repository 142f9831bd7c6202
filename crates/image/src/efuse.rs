//! The eFuse file QEMU's ESP32 machine reads (`-drive
//! file=…,if=none,format=raw,id=efuse -global
//! nvram.esp32.efuse.drive=efuse`).

/// Size of the ESP32 eFuse blocks as QEMU stores them (BLOCK0..BLOCK3).
const ESP32_EFUSE_LEN: usize = 124;
/// BLOCK0 word 3 bit 15: `CHIP_VER_REV1`.
const CHIP_VER_REV1: (usize, u32) = (3, 1 << 15);
/// BLOCK0 word 5 bit 20: `CHIP_VER_REV2`.
const CHIP_VER_REV2: (usize, u32) = (5, 1 << 20);

/// An ESP32 eFuse image whose chip revision reads v3.0 (ECO3), as the one
/// `idf.py qemu` writes: both revision bits set, everything else blank.
///
/// The firmware thus sees the chip it sees under `idf.py qemu`. All zeros
/// would read as revision v0.0, which an app built with a higher minimum
/// revision (`CONFIG_ESP32_REV_MIN`) refuses to start on. Everything else
/// stays blank on purpose: no flash encryption, no secure boot, no custom
/// MAC, which is what a test run wants.
pub fn esp32_default_efuse() -> [u8; 124] {
    let mut efuse = [0u8; ESP32_EFUSE_LEN];
    for (word, bit) in [CHIP_VER_REV1, CHIP_VER_REV2] {
        // BLOCK0 starts at byte 0, as little-endian 32-bit words.
        let at = word * 4;
        let value = u32::from_le_bytes([efuse[at], efuse[at + 1], efuse[at + 2], efuse[at + 3]]);
        efuse[at..at + 4].copy_from_slice(&(value | bit).to_le_bytes());
    }
    efuse
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_revision_bits_are_set() {
        let efuse = esp32_default_efuse();
        assert_eq!(efuse.len(), 124);
        // Word 3 = bytes 12..16, bit 15 -> byte 13 bit 7.
        // Word 5 = bytes 20..24, bit 20 -> byte 22 bit 4.
        let mut expected = [0u8; 124];
        expected[13] = 0x80;
        expected[22] = 0x10;
        assert_eq!(efuse, expected);
        assert_eq!(efuse.iter().map(|b| b.count_ones()).sum::<u32>(), 2);
    }
}
