//! The convolution kernels against the definition (direct loops), in every layout.

use super::backward::{bias_grad, input_grad_in, weight_grad_in};
use super::forward::{forward_in, group_size};
use super::geometry::{Conv2dGeometry, Layout};
use super::im2col::{merge_columns, split_column, split_columns};
use super::scratch::block_rows;

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
                                let xi =
                                    ((n * g.channels_in + ci) * h + iy as usize) * wd + ix as usize;
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
    Conv2dGeometry::valid(batch, cin, cout, input, kernel)
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
    // channels-last with few positions and many samples: the forward pass in groups of
    // samples stacked into one product (`group_size`), the last group shorter; on two
    // threads, so that the groups form whatever this machine's core count
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a 2-thread pool")
        .install(|| {
            for (batch, group) in [(11, 2), (37, 9)] {
                let g = Conv2dGeometry {
                    stride: [2, 2],
                    padding: [(1, 0), (0, 1)],
                    ..geometry(batch, 6, 20, [5, 5], [3, 3])
                };
                assert_eq!((g.output(), g.layout()), ([2, 2], Layout::ChannelsLast));
                assert_eq!(group_size(&g, Layout::ChannelsLast), group);
                check(g);
            }
        });
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

/// The direct kernel (`direct.rs`) against the definition: rows that end after 24, 16 or 8
/// positions or a few scalar ones, blocks of 4, 3, 2 or 1 output channels, 1-D (height 1) and
/// 2-D windows, the ReLU with NaN, and the fused pool of pairs (pooled in registers) against
/// the im2col path. Skipped, with a line saying so, on a CPU without AVX2 and FMA (the kernel
/// is never chosen there).
#[test]
fn direct_kernel_matches_the_definition() {
    use super::direct;
    use super::forward::{Method, forward_direct, forward_relu_pool_in};
    use crate::pool::Pool2dGeometry;
    if !direct::has_avx2_fma() {
        eprintln!("skipped: this CPU has no AVX2 + FMA, the direct kernel's instructions");
        return;
    }
    let geometries = [
        geometry(2, 7, 16, [1, 500], [1, 3]),
        geometry(3, 16, 5, [1, 249], [1, 5]),
        geometry(2, 3, 6, [1, 32], [1, 1]),
        geometry(1, 2, 7, [1, 47], [1, 5]),
        geometry(2, 3, 9, [6, 33], [3, 3]),
        geometry(1, 4, 2, [5, 12], [2, 5]),
        geometry(2, 1, 3, [4, 8], [1, 1]),
        geometry(1, 2, 1, [3, 57], [3, 2]),
    ];
    for g in geometries {
        assert!(direct::shape_fits(&g), "{g:?}");
        let mut x = values(g.batch * g.input_len(), 11);
        // two NaN side by side: with 1-wide kernels, a pooled pair whose odd or whose even
        // position alone is NaN
        (x[3], x[4]) = (f32::NAN, f32::NAN);
        let w = values(g.channels_out * g.patch(), 12);
        let bias = values(g.channels_out, 13);
        let want = reference_forward(&x, &w, &bias, &g);
        for relu in [false, true] {
            let got = forward_direct(&x, &w, Some(&bias), &g, relu);
            assert_eq!(got.len(), want.len(), "{g:?}");
            for (i, (&a, &b)) in got.iter().zip(&want).enumerate() {
                let b = if relu && !(b.is_nan() || b > 0.0) {
                    0.0
                } else {
                    b
                };
                let same = (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-4 * (1.0 + b.abs());
                assert!(same, "[{i}]: {a} vs {b} for {g:?}, relu {relu}");
            }
        }
        let [oh, ow] = g.output();
        let pool = Pool2dGeometry {
            planes: g.channels_out,
            input: [oh, ow],
            kernel: [1.min(oh), 2],
            stride: [1, 2],
            padding: [0, 0],
            dilation: [1, 1],
        };
        // pairs along each row, pooled in the kernel's registers (`direct::pools_pairs`), with
        // and without a bias; odd widths drop their last position
        assert!(direct::pools_pairs(&g, &pool), "{g:?}");
        for bias in [Some(bias.as_slice()), None] {
            let fused = forward_relu_pool_in(&x, &w, bias, &g, &pool, Method::Direct);
            let im2col = forward_relu_pool_in(&x, &w, bias, &g, &pool, Method::Im2col);
            assert_eq!(fused.len(), im2col.len());
            assert!(im2col.iter().any(|v| v.is_nan()), "{g:?}");
            for (i, (a, b)) in fused.iter().zip(&im2col).enumerate() {
                let same = (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-4 * (1.0 + b.abs());
                assert!(
                    same,
                    "pooled [{i}]: {a} vs {b} for {g:?}, bias {}",
                    bias.is_some()
                );
            }
        }
    }
    // what it does not compute: padding, strides, dilation, rows shorter than a vector
    let valid = geometry(1, 2, 4, [5, 12], [3, 3]);
    for g in [
        Conv2dGeometry {
            padding: [(1, 1), (1, 1)],
            ..valid
        },
        Conv2dGeometry {
            stride: [1, 2],
            ..valid
        },
        Conv2dGeometry {
            dilation: [2, 1],
            ..valid
        },
        geometry(1, 2, 4, [5, 9], [3, 3]),
    ] {
        assert!(!direct::shape_fits(&g), "{g:?}");
    }
}

/// Winograd's F(2 × 2, 3 × 3) (`winograd.rs`) against the definition: forward (with the bias,
/// with and without the ReLU, NaN kept) and input gradient, on even and odd output sizes (a
/// tile's second row or column dropped), no, "same", full and asymmetric padding, batches
/// that split into several chunks of samples with a shorter last one, and chunks of more
/// tiles than one block of products.
#[test]
fn winograd_matches_the_definition() {
    use super::forward::{Method, forward_relu_pool_in};
    use super::winograd;
    use crate::pool::Pool2dGeometry;
    let padded = |g: Conv2dGeometry, padding: [(usize, usize); 2]| Conv2dGeometry { padding, ..g };
    let geometries = [
        geometry(2, 3, 5, [8, 8], [3, 3]),
        geometry(9, 4, 3, [7, 5], [3, 3]),
        padded(geometry(3, 6, 4, [6, 6], [3, 3]), [(1, 1), (1, 1)]),
        padded(geometry(5, 2, 7, [5, 9], [3, 3]), [(2, 2), (2, 2)]),
        padded(geometry(2, 3, 2, [4, 7], [3, 3]), [(0, 1), (2, 0)]),
        geometry(1, 17, 16, [3, 3], [3, 3]),
        // more tiles than one block of products (256): 400 and 380 tiles a sample
        padded(geometry(1, 4, 4, [40, 40], [3, 3]), [(1, 1), (1, 1)]),
        geometry(2, 3, 5, [41, 39], [3, 3]),
    ];
    for g in geometries {
        assert!(winograd::shape_fits(&g), "{g:?}");
        let [oh, ow] = g.output();
        let mut x = values(g.batch * g.input_len(), 21);
        let w = values(g.channels_out * g.patch(), 22);
        let bias = values(g.channels_out, 23);
        let dy = values(g.batch * g.channels_out * oh * ow, 24);
        let (dw, dx) = reference(&x, &w, &dy, &g);
        let close = |name: &str, got: &[f32], want: &[f32]| {
            assert_eq!(got.len(), want.len(), "{name} length for {g:?}");
            for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
                let same = (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-4 * (1.0 + b.abs());
                assert!(same, "{name} [{i}]: {a} vs {b} for {g:?}");
            }
        };
        close("input gradient", &winograd::input_grad(&w, &dy, &g), &dx);
        close("weight gradient", &winograd::weight_grad(&x, &dy, &g), &dw);
        x[g.input_len() * (g.batch - 1) + 1] = f32::NAN;
        let y = reference_forward(&x, &w, &bias, &g);
        close(
            "output",
            &winograd::forward(&x, &w, Some(&bias), &g, false),
            &y,
        );
        let relu: Vec<f32> = y
            .iter()
            .map(|&v| if v.is_nan() || v > 0.0 { v } else { 0.0 })
            .collect();
        close(
            "output after ReLU",
            &winograd::forward(&x, &w, Some(&bias), &g, true),
            &relu,
        );
        let zero = vec![0.0; g.channels_out];
        let y = reference_forward(&x, &w, &zero, &g);
        close(
            "output without bias",
            &winograd::forward(&x, &w, None, &g, false),
            &y,
        );
        // the fused convolution + ReLU + pool (inference), a sample at a time
        let pool = Pool2dGeometry {
            planes: g.channels_out,
            input: [oh, ow],
            kernel: [2.min(oh), 2.min(ow)],
            stride: [2, 2],
            padding: [0, 0],
            dilation: [1, 1],
        };
        let fused = forward_relu_pool_in(&x, &w, Some(&bias), &g, &pool, Method::Winograd);
        let im2col = forward_relu_pool_in(&x, &w, Some(&bias), &g, &pool, Method::Im2col);
        close("pooled output", &fused, &im2col);
    }
    // what it does not compute: other kernels, strides, dilation, padding past 2
    let valid = geometry(1, 2, 4, [9, 9], [3, 3]);
    for g in [
        geometry(1, 2, 4, [9, 9], [5, 5]),
        Conv2dGeometry {
            stride: [2, 1],
            ..valid
        },
        Conv2dGeometry {
            dilation: [1, 2],
            ..valid
        },
        padded(valid, [(3, 0), (0, 0)]),
    ] {
        assert!(!winograd::shape_fits(&g), "{g:?}");
    }
}
