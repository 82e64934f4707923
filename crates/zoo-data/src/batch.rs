//! Items as the datasets hold them, and the batchers that turn them into Burn tensors.
//!
//! Images stay `u8` until batching (60,000 CIFAR images are 184 MB, not 737 MB), and are
//! normalised and augmented there, per item, with randomness derived from the seed, the item's
//! index and how often it has been seen: the same seed gives the same augmentation whatever
//! the number of loader threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::rng::SplitMix64;

/// One image: `pixels` channels first (`[C, H, W]` row-major), its class, and its position in
/// the dataset it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageItem {
    /// Pixel values 0–255, `C × H × W`.
    pub pixels: Vec<u8>,
    /// Class index.
    pub label: usize,
    /// Position in the split (drives the per-item augmentation stream).
    pub index: usize,
}

/// One sequence: `values` channels first (`[C, L]` row-major), already standardised.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceItem {
    /// Values, `C × L`.
    pub values: Vec<f32>,
    /// Class index.
    pub label: usize,
}

/// A batch of images: `images` `[N, C, H, W]`, `targets` `[N]`.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    /// The images, normalised as the batcher was told.
    pub images: Tensor<4>,
    /// Class indices.
    pub targets: Tensor<1, Int>,
    /// The first `items` rows are data; rows past them repeat earlier rows so that a GPU
    /// backend sees one batch shape (zoo-train pads the last evaluation batch) and are left
    /// out of every metric.
    pub items: usize,
}

impl ImageBatch {
    /// A batch whose rows are all data.
    pub fn new(images: Tensor<4>, targets: Tensor<1, Int>) -> Self {
        let items = targets.dims()[0];
        Self {
            images,
            targets,
            items,
        }
    }
}

/// A batch of sequences: `sequences` `[N, C, L]`, `targets` `[N]`.
#[derive(Debug, Clone)]
pub struct SequenceBatch {
    /// The sequences.
    pub sequences: Tensor<3>,
    /// Class indices.
    pub targets: Tensor<1, Int>,
    /// Rows that are data, as [`ImageBatch::items`].
    pub items: usize,
}

impl SequenceBatch {
    /// A batch whose rows are all data.
    pub fn new(sequences: Tensor<3>, targets: Tensor<1, Int>) -> Self {
        let items = targets.dims()[0];
        Self {
            sequences,
            targets,
            items,
        }
    }
}

/// How 0–255 pixels become the floats a model sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Normalization {
    /// Unchanged 0–255 (for models that rescale themselves, like binary-cnn's `Rescaling`).
    Raw,
    /// Divided by 255: [0, 1].
    Unit,
    /// Divided by 255, then `(x - mean[c]) / std[c]` per channel.
    Standardize {
        /// Per-channel mean on the [0, 1] scale.
        mean: Vec<f32>,
        /// Per-channel standard deviation on the [0, 1] scale.
        std: Vec<f32>,
    },
}

/// CIFAR-10's training-set per-channel mean, as published and used by torchvision examples.
pub const CIFAR10_MEAN: [f32; 3] = [0.4914, 0.4822, 0.4465];
/// CIFAR-10's training-set per-channel standard deviation.
pub const CIFAR10_STD: [f32; 3] = [0.2470, 0.2435, 0.2616];

impl Normalization {
    /// Standardisation with CIFAR-10's statistics.
    pub fn cifar10() -> Self {
        Normalization::Standardize {
            mean: CIFAR10_MEAN.to_vec(),
            std: CIFAR10_STD.to_vec(),
        }
    }

    /// Per-channel (scale, offset) so that `value = pixel * scale + offset`.
    fn affine(&self, channels: usize) -> Vec<(f32, f32)> {
        match self {
            Normalization::Raw => vec![(1.0, 0.0); channels],
            Normalization::Unit => vec![(1.0 / 255.0, 0.0); channels],
            Normalization::Standardize { mean, std } => (0..channels)
                .map(|c| {
                    let (m, s) = (mean[c % mean.len()], std[c % std.len()]);
                    (1.0 / (255.0 * s), -m / s)
                })
                .collect(),
        }
    }
}

/// Random crop with zero padding and horizontal flip (the standard CIFAR augmentation), and
/// random erasing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augmentation {
    /// Zero padding on each side before cropping back to the original size (4 for CIFAR).
    pub padding: usize,
    /// Flip left-right with probability 1/2.
    pub flip: bool,
    /// Probability of random erasing (see `DataConfig::random_erasing`); 0: off.
    pub erase: f64,
    /// Seed of the per-item streams.
    pub seed: u64,
}

/// Turns [`ImageItem`]s into an [`ImageBatch`]: normalisation, and augmentation when training.
#[derive(Debug, Clone)]
pub struct ImageBatcher {
    shape: [usize; 3],
    normalization: Normalization,
    augmentation: Option<Augmentation>,
    /// How often each item index has been batched: its epoch, without knowing the loader's.
    visits: Arc<Vec<AtomicU32>>,
}

impl ImageBatcher {
    /// A batcher for items of `shape` (`[C, H, W]`) from a split of `len` items.
    pub fn new(shape: [usize; 3], normalization: Normalization, len: usize) -> Self {
        Self {
            shape,
            normalization,
            augmentation: None,
            visits: Arc::new((0..len).map(|_| AtomicU32::new(0)).collect()),
        }
    }

    /// The same batcher, augmenting every item it batches.
    pub fn with_augmentation(mut self, augmentation: Augmentation) -> Self {
        self.augmentation = Some(augmentation);
        self
    }

    /// The float values of one item, `[C, H, W]`, augmented and normalised.
    pub fn item_values(&self, item: &ImageItem) -> Vec<f32> {
        let [channels, height, width] = self.shape;
        let affine = self.normalization.affine(channels);
        let (mut dy, mut dx, mut flip, mut erase) = (0isize, 0isize, false, None);
        if let Some(aug) = self.augmentation {
            let visit = self
                .visits
                .get(item.index)
                .map_or(0, |count| count.fetch_add(1, Ordering::Relaxed));
            let mut rng = SplitMix64::derived(&[aug.seed, item.index as u64, visit as u64]);
            let span = 2 * aug.padding + 1;
            dy = rng.below(span) as isize - aug.padding as isize;
            dx = rng.below(span) as isize - aug.padding as isize;
            flip = aug.flip && rng.below(2) == 1;
            if aug.erase > 0.0 && f64::from(rng.next_f32()) < aug.erase {
                erase = erasing_rectangle(&mut rng, height, width);
            }
        }
        let mut values = Vec::with_capacity(channels * height * width);
        for (c, &(scale, offset)) in affine.iter().enumerate() {
            let plane = &item.pixels[c * height * width..(c + 1) * height * width];
            for y in 0..height {
                for x in 0..width {
                    let sx = if flip { width - 1 - x } else { x } as isize + dx;
                    let sy = y as isize + dy;
                    let inside =
                        (0..height as isize).contains(&sy) && (0..width as isize).contains(&sx);
                    // Padding is black (pixel 0) before normalisation, as torchvision pads.
                    let pixel = if inside {
                        plane[sy as usize * width + sx as usize]
                    } else {
                        0
                    };
                    values.push(pixel as f32 * scale + offset);
                }
            }
        }
        if let Some((top, left, h, w)) = erase {
            for plane in values.chunks_exact_mut(height * width) {
                for row in plane[top * width..(top + h) * width].chunks_exact_mut(width) {
                    row[left..left + w].fill(0.0);
                }
            }
        }
        values
    }
}

/// The rectangle random erasing blanks, `(top, left, height, width)`, as torchvision's
/// `RandomErasing` draws it: 2–33 % of the image's area, aspect ratio log-uniform in
/// [0.3, 3.3], up to ten tries to fit inside; `None` when none fits.
fn erasing_rectangle(
    rng: &mut SplitMix64,
    height: usize,
    width: usize,
) -> Option<(usize, usize, usize, usize)> {
    let area = (height * width) as f64;
    let (low, high) = (0.3f64.ln(), 3.3f64.ln());
    for _ in 0..10 {
        let target = area * (0.02 + 0.31 * f64::from(rng.next_f32()));
        let aspect = (low + (high - low) * f64::from(rng.next_f32())).exp();
        let h = (target * aspect).sqrt().round() as usize;
        let w = (target / aspect).sqrt().round() as usize;
        if h >= 1 && w >= 1 && h < height && w < width {
            let top = rng.below(height - h + 1);
            let left = rng.below(width - w + 1);
            return Some((top, left, h, w));
        }
    }
    None
}

impl Batcher<ImageItem, ImageBatch> for ImageBatcher {
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> ImageBatch {
        let [channels, height, width] = self.shape;
        let values: Vec<f32> = items
            .iter()
            .flat_map(|item| self.item_values(item))
            .collect();
        let labels: Vec<i64> = items.iter().map(|item| item.label as i64).collect();
        let shape = [items.len(), channels, height, width];
        ImageBatch::new(
            Tensor::from_data(TensorData::new(values, shape), device),
            Tensor::from_data(TensorData::new(labels, [items.len()]), device),
        )
    }
}

/// Stacks [`SequenceItem`]s of `[C, L]` into a [`SequenceBatch`].
#[derive(Debug, Clone)]
pub struct SequenceBatcher {
    shape: [usize; 2],
}

impl SequenceBatcher {
    /// A batcher for sequences of `shape` (`[C, L]`).
    pub fn new(shape: [usize; 2]) -> Self {
        Self { shape }
    }
}

impl Batcher<SequenceItem, SequenceBatch> for SequenceBatcher {
    fn batch(&self, items: Vec<SequenceItem>, device: &Device) -> SequenceBatch {
        let [channels, length] = self.shape;
        let values: Vec<f32> = items
            .iter()
            .flat_map(|item| item.values.iter().copied())
            .collect();
        let labels: Vec<i64> = items.iter().map(|item| item.label as i64).collect();
        SequenceBatch::new(
            Tensor::from_data(
                TensorData::new(values, [items.len(), channels, length]),
                device,
            ),
            Tensor::from_data(TensorData::new(labels, [items.len()]), device),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pixels: Vec<u8>) -> ImageItem {
        ImageItem {
            pixels,
            label: 3,
            index: 0,
        }
    }

    #[test]
    fn normalizations_map_pixels_as_documented() {
        let pixels = item(vec![0, 255, 51, 102]);
        let check = |normalization, expected: [f32; 4]| {
            let values = ImageBatcher::new([1, 2, 2], normalization, 1).item_values(&pixels);
            for (got, want) in values.iter().zip(expected) {
                assert!((got - want).abs() < 1e-5, "{values:?} vs {expected:?}");
            }
        };
        check(Normalization::Raw, [0.0, 255.0, 51.0, 102.0]);
        check(Normalization::Unit, [0.0, 1.0, 0.2, 0.4]);
        let standard = Normalization::Standardize {
            mean: vec![0.5],
            std: vec![0.25],
        };
        check(standard, [-2.0, 2.0, -1.2, -0.4]);
    }

    #[test]
    fn augmentation_is_seeded_crops_with_black_padding_and_keeps_pixels() {
        let pixels: Vec<u8> = (1..=16).collect();
        let augmented = |seed| {
            let batcher = ImageBatcher::new([1, 4, 4], Normalization::Raw, 1).with_augmentation(
                Augmentation {
                    padding: 2,
                    flip: true,
                    erase: 0.0,
                    seed,
                },
            );
            (0..20)
                .map(|_| batcher.item_values(&item(pixels.clone())))
                .collect::<Vec<_>>()
        };
        let first = augmented(1);
        assert_eq!(first, augmented(1), "same seed, same augmentation");
        assert_ne!(first, augmented(2), "another seed, other augmentation");
        assert!(
            first.iter().any(|v| v.contains(&0.0)),
            "some crops show the padding"
        );
        for values in &first {
            // Every visible pixel is one of the original values or padding.
            assert!(
                values
                    .iter()
                    .all(|&v| v == 0.0 || (1.0..=16.0).contains(&v))
            );
        }
    }

    #[test]
    fn random_erasing_blanks_one_rectangle_of_every_channel() {
        // Pixels 1..=255 (no zero), two channels, 20×20; no crop, no flip, always erase.
        let pixels: Vec<u8> = (0..800).map(|i| (i % 255 + 1) as u8).collect();
        let batcher =
            ImageBatcher::new([2, 20, 20], Normalization::Raw, 1).with_augmentation(Augmentation {
                padding: 0,
                flip: false,
                erase: 1.0,
                seed: 7,
            });
        for _ in 0..50 {
            let values = batcher.item_values(&item(pixels.clone()));
            let zeros: Vec<usize> = (0..400).filter(|&i| values[i] == 0.0).collect();
            // The same rectangle in both channels.
            let second: Vec<usize> = (0..400).filter(|&i| values[400 + i] == 0.0).collect();
            assert_eq!(zeros, second);
            // 2–33 % of the area (rounding of the sides can reach a little past either end).
            assert!((4..=150).contains(&zeros.len()), "{} pixels", zeros.len());
            // A rectangle: rows × columns of the zeros' bounding box.
            let rows: std::collections::BTreeSet<usize> = zeros.iter().map(|i| i / 20).collect();
            let cols: std::collections::BTreeSet<usize> = zeros.iter().map(|i| i % 20).collect();
            assert_eq!(rows.len() * cols.len(), zeros.len());
            // Every other pixel is untouched.
            for i in (0..400).filter(|i| !zeros.contains(i)) {
                assert_eq!(values[i], pixels[i] as f32);
            }
        }
        let never =
            ImageBatcher::new([2, 20, 20], Normalization::Raw, 1).with_augmentation(Augmentation {
                padding: 0,
                flip: false,
                erase: 0.0,
                seed: 7,
            });
        let values = never.item_values(&item(pixels.clone()));
        assert!(values.iter().zip(&pixels).all(|(&v, &p)| v == p as f32));
    }

    #[test]
    fn batches_have_the_documented_shapes() {
        let device = Device::flex();
        let batcher = ImageBatcher::new([3, 2, 2], Normalization::Unit, 2);
        let batch = batcher.batch(vec![item(vec![9; 12]), item(vec![0; 12])], &device);
        assert_eq!(batch.images.dims(), [2, 3, 2, 2]);
        assert_eq!(
            batch
                .targets
                .into_data()
                .convert::<i64>()
                .try_to_vec::<i64>()
                .unwrap(),
            [3, 3]
        );
        let sequences = SequenceBatcher::new([2, 3]).batch(
            vec![SequenceItem {
                values: vec![0.0; 6],
                label: 1,
            }],
            &device,
        );
        assert_eq!(sequences.sequences.dims(), [1, 2, 3]);
    }
}
