//! The two backward passes of a 2-D convolution (NCHW, one group) on plain `f32` slices, each as
//! an im2col and matrix products: the weight gradient as one GEMM per sample accumulated per
//! thread, the input gradient as one GEMM per sample and a col2im.
//!
//! Why: Burn's generic backward, which Flex uses, computes the weight gradient as a convolution
//! with batch and channels swapped (many skinny products) and the input gradient as a transposed
//! convolution; both are 1.6–2× slower than PyTorch on the same CPU (BENCHMARKS.md).

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::ops::Range;

use rayon::prelude::*;

use crate::channels_last;
use crate::pool::{Pool2dGeometry, PoolPlan, pool_planes};

/// Shapes and options of one 2-D convolution. Padding is `(begin, end)` per spatial dimension,
/// as in Burn's `ConvOptions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dGeometry {
    pub batch: usize,
    pub channels_in: usize,
    pub channels_out: usize,
    pub input: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [(usize, usize); 2],
    pub dilation: [usize; 2],
}

impl Conv2dGeometry {
    /// Output height and width, as Burn and PyTorch compute them.
    pub fn output(&self) -> [usize; 2] {
        std::array::from_fn(|i| {
            let (begin, end) = self.padding[i];
            let span = self.dilation[i] * (self.kernel[i] - 1) + 1;
            (self.input[i] + begin + end).saturating_sub(span) / self.stride[i] + 1
        })
    }

    /// Whether these kernels compute this convolution: non-zero sizes, strides and dilations,
    /// and a window that fits the padded input (otherwise the caller uses Burn's, which reports
    /// what is wrong).
    pub fn is_supported(&self) -> bool {
        let sizes = [self.batch, self.channels_in, self.channels_out];
        sizes
            .iter()
            .chain(&self.kernel)
            .chain(&self.stride)
            .chain(&self.dilation)
            .all(|&v| v > 0)
            && (0..2).all(|i| {
                let (begin, end) = self.padding[i];
                self.input[i] + begin + end > self.dilation[i] * (self.kernel[i] - 1)
            })
    }

    /// Rows of the im2col matrix: `channels_in × kernel height × kernel width`.
    fn patch(&self) -> usize {
        self.channels_in * self.kernel[0] * self.kernel[1]
    }

    fn input_len(&self) -> usize {
        self.channels_in * self.input[0] * self.input[1]
    }

    fn output_len(&self) -> usize {
        let [oh, ow] = self.output();
        oh * ow
    }

    /// The threads of one matrix product: one, as the samples already run in parallel, unless
    /// there are fewer samples than threads (batch 1 at inference), then all of them.
    fn gemm_threads(&self) -> gemm::Parallelism {
        if self.batch < rayon::current_num_threads() {
            gemm::Parallelism::Rayon(0)
        } else {
            gemm::Parallelism::None
        }
    }

    /// The im2col layout for this convolution: channels-last wherever its runs (kernel width ×
    /// channels) are at least as long as the planar layout's lines (one output row), which is
    /// every convolution of cifar-inception but its first (3 channels) — when every thread has
    /// a sample of its own. With fewer samples than threads the GEMM runs on all threads but
    /// the sample's copies on one, and the channels-last copies (sample and weight transposes)
    /// cost more than they save: cifar-inception at batch 1 inferred ~246 images/s
    /// channels-last against ~311 planar (medians of four interleaved `zoo bench --batch 1`).
    pub(crate) fn layout(&self) -> Layout {
        if self.is_pointwise() {
            Layout::Pointwise
        } else if self.channels_in * self.kernel[1] >= self.output()[1]
            && self.batch >= rayon::current_num_threads()
        {
            Layout::ChannelsLast
        } else {
            Layout::Planar
        }
    }

    /// A 1×1 convolution without stride or padding: the im2col matrix is the input itself.
    fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1]
            && self.stride == [1, 1]
            && self.padding == [(0, 0), (0, 0)]
            && self.output() == self.input
    }
}

/// How one sample's im2col matrix is laid out and built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// A 1×1 convolution without stride or padding: the matrix is the sample itself,
    /// `[channels_in, positions]`.
    Pointwise,
    /// `[patch, positions]` from the planar (NCHW) sample, whose rows a column stride first
    /// reorders ([`split_columns`]).
    Planar,
    /// `[positions, patch]` with the patch ordered (kernel row, kernel column, channel), from a
    /// channels-last copy of the sample ([`crate::channels_last`]).
    ChannelsLast,
}

/// Input positions read by output positions `0..out` for kernel offset `k`: the first and last
/// (exclusive) output index whose input index `o * stride + k * dilation - pad` is in `0..len`.
pub(crate) fn valid_range(
    out: usize,
    len: usize,
    k: usize,
    stride: usize,
    dilation: usize,
    pad: usize,
) -> (usize, usize) {
    let offset = (k * dilation) as isize - pad as isize;
    // first o with o*stride + offset >= 0
    let first = if offset >= 0 {
        0
    } else {
        ((-offset) as usize).div_ceil(stride)
    };
    // last o with o*stride + offset <= len - 1
    let end = if (len as isize) <= offset {
        0
    } else {
        (((len as isize - 1 - offset) as usize) / stride + 1).min(out)
    };
    (first.min(end), end)
}

/// One row of the im2col matrix (input channel × kernel row × kernel column) over a block of
/// output rows: which of its lines read the input, and where.
struct MatrixRow {
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
fn for_each_row(g: &Conv2dGeometry, rows: &Range<usize>, mut f: impl FnMut(MatrixRow)) {
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

/// `dst = src` for short slices: whole 8-value chunks, then the tail, with no call to `memcpy`
/// (whose per-call cost exceeds the copy at these lengths).
#[inline(always)]
fn copy_short(dst: &mut [f32], src: &[f32]) {
    let len = dst.len();
    let src = &src[..len];
    if len >= 8 {
        for (d, s) in dst.chunks_exact_mut(8).zip(src.chunks_exact(8)) {
            let s: &[f32; 8] = s.try_into().expect("chunk of 8");
            d.copy_from_slice(s);
        }
        // the last 8 again (overlapping), instead of a loop over the tail
        let (d, s) = (&mut dst[len - 8..], &src[len - 8..]);
        let s: &[f32; 8] = s.try_into().expect("chunk of 8");
        d.copy_from_slice(s);
    } else if len >= 4 {
        // the first 4 and the last 4 (overlapping when len < 8)
        let (head, tail): (&[f32; 4], &[f32; 4]) = (
            src[..4].try_into().expect("4 values"),
            src[len - 4..].try_into().expect("4 values"),
        );
        dst[..4].copy_from_slice(head);
        dst[len - 4..].copy_from_slice(tail);
    } else {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
    }
}

/// `dst = 0` for short slices, without a call to `memset`.
#[inline(always)]
fn zero_short(dst: &mut [f32]) {
    const ZEROS: [f32; 64] = [0.0; 64];
    match ZEROS.get(..dst.len()) {
        Some(zeros) => copy_short(dst, zeros),
        None => dst.fill(0.0),
    }
}

/// `dst += src` for short slices: chunks of 8 and 4 as whole vectors, then at most 3 values.
#[inline(always)]
pub(crate) fn add_short(dst: &mut [f32], src: &[f32]) {
    fn add<const N: usize>(dst: &mut [f32], src: &[f32]) -> usize {
        let mut done = 0;
        for (d, s) in dst.chunks_exact_mut(N).zip(src.chunks_exact(N)) {
            let d: &mut [f32; N] = d.try_into().expect("chunk of N");
            let s: &[f32; N] = s.try_into().expect("chunk of N");
            for i in 0..N {
                d[i] += s[i];
            }
            done += N;
        }
        done
    }
    let src = &src[..dst.len()];
    let at = add::<8>(dst, src);
    let at = at + add::<4>(&mut dst[at..], &src[at..]);
    for (d, s) in dst[at..].iter_mut().zip(&src[at..]) {
        *d += s;
    }
}

/// Writes the im2col matrix of one sample's output rows `rows`, `[patch, rows.len() * ow]` with
/// row stride `ld`, into `cols`; `x` is the sample as [`sample_input`] lays it out.
fn im2col(x: &[f32], g: &Conv2dGeometry, rows: Range<usize>, cols: &mut [f32], ld: usize) {
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
fn col2im_add(cols: &[f32], g: &Conv2dGeometry, rows: Range<usize>, dx: &mut [f32], ld: usize) {
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
fn phases(w: usize, stride: usize) -> impl Iterator<Item = (usize, Range<usize>)> {
    (0..stride.min(w)).scan(0, move |at, p| {
        let count = (w - p).div_ceil(stride);
        *at += count;
        Some((p, *at - count..*at))
    })
}

/// Where input column `ix` lands in a row of [`split_columns`]'s layout for stride `stride`.
fn split_column(ix: usize, w: usize, stride: usize) -> usize {
    if stride == 1 {
        return ix;
    }
    let (_, positions) = phases(w, stride).nth(ix % stride).expect("ix < w");
    positions.start + ix / stride
}

/// Reorders each row (`w` values) of `x` into `out` by phase for a column stride `stride`:
/// columns 0, s, 2s, …, then 1, 1 + s, …, so that each im2col line of a strided convolution
/// reads consecutive values (a strided gather per value cost as much as the GEMM here).
fn split_columns(x: &[f32], w: usize, stride: usize, out: &mut [f32]) {
    for (src, dst) in x.chunks_exact(w).zip(out.chunks_exact_mut(w)) {
        for (p, positions) in phases(w, stride) {
            for (k, d) in dst[positions].iter_mut().enumerate() {
                *d = src[p + k * stride];
            }
        }
    }
}

/// The inverse of [`split_columns`]: writes the rows of `split` back in column order.
fn merge_columns(split: &[f32], w: usize, stride: usize, out: &mut [f32]) {
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
fn sample_input<'a>(
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
fn needs_sample_buffer(g: &Conv2dGeometry, layout: Layout) -> bool {
    match layout {
        Layout::Pointwise => false,
        Layout::Planar => g.stride[1] > 1,
        Layout::ChannelsLast => true,
    }
}

thread_local! {
    /// Each thread's scratch space (im2col blocks, reordered inputs), kept between calls so that
    /// no call allocates or zeroes it again.
    static SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Each thread's buffer for one sample's convolution output before it is pooled
    /// ([`forward_relu_pool`]); taken and put back like [`SCRATCH`].
    static SAMPLE_OUTPUT: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Each thread's buffer for a channels-last block's product, `[positions, channels_out]`,
    /// before it is added transposed onto the output.
    static BLOCK_OUTPUT: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch space split into an im2col block and a sample-sized
/// buffer for [`sample_input`] (empty where the layout needs none); their contents are
/// whatever the last user left. Re-entrant: a nested call (rayon may run another of our tasks
/// on this thread while a GEMM waits) finds the scratch taken and allocates its own.
fn with_scratch<R>(
    g: &Conv2dGeometry,
    layout: Layout,
    f: impl FnOnce(&mut [f32], &mut [f32]) -> R,
) -> R {
    let cols = if layout == Layout::Pointwise {
        0
    } else {
        g.patch() * block_rows(g) * g.output()[1]
    };
    let split = if needs_sample_buffer(g, layout) {
        g.input_len()
    } else {
        0
    };
    let mut scratch = SCRATCH.take();
    if scratch.len() < cols + split {
        scratch = vec![0.0; cols + split];
    }
    let (a, b) = scratch.split_at_mut(cols);
    let result = f(a, &mut b[..split]);
    SCRATCH.set(scratch);
    result
}

/// A vector of `len` values computed in parallel chunks of `chunk` values: `f(index, chunk)`
/// receives each chunk filled with `value` (by its own thread, right before use, rather than
/// the whole vector by the caller's).
pub(crate) fn par_chunks_filled<T: Copy + Send + Sync>(
    len: usize,
    chunk: usize,
    value: T,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) -> Vec<T> {
    par_chunks_rows_filled(len, chunk, chunk, |_| value, f)
}

/// [`par_chunks_filled`] where each chunk is made of rows of `row` values and row `r` of a
/// chunk is filled with `value(r)`: a convolution's output starts as its bias, one channel per
/// row, in the same pass that would otherwise write zeros.
pub(crate) fn par_chunks_rows_filled<T: Copy + Send + Sync>(
    len: usize,
    chunk: usize,
    row: usize,
    value: impl Fn(usize) -> T + Sync + Send,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(len);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .for_each(|(i, values)| {
            for (r, values) in values.chunks_mut(row.max(1)).enumerate() {
                let v = value(r);
                for slot in values {
                    slot.write(v);
                }
            }
            // SAFETY: every value of the chunk was written just above, and `MaybeUninit<T>`
            // has the layout of `T`.
            let values = unsafe { &mut *(values as *mut [MaybeUninit<T>] as *mut [T]) };
            f(i, values);
        });
    // SAFETY: the chunks cover `0..len` of the capacity and each was written above (had `f`
    // panicked, the panic would have propagated before this line).
    unsafe { out.set_len(len) };
    out
}

/// Output rows per im2col block: the block (`patch × rows × ow` values) stays within about
/// 512 KiB, the size of one core's L2 cache here, instead of the whole sample's matrix (24 MB
/// for binary-cnn's second convolution) going through memory twice.
fn block_rows(g: &Conv2dGeometry) -> usize {
    const BLOCK_VALUES: usize = 128 * 1024;
    let [oh, ow] = g.output();
    (BLOCK_VALUES / (g.patch() * ow).max(1)).clamp(1, oh.max(1))
}

/// The output-row blocks of one sample.
fn blocks(g: &Conv2dGeometry) -> impl Iterator<Item = Range<usize>> {
    let [oh, _] = g.output();
    let step = block_rows(g);
    (0..oh)
        .step_by(step)
        .map(move |start| start..(start + step).min(oh))
}

/// `dst (m×n) [+]= lhs (m×k) · rhs (k×n)`, the inputs given by (row stride, column stride), `dst`
/// by its row stride (columns contiguous), on `threads` (see [`Conv2dGeometry::gemm_threads`]).
#[allow(clippy::too_many_arguments)]
fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_row_stride: usize,
    accumulate: bool,
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
    threads: gemm::Parallelism,
) {
    assert!(m == 0 || n == 0 || (m - 1) * dst_row_stride + n <= dst.len());
    let last = |(rs, cs): (usize, usize), rows: usize, cols: usize| {
        (rows.max(1) - 1) * rs + (cols.max(1) - 1) * cs
    };
    assert!(m == 0 || k == 0 || last(lhs_strides, m, k) < lhs.len());
    assert!(n == 0 || k == 0 || last(rhs_strides, k, n) < rhs.len());
    // SAFETY: the asserts above keep every index gemm computes from these strides and sizes
    // inside the three slices; `dst` does not alias the inputs (it is a distinct `&mut`).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_row_stride as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_strides.1 as isize,
            lhs_strides.0 as isize,
            rhs.as_ptr(),
            rhs_strides.1 as isize,
            rhs_strides.0 as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            threads,
        );
    }
}

/// The convolution itself, `[batch, channels_out, oh, ow]` row-major: per sample and block of
/// output rows, the weight (`[channels_out, patch]`) times the im2col matrix, plus the bias.
pub fn forward(x: &[f32], weight: &[f32], bias: Option<&[f32]>, g: &Conv2dGeometry) -> Vec<f32> {
    forward_in(x, weight, bias, g, g.layout(), false)
}

/// [`forward`] followed by a ReLU (as Flex's: NaN stays NaN), applied to each sample's output
/// while it is still in cache rather than as a separate pass over the batch.
pub fn forward_relu(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    g: &Conv2dGeometry,
) -> Vec<f32> {
    forward_in(x, weight, bias, g, g.layout(), true)
}

fn forward_in(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    g: &Conv2dGeometry,
    layout: Layout,
    relu: bool,
) -> Vec<f32> {
    check_forward_args(x, weight, bias, g);
    let (ohw, cout) = (g.output_len(), g.channels_out);
    if cout * ohw == 0 {
        return Vec::new();
    }
    let weight = &layout_weight(weight, g, layout);
    // the output starts as the bias (or zero), and the products are accumulated onto it
    let start = |co: usize| bias.map_or(0.0, |b| b[co]);
    par_chunks_rows_filled(g.batch * cout * ohw, cout * ohw, ohw, start, |n, outs| {
        sample_forward(x, weight, g, layout, relu, n, outs)
    })
}

/// [`forward_relu`] followed by a max pool of each output channel (`pool.planes` = channels
/// out, `pool.input` = the convolution's output size): `[batch, channels_out, ph, pw]`. Each
/// sample's convolution output stays in this thread's buffer and is pooled while in cache; it
/// is never written out whole.
pub fn forward_relu_pool(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    g: &Conv2dGeometry,
    pool: &Pool2dGeometry,
) -> Vec<f32> {
    check_forward_args(x, weight, bias, g);
    let (ohw, cout) = (g.output_len(), g.channels_out);
    assert!(
        pool.planes == cout && pool.input == g.output() && pool.output().is_some(),
        "pool {pool:?} does not fit the convolution's output {:?}",
        g.output()
    );
    let pooled = pool.output_len() * cout;
    if pooled == 0 {
        return Vec::new();
    }
    let layout = g.layout();
    let weight = &layout_weight(weight, g, layout);
    let plan = PoolPlan::new(pool);
    par_chunks_filled(g.batch * pooled, pooled, f32::NEG_INFINITY, |n, out| {
        let mut conv = SAMPLE_OUTPUT.take();
        conv.clear();
        for co in 0..cout {
            conv.resize((co + 1) * ohw, bias.map_or(0.0, |b| b[co]));
        }
        sample_forward(x, weight, g, layout, true, n, &mut conv);
        pool_planes(&conv, &plan, out);
        SAMPLE_OUTPUT.set(conv);
    })
}

/// The lengths a forward pass expects of its input, weight and bias.
fn check_forward_args(x: &[f32], weight: &[f32], bias: Option<&[f32]>, g: &Conv2dGeometry) {
    assert_eq!(x.len(), g.batch * g.input_len(), "input length");
    assert_eq!(weight.len(), g.channels_out * g.patch(), "weight length");
    if let Some(bias) = bias {
        assert_eq!(bias.len(), g.channels_out, "bias length");
    }
}

/// Sample `n`'s convolution accumulated onto `outs` (`[channels_out, oh, ow]`, holding the
/// bias or zeros), then the ReLU when `relu`; `weight` is already in `layout`'s order.
fn sample_forward(
    x: &[f32],
    weight: &[f32],
    g: &Conv2dGeometry,
    layout: Layout,
    relu: bool,
    n: usize,
    outs: &mut [f32],
) {
    let (patch, ohw, cout, ow) = (g.patch(), g.output_len(), g.channels_out, g.output()[1]);
    with_scratch(g, layout, |cols, buf| {
        let xs = sample_input(&x[n * g.input_len()..][..g.input_len()], g, layout, buf);
        let mut transposed = BLOCK_OUTPUT.take();
        for rows in blocks(g) {
            let (at, len) = (rows.start * ow, rows.len() * ow);
            let (block, (rs, cs)) = block_cols(xs, g, layout, rows, cols);
            if layout == Layout::ChannelsLast && len >= cout {
                // out[co, p] += Σ_r cols[r, p] · weight[co, r], as the product `[positions,
                // channels]` added transposed onto the output: channels-last with at least as
                // many positions as channels, gemm runs that orientation faster
                // (cifar-inception's conv2 forward at batch 64 17–23 → 16–20 ms, the 5×5
                // branch's 4.0–5.2 → 2.6–3.6 ms, six interleaved `examples/cifar_layers`
                // runs); with fewer (its conv4: 16 positions, 256 channels) twice as slow. In
                // the planar and pointwise layouts it was slower in the models (cifar-inception's
                // conv1 and 1×1 convolutions, conv1d-classifier's first two), so they keep the
                // product as `[channels, positions]`.
                transposed.resize(len * cout, 0.0);
                matmul(
                    len,
                    cout,
                    patch,
                    &mut transposed,
                    cout,
                    false,
                    block,
                    (cs, rs),
                    weight,
                    (1, patch),
                    g.gemm_threads(),
                );
                channels_last::transpose_add(&transposed, len, cout, &mut outs[at..], ohw);
            } else {
                // out[co, p] += Σ_r weight[co, r] · cols[r, p]
                matmul(
                    cout,
                    len,
                    patch,
                    &mut outs[at..],
                    ohw,
                    true,
                    weight,
                    (patch, 1),
                    block,
                    (rs, cs),
                    g.gemm_threads(),
                );
            }
        }
        BLOCK_OUTPUT.set(transposed);
        if relu {
            for v in outs.iter_mut() {
                // positive or NaN stays, as in Flex's ReLU
                *v = if v.is_nan() || *v > 0.0 { *v } else { 0.0 };
            }
        }
    })
}

/// The weight in the column order of `layout`'s matrix (borrowed unless channels-last).
fn layout_weight<'a>(
    weight: &'a [f32],
    g: &Conv2dGeometry,
    layout: Layout,
) -> std::borrow::Cow<'a, [f32]> {
    match layout {
        Layout::ChannelsLast => channels_last::weight_to_channels_last(weight, g).into(),
        _ => weight.into(),
    }
}

/// The im2col matrix of a block of output rows as `[patch, positions]` through its (row,
/// column) strides: the sample itself for a pointwise convolution, else written into `cols`.
fn block_cols<'a>(
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

/// Gradient of the loss with respect to the weight, `[channels_out, channels_in, kh, kw]`
/// row-major, from the input `x` (`[batch, channels_in, h, w]`) and the output gradient `dy`
/// (`[batch, channels_out, oh, ow]`): each thread accumulates its samples' products.
pub fn weight_grad(x: &[f32], dy: &[f32], g: &Conv2dGeometry) -> Vec<f32> {
    weight_grad_in(x, dy, g, g.layout())
}

fn weight_grad_in(x: &[f32], dy: &[f32], g: &Conv2dGeometry, layout: Layout) -> Vec<f32> {
    let (patch, ohw, cout) = (g.patch(), g.output_len(), g.channels_out);
    assert_eq!(x.len(), g.batch * g.input_len(), "input length");
    assert_eq!(dy.len(), g.batch * cout * ohw, "output gradient length");
    let ow = g.output()[1];
    let threads = rayon::current_num_threads().clamp(1, g.batch.max(1));
    let per_thread = g.batch.div_ceil(threads).max(1);
    let partial = (0..g.batch.div_ceil(per_thread))
        .into_par_iter()
        .map(|chunk| {
            let mut acc = vec![0.0f32; cout * patch];
            let mut first = true;
            with_scratch(g, layout, |cols, buf| {
                for n in chunk * per_thread..((chunk + 1) * per_thread).min(g.batch) {
                    let xs = sample_input(&x[n * g.input_len()..][..g.input_len()], g, layout, buf);
                    let dys = &dy[n * cout * ohw..(n + 1) * cout * ohw];
                    for rows in blocks(g) {
                        let (at, len) = (rows.start * ow, rows.len() * ow);
                        let (cols, (rs, cs)) = block_cols(xs, g, layout, rows, cols);
                        // acc[co, r] += Σ_p dy[co, p] · cols[r, p]
                        matmul(
                            cout,
                            patch,
                            len,
                            &mut acc,
                            patch,
                            !first,
                            &dys[at..],
                            (ohw, 1),
                            cols,
                            (cs, rs),
                            g.gemm_threads(),
                        );
                        first = false;
                    }
                }
            });
            acc
        })
        .collect::<Vec<_>>();
    let mut parts = partial.into_iter();
    let mut total = parts.next().unwrap_or_else(|| vec![0.0; cout * patch]);
    for part in parts {
        for (t, p) in total.iter_mut().zip(&part) {
            *t += p;
        }
    }
    match layout {
        Layout::ChannelsLast => channels_last::weight_from_channels_last(&total, g),
        _ => total,
    }
}

/// Gradient of the loss with respect to the bias, `[channels_out]`, from the output gradient
/// `dy` (`[batch, channels_out, len]`): each channel's sum, in `f64` across slices.
pub fn bias_grad(dy: &[f32], batch: usize, channels_out: usize, len: usize) -> Vec<f32> {
    assert_eq!(
        dy.len(),
        batch * channels_out * len,
        "output gradient length"
    );
    (0..channels_out)
        .into_par_iter()
        .map(|c| {
            (0..batch)
                .map(|n| f64::from(sum(&dy[(n * channels_out + c) * len..][..len])))
                .sum::<f64>() as f32
        })
        .collect()
}

/// A slice's sum in eight lanes (vectorised, and closer to exact than one running sum).
fn sum(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = values.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f32>() + rest
}

/// Gradient of the loss with respect to the input, `[batch, channels_in, h, w]` row-major, from
/// the weight (`[channels_out, channels_in, kh, kw]`) and the output gradient `dy`.
pub fn input_grad(weight: &[f32], dy: &[f32], g: &Conv2dGeometry) -> Vec<f32> {
    input_grad_in(weight, dy, g, g.layout())
}

fn input_grad_in(weight: &[f32], dy: &[f32], g: &Conv2dGeometry, layout: Layout) -> Vec<f32> {
    let (patch, ohw, cout) = (g.patch(), g.output_len(), g.channels_out);
    assert_eq!(weight.len(), cout * patch, "weight length");
    assert_eq!(dy.len(), g.batch * cout * ohw, "output gradient length");
    if g.input_len() == 0 {
        return Vec::new();
    }
    let weight = &layout_weight(weight, g, layout);
    let ([h, w], ow) = (g.input, g.output()[1]);
    par_chunks_filled(g.batch * g.input_len(), g.input_len(), 0.0, |n, dxs| {
        let dys = &dy[n * cout * ohw..(n + 1) * cout * ohw];
        if layout == Layout::Pointwise {
            // dx[r, p] = Σ_co weight[co, r] · dy[co, p]
            matmul(
                patch,
                ohw,
                cout,
                dxs,
                ohw,
                false,
                weight,
                (1, patch),
                dys,
                (ohw, 1),
                g.gemm_threads(),
            );
            return;
        }
        with_scratch(g, layout, |cols, buf| {
            // a reordered layout (column stride, channels-last) adds into its own copy, then
            // writes it back
            let target = if buf.is_empty() {
                &mut *dxs
            } else {
                buf.fill(0.0);
                &mut *buf
            };
            for rows in blocks(g) {
                let (at, len) = (rows.start * ow, rows.len() * ow);
                let block = &mut cols[..patch * len];
                if layout == Layout::ChannelsLast {
                    // cols[p, r] = Σ_co dy[co, p] · weight[co, r]
                    matmul(
                        len,
                        patch,
                        cout,
                        block,
                        patch,
                        false,
                        &dys[at..],
                        (1, ohw),
                        weight,
                        (patch, 1),
                        g.gemm_threads(),
                    );
                    channels_last::col2im_add(block, g, rows, target);
                } else {
                    // cols[r, p] = Σ_co weight[co, r] · dy[co, p]
                    matmul(
                        patch,
                        len,
                        cout,
                        block,
                        len,
                        false,
                        weight,
                        (1, patch),
                        &dys[at..],
                        (ohw, 1),
                        g.gemm_threads(),
                    );
                    col2im_add(block, g, rows, target, len);
                }
            }
            match layout {
                Layout::ChannelsLast => channels_last::transpose(buf, h * w, g.channels_in, dxs),
                _ if !buf.is_empty() => merge_columns(buf, w, g.stride[1], dxs),
                _ => {}
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calls `f(output index, input index, weight index)` for every product the convolution
    /// sums, by the definition: direct loops, for small shapes.
    fn for_each_product(g: &Conv2dGeometry, mut f: impl FnMut(usize, usize, usize)) {
        let ([h, wd], [oh, ow], [kh, kw]) = (g.input, g.output(), g.kernel);
        for n in 0..g.batch {
            for co in 0..g.channels_out {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let yi = ((n * g.channels_out + co) * oh + oy) * ow + ox;
                        for ci in 0..g.channels_in {
                            for ki in 0..kh {
                                for kj in 0..kw {
                                    let iy = (oy * g.stride[0] + ki * g.dilation[0]) as isize
                                        - g.padding[0].0 as isize;
                                    let ix = (ox * g.stride[1] + kj * g.dilation[1]) as isize
                                        - g.padding[1].0 as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                        continue;
                                    }
                                    let xi = ((n * g.channels_in + ci) * h + iy as usize) * wd
                                        + ix as usize;
                                    let wi = ((co * g.channels_in + ci) * kh + ki) * kw + kj;
                                    f(yi, xi, wi);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The weight and input gradients by the definition.
    fn reference(x: &[f32], w: &[f32], dy: &[f32], g: &Conv2dGeometry) -> (Vec<f32>, Vec<f32>) {
        let (mut dw, mut dx) = (vec![0.0f32; w.len()], vec![0.0f32; x.len()]);
        for_each_product(g, |yi, xi, wi| {
            dw[wi] += dy[yi] * x[xi];
            dx[xi] += dy[yi] * w[wi];
        });
        (dw, dx)
    }

    /// The forward pass by the definition.
    fn reference_forward(x: &[f32], w: &[f32], bias: &[f32], g: &Conv2dGeometry) -> Vec<f32> {
        let [oh, ow] = g.output();
        let len = g.batch * g.channels_out * oh * ow;
        let mut y: Vec<f32> = (0..len)
            .map(|i| bias[(i / (oh * ow)) % g.channels_out])
            .collect();
        for_each_product(g, |yi, xi, wi| y[yi] += x[xi] * w[wi]);
        y
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0
            })
            .collect()
    }

    /// Checks the kernels against the definition in every layout that can compute `g`.
    fn check(g: Conv2dGeometry) {
        let [oh, ow] = g.output();
        let x = values(g.batch * g.input_len(), 1);
        let w = values(g.channels_out * g.patch(), 2);
        let dy = values(g.batch * g.channels_out * oh * ow, 3);
        let (dw, dx) = reference(&x, &w, &dy, &g);
        let bias = values(g.channels_out, 4);
        let y = reference_forward(&x, &w, &bias, &g);
        let mut db = vec![0.0f32; g.channels_out];
        for (i, v) in dy.iter().enumerate() {
            db[(i / (oh * ow)) % g.channels_out] += v;
        }
        let close = |name: &str, got: &[f32], want: &[f32], layout: Layout| {
            assert_eq!(
                got.len(),
                want.len(),
                "{name} length for {g:?} in {layout:?}"
            );
            for (i, (a, b)) in got.iter().zip(want).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                    "{name} [{i}]: {a} vs {b} for {g:?} in {layout:?}"
                );
            }
        };
        let db_got = bias_grad(&dy, g.batch, g.channels_out, oh * ow);
        close("bias gradient", &db_got, &db, g.layout());
        let layouts = if g.layout() == Layout::Pointwise {
            vec![Layout::Pointwise, Layout::Planar, Layout::ChannelsLast]
        } else {
            vec![Layout::Planar, Layout::ChannelsLast]
        };
        for layout in layouts {
            let got = forward_in(&x, &w, Some(&bias), &g, layout, false);
            close("output", &got, &y, layout);
            let relu: Vec<f32> = y.iter().map(|v| v.max(0.0)).collect();
            let got = forward_in(&x, &w, Some(&bias), &g, layout, true);
            close("output after ReLU", &got, &relu, layout);
            close(
                "weight gradient",
                &weight_grad_in(&x, &dy, &g, layout),
                &dw,
                layout,
            );
            close(
                "input gradient",
                &input_grad_in(&w, &dy, &g, layout),
                &dx,
                layout,
            );
        }
    }

    fn geometry(
        batch: usize,
        cin: usize,
        cout: usize,
        input: [usize; 2],
        kernel: [usize; 2],
    ) -> Conv2dGeometry {
        Conv2dGeometry {
            batch,
            channels_in: cin,
            channels_out: cout,
            input,
            kernel,
            stride: [1, 1],
            padding: [(0, 0), (0, 0)],
            dilation: [1, 1],
        }
    }

    #[test]
    fn matches_the_definition_on_valid_same_strided_dilated_and_pointwise_convolutions() {
        check(geometry(3, 2, 4, [6, 5], [3, 3]));
        check(Conv2dGeometry {
            padding: [(1, 1), (1, 1)],
            ..geometry(2, 3, 5, [7, 7], [3, 3])
        });
        check(Conv2dGeometry {
            padding: [(0, 1), (1, 0)],
            ..geometry(2, 3, 2, [4, 6], [2, 2])
        });
        check(Conv2dGeometry {
            stride: [2, 3],
            padding: [(1, 2), (2, 1)],
            ..geometry(5, 2, 3, [9, 8], [3, 2])
        });
        check(Conv2dGeometry {
            dilation: [2, 2],
            padding: [(2, 2), (1, 1)],
            ..geometry(2, 2, 2, [7, 6], [3, 2])
        });
        check(geometry(4, 6, 3, [5, 5], [1, 1]));
        check(Conv2dGeometry {
            stride: [2, 2],
            ..geometry(2, 4, 3, [5, 5], [1, 1])
        });
        // several blocks of output rows per sample (block_rows 1: patch 1000 × 130 columns)
        let wide = Conv2dGeometry {
            stride: [2, 2],
            padding: [(2, 2), (2, 2)],
            ..geometry(2, 40, 3, [9, 260], [5, 5])
        };
        assert_eq!((block_rows(&wide), wide.output()), (1, [5, 130]));
        check(wide);
        // blocks of one output row whose top and bottom kernel rows read only padding
        let tall = Conv2dGeometry {
            padding: [(3, 3), (1, 1)],
            ..geometry(1, 20, 2, [6, 698], [5, 3])
        };
        assert_eq!((block_rows(&tall), tall.output()), (1, [8, 698]));
        check(tall);
        // channels-last blocks with fewer positions than channels out (6 < 9: the product
        // as `[channels, positions]`) and with more (20 ≥ 6, added transposed onto the output,
        // with edges of the 4 × 4 tiles both ways)
        check(geometry(2, 3, 9, [3, 4], [2, 2]));
        check(geometry(2, 5, 6, [5, 7], [2, 3]));
        // kernel wider than the padded input in one direction's border rows
        check(Conv2dGeometry {
            padding: [(3, 3), (0, 0)],
            ..geometry(1, 1, 1, [2, 5], [3, 3])
        });
    }

    #[test]
    fn split_columns_orders_each_row_by_phase_and_merges_back() {
        let x: Vec<f32> = (0..14).map(|v| v as f32).collect(); // two rows of 7
        let mut split = vec![0.0; 14];
        split_columns(&x, 7, 3, &mut split);
        let want = [0, 3, 6, 1, 4, 2, 5];
        let want: Vec<f32> = [want, want.map(|v| v + 7)]
            .concat()
            .into_iter()
            .map(|v| v as f32)
            .collect();
        assert_eq!(split, want);
        for ix in 0..7 {
            assert_eq!(split[split_column(ix, 7, 3)], ix as f32, "column {ix}");
        }
        let mut merged = vec![0.0; 14];
        merge_columns(&split, 7, 3, &mut merged);
        assert_eq!(merged, x);
    }

    #[test]
    fn output_size_follows_burn() {
        let g = Conv2dGeometry {
            stride: [2, 2],
            padding: [(1, 1), (1, 1)],
            ..geometry(1, 1, 1, [32, 31], [3, 3])
        };
        assert_eq!(g.output(), [16, 16]);
        assert_eq!(geometry(1, 1, 1, [14, 14], [3, 3]).output(), [12, 12]);
        assert!(geometry(1, 1, 1, [14, 14], [3, 3]).is_supported());
        // a window larger than the padded input, a zero stride, an empty batch: Burn's
        assert!(!geometry(1, 1, 1, [2, 5], [3, 3]).is_supported());
        assert!(
            Conv2dGeometry {
                padding: [(1, 0), (0, 0)],
                ..geometry(1, 1, 1, [2, 5], [3, 3])
            }
            .is_supported()
        );
        assert!(
            !Conv2dGeometry {
                stride: [0, 1],
                ..geometry(1, 1, 1, [5, 5], [3, 3])
            }
            .is_supported()
        );
        assert!(!geometry(0, 1, 1, [5, 5], [3, 3]).is_supported());
    }
}
