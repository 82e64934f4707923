//! `zoo_kernels::linear_module` / `linear_relu_module` against Burn's own `Linear` (and ReLU) on
//! Flex and NdArray: the same output and the same gradients for the input, the weight and the bias.

use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor};

mod common;

fn assert_close(name: &str, got: Tensor<2>, want: Tensor<2>) {
    common::assert_close(name, got, want, 1e-4);
}

/// Output and gradients of `forward` on `x`, under a loss that weighs outputs differently.
fn run(linear: &Linear, x: &Tensor<2>, forward: impl Fn(Tensor<2>) -> Tensor<2>) -> Vec<Tensor<2>> {
    let x = x.clone().require_grad();
    let y = forward(x.clone());
    let weights = y.ones_like().cumsum(1).sin();
    let grads = (y.clone() * weights).sum().backward();
    let mut out = vec![
        y.inner(),
        x.grad(&grads).unwrap(),
        linear.weight.val().grad(&grads).unwrap(),
    ];
    if let Some(bias) = &linear.bias {
        out.push(bias.val().grad(&grads).unwrap().unsqueeze());
    }
    out
}

#[test]
fn same_outputs_and_gradients_as_burn_linear() {
    common::in_pools(|| {
        for (backend, device) in common::devices() {
            same_as_burn_linear_on(&device.autodiff(), &backend);
        }
    });
}

fn same_as_burn_linear_on(device: &Device, backend: &str) {
    device.seed(3);
    // rows: fewer than the threads, several per thread, one odd block
    for (rows, bias) in [(1, true), (7, true), (32, true), (5, false)] {
        let linear = LinearConfig::new(37, 11).with_bias(bias).init(device);
        let x = Tensor::<2>::random([rows, 37], Distribution::Normal(0.0, 1.0), device);
        for relu in [false, true] {
            let before = zoo_kernels::kernel_calls();
            let ours = run(&linear, &x, |x| match relu {
                false => zoo_kernels::linear_module(&linear, x),
                true => zoo_kernels::linear_relu_module(&linear, x),
            });
            // Tests run in parallel threads: other tests' calls may add to the count.
            let served = zoo_kernels::kernel_calls() > before;
            assert!(
                served || !bias,
                "not ours: rows {rows}, relu {relu}, {backend}"
            );
            let burn = run(&linear, &x, |x| match relu {
                false => linear.forward(x),
                true => burn::tensor::activation::relu(linear.forward(x)),
            });
            let names = ["output", "input grad", "weight grad", "bias grad"];
            for ((name, a), b) in names.iter().zip(ours).zip(burn) {
                assert_close(
                    &format!("{name}, rows {rows}, bias {bias}, relu {relu}, {backend}"),
                    a,
                    b,
                );
            }
        }
    }
}

#[test]
fn without_autodiff_the_output_matches_burn() {
    common::in_pools(|| {
        for (backend, device) in common::devices() {
            let linear = LinearConfig::new(19, 6).init(&device);
            let x = Tensor::<2>::random([9, 19], Distribution::Normal(0.0, 1.0), &device);
            assert_close(
                &format!("output, {backend}"),
                zoo_kernels::linear_module(&linear, x.clone()),
                linear.forward(x.clone()),
            );
            let burn = burn::tensor::activation::relu(linear.forward(x.clone()));
            assert_close(
                &format!("output after ReLU, {backend}"),
                zoo_kernels::linear_relu_module(&linear, x),
                burn,
            );
        }
    });
}
