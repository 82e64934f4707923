//! CIFAR-10 in its official binary layout (`cifar-10-batches-bin/`): records of 1 label byte
//! then 1024 red, 1024 green and 1024 blue bytes, each plane 32×32 row-major — already
//! channels first, so a record's 3072 pixel bytes are an [`ImageItem`]'s pixels as they are.

use std::path::{Path, PathBuf};

use crate::batch::ImageItem;
use crate::error::DataError;

/// Bytes per record: 1 label + 3 × 32 × 32 pixels.
pub const RECORD_SIZE: usize = 1 + 3 * 32 * 32;
/// Image shape, channels first.
pub const SHAPE: [usize; 3] = [3, 32, 32];
/// The five training files, in order.
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test file.
pub const TEST_FILE: &str = "test_batch.bin";
/// The class names file.
pub const META_FILE: &str = "batches.meta.txt";
/// The directory the archive unpacks to.
pub const DIR_NAME: &str = "cifar-10-batches-bin";
/// The class names, for when `batches.meta.txt` is absent.
pub const CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Parses one file's bytes into items; `first_index` numbers them within their split.
pub fn parse_records(
    path: &Path,
    bytes: &[u8],
    first_index: usize,
) -> Result<Vec<ImageItem>, DataError> {
    if !bytes.len().is_multiple_of(RECORD_SIZE) {
        return Err(DataError::format(
            path,
            format!(
                "length {} bytes is not a multiple of the CIFAR-10 record size {RECORD_SIZE} \
                 (1 label byte + 3072 pixel bytes): truncated or not a CIFAR-10 binary file",
                bytes.len()
            ),
        ));
    }
    bytes
        .chunks_exact(RECORD_SIZE)
        .enumerate()
        .map(|(record, chunk)| {
            let label = chunk[0] as usize;
            if label >= 10 {
                return Err(DataError::format(
                    path,
                    format!("record {record} has label {label}; CIFAR-10 labels are 0..=9"),
                ));
            }
            Ok(ImageItem {
                pixels: chunk[1..].to_vec(),
                label,
                index: first_index + record,
            })
        })
        .collect()
}

/// Reads the given files of `dir`, in order, into one list of items.
pub fn read_files(dir: &Path, names: &[&str]) -> Result<Vec<ImageItem>, DataError> {
    let mut items = Vec::new();
    for name in names {
        let path = dir.join(name);
        // One read per file into one buffer: a 30 MB file is faster read whole than streamed.
        let bytes = std::fs::read(&path).map_err(|source| DataError::io(&path, source))?;
        items.extend(parse_records(&path, &bytes, items.len())?);
    }
    Ok(items)
}

/// The class names from `batches.meta.txt` (one per line), or the standard ten.
pub fn class_names(dir: &Path) -> Result<Vec<String>, DataError> {
    let path = dir.join(META_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let names: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(String::from)
                .collect();
            if names.len() != 10 {
                return Err(DataError::format(
                    &path,
                    format!(
                        "expected 10 class names, one per line, found {}",
                        names.len()
                    ),
                ));
            }
            Ok(names)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            Ok(CLASSES.iter().map(|name| name.to_string()).collect())
        }
        Err(source) => Err(DataError::io(path, source)),
    }
}

/// The files a complete CIFAR-10 directory must hold, as paths under `dir`.
pub fn required_files(dir: &Path) -> Vec<PathBuf> {
    TRAIN_FILES
        .iter()
        .chain([&TEST_FILE])
        .map(|name| dir.join(name))
        .collect()
}

/// Writes items in the official layout: what the tests and `zoo data` fixtures use.
pub fn encode_records(items: &[ImageItem]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(items.len() * RECORD_SIZE);
    for item in items {
        bytes.push(item.label as u8);
        bytes.extend_from_slice(&item.pixels);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<ImageItem> {
        (0..n)
            .map(|i| ImageItem {
                pixels: (0..3072).map(|p| ((p + i) % 256) as u8).collect(),
                label: i % 10,
                index: i,
            })
            .collect()
    }

    #[test]
    fn records_round_trip_and_planes_stay_channels_first() {
        let original = items(12);
        let bytes = encode_records(&original);
        assert_eq!(bytes.len(), 12 * 3073);
        let parsed = parse_records(Path::new("x.bin"), &bytes, 0).unwrap();
        assert_eq!(parsed, original);
        // Byte 1 of a record is the red plane's top-left pixel; byte 1025 the green one's.
        assert_eq!(parsed[1].pixels[0], bytes[3073 + 1]);
        assert_eq!(parsed[1].pixels[1024], bytes[3073 + 1025]);
    }

    #[test]
    fn truncated_file_names_file_length_and_record_size() {
        let mut bytes = encode_records(&items(2));
        bytes.pop();
        let message = parse_records(Path::new("data_batch_1.bin"), &bytes, 0)
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("data_batch_1.bin: length 6145 bytes"),
            "{message}"
        );
        assert!(message.contains("3073"), "{message}");
    }

    #[test]
    fn label_out_of_range_names_file_and_record() {
        let mut bytes = encode_records(&items(3));
        bytes[2 * 3073] = 10;
        let message = parse_records(Path::new("test_batch.bin"), &bytes, 0)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("test_batch.bin: record 2 has label 10"),
            "{message}"
        );
    }
}
