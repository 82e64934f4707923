//! `zoo_kernels::cat_channels` against Burn's `Tensor::cat(…, 1)` on Flex and NdArray: the same
//! values, through our copy for four tensors without autodiff (counted), Burn's otherwise,
//! and under autodiff the same gradients.

use burn::tensor::{Distribution, Tensor};

mod common;

#[test]
fn cat_channels_is_burns_cat_along_channels() {
    common::in_pools(|| {
        for (backend, device) in common::devices() {
            let branch = |c: usize, d: &burn::tensor::Device| {
                Tensor::<4>::random([3, c, 5, 4], Distribution::Default, d)
            };
            let four: Vec<Tensor<4>> = [2, 5, 1, 3].iter().map(|&c| branch(c, &device)).collect();
            let calls = zoo_kernels::kernel_calls();
            let got = zoo_kernels::cat_channels(four.clone());
            assert!(
                zoo_kernels::kernel_calls() > calls,
                "{backend}: our copy ran"
            );
            // exact: a copy, no arithmetic
            common::assert_close(&backend, got, Tensor::cat(four.clone(), 1), 0.0);
            // a strided input (a transposed view) is read in its logical order
            let mut strided = four.clone();
            strided[1] = branch(5, &device).swap_dims(2, 3).swap_dims(2, 3);
            strided[2] =
                Tensor::<4>::random([3, 1, 4, 5], Distribution::Default, &device).swap_dims(2, 3);
            let want = Tensor::cat(strided.clone(), 1);
            common::assert_close(&backend, zoo_kernels::cat_channels(strided), want, 0.0);
            // not four tensors: Burn's
            let two = vec![branch(2, &device), branch(3, &device)];
            let want = Tensor::cat(two.clone(), 1);
            common::assert_close(&backend, zoo_kernels::cat_channels(two), want, 0.0);
            // under autodiff: Burn's cat, whose gradient splits the output's
            let autodiff = device.autodiff();
            let inputs: Vec<Tensor<4>> = four
                .iter()
                .map(|t| Tensor::from_data(t.to_data(), &autodiff).require_grad())
                .collect();
            let weights = Tensor::<4>::random([3, 11, 5, 4], Distribution::Default, &autodiff);
            let loss = (zoo_kernels::cat_channels(inputs.clone()) * weights.clone()).sum();
            let grads = loss.backward();
            let mut at = 0;
            for input in &inputs {
                let c = input.dims()[1];
                let want = weights.clone().narrow(1, at, c).inner();
                let got = input.grad(&grads).expect("a gradient for each input");
                common::assert_close(&backend, got, want, 0.0);
                at += c;
            }
        }
    });
}
