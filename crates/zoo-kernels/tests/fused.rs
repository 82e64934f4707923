//! `zoo_kernels::conv{2,1}d_relu_pool_module` against Burn's `pool.forward(relu(conv.forward(x)))`
//! on Flex and NdArray: the fused inference path (plain device) gives the same output, and under autodiff
//! the same output and gradients.

use burn::module::Module;
use burn::nn::conv::{Conv1dConfig, Conv2dConfig};
use burn::nn::pool::{MaxPool1dConfig, MaxPool2dConfig};
use burn::nn::{PaddingConfig1d, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor};

mod common;

fn assert_close<const D: usize>(name: &str, got: Tensor<D>, want: Tensor<D>) {
    common::assert_close(name, got, want, 1e-4);
}

#[test]
fn conv2d_relu_pool_matches_burn_layers() {
    common::in_pools(|| {
        for (backend, device) in common::devices() {
            conv2d_relu_pool_on(&device, &backend);
        }
    });
}

fn conv2d_relu_pool_on(device: &Device, backend: &str) {
    device.seed(11);
    for (conv, pool, input) in [
        // binary-cnn's blocks: valid convolution, 2 × 2 pool (a row left over: 9 → 4)
        (
            Conv2dConfig::new([3, 8], [3, 3]),
            MaxPool2dConfig::new([2, 2]),
            [5, 3, 11, 12],
        ),
        // channels-last im2col (wide channels), "same" padding, the Inception branch's pool
        (
            Conv2dConfig::new([24, 16], [3, 3]).with_padding(PaddingConfig2d::Same),
            MaxPool2dConfig::new([3, 3])
                .with_strides([1, 1])
                .with_padding(PaddingConfig2d::Same),
            [4, 24, 7, 6],
        ),
        // strided convolution, dilated pool; batch 1 (the matrix products threaded instead)
        (
            Conv2dConfig::new([2, 5], [3, 2]).with_stride([2, 1]),
            MaxPool2dConfig::new([2, 2])
                .with_strides([1, 2])
                .with_dilation([2, 1]),
            [1, 2, 13, 9],
        ),
    ] {
        let (conv_layer, pool_layer) = (conv.init(device), pool.init());
        let x = Tensor::<4>::random(input, Distribution::Normal(0.0, 1.0), device);
        let before = zoo_kernels::kernel_calls();
        let fused = zoo_kernels::conv2d_relu_pool_module(&conv_layer, &pool_layer, x.clone());
        // Tests run in parallel threads: other tests' calls may add to the count.
        assert!(
            zoo_kernels::kernel_calls() > before,
            "not ours: {conv:?} on {backend}"
        );
        let burn = pool_layer.forward(relu(conv_layer.forward(x)));
        assert_close(&format!("{conv:?} then {pool:?}, {backend}"), fused, burn);
    }
}

#[test]
fn conv1d_relu_pool_matches_burn_layers() {
    common::in_pools(|| {
        for (backend, device) in common::devices() {
            conv1d_relu_pool_on(&device, &backend);
        }
    });
}

fn conv1d_relu_pool_on(device: &Device, backend: &str) {
    device.seed(12);
    for (conv, pool, length, batch) in [
        // conv1d-classifier's stages: valid, pool 2 (odd length: the last value dropped); at
        // batch 6 and at 17 (a sample per thread in every pool: the direct kernel's pooled path)
        (Conv1dConfig::new(7, 16, 5), MaxPool1dConfig::new(2), 41, 6),
        (Conv1dConfig::new(7, 16, 5), MaxPool1dConfig::new(2), 41, 17),
        (
            Conv1dConfig::new(3, 4, 3).with_padding(PaddingConfig1d::Same),
            MaxPool1dConfig::new(3)
                .with_stride(2)
                .with_padding(PaddingConfig1d::Explicit(1, 1)),
            30,
            6,
        ),
    ] {
        let (conv_layer, pool_layer) = (conv.init(device), pool.init());
        let channels = conv.channels_in;
        let x = Tensor::<3>::random([batch, channels, length], Distribution::Default, device) - 0.5;
        let before = zoo_kernels::kernel_calls();
        let fused = zoo_kernels::conv1d_relu_pool_module(&conv_layer, &pool_layer, x.clone());
        assert!(
            zoo_kernels::kernel_calls() > before,
            "not ours: {conv:?} on {backend}"
        );
        let burn = pool_layer.forward(relu(conv_layer.forward(x)));
        assert_close(&format!("{conv:?} then {pool:?}, {backend}"), fused, burn);
    }
}

#[test]
fn under_autodiff_outputs_and_gradients_are_burn_layers() {
    common::in_pools(|| {
        for (backend, device) in common::devices() {
            under_autodiff_on(&device.autodiff(), &backend);
        }
    });
}

fn under_autodiff_on(device: &Device, backend: &str) {
    device.seed(13);
    let conv = Conv2dConfig::new([3, 6], [3, 3]).init(device);
    let pool = MaxPool2dConfig::new([2, 2]).init();
    let x = Tensor::<4>::random([4, 3, 10, 10], Distribution::Normal(0.0, 1.0), device);
    let run = |forward: &dyn Fn(Tensor<4>) -> Tensor<4>| {
        let x = x.clone().require_grad();
        let y = forward(x.clone());
        let weights = y.ones_like().cumsum(3).sin();
        let grads = (y.clone() * weights).sum().backward();
        let bias = conv.bias.as_ref().unwrap().val().grad(&grads).unwrap();
        [
            y.inner(),
            x.grad(&grads).unwrap(),
            conv.weight.val().grad(&grads).unwrap(),
            bias.reshape([1, 1, 1, -1]),
        ]
    };
    let ours = run(&|x| zoo_kernels::conv2d_relu_pool_module(&conv, &pool, x));
    let burn = run(&|x| pool.forward(relu(conv.forward(x))));
    let names = ["output", "input grad", "weight grad", "bias grad"];
    for ((name, a), b) in names.iter().zip(ours).zip(burn) {
        assert_close(&format!("{name}, {backend}"), a, b);
    }
    // the model's inference copy (`valid()`) takes the fused path on the plain device
    let (conv, x) = (conv.valid(), x.inner());
    assert_close(
        &format!("valid(), {backend}"),
        zoo_kernels::conv2d_relu_pool_module(&conv, &pool, x.clone()),
        pool.forward(relu(conv.forward(x))),
    );
}
