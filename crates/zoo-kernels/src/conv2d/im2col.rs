//! The planar im2col: one sample's convolution matrix, `[patch, positions]`, built per block
//! of output rows (and added back, col2im, for the input gradient); the sample copies it reads
//! (rows reordered for a column stride, or the channels-last copy of [`super::channels_last`]).

use std::ops::Range;

use crate::conv2d::channels_last;
use crate::conv2d::geometry::{Conv2dGeometry, Layout, valid_range};
use crate::short::{add_short, copy_short, zero_short};

/// One row of the im2col matrix (input channel × kernel row × kernel column) over a block of
/// output rows: which of its lines read the input, and where.
pub(crate) struct MatrixRow {
    /// The row's index in the matrix.
    index: usize,
    /// The output rows of the block (absolute, within the block) whose line reads the input;
    /// the others fall in the padding.
    ys: Range<usize>,
    /// The output columns each such line reads; the others fall in the padding.
    xs: Range<usize>,
    /// Input offset of output row `ys.start`, column `xs.start` (in the layout of
    /// [`split_columns`]: the next column reads the next value); the next output row reads
    /// `step` further on.
    offset: usize,
    step: usize,
}

/// Calls `f` for each row of the im2col matrix of one sample's output rows `rows` (the traversal
/// that im2col and col2im share). Per matrix row rather than per line (channel × kernel tap ×
/// output row): lines here are as short as 4–30 values, so the per-call work must not be per
/// line.
pub(crate) fn for_each_row(g: &Conv2dGeometry, rows: &Range<usize>, mut f: impl FnMut(MatrixRow)) {
    let [h, w] = g.input;
    let [oh, ow] = g.output();
    let [kh, kw] = g.kernel;
    let mut index = 0;
    for c in 0..g.channels_in {
        for ki in 0..kh {
            let (y0, y1) = valid_range(oh, h, ki, g.stride[0], g.dilation[0], g.padding[0].0);
            let lo = y0.clamp(rows.start, rows.end);
            let ys = lo..y1.clamp(lo, rows.end);
            for kj in 0..kw {
                let (x0, x1) = valid_range(ow, w, kj, g.stride[1], g.dilation[1], g.padding[1].0);
                let ys = if x0 == x1 { lo..lo } else { ys.clone() };
                let offset = if ys.is_empty() {
                    0
                } else {
                    let iy = ys.start * g.stride[0] + ki * g.dilation[0] - g.padding[0].0;
                    let ix = x0 * g.stride[1] + kj * g.dilation[1] - g.padding[1].0;
                    (c * h + iy) * w + split_column(ix, w, g.stride[1])
                };
                f(MatrixRow {
                    index,
                    ys,
                    xs: x0..x1,
                    offset,
                    step: g.stride[0] * w,
                });
                index += 1;
            }
        }
    }
}

/// Writes the im2col matrix of one sample's output rows `rows`, `[patch, rows.len() * ow]` with
/// row stride `ld`, into `cols`; `x` is the sample as [`sample_input`] lays it out.
pub(crate) fn im2col(
    x: &[f32],
    g: &Conv2dGeometry,
    rows: Range<usize>,
    cols: &mut [f32],
    ld: usize,
) {
    let ow = g.output()[1];
    let n = rows.len() * ow;
    for_each_row(g, &rows, |row| {
        let dst = &mut cols[row.index * ld..][..n];
        let (before, rest) = dst.split_at_mut((row.ys.start - rows.start) * ow);
        let (inside, after) = rest.split_at_mut(row.ys.len() * ow);
        before.fill(0.0);
        after.fill(0.0);
        let xs = row.xs;
        let padded = xs.start > 0 || xs.end < ow;
        let len = xs.len();
        for (i, line) in inside.chunks_exact_mut(ow).enumerate() {
            if padded {
                zero_short(line);
            }
            let at = row.offset + i * row.step;
            copy_short(&mut line[xs.clone()], &x[at..at + len]);
        }
    });
}

/// Adds the im2col-shaped gradient `cols` (row stride `ld`) of output rows `rows` back onto one
/// sample's input gradient `dx`, laid out as [`sample_input`] lays out the input.
pub(crate) fn col2im_add(
    cols: &[f32],
    g: &Conv2dGeometry,
    rows: Range<usize>,
    dx: &mut [f32],
    ld: usize,
) {
    let ow = g.output()[1];
    for_each_row(g, &rows, |row| {
        let first = row.index * ld + (row.ys.start - rows.start) * ow;
        let inside = &cols[first..][..row.ys.len() * ow];
        let xs = row.xs;
        for (i, line) in inside.chunks_exact(ow).enumerate() {
            let line = &line[xs.clone()];
            let at = row.offset + i * row.step;
            add_short(&mut dx[at..at + line.len()], line);
        }
    });
}

/// The phases of a row of `w` columns for a column stride `stride`, in the order
/// [`split_columns`] lays them out: `(phase, positions in the reordered row)`, the phase's
/// columns being `phase, phase + stride, …`.
pub(crate) fn phases(w: usize, stride: usize) -> impl Iterator<Item = (usize, Range<usize>)> {
    (0..stride.min(w)).scan(0, move |at, p| {
        let count = (w - p).div_ceil(stride);
        *at += count;
        Some((p, *at - count..*at))
    })
}

/// Where input column `ix` lands in a row of [`split_columns`]'s layout for stride `stride`.
pub(crate) fn split_column(ix: usize, w: usize, stride: usize) -> usize {
    if stride == 1 {
        return ix;
    }
    let (_, positions) = phases(w, stride).nth(ix % stride).expect("ix < w");
    positions.start + ix / stride
}

/// Reorders each row (`w` values) of `x` into `out` by phase for a column stride `stride`:
/// columns 0, s, 2s, …, then 1, 1 + s, …, so that each im2col line of a strided convolution
/// reads consecutive values (a strided gather per value cost as much as the GEMM here).
pub(crate) fn split_columns(x: &[f32], w: usize, stride: usize, out: &mut [f32]) {
    for (src, dst) in x.chunks_exact(w).zip(out.chunks_exact_mut(w)) {
        for (p, positions) in phases(w, stride) {
            for (k, d) in dst[positions].iter_mut().enumerate() {
                *d = src[p + k * stride];
            }
        }
    }
}

/// The inverse of [`split_columns`]: writes the rows of `split` back in column order.
pub(crate) fn merge_columns(split: &[f32], w: usize, stride: usize, out: &mut [f32]) {
    for (src, dst) in split.chunks_exact(w).zip(out.chunks_exact_mut(w)) {
        for (p, positions) in phases(w, stride) {
            for (k, v) in src[positions].iter().enumerate() {
                dst[p + k * stride] = *v;
            }
        }
    }
}

/// One sample's input as the im2col of `layout` reads it: the sample itself, its rows
/// reordered by [`split_columns`] for a column stride, or its channels-last copy; the copies go
/// to `buf`.
pub(crate) fn sample_input<'a>(
    xs: &'a [f32],
    g: &Conv2dGeometry,
    layout: Layout,
    buf: &'a mut [f32],
) -> &'a [f32] {
    match layout {
        Layout::Pointwise => xs,
        Layout::Planar if g.stride[1] == 1 => xs,
        Layout::Planar => {
            split_columns(xs, g.input[1], g.stride[1], buf);
            buf
        }
        Layout::ChannelsLast => {
            let [h, w] = g.input;
            channels_last::transpose(xs, g.channels_in, h * w, buf);
            buf
        }
    }
}

/// Whether `layout` needs a sample-sized copy of the input (or of its gradient).
pub(crate) fn needs_sample_buffer(g: &Conv2dGeometry, layout: Layout) -> bool {
    match layout {
        Layout::Pointwise => false,
        Layout::Planar => g.stride[1] > 1,
        Layout::ChannelsLast => true,
    }
}

/// The im2col matrix of a block of output rows as `[patch, positions]` through its (row,
/// column) strides: the sample itself for a pointwise convolution, else written into `cols`.
pub(crate) fn block_cols<'a>(
    xs: &'a [f32],
    g: &Conv2dGeometry,
    layout: Layout,
    rows: Range<usize>,
    cols: &'a mut [f32],
) -> (&'a [f32], (usize, usize)) {
    let (ow, patch) = (g.output()[1], g.patch());
    let len = rows.len() * ow;
    match layout {
        Layout::Pointwise => (&xs[rows.start * ow..], (g.output_len(), 1)),
        Layout::Planar => {
            im2col(xs, g, rows, &mut cols[..patch * len], len);
            (&cols[..patch * len], (len, 1))
        }
        Layout::ChannelsLast => {
            channels_last::im2col(xs, g, rows, &mut cols[..patch * len]);
            (&cols[..patch * len], (1, patch))
        }
    }
}
