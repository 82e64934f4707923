use std::time::Instant;
fn main() {
    // conv3 forward per sample: out (M x N) = W (M x K) * cols (K x N)
    for (m, n, k) in [
        (128usize, 36usize, 2304usize),
        (256, 16, 1152),
        (128, 196, 864),
        (64, 784, 288),
        (128, 144, 2304),
        (128, 288, 2304),
    ] {
        let w = vec![0.5f32; m * k];
        let cols = vec![0.5f32; k * n];
        let mut out = vec![0.0f32; m * n];
        let reps = (4e9 / (2.0 * (m * n * k) as f64)).max(3.0) as usize;
        let mut time = |transposed: bool| {
            let s = Instant::now();
            for _ in 0..reps {
                unsafe {
                    if !transposed {
                        gemm::gemm(
                            m,
                            n,
                            k,
                            out.as_mut_ptr(),
                            1,
                            n as isize,
                            true,
                            w.as_ptr(),
                            1,
                            k as isize,
                            cols.as_ptr(),
                            1,
                            n as isize,
                            1.0,
                            1.0,
                            false,
                            false,
                            false,
                            gemm::Parallelism::None,
                        );
                    } else {
                        // out^T (N x M) = cols^T (N x K) * W^T (K x M)
                        gemm::gemm(
                            n,
                            m,
                            k,
                            out.as_mut_ptr(),
                            n as isize,
                            1,
                            true,
                            cols.as_ptr(),
                            n as isize,
                            1,
                            w.as_ptr(),
                            k as isize,
                            1,
                            1.0,
                            1.0,
                            false,
                            false,
                            false,
                            gemm::Parallelism::None,
                        );
                    }
                }
            }
            2.0 * (m * n * k) as f64 * reps as f64 / s.elapsed().as_secs_f64() / 1e9
        };
        let (a, b, c, d) = (time(false), time(true), time(false), time(true));
        println!("{m}x{n}x{k}: normal {a:.0} {c:.0}  transposed {b:.0} {d:.0} GFLOP/s");
    }
}
