//! ESP-IDF's app image format (`esp_app_format.h`), used by both the app
//! and the 2nd-stage bootloader: what the ROM and the bootloader check
//! before they jump into an image.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Byte 0 of every app image (`ESP_IMAGE_HEADER_MAGIC`).
pub(crate) const MAGIC: u8 = 0xE9;
/// `esp_image_header_t` is 24 bytes.
pub(crate) const HEADER_LEN: usize = 24;
/// `ESP_IMAGE_MAX_SEGMENTS`: the loader's segment table has 16 slots.
const MAX_SEGMENTS: u8 = 16;
/// `esp_image_segment_header_t`: load address and length.
const SEGMENT_HEADER_LEN: usize = 8;
/// The checksum is the XOR of all segment data, starting from this value
/// (`ESP_ROM_CHECKSUM_INITIAL`).
const CHECKSUM_SEED: u8 = 0xEF;
const SHA256_LEN: usize = 32;

/// What an app image header and its segments say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppImage {
    /// `esp_chip_id_t` of the chip the image was built for.
    pub chip_id: u16,
    /// The entry point the loader jumps to.
    pub entry: u32,
    /// `(load address, length)` of each segment, in file order.
    pub segments: Vec<(u32, u32)>,
    /// Bytes from the header to the checksum, and the SHA-256 if appended:
    /// everything the loader reads (signature blocks may follow).
    pub length: usize,
    /// Whether a SHA-256 of the image follows the checksum.
    pub hash_appended: bool,
}

/// Parses and verifies the app image at the start of `bytes` (which may go
/// on past the image, as flash does).
///
/// Checks what the ROM and the bootloader check: the magic, the segment
/// count, that every segment and the checksum lie inside `bytes`, that
/// segment lengths are word multiples, the XOR checksum, and the appended
/// SHA-256. Whether the chip id is right is the caller's business: only it
/// knows the chip. The error says what is wrong and at which byte of
/// `bytes`.
pub fn parse_app_image(bytes: &[u8]) -> Result<AppImage, String> {
    let len = bytes.len();
    if len < HEADER_LEN {
        return Err(format!(
            "{len} bytes are too few for the {HEADER_LEN}-byte image header"
        ));
    }
    if bytes[0] != MAGIC {
        return Err(format!(
            "bad magic 0x{:02x} at byte 0 (expected 0x{MAGIC:02x})",
            bytes[0]
        ));
    }
    let count = bytes[1];
    if count == 0 || count > MAX_SEGMENTS {
        return Err(format!(
            "segment count {count} at byte 1 is not within 1..={MAX_SEGMENTS}"
        ));
    }
    let entry = le32(bytes, 4);
    let chip_id = u16::from_le_bytes([bytes[12], bytes[13]]);
    // ESP-IDF tests `hash_appended == 1`; other values mean no hash.
    let hash_appended = bytes[23] == 1;

    let mut pos = HEADER_LEN;
    let mut checksum = CHECKSUM_SEED;
    let mut segments = Vec::with_capacity(usize::from(count));
    for i in 0..usize::from(count) {
        if len - pos < SEGMENT_HEADER_LEN {
            return Err(format!(
                "segment {i} header at byte 0x{pos:x} runs past the end of the data (0x{len:x} bytes)"
            ));
        }
        let load = le32(bytes, pos);
        let data_len = le32(bytes, pos + 4);
        let start = pos + SEGMENT_HEADER_LEN;
        // u64 so that a garbage length cannot overflow on 32-bit hosts.
        if start as u64 + u64::from(data_len) > len as u64 {
            return Err(format!(
                "segment {i} at byte 0x{pos:x} declares 0x{data_len:x} bytes, past the end of the data (0x{len:x} bytes)"
            ));
        }
        // The loader copies segments in 32-bit words and rejects the rest
        // ("unaligned segment length").
        if !data_len.is_multiple_of(4) {
            return Err(format!(
                "segment {i} at byte 0x{pos:x} has length 0x{data_len:x}, not a multiple of 4"
            ));
        }
        let end = start + data_len as usize;
        checksum = bytes[start..end].iter().fold(checksum, |acc, b| acc ^ b);
        segments.push((load, data_len));
        pos = end;
    }

    // esptool pads with zeros so that the checksum is the last byte of a
    // 16-byte block.
    let checksum_at = pos + (15 - pos % 16);
    if checksum_at >= len {
        return Err(format!(
            "the checksum byte at 0x{checksum_at:x} is past the end of the data (0x{len:x} bytes)"
        ));
    }
    if bytes[checksum_at] != checksum {
        return Err(format!(
            "checksum 0x{:02x} at byte 0x{checksum_at:x} does not match the data (0x{checksum:02x})",
            bytes[checksum_at]
        ));
    }
    let mut length = checksum_at + 1;

    if hash_appended {
        if len - length < SHA256_LEN {
            return Err(format!(
                "the sha-256 digest at byte 0x{length:x} runs past the end of the data (0x{len:x} bytes)"
            ));
        }
        // The bootloader verifies this digest too (unless secure boot
        // replaces it with a signature check); a mismatch means the file was
        // altered after esptool wrote it.
        let computed = Sha256::digest(&bytes[..length]);
        if computed.as_slice() != &bytes[length..length + SHA256_LEN] {
            return Err(format!(
                "the sha-256 digest at byte 0x{length:x} does not match the image (computed {})",
                hex::encode(computed.as_slice())
            ));
        }
        length += SHA256_LEN;
    }

    Ok(AppImage {
        chip_id,
        entry,
        segments,
        length,
        hash_appended,
    })
}

/// The flash size byte of an image header (`spi_size`, the high nibble of
/// byte 3), in bytes; `None` for codes the format does not define.
pub(crate) fn header_flash_size(bytes: &[u8]) -> Option<u32> {
    let code = bytes.get(3)? >> 4;
    (code <= 7).then(|| (1024 * 1024) << code)
}

fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest valid image: one 4-byte segment, no hash.
    fn tiny() -> Vec<u8> {
        let mut v = vec![MAGIC, 1, 2, 0x20, 0x78, 0x56, 0x34, 0x12];
        v.resize(HEADER_LEN, 0);
        v[12] = 9; // esp32s3
        v.extend_from_slice(&0x3fc8_0000u32.to_le_bytes());
        v.extend_from_slice(&4u32.to_le_bytes());
        v.extend_from_slice(&[1, 2, 3, 4]);
        // 40 bytes so far: pad to 47, checksum at 47.
        v.resize(47, 0);
        v.push(CHECKSUM_SEED ^ 1 ^ 2 ^ 3 ^ 4);
        v
    }

    #[test]
    fn parses_a_minimal_image_and_ignores_trailing_flash() {
        let mut v = tiny();
        v.extend_from_slice(&[0xFF; 100]);
        let img = parse_app_image(&v).unwrap();
        assert_eq!(
            img,
            AppImage {
                chip_id: 9,
                entry: 0x1234_5678,
                segments: vec![(0x3fc8_0000, 4)],
                length: 48,
                hash_appended: false,
            }
        );
        assert_eq!(header_flash_size(&v), Some(4 * 1024 * 1024));
    }

    #[test]
    fn rejects_short_headers_and_unaligned_segments() {
        assert_eq!(
            parse_app_image(&[MAGIC; 10]).unwrap_err(),
            "10 bytes are too few for the 24-byte image header"
        );
        let mut v = tiny();
        v[24 + 4] = 3;
        assert_eq!(
            parse_app_image(&v).unwrap_err(),
            "segment 0 at byte 0x18 has length 0x3, not a multiple of 4"
        );
        let v = tiny();
        assert_eq!(
            parse_app_image(&v[..30]).unwrap_err(),
            "segment 0 header at byte 0x18 runs past the end of the data (0x1e bytes)"
        );
        assert_eq!(
            parse_app_image(&v[..47]).unwrap_err(),
            "the checksum byte at 0x2f is past the end of the data (0x2f bytes)"
        );
    }

    #[test]
    fn a_declared_hash_must_be_there_and_right() {
        let mut v = tiny();
        v[23] = 1;
        assert_eq!(
            parse_app_image(&v).unwrap_err(),
            "the sha-256 digest at byte 0x30 runs past the end of the data (0x30 bytes)"
        );
        let digest = Sha256::digest(&v);
        let mut good = v.clone();
        good.extend_from_slice(&digest);
        let img = parse_app_image(&good).unwrap();
        assert!(img.hash_appended);
        assert_eq!(img.length, 80);
        let mut bad = good.clone();
        bad[50] ^= 1;
        assert_eq!(
            parse_app_image(&bad).unwrap_err(),
            format!(
                "the sha-256 digest at byte 0x30 does not match the image (computed {})",
                hex::encode(digest)
            )
        );
    }
}
