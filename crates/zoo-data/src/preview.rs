//! `zoo data --preview grid.png`: a grid of sample images (or small line plots of sequences),
//! each captioned with its class index, drawn with a built-in 3×5 digit font (no font files).

use std::path::Path;

use image::Rgb;
pub use image::RgbImage;

use crate::batch::{ImageItem, SequenceItem};
use crate::error::DataError;

/// Columns of the grid.
const COLUMNS: usize = 8;
/// Pixels of the caption strip under each tile.
const CAPTION: u32 = 14;

/// 3×5 bitmaps of the digits 0–9, one row per `u8`, the 3 low bits left to right.
const DIGITS: [[u8; 5]; 10] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 7, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 1, 1, 1],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
];

/// Writes `number` at (x, y) in 2× scaled digits.
fn draw_number(canvas: &mut RgbImage, x: u32, y: u32, number: usize, color: Rgb<u8>) {
    for (i, digit) in number.to_string().bytes().enumerate() {
        let glyph = DIGITS[(digit - b'0') as usize];
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..3 {
                if bits >> (2 - col) & 1 == 1 {
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        let px = x + (i as u32) * 8 + col * 2 + dx;
                        let py = y + row as u32 * 2 + dy;
                        if px < canvas.width() && py < canvas.height() {
                            canvas.put_pixel(px, py, color);
                        }
                    }
                }
            }
        }
    }
}

/// A white canvas for `count` tiles of `tile_w` × `tile_h` (caption included) in rows of
/// [`COLUMNS`], and the top-left corner of tile `n`.
struct Grid {
    canvas: RgbImage,
    tile_w: u32,
    tile_h: u32,
}

impl Grid {
    fn new(count: usize, tile_w: u32, tile_h: u32) -> Self {
        let rows = count.div_ceil(COLUMNS).max(1) as u32;
        let canvas = RgbImage::from_pixel(
            COLUMNS as u32 * (tile_w + 2),
            rows * (tile_h + 2),
            Rgb([255, 255, 255]),
        );
        Self {
            canvas,
            tile_w,
            tile_h,
        }
    }

    /// Writes tile `n`'s class under its picture, in the caption strip.
    fn caption(&mut self, n: usize, label: usize) {
        let (x0, y0) = self.origin(n);
        let y = y0 + self.tile_h - CAPTION + 2;
        draw_number(&mut self.canvas, x0 + 2, y, label, Rgb([200, 0, 0]));
    }

    fn origin(&self, n: usize) -> (u32, u32) {
        (
            (n % COLUMNS) as u32 * (self.tile_w + 2),
            (n / COLUMNS) as u32 * (self.tile_h + 2),
        )
    }
}

/// Tile size (side) for images of `height` × `width`: at least 64 pixels.
fn tile_scale(height: usize, width: usize) -> u32 {
    (64 / height.max(width).max(1)).max(1) as u32
}

/// A grid of up to `count` images of `shape` (`[C, H, W]`, 1 or 3 channels), captioned.
pub fn image_grid(items: &[ImageItem], shape: [usize; 3], count: usize) -> RgbImage {
    let [channels, height, width] = shape;
    let scale = tile_scale(height, width) as usize;
    let (tile_w, plot_h) = ((width * scale) as u32, (height * scale) as u32);
    let shown = &items[..count.min(items.len())];
    let mut grid = Grid::new(shown.len(), tile_w, plot_h + CAPTION);
    for (n, item) in shown.iter().enumerate() {
        let (x0, y0) = grid.origin(n);
        for y in 0..height * scale {
            for x in 0..width * scale {
                let at = |c: usize| item.pixels[(c * height + y / scale) * width + x / scale];
                let rgb = if channels >= 3 {
                    [at(0), at(1), at(2)]
                } else {
                    [at(0); 3]
                };
                grid.canvas
                    .put_pixel(x0 + x as u32, y0 + y as u32, Rgb(rgb));
            }
        }
        grid.caption(n, item.label);
    }
    grid.canvas
}

/// A grid of small line plots (the first channel) of up to `count` sequences, captioned.
pub fn sequence_grid(items: &[SequenceItem], shape: [usize; 2], count: usize) -> RgbImage {
    let [_, length] = shape;
    let (tile_w, plot_h) = (160u32, 60u32);
    let shown = &items[..count.min(items.len())];
    let mut grid = Grid::new(shown.len(), tile_w, plot_h + CAPTION);
    for (n, item) in shown.iter().enumerate() {
        let (x0, y0) = grid.origin(n);
        let series = &item.values[..length.min(item.values.len())];
        let (low, high) = series
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        let span = (high - low).max(1e-6);
        let row = |x: u32| {
            let t =
                (x as usize * series.len() / tile_w as usize).min(series.len().saturating_sub(1));
            (((high - series[t]) / span * (plot_h - 1) as f32) as u32).min(plot_h - 1)
        };
        for x in 0..tile_w {
            grid.canvas
                .put_pixel(x0 + x, y0 + plot_h - 1, Rgb([220, 220, 220]));
            // A vertical run from the previous point joins the points into a line.
            let (y, previous) = (row(x), row(x.saturating_sub(1)));
            for y in y.min(previous)..=y.max(previous) {
                grid.canvas.put_pixel(x0 + x, y0 + y, Rgb([0, 70, 160]));
            }
        }
        grid.caption(n, item.label);
    }
    grid.canvas
}

/// Saves a PNG atomically: to a temporary file beside `path`, then renamed over it.
pub fn save_png(canvas: &RgbImage, path: &Path) -> Result<(), DataError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temp = tempfile::Builder::new()
        .prefix(".preview-")
        .suffix(".png")
        .tempfile_in(dir)
        .map_err(|source| DataError::write(path, source))?;
    canvas
        .save_with_format(temp.path(), image::ImageFormat::Png)
        .map_err(|error| DataError::format(path, format!("cannot write PNG: {error}")))?;
    temp.persist(path)
        .map_err(|error| DataError::write(path, error.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic;

    #[test]
    fn image_grid_has_one_captioned_tile_per_item() {
        let items = synthetic::images([3, 32, 32], 10, 12, 1);
        let grid = image_grid(&items, [3, 32, 32], 12);
        // 8 columns of (64 + 2) pixels; 2 rows of (64 + 14 + 2).
        assert_eq!(grid.dimensions(), (8 * 66, 2 * 80));
        // The top-left tile shows the first image's top-left pixel, scaled ×2.
        let p = &items[0].pixels;
        assert_eq!(grid.get_pixel(1, 1).0, [p[0], p[1024], p[2048]]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.png");
        save_png(&grid, &path).unwrap();
        let read = image::open(&path).unwrap();
        assert_eq!((read.width(), read.height()), (8 * 66, 2 * 80));
    }

    #[test]
    fn sequence_grid_draws_plots() {
        let items = synthetic::sequences([7, 500], 5, 3, 1);
        let grid = sequence_grid(&items, [7, 500], 3);
        assert_eq!(grid.dimensions(), (8 * 162, 76));
        let blue = grid.pixels().filter(|p| p.0 == [0, 70, 160]).count();
        assert!(
            blue >= 3 * 160,
            "at least one plotted point per column per plot: {blue}"
        );
    }
}
