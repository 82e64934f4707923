//! Times a convolution + ReLU followed by a separate max pool against the fused
//! `forward_relu_pool` on the classifiers' conv → pool stages (plain slices, median of the
//! repetitions, three rounds each): `cargo build --release --workspace --examples &&
//! target/release/examples/fused_pool`.
use std::time::Instant;
use zoo_kernels::conv2d::{Conv2dGeometry, forward_relu, forward_relu_pool};
use zoo_kernels::pool::{Pool2dGeometry, max_pool2d};

fn median_ms(reps: usize, f: &mut dyn FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

fn main() {
    // (stage, batch, channels in, channels out, input, kernel, repetitions)
    let stages = [
        ("conv1d-classifier conv1", 32, 7, 16, [1, 500], [1, 3], 200),
        ("conv1d-classifier conv2", 32, 16, 32, [1, 249], [1, 5], 200),
        ("conv1d-classifier conv3", 32, 32, 64, [1, 122], [1, 5], 200),
        ("cifar-inception conv2", 64, 32, 64, [30, 30], [3, 3], 20),
        ("binary-cnn conv2", 16, 16, 32, [126, 126], [5, 5], 5),
    ];
    for (name, batch, cin, cout, input, kernel, reps) in stages {
        let g = Conv2dGeometry::valid(batch, cin, cout, input, kernel);
        let x: Vec<f32> = (0..batch * cin * input[0] * input[1])
            .map(|i| ((i * 7919) % 113) as f32 * 0.01 - 0.5)
            .collect();
        let w: Vec<f32> = (0..cout * cin * kernel[0] * kernel[1])
            .map(|i| ((i * 31) % 17) as f32 * 0.01 - 0.08)
            .collect();
        let b: Vec<f32> = (0..cout).map(|i| i as f32 * 0.01).collect();
        let output = g.output();
        let window = if output[0] == 1 { [1, 2] } else { [2, 2] };
        let pool = Pool2dGeometry {
            planes: cout,
            input: output,
            kernel: window,
            stride: window,
            padding: [0, 0],
            dilation: [1, 1],
        };
        let batch_pool = Pool2dGeometry {
            planes: cout * batch,
            ..pool
        };
        for _ in 0..3 {
            let separate = median_ms(reps, &mut || {
                let y = forward_relu(&x, &w, Some(&b), &g);
                std::hint::black_box(max_pool2d(&y, &batch_pool, false));
            });
            let fused = median_ms(reps, &mut || {
                std::hint::black_box(forward_relu_pool(&x, &w, Some(&b), &g, &pool));
            });
            println!(
                "{name}: separate {separate:.3} ms, fused {fused:.3} ms ({:.2}×)",
                separate / fused
            );
        }
    }
}
