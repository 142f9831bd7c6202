//! `check_merged` on images assembled from the fixtures and then damaged.

use esp_ws_image::{Chip, ImageError, check_merged, parse_app_image};

use crate::fixtures::{Build, MIB, TABLE, app, bootloader, table};

fn merged() -> Vec<u8> {
    Build::new().assemble().unwrap().image
}

fn error(bytes: &[u8], chip: Chip, table_at: u32) -> String {
    match check_merged(bytes, "flash.bin", chip, table_at) {
        Ok(_) => panic!("check_merged accepted the image"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn accepts_an_assembled_image() {
    let a = Build::new().assemble().unwrap();
    let m = check_merged(&a.image, "flash.bin", Chip::Esp32, 0x8000).unwrap();
    assert_eq!(m.flash_size, 2 * MIB);
    assert_eq!(m.bootloader, parse_app_image(&bootloader(0)).unwrap());
    assert_eq!(m.partitions, a.partitions);
    assert_eq!(m.app_offset, 0x10000);
    assert_eq!(m.app, parse_app_image(&app(0)).unwrap());
}

#[test]
fn checks_the_first_app_partition_and_a_moved_table() {
    // No factory partition: the first app partition is ota_0 at 0x20000,
    // and the table sits at 0x9000 (CONFIG_PARTITION_TABLE_OFFSET).
    let mut b = Build::ota();
    b.write(
        TABLE,
        &table(
            "nvs, data, nvs, 0xa000, 0x3000,\notadata, data, ota, 0xd000, 0x2000,\nota_0, app, ota_0, 0x20000, 1M,\nota_1, app, ota_1, 0x120000, 1M,\n",
        ),
    );
    b.relocate(0x8000, 0x9000);
    b.relocate(0x10000, 0x20000);
    let image = b.assemble().unwrap().image;
    let m = check_merged(&image, "flash.bin", Chip::Esp32, 0x9000).unwrap();
    assert_eq!(m.flash_size, 4 * MIB);
    assert_eq!(m.app_offset, 0x20000);
    assert_eq!(m.partitions[2].name, "ota_0");
    // At the default offset there is only erased flash.
    assert_eq!(
        error(&image, Chip::Esp32, 0x8000),
        "flash.bin at 0x8000 is not a valid partition table: the flash there is erased (all 0xff)"
    );
    // The standard OTA layout boots the factory app.
    let image = Build::ota().assemble().unwrap().image;
    assert_eq!(
        check_merged(&image, "flash.bin", Chip::Esp32, 0x8000)
            .unwrap()
            .app_offset,
        0x10000
    );
}

#[test]
fn merged_image_of_a_wrong_size() {
    let e = check_merged(&vec![0xFF; 1_000_000], "flash.bin", Chip::Esp32, 0x8000).unwrap_err();
    assert!(matches!(e, ImageError::MergedSize { len: 1_000_000, .. }));
    assert_eq!(
        e.to_string(),
        "flash.bin is 1000000 bytes (0xf4240), not 2MB, 4MB, 8MB or 16MB as qemu needs"
    );
    let mut image = merged();
    image.truncate(MIB as usize);
    assert_eq!(
        error(&image, Chip::Esp32, 0x8000),
        "flash.bin is 1048576 bytes (0x100000), not 2MB, 4MB, 8MB or 16MB as qemu needs"
    );
    image.resize(32 * MIB as usize, 0xFF);
    assert_eq!(
        error(&image, Chip::Esp32, 0x8000),
        "flash.bin is 33554432 bytes (0x2000000), not 2MB, 4MB, 8MB or 16MB as qemu needs"
    );
}

#[test]
fn merged_image_without_a_bootloader() {
    let mut image = merged();
    image[0x1000..0x8000].fill(0xFF);
    assert_eq!(
        error(&image, Chip::Esp32, 0x8000),
        "flash.bin has no esp32 bootloader at 0x1000: the flash there is erased (all 0xff)"
    );
    // An ESP32-S3 looks at 0x0, where this ESP32 image has nothing.
    assert_eq!(
        error(&merged(), Chip::Esp32S3, 0x8000),
        "flash.bin has no esp32s3 bootloader at 0x0: the flash there is erased (all 0xff)"
    );
    // Something that is not an image.
    let mut image = merged();
    image[0x1000] = 0x00;
    assert_eq!(
        error(&image, Chip::Esp32, 0x8000),
        "flash.bin has no esp32 bootloader at 0x1000: bad magic 0x00 at byte 0 (expected 0xe9)"
    );
}

#[test]
fn merged_image_with_a_bootloader_for_another_chip() {
    let mut image = merged();
    let other = bootloader(5);
    image[0x1000..0x1000 + other.len()].copy_from_slice(&other);
    assert_eq!(
        error(&image, Chip::Esp32, 0x8000),
        "flash.bin at 0x1000 is built for esp32c3 (chip id 5), not for esp32 (chip id 0)"
    );
}

#[test]
fn merged_image_with_a_corrupt_table_or_no_app() {
    let mut image = merged();
    image[0x8070] ^= 0xFF;
    let e = error(&image, Chip::Esp32, 0x8000);
    assert!(
        e.starts_with("flash.bin at 0x8000 is not a valid partition table: md5 digest "),
        "{e}"
    );
    assert!(
        e.contains(" at 0x8060 does not match the entries before it ("),
        "{e}"
    );

    let mut image = merged();
    image[0x10000..0x20000].fill(0xFF);
    assert_eq!(
        error(&image, Chip::Esp32, 0x8000),
        "flash.bin has no app image at 0x10000 (partition \"factory\"): the flash there is erased (all 0xff)"
    );

    let mut image = merged();
    image[0x10001] = 20;
    assert_eq!(
        error(&image, Chip::Esp32, 0x8000),
        "flash.bin has no app image at 0x10000 (partition \"factory\"): segment count 20 at byte 1 is not within 1..=16"
    );

    let mut image = merged();
    image[0x8000..0x9000].fill(0xFF);
    image[0x8000..0x8000 + 0xC00].copy_from_slice(&table(
        "nvs, data, nvs, 0x9000, 0x6000,\nfactory, app, factory, 0x10000, 0x1F0000,\nstorage, data, spiffs, 0x200000, 0x1000,\n",
    ));
    assert_eq!(
        error(&image, Chip::Esp32, 0x8000),
        "flash.bin at 0x8000: partition \"storage\" at 0x200000..0x201000 ends beyond the 2MB flash (0x200000 bytes)"
    );
    assert_eq!(
        error(&merged(), Chip::Esp32, 0x300000),
        "flash.bin at 0x300000 is not a valid partition table: the offset is past the end of the 0x200000-byte image"
    );
}
