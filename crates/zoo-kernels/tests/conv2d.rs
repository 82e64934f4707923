//! `zoo_kernels::conv2d_module` against Burn's own `Conv2d` on Flex and on NdArray: the same
//! output and the same gradients for the input, the weight and the bias.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::{Device, Distribution, Tensor};

mod common;

fn assert_close<const D: usize>(name: &str, got: Tensor<D>, want: Tensor<D>) {
    common::assert_close(name, got, want, 1e-4);
}

/// Output and gradients of `conv` on `x` through `forward`, with an arbitrary loss (a weighted sum).
fn run(
    conv: &Conv2d,
    x: Tensor<4>,
    forward: impl Fn(&Conv2d, Tensor<4>) -> Tensor<4>,
) -> Vec<Tensor<4>> {
    let x = x.require_grad();
    let y = forward(conv, x.clone());
    let weights = Tensor::<4>::ones(y.dims(), &y.device()).cumsum(3).sin();
    let grads = (y.clone() * weights).sum().backward();
    let mut out = vec![
        y,
        x.grad(&grads).unwrap(),
        conv.weight.val().grad(&grads).unwrap(),
    ];
    if let Some(bias) = &conv.bias {
        out.push(bias.val().grad(&grads).unwrap().reshape([1, 1, 1, -1]));
    }
    out.into_iter().map(|t| t.inner()).collect()
}

fn check(config: Conv2dConfig, input: [usize; 4]) {
    for (backend, device) in common::devices() {
        check_on(&config, input, &device.autodiff(), &backend);
    }
}

fn check_on(config: &Conv2dConfig, input: [usize; 4], device: &Device, backend: &str) {
    device.seed(7);
    let conv = config.init(device);
    let x = Tensor::<4>::random(input, Distribution::Normal(0.0, 1.0), device);
    // plain, and with the fused ReLU (about half the outputs negative: the mask matters)
    for relu in [false, true] {
        let before = zoo_kernels::kernel_calls();
        let ours = run(&conv, x.clone(), |conv, x| match relu {
            false => zoo_kernels::conv2d_module(conv, x),
            true => zoo_kernels::conv2d_relu_module(conv, x),
        });
        let served = zoo_kernels::kernel_calls() - before;
        let burn = run(&conv, x.clone(), |conv, x| match relu {
            false => conv.forward(x),
            true => burn::tensor::activation::relu(conv.forward(x)),
        });
        // Input and weight gradient by our kernels, unless grouped (Burn's fallback). Tests run
        // in parallel threads, so other tests' calls may add to the count.
        if config.groups == 1 {
            assert!(
                served >= 2,
                "our kernels ran {served} times for {config:?} on {backend}"
            );
        }
        assert_eq!(ours.len(), burn.len());
        for ((name, a), b) in ["output", "input grad", "weight grad", "bias grad"]
            .iter()
            .zip(ours)
            .zip(burn)
        {
            assert_close(
                &format!("{name} of {config:?} on {input:?}, relu {relu}, {backend}"),
                a,
                b,
            );
        }
    }
}

#[test]
fn same_gradients_as_burn_conv2d() {
    common::in_pools(|| {
        check(
            Conv2dConfig::new([3, 8], [3, 3]).with_padding(PaddingConfig2d::Same),
            [4, 3, 10, 9],
        );
        check(Conv2dConfig::new([5, 6], [3, 3]), [2, 5, 8, 8]);
        check(
            Conv2dConfig::new([4, 4], [1, 1]).with_bias(false),
            [3, 4, 6, 6],
        );
        check(
            Conv2dConfig::new([2, 3], [4, 4])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Same),
            [2, 2, 9, 9],
        );
        check(
            Conv2dConfig::new([2, 3], [3, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 0, 2, 1))
                .with_dilation([2, 1]),
            [2, 2, 7, 6],
        );
        // 3 × 3 stride 1, ≥ 16 channels, outputs ≥ 8 × 8, a sample per thread: all three passes
        // by Winograd's F(2 × 2, 3 × 3), odd and even output sizes — at batch 8 in the pools of
        // up to 8 threads, at batch 17 in every pool (16 threads: one sample each, one left over)
        check(
            Conv2dConfig::new([16, 24], [3, 3]).with_padding(PaddingConfig2d::Same),
            [8, 16, 9, 10],
        );
        check(Conv2dConfig::new([16, 16], [3, 3]), [8, 16, 11, 10]);
        check(Conv2dConfig::new([16, 16], [3, 3]), [17, 16, 10, 11]);
        // Grouped: not ours, Burn's backward through the fallback.
        check(
            Conv2dConfig::new([4, 6], [3, 3]).with_groups(2),
            [2, 4, 6, 6],
        );
    });
}

#[test]
fn without_autodiff_our_forward_pass_matches_burn() {
    common::in_pools(|| {
        for (backend, device) in common::devices() {
            let conv = Conv2dConfig::new([3, 4], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(&device);
            let x = Tensor::<4>::random([2, 3, 5, 5], Distribution::Normal(0.0, 1.0), &device);
            let before = zoo_kernels::kernel_calls();
            let ours = zoo_kernels::conv2d_module(&conv, x.clone());
            assert!(
                zoo_kernels::kernel_calls() > before,
                "the forward pass on {backend} was not ours"
            );
            assert_close(&format!("output, {backend}"), ours, conv.forward(x.clone()));
            let ours = zoo_kernels::conv2d_relu_module(&conv, x.clone());
            let burn = burn::tensor::activation::relu(conv.forward(x));
            assert_close(&format!("output after ReLU, {backend}"), ours, burn);
        }
    });
}

#[test]
fn serves_flex_and_ndarray() {
    common::in_pools(|| {
        for (backend, device) in common::devices() {
            assert!(zoo_kernels::serves(&device), "{backend}");
            assert!(
                zoo_kernels::serves(&device.autodiff()),
                "{backend} autodiff"
            );
        }
    });
}

#[test]
fn conv1d_as_a_2d_convolution_has_burns_gradients() {
    common::in_pools(|| {
        for (backend, device) in common::devices() {
            conv1d_on(&device.autodiff(), &backend);
        }
    });
}

fn conv1d_on(device: &Device, backend: &str) {
    use burn::nn::PaddingConfig1d;
    use burn::nn::conv::Conv1dConfig;
    for config in [
        Conv1dConfig::new(7, 5, 4),
        Conv1dConfig::new(3, 4, 3)
            .with_padding(PaddingConfig1d::Same)
            .with_stride(2),
        Conv1dConfig::new(2, 3, 2)
            .with_padding(PaddingConfig1d::Explicit(2, 1))
            .with_dilation(2)
            .with_bias(false),
    ] {
        let conv = config.init(device);
        // batch 17: a sample per thread in every pool (the direct kernel's condition)
        let x = Tensor::<3>::random(
            [17, config.channels_in, 11],
            Distribution::Normal(0.0, 1.0),
            device,
        );
        let run = |ours: bool, relu: bool| {
            let x = x.clone().require_grad();
            let y = match (ours, relu) {
                (true, false) => zoo_kernels::conv1d_module(&conv, x.clone()),
                (true, true) => zoo_kernels::conv1d_relu_module(&conv, x.clone()),
                (false, false) => conv.forward(x.clone()),
                (false, true) => burn::tensor::activation::relu(conv.forward(x.clone())),
            };
            let grads = (y.clone() * y.clone().ones_like().cumsum(2).cos())
                .sum()
                .backward();
            let weight_grad = conv.weight.val().grad(&grads).unwrap();
            [
                y.inner().unsqueeze::<4>(),
                x.grad(&grads).unwrap().unsqueeze(),
                weight_grad.unsqueeze(),
            ]
        };
        for relu in [false, true] {
            for (name, (a, b)) in ["output", "input grad", "weight grad"]
                .iter()
                .zip(run(true, relu).into_iter().zip(run(false, relu)))
            {
                let name = format!("{name} of {config:?}, relu {relu}, {backend}");
                assert_close(&name, a, b);
            }
        }
    }
}
