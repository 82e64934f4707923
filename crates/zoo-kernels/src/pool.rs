//! 2-D max pooling (NCHW) on plain `f32` slices: the forward pass with or without the position of
//! each maximum, and the backward pass that sends each output gradient to that position.
//!
//! Why: Flex 0.22.1 runs every max pool through a 3-D kernel that also fills an `i64` index
//! tensor, even without autodiff; a 1-D pool is ~35× slower than PyTorch's (BENCHMARKS.md).
//! Like PyTorch, the first maximum of a window wins a tie and a NaN counts as a maximum.

use rayon::prelude::*;

use crate::im2col::{par_chunks_filled, valid_range};

/// Shapes and options of one max pool over `planes` (batch × channels) planes. Padding is
/// symmetric (`padding[i]` on both sides), and padded positions never win.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2dGeometry {
    pub planes: usize,
    pub input: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
}

impl Pool2dGeometry {
    /// Output height and width (floor mode), as Burn and PyTorch compute them; `None` when the
    /// window does not fit.
    pub fn output(&self) -> Option<[usize; 2]> {
        let mut out = [0; 2];
        for (i, o) in out.iter_mut().enumerate() {
            if self.kernel[i] == 0 || self.dilation[i] == 0 {
                return None;
            }
            let span = self.dilation[i] * (self.kernel[i] - 1) + 1;
            let padded = self.input[i] + 2 * self.padding[i];
            if padded < span || self.stride[i] == 0 {
                return None;
            }
            *o = (padded - span) / self.stride[i] + 1;
        }
        Some(out)
    }

    fn output_len(&self) -> usize {
        self.output().map_or(0, |[h, w]| h * w)
    }
}

/// One plane, output row by output row: for each window tap `(ky, kx)` in row-major order, a
/// pass over the output row that keeps the larger value (the first maximum wins a tie). The
/// ranges where a tap lies inside the input are computed once, so the inner loop has no bounds
/// logic and vectorises for stride 1. `out` arrives filled with `-inf` and `argmax` with
/// `u32::MAX` (no tap yet), as [`max_pool2d`] allocates them.
fn pool_plane(x: &[f32], g: &Pool2dGeometry, out: &mut [f32], mut argmax: Option<&mut [u32]>) {
    let [h, w] = g.input;
    let [oh, ow] = g.output().expect("checked by the caller");
    let [kh, kw] = g.kernel;
    let (sw, dw, pw) = (g.stride[1], g.dilation[1], g.padding[1]);
    let columns: Vec<(usize, usize, isize)> = (0..kw)
        .map(|kx| {
            let (x0, x1) = valid_range(ow, w, kx, sw, dw, pw);
            (x0, x1, (kx * dw) as isize - pw as isize)
        })
        .collect();
    let tiled = sw == kw && dw == 1 && pw == 0;
    // A 3-wide stride-1 window: the outputs whose three taps all lie in the row take them in
    // one pass (`triples_pass`); the others, at the borders, one by one.
    let interior = if kw == 3 && sw == 1 && dw == 1 {
        let lo = columns.iter().map(|c| c.0).max().unwrap_or(0);
        let hi = columns.iter().map(|c| c.1).min().unwrap_or(0);
        (lo < hi).then_some((lo, hi))
    } else {
        None
    };
    for oy in 0..oh {
        let out_row = &mut out[oy * ow..(oy + 1) * ow];
        let mut arg_row = argmax
            .as_deref_mut()
            .map(|a| &mut a[oy * ow..(oy + 1) * ow]);
        for ky in 0..kh {
            let Some(iy) = (oy * g.stride[0] + ky * g.dilation[0])
                .checked_sub(g.padding[0])
                .filter(|&iy| iy < h)
            else {
                continue;
            };
            let row = &x[iy * w..(iy + 1) * w];
            if tiled {
                // Windows side by side along the row (stride = width, no padding or dilation):
                // one pass over the row in chunks of the window's width.
                let chunks = row.chunks_exact(kw);
                match arg_row.as_deref_mut() {
                    None if kw == 2 => pairs_pass(out_row, &row[..2 * ow]),
                    None => {
                        for (o, c) in out_row.iter_mut().zip(chunks) {
                            for &v in c {
                                *o = if wins(v, *o) { v } else { *o };
                            }
                        }
                    }
                    Some(args) if kw == 2 => pairs_argmax_pass(out_row, args, row, (iy * w) as u32),
                    Some(args) => {
                        let base = (iy * w) as u32;
                        for (i, ((o, a), c)) in out_row.iter_mut().zip(args).zip(chunks).enumerate()
                        {
                            for (t, &v) in c.iter().enumerate() {
                                let take = wins(v, *o) | (*a == u32::MAX);
                                *o = if take { v } else { *o };
                                *a = if take { base + (i * kw + t) as u32 } else { *a };
                            }
                        }
                    }
                }
                continue;
            }
            if let Some((lo, hi)) = interior {
                // the few border outputs one by one, their valid taps in order
                let borders = (0..lo).chain(hi..ow);
                for ox in borders {
                    for &(x0, x1, offset) in &columns {
                        if (x0..x1).contains(&ox) {
                            let at = (ox as isize + offset) as usize;
                            let (o, v) = (&mut out_row[ox], row[at]);
                            let arg = arg_row.as_deref_mut().map(|a| &mut a[ox]);
                            merge(o, arg, v, (iy * w + at) as u32);
                        }
                    }
                }
            }
            for &(x0, x1, offset) in &columns {
                if x0 >= x1 || interior.is_some() {
                    continue;
                }
                let start = (x0 as isize * sw as isize + offset) as usize;
                let outs = &mut out_row[x0..x1];
                // Stride 1 as a plain slice iterator, which the compiler vectorises.
                let contiguous = row[start..start + (x1 - x0)].iter();
                let strided = row[start..].iter().step_by(sw);
                let first = (iy * w + start) as u32;
                let args = arg_row.as_deref_mut().map(|a| &mut a[x0..x1]);
                match (args, sw) {
                    (None, 1) => max_pass(outs, contiguous),
                    (None, _) => max_pass(outs, strided),
                    (Some(args), 1) => argmax_pass(outs, args, contiguous, first, 1),
                    (Some(args), _) => argmax_pass(outs, args, strided, first, sw),
                }
            }
            if let Some((lo, hi)) = interior {
                let start = (lo as isize + columns[0].2) as usize;
                let taps = &row[start..start + (hi - lo) + 2];
                let outs = &mut out_row[lo..hi];
                let args = arg_row.as_deref_mut().map(|a| &mut a[lo..hi]);
                triples_pass(outs, args, taps, (iy * w + start) as u32);
            }
        }
    }
}

/// Windows of two side by side (`MaxPool1d(2)`): 8 outputs from 16 inputs at a time, which the
/// compiler turns into vector shuffles (pair by pair it did not vectorise: 0.8 ns per input).
#[inline(always)]
fn pairs_pass(outs: &mut [f32], row: &[f32]) {
    fn pair(o: &mut f32, a: f32, b: f32) {
        let m = if wins(b, a) { b } else { a };
        *o = if wins(m, *o) { m } else { *o };
    }
    let mut out_chunks = outs.chunks_exact_mut(8);
    let mut in_chunks = row.chunks_exact(16);
    for (o, c) in (&mut out_chunks).zip(&mut in_chunks) {
        let c: &[f32; 16] = c.try_into().expect("16 inputs");
        for (j, o) in o.iter_mut().enumerate() {
            pair(o, c[2 * j], c[2 * j + 1]);
        }
    }
    let rest = in_chunks.remainder();
    for (o, c) in out_chunks
        .into_remainder()
        .iter_mut()
        .zip(rest.chunks_exact(2))
    {
        pair(o, c[0], c[1]);
    }
}

/// [`pairs_pass`] that also keeps the winner's index (`base` + its column in the row); an
/// output's first row always wins, whatever its value.
#[inline(always)]
fn pairs_argmax_pass(outs: &mut [f32], args: &mut [u32], row: &[f32], base: u32) {
    #[inline(always)]
    fn pair(o: &mut f32, a: &mut u32, c: &[f32], at: u32) {
        let second = wins(c[1], c[0]);
        let m = if second { c[1] } else { c[0] };
        let take = wins(m, *o) | (*a == u32::MAX);
        *o = if take { m } else { *o };
        *a = if take { at + u32::from(second) } else { *a };
    }
    let row = &row[..2 * outs.len()];
    let mut at = base;
    let mut outs8 = outs.chunks_exact_mut(8);
    let mut args8 = args.chunks_exact_mut(8);
    let mut row16 = row.chunks_exact(16);
    for ((o, a), c) in (&mut outs8).zip(&mut args8).zip(&mut row16) {
        for j in 0..8 {
            pair(
                &mut o[j],
                &mut a[j],
                &c[2 * j..2 * j + 2],
                at + 2 * j as u32,
            );
        }
        at += 16;
    }
    let (outs, args) = (outs8.into_remainder(), args8.into_remainder());
    for (j, ((o, a), c)) in outs
        .iter_mut()
        .zip(args)
        .zip(row16.remainder().chunks_exact(2))
        .enumerate()
    {
        pair(o, a, c, at + 2 * j as u32);
    }
}

/// Three neighbouring taps per output (`taps[i..i + 3]` for output `i`) in one pass, in tap
/// order, merged into the running maximum (and with `args`, its index: `first + i + tap`).
#[inline(always)]
fn triples_pass(outs: &mut [f32], args: Option<&mut [u32]>, taps: &[f32], first: u32) {
    let n = outs.len();
    let (t0, t1, t2) = (&taps[..n], &taps[1..n + 1], &taps[2..n + 2]);
    #[inline(always)]
    fn best3(a: f32, b: f32, c: f32) -> (f32, u32) {
        let (m, i) = if wins(b, a) { (b, 1) } else { (a, 0) };
        if wins(c, m) { (c, 2) } else { (m, i) }
    }
    match args {
        None => {
            for (((o, &a), &b), &c) in outs.iter_mut().zip(t0).zip(t1).zip(t2) {
                let (m, _) = best3(a, b, c);
                *o = if wins(m, *o) { m } else { *o };
            }
        }
        Some(args) => {
            let values = t0.iter().zip(t1).zip(t2);
            for (i, ((o, arg), ((&a, &b), &c))) in outs.iter_mut().zip(args).zip(values).enumerate()
            {
                let (m, t) = best3(a, b, c);
                let take = wins(m, *o) | (*arg == u32::MAX);
                *o = if take { m } else { *o };
                *arg = if take { first + i as u32 + t } else { *arg };
            }
        }
    }
}

/// One tap `v` (at `index`) merged into an output's running maximum (and its index, whose
/// `u32::MAX` marks an output no tap has reached yet).
#[inline(always)]
fn merge(o: &mut f32, arg: Option<&mut u32>, v: f32, index: u32) {
    match arg {
        None => *o = if wins(v, *o) { v } else { *o },
        Some(a) => {
            if wins(v, *o) || *a == u32::MAX {
                *o = v;
                *a = index;
            }
        }
    }
}

/// One window tap over a row of outputs: keep the larger value. Unconditional writes of a
/// select: no branch to mispredict on random data.
#[inline(always)]
fn max_pass<'a>(outs: &mut [f32], taps: impl Iterator<Item = &'a f32>) {
    for (o, &v) in outs.iter_mut().zip(taps) {
        *o = if wins(v, *o) { v } else { *o };
    }
}

/// [`max_pass`] that also keeps the winner's index in the plane (`first + i * stride` for the
/// i-th output); an output's first tap always wins, whatever its value.
#[inline(always)]
fn argmax_pass<'a>(
    outs: &mut [f32],
    args: &mut [u32],
    taps: impl Iterator<Item = &'a f32>,
    first: u32,
    stride: usize,
) {
    for (i, ((o, a), &v)) in outs.iter_mut().zip(args).zip(taps).enumerate() {
        let take = wins(v, *o) | (*a == u32::MAX);
        *o = if take { v } else { *o };
        *a = if take {
            first + (i * stride) as u32
        } else {
            *a
        };
    }
}

/// Whether `v` replaces the running maximum `best`: larger, or the first NaN.
#[inline(always)]
fn wins(v: f32, best: f32) -> bool {
    (v > best) | (v.is_nan() & !best.is_nan())
}

/// The pooled output, `[planes, oh, ow]` row-major, and with `with_argmax` the index within its
/// input plane of each output's maximum.
pub fn max_pool2d(x: &[f32], g: &Pool2dGeometry, with_argmax: bool) -> (Vec<f32>, Vec<u32>) {
    let (hw, ohw) = (g.input[0] * g.input[1], g.output_len());
    assert_eq!(x.len(), g.planes * hw, "input length");
    assert!(
        g.output().is_some(),
        "the pooling window does not fit: {g:?}"
    );
    assert!(
        hw <= u32::MAX as usize,
        "a plane of {hw} values is too large for u32 indices"
    );
    if ohw == 0 {
        return (Vec::new(), Vec::new());
    }
    let len = g.planes * ohw;
    let plane = |p: usize| &x[p * hw..(p + 1) * hw];
    if !with_argmax {
        // buffers filled by the thread that uses them, not by one memset up front
        let out = par_chunks_filled(len, ohw, f32::NEG_INFINITY, |p, out| {
            pool_plane(plane(p), g, out, None)
        });
        return (out, Vec::new());
    }
    let mut out = par_chunks_filled(len, ohw, f32::NEG_INFINITY, |_, _| {});
    let mut argmax = par_chunks_filled(len, ohw, u32::MAX, |_, _| {});
    out.par_chunks_mut(ohw)
        .zip(argmax.par_chunks_mut(ohw))
        .enumerate()
        .for_each(|(p, (out, argmax))| pool_plane(plane(p), g, out, Some(argmax)));
    (out, argmax)
}

/// The input gradient, `[planes, h, w]`: each output gradient added at its maximum's position.
pub fn max_pool2d_backward(argmax: &[u32], output_grad: &[f32], g: &Pool2dGeometry) -> Vec<f32> {
    let (hw, ohw) = (g.input[0] * g.input[1], g.output_len());
    assert_eq!(argmax.len(), g.planes * ohw, "argmax length");
    assert_eq!(output_grad.len(), g.planes * ohw, "output gradient length");
    if hw == 0 || ohw == 0 {
        return vec![0.0; g.planes * hw];
    }
    par_chunks_filled(g.planes * hw, hw, 0.0f32, |p, dx| {
        let range = p * ohw..(p + 1) * ohw;
        for (&at, &grad) in argmax[range.clone()].iter().zip(&output_grad[range]) {
            // u32::MAX: a window entirely in the padding (Burn and PyTorch reject such options)
            if let Some(dx) = dx.get_mut(at as usize) {
                *dx += grad;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(planes: usize, input: [usize; 2], kernel: [usize; 2]) -> Pool2dGeometry {
        Pool2dGeometry {
            planes,
            input,
            kernel,
            stride: kernel,
            padding: [0, 0],
            dilation: [1, 1],
        }
    }

    #[test]
    fn pools_a_known_plane_and_routes_gradients_to_the_first_maximum() {
        #[rustfmt::skip]
        let x = [
            1.0, 5.0, 2.0, 2.0, 9.0,
            3.0, 4.0, 2.0, 0.0, 9.0,
            7.0, 7.0, 1.0, 8.0, 9.0,
        ];
        let g = geometry(1, [3, 5], [2, 2]);
        assert_eq!(g.output(), Some([1, 2]));
        let (out, argmax) = max_pool2d(&x, &g, true);
        assert_eq!(out, [5.0, 2.0]);
        // the tie of 2.0 at (0,2) and (0,3) and (1,2): the first one
        assert_eq!(argmax, [1, 2]);
        let dx = max_pool2d_backward(&argmax, &[10.0, 20.0], &g);
        let mut want = vec![0.0; 15];
        want[1] = 10.0;
        want[2] = 20.0;
        assert_eq!(dx, want);
        assert_eq!(max_pool2d(&x, &g, false).0, out);
    }

    #[test]
    fn padding_stride_dilation_and_overlap() {
        // 1-D as a 2-D pool of height 1: [1, 3, 2, 8, -1, 4], kernel 3, stride 2, padding 1.
        let x = [1.0, 3.0, 2.0, 8.0, -1.0, 4.0];
        let g = Pool2dGeometry {
            planes: 1,
            input: [1, 6],
            kernel: [1, 3],
            stride: [1, 2],
            padding: [0, 1],
            dilation: [1, 1],
        };
        assert_eq!(g.output(), Some([1, 3]));
        let (out, argmax) = max_pool2d(&x, &g, true);
        // windows {pad, 1, 3}, {3, 2, 8}, {8, -1, 4}
        assert_eq!(out, [3.0, 8.0, 8.0]);
        assert_eq!(argmax, [1, 3, 3]);
        // overlapping windows add up: stride 1, kernel 2 over [1, 9, 2]
        let g = Pool2dGeometry {
            planes: 1,
            input: [1, 3],
            kernel: [1, 2],
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
        };
        let (out, argmax) = max_pool2d(&[1.0, 9.0, 2.0], &g, true);
        assert_eq!(out, [9.0, 9.0]);
        assert_eq!(
            max_pool2d_backward(&argmax, &[1.0, 2.0], &g),
            [0.0, 3.0, 0.0]
        );
        // dilation 2, kernel 2, stride 2 over [5, 0, 1, 7, 2]: windows {5, 1} and {1, 2}
        let g = Pool2dGeometry {
            planes: 1,
            input: [1, 5],
            kernel: [1, 2],
            stride: [1, 2],
            padding: [0, 0],
            dilation: [1, 2],
        };
        assert_eq!(
            max_pool2d(&[5.0, 0.0, 1.0, 7.0, 2.0], &g, false).0,
            [5.0, 2.0]
        );
    }

    #[test]
    fn nan_wins_and_too_small_inputs_have_no_output() {
        let g = geometry(2, [1, 2], [1, 2]);
        let (out, _) = max_pool2d(&[1.0, f32::NAN, 3.0, 2.0], &g, false);
        assert!(out[0].is_nan());
        assert_eq!(out[1], 3.0);
        assert_eq!(geometry(1, [1, 1], [2, 2]).output(), None);
        assert_eq!(geometry(1, [3, 3], [0, 2]).output(), None);
    }
}
