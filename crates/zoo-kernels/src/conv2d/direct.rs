//! The forward pass of "valid" stride-1 convolutions straight from the planar sample, without
//! an im2col matrix: a register-blocked AVX2 + FMA kernel (6 output channels × 16 positions of
//! one output row, accumulated over every input channel and kernel tap).
//!
//! Why: with short patches the im2col matrix costs as much as the product. conv1d-classifier's
//! layers (patches of 21, 80 and 160 values; 498, 245 and 118 positions) ran at 20–55 % of
//! this CPU's peak through im2col + gemm; every row of that matrix is a shifted view of an
//! input row, so the kernel reads the input rows themselves (the book's "Kernel measurements", "Kernel design
//! measurements").

use crate::conv2d::geometry::Conv2dGeometry;
use crate::pool::Pool2dGeometry;

/// Output channels per block: 6 channels × 2 vectors = 12 accumulators, plus 2 input vectors
/// and a broadcast weight, within AVX2's 16 registers (4 × 3 ran at half the speed: its 16
/// live registers left the compiler shuffling and spilling them in the inner loop).
const CHANNELS: usize = 6;
/// Vectors of 8 positions per block.
#[cfg(target_arch = "x86_64")]
const VECTORS: usize = 2;
const LANES: usize = 8;

/// Whether the forward pass takes this kernel here: a shape it computes ([`shape_fits`]) where
/// it measured faster than im2col + gemm, every thread with a sample of its own (the kernel
/// runs a sample on one thread; at batch 1 gemm spreads one product over all of them), and a
/// CPU with AVX2 and FMA ([`enabled`]). `ZOO_DIRECT=off` leaves every shape to gemm.
///
/// Faster (`examples/fwd_only`, 2-core AMD EPYC Zen 3, AVX2): 1-D convolutions
/// (conv1d-classifier's three, 1.2–2×) and 2-D ones with rows of ≥ 96 positions
/// (binary-cnn's conv2, 122 per row: ~1.2×; its conv1, memory-bound, the same). Slower with
/// short rows (cifar-inception's conv2, 28 per row; binary-cnn's conv3 and conv4, 59 and 27):
/// a row ends in an 8-wide and a masked vector, and the sample's planes outgrow L1.
pub(crate) fn applies(g: &Conv2dGeometry) -> bool {
    let [oh, ow] = g.output();
    shape_fits(g) && (oh == 1 || ow >= 96) && g.batch >= rayon::current_num_threads() && enabled()
}

/// This CPU has the kernel's instructions (AVX2 and FMA) and `ZOO_DIRECT` is not `off`.
/// Decided once per process: `CPUID` traps to the hypervisor in a VM, and this is asked at
/// every convolution.
///
/// On by default on every CPU kind with AVX2 + FMA, decided on `just bench-switches` where
/// measured (conv1d-classifier's inference at batch 32, 2 threads, `off` → `on`):
/// - AMD EPYC Zen 3 (AVX2 only): 2.01 → 1.25 ms (1.6×);
/// - Intel Xeon with AVX-512 (Sapphire Rapids class, 512-bit FMA units): 1.23 → 0.98 ms
///   (1.26×), binary-cnn unchanged (inference 1.01×, training 1.05×), 2026-12-06: the im2col
///   copy, the output's write and the pool's pass that the kernel saves outweigh gemm's
///   512-bit kernels, so the arithmetic that kept it off there (twice the multiply-adds per
///   cycle) did not hold;
/// - AMD Zen 4 (AVX-512 on 256-bit units): 1.39 → 1.07 ms (1.30×), binary-cnn inference 1.17×,
///   training 1.06×, 2026-12-07;
/// - AMD Zen 5 (512-bit units): not measured; on by analogy with Intel's AVX-512
///   (`ZOO_DIRECT=off` to compare there).
pub(crate) fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| has_avx2_fma() && switch().unwrap_or(true))
}

/// `ZOO_DIRECT`: `None` (unset or `auto`) leaves the choice to the CPU ([`enabled`]).
fn switch() -> Option<bool> {
    crate::switches::direct()
}

/// The shapes the kernel computes (whatever the CPU).
pub(crate) fn shape_fits(g: &Conv2dGeometry) -> bool {
    g.stride == [1, 1]
        && g.dilation == [1, 1]
        && g.padding == [(0, 0), (0, 0)]
        && g.output()[1] >= LANES
        && g.input[0] >= g.kernel[0]
        && g.input[1] >= g.kernel[1]
}

/// AVX2 and FMA, which the kernel needs.
pub(crate) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The weight `[channels_out, channels_in, kh, kw]` in the kernel's order: per block of
/// [`CHANNELS`] output channels, per tap (channel in, kernel row, kernel column), the block's
/// values side by side (a short last block holds only its channels).
pub(crate) fn pack_weight(weight: &[f32], g: &Conv2dGeometry) -> Vec<f32> {
    let (patch, cout) = (g.patch(), g.channels_out);
    let mut packed = Vec::with_capacity(weight.len());
    for first in (0..cout).step_by(CHANNELS) {
        let channels = CHANNELS.min(cout - first);
        for tap in 0..patch {
            for co in first..first + channels {
                packed.push(weight[co * patch + tap]);
            }
        }
    }
    packed
}

/// Sample `n`'s convolution accumulated onto `outs` (`[channels_out, oh, ow]`, holding the
/// bias or zeros), then the ReLU (Flex's: NaN stays) when `relu`. `packed` is
/// [`pack_weight`]'s.
///
/// # Panics
/// Unless [`shape_fits`] and the CPU has AVX2 and FMA (callers check [`applies`]).
pub(crate) fn sample_forward(
    x: &[f32],
    packed: &[f32],
    g: &Conv2dGeometry,
    relu: bool,
    n: usize,
    outs: &mut [f32],
) {
    let xs = checked_sample(x, packed, g, n);
    assert_eq!(outs.len(), g.channels_out * g.output_len(), "output length");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX2 and FMA are present (asserted); every read and write stays inside `xs`,
    // `packed` and `outs` (`avx2::sample`'s bounds, from the asserted lengths).
    unsafe {
        let epilogue = match relu {
            true => avx2::Epilogue::Relu,
            false => avx2::Epilogue::Plain,
        };
        avx2::sample(xs, packed, g, epilogue, outs)
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!(
        "checked_sample refused {} inputs (relu {relu}): no AVX2 here",
        xs.len()
    )
}

/// Sample `n` of `x`, once the kernel is known to compute `g` here and `packed` has its length.
fn checked_sample<'a>(x: &'a [f32], packed: &[f32], g: &Conv2dGeometry, n: usize) -> &'a [f32] {
    assert!(
        shape_fits(g) && has_avx2_fma(),
        "direct convolution of {g:?}"
    );
    assert_eq!(
        packed.len(),
        g.patch() * g.channels_out,
        "packed weight length"
    );
    &x[n * g.input_len()..][..g.input_len()]
}

/// Whether `pool` is a max pool of windows of two side by side along each output row of this
/// convolution (`MaxPool1d(2)` after a 1-D convolution: conv1d-classifier's three stages), which
/// [`sample_forward_pairs`] computes in the kernel's registers.
pub(crate) fn pools_pairs(g: &Conv2dGeometry, pool: &Pool2dGeometry) -> bool {
    pool.planes == g.channels_out
        && pool.input == g.output()
        && pool.kernel == [1, 2]
        && pool.stride == [1, 2]
        && pool.padding == [0, 0]
        && pool.dilation == [1, 1]
}

/// Sample `n`'s convolution, its ReLU and a max pool of pairs along each row ([`pools_pairs`])
/// into `pooled` (`[channels_out, oh, ow / 2]`): each block's 16 positions are pooled in
/// registers into 8 values, so the convolution's output is never stored and the separate pool
/// pass and its reads go (conv1d-classifier's inference: the pool pass and the output's fill
/// were ~15 % of a forward pass, `perf`, one thread). The pool's value is the pool pass's: the
/// larger of the two, NaN when either is. `bias`: one per output channel (zeros for none).
///
/// # Panics
/// Unless [`shape_fits`] and the CPU has AVX2 and FMA, or on lengths that do not fit `g`.
pub(crate) fn sample_forward_pairs(
    x: &[f32],
    packed: &[f32],
    bias: &[f32],
    g: &Conv2dGeometry,
    n: usize,
    pooled: &mut [f32],
) {
    let xs = checked_sample(x, packed, g, n);
    let [oh, ow] = g.output();
    assert_eq!(
        pooled.len(),
        g.channels_out * oh * (ow / 2),
        "pooled length"
    );
    assert_eq!(bias.len(), g.channels_out, "bias length");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX2 and FMA are present (asserted); every read and write stays inside `xs`,
    // `packed`, `bias` and `pooled` (`avx2::sample`'s bounds, from the asserted lengths).
    unsafe {
        avx2::sample(xs, packed, g, avx2::Epilogue::PoolPairs(bias), pooled)
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("checked_sample refused {} inputs: no AVX2 here", xs.len())
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{CHANNELS, LANES, VECTORS};
    use crate::conv2d::geometry::Conv2dGeometry;
    use std::arch::x86_64::*;

    /// What a block does with its sums.
    #[derive(Clone, Copy)]
    pub(super) enum Epilogue<'a> {
        /// Stored (the output held the bias or zeros, added to).
        Plain,
        /// Stored after the ReLU (as above).
        Relu,
        /// Started from this bias (one per output channel); the ReLU, then the larger of each
        /// pair of positions stored into a pooled output of `ow / 2` values per row.
        PoolPairs(&'a [f32]),
    }

    /// The whole sample: blocks of output channels, then output rows, then 16 or 8
    /// positions at a time, and the last few positions of a row in one masked vector.
    /// `outs` is `[channels_out, oh, ow]`, or `[channels_out, oh, ow / 2]` when pooled.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn sample(
        xs: &[f32],
        packed: &[f32],
        g: &Conv2dGeometry,
        epilogue: Epilogue<'_>,
        outs: &mut [f32],
    ) {
        let [oh, ow] = g.output();
        let cout = g.channels_out;
        let taps = Taps {
            channels: g.channels_in,
            kernel: g.kernel,
            row: g.input[1],
            plane: g.input[0] * g.input[1],
        };
        let (pool, bias, relu) = match epilogue {
            Epilogue::Plain => (false, [].as_slice(), false),
            Epilogue::Relu => (false, [].as_slice(), true),
            Epilogue::PoolPairs(bias) => (true, bias, true),
        };
        // the stored row's width and a position's place in it (halved when pooled)
        let (row_out, shift) = if pool { (ow / 2, 1) } else { (ow, 0) };
        let plane = oh * row_out;
        let (x, out) = (xs.as_ptr(), outs.as_mut_ptr());
        for first in (0..cout).step_by(CHANNELS) {
            let channels = CHANNELS.min(cout - first);
            let w = unsafe { packed.as_ptr().add(first * g.patch()) };
            let bias = bias.get(first..).unwrap_or_default().as_ptr();
            for oy in 0..oh {
                let mut ox = 0;
                let block = |ox: usize, lanes: usize| {
                    let mask = _mm256_cmpgt_epi32(
                        _mm256_set1_epi32(lanes as i32),
                        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                    );
                    Block {
                        x: unsafe { x.add(oy * taps.row + ox) },
                        w,
                        out: unsafe { out.add(first * plane + oy * row_out + (ox >> shift)) },
                        plane,
                        relu,
                        mask,
                        bias,
                        pooled: _mm_cmpgt_epi32(
                            _mm_set1_epi32((lanes / 2) as i32),
                            _mm_setr_epi32(0, 1, 2, 3),
                        ),
                    }
                };
                let run = |v: usize, masked: bool, at: &Block| unsafe {
                    match (pool, v, masked) {
                        (false, VECTORS, _) => {
                            block_any::<VECTORS, false, false>(channels, &taps, at)
                        }
                        (false, _, false) => block_any::<1, false, false>(channels, &taps, at),
                        (false, _, true) => block_any::<1, true, false>(channels, &taps, at),
                        (true, VECTORS, _) => {
                            block_any::<VECTORS, false, true>(channels, &taps, at)
                        }
                        (true, _, false) => block_any::<1, false, true>(channels, &taps, at),
                        (true, _, true) => block_any::<1, true, true>(channels, &taps, at),
                    }
                };
                while ox + VECTORS * LANES <= ow {
                    run(VECTORS, false, &block(ox, LANES));
                    ox += VECTORS * LANES;
                }
                if ox + LANES <= ow {
                    run(1, false, &block(ox, LANES));
                    ox += LANES;
                }
                // the last few positions: one vector, its loads and stores masked to them
                // (masked-out lanes are never read); pooled, a last lone position is dropped
                // (floor mode)
                if ox < ow && !(pool && ow - ox < 2) {
                    run(1, true, &block(ox, ow - ox));
                }
            }
        }
    }

    /// The input taps of one output position: `channels` planes of `plane` values, rows of
    /// `row` values, a `kernel` window.
    struct Taps {
        channels: usize,
        kernel: [usize; 2],
        row: usize,
        plane: usize,
    }

    /// One block's input (its first position), packed weights, output (its first channel's
    /// first position, or pooled value; channels `plane` apart), ReLU or not, the lanes it
    /// covers when masked, and when pooled: the bias of its first channel and the pooled
    /// lanes it stores when masked.
    struct Block {
        x: *const f32,
        w: *const f32,
        out: *mut f32,
        plane: usize,
        relu: bool,
        mask: __m256i,
        bias: *const f32,
        pooled: __m128i,
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn block_any<const V: usize, const MASKED: bool, const POOL: bool>(
        channels: usize,
        taps: &Taps,
        at: &Block,
    ) {
        unsafe {
            match channels {
                6 => block::<6, V, MASKED, POOL>(taps, at),
                5 => block::<5, V, MASKED, POOL>(taps, at),
                4 => block::<4, V, MASKED, POOL>(taps, at),
                3 => block::<3, V, MASKED, POOL>(taps, at),
                2 => block::<2, V, MASKED, POOL>(taps, at),
                _ => block::<1, V, MASKED, POOL>(taps, at),
            }
        }
    }

    /// `C` output channels × `V` vectors of positions: `out[c][v] += Σ_tap w[tap][c] ·
    /// x[tap offset + v]`, the accumulators in registers for the whole patch; every load and
    /// store under `at.mask` when `MASKED` (then `V` is 1). When `POOL`, the sums start from
    /// the bias and leave through [`store_pairs`].
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn block<const C: usize, const V: usize, const MASKED: bool, const POOL: bool>(
        taps: &Taps,
        at: &Block,
    ) {
        unsafe {
            let mut w = at.w;
            let mut acc = [[_mm256_setzero_ps(); V]; C];
            for (c, acc) in acc.iter_mut().enumerate() {
                for (v, acc) in acc.iter_mut().enumerate() {
                    *acc = match POOL {
                        true => _mm256_broadcast_ss(&*at.bias.add(c)),
                        false => load::<MASKED>(at.out.add(c * at.plane + v * LANES), at.mask),
                    };
                }
            }
            let [kh, kw] = taps.kernel;
            for ci in 0..taps.channels {
                for ky in 0..kh {
                    let row = at.x.add(ci * taps.plane + ky * taps.row);
                    for kx in 0..kw {
                        let mut xv = [_mm256_setzero_ps(); V];
                        for (v, xv) in xv.iter_mut().enumerate() {
                            *xv = load::<MASKED>(row.add(kx + v * LANES), at.mask);
                        }
                        for (c, acc) in acc.iter_mut().enumerate() {
                            let wv = _mm256_broadcast_ss(&*w.add(c));
                            for (acc, &xv) in acc.iter_mut().zip(&xv) {
                                *acc = _mm256_fmadd_ps(xv, wv, *acc);
                            }
                        }
                        w = w.add(C);
                    }
                }
            }
            for (c, acc) in acc.iter().enumerate() {
                if POOL {
                    store_pairs::<V, MASKED>(acc, at.out.add(c * at.plane), at.pooled);
                    continue;
                }
                for (v, &acc) in acc.iter().enumerate() {
                    let y = if at.relu { relu_keep_nan(acc) } else { acc };
                    store::<MASKED>(at.out.add(c * at.plane + v * LANES), at.mask, y);
                }
            }
        }
    }

    /// One channel's `8 V` sums after the ReLU, pooled by pairs into `4 V` values at `out`
    /// (under `pooled`, the lanes to store, when `MASKED`).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn store_pairs<const V: usize, const MASKED: bool>(
        acc: &[__m256; V],
        out: *mut f32,
        pooled: __m128i,
    ) {
        unsafe {
            let first = relu_keep_nan(acc[0]);
            if V == 2 {
                // lanes [a0 a2 b0 b2 | a4 a6 b4 b6] and the odd ones, then the 64-bit pairs
                // reordered to [a0 a2 a4 a6 b0 b2 b4 b6]
                let second = relu_keep_nan(acc[V - 1]);
                let even = _mm256_shuffle_ps::<0x88>(first, second);
                let odd = _mm256_shuffle_ps::<0xDD>(first, second);
                let m = _mm256_max_ps(even, odd);
                let m = _mm256_blendv_ps(m, even, _mm256_cmp_ps::<_CMP_UNORD_Q>(even, even));
                let m = _mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(_mm256_castps_pd(m)));
                _mm256_storeu_ps(out, m);
            } else {
                let (lo, hi) = (
                    _mm256_castps256_ps128(first),
                    _mm256_extractf128_ps::<1>(first),
                );
                let even = _mm_shuffle_ps::<0x88>(lo, hi);
                let odd = _mm_shuffle_ps::<0xDD>(lo, hi);
                // max returns its second operand when either is NaN: `odd`'s NaN by max, the
                // even one's (which wins when both are) by the blend
                let m = _mm_max_ps(even, odd);
                let m = _mm_blendv_ps(m, even, _mm_cmpunord_ps(even, even));
                match MASKED {
                    true => _mm_maskstore_ps(out, pooled, m),
                    false => _mm_storeu_ps(out, m),
                }
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn load<const MASKED: bool>(p: *const f32, mask: __m256i) -> __m256 {
        unsafe {
            match MASKED {
                true => _mm256_maskload_ps(p, mask),
                false => _mm256_loadu_ps(p),
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn store<const MASKED: bool>(p: *mut f32, mask: __m256i, v: __m256) {
        unsafe {
            match MASKED {
                true => _mm256_maskstore_ps(p, mask, v),
                false => _mm256_storeu_ps(p, v),
            }
        }
    }

    /// Flex's ReLU: positives and NaN (unordered: not ≤ 0) stay, the rest is +0.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn relu_keep_nan(v: __m256) -> __m256 {
        _mm256_and_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NLE_UQ), v)
    }
}
