//! The app image format on images built like esptool builds them.

use esp_ws_image::{AppImage, parse_app_image};

use crate::fixtures::{app, bootloader};

#[test]
fn parses_the_fixture_bootloader_and_app() {
    let boot = bootloader(0);
    assert_eq!(
        parse_app_image(&boot).unwrap(),
        AppImage {
            chip_id: 0,
            entry: 0x4008_0400,
            segments: vec![(0x3fff_0030, 0x10), (0x4007_8000, 0x20)],
            length: boot.len(),
            hash_appended: true,
        }
    );
    let image = app(9);
    let parsed = parse_app_image(&image).unwrap();
    assert_eq!(parsed.chip_id, 9);
    assert_eq!(parsed.segments.len(), 3);
    // Header 0x18, three segment headers, 0x1500 bytes of data, padding to
    // 0x153f, the checksum, then the 32-byte digest.
    assert_eq!(parsed.length, 0x1540 + 32);
    assert_eq!(parsed.length, image.len());
}

/// Damages an image in place.
type Breakage = Box<dyn Fn(&mut Vec<u8>)>;

#[test]
fn each_defect_is_named_with_its_byte() {
    let good = app(0);
    let cases: Vec<(Breakage, String)> = vec![
        (
            Box::new(|v| v[0] = 0xE8),
            "bad magic 0xe8 at byte 0 (expected 0xe9)".into(),
        ),
        (
            Box::new(|v| v[1] = 0),
            "segment count 0 at byte 1 is not within 1..=16".into(),
        ),
        (
            Box::new(|v| v[1] = 17),
            "segment count 17 at byte 1 is not within 1..=16".into(),
        ),
        (
            // Segment 1's header is at 0x18 + 8 + 0x400.
            Box::new(|v| v[0x420 + 4..0x420 + 8].copy_from_slice(&0x10_0000u32.to_le_bytes())),
            format!(
                "segment 1 at byte 0x420 declares 0x100000 bytes, past the end of the data ({:#x} bytes)",
                good.len()
            ),
        ),
        (
            // A flipped data bit changes the XOR by that bit.
            Box::new(|v| v[0x20] ^= 0x04),
            format!(
                "checksum {:#04x} at byte 0x153f does not match the data ({:#04x})",
                good[0x153f],
                good[0x153f] ^ 0x04
            ),
        ),
        (
            Box::new(|v| v[0x1540] ^= 0xFF),
            "the sha-256 digest at byte 0x1540 does not match the image (computed ".to_string()
                + &hex::encode(&good[0x1540..0x1560])
                + ")",
        ),
        (
            Box::new(|v| v.truncate(0x1550)),
            "the sha-256 digest at byte 0x1540 runs past the end of the data (0x1550 bytes)".into(),
        ),
    ];
    for (break_it, expected) in cases {
        let mut v = good.clone();
        break_it(&mut v);
        assert_eq!(parse_app_image(&v).unwrap_err(), expected);
    }
}
