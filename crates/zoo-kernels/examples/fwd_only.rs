//! Times the forward pass alone of one convolution (the slice kernel, without tensor
//! wrapping): `target/release/examples/fwd_only BATCH CIN COUT SIZE KERNEL STRIDE PADDING REPS`,
//! SIZE and KERNEL as `14` or `1x122` (height x width), e.g. `64 256 128 14 3 2 0 40` for
//! cifar-inception's conv3, `32 32 64 1x122 1x5 1 0 200` for conv1d-classifier's conv3.
//! Prints the median and GFLOP/s.
use std::time::Instant;
use zoo_kernels::conv2d::{Conv2dGeometry, forward};

fn main() {
    let args: Vec<[usize; 2]> = std::env::args()
        .skip(1)
        .map(|a| {
            let number = |v: &str| {
                v.parse()
                    .unwrap_or_else(|_| panic!("not a whole number or HxW: {a:?}"))
            };
            match a.split_once('x') {
                Some((h, w)) => [number(h), number(w)],
                None => [number(&a); 2],
            }
        })
        .collect();
    let [
        [batch, _],
        [cin, _],
        [cout, _],
        input,
        kernel,
        [stride, _],
        [pad, _],
        [reps, _],
    ] = args[..]
    else {
        eprintln!("usage: fwd_only BATCH CIN COUT SIZE KERNEL STRIDE PADDING REPS");
        std::process::exit(2);
    };
    let g = Conv2dGeometry {
        batch,
        channels_in: cin,
        channels_out: cout,
        input,
        kernel,
        stride: [stride, stride],
        padding: [(pad, pad), (pad, pad)],
        dilation: [1, 1],
    };
    let x = vec![0.5f32; g.batch * cin * input[0] * input[1]];
    let w = vec![0.25f32; cout * cin * kernel[0] * kernel[1]];
    let b = vec![0.1f32; cout];
    let mut ms: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(forward(&x, &w, Some(&b), &g));
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let median = ms[ms.len() / 2];
    let [oh, ow] = g.output();
    let flop = 2.0 * (g.batch * oh * ow * w.len()) as f64;
    println!("median {median:.2} ms, {:.0} GFLOP/s", flop / 1e6 / median);
}
