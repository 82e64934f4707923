//! `zoo_kernels::dropout_module` on Flex and NdArray: while training, each value dropped or
//! scaled by `1 / (1 - p)`, about `1 - p` of them kept, the gradient the same mask, and the masks
//! decided by the device's seed; without autodiff, the identity (as Burn's `Dropout`).

use burn::nn::DropoutConfig;
use burn::tensor::{Distribution, Tensor, TensorData};

mod common;

#[test]
fn training_masks_scale_what_they_keep_and_the_gradient_is_the_mask() {
    common::in_pools(|| {
        for (backend, device) in common::devices() {
            let device = device.autodiff();
            for prob in [0.2, 0.5] {
                let dropout = DropoutConfig::new(prob).init();
                let x = Tensor::<4>::ones([4, 3, 50, 70], &device).require_grad();
                let before = zoo_kernels::kernel_calls();
                let y = zoo_kernels::dropout_module(&dropout, x.clone());
                // tests run in parallel threads: other tests' calls may add to the count
                assert!(
                    zoo_kernels::kernel_calls() > before,
                    "not ours on {backend}"
                );
                let grads = y.clone().sum().backward();
                let (y, dx) = (y.inner(), x.grad(&grads).unwrap());
                let values = y.clone().into_data().try_to_vec::<f32>().unwrap();
                let scale = (1.0 / (1.0 - prob)) as f32;
                assert!(
                    values.iter().all(|&v| v == 0.0 || (v - scale).abs() < 1e-6),
                    "{backend}, p {prob}: values other than 0 and {scale}"
                );
                let kept =
                    values.iter().filter(|&&v| v != 0.0).count() as f64 / values.len() as f64;
                // 42,000 draws: the standard deviation of the share is below 0.0025
                assert!(
                    (kept - (1.0 - prob)).abs() < 0.015,
                    "{backend}, p {prob}: kept {kept}"
                );
                // x is all ones, so the output is the mask, and so is the gradient
                common::assert_close(&format!("gradient, {backend}, p {prob}"), dx, y, 0.0);
            }
        }
        the_device_seed_decides_the_mask();
    });
}

/// Called from the test above: the tests of this file run in parallel threads, and a test that
/// draws from the device's generator between `seed` and the mask would change the mask.
fn the_device_seed_decides_the_mask() {
    for (backend, device) in common::devices() {
        let device = device.autodiff();
        let dropout = DropoutConfig::new(0.5).init();
        let x = Tensor::<2>::random([64, 300], Distribution::Normal(0.0, 1.0), &device);
        let mask = |seed: u64| {
            device.seed(seed);
            let y = zoo_kernels::dropout_module(&dropout, x.clone());
            y.inner().into_data().try_to_vec::<f32>().unwrap()
        };
        assert_eq!(mask(3), mask(3), "{backend}: same seed, same mask");
        assert_ne!(mask(3), mask(4), "{backend}: another seed, another mask");
    }
}

#[test]
fn without_autodiff_it_is_the_identity() {
    common::in_pools(|| {
        for (backend, device) in common::devices() {
            let dropout = DropoutConfig::new(0.5).init();
            // not random: this test must not draw from the generator the other test seeds
            let values: Vec<f32> = (0..70).map(|i| i as f32 * 0.5).collect();
            let x = Tensor::<3>::from_data(TensorData::new(values, [2, 5, 7]), &device);
            let y = zoo_kernels::dropout_module(&dropout, x.clone());
            common::assert_close(&format!("identity, {backend}"), y, x, 0.0);
        }
    });
}

#[test]
fn the_mask_does_not_depend_on_the_thread_count() {
    // three whole chunks of one random stream each and a part: every pool splits them its way
    let len = 3 * (1 << 15) + 1001;
    let masks = std::sync::Mutex::new(Vec::new());
    common::in_pools(|| {
        let mask = zoo_kernels::dropout::mask(len, 0.3, 42);
        masks.lock().unwrap().push(mask);
    });
    let masks = masks.into_inner().unwrap();
    assert_eq!(masks.len(), common::THREADS.len());
    for (threads, mask) in common::THREADS.iter().zip(&masks) {
        assert!(mask == &masks[0], "{threads} threads: another mask");
    }
}
