//! `zoo_kernels::adam_step`: the fused pass (`f32`) against its fallback, Burn's operations in
//! the same order (taken for other dtypes: here `f64`), on Flex and NdArray, for Adam with and
//! without an L2 penalty and AdamW with decoupled decay. (The comparison with Burn's own `Adam`
//! optimizer, bit for bit, is the workspace's `tests/backends.rs`.)

use burn::tensor::{DType, Tensor};
use zoo_kernels::AdamStep;

mod common;

#[test]
fn fused_pass_and_burn_operations_agree() {
    common::in_pools(|| {
        for (backend, device) in common::devices() {
            for (decoupled, weight_decay) in [(false, 0.0), (false, 0.05), (true, 0.05)] {
                let values = |seed: usize| -> Vec<f32> {
                    (0..40_000)
                        .map(|i| (((i * 37 + seed * 11) % 29) as f32 / 29.0 - 0.4) * 0.5)
                        .collect()
                };
                let start =
                    Tensor::<1>::from_floats(values(0).as_slice(), &device).reshape([200, 200]);
                let mut fused = (start.clone(), None);
                let mut by_ops = (start.cast(DType::F64), None);
                for time in 1..=3 {
                    let step = match decoupled {
                        false => AdamStep::adam(0.9, 0.999, 1e-8, weight_decay, 0.01, time),
                        true => AdamStep::adamw(0.9, 0.999, 1e-8, weight_decay, 0.01, time),
                    };
                    let grad = Tensor::<1>::from_floats(values(time).as_slice(), &device)
                        .reshape([200, 200]);
                    let (param, moments) =
                        zoo_kernels::adam_step(&step, fused.0, grad.clone(), fused.1);
                    fused = (param, Some(moments));
                    let grad = grad.cast(DType::F64);
                    let (param, moments) = zoo_kernels::adam_step(&step, by_ops.0, grad, by_ops.1);
                    assert_eq!(
                        param.dtype(),
                        DType::F64,
                        "{backend}: the fallback keeps the dtype"
                    );
                    by_ops = (param, Some(moments));
                }
                let name = format!("{backend}, decoupled {decoupled}, weight decay {weight_decay}");
                let [m, v] = fused.1.unwrap();
                let [m_ops, v_ops] = by_ops.1.unwrap();
                common::assert_close(&name, fused.0, by_ops.0.cast(DType::F32), 1e-6);
                common::assert_close(
                    &format!("{name}: moment 1"),
                    m,
                    m_ops.cast(DType::F32),
                    1e-6,
                );
                common::assert_close(
                    &format!("{name}: moment 2"),
                    v,
                    v_ops.cast(DType::F32),
                    1e-6,
                );
            }
        }
    });
}
