//! What the test files share: the backends our kernels serve, the thread counts every test runs
//! under, and a comparison with a tolerance (the sums run in another order than Burn's, in
//! another again on AVX-512 than on AVX2, and split by the thread count).

use burn::tensor::{Device, Tensor};
use std::sync::OnceLock;

/// The thread counts of [`in_pools`]: one (every loop serial), two (the CI machine), three (a
/// count that divides no batch here) and sixteen (the 16-core machine: more threads than most
/// batches below, so the products run threaded and Winograd and the direct kernel stand aside).
pub const THREADS: [usize; 4] = [1, 2, 3, 16];

/// Runs `test` once inside a rayon pool of each of [`THREADS`]. Why: the kernels choose their
/// path by the pool's size (a sample per thread, or one product threaded when the batch is
/// smaller than the pool) and split their sums by it, so without this the machine's core count
/// would decide which paths a test checks — the 2-core CI machine never what 16 cores run.
pub fn in_pools(test: impl Fn() + Sync) {
    static POOLS: OnceLock<Vec<rayon::ThreadPool>> = OnceLock::new();
    let pools = POOLS.get_or_init(|| {
        THREADS
            .iter()
            .map(|&threads| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap_or_else(|err| panic!("a pool of {threads} threads: {err}"))
            })
            .collect()
    });
    for pool in pools {
        pool.install(&test);
    }
}

/// The plain devices of the backends our kernels serve, named with the current pool's thread
/// count ("flex, 3 threads"; `.autodiff()` for gradients).
pub fn devices() -> [(String, Device); 2] {
    #[allow(deprecated)] // burn-ndarray is deprecated upstream; burn-zoo still offers it
    let ndarray = Device::ndarray();
    let threads = rayon::current_num_threads();
    let name = |backend: &str| format!("{backend}, {threads} threads");
    [(name("flex"), Device::flex()), (name("ndarray"), ndarray)]
}

/// `|got - want| <= tolerance * (1 + |want|)` elementwise, with the shapes equal.
pub fn assert_close<const D: usize>(name: &str, got: Tensor<D>, want: Tensor<D>, tolerance: f32) {
    assert_eq!(got.dims(), want.dims(), "{name}: shape");
    let got = got.into_data().try_to_vec::<f32>().unwrap();
    let want = want.into_data().try_to_vec::<f32>().unwrap();
    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
        assert!(
            (a - b).abs() <= tolerance * (1.0 + b.abs()),
            "{name}[{i}]: {a} vs {b}"
        );
    }
}
