//! The convolution's three gradients as im2col and matrix products: the weight gradient as one
//! product per sample accumulated per thread, the input gradient as one product per sample and
//! a col2im, the bias gradient as per-channel sums.

use rayon::prelude::*;

use crate::conv2d::channels_last;
use crate::conv2d::forward::layout_weight;
use crate::conv2d::geometry::{Conv2dGeometry, Layout};
use crate::conv2d::im2col::{block_cols, col2im_add, merge_columns, sample_input};
use crate::conv2d::matmul::matmul;
use crate::conv2d::scratch::{blocks, with_scratch};
use crate::conv2d::winograd;
use crate::parallel::{par_chunks_filled, sum_in_order};
use crate::short::sum;

/// Gradient of the loss with respect to the weight, `[channels_out, channels_in, kh, kw]`
/// row-major, from the input `x` (`[batch, channels_in, h, w]`) and the output gradient `dy`
/// (`[batch, channels_out, oh, ow]`): by Winograd where it [`applies`](winograd::applies), else
/// im2col, each thread accumulating its samples' products.
pub fn weight_grad(x: &[f32], dy: &[f32], g: &Conv2dGeometry) -> Vec<f32> {
    if winograd::applies(g) {
        return winograd::weight_grad(x, dy, g);
    }
    weight_grad_in(x, dy, g, g.layout())
}

pub(crate) fn weight_grad_in(
    x: &[f32],
    dy: &[f32],
    g: &Conv2dGeometry,
    layout: Layout,
) -> Vec<f32> {
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
    let total = sum_in_order(partial, cout * patch);
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

/// Gradient of the loss with respect to the input, `[batch, channels_in, h, w]` row-major, from
/// the weight (`[channels_out, channels_in, kh, kw]`) and the output gradient `dy`: by
/// Winograd where it [`applies`](winograd::applies), else im2col.
pub fn input_grad(weight: &[f32], dy: &[f32], g: &Conv2dGeometry) -> Vec<f32> {
    if winograd::applies(g) {
        return winograd::input_grad(weight, dy, g);
    }
    input_grad_in(weight, dy, g, g.layout())
}

pub(crate) fn input_grad_in(
    weight: &[f32],
    dy: &[f32],
    g: &Conv2dGeometry,
    layout: Layout,
) -> Vec<f32> {
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
