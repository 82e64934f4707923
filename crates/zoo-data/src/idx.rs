//! IDX files, the format of MNIST and Fashion-MNIST: a big-endian magic number (2051 for
//! images, 2049 for labels), the dimensions, then the bytes. Raw or gzip-compressed.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::batch::ImageItem;
use crate::error::DataError;

/// Magic number of an image file (`u8`, 3 dimensions).
pub const IMAGES_MAGIC: u32 = 2051;
/// Magic number of a label file (`u8`, 1 dimension).
pub const LABELS_MAGIC: u32 = 2049;

/// Reads an IDX file of `dims` dimensions, decompressing it when it starts with the gzip
/// signature. A compressed file is inflated only as far as its header says it holds (plus one
/// byte to notice extra data), so a small `.gz` cannot expand into gigabytes first.
fn read_maybe_gz(path: &Path, dims: usize) -> Result<Vec<u8>, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::io(path, source))?;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let corrupt =
        |error: std::io::Error| DataError::format(path, format!("corrupt gzip data: {error}"));
    let mut decoder = flate2::read::GzDecoder::new(bytes.as_slice());
    let header_len = 4 + 4 * dims;
    let mut out = Vec::new();
    (&mut decoder)
        .take(header_len as u64)
        .read_to_end(&mut out)
        .map_err(corrupt)?;
    if out.len() < header_len {
        return Ok(out); // parse_header reports the short header
    }
    let payload: u64 = (0..dims)
        .map(|d| {
            u32::from_be_bytes([
                out[4 + 4 * d],
                out[5 + 4 * d],
                out[6 + 4 * d],
                out[7 + 4 * d],
            ]) as u64
        })
        .product();
    decoder
        .take(payload.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(corrupt)?;
    Ok(out)
}

/// Checks the header and returns (dimensions, payload).
fn parse_header<'a>(
    path: &Path,
    bytes: &'a [u8],
    magic: u32,
    dims: usize,
) -> Result<(Vec<usize>, &'a [u8]), DataError> {
    let header_len = 4 + 4 * dims;
    let word = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    if bytes.len() < header_len {
        return Err(DataError::format(
            path,
            format!(
                "{} bytes is shorter than an IDX header ({header_len} bytes)",
                bytes.len()
            ),
        ));
    }
    let found = word(0);
    if found != magic {
        return Err(DataError::format(
            path,
            format!("bad IDX magic number {found} (expected {magic})"),
        ));
    }
    let shape: Vec<usize> = (0..dims).map(|d| word(4 + 4 * d) as usize).collect();
    let Some(expected) = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) else {
        return Err(DataError::format(
            path,
            format!("header says {shape:?}: more bytes than this machine can address"),
        ));
    };
    let payload = &bytes[header_len..];
    if payload.len() != expected {
        return Err(DataError::format(
            path,
            if payload.len() > expected {
                format!("header says {shape:?} ({expected} bytes of data) but the file holds more")
            } else {
                format!(
                    "header says {shape:?} ({expected} bytes of data) but the file has {} bytes \
                     of data",
                    payload.len()
                )
            },
        ));
    }
    Ok((shape, payload))
}

/// The image and label files of one split (`train` or `t10k`) in `dir`, `.gz` or raw.
pub fn split_files(dir: &Path, prefix: &str) -> (PathBuf, PathBuf) {
    let pick = |stem: String| {
        let gz = dir.join(format!("{stem}.gz"));
        if gz.is_file() { gz } else { dir.join(stem) }
    };
    (
        pick(format!("{prefix}-images-idx3-ubyte")),
        pick(format!("{prefix}-labels-idx1-ubyte")),
    )
}

/// An IDX directory's (train, test, item shape).
pub type IdxSplits = (Vec<ImageItem>, Vec<ImageItem>, [usize; 3]);

/// The `train` and `t10k` splits of an IDX directory.
pub fn read_splits(dir: &Path) -> Result<IdxSplits, DataError> {
    let (images, labels) = split_files(dir, "train");
    let (train, shape) = read_pair(&images, &labels)?;
    let (images, labels) = split_files(dir, "t10k");
    let (test, test_shape) = read_pair(&images, &labels)?;
    if test_shape != shape {
        return Err(DataError::format(
            &images,
            format!(
                "test images are {}×{} but the training images are {}×{}: both splits must \
                 have one size",
                test_shape[1], test_shape[2], shape[1], shape[2]
            ),
        ));
    }
    Ok((train, test, shape))
}

/// Reads an image file and its label file into items of shape `[1, rows, cols]`.
pub fn read_pair(images: &Path, labels: &Path) -> Result<(Vec<ImageItem>, [usize; 3]), DataError> {
    let image_bytes = read_maybe_gz(images, 3)?;
    let label_bytes = read_maybe_gz(labels, 1)?;
    let (image_shape, pixels) = parse_header(images, &image_bytes, IMAGES_MAGIC, 3)?;
    let (label_shape, label_values) = parse_header(labels, &label_bytes, LABELS_MAGIC, 1)?;
    let (count, rows, cols) = (image_shape[0], image_shape[1], image_shape[2]);
    if label_shape[0] != count {
        return Err(DataError::format(
            labels,
            format!(
                "{} labels but {} has {count} images",
                label_shape[0],
                images.display()
            ),
        ));
    }
    let items = pixels
        .chunks_exact((rows * cols).max(1))
        .zip(label_values)
        .enumerate()
        .map(|(index, (pixels, &label))| ImageItem {
            pixels: pixels.to_vec(),
            label: label as usize,
            index,
        })
        .collect();
    Ok((items, [1, rows, cols]))
}

/// Encodes items as (image file, label file) bytes: fixtures for tests.
pub fn encode_pair(items: &[ImageItem], rows: usize, cols: usize) -> (Vec<u8>, Vec<u8>) {
    let mut images = Vec::new();
    for word in [IMAGES_MAGIC, items.len() as u32, rows as u32, cols as u32] {
        images.extend_from_slice(&word.to_be_bytes());
    }
    let mut labels = Vec::new();
    for word in [LABELS_MAGIC, items.len() as u32] {
        labels.extend_from_slice(&word.to_be_bytes());
    }
    for item in items {
        images.extend_from_slice(&item.pixels);
        labels.push(item.label as u8);
    }
    (images, labels)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn fixture(n: usize) -> Vec<ImageItem> {
        (0..n)
            .map(|index| ImageItem {
                pixels: (0..6).map(|p| (p * 10 + index) as u8).collect(),
                label: index % 10,
                index,
            })
            .collect()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8], gz: bool) -> PathBuf {
        let path = dir.join(if gz {
            format!("{name}.gz")
        } else {
            name.to_string()
        });
        let bytes = if gz {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(bytes).unwrap();
            encoder.finish().unwrap()
        } else {
            bytes.to_vec()
        };
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn raw_and_gzip_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let items = fixture(5);
        let (images, labels) = encode_pair(&items, 2, 3);
        for gz in [false, true] {
            let images = write(dir.path(), "train-images-idx3-ubyte", &images, gz);
            let labels = write(dir.path(), "train-labels-idx1-ubyte", &labels, gz);
            let (read, shape) = read_pair(&images, &labels).unwrap();
            assert_eq!(shape, [1, 2, 3]);
            assert_eq!(read, items);
        }
    }

    #[test]
    fn bad_magic_and_mismatched_counts_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (mut images, labels) = encode_pair(&fixture(4), 2, 3);
        images[3] = 0x01; // 2049: a label file's magic
        let image_path = write(dir.path(), "a-images", &images, false);
        let label_path = write(dir.path(), "a-labels", &labels, false);
        let message = read_pair(&image_path, &label_path).unwrap_err().to_string();
        assert!(
            message.contains("a-images: bad IDX magic number 2049 (expected 2051)"),
            "{message}"
        );

        let (images, _) = encode_pair(&fixture(4), 2, 3);
        let (_, labels) = encode_pair(&fixture(3), 2, 3);
        let image_path = write(dir.path(), "b-images", &images, false);
        let label_path = write(dir.path(), "b-labels", &labels, false);
        let message = read_pair(&image_path, &label_path).unwrap_err().to_string();
        assert!(message.contains("b-labels: 3 labels but"), "{message}");
        assert!(message.contains("has 4 images"), "{message}");
    }

    #[test]
    fn truncated_payload_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (mut images, labels) = encode_pair(&fixture(4), 2, 3);
        images.truncate(images.len() - 1);
        let image_path = write(dir.path(), "c-images", &images, false);
        let label_path = write(dir.path(), "c-labels", &labels, false);
        let message = read_pair(&image_path, &label_path).unwrap_err().to_string();
        assert!(
            message.contains("header says [4, 2, 3] (24 bytes of data)"),
            "{message}"
        );
    }
}
