//! Times the slice kernels on cifar-inception's convolutions at batch 64 (forward, input
//! gradient, weight gradient): `cargo build --release --workspace --examples &&
//! target/release/examples/cifar_layers [batch] [reps]`.
use std::time::Instant;
use zoo_kernels::conv2d::{Conv2dGeometry, forward, input_grad, weight_grad};

fn main() {
    // `cifar_layers [batch] [reps] [layer name]`
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let only = argv.get(2).cloned();
    let args: Vec<usize> = argv.iter().take(2).map(|a| a.parse().unwrap()).collect();
    let batch = args.first().copied().unwrap_or(64);
    let reps = args.get(1).copied().unwrap_or(5);
    let g = |name, cin, cout, hw: usize, k: usize, stride: usize, pad: usize| {
        (
            name,
            Conv2dGeometry {
                batch,
                channels_in: cin,
                channels_out: cout,
                input: [hw, hw],
                kernel: [k, k],
                stride: [stride, stride],
                padding: [(pad, pad), (pad, pad)],
                dilation: [1, 1],
            },
        )
    };
    let layers = [
        g("conv1", 3, 32, 32, 3, 1, 0),
        g("conv2", 32, 64, 30, 3, 1, 0),
        g("b1x1", 64, 64, 14, 1, 1, 0),
        g("b3.reduce", 64, 96, 14, 1, 1, 0),
        g("b3.conv", 96, 128, 14, 3, 1, 1),
        g("b5.reduce", 64, 16, 14, 1, 1, 0),
        g("b5.conv", 16, 32, 14, 5, 1, 2),
        g("pool.proj", 64, 32, 14, 1, 1, 0),
        g("conv3", 256, 128, 14, 3, 2, 0),
        g("conv4", 128, 256, 6, 3, 1, 0),
    ];
    let median = |f: &mut dyn FnMut()| {
        f();
        let mut t: Vec<f64> = (0..reps)
            .map(|_| {
                let s = Instant::now();
                f();
                s.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        t.sort_by(|a, b| a.partial_cmp(b).unwrap());
        t[reps / 2]
    };
    let (mut tf, mut ti, mut tw) = (0.0, 0.0, 0.0);
    println!(
        "{:<10} {:>9} {:>9} {:>9}  GFLOP/s f/i/w",
        "layer", "fwd ms", "dx ms", "dw ms"
    );
    for (name, geo) in layers {
        if only.as_deref().is_some_and(|only| only != name) {
            continue;
        }
        let [oh, ow] = geo.output();
        let x = vec![0.5f32; batch * geo.channels_in * geo.input[0] * geo.input[1]];
        let w = vec![0.25f32; geo.channels_out * geo.channels_in * geo.kernel[0] * geo.kernel[1]];
        let b = vec![0.1f32; geo.channels_out];
        let dy = vec![0.3f32; batch * geo.channels_out * oh * ow];
        let f = median(&mut || drop(std::hint::black_box(forward(&x, &w, Some(&b), &geo))));
        let i = median(&mut || drop(std::hint::black_box(input_grad(&w, &dy, &geo))));
        let wg = median(&mut || drop(std::hint::black_box(weight_grad(&x, &dy, &geo))));
        let flop = 2.0 * (batch * oh * ow * w.len()) as f64 / 1e6;
        println!(
            "{name:<10} {f:>9.2} {i:>9.2} {wg:>9.2}  {:.0}/{:.0}/{:.0}",
            flop / f,
            flop / i,
            flop / wg
        );
        tf += f;
        ti += i;
        tw += wg;
    }
    println!("{:<10} {tf:>9.2} {ti:>9.2} {tw:>9.2}", "total");
}
