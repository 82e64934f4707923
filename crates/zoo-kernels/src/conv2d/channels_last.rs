//! The channels-last im2col: the matrix of one sample's block as `[positions, patch]` with the
//! patch ordered (kernel row, kernel column, channel), built from a channels-last (HWC) copy of
//! the sample.
//!
//! Why: in the planar layout each matrix line is one output row of one channel and kernel tap,
//! as short as 4–14 values at cifar-inception's 14×14, 6×6 and 4×4 outputs, so building the
//! matrix cost per line rather than per value. Channels-last, a line is the kernel row's taps
//! across all channels (3 × 96 values for the Inception 3×3 branch), read as one run; a stride
//! is only an offset.

use rayon::prelude::*;
use std::ops::Range;

use crate::conv2d::geometry::Conv2dGeometry;
use crate::short::add_short;

/// `dst[c * rows + r] = src[r * cols + c]`: the transpose of a row-major `rows × cols` matrix,
/// in 4 × 4 tiles (SSE shuffles on x86-64: a value at a time was a visible share of a
/// cifar-inception training step, the book's "Kernel measurements"), the edges value by value.
pub(crate) fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    transpose_into::<false>(src, rows, cols, dst, rows);
}

/// `dst[c * dst_stride + r] += src[r * cols + c]`: a row-major `rows × cols` matrix added,
/// transposed, onto the first `rows` columns of `cols` rows of `dst` (a convolution's output
/// block computed as `[positions, channels]`, added onto its `[channels, positions]` output).
pub(crate) fn transpose_add(src: &[f32], rows: usize, cols: usize, dst: &mut [f32], stride: usize) {
    transpose_into::<true>(src, rows, cols, dst, stride);
}

fn transpose_into<const ADD: bool>(
    src: &[f32],
    rows: usize,
    cols: usize,
    dst: &mut [f32],
    stride: usize,
) {
    const T: usize = 4;
    let src = &src[..rows * cols];
    assert!(rows <= stride && (cols == 0 || (cols - 1) * stride + rows <= dst.len()));
    let (full_rows, full_cols) = (rows - rows % T, cols - cols % T);
    for r0 in (0..full_rows).step_by(T) {
        for c0 in (0..full_cols).step_by(T) {
            transpose_tile::<ADD>(
                &src[r0 * cols + c0..],
                cols,
                &mut dst[c0 * stride + r0..],
                stride,
            );
        }
    }
    let edge = |dst: &mut [f32], r: usize, c: usize| {
        let (d, v) = (&mut dst[c * stride + r], src[r * cols + c]);
        *d = if ADD { *d + v } else { v };
    };
    for r in 0..full_rows {
        for c in full_cols..cols {
            edge(dst, r, c);
        }
    }
    for r in full_rows..rows {
        for c in 0..cols {
            edge(dst, r, c);
        }
    }
}

/// Transposes the 4 × 4 tile at the start of `src` (row stride `src_stride`) into (or, with
/// `ADD`, onto) the start of `dst` (row stride `dst_stride`).
#[inline(always)]
fn transpose_tile<const ADD: bool>(
    src: &[f32],
    src_stride: usize,
    dst: &mut [f32],
    dst_stride: usize,
) {
    assert!(src.len() >= 3 * src_stride + 4 && dst.len() >= 3 * dst_stride + 4);
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            _mm_add_ps, _mm_loadu_ps, _mm_movehl_ps, _mm_movelh_ps, _mm_storeu_ps, _mm_unpackhi_ps,
            _mm_unpacklo_ps,
        };
        // SAFETY: the assert above keeps the four 4-value rows read and written inside `src`
        // and `dst`; SSE is part of every x86-64 CPU; unaligned loads and stores.
        unsafe {
            let s = src.as_ptr();
            let [a, b, c, d] = [0, 1, 2, 3].map(|i| _mm_loadu_ps(s.add(i * src_stride)));
            let (ab_lo, cd_lo) = (_mm_unpacklo_ps(a, b), _mm_unpacklo_ps(c, d));
            let (ab_hi, cd_hi) = (_mm_unpackhi_ps(a, b), _mm_unpackhi_ps(c, d));
            let out = [
                _mm_movelh_ps(ab_lo, cd_lo),
                _mm_movehl_ps(cd_lo, ab_lo),
                _mm_movelh_ps(ab_hi, cd_hi),
                _mm_movehl_ps(cd_hi, ab_hi),
            ];
            let o = dst.as_mut_ptr();
            for (i, v) in out.into_iter().enumerate() {
                let at = o.add(i * dst_stride);
                let v = if ADD {
                    _mm_add_ps(_mm_loadu_ps(at), v)
                } else {
                    v
                };
                _mm_storeu_ps(at, v);
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    for i in 0..4 {
        for j in 0..4 {
            let (d, v) = (&mut dst[j * dst_stride + i], src[i * src_stride + j]);
            *d = if ADD { *d + v } else { v };
        }
    }
}

/// The kernel columns `kj0..kj1` whose input column `ox * stride + kj * dilation - pad` lies in
/// `0..w`.
fn valid_taps(ox: usize, g: &Conv2dGeometry) -> (usize, usize) {
    let (w, kw) = (g.input[1] as isize, g.kernel[1]);
    let (stride, dilation) = (g.stride[1] as isize, g.dilation[1] as isize);
    let base = ox as isize * stride - g.padding[1].0 as isize;
    let first = if base >= 0 {
        0
    } else {
        ((-base + dilation - 1) / dilation) as usize
    };
    let end = if base >= w {
        0
    } else {
        (((w - 1 - base) / dilation) as usize + 1).min(kw)
    };
    (first.min(end), end)
}

/// Calls `f(position, column, len, source)` for each run of the channels-last matrix of one
/// sample's output rows `rows`: matrix row `position` (output position within the block),
/// columns `column..column + len`, copied from the channels-last input at `source..` or, for
/// `None`, padding (zeros).
fn for_each_run(
    g: &Conv2dGeometry,
    rows: &Range<usize>,
    mut f: impl FnMut(usize, usize, usize, Option<usize>),
) {
    let ([h, w], [_, ow], [kh, kw]) = (g.input, g.output(), g.kernel);
    let c = g.channels_in;
    let taps: Vec<(usize, usize)> = (0..ow).map(|ox| valid_taps(ox, g)).collect();
    for oy in rows.clone() {
        for (ox, &(kj0, kj1)) in taps.iter().enumerate() {
            let position = (oy - rows.start) * ow + ox;
            for ki in 0..kh {
                let column = ki * kw * c;
                let iy = (oy * g.stride[0] + ki * g.dilation[0]) as isize - g.padding[0].0 as isize;
                if iy < 0 || iy >= h as isize || kj0 == kj1 {
                    f(position, column, kw * c, None);
                    continue;
                }
                if kj0 > 0 {
                    f(position, column, kj0 * c, None);
                }
                let source = |kj: usize| {
                    let ix = ox * g.stride[1] + kj * g.dilation[1] - g.padding[1].0;
                    (iy as usize * w + ix) * c
                };
                if g.dilation[1] == 1 {
                    // neighbouring taps are neighbouring pixels: one run
                    f(
                        position,
                        column + kj0 * c,
                        (kj1 - kj0) * c,
                        Some(source(kj0)),
                    );
                } else {
                    for kj in kj0..kj1 {
                        f(position, column + kj * c, c, Some(source(kj)));
                    }
                }
                if kj1 < kw {
                    f(position, column + kj1 * c, (kw - kj1) * c, None);
                }
            }
        }
    }
}

/// Writes the channels-last matrix of output rows `rows` (`[rows.len() * ow, patch]`) into
/// `cols` from the channels-last sample `xt` (`[h, w, channels_in]`).
pub(crate) fn im2col(xt: &[f32], g: &Conv2dGeometry, rows: Range<usize>, cols: &mut [f32]) {
    let patch = g.kernel[0] * g.kernel[1] * g.channels_in;
    for_each_run(g, &rows, |position, column, len, source| {
        let dst = &mut cols[position * patch + column..][..len];
        match source {
            Some(at) => dst.copy_from_slice(&xt[at..at + len]),
            None => dst.fill(0.0),
        }
    });
}

/// Adds the channels-last matrix gradient `cols` of output rows `rows` back onto the
/// channels-last input gradient `dxt` (`[h, w, channels_in]`).
pub(crate) fn col2im_add(cols: &[f32], g: &Conv2dGeometry, rows: Range<usize>, dxt: &mut [f32]) {
    let patch = g.kernel[0] * g.kernel[1] * g.channels_in;
    for_each_run(g, &rows, |position, column, len, source| {
        if let Some(at) = source {
            add_short(
                &mut dxt[at..at + len],
                &cols[position * patch + column..][..len],
            );
        }
    });
}

/// The weight `[channels_out, channels_in, kh, kw]` reordered to the matrix's column order
/// `[channels_out, kh, kw, channels_in]`.
pub(crate) fn weight_to_channels_last(weight: &[f32], g: &Conv2dGeometry) -> Vec<f32> {
    transpose_each(weight, g.channels_in, g.kernel[0] * g.kernel[1])
}

/// The inverse of [`weight_to_channels_last`].
pub(crate) fn weight_from_channels_last(weight: &[f32], g: &Conv2dGeometry) -> Vec<f32> {
    transpose_each(weight, g.kernel[0] * g.kernel[1], g.channels_in)
}

/// Each consecutive `rows × cols` matrix of `values` transposed (the matrices split across
/// threads: a weight of every training step, serial work otherwise).
fn transpose_each(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    let size = (rows * cols).max(1);
    out.par_chunks_exact_mut(size)
        .zip(values.par_chunks_exact(size))
        .for_each(|(dst, src)| transpose(src, rows, cols, dst));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_and_weight_order_round_trip() {
        // whole tiles and both edges
        for (rows, cols) in [(3, 10), (16, 8), (19, 21)] {
            let src: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
            let mut dst = vec![0.0; rows * cols];
            transpose(&src, rows, cols, &mut dst);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(
                        dst[c * rows + r],
                        src[r * cols + c],
                        "{rows}x{cols} [{r}, {c}]"
                    );
                }
            }
        }
        let g = Conv2dGeometry::valid(1, 3, 2, [5, 5], [2, 2]);
        let w: Vec<f32> = (0..24).map(|v| v as f32).collect();
        let last = weight_to_channels_last(&w, &g);
        // [co 0, ki 0, kj 1, c 2] (index (kj 1) * 3 channels + 2) = w[co 0, c 2, ki 0, kj 1]
        // (index 2 * 4 taps + 1)
        assert_eq!(last[3 + 2], 9.0);
        // [co 1, ki 1, kj 0, c 1] = w[co 1, c 1, ki 1, kj 0]
        assert_eq!(last[12 + (2 * 3) + 1], (12 + 4 + 2) as f32);
        assert_eq!(weight_from_channels_last(&last, &g), w);
    }
}
