//! `zoo_kernels::max_pool{1,2}d_module` against Burn's own `MaxPool1d`/`MaxPool2d` on Flex and
//! NdArray: the
//! same output and input gradient (on inputs without ties, where the maximum is unique).

use burn::nn::pool::{MaxPool1dConfig, MaxPool2dConfig};
use burn::nn::{PaddingConfig1d, PaddingConfig2d};
use burn::tensor::{Device, Distribution, Tensor};

mod common;

/// The same values up to rounding (a pool picks values; only the gradient sums anything).
fn assert_same<const D: usize>(name: &str, got: Tensor<D>, want: Tensor<D>) {
    common::assert_close(name, got, want, 1e-6);
}

/// Output and input gradient of `forward` on `x`, under a loss that weighs outputs differently.
fn run<const D: usize>(x: &Tensor<D>, forward: impl Fn(Tensor<D>) -> Tensor<D>) -> [Tensor<D>; 2] {
    let x = x.clone().require_grad();
    let y = forward(x.clone());
    let weights = y.ones_like().cumsum(D - 1).sqrt();
    let grads = (y.clone() * weights).sum().backward();
    [y.inner(), x.grad(&grads).unwrap()]
}

#[test]
fn max_pool2d_matches_burn() {
    common::in_pools(|| {
        for (backend, device) in common::devices() {
            max_pool2d_on(&device.autodiff(), &backend);
        }
    });
}

fn max_pool2d_on(device: &Device, backend: &str) {
    for (config, input) in [
        (MaxPool2dConfig::new([2, 2]), [3, 4, 8, 9]),
        // two rows of whole chunks of 8 pairs, and a remainder
        (MaxPool2dConfig::new([2, 2]), [2, 3, 6, 37]),
        (
            MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)),
            [2, 3, 9, 8],
        ),
        (
            MaxPool2dConfig::new([2, 3])
                .with_strides([1, 2])
                .with_dilation([2, 1]),
            [1, 2, 7, 7],
        ),
        // the Inception module's branch pool: stride 1, "same"
        (
            MaxPool2dConfig::new([3, 3])
                .with_strides([1, 1])
                .with_padding(PaddingConfig2d::Same),
            [2, 3, 7, 6],
        ),
        // stride 1 without padding, wide rows: the three-tap pass over every output
        (
            MaxPool2dConfig::new([3, 3]).with_strides([1, 1]),
            [1, 2, 6, 20],
        ),
        // ceil mode: Burn's own pool (the fallback)
        (
            MaxPool2dConfig::new([2, 2]).with_ceil_mode(true),
            [2, 2, 5, 5],
        ),
    ] {
        let pool = config.init();
        let x = Tensor::<4>::random(input, Distribution::Normal(0.0, 1.0), device);
        let before = zoo_kernels::kernel_calls();
        let ours = run(&x, |x| zoo_kernels::max_pool2d_module(&pool, x));
        if !config.ceil_mode {
            // forward and backward (other tests running in parallel may add more)
            assert!(
                zoo_kernels::kernel_calls() - before >= 2,
                "not ours: {config:?} on {backend}"
            );
        }
        let burn = run(&x, |x| pool.forward(x));
        for ((name, a), b) in ["output", "input grad"].iter().zip(ours).zip(burn) {
            assert_same(
                &format!("{name} of {config:?} on {input:?}, {backend}"),
                a,
                b,
            );
        }
        let x = x.inner();
        assert_same(
            &format!("inference, {backend}"),
            zoo_kernels::max_pool2d_module(&pool, x.clone()),
            pool.forward(x),
        );
    }
}

#[test]
fn max_pool1d_matches_burn() {
    common::in_pools(|| {
        for (backend, device) in common::devices() {
            max_pool1d_on(&device.autodiff(), &backend);
        }
    });
}

fn max_pool1d_on(device: &Device, backend: &str) {
    for config in [
        MaxPool1dConfig::new(2),
        MaxPool1dConfig::new(3)
            .with_stride(2)
            .with_padding(PaddingConfig1d::Explicit(1, 1)),
        MaxPool1dConfig::new(2).with_stride(1).with_dilation(2),
    ] {
        let pool = config.init();
        // 13: a remainder only; 37: two chunks of 8 outputs of the pair path and a remainder
        for width in [13, 37] {
            let x = Tensor::<3>::random([3, 5, width], Distribution::Normal(0.0, 1.0), device);
            let before = zoo_kernels::kernel_calls();
            let ours = run(&x, |x| zoo_kernels::max_pool1d_module(&pool, x));
            assert!(
                zoo_kernels::kernel_calls() - before >= 2,
                "not ours: {config:?} on {backend}"
            );
            let burn = run(&x, |x| pool.forward(x));
            for ((name, a), b) in ["output", "input grad"].iter().zip(ours).zip(burn) {
                let name = format!("{name} of {config:?}, width {width}, {backend}");
                assert_same(&name, a, b);
            }
            // without autodiff: the inference path (no argmax)
            let x = x.inner();
            let before = zoo_kernels::kernel_calls();
            let ours = zoo_kernels::max_pool1d_module(&pool, x.clone());
            assert!(
                zoo_kernels::kernel_calls() > before,
                "not ours: {config:?} on {backend}"
            );
            let name = format!("inference output of {config:?}, width {width}, {backend}");
            assert_same(&name, ours, pool.forward(x));
        }
    }
}
