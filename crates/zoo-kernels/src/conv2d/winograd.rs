//! 3 × 3 stride-1 convolutions by Winograd's minimal filtering F(2 × 2, 3 × 3) (Lavin & Gray,
//! 2015): each 2 × 2 block of outputs from a 4 × 4 input tile with 16 multiplications per
//! channel pair instead of 36, as 16 matrix products `[tiles, channels_in] · [channels_in,
//! channels_out]`, one per point of the transformed 4 × 4 tile.
//!
//! Why: most of cifar-inception's arithmetic is in 3 × 3 stride-1 convolutions (conv2, the
//! Inception 3 × 3 branch, conv4: 41 of 57.4 M multiply-adds per image), and a training step
//! was ~64 % gemm micro-kernel already (the book, "Kernel measurements"): fewer multiplications was what was left.
//! The input gradient of such a convolution is another one (the output gradient, padded by
//! `2 - padding`, with the weight flipped and its channels swapped), and the weight gradient
//! follows from the forward pass being linear in the transformed weight: all three passes
//! use it.
//!
//! Layout: the sample is copied channels-last, so the tile transforms are adds of channel
//! vectors (vectorised by the compiler), and each product's rows are tiles, its columns
//! channels — the `[positions, channels]` orientation gemm runs fastest here. The result is
//! written channels-last per sample and added transposed onto the NCHW output (which holds the
//! bias). Several samples share the products where one has few tiles (the Inception 3 × 3
//! branch: 49 a sample).
//!
//! Numerics: the transforms use only 1, ½ and signs, so results equal the direct sum up to a
//! few float roundings more (checked against the definition in the tests).

use std::ops::Range;

use rayon::prelude::*;

use crate::conv2d::channels_last::{transpose, transpose_add};
use crate::conv2d::geometry::Conv2dGeometry;
use crate::conv2d::matmul::matmul;
use crate::conv2d::scratch::SCRATCH;
use crate::parallel::{par_chunks_rows_filled, sum_in_order};
use crate::short::relu_in_place;

/// Points of the transformed tile (4 × 4).
const POINTS: usize = 16;
/// Tiles per chunk of samples this module aims for (several samples share the products where
/// one has few tiles): enough rows that gemm's packing of the transformed weight is repaid.
const TILES: usize = 128;
/// Tiles per block of products at most, so that a sample with many tiles (binary-cnn's conv3:
/// 900) does not go through memory whole between the transforms and the products. Measured
/// (`examples/fwd_only`, 2 threads, Zen 3): blocks of 64–256 tiles and unblocked ran within
/// the noise on cifar-inception's layers; 256 was as fast as unblocked or faster on binary-cnn's
/// conv3 and conv4 (12.2–13.1 / 7.5–7.9 ms against 12.4–14.1 / 8.2–8.7 at batch 16).
const BLOCK: usize = 256;

/// Whether [`forward`] is chosen for `g` (and [`input_grad`] for its input gradient): a shape
/// it computes ([`shape_fits`]), at least 16 channels in and out (below that the products are
/// too thin to gain: cifar-inception's 3-channel conv1 stays on im2col), outputs of at least
/// 8 × 8, and a sample per thread (the products run on one thread each).
///
/// Measured (`examples/cifar_layers`, batch 64, 2 threads, 2-core AMD EPYC Zen 3, AVX2,
/// im2col → Winograd, forward / input gradient / weight gradient ms): conv2 (32 → 64, 28 × 28
/// out) 13.4–13.7 / 13.5–13.9 / 13.1–13.4 → 8.6 / 9.8–10.1 / 10.3–11.0, the Inception 3 × 3
/// branch (96 → 128, 14 × 14, padded) 18–22 / 18–20 / 18 → 10–12 / 10–11 / 11–12; conv4 (128 →
/// 256, 4 × 4 out) slower, 3.7 / 4.7 → 6.8 / 7.5 (forward and input gradient), hence the 8 × 8.
pub(crate) fn applies(g: &Conv2dGeometry) -> bool {
    let [oh, ow] = g.output();
    shape_fits(g)
        && g.channels_in >= 16
        && g.channels_out >= 16
        && oh >= 8
        && ow >= 8
        && g.batch >= rayon::current_num_threads()
        && enabled()
}

/// The shapes [`forward`] and [`input_grad`] compute: 3 × 3, stride 1, dilation 1, padding at
/// most 2 on every side (the input gradient pads by `2 - padding`), a non-empty output.
pub(crate) fn shape_fits(g: &Conv2dGeometry) -> bool {
    g.kernel == [3, 3]
        && g.stride == [1, 1]
        && g.dilation == [1, 1]
        && g.padding.iter().all(|&(a, b)| a <= 2 && b <= 2)
        && g.is_supported()
        && g.output_len() > 0
}

/// `ZOO_WINOGRAD=off` leaves these convolutions to im2col (to compare, or to rule this path out).
fn enabled() -> bool {
    crate::switches::winograd()
}

/// The tiles of one sample: `[tile rows, tile columns]` of 2 × 2 outputs.
fn tiles(g: &Conv2dGeometry) -> [usize; 2] {
    g.output().map(|side| side.div_ceil(2))
}

/// Samples per chunk of products: enough for about [`TILES`] tiles, while every thread still
/// gets two chunks.
fn group_size(g: &Conv2dGeometry) -> usize {
    let [th, tw] = tiles(g);
    let per_thread = g.batch / (2 * rayon::current_num_threads()).max(1);
    TILES.div_ceil(th * tw).min(per_thread).max(1)
}

/// The weight `[channels_out, channels_in, 3, 3]` transformed to `G g Gᵀ` per channel pair,
/// as `[point, channels_in, channels_out]` (each point's product operand). Computed in
/// parallel by input channel as `[channels_in, point, channels_out]` (each input channel's
/// values one run), then copied point by point: this runs twice per training step and layer,
/// and on one thread it would wait for the others more the more there are. (The products could
/// read the first order directly, rows `16 · channels_out` apart; that ran no faster in
/// `examples/cifar_layers`, and rows 4 or 8 KiB apart risk sharing cache sets.)
pub(crate) fn transform_weight(weight: &[f32], cout: usize, cin: usize) -> Vec<f32> {
    assert_eq!(weight.len(), cout * cin * 9, "weight length");
    let mut by_input = vec![0.0f32; POINTS * cin * cout];
    by_input
        .par_chunks_exact_mut(POINTS * cout.max(1))
        .enumerate()
        .for_each(|(ci, u)| {
            for co in 0..cout {
                let w = &weight[(co * cin + ci) * 9..][..9];
                // G g: rows g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2 (per column)
                let mut gw = [[0.0f32; 3]; 4];
                for j in 0..3 {
                    let (a, b, c) = (w[j], w[3 + j], w[6 + j]);
                    gw[0][j] = a;
                    gw[1][j] = 0.5 * (a + b + c);
                    gw[2][j] = 0.5 * (a - b + c);
                    gw[3][j] = c;
                }
                // (G g) Gᵀ: the same along each row
                for (i, row) in gw.iter().enumerate() {
                    let [a, b, c] = *row;
                    let values = [a, 0.5 * (a + b + c), 0.5 * (a - b + c), c];
                    for (j, v) in values.into_iter().enumerate() {
                        u[(i * 4 + j) * cout + co] = v;
                    }
                }
            }
        });
    let mut u = vec![0.0f32; POINTS * cin * cout];
    u.par_chunks_exact_mut((cin * cout).max(1))
        .enumerate()
        .for_each(|(p, u)| {
            for (ci, row) in u.chunks_exact_mut(cout.max(1)).enumerate() {
                row.copy_from_slice(&by_input[(ci * POINTS + p) * cout..][..cout]);
            }
        });
    u
}

/// The forward pass, `[batch, channels_out, oh, ow]`, starting from the bias; with `relu`,
/// followed by a ReLU (as Flex's: NaN stays). `weight` is `[channels_out, channels_in, 3, 3]`.
pub(crate) fn forward(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    g: &Conv2dGeometry,
    relu: bool,
) -> Vec<f32> {
    let u = transform_weight(weight, g.channels_out, g.channels_in);
    run(x, &u, bias, g, relu)
}

/// The input gradient `[batch, channels_in, h, w]` from the output gradient `dy` (`[batch,
/// channels_out, oh, ow]`): the forward pass of `dy` padded by `2 - padding` on each side,
/// with the weight flipped in both spatial dimensions and its two channel axes swapped.
pub(crate) fn input_grad(weight: &[f32], dy: &[f32], g: &Conv2dGeometry) -> Vec<f32> {
    assert!(shape_fits(g), "not a Winograd shape: {g:?}");
    let (cin, cout) = (g.channels_in, g.channels_out);
    assert_eq!(weight.len(), cout * cin * 9, "weight length");
    let mut flipped = vec![0.0f32; weight.len()];
    for co in 0..cout {
        for ci in 0..cin {
            let from = &weight[(co * cin + ci) * 9..][..9];
            let to = &mut flipped[(ci * cout + co) * 9..][..9];
            for (k, v) in to.iter_mut().enumerate() {
                *v = from[8 - k];
            }
        }
    }
    let back = Conv2dGeometry {
        batch: g.batch,
        channels_in: cout,
        channels_out: cin,
        input: g.output(),
        kernel: [3, 3],
        stride: [1, 1],
        padding: g.padding.map(|(a, b)| (2 - a, 2 - b)),
        dilation: [1, 1],
    };
    debug_assert_eq!(back.output(), g.input);
    let u = transform_weight(&flipped, cin, cout);
    run(dy, &u, None, &back, false)
}

/// The weight gradient `[channels_out, channels_in, 3, 3]` from the input `x` and the output
/// gradient `dy`: the forward pass is linear in the transformed weight `U = G g Gᵀ`, so
/// `dL/dU_p = Σ_tiles (A dy Aᵀ)_p ⊙ (Bᵀ d B)_p` (16 products `[channels_in, tiles] · [tiles,
/// channels_out]`) and `dL/dg = Gᵀ (dL/dU) G`. The batch is split into a fixed number of parts
/// per thread count (two a thread, for balance), each summed on its own and the parts added in
/// order, so a result does not depend on which thread ran which part.
pub(crate) fn weight_grad(x: &[f32], dy: &[f32], g: &Conv2dGeometry) -> Vec<f32> {
    assert!(shape_fits(g), "not a Winograd shape: {g:?}");
    let (cin, cout, ohw) = (g.channels_in, g.channels_out, g.output_len());
    assert_eq!(x.len(), g.batch * g.input_len(), "input length");
    assert_eq!(dy.len(), g.batch * cout * ohw, "output gradient length");
    let parts = (2 * rayon::current_num_threads()).clamp(1, g.batch.max(1));
    let per_part = g.batch.div_ceil(parts).max(1);
    let partial: Vec<Vec<f32>> = (0..g.batch.div_ceil(per_part))
        .into_par_iter()
        .map(|part| {
            let samples = part * per_part..((part + 1) * per_part).min(g.batch);
            let mut du = vec![0.0f32; POINTS * cin * cout];
            let group = group_size(g);
            for first in samples.clone().step_by(group) {
                let last = (first + group).min(samples.end);
                let xs = &x[first * g.input_len()..last * g.input_len()];
                let dys = &dy[first * cout * ohw..last * cout * ohw];
                chunk_weight_grad(xs, dys, g, &mut du);
            }
            du
        })
        .collect();
    let du = sum_in_order(partial, POINTS * cin * cout);
    // Gᵀ (dL/dU) G per channel pair: Gᵀ takes four values d to d0 + (d1 + d2) / 2,
    // (d1 - d2) / 2, (d1 + d2) / 2 + d3, along each column, then along each row
    let gt =
        |[d0, d1, d2, d3]: [f32; 4]| [d0 + 0.5 * (d1 + d2), 0.5 * (d1 - d2), 0.5 * (d1 + d2) + d3];
    let mut dw = vec![0.0f32; cout * cin * 9];
    dw.par_chunks_exact_mut((cin * 9).max(1))
        .enumerate()
        .for_each(|(co, dw)| {
            for (ci, out) in dw.chunks_exact_mut(9).enumerate() {
                let at = |i: usize, j: usize| du[((i * 4 + j) * cin + ci) * cout + co];
                let columns: [[f32; 3]; 4] =
                    std::array::from_fn(|j| gt([at(0, j), at(1, j), at(2, j), at(3, j)]));
                for (a, row) in out.chunks_exact_mut(3).enumerate() {
                    row.copy_from_slice(&gt(columns.map(|column| column[a])));
                }
            }
        });
    dw
}

/// Adds the samples' `dL/dU` (`[point, channels_in, channels_out]`) onto `du`, from their
/// inputs `inputs` (NCHW) and output gradients `dys` (`[samples, channels_out, oh, ow]`).
fn chunk_weight_grad(inputs: &[f32], dys: &[f32], g: &Conv2dGeometry, du: &mut [f32]) {
    let (cin, cout, ohw) = (g.channels_in, g.channels_out, g.output_len());
    let [th, tw] = tiles(g);
    let samples = inputs.len() / g.input_len();
    let n = samples * th * tw;
    let block = BLOCK.min(n);
    // scratch: the output gradients channels-last, a block's transformed tiles of the input
    // (V [point, tile, channel in]) and of the gradient (Z [point, tile, channel out])
    let sizes = [
        samples * ohw * cout,
        POINTS * block * cin,
        POINTS * block * cout,
    ];
    with_chunk_scratch(inputs, g, sizes, |input_cl, [grad_cl, v, z]| {
        for (d, sample) in dys
            .chunks_exact(cout * ohw)
            .zip(grad_cl.chunks_exact_mut(cout * ohw))
        {
            transpose(d, cout, ohw, sample);
        }
        let mut temp = vec![0.0f32; POINTS * cin.max(cout)];
        for first in (0..n).step_by(block) {
            let tiles = first..(first + block).min(n);
            let rows = tiles.len();
            transform_input(input_cl, g, tiles.clone(), v, &mut temp);
            transform_grad(grad_cl, g, tiles, z, &mut temp);
            for p in 0..POINTS {
                // dU_p [cin, cout] += V_pᵀ [cin, tiles] · Z_p [tiles, cout]
                matmul(
                    cin,
                    cout,
                    rows,
                    &mut du[p * cin * cout..][..cin * cout],
                    cout,
                    true,
                    &v[p * rows * cin..][..rows * cin],
                    (1, cin),
                    &z[p * rows * cout..][..rows * cout],
                    (cout, 1),
                    g.gemm_threads(),
                );
            }
        }
    });
}

/// `A dy Aᵀ` of the chunk's tiles `tiles` (each a 2 × 2 block of the output gradient, zero past
/// the edge) from the channels-last gradients `grad` (`[samples, oh · ow, channels_out]`),
/// written to `z` (`[point, tiles.len(), channels_out]`). `temp` holds at least 8 ×
/// channels_out values.
fn transform_grad(
    grad: &[f32],
    g: &Conv2dGeometry,
    tiles: Range<usize>,
    z: &mut [f32],
    temp: &mut [f32],
) {
    let cout = g.channels_out;
    let [oh, ow] = g.output();
    let zeros = vec![0.0f32; cout];
    let rows = tiles.len();
    let e = &mut temp[..8 * cout];
    for (row, tile) in tiles.enumerate() {
        let (sample, ty, tx) = tile_position(tile, self::tiles(g));
        let grad = &grad[sample * oh * ow * cout..][..oh * ow * cout];
        let at = |r: usize, c: usize| -> &[f32] {
            let (y, x) = (2 * ty + r, 2 * tx + c);
            if y >= oh || x >= ow {
                &zeros
            } else {
                &grad[(y * ow + x) * cout..][..cout]
            }
        };
        // dy Aᵀ along each row r: e[r][0] = d0, e[r][1] = d0 + d1, e[r][2] = d0 - d1,
        // e[r][3] = -d1
        for r in 0..2 {
            let (d0, d1) = (at(r, 0), at(r, 1));
            let (e0, rest) = e[r * 4 * cout..][..4 * cout].split_at_mut(cout);
            let (e1, rest) = rest.split_at_mut(cout);
            let (e2, e3) = rest.split_at_mut(cout);
            for c in 0..cout {
                e0[c] = d0[c];
                e1[c] = d0[c] + d1[c];
                e2[c] = d0[c] - d1[c];
                e3[c] = -d1[c];
            }
        }
        // A (dy Aᵀ) along each column j, into the four points (0..4, j)
        for j in 0..4 {
            let (r0, r1) = (&e[j * cout..][..cout], &e[(4 + j) * cout..][..cout]);
            let point = |i: usize| ((i * 4 + j) * rows + row) * cout;
            let [p0, p1, p2, p3] = [0, 1, 2, 3].map(point);
            for c in 0..cout {
                z[p0 + c] = r0[c];
                z[p1 + c] = r0[c] + r1[c];
                z[p2 + c] = r0[c] - r1[c];
                z[p3 + c] = -r1[c];
            }
        }
    }
}

/// [`forward`] with the weight already transformed.
fn run(x: &[f32], u: &[f32], bias: Option<&[f32]>, g: &Conv2dGeometry, relu: bool) -> Vec<f32> {
    assert_eq!(x.len(), g.batch * g.input_len(), "input length");
    assert_eq!(u.len(), POINTS * g.channels_in * g.channels_out);
    let (ohw, cout) = (g.output_len(), g.channels_out);
    let group = group_size(g);
    let start = |row: usize| bias.map_or(0.0, |b| b[row % cout]);
    par_chunks_rows_filled(
        g.batch * cout * ohw,
        group * cout * ohw,
        ohw,
        start,
        |chunk, outs| {
            let first = chunk * group;
            let samples = outs.len() / (cout * ohw);
            let inputs = &x[first * g.input_len()..][..samples * g.input_len()];
            chunk_forward(inputs, u, g, outs);
            if relu {
                relu_in_place(outs);
            }
        },
    )
}

/// The samples of `inputs` (NCHW) added onto `outs` (`[samples, channels_out, oh, ow]`);
/// `u` is the [transformed weight](transform_weight). The chunk's tiles (sample by sample,
/// row-major) go through the products in blocks of [`BLOCK`] tiles.
pub(crate) fn chunk_forward(inputs: &[f32], u: &[f32], g: &Conv2dGeometry, outs: &mut [f32]) {
    assert!(shape_fits(g), "not a Winograd shape: {g:?}");
    let (cin, cout, ohw) = (g.channels_in, g.channels_out, g.output_len());
    let [th, tw] = tiles(g);
    let samples = inputs.len() / g.input_len();
    let n = samples * th * tw;
    let block = BLOCK.min(n);
    // scratch: a block's transformed tiles V [point, tile, channel in] and products M
    // [point, tile, channel out], the samples' outputs channels-last
    let sizes = [
        POINTS * block * cin,
        POINTS * block * cout,
        samples * ohw * cout,
    ];
    with_chunk_scratch(inputs, g, sizes, |input_cl, [v, m, output_cl]| {
        let mut temp = vec![0.0f32; POINTS * cin.max(cout)];
        for first in (0..n).step_by(block) {
            let tiles = first..(first + block).min(n);
            let rows = tiles.len();
            transform_input(input_cl, g, tiles.clone(), v, &mut temp);
            for p in 0..POINTS {
                // M_p [tiles, cout] = V_p [tiles, cin] · U_p [cin, cout]
                matmul(
                    rows,
                    cout,
                    cin,
                    &mut m[p * rows * cout..][..rows * cout],
                    cout,
                    false,
                    &v[p * rows * cin..][..rows * cin],
                    (cin, 1),
                    &u[p * cin * cout..][..cin * cout],
                    (cout, 1),
                    g.gemm_threads(),
                );
            }
            transform_output(&m[..POINTS * rows * cout], g, tiles, output_cl, &mut temp);
        }
        for (part, outs) in output_cl
            .chunks_exact(ohw * cout)
            .zip(outs.chunks_exact_mut(cout * ohw))
        {
            transpose_add(part, ohw, cout, outs, ohw);
        }
    });
}

/// Runs `f` with the chunk's samples `inputs` (NCHW) copied channels-last (`[samples, h, w,
/// channels_in]`) and three more buffers of `sizes` values, all in this thread's scratch
/// (taken and put back, so a nested call allocates its own).
fn with_chunk_scratch<R>(
    inputs: &[f32],
    g: &Conv2dGeometry,
    sizes: [usize; 3],
    f: impl FnOnce(&[f32], [&mut [f32]; 3]) -> R,
) -> R {
    let mut scratch = SCRATCH.take();
    let total = inputs.len() + sizes.iter().sum::<usize>();
    if scratch.len() < total {
        scratch = vec![0.0; total];
    }
    let (input_cl, rest) = scratch.split_at_mut(inputs.len());
    let hw = g.input[0] * g.input[1];
    for (xs, sample) in inputs
        .chunks_exact(g.input_len())
        .zip(input_cl.chunks_exact_mut(g.input_len()))
    {
        transpose(xs, g.channels_in, hw, sample);
    }
    let (a, rest) = rest.split_at_mut(sizes[0]);
    let (b, rest) = rest.split_at_mut(sizes[1]);
    let result = f(input_cl, [a, b, &mut rest[..sizes[2]]]);
    SCRATCH.set(scratch);
    result
}

/// (sample, tile row, tile column) of tile `tile` of a chunk.
fn tile_position(tile: usize, [th, tw]: [usize; 2]) -> (usize, usize, usize) {
    (tile / (th * tw), tile % (th * tw) / tw, tile % tw)
}

/// `Bᵀ d B` of the chunk's tiles `tiles` from the channels-last samples `input`
/// (`[samples, h, w, channels_in]`), written to `v` (`[point, tiles.len(), channels_in]`);
/// input outside a sample is zero. `temp` holds at least 16 × channels_in values.
fn transform_input(
    input: &[f32],
    g: &Conv2dGeometry,
    tiles: Range<usize>,
    v: &mut [f32],
    temp: &mut [f32],
) {
    let cin = g.channels_in;
    let [h, w] = g.input;
    let (top, left) = (g.padding[0].0 as isize, g.padding[1].0 as isize);
    let zeros = vec![0.0f32; cin];
    let rows = tiles.len();
    let t = &mut temp[..POINTS * cin];
    for (row, tile) in tiles.enumerate() {
        let (s, ty, tx) = tile_position(tile, self::tiles(g));
        let sample = &input[s * g.input_len()..][..g.input_len()];
        let at = |i: usize, j: usize| -> &[f32] {
            let y = 2 * ty as isize + i as isize - top;
            let x = 2 * tx as isize + j as isize - left;
            if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
                &zeros
            } else {
                &sample[(y as usize * w + x as usize) * cin..][..cin]
            }
        };
        // d B along each row i: t[i][0] = d0 - d2, t[i][1] = d1 + d2, t[i][2] = d2 - d1,
        // t[i][3] = d1 - d3
        for i in 0..4 {
            let (d0, d1, d2, d3) = (at(i, 0), at(i, 1), at(i, 2), at(i, 3));
            let (t0, rest) = t[i * 4 * cin..][..4 * cin].split_at_mut(cin);
            let (t1, rest) = rest.split_at_mut(cin);
            let (t2, t3) = rest.split_at_mut(cin);
            for c in 0..cin {
                t0[c] = d0[c] - d2[c];
                t1[c] = d1[c] + d2[c];
                t2[c] = d2[c] - d1[c];
                t3[c] = d1[c] - d3[c];
            }
        }
        // Bᵀ (d B) along each column j, into the four points (0..4, j)
        for j in 0..4 {
            let line = |i: usize| &t[(i * 4 + j) * cin..][..cin];
            let (r0, r1, r2, r3) = (line(0), line(1), line(2), line(3));
            let point = |i: usize| ((i * 4 + j) * rows + row) * cin;
            let [p0, p1, p2, p3] = [0, 1, 2, 3].map(point);
            for c in 0..cin {
                v[p0 + c] = r0[c] - r2[c];
                v[p1 + c] = r1[c] + r2[c];
                v[p2 + c] = r2[c] - r1[c];
                v[p3 + c] = r1[c] - r3[c];
            }
        }
    }
}

/// `Aᵀ m A` of the chunk's tiles `tiles` from their products `m` (`[point, tiles.len(),
/// channels_out]`), written channels-last to `out` (`[samples, oh · ow, channels_out]`); a
/// tile's outputs past the edge (odd sizes) are dropped. `temp` holds at least 8 ×
/// channels_out values.
fn transform_output(
    m: &[f32],
    g: &Conv2dGeometry,
    tiles: Range<usize>,
    out: &mut [f32],
    temp: &mut [f32],
) {
    let cout = g.channels_out;
    let [oh, ow] = g.output();
    let rows = tiles.len();
    let s = &mut temp[..8 * cout];
    for (row, tile) in tiles.enumerate() {
        let (sample, ty, tx) = tile_position(tile, self::tiles(g));
        let out = &mut out[sample * oh * ow * cout..][..oh * ow * cout];
        let point = |p: usize| &m[(p * rows + row) * cout..][..cout];
        // Aᵀ m along each column b: s[0][b] = m0 + m1 + m2, s[1][b] = m1 - m2 - m3
        for b in 0..4 {
            let (m0, m1, m2, m3) = (point(b), point(4 + b), point(8 + b), point(12 + b));
            let (s0, s1) = s[b * 2 * cout..][..2 * cout].split_at_mut(cout);
            for c in 0..cout {
                s0[c] = m0[c] + m1[c] + m2[c];
                s1[c] = m1[c] - m2[c] - m3[c];
            }
        }
        // (Aᵀ m) A along each row r: y[r][0] = s0 + s1 + s2, y[r][1] = s1 - s2 - s3
        for r in 0..2 {
            let y = 2 * ty + r;
            if y >= oh {
                break;
            }
            let col = |b: usize| &s[(b * 2 + r) * cout..][..cout];
            let (s0, s1, s2, s3) = (col(0), col(1), col(2), col(3));
            let x = 2 * tx;
            let left = &mut out[(y * ow + x) * cout..][..cout];
            for c in 0..cout {
                left[c] = s0[c] + s1[c] + s2[c];
            }
            if x + 1 < ow {
                let right = &mut out[(y * ow + x + 1) * cout..][..cout];
                for c in 0..cout {
                    right[c] = s1[c] - s2[c] - s3[c];
                }
            }
        }
    }
}
