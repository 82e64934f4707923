//! Image folders, as Keras' `image_dataset_from_directory` reads them: `root/<class>/**/*.png`
//! (also jpg, jpeg, bmp; sub-directories of a class included), classes sorted by name, images decoded, converted to the model's
//! channels and resized to its size with a bilinear ("triangle") filter, Keras' default.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;

use crate::batch::ImageItem;
use crate::error::DataError;

/// File extensions read (case-insensitive).
pub const EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];
/// The resize filter: bilinear, as Keras' `image_dataset_from_directory(interpolation="bilinear")`.
pub const FILTER: FilterType = FilterType::Triangle;

/// The images found, and those skipped as unreadable (with why).
#[derive(Debug, Clone)]
pub struct FolderImages {
    /// Decoded items, in class order then file-name order.
    pub items: Vec<ImageItem>,
    /// Class names: the sub-directory names, sorted.
    pub classes: Vec<String>,
    /// Files that could not be decoded, when skipping was asked for.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Sorted entries of `dir` matching `keep`.
fn sorted_entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DataError::io(dir, source))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|source| DataError::io(dir, source))?.path();
        if keep(&path) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// Whether a name has one of the [`EXTENSIONS`]: such an entry is an image to read, and one
/// that cannot be read (a link to nothing, a directory, a pipe) is reported, never passed over.
fn has_image_name(path: &Path) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with('.'))
}

/// The image-named entries under a class directory, its sub-directories included (as Keras'
/// `image_dataset_from_directory` walks them), sorted by path; hidden entries left out, and a
/// directory reached twice through links read once.
fn class_images(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut found = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        if !seen.insert(std::fs::canonicalize(&dir).map_err(|source| DataError::io(&dir, source))?)
        {
            continue;
        }
        for path in sorted_entries(&dir, |path| !is_hidden(path))? {
            if has_image_name(&path) {
                found.push(path);
            } else if path.is_dir() {
                pending.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Why `path` (an entry read from its directory) is not a regular file, following symbolic
/// links: `None` when it is one. A link whose target is missing is named with that target.
fn not_a_file(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => None,
        Ok(meta) if meta.is_dir() => Some("a directory with an image's name, not an image".into()),
        Ok(_) => Some("not a regular file (a pipe, socket or device)".into()),
        Err(error) => Some(match std::fs::read_link(path) {
            Ok(target) => format!(
                "a symbolic link to {}, which cannot be read: {error}",
                target.display()
            ),
            Err(_) => format!("cannot be read: {error}"),
        }),
    }
}

/// The largest side decoded, in pixels: a bigger file is a decompression bomb or a mistake,
/// and refused before its pixels are allocated (16,384² grayscale is 256 MiB).
pub const MAX_SIDE: u32 = 16_384;

/// Decodes one file into `shape` (`[C, H, W]`, C = 1 grayscale or 3 RGB).
pub fn decode(path: &Path, shape: [usize; 3]) -> Result<Vec<u8>, DataError> {
    decode_bytes(&read_file(path)?, path, shape)
}

/// An image file's bytes; a directory, pipe or dangling link is named as what it is.
pub fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    if let Some(why) = not_a_file(path) {
        return Err(DataError::format(path, why));
    }
    std::fs::read(path).map_err(|error| DataError::io(path, error))
}

/// Decodes an image file's bytes into `shape`: what [`decode`] does after reading the file, and
/// what the web demo does with a dropped file or a drawn canvas. The format comes from the
/// bytes (PNG, JPEG, BMP), not from a name; `name` only labels errors.
pub fn decode_bytes(bytes: &[u8], name: &Path, shape: [usize; 3]) -> Result<Vec<u8>, DataError> {
    let [channels, height, width] = shape;
    if bytes.is_empty() {
        return Err(DataError::format(
            name,
            "an empty file (0 bytes), not an image",
        ));
    }
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|error| DataError::io(name, error))?;
    if reader.format().is_none() {
        return Err(DataError::format(
            name,
            "not an image: its first bytes are not those of a PNG, JPEG or BMP file",
        ));
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    let image = reader.decode().map_err(|error| match error {
        image::ImageError::Limits(_) => DataError::format(
            name,
            format!(
                "cannot decode image: too large (over {MAX_SIDE} pixels a side, or more memory \
                 than the decoder allows): {error}"
            ),
        ),
        error => DataError::format(name, format!("cannot decode image: {error}")),
    })?;
    let image = image.resize_exact(width as u32, height as u32, FILTER);
    match channels {
        1 => Ok(image.to_luma8().into_raw()),
        3 => {
            // Interleaved RGB → channels-first planes.
            let rgb = image.to_rgb8().into_raw();
            Ok((0..3)
                .flat_map(|c| rgb.iter().skip(c).step_by(3).copied())
                .collect())
        }
        other => Err(DataError::Config(format!(
            "cannot make {other}-channel images (1 or 3): model.in_channels"
        ))),
    }
}

/// Reads every image under `root/<class>/`.
pub fn read(
    root: &Path,
    shape: [usize; 3],
    skip_unreadable: bool,
) -> Result<FolderImages, DataError> {
    // Hidden directories (`.ipynb_checkpoints`, `.git`) are not classes, nor are plain files
    // (a README, a labels.csv). An entry that cannot be told apart (a link to nothing) is an
    // error whatever `skip_unreadable` says: a class left out would shift every label after it.
    let mut class_dirs = Vec::new();
    for entry in sorted_entries(root, |path| !is_hidden(path))? {
        match std::fs::metadata(&entry) {
            Ok(meta) if meta.is_dir() => class_dirs.push(entry),
            Ok(_) => {}
            Err(_) => {
                return Err(DataError::format(
                    &entry,
                    format!(
                        "{}: if it is a class directory, its class would be missing and the \
                         labels of the classes after it shifted (fix or remove it)",
                        not_a_file(&entry).unwrap_or_default()
                    ),
                ));
            }
        }
    }
    if class_dirs.is_empty() {
        return Err(DataError::format(
            root,
            "no class directories: expected root/<class>/*.png|jpg|jpeg|bmp",
        ));
    }
    let mut items = Vec::new();
    let mut skipped = Vec::new();
    let mut classes = Vec::new();
    for (label, dir) in class_dirs.iter().enumerate() {
        classes.push(
            dir.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
        );
        let images = class_images(dir)?;
        if images.is_empty() {
            return Err(DataError::format(
                dir,
                "this class directory holds no png/jpg/jpeg/bmp image: a class without \
                 examples cannot be learned (remove the directory or add images)",
            ));
        }
        for path in images {
            match decode(&path, shape) {
                Ok(pixels) => items.push(ImageItem {
                    pixels,
                    label,
                    index: items.len(),
                }),
                Err(DataError::Format { message, .. }) if skip_unreadable => {
                    skipped.push((path, message))
                }
                Err(DataError::Format { message, .. }) => {
                    return Err(DataError::format(
                        &path,
                        format!("{message} (set data.skip_unreadable = true to skip such files)"),
                    ));
                }
                Err(error) if skip_unreadable => skipped.push((path, error.to_string())),
                Err(error) => return Err(error),
            }
        }
    }
    if items.is_empty() {
        return Err(DataError::format(
            root,
            "no readable png/jpg/jpeg/bmp images under the class directories",
        ));
    }
    Ok(FolderImages {
        items,
        classes,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(path: &Path, width: u32, height: u32, value: u8) {
        image::GrayImage::from_pixel(width, height, image::Luma([value]))
            .save(path)
            .unwrap();
    }

    #[test]
    fn classes_are_sorted_and_images_resized_to_the_model() {
        let dir = tempfile::tempdir().unwrap();
        for (class, value) in [("dogs", 200u8), ("cats", 10)] {
            std::fs::create_dir(dir.path().join(class)).unwrap();
            write_png(&dir.path().join(class).join("a.png"), 40, 30, value);
            write_png(&dir.path().join(class).join("b.PNG"), 8, 8, value);
        }
        std::fs::write(dir.path().join("cats").join("notes.txt"), "not an image").unwrap();
        let read = read(dir.path(), [1, 16, 16], false).unwrap();
        assert_eq!(read.classes, ["cats", "dogs"]);
        assert_eq!(read.items.len(), 4);
        assert!(read.items.iter().all(|item| item.pixels.len() == 256));
        assert_eq!(read.items[0].label, 0);
        assert!(
            read.items[0].pixels.iter().all(|&p| p == 10),
            "a flat image stays flat"
        );
        assert_eq!(read.items[3].label, 1);
        let rgb = super::read(dir.path(), [3, 4, 4], false).unwrap();
        assert_eq!(rgb.items[3].pixels, vec![200; 48]);
    }

    #[test]
    fn corrupt_png_is_an_error_naming_it_unless_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        write_png(&dir.path().join("a").join("good.png"), 4, 4, 1);
        std::fs::write(
            dir.path().join("a").join("bad.png"),
            b"\x89PNG\r\n\x1a\nnot really",
        )
        .unwrap();
        let message = read(dir.path(), [1, 4, 4], false).unwrap_err().to_string();
        assert!(
            message.contains("bad.png: cannot decode image"),
            "{message}"
        );
        assert!(message.contains("skip_unreadable"), "{message}");
        let read = read(dir.path(), [1, 4, 4], true).unwrap();
        assert_eq!(read.items.len(), 1);
        assert_eq!(read.skipped.len(), 1);
        assert!(read.skipped[0].0.ends_with("bad.png"));
    }

    #[test]
    fn hidden_directories_are_not_classes_and_empty_classes_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        for class in ["a", "b", ".ipynb_checkpoints"] {
            std::fs::create_dir(dir.path().join(class)).unwrap();
            write_png(&dir.path().join(class).join("x.png"), 4, 4, 1);
        }
        let read = read(dir.path(), [1, 4, 4], false).unwrap();
        assert_eq!(read.classes, ["a", "b"]);
        std::fs::create_dir(dir.path().join("c")).unwrap();
        let message = super::read(dir.path(), [1, 4, 4], false)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("holds no png/jpg/jpeg/bmp image"),
            "{message}"
        );
    }

    /// Entries with an image's name that are not images to read: each an error naming it
    /// (unless skipped, then listed with why), never passed over in silence.
    #[cfg(unix)]
    #[test]
    fn links_to_nothing_directories_and_pipes_named_like_images_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let class = dir.path().join("a");
        std::fs::create_dir(&class).unwrap();
        write_png(&class.join("good.png"), 4, 4, 1);
        std::os::unix::fs::symlink(dir.path().join("gone.png"), class.join("link.png")).unwrap();
        let message = read(dir.path(), [1, 4, 4], false).unwrap_err().to_string();
        assert!(
            message.contains("link.png: a symbolic link to ")
                && message.contains("gone.png, which cannot be read")
                && message.contains("skip_unreadable"),
            "{message}"
        );
        let skipping = read(dir.path(), [1, 4, 4], true).unwrap();
        assert_eq!(skipping.items.len(), 1);
        assert!(skipping.skipped[0].0.ends_with("link.png"), "{skipping:?}");
        std::fs::remove_file(class.join("link.png")).unwrap();

        std::fs::create_dir(class.join("folder.png")).unwrap();
        let message = read(dir.path(), [1, 4, 4], false).unwrap_err().to_string();
        assert!(message.contains("folder.png: a directory"), "{message}");
        std::fs::remove_dir(class.join("folder.png")).unwrap();

        let fifo = class.join("pipe.png");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|status| status.success()) {
            // read without opening it: opening a pipe with no writer would wait for ever
            let message = read(dir.path(), [1, 4, 4], false).unwrap_err().to_string();
            assert!(
                message.contains("pipe.png: not a regular file"),
                "{message}"
            );
        }
    }

    /// A class directory that is a link to nothing would drop a class and shift the labels of
    /// the classes after it: an error even when unreadable files are skipped.
    #[cfg(unix)]
    #[test]
    fn a_class_link_to_nothing_is_an_error_even_when_skipping() {
        let dir = tempfile::tempdir().unwrap();
        for class in ["a", "c"] {
            std::fs::create_dir(dir.path().join(class)).unwrap();
            write_png(&dir.path().join(class).join("x.png"), 4, 4, 1);
        }
        std::os::unix::fs::symlink(dir.path().join("moved"), dir.path().join("b")).unwrap();
        for skip in [false, true] {
            let message = read(dir.path(), [1, 4, 4], skip).unwrap_err().to_string();
            assert!(
                message.contains("b: a symbolic link to ") && message.contains("labels"),
                "{message}"
            );
        }
        std::fs::remove_file(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("labels.csv"), "a plain file is not a class").unwrap();
        assert_eq!(
            read(dir.path(), [1, 4, 4], false).unwrap().classes,
            ["a", "c"]
        );
    }

    /// Sub-directories of a class are read, as Keras reads them; hidden entries are not.
    #[test]
    fn images_in_sub_directories_of_a_class_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a").join("2019");
        std::fs::create_dir_all(&nested).unwrap();
        write_png(&dir.path().join("a").join("top.png"), 4, 4, 1);
        write_png(&nested.join("inner.png"), 4, 4, 2);
        std::fs::write(dir.path().join("a").join("._top.png"), b"AppleDouble").unwrap();
        let read = read(dir.path(), [1, 4, 4], false).unwrap();
        assert_eq!(read.items.len(), 2, "{:?}", read.skipped);
        assert_eq!(
            read.items[0].pixels[0], 2,
            "sorted by path: a/2019/inner.png first"
        );
    }
}
