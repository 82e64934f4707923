//! Deterministic generated data with a learnable signal, so a model reaches well above chance
//! in seconds: tests and offline demos, never results.
//!
//! - images with 2 classes: a bright blob present (class 1) or absent (class 0) under noise;
//! - images with more classes: a bright square at a class-specific place, a class-specific
//!   tint, and noise (CIFAR-shaped 3×32×32 by default);
//! - sequences: per class a frequency, and per channel a phase that depends on the class,
//!   at a random time shift, plus noise.

use crate::batch::{ImageItem, SequenceItem};
use crate::rng::SplitMix64;

/// `count` images of `shape` (`[C, H, W]`) in `classes` classes, labels balanced.
pub fn images(shape: [usize; 3], classes: usize, count: usize, seed: u64) -> Vec<ImageItem> {
    let [channels, height, width] = shape;
    (0..count)
        .map(|index| {
            let label = index % classes.max(1);
            let mut rng = SplitMix64::derived(&[seed, index as u64]);
            let mut pixels: Vec<f32> = (0..channels * height * width)
                .map(|_| 40.0 + 60.0 * rng.next_f32())
                .collect();
            let mut add = |c: usize, y: usize, x: usize, amount: f32| {
                let p = &mut pixels[(c * height + y) * width + x];
                *p += amount;
            };
            if classes == 2 {
                if label == 1 {
                    // A Gaussian blob of radius ~H/10 somewhere away from the border.
                    let radius = (height.min(width) as f32 / 10.0).max(1.0);
                    let cy = radius + rng.next_f32() * (height as f32 - 2.0 * radius);
                    let cx = radius + rng.next_f32() * (width as f32 - 2.0 * radius);
                    for c in 0..channels {
                        for y in 0..height {
                            for x in 0..width {
                                let d2 = (y as f32 - cy).powi(2) + (x as f32 - cx).powi(2);
                                add(c, y, x, 150.0 * (-d2 / (2.0 * radius * radius)).exp());
                            }
                        }
                    }
                }
            } else {
                // A square of side H/4 in cell `label` of a 4×4 grid, jittered by a pixel or two.
                let side = (height / 4).max(1);
                let (gy, gx) = ((label / 4) % 4, label % 4);
                let jitter = |rng: &mut SplitMix64| rng.below(3);
                let (y0, x0) = (gy * side + jitter(&mut rng), gx * side + jitter(&mut rng));
                for c in 0..channels {
                    let tint = if (label >> c) & 1 == 1 { 40.0 } else { 0.0 };
                    for y in 0..height {
                        for x in 0..width {
                            let inside =
                                (y0..y0 + side).contains(&y) && (x0..x0 + side).contains(&x);
                            add(c, y, x, tint + if inside { 110.0 } else { 0.0 });
                        }
                    }
                }
            }
            ImageItem {
                pixels: pixels.iter().map(|&p| p.clamp(0.0, 255.0) as u8).collect(),
                label,
                index,
            }
        })
        .collect()
}

/// `count` sequences of `shape` (`[C, L]`) in `classes` classes, labels balanced.
pub fn sequences(shape: [usize; 2], classes: usize, count: usize, seed: u64) -> Vec<SequenceItem> {
    let [channels, length] = shape;
    (0..count)
        .map(|index| {
            let label = index % classes.max(1);
            let mut rng = SplitMix64::derived(&[seed, index as u64, 1]);
            let cycles = 2.0 + 2.0 * label as f32;
            let shift = rng.next_f32() * std::f32::consts::TAU;
            let mut values = Vec::with_capacity(channels * length);
            for c in 0..channels {
                let phase = c as f32 * (label as f32 + 1.0) * 0.4;
                for t in 0..length {
                    let angle = std::f32::consts::TAU * cycles * t as f32 / length as f32;
                    values.push((angle + phase + shift).sin() + 0.5 * rng.normal());
                }
            }
            SequenceItem { values, label }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_data_and_labels_are_balanced() {
        let a = images([3, 32, 32], 10, 50, 7);
        assert_eq!(a, images([3, 32, 32], 10, 50, 7));
        assert_ne!(a, images([3, 32, 32], 10, 50, 8));
        for class in 0..10 {
            assert_eq!(a.iter().filter(|item| item.label == class).count(), 5);
        }
        let s = sequences([7, 500], 5, 10, 1);
        assert_eq!(s, sequences([7, 500], 5, 10, 1));
        assert_eq!(s[0].values.len(), 3500);
    }

    #[test]
    fn blob_images_are_brighter_than_empty_ones() {
        let items = images([1, 64, 64], 2, 40, 3);
        let peak = |label| {
            let peaks: Vec<u8> = items
                .iter()
                .filter(|item| item.label == label)
                .map(|item| *item.pixels.iter().max().unwrap())
                .collect();
            peaks.iter().map(|&p| p as f32).sum::<f32>() / peaks.len() as f32
        };
        assert!(peak(1) > peak(0) + 100.0, "{} vs {}", peak(1), peak(0));
    }
}
