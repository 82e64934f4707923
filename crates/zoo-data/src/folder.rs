//! Image folders, as Keras' `image_dataset_from_directory` reads them: `root/<class>/*.png`
//! (also jpg, jpeg, bmp), classes sorted by name, images decoded, converted to the model's
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

/// Whether a path has one of the [`EXTENSIONS`].
fn is_image(path: &Path) -> bool {
    path.is_file()
        && path
            .extension()
            .and_then(|ext| ext.to_str())
            .is_some_and(|ext| EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// Decodes one file into `shape` (`[C, H, W]`, C = 1 grayscale or 3 RGB).
pub fn decode(path: &Path, shape: [usize; 3]) -> Result<Vec<u8>, DataError> {
    let [channels, height, width] = shape;
    let image = image::ImageReader::open(path)
        .map_err(|error| DataError::io(path, error))?
        .with_guessed_format()
        .map_err(|error| DataError::io(path, error))?
        .decode()
        .map_err(|error| DataError::format(path, format!("cannot decode image: {error}")))?;
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
    // Hidden directories (`.ipynb_checkpoints`, `.git`) are not classes.
    let class_dirs: Vec<_> = sorted_entries(root, Path::is_dir)?
        .into_iter()
        .filter(|dir| {
            !dir.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with('.'))
        })
        .collect();
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
        let images = sorted_entries(dir, is_image)?;
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
}
