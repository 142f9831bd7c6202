//! `read_build_dir` + `assemble` on generated ESP-IDF build directories.

use esp_ws_image::{Chip, FlashSize, ImageError, PartitionInfo, Placed, assemble, read_build_dir};
use serde_json::json;

use crate::fixtures::{
    APP, BOOTLOADER, Build, MIB, OTADATA, TABLE, app, bootloader, pattern, table,
};

/// The image `files` make in erased flash of `size` bytes.
fn expected_image(size: u32, files: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut image = vec![0xFF; size as usize];
    for (offset, bytes) in files {
        image[*offset as usize..*offset as usize + bytes.len()].copy_from_slice(bytes);
    }
    image
}

fn placed(offset: u32, len: usize, rel: &str, role: Option<&str>) -> Placed {
    Placed {
        offset,
        len: len as u32,
        rel: rel.to_string(),
        role: role.map(str::to_string),
    }
}

fn part(name: &str, ty: &str, subtype: &str, offset: u32, size: u32) -> PartitionInfo {
    PartitionInfo {
        name: name.to_string(),
        ty: ty.to_string(),
        subtype: subtype.to_string(),
        offset,
        size,
    }
}

#[test]
fn reads_flasher_args() {
    let b = Build::new();
    let build = read_build_dir(b.path()).unwrap();
    assert_eq!(build.dir, b.path());
    assert_eq!(build.chip, Chip::Esp32);
    assert_eq!(build.flash_mode, "dio");
    assert_eq!(build.flash_freq, "40m");
    assert_eq!(build.flash_size, FlashSize::Bytes(2 * MIB));
    let files: Vec<_> = build
        .files
        .iter()
        .map(|f| (f.offset, f.rel.as_str(), f.role.as_deref(), f.encrypted))
        .collect();
    assert_eq!(
        files,
        vec![
            (0x1000, BOOTLOADER, Some("bootloader"), false),
            (0x8000, TABLE, Some("partition-table"), false),
            (0x10000, APP, Some("app"), false),
        ]
    );
    assert_eq!(build.files[2].path, b.path().join(APP));
}

#[test]
fn a_project_directory_means_its_build_directory() {
    let project = tempfile::tempdir().unwrap();
    let b = Build::new();
    std::fs::rename(b.path(), project.path().join("build")).unwrap();
    let build = read_build_dir(project.path()).unwrap();
    assert_eq!(build.dir, project.path().join("build"));
    assert_eq!(build.files.len(), 3);
    assert!(assemble(&build, None).is_ok());
}

#[test]
fn assembles_files_at_their_offsets_in_erased_flash() {
    let b = Build::new();
    let a = b.assemble().unwrap();
    assert_eq!(a.flash_size, 2 * MIB);
    assert_eq!(a.image.len(), 2 * MIB as usize);
    let expected = expected_image(
        2 * MIB,
        &[
            (0x1000, bootloader(0)),
            (0x8000, table(crate::fixtures::FACTORY_CSV)),
            (0x10000, app(0)),
        ],
    );
    // Not assert_eq!: a 2 MiB diff is no help; the first differing byte is.
    let first_diff = a.image.iter().zip(&expected).position(|(x, y)| x != y);
    assert_eq!(first_diff, None);
    // Spot checks that do not depend on the helper above.
    assert_eq!(&a.image[..0x1000], &[0xFF; 0x1000][..]);
    assert_eq!(a.image[0x1000], 0xE9);
    assert_eq!(&a.image[0x8000..0x8002], &[0xAA, 0x50]);
    assert_eq!(&a.image[0x10000..0x10000 + app(0).len()], &app(0)[..]);
    assert!(a.image[0x10000 + app(0).len()..].iter().all(|&b| b == 0xFF));
    assert_eq!(
        a.layout,
        vec![
            placed(0x1000, bootloader(0).len(), BOOTLOADER, Some("bootloader")),
            placed(0x8000, 0xC00, TABLE, Some("partition-table")),
            placed(0x10000, app(0).len(), APP, Some("app")),
        ]
    );
    assert_eq!(
        a.partitions,
        vec![
            part("nvs", "data", "nvs", 0x9000, 0x6000),
            part("phy_init", "data", "phy", 0xf000, 0x1000),
            part("factory", "app", "factory", 0x10000, 0x100000),
        ]
    );
    assert_eq!(a.warnings, Vec::<String>::new());
}

#[test]
fn assembles_an_ota_layout_with_otadata() {
    let b = Build::ota();
    let a = b.assemble().unwrap();
    assert_eq!(a.flash_size, 4 * MIB);
    assert_eq!(a.image.len(), 4 * MIB as usize);
    assert_eq!(
        a.layout
            .iter()
            .map(|p| (p.offset, p.role.as_deref()))
            .collect::<Vec<_>>(),
        vec![
            (0x1000, Some("bootloader")),
            (0x8000, Some("partition-table")),
            (0xd000, Some("otadata")),
            (0x10000, Some("app")),
        ]
    );
    assert_eq!(a.partitions.len(), 6);
    assert_eq!(
        a.partitions[1],
        part("otadata", "data", "ota", 0xd000, 0x2000)
    );
    assert_eq!(
        a.partitions[5],
        part("ota_1", "app", "ota_1", 0x210000, 0x100000)
    );
    // The bootloader header says 2MB; the build says 4MB.
    assert_eq!(
        a.warnings,
        vec![
            "bootloader/bootloader.bin at 0x1000: its header says 2MB flash, but the image is 4MB"
        ]
    );
}

#[test]
fn keep_and_detect_round_up_to_a_qemu_size() {
    let mut b = Build::new();
    b.args["flash_settings"]["flash_size"] = json!("keep");
    b.save();
    assert_eq!(
        read_build_dir(b.path()).unwrap().flash_size,
        FlashSize::Keep
    );
    // The app ends far below 2MB: the smallest size QEMU takes.
    let a = b.assemble().unwrap();
    assert_eq!((a.flash_size, a.image.len()), (2 * MIB, 2 * MIB as usize));
    assert_eq!(a.warnings, Vec::<String>::new());

    // A file ending exactly at 4MB needs 4MB, not 8MB.
    b.args["flash_settings"]["flash_size"] = json!("detect");
    b.add(None, 4 * MIB - 0x1000, "storage.bin", &pattern(0x1000, 9));
    let a = b.assemble().unwrap();
    assert_eq!((a.flash_size, a.image.len()), (4 * MIB, 4 * MIB as usize));
    assert_eq!(
        &a.image[4 * MIB as usize - 0x1000..],
        &pattern(0x1000, 9)[..]
    );

    // One byte further needs 8MB.
    b.write("storage.bin", &pattern(0x1001, 9));
    assert_eq!(b.assemble().unwrap().flash_size, 8 * MIB);

    // Beyond 16MB no QEMU size holds the files.
    b.add(None, 16 * MIB, "far.bin", &[0; 16]);
    assert_eq!(
        b.error(),
        "flasher_args.json: flash_size detect: the files end at 0x1000010, beyond the largest flash qemu supports (16MB)"
    );
}

#[test]
fn the_callers_size_overrides_flash_settings() {
    let b = Build::new();
    let a = b.assemble_with(Some(FlashSize::Bytes(8 * MIB))).unwrap();
    assert_eq!((a.flash_size, a.image.len()), (8 * MIB, 8 * MIB as usize));
    assert!(a.image[0x20000..].iter().all(|&x| x == 0xFF));
    assert_eq!(
        a.warnings,
        vec![
            "bootloader/bootloader.bin at 0x1000: its header says 2MB flash, but the image is 8MB"
        ]
    );
    let a = b.assemble_with(Some(FlashSize::Keep)).unwrap();
    assert_eq!(a.flash_size, 2 * MIB);
    assert_eq!(
        b.assemble_with(Some(FlashSize::Bytes(32 * MIB)))
            .unwrap_err()
            .to_string(),
        "requested flash size 32MB is not supported by qemu (it takes 2MB, 4MB, 8MB or 16MB)"
    );
}

#[test]
fn encrypted_files_are_laid_out_with_a_warning() {
    let mut b = Build::new();
    b.args["app"]["encrypted"] = json!("true");
    b.save();
    assert!(read_build_dir(b.path()).unwrap().files[2].encrypted);
    let a = b.assemble().unwrap();
    assert_eq!(&a.image[0x10000..0x10000 + app(0).len()], &app(0)[..]);
    assert_eq!(
        a.warnings,
        vec![
            "ws_echo_server.bin at 0x10000 is marked encrypted; it is laid out as plaintext, because qemu does not know the device key esptool would encrypt it with"
        ]
    );
}

#[test]
fn other_chips_have_their_bootloader_offsets() {
    // An ESP32-S3 build: bootloader at 0x0, chip id 9.
    let mut b = Build::new();
    b.args["extra_esptool_args"]["chip"] = json!("esp32s3");
    b.write(BOOTLOADER, &bootloader(9));
    b.write(APP, &app(9));
    b.relocate(0x1000, 0x0);
    let a = b.assemble().unwrap();
    assert_eq!(a.layout[0].offset, 0);
    assert_eq!(a.image[0], 0xE9);

    // And an ESP32-S3 build with the ESP32's bootloader offset.
    b.relocate(0x0, 0x1000);
    assert_eq!(
        b.error(),
        "bootloader/bootloader.bin at 0x1000: the esp32s3 bootloader belongs at 0x0"
    );
}

#[test]
fn files_without_named_entries_are_found_by_offset() {
    // flasher_args.json from before the named entries, or hand-written.
    let mut b = Build::new();
    let obj = b.args.as_object_mut().unwrap();
    obj.remove("bootloader");
    obj.remove("app");
    obj.remove("partition-table");
    b.save();
    let a = b.assemble().unwrap();
    assert!(a.layout.iter().all(|p| p.role.is_none()));
    assert_eq!(a.image[0x10000], 0xE9);
}

// --- one failing fixture per error kind, with its exact message ---

#[test]
fn no_flasher_args() {
    let dir = tempfile::tempdir().unwrap();
    let e = read_build_dir(dir.path()).unwrap_err();
    assert!(matches!(e, ImageError::NoFlasherArgs { .. }));
    assert_eq!(
        e.to_string(),
        format!(
            "no flasher_args.json in {} (expected an esp-idf build directory, as written by `idf.py build`)",
            dir.path().display()
        )
    );
}

#[test]
fn unreadable_flasher_args() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flasher_args.json");
    std::fs::create_dir(&path).unwrap();
    let io = std::fs::read(&path).unwrap_err();
    assert_eq!(
        read_build_dir(dir.path()).unwrap_err().to_string(),
        format!("cannot read flasher_args.json: {io}")
    );
}

#[test]
fn invalid_json() {
    let b = Build::new();
    std::fs::write(b.path().join("flasher_args.json"), "{ \"flash_files\" : ").unwrap();
    assert_eq!(
        b.error(),
        "flasher_args.json is not valid json: EOF while parsing a value at line 1 column 18"
    );
    std::fs::write(b.path().join("flasher_args.json"), "[]").unwrap();
    assert_eq!(
        b.error(),
        "flasher_args.json: the top level is not a json object"
    );
}

#[test]
fn missing_flash_files() {
    let mut b = Build::new();
    b.args.as_object_mut().unwrap().remove("flash_files");
    b.save();
    assert_eq!(b.error(), "flasher_args.json has no \"flash_files\"");
    b.args["flash_files"] = json!({});
    b.save();
    assert_eq!(b.error(), "flasher_args.json: \"flash_files\" is empty");
    b.args["flash_files"] = json!(["0x1000", BOOTLOADER]);
    b.save();
    assert_eq!(
        b.error(),
        "flasher_args.json: \"flash_files\" is not an object"
    );
}

#[test]
fn missing_flash_size() {
    let mut b = Build::new();
    b.args["flash_settings"]
        .as_object_mut()
        .unwrap()
        .remove("flash_size");
    b.save();
    assert_eq!(
        b.error(),
        "flasher_args.json has no \"flash_settings.flash_size\""
    );
}

#[test]
fn bad_offset_strings() {
    let mut b = Build::new();
    let files = b.args["flash_files"].as_object_mut().unwrap();
    let rel = files.remove("0x10000").unwrap();
    files.insert("0x10g00".to_string(), rel);
    b.save();
    assert_eq!(
        b.error(),
        "flasher_args.json: offset \"0x10g00\" in \"flash_files\" is not a hex number like \"0x1000\""
    );

    let mut b = Build::new();
    b.args["app"]["offset"] = json!("65536");
    b.save();
    assert_eq!(
        b.error(),
        "flasher_args.json: offset \"65536\" in \"app\" is not a hex number like \"0x1000\""
    );
}

#[test]
fn bad_flash_size_and_chip() {
    let mut b = Build::new();
    b.args["flash_settings"]["flash_size"] = json!("3MB");
    b.save();
    assert_eq!(
        b.error(),
        "flasher_args.json: flash_size \"3MB\" is not one of 1MB, 2MB, 4MB, 8MB, 16MB, 32MB, 64MB, 128MB, keep or detect"
    );
    let mut b = Build::new();
    b.args["extra_esptool_args"]["chip"] = json!("esp8266");
    b.save();
    assert_eq!(
        b.error(),
        "flasher_args.json: chip \"esp8266\" is not one of esp32, esp32s2, esp32c3, esp32s3, esp32c2, esp32c6, esp32h2 or esp32p4"
    );
}

#[test]
fn a_named_entry_disagreeing_with_flash_files() {
    let mut b = Build::new();
    b.args["app"]["file"] = json!("other.bin");
    b.save();
    assert_eq!(
        b.error(),
        "flasher_args.json: \"app\" names other.bin at 0x10000, but flash_files has ws_echo_server.bin there"
    );
}

#[test]
fn missing_file() {
    let b = Build::new();
    std::fs::remove_file(b.path().join(APP)).unwrap();
    assert_eq!(
        b.error(),
        "ws_echo_server.bin at 0x10000: no such file in the build directory"
    );
}

#[test]
fn overlapping_files_are_both_named() {
    let mut b = Build::new();
    b.add(None, 0x7000, "extra.bin", &pattern(0x2000, 7));
    assert_eq!(
        b.error(),
        "partition_table/partition-table.bin at 0x8000..0x8c00 overlaps extra.bin at 0x7000..0x9000"
    );
}

#[test]
fn file_beyond_the_flash() {
    let mut b = Build::new();
    b.add(None, 0x1ff000, "storage.bin", &pattern(0x2000, 8));
    assert_eq!(
        b.error(),
        "storage.bin at 0x1ff000 ends at 0x201000, beyond the 2MB flash (0x200000 bytes)"
    );
}

#[test]
fn unsupported_flash_sizes() {
    let mut b = Build::new();
    b.args["flash_settings"]["flash_size"] = json!("1MB");
    b.save();
    assert_eq!(
        b.error(),
        "flasher_args.json: flash_size 1MB is not supported by qemu (it takes 2MB, 4MB, 8MB or 16MB)"
    );
    b.args["flash_settings"]["flash_size"] = json!("32MB");
    b.save();
    assert_eq!(
        b.error(),
        "flasher_args.json: flash_size 32MB is not supported by qemu (it takes 2MB, 4MB, 8MB or 16MB)"
    );
}

#[test]
fn bad_magic() {
    let b = Build::new();
    b.patch(BOOTLOADER, |v| v[0] = 0x00);
    assert_eq!(
        b.error(),
        "bootloader/bootloader.bin at 0x1000 is not a valid app image: bad magic 0x00 at byte 0 (expected 0xe9)"
    );
}

#[test]
fn too_many_segments() {
    let b = Build::new();
    b.patch(APP, |v| v[1] = 17);
    assert_eq!(
        b.error(),
        "ws_echo_server.bin at 0x10000 is not a valid app image: segment count 17 at byte 1 is not within 1..=16"
    );
}

#[test]
fn segment_past_the_end_of_the_file() {
    let b = Build::new();
    let len = app(0).len();
    // Segment 2's header: 0x18 + (8 + 0x400) + (8 + 0x100).
    b.patch(APP, |v| {
        v[0x528 + 4..0x528 + 8].copy_from_slice(&0x2000u32.to_le_bytes())
    });
    assert_eq!(
        b.error(),
        format!(
            "ws_echo_server.bin at 0x10000 is not a valid app image: segment 2 at byte 0x528 declares 0x2000 bytes, past the end of the data ({len:#x} bytes)"
        )
    );
    // A truncated file: the bootloader cut inside its second segment.
    let b = Build::new();
    b.patch(BOOTLOADER, |v| v.truncate(0x40));
    assert_eq!(
        b.error(),
        "bootloader/bootloader.bin at 0x1000 is not a valid app image: segment 1 at byte 0x30 declares 0x20 bytes, past the end of the data (0x40 bytes)"
    );
}

#[test]
fn checksum_mismatch() {
    let b = Build::new();
    let stored = app(0)[0x153f];
    b.patch(APP, |v| v[0x20] ^= 0x21);
    assert_eq!(
        b.error(),
        format!(
            "ws_echo_server.bin at 0x10000 is not a valid app image: checksum {stored:#04x} at byte 0x153f does not match the data ({:#04x})",
            stored ^ 0x21
        )
    );
}

#[test]
fn wrong_chip_id() {
    let b = Build::new();
    b.write(APP, &app(9));
    assert_eq!(
        b.error(),
        "ws_echo_server.bin at 0x10000 is built for esp32s3 (chip id 9), not for esp32 (chip id 0)"
    );
    b.write(APP, &app(0));
    b.write(BOOTLOADER, &bootloader(77));
    assert_eq!(
        b.error(),
        "bootloader/bootloader.bin at 0x1000 is built for an unknown chip (chip id 77), not for esp32 (chip id 0)"
    );
}

#[test]
fn bootloader_at_the_wrong_offset() {
    let mut b = Build::new();
    b.relocate(0x1000, 0x0);
    assert_eq!(
        b.error(),
        "bootloader/bootloader.bin at 0x0: the esp32 bootloader belongs at 0x1000"
    );
}

#[test]
fn no_bootloader_or_partition_table_in_flash_files() {
    let mut b = Build::new();
    b.args["flash_files"]
        .as_object_mut()
        .unwrap()
        .remove("0x1000");
    b.save();
    assert_eq!(
        b.error(),
        "flasher_args.json: flash_files has no esp32 bootloader (expected one at 0x1000)"
    );
    let mut b = Build::new();
    b.args["flash_files"]
        .as_object_mut()
        .unwrap()
        .remove("0x8000");
    b.save();
    assert_eq!(
        b.error(),
        "flasher_args.json: flash_files has no partition table (expected one at 0x8000)"
    );
}

#[test]
fn corrupt_partition_table() {
    let b = Build::new();
    let good = table(crate::fixtures::FACTORY_CSV);
    // Three entries, then the MD5 row: magic at 0x60, digest at 0x70.
    assert_eq!(&good[0x60..0x62], &[0xEB, 0xEB]);
    let digest = hex::encode(&good[0x70..0x80]);
    b.patch(TABLE, |v| v[0x70] ^= 0xFF);
    let stored = hex::encode(&b.read(TABLE)[0x70..0x80]);
    assert_ne!(stored, digest);
    assert_eq!(
        b.error(),
        format!(
            "partition_table/partition-table.bin at 0x8000 is not a valid partition table: md5 digest {stored} at 0x8060 does not match the entries before it ({digest})"
        )
    );

    // An entry altered after the digest was computed: same complaint.
    let b = Build::new();
    b.patch(TABLE, |v| v[0x28] = 0x7F);
    let e = b.error();
    assert!(e.contains("md5 digest") && e.ends_with(")"), "{e}");

    // A table cut short (no end marker).
    let b = Build::new();
    b.patch(TABLE, |v| v.truncate(0x60));
    assert_eq!(
        b.error(),
        "partition_table/partition-table.bin at 0x8000 is not a valid partition table: no end marker (a row of 0xff) within its first 0x60 bytes"
    );
}

#[test]
fn partition_beyond_the_flash() {
    let b = Build::new();
    b.write(
        TABLE,
        &table(&format!(
            "{}storage, data, spiffs, 0x110000, 0x100000,\n",
            crate::fixtures::FACTORY_CSV
        )),
    );
    assert_eq!(
        b.error(),
        "partition_table/partition-table.bin at 0x8000: partition \"storage\" at 0x110000..0x210000 ends beyond the 2MB flash (0x200000 bytes)"
    );
}

#[test]
fn app_not_at_an_app_partition() {
    let mut b = Build::new();
    b.relocate(0x10000, 0x20000);
    assert_eq!(
        b.error(),
        "ws_echo_server.bin at 0x20000 is not at the start of an app partition of partition_table/partition-table.bin (app partitions: factory at 0x10000)"
    );
    // The OTA layout without factory: the app may go to ota_0.
    let b = Build::ota();
    b.write(
        TABLE,
        &table(
            "nvs, data, nvs, 0x9000, 0x4000,\notadata, data, ota, 0xd000, 0x2000,\nota_0, app, ota_0, 0x10000, 1M,\nota_1, app, ota_1, 0x110000, 1M,\n",
        ),
    );
    assert!(b.assemble().is_ok());
}

#[test]
fn app_larger_than_its_partition() {
    let b = Build::new();
    // A valid image followed by padding up to just over 1M.
    b.patch(APP, |v| v.resize(0x100010, 0));
    assert_eq!(
        b.error(),
        "ws_echo_server.bin at 0x10000 is 0x100010 bytes, more than its partition \"factory\" holds (0x100000 bytes)"
    );
}

#[test]
fn otadata_not_at_the_ota_data_partition() {
    let mut b = Build::ota();
    b.relocate(0xd000, 0xe000);
    assert_eq!(
        b.error(),
        "ota_data_initial.bin at 0xe000 is not at the start of a data/ota partition of partition_table/partition-table.bin (data/ota partitions: otadata at 0xd000)"
    );
    // otadata in a table without OTA data.
    let b = Build::ota();
    b.write(TABLE, &table(crate::fixtures::FACTORY_CSV));
    assert_eq!(
        b.error(),
        format!(
            "{OTADATA} at 0xd000 is not at the start of a data/ota partition of {TABLE} (it has no data/ota partition)"
        )
    );
}
