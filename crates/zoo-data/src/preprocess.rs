//! What an image file goes through before a trained model sees it, written once: `zoo predict`
//! and the web demo (`web/`) both call [`Preprocess::values`], so a page in the browser and the
//! command line give the model the same floats.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::batch::{ImageBatcher, ImageItem, Normalization};
use crate::error::DataError;
use crate::folder;
use crate::load::ImageSplits;

/// An image run's input side: the shape its model takes, its class names and the normalisation
/// it was trained with. `zoo train` writes it as `preprocess.json` in the run directory, so that
/// the run can classify files without its training data (the mean and standard deviation of
/// `normalize = "standardize"` come from the training split).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preprocess {
    /// `[C, H, W]`: channels (1 grayscale, 3 RGB), height, width.
    pub shape: [usize; 3],
    /// Class names, by index.
    pub classes: Vec<String>,
    /// How 0–255 pixels become floats.
    pub normalization: Normalization,
}

impl Preprocess {
    /// Its file name in a run directory.
    pub const FILE: &'static str = "preprocess.json";

    /// The input side of a run trained on `splits`.
    pub fn of(splits: &ImageSplits) -> Self {
        Self {
            shape: splits.shape,
            classes: splits.classes.clone(),
            normalization: splits.normalization.clone(),
        }
    }

    /// Decodes an image file's bytes (PNG, JPEG, BMP), resizes it to the model's size with the
    /// image folders' filter, converts it to the model's channels and normalises it:
    /// `[C, H, W]` floats. `name` labels errors.
    pub fn values(&self, bytes: &[u8], name: &Path) -> Result<Vec<f32>, DataError> {
        let pixels = folder::decode_bytes(bytes, name, self.shape)?;
        let batcher = ImageBatcher::new(self.shape, self.normalization.clone(), 1);
        Ok(batcher.item_values(&ImageItem {
            pixels,
            label: 0,
            index: 0,
        }))
    }

    /// Parses `preprocess.json`'s text (`path` labels errors) and checks it holds together.
    pub fn parse(text: &str, path: &Path) -> Result<Self, DataError> {
        let parsed: Self = serde_json::from_str(text)
            .map_err(|error| DataError::format(path, format!("not a preprocess.json: {error}")))?;
        let [channels, height, width] = parsed.shape;
        if !matches!(channels, 1 | 3) || height == 0 || width == 0 {
            return Err(DataError::format(
                path,
                format!(
                    "shape {:?}: expected [C, H, W] with C = 1 or 3 and H, W > 0",
                    parsed.shape
                ),
            ));
        }
        if parsed.classes.is_empty() {
            return Err(DataError::format(path, "classes is empty"));
        }
        if let Normalization::Standardize { mean, std } = &parsed.normalization {
            let fits = |values: &[f32]| values.len() == 1 || values.len() == channels;
            if !fits(mean) || !fits(std) || std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                return Err(DataError::format(
                    path,
                    format!(
                        "normalization: mean {mean:?} and std {std:?} must have 1 or {channels} \
                         values, each std a positive number"
                    ),
                ));
            }
        }
        Ok(parsed)
    }

    /// Reads and checks `path`.
    pub fn read(path: &Path) -> Result<Self, DataError> {
        let text = std::fs::read_to_string(path).map_err(|error| DataError::io(path, error))?;
        Self::parse(&text, path)
    }

    /// The file's text: pretty JSON, a newline at the end. Floats are written in their shortest
    /// form that reads back to the same `f32`, so a run read from it normalises bit for bit as
    /// the training did.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("plain data serialises");
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fashion_like() -> Preprocess {
        Preprocess {
            shape: [1, 2, 2],
            classes: vec!["a".into(), "b".into()],
            normalization: Normalization::Standardize {
                mean: vec![0.286_040_6],
                std: vec![0.353_024_3],
            },
        }
    }

    #[test]
    fn json_round_trips_exactly() {
        let pre = fashion_like();
        let back = Preprocess::parse(&pre.to_json(), Path::new("p.json")).unwrap();
        assert_eq!(back, pre);
        assert!(
            pre.to_json().contains("\"standardize\""),
            "{}",
            pre.to_json()
        );
    }

    #[test]
    fn bad_files_name_what_is_wrong() {
        let path = Path::new("run/preprocess.json");
        let error = |text: &str| Preprocess::parse(text, path).unwrap_err().to_string();
        assert!(error("{").contains("run/preprocess.json: not a preprocess.json"));
        let mut pre = fashion_like();
        pre.shape = [2, 2, 2];
        assert!(error(&pre.to_json()).contains("shape [2, 2, 2]"));
        let mut pre = fashion_like();
        pre.normalization = Normalization::Standardize {
            mean: vec![0.5],
            std: vec![0.0],
        };
        assert!(error(&pre.to_json()).contains("each std a positive number"));
        let mut pre = fashion_like();
        pre.classes.clear();
        assert!(error(&pre.to_json()).contains("classes is empty"));
    }

    #[test]
    fn values_are_the_batchers_of_the_decoded_image() {
        let mut png = Vec::new();
        let image = image::GrayImage::from_raw(2, 2, vec![0, 64, 128, 255]).unwrap();
        image
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let pre = fashion_like();
        let values = pre.values(&png, Path::new("x.png")).unwrap();
        let expected: Vec<f32> = [0u8, 64, 128, 255]
            .iter()
            .map(|&p| (f32::from(p) / 255.0 - 0.286_040_6) / 0.353_024_3)
            .collect();
        for (v, e) in values.iter().zip(&expected) {
            assert!((v - e).abs() < 1e-5, "{values:?} vs {expected:?}");
        }
        let empty = pre.values(&[], Path::new("empty.png")).unwrap_err();
        assert!(
            empty
                .to_string()
                .contains("empty.png: an empty file (0 bytes)")
        );
        let text = pre.values(b"hello", Path::new("notes.txt")).unwrap_err();
        assert!(
            text.to_string().contains("notes.txt: not an image"),
            "{text}"
        );
    }
}
