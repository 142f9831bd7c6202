//! The partition table, as the bootloader reads it, parsed by `esp-idf-part`.

use esp_idf_part::{
    AppType, DataType, Error as PartError, Partition, PartitionTable, SubType, Type,
};
use serde::Serialize;

/// Where ESP-IDF puts the partition table unless
/// `CONFIG_PARTITION_TABLE_OFFSET` says otherwise.
pub const DEFAULT_PARTITION_TABLE_OFFSET: u32 = 0x8000;

/// ESP-IDF's `MAX_PARTITION_LENGTH`: entries and MD5 fill at most 0xC00
/// bytes of the table's sector (the rest may hold a signature).
pub(crate) const TABLE_MAX_LEN: usize = 0xC00;

const ROW: usize = 32;
const ENTRY_MAGIC: [u8; 2] = [0xAA, 0x50];
const MD5_MAGIC: [u8; 2] = [0xEB, 0xEB];

/// One partition, with type and subtype spelt as in a partition CSV
/// (`app`/`factory`, `data`/`nvs`, `0x40`/`0x01` for custom ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionInfo {
    pub name: String,
    pub ty: String,
    pub subtype: String,
    pub offset: u32,
    pub size: u32,
}

impl From<&Partition> for PartitionInfo {
    fn from(p: &Partition) -> Self {
        PartitionInfo {
            name: p.name(),
            ty: p.ty().to_string(),
            subtype: p.subtype().to_string(),
            offset: p.offset(),
            size: p.size(),
        }
    }
}

/// Parses the binary table in `bytes` (the file, or flash from the table's
/// offset on), which sits at flash offset `base`. The error is a lowercase
/// description naming flash offsets, for [`crate::ImageError::PartitionTable`].
pub(crate) fn parse_table(bytes: &[u8], base: u32) -> Result<Vec<Partition>, String> {
    // A signed table carries its signature after 0xC00 bytes, which is not
    // part of the table proper.
    let bytes = &bytes[..bytes.len().min(TABLE_MAX_LEN)];
    if bytes.len() >= ROW && bytes[..ROW].iter().all(|&b| b == 0xFF) {
        return Err("the flash there is erased (all 0xff)".to_string());
    }
    guard_rows(bytes, base)?;
    match PartitionTable::try_from_bytes(bytes) {
        Ok(table) => Ok(table.partitions().clone()),
        Err(e) => Err(describe(&e, bytes, base)),
    }
}

/// Rejects the rows `esp-idf-part` 0.6 would panic on instead of returning
/// an error (it unwraps unknown app/data subtypes and unknown flag bits,
/// and adds offset and size unchecked). Everything else about the table is
/// left to it.
fn guard_rows(bytes: &[u8], base: u32) -> Result<(), String> {
    for (i, row) in bytes.chunks_exact(ROW).enumerate() {
        let at = u64::from(base) + (i * ROW) as u64;
        if row.iter().all(|&b| b == 0xFF) {
            break;
        }
        if row.starts_with(&MD5_MAGIC) {
            continue;
        }
        if !row.starts_with(&ENTRY_MAGIC) {
            return Err(format!(
                "the entry at {at:#x} starts with {:02x} {:02x}, not the entry magic aa 50 (nor an md5 row or the end marker)",
                row[0], row[1]
            ));
        }
        let (ty, subtype) = (row[2], row[3]);
        let known = match Type::from(ty) {
            Type::App => AppType::from_repr(usize::from(subtype)).is_some(),
            Type::Data => DataType::from_repr(usize::from(subtype)).is_some(),
            Type::Custom(_) => true,
        };
        if !known {
            return Err(format!(
                "the entry at {at:#x} has type 0x{ty:02x} with subtype 0x{subtype:02x}, which esp-idf-part does not know"
            ));
        }
        let offset = u32::from_le_bytes([row[4], row[5], row[6], row[7]]);
        let size = u32::from_le_bytes([row[8], row[9], row[10], row[11]]);
        if offset.checked_add(size).is_none() {
            return Err(format!(
                "the entry at {at:#x} spans {offset:#x} + {size:#x}, past the 4 GiB address space"
            ));
        }
        let flags = u32::from_le_bytes([row[28], row[29], row[30], row[31]]);
        if esp_idf_part::Flags::from_bits(flags).is_none() {
            return Err(format!(
                "the entry at {at:#x} has unknown flags {flags:#x} (known: encrypted 0x1, readonly 0x2)"
            ));
        }
    }
    Ok(())
}

/// `esp-idf-part`'s errors reworded in the crate's style, with the MD5
/// row's flash offset where that is the problem.
fn describe(e: &PartError, bytes: &[u8], base: u32) -> String {
    match e {
        PartError::InvalidChecksum { expected, computed } => {
            let row = bytes
                .chunks_exact(ROW)
                .position(|r| r.starts_with(&MD5_MAGIC))
                .unwrap_or(0);
            format!(
                "md5 digest {} at {:#x} does not match the entries before it ({})",
                hex::encode(expected),
                u64::from(base) + (row * ROW) as u64,
                hex::encode(computed)
            )
        }
        PartError::LengthNotMultipleOf32 => {
            format!("its length ({:#x} bytes) is not a multiple of 32", bytes.len())
        }
        PartError::NoEndMarker => {
            format!("no end marker (a row of 0xff) within its first {:#x} bytes", bytes.len())
        }
        PartError::NoAppPartition => "it has no app partition".to_string(),
        PartError::MultipleFactoryPartitions => "it has more than one app/factory partition".to_string(),
        PartError::MultipleOtadataPartitions => "it has more than one data/ota partition".to_string(),
        PartError::InvalidOtadataPartitionSize => "its data/ota partition is not 0x2000 bytes".to_string(),
        PartError::DuplicatePartitions(name) => format!("two partitions are named \"{name}\""),
        PartError::OverlappingPartitions(a, b) => format!("partitions \"{a}\" and \"{b}\" overlap"),
        PartError::PartitionTooLarge(name) => {
            format!("app partition \"{name}\" is larger than 16MB")
        }
        PartError::UnalignedPartition => {
            "a partition is misaligned (app partitions start at multiples of 0x10000, data partitions at multiples of 0x1000)"
                .to_string()
        }
        other => lowercase_first(&other.to_string()),
    }
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Partitions the bootloader can boot (`app` type: factory, ota_N, test).
pub(crate) fn is_app(p: &Partition) -> bool {
    p.ty() == Type::App
}

/// The OTA data partition (`data`/`ota`), where `ota_data_initial.bin` goes.
pub(crate) fn is_otadata(p: &Partition) -> bool {
    p.ty() == Type::Data && p.subtype() == SubType::Data(DataType::Ota)
}

/// `factory at 0x10000, ota_0 at 0x110000`, or `none` — for messages.
pub(crate) fn list(parts: &[Partition], keep: fn(&Partition) -> bool, what: &str) -> String {
    let found: Vec<String> = parts
        .iter()
        .filter(|p| keep(p))
        .map(|p| format!("{} at {:#x}", p.name(), p.offset()))
        .collect();
    if found.is_empty() {
        format!("it has no {what} partition")
    } else {
        format!("{what} partitions: {}", found.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(csv: &str) -> Vec<u8> {
        PartitionTable::try_from_str(csv).unwrap().to_bin().unwrap()
    }

    const CSV: &str = "nvs, data, nvs, 0x9000, 0x6000,\nfactory, app, factory, 0x10000, 1M,\n";

    #[test]
    fn parses_what_esp_idf_part_writes() {
        let parts = parse_table(&table(CSV), 0x8000).unwrap();
        let infos: Vec<PartitionInfo> = parts.iter().map(PartitionInfo::from).collect();
        assert_eq!(
            infos,
            vec![
                PartitionInfo {
                    name: "nvs".into(),
                    ty: "data".into(),
                    subtype: "nvs".into(),
                    offset: 0x9000,
                    size: 0x6000
                },
                PartitionInfo {
                    name: "factory".into(),
                    ty: "app".into(),
                    subtype: "factory".into(),
                    offset: 0x10000,
                    size: 0x100000
                },
            ]
        );
    }

    #[test]
    fn rows_esp_idf_part_would_panic_on_are_errors() {
        // Unknown app subtype 0x30 in the second entry (flash 0x8020).
        let mut bin = table(CSV);
        bin[32 + 3] = 0x30;
        assert_eq!(
            parse_table(&bin, 0x8000).unwrap_err(),
            "the entry at 0x8020 has type 0x00 with subtype 0x30, which esp-idf-part does not know"
        );
        let mut bin = table(CSV);
        bin[28] = 0x80;
        assert_eq!(
            parse_table(&bin, 0x8000).unwrap_err(),
            "the entry at 0x8000 has unknown flags 0x80 (known: encrypted 0x1, readonly 0x2)"
        );
        let mut bin = table(CSV);
        bin[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            parse_table(&bin, 0x8000).unwrap_err(),
            "the entry at 0x8000 spans 0x9000 + 0xffffffff, past the 4 GiB address space"
        );
        let mut bin = table(CSV);
        bin[0] = 0x12;
        assert_eq!(
            parse_table(&bin, 0x8000).unwrap_err(),
            "the entry at 0x8000 starts with 12 50, not the entry magic aa 50 (nor an md5 row or the end marker)"
        );
    }

    #[test]
    fn erased_flash_and_truncated_tables_are_described() {
        assert_eq!(
            parse_table(&[0xFF; 0x1000], 0x8000).unwrap_err(),
            "the flash there is erased (all 0xff)"
        );
        let bin = table(CSV);
        assert_eq!(
            parse_table(&bin[..40], 0x8000).unwrap_err(),
            "its length (0x28 bytes) is not a multiple of 32"
        );
        assert_eq!(
            parse_table(&bin[..64], 0x8000).unwrap_err(),
            "no end marker (a row of 0xff) within its first 0x40 bytes"
        );
    }
}
