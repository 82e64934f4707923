//! The convolution's forward pass (optionally with its ReLU, or with ReLU and a max pool per
//! sample while the output is in cache): per sample and block of output rows, the weight
//! times the im2col matrix, accumulated onto the bias.

use crate::conv2d::channels_last;
use crate::conv2d::direct;
use crate::conv2d::geometry::{Conv2dGeometry, Layout};
use crate::conv2d::im2col::{block_cols, sample_input};
use crate::conv2d::matmul::matmul;
use crate::conv2d::scratch::{
    BLOCK_OUTPUT, SAMPLE_OUTPUT, block_rows, blocks, with_group_scratch, with_scratch,
};
use crate::conv2d::winograd;
use crate::parallel::{par_chunks_filled, par_chunks_rows_filled};
use crate::pool::{Pool2dGeometry, PoolPlan, pool_planes};
use crate::short::relu_in_place;

/// The convolution itself, `[batch, channels_out, oh, ow]` row-major: per sample and block of
/// output rows, the weight (`[channels_out, patch]`) times the im2col matrix, plus the bias.
pub fn forward(x: &[f32], weight: &[f32], bias: Option<&[f32]>, g: &Conv2dGeometry) -> Vec<f32> {
    forward_chosen(x, weight, bias, g, false)
}

/// [`forward`] followed by a ReLU (as Flex's: NaN stays NaN), applied to each sample's output
/// while it is still in cache rather than as a separate pass over the batch.
pub fn forward_relu(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    g: &Conv2dGeometry,
) -> Vec<f32> {
    forward_chosen(x, weight, bias, g, true)
}

/// How a forward pass computes its convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// Winograd's F(2 × 2, 3 × 3) ([`winograd`]).
    Winograd,
    /// The register-blocked AVX2 kernel ([`direct`]).
    Direct,
    /// im2col and a matrix product, in `g`'s layout.
    Im2col,
}

impl Method {
    /// Winograd where it [`applies`](winograd::applies), else the direct kernel where that
    /// [`applies`](direct::applies), else im2col.
    pub(crate) fn choose(g: &Conv2dGeometry) -> Self {
        if winograd::applies(g) {
            Method::Winograd
        } else if direct::applies(g) {
            Method::Direct
        } else {
            Method::Im2col
        }
    }
}

/// The forward pass by the [`Method`] chosen for `g`.
fn forward_chosen(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    g: &Conv2dGeometry,
    relu: bool,
) -> Vec<f32> {
    match Method::choose(g) {
        Method::Winograd => {
            check_forward_args(x, weight, bias, g);
            winograd::forward(x, weight, bias, g, relu)
        }
        Method::Direct => forward_direct(x, weight, bias, g, relu),
        Method::Im2col => forward_in(x, weight, bias, g, g.layout(), relu),
    }
}

/// [`forward_in`] by the direct kernel ([`direct`]), a sample per task.
pub(crate) fn forward_direct(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    g: &Conv2dGeometry,
    relu: bool,
) -> Vec<f32> {
    check_forward_args(x, weight, bias, g);
    let sample = g.channels_out * g.output_len();
    if sample == 0 {
        return Vec::new();
    }
    let packed = direct::pack_weight(weight, g);
    let start = |row: usize| bias.map_or(0.0, |b| b[row % g.channels_out]);
    par_chunks_rows_filled(
        g.batch * sample,
        sample,
        g.output_len(),
        start,
        |n, outs| direct::sample_forward(x, &packed, g, relu, n, outs),
    )
}

pub(crate) fn forward_in(
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
    let start = |row: usize| bias.map_or(0.0, |b| b[row % cout]);
    let group = group_size(g, layout);
    par_chunks_rows_filled(
        g.batch * cout * ohw,
        group * cout * ohw,
        ohw,
        start,
        |i, outs| {
            if group == 1 {
                sample_forward(x, weight, g, layout, relu, i, outs)
            } else {
                group_forward(x, weight, g, relu, i * group, outs)
            }
        },
    )
}

/// Samples per matrix product in the forward pass. One, unless the layout is channels-last and
/// a sample has fewer output positions than channels (cifar-inception's conv3: 36 positions,
/// 128 channels; conv4: 16 and 256): each sample's product is then thin and packs the whole
/// weight (295 k values in both) again. Grouped, the samples' matrices are stacked into one
/// product of about 256 positions, the weight packed once per group (conv3's forward pass at
/// batch 64: 13.5–19.8 ms a sample at a time, 11.3–12.8 ms in groups of 8 or 16, interleaved
/// runs of `examples/fwd_only`; conv4 the same either way). Groups stay small enough that
/// every thread gets at least two.
pub(crate) fn group_size(g: &Conv2dGeometry, layout: Layout) -> usize {
    const POSITIONS: usize = 256;
    let (ohw, cout) = (g.output_len(), g.channels_out);
    let whole = block_rows(g) >= g.output()[0];
    if layout != Layout::ChannelsLast || ohw == 0 || ohw >= cout || !whole {
        return 1;
    }
    let per_thread = g.batch / (2 * rayon::current_num_threads()).max(1);
    POSITIONS.div_ceil(ohw).min(per_thread).max(1)
}

/// Samples `first..` (as many as `outs`, `[samples, channels_out, oh, ow]` holding the bias or
/// zeros, has room for) as one product `[samples × positions, channels]` of their stacked
/// channels-last matrices and the weight (channels-last order), each sample's part added
/// transposed onto its output, then the ReLU when `relu`.
fn group_forward(
    x: &[f32],
    weight: &[f32],
    g: &Conv2dGeometry,
    relu: bool,
    first: usize,
    outs: &mut [f32],
) {
    let (patch, ohw, cout, oh) = (g.patch(), g.output_len(), g.channels_out, g.output()[0]);
    let samples = outs.len() / (cout * ohw);
    with_group_scratch(g, Layout::ChannelsLast, samples, |cols, buf| {
        // `group_size` groups only samples whose whole output is one im2col block
        let cols = &mut cols[..samples * ohw * patch];
        for (s, cols) in cols.chunks_exact_mut(ohw * patch).enumerate() {
            let xs = &x[(first + s) * g.input_len()..][..g.input_len()];
            let xs = sample_input(xs, g, Layout::ChannelsLast, buf);
            channels_last::im2col(xs, g, 0..oh, cols);
        }
        let mut product = BLOCK_OUTPUT.take();
        product.resize(samples * ohw * cout, 0.0);
        matmul(
            samples * ohw,
            cout,
            patch,
            &mut product,
            cout,
            false,
            cols,
            (patch, 1),
            weight,
            (1, patch),
            g.gemm_threads(),
        );
        for (part, outs) in product
            .chunks_exact(ohw * cout)
            .zip(outs.chunks_exact_mut(cout * ohw))
        {
            channels_last::transpose_add(part, ohw, cout, outs, ohw);
        }
        BLOCK_OUTPUT.set(product);
    });
    if relu {
        relu_in_place(outs);
    }
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
    forward_relu_pool_in(x, weight, bias, g, pool, Method::choose(g))
}

/// [`forward_relu_pool`] by `method` (Winograd a sample at a time).
pub(crate) fn forward_relu_pool_in(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    g: &Conv2dGeometry,
    pool: &Pool2dGeometry,
    method: Method,
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
    let weight = &match method {
        Method::Winograd => winograd::transform_weight(weight, cout, g.channels_in).into(),
        Method::Direct => direct::pack_weight(weight, g).into(),
        Method::Im2col => layout_weight(weight, g, layout),
    };
    if method == Method::Direct && direct::pools_pairs(g, pool) {
        // pooled in the kernel's registers: every value is written by it
        let zeros = vec![0.0; cout];
        let bias = bias.unwrap_or(&zeros);
        return par_chunks_filled(g.batch * pooled, pooled, 0.0, |n, out| {
            direct::sample_forward_pairs(x, weight, bias, g, n, out)
        });
    }
    let plan = PoolPlan::new(pool);
    par_chunks_filled(g.batch * pooled, pooled, f32::NEG_INFINITY, |n, out| {
        let mut conv = SAMPLE_OUTPUT.take();
        conv.clear();
        for co in 0..cout {
            conv.resize((co + 1) * ohw, bias.map_or(0.0, |b| b[co]));
        }
        match method {
            Method::Winograd => {
                let xs = &x[n * g.input_len()..][..g.input_len()];
                winograd::chunk_forward(xs, weight, g, &mut conv);
                relu_in_place(&mut conv);
            }
            Method::Direct => direct::sample_forward(x, weight, g, true, n, &mut conv),
            Method::Im2col => sample_forward(x, weight, g, layout, true, n, &mut conv),
        }
        pool_planes(&conv, &plan, out);
        SAMPLE_OUTPUT.set(conv);
    })
}

/// The lengths a forward pass expects of its input, weight and bias.
pub(crate) fn check_forward_args(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    g: &Conv2dGeometry,
) {
    assert_eq!(x.len(), g.batch * g.input_len(), "input length");
    assert_eq!(weight.len(), g.channels_out * g.patch(), "weight length");
    if let Some(bias) = bias {
        assert_eq!(bias.len(), g.channels_out, "bias length");
    }
}

/// Sample `n`'s convolution accumulated onto `outs` (`[channels_out, oh, ow]`, holding the
/// bias or zeros), then the ReLU when `relu`; `weight` is already in `layout`'s order.
pub(crate) fn sample_forward(
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
                // many positions as channels, gemm runs that orientation faster; with fewer
                // (cifar-inception's conv4: 16 positions, 256 channels) slower. In the planar
                // and pointwise layouts it was slower in the models, so they keep the product
                // as `[channels, positions]` (the book's "Kernel measurements" chapter, "Kernel design measurements").
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
            relu_in_place(outs);
        }
    })
}

/// The weight in the column order of `layout`'s matrix (borrowed unless channels-last).
pub(crate) fn layout_weight<'a>(
    weight: &'a [f32],
    g: &Conv2dGeometry,
    layout: Layout,
) -> std::borrow::Cow<'a, [f32]> {
    match layout {
        Layout::ChannelsLast => channels_last::weight_to_channels_last(weight, g).into(),
        _ => weight.into(),
    }
}
