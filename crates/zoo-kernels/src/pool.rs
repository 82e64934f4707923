//! 2-D max pooling (NCHW) on plain `f32` slices: the forward pass with or without the position of
//! each maximum, and the backward pass that sends each output gradient to that position.
//!
//! Why: Flex 0.22.1 runs every max pool through a 3-D kernel that also fills an `i64` index
//! tensor, even without autodiff; a 1-D pool was many times slower than PyTorch's
//! (the book's "Kernel measurements" chapter, "Kernel design measurements").
//! Like PyTorch, the first maximum of a window wins a tie and a NaN counts as a maximum.

use std::cell::Cell;

use rayon::prelude::*;

use crate::conv2d::geometry::valid_range;
use crate::parallel::par_chunks_filled;

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

    pub(crate) fn output_len(&self) -> usize {
        self.output().map_or(0, |[h, w]| h * w)
    }
}

/// What every plane of one pool shares, worked out once per call rather than per plane (a
/// `MaxPool1d` of conv1d-classifier has 2,048 planes of 59 outputs).
pub(crate) struct PoolPlan<'g> {
    g: &'g Pool2dGeometry,
    output: [usize; 2],
    /// Per window column `kx`: the outputs whose tap lies inside the row, and the tap's offset.
    columns: Vec<(usize, usize, isize)>,
    /// Windows side by side along the row (stride = width, no padding or dilation).
    tiled: bool,
    /// A 3-wide stride-1 window: the outputs whose three taps all lie in the row.
    interior: Option<(usize, usize)>,
    /// A stride-1 window of odd size padded to keep the plane's size (Inception's 3 × 3
    /// branch pool): its half heights and widths, for [`same_plane`].
    same: Option<[usize; 2]>,
}

impl<'g> PoolPlan<'g> {
    pub(crate) fn new(g: &'g Pool2dGeometry) -> Self {
        let [_, w] = g.input;
        let [_, ow] = g.output().expect("checked by the caller");
        let kw = g.kernel[1];
        let (sw, dw, pw) = (g.stride[1], g.dilation[1], g.padding[1]);
        let columns: Vec<(usize, usize, isize)> = (0..kw)
            .map(|kx| {
                let (x0, x1) = valid_range(ow, w, kx, sw, dw, pw);
                (x0, x1, (kx * dw) as isize - pw as isize)
            })
            .collect();
        let interior = if kw == 3 && sw == 1 && dw == 1 {
            let lo = columns.iter().map(|c| c.0).max().unwrap_or(0);
            let hi = columns.iter().map(|c| c.1).min().unwrap_or(0);
            (lo < hi).then_some((lo, hi))
        } else {
            None
        };
        let same = (g.stride == [1, 1]
            && g.dilation == [1, 1]
            && (0..2).all(|i| g.kernel[i] == 2 * g.padding[i] + 1))
        .then_some(g.padding);
        Self {
            g,
            output: g.output().expect("checked by the caller"),
            columns,
            tiled: sw == kw && dw == 1 && pw == 0,
            interior,
            same,
        }
    }

    /// Planes per parallel chunk: about 4,096 outputs, so that small planes do not each pay
    /// for a call, while every thread still gets several chunks.
    fn planes_per_chunk(&self) -> usize {
        let ohw = (self.output[0] * self.output[1]).max(1);
        let threads = rayon::current_num_threads().max(1);
        (4096 / ohw).min(self.g.planes.div_ceil(4 * threads)).max(1)
    }
}

/// The pooled planes of `x` into `out` (`[planes, oh, ow]`, filled with `-inf` by the caller),
/// on the calling thread: the pool fused into a convolution, one sample at a time.
pub(crate) fn pool_planes(x: &[f32], plan: &PoolPlan, out: &mut [f32]) {
    let g = plan.g;
    let (hw, ohw) = (g.input[0] * g.input[1], g.output_len());
    assert!(x.len() == g.planes * hw && out.len() == g.planes * ohw);
    if ohw == 0 {
        return;
    }
    for (plane, out) in x.chunks_exact(hw.max(1)).zip(out.chunks_exact_mut(ohw)) {
        pool_plane(plane, plan, out, None);
    }
}

/// One plane, output row by output row: for each window tap `(ky, kx)` in row-major order, a
/// pass over the output row that keeps the larger value (the first maximum wins a tie). The
/// ranges where a tap lies inside the input are computed once ([`PoolPlan`]), so the inner loop
/// has no bounds logic and vectorises for stride 1. `out` arrives filled with `-inf` and
/// `argmax` with `u32::MAX` (no tap yet), as [`max_pool2d`] allocates them.
fn pool_plane(x: &[f32], plan: &PoolPlan, out: &mut [f32], mut argmax: Option<&mut [u32]>) {
    let g = plan.g;
    if let (None, Some(half)) = (&argmax, plan.same) {
        return same_plane(x, g.input, half, out);
    }
    let [h, w] = g.input;
    let [oh, ow] = plan.output;
    let [kh, kw] = g.kernel;
    let sw = g.stride[1];
    let (columns, tiled, interior) = (&plan.columns, plan.tiled, plan.interior);
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
                    for &(x0, x1, offset) in columns {
                        if (x0..x1).contains(&ox) {
                            let at = (ox as isize + offset) as usize;
                            let (o, v) = (&mut out_row[ox], row[at]);
                            let arg = arg_row.as_deref_mut().map(|a| &mut a[ox]);
                            merge(o, arg, v, (iy * w + at) as u32);
                        }
                    }
                }
            }
            for &(x0, x1, offset) in columns {
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

thread_local! {
    /// [`same_plane`]'s maxima along the rows, one plane, reused by each thread.
    static ROW_MAXIMA: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// A stride-1 pool whose odd window (half sizes `[a, b]`) is padded to keep the plane's `[h, w]`,
/// without argmax: the maximum along each row's window first, then along the columns of that,
/// each a few passes over the whole plane as one flat slice (the window's offsets are the same
/// for every interior output), the border rows and columns redone with their valid taps. Two
/// passes of 2 taps for a 3 × 3 window instead of 8 merges per output, and no per-row calls on
/// 14-wide rows: cifar-inception's branch pool ran ~3 ms per batch of 64 as rows of taps.
/// Each pass keeps its first maximum, so the result is the first maximum in row-major order,
/// as [`pool_plane`] computes it.
fn same_plane(x: &[f32], [h, w]: [usize; 2], [a, b]: [usize; 2], out: &mut [f32]) {
    let hw = h * w;
    let mut rows = ROW_MAXIMA.take();
    rows.clear();
    rows.resize(hw, f32::NEG_INFINITY);
    // along the rows: every position whose window lies inside the flat plane, as if the rows
    // ran on into each other; the columns within `b` of a row's ends are redone below
    if hw > 2 * b {
        let inner = &mut rows[b..hw - b];
        inner.copy_from_slice(&x[..hw - 2 * b]);
        for d in 1..=2 * b {
            max_pass(inner, x[d..].iter());
        }
    }
    let borders = (0..b.min(w)).chain(w.saturating_sub(b).max(b.min(w))..w);
    for ox in borders {
        let taps = ox.saturating_sub(b)..(ox + b + 1).min(w);
        for y in 0..h {
            let row = &x[y * w..(y + 1) * w];
            let best = &mut rows[y * w + ox];
            *best = row[taps.start];
            for &v in &row[taps.start + 1..taps.end] {
                *best = if wins(v, *best) { v } else { *best };
            }
        }
    }
    // along the columns: the same, with rows as the unit
    if h > 2 * a {
        let inner = &mut out[a * w..(h - a) * w];
        inner.copy_from_slice(&rows[..(h - 2 * a) * w]);
        for d in 1..=2 * a {
            max_pass(inner, rows[d * w..].iter());
        }
    }
    for oy in (0..a.min(h)).chain(h.saturating_sub(a).max(a.min(h))..h) {
        let taps = oy.saturating_sub(a)..(oy + a + 1).min(h);
        let line = &mut out[oy * w..(oy + 1) * w];
        line.copy_from_slice(&rows[taps.start * w..(taps.start + 1) * w]);
        for y in taps.start + 1..taps.end {
            max_pass(line, rows[y * w..(y + 1) * w].iter());
        }
    }
    ROW_MAXIMA.set(rows);
}

/// Windows of two side by side (`MaxPool1d(2)`, each row of a `MaxPool2d(2)`): on x86-64, 4
/// outputs from 8 inputs at a time in SSE registers (the even and odd inputs split by two
/// shuffles). Left to the compiler, the pairs became single-value loads and inserts, about
/// twice as slow (the book's "Kernel measurements" chapter, "Kernel design measurements").
#[inline(always)]
fn pairs_pass(outs: &mut [f32], row: &[f32]) {
    fn pair(o: &mut f32, a: f32, b: f32) {
        let m = if wins(b, a) { b } else { a };
        *o = if wins(m, *o) { m } else { *o };
    }
    let row = &row[..2 * outs.len()];
    let done = sse::pairs(outs, row);
    for (o, c) in outs[done..].iter_mut().zip(row[2 * done..].chunks_exact(2)) {
        pair(o, c[0], c[1]);
    }
}

/// [`pairs_pass`] that also keeps the winner's index (`base` + its column in the row); an
/// output's first row always wins, whatever its value.
#[inline(always)]
fn pairs_argmax_pass(outs: &mut [f32], args: &mut [u32], row: &[f32], base: u32) {
    let row = &row[..2 * outs.len()];
    let done = sse::pairs_argmax(outs, args, row, base);
    for (j, ((o, a), c)) in outs[done..]
        .iter_mut()
        .zip(&mut args[done..])
        .zip(row[2 * done..].chunks_exact(2))
        .enumerate()
    {
        let second = wins(c[1], c[0]);
        let m = if second { c[1] } else { c[0] };
        let take = wins(m, *o) | (*a == u32::MAX);
        *o = if take { m } else { *o };
        let at = base + 2 * (done + j) as u32 + u32::from(second);
        *a = if take { at } else { *a };
    }
}

/// The vector bodies of the pair passes: each returns how many outputs it did (a multiple of 4;
/// the caller does the rest one by one). SSE2 is part of every x86-64 CPU, so no detection.
mod sse {
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::*;

    /// The lanes where `v` wins against `best` (larger, or the first NaN), as in [`super::wins`].
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn wins(v: __m128, best: __m128) -> __m128 {
        // SAFETY: SSE2 is baseline on x86-64; register-only operations.
        unsafe {
            let nan = _mm_andnot_ps(_mm_cmpunord_ps(best, best), _mm_cmpunord_ps(v, v));
            _mm_or_ps(_mm_cmpgt_ps(v, best), nan)
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn select(mask: __m128, a: __m128, b: __m128) -> __m128 {
        // SAFETY: as above.
        unsafe { _mm_or_ps(_mm_and_ps(mask, a), _mm_andnot_ps(mask, b)) }
    }

    /// `outs[i] = max(outs[i], row[2i], row[2i + 1])` for the first 4k outputs.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(super) fn pairs(outs: &mut [f32], row: &[f32]) -> usize {
        let n = outs.len() / 4 * 4;
        assert!(row.len() >= 2 * n);
        let (o, r) = (outs.as_mut_ptr(), row.as_ptr());
        for i in (0..n).step_by(4) {
            // SAFETY: i + 4 <= n <= outs.len() and 2i + 8 <= 2n <= row.len(); unaligned
            // loads and stores; SSE2 is baseline on x86-64.
            unsafe {
                let (a, b) = (_mm_loadu_ps(r.add(2 * i)), _mm_loadu_ps(r.add(2 * i + 4)));
                let (even, odd) = (_mm_shuffle_ps::<0x88>(a, b), _mm_shuffle_ps::<0xDD>(a, b));
                let m = select(wins(odd, even), odd, even);
                let best = _mm_loadu_ps(o.add(i));
                _mm_storeu_ps(o.add(i), select(wins(m, best), m, best));
            }
        }
        n
    }

    /// [`pairs`] that also keeps the winner's index, `base + 2i` or `base + 2i + 1`, where it
    /// wins or where the index is still `u32::MAX`.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(super) fn pairs_argmax(
        outs: &mut [f32],
        args: &mut [u32],
        row: &[f32],
        base: u32,
    ) -> usize {
        let n = outs.len() / 4 * 4;
        assert!(row.len() >= 2 * n && args.len() >= n);
        let (o, a, r) = (outs.as_mut_ptr(), args.as_mut_ptr(), row.as_ptr());
        // SAFETY: as in `pairs`, and i + 4 <= n <= args.len() for the index loads and stores.
        unsafe {
            let none = _mm_set1_epi32(-1);
            let mut at = _mm_add_epi32(_mm_set1_epi32(base as i32), _mm_setr_epi32(0, 2, 4, 6));
            for i in (0..n).step_by(4) {
                let (x, y) = (_mm_loadu_ps(r.add(2 * i)), _mm_loadu_ps(r.add(2 * i + 4)));
                let (even, odd) = (_mm_shuffle_ps::<0x88>(x, y), _mm_shuffle_ps::<0xDD>(x, y));
                let second = wins(odd, even);
                let m = select(second, odd, even);
                // the winner's column: `at`, plus one where the odd input won (mask = -1)
                let index = _mm_sub_epi32(at, _mm_castps_si128(second));
                let (best, arg) = (_mm_loadu_ps(o.add(i)), _mm_loadu_si128(a.add(i).cast()));
                let unset = _mm_castsi128_ps(_mm_cmpeq_epi32(arg, none));
                let take = _mm_or_ps(wins(m, best), unset);
                _mm_storeu_ps(o.add(i), select(take, m, best));
                let arg = select(take, _mm_castsi128_ps(index), _mm_castsi128_ps(arg));
                _mm_storeu_si128(a.add(i).cast(), _mm_castps_si128(arg));
                at = _mm_add_epi32(at, _mm_set1_epi32(8));
            }
        }
        n
    }

    #[cfg(not(target_arch = "x86_64"))]
    pub(super) fn pairs(_: &mut [f32], _: &[f32]) -> usize {
        0
    }

    #[cfg(not(target_arch = "x86_64"))]
    pub(super) fn pairs_argmax(_: &mut [f32], _: &mut [u32], _: &[f32], _: u32) -> usize {
        0
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
    let plan = PoolPlan::new(g);
    let per_chunk = plan.planes_per_chunk();
    let planes = |c: usize| (c * per_chunk..((c + 1) * per_chunk).min(g.planes)).enumerate();
    let plane = |p: usize| &x[p * hw..(p + 1) * hw];
    if !with_argmax {
        // buffers filled by the thread that uses them, not by one memset up front
        let out = par_chunks_filled(len, per_chunk * ohw, f32::NEG_INFINITY, |c, out| {
            for (i, p) in planes(c) {
                pool_plane(plane(p), &plan, &mut out[i * ohw..(i + 1) * ohw], None)
            }
        });
        return (out, Vec::new());
    }
    let mut out = par_chunks_filled(len, ohw, f32::NEG_INFINITY, |_, _| {});
    let mut argmax = par_chunks_filled(len, ohw, u32::MAX, |_, _| {});
    out.par_chunks_mut(per_chunk * ohw)
        .zip(argmax.par_chunks_mut(per_chunk * ohw))
        .enumerate()
        .for_each(|(c, (out, argmax))| {
            for (i, p) in planes(c) {
                let at = i * ohw..(i + 1) * ohw;
                pool_plane(plane(p), &plan, &mut out[at.clone()], Some(&mut argmax[at]))
            }
        });
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

    /// The pool by definition: every window's taps in row-major order, the first maximum
    /// (or first NaN) wins; `u32::MAX` where no tap lies inside.
    fn by_definition(x: &[f32], g: &Pool2dGeometry) -> (Vec<f32>, Vec<u32>) {
        let [h, w] = g.input;
        let [oh, ow] = g.output().unwrap();
        let (mut out, mut argmax) = (Vec::new(), Vec::new());
        for p in 0..g.planes {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (mut best, mut at) = (f32::NEG_INFINITY, u32::MAX);
                    for ky in 0..g.kernel[0] {
                        for kx in 0..g.kernel[1] {
                            let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize
                                - g.padding[0] as isize;
                            let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize
                                - g.padding[1] as isize;
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                continue;
                            }
                            let i = iy as usize * w + ix as usize;
                            let v = x[p * h * w + i];
                            if at == u32::MAX || wins(v, best) {
                                (best, at) = (v, i as u32);
                            }
                        }
                    }
                    out.push(best);
                    argmax.push(at);
                }
            }
        }
        (out, argmax)
    }

    #[test]
    fn vector_paths_keep_ties_nan_and_infinities_as_the_definition() {
        // values with many ties, NaNs, infinities and -0.0, so that every lane of the 4-wide
        // passes meets them; widths with whole vectors and remainders; many small planes (the
        // chunks of several planes) and a 2 × 2 pool (the second row merged into the first)
        let specials = [
            1.0,
            1.0,
            f32::NAN,
            -2.0,
            f32::NEG_INFINITY,
            3.0,
            -0.0,
            0.0,
            f32::INFINITY,
        ];
        for (planes, input, kernel, stride, padding) in [
            (3, [1, 37], [1, 2], [1, 2], [0, 0]),
            (70, [1, 17], [1, 2], [1, 2], [0, 0]),
            (2, [4, 19], [2, 2], [2, 2], [0, 0]),
            (2, [5, 23], [3, 3], [1, 1], [1, 1]),
            (2, [3, 30], [1, 3], [1, 1], [0, 0]),
            // stride-1 windows padded to the plane's size (`same_plane`), down to planes
            // smaller than the window
            (64, [14, 14], [3, 3], [1, 1], [1, 1]),
            (2, [7, 4], [5, 3], [1, 1], [2, 1]),
            (2, [6, 9], [1, 3], [1, 1], [0, 1]),
            (2, [2, 3], [5, 5], [1, 1], [2, 2]),
            (3, [1, 1], [3, 3], [1, 1], [1, 1]),
        ] {
            let g = Pool2dGeometry {
                planes,
                input,
                kernel,
                stride,
                padding,
                dilation: [1, 1],
            };
            let n = planes * input[0] * input[1];
            let x: Vec<f32> = (0..n as u64)
                .map(|i| specials[(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 59) as usize % 9])
                .collect();
            let (want, want_at) = by_definition(&x, &g);
            let (got, got_at) = max_pool2d(&x, &g, true);
            let (inferred, _) = max_pool2d(&x, &g, false);
            for (i, ((a, b), c)) in got.iter().zip(&want).zip(&inferred).enumerate() {
                let same = |u: &f32| u.to_bits() == b.to_bits() || (u.is_nan() && b.is_nan());
                assert!(same(a) && same(c), "{g:?} [{i}]: {a} / {c} vs {b}");
            }
            assert_eq!(got_at, want_at, "{g:?}");
        }
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
