//! One Adam or AdamW step as a single parallel pass over a parameter, its gradient and its two
//! moments, in place.
//!
//! Why: Burn's `Adam` is ~13 tensor operations per parameter, and Flex runs scalar and
//! element-wise operations on one thread, each pass allocating or rewriting the whole tensor.
//! For conv1d-classifier (497,349 parameters, batch 32) that serial pass was most of the 11.7 %
//! of a 2-thread training step during which only one thread worked (the book, "Kernel measurements"): the share
//! that limits the speed-up from more threads. The arithmetic is Burn's, operation for
//! operation (the same IEEE `f32` operations in the same order, no fused multiply-add), so a
//! step gives Burn's values bit for bit and the optimizer state stays Burn's own records.

#[cfg(feature = "kernels")]
use burn::backend::tensor::FloatTensor;
#[cfg(feature = "kernels")]
use burn::backend::{Backend, Scalar};
#[cfg(feature = "kernels")]
use rayon::prelude::*;

#[cfg(feature = "kernels")]
/// Values per parallel chunk (4 streams of 64 KiB read, 3 written).
const CHUNK: usize = 16 * 1024;

/// The constants of one step, computed as Burn 0.22.1 computes them (`f32` from the `f32`
/// betas, the learning rate as `f32`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    beta_1: f32,
    beta_2: f32,
    /// L2 penalty added to the gradient before the moments (Adam's `weight_decay`).
    penalty: Option<f32>,
    update: Update,
    lr: f32,
}

/// How the moments become an update: Burn's `Adam` and `AdamW` write the same mathematics in
/// two orders of operations, kept here so that both stay Burn's to the bit.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Update {
    /// `m · factor / (√v + ε′)` (Burn's `Adam`).
    Adam { factor: f32, epsilon: f32 },
    /// `(m / c₁) / (√(v / c₂) + ε)`, the parameter first scaled by `keep` (Burn's `AdamW`,
    /// decoupled weight decay).
    AdamW {
        correction_1: f32,
        correction_2: f32,
        epsilon: f32,
        keep: Option<f32>,
    },
}

impl AdamStep {
    /// Step `time` (1 for the first) of Adam with an L2 penalty `weight_decay` (0: none).
    pub fn adam(
        beta_1: f32,
        beta_2: f32,
        epsilon: f32,
        weight_decay: f32,
        lr: f64,
        time: usize,
    ) -> Self {
        let time = time as i32;
        let correction_2_sqrt = (1.0 - beta_2.powi(time)).sqrt();
        Self {
            beta_1,
            beta_2,
            penalty: (weight_decay != 0.0).then_some(weight_decay),
            update: Update::Adam {
                factor: correction_2_sqrt / (1.0 - beta_1.powi(time)),
                epsilon: epsilon * correction_2_sqrt,
            },
            lr: lr as f32,
        }
    }

    /// Step `time` (1 for the first) of AdamW with decoupled weight decay `weight_decay`.
    pub fn adamw(
        beta_1: f32,
        beta_2: f32,
        epsilon: f32,
        weight_decay: f32,
        lr: f64,
        time: usize,
    ) -> Self {
        let time = time as i32;
        let decay = lr * weight_decay as f64;
        Self {
            beta_1,
            beta_2,
            penalty: None,
            update: Update::AdamW {
                correction_1: 1.0 - beta_1.powi(time),
                correction_2: 1.0 - beta_2.powi(time),
                epsilon,
                keep: (decay != 0.0).then_some((1.0 - decay) as f32),
            },
            lr: lr as f32,
        }
    }
}

#[cfg(feature = "kernels")]
impl AdamStep {
    /// [`adam`] as Burn's tensor operations, in the same order (the extension's default, for
    /// backends our kernels do not serve).
    pub(crate) fn by_ops<B: Backend>(
        &self,
        param: FloatTensor<B>,
        grad: FloatTensor<B>,
        moment_1: FloatTensor<B>,
        moment_2: FloatTensor<B>,
    ) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
        let scalar = |value: f32| Scalar::from(value);
        let grad = match self.penalty {
            Some(penalty) => {
                B::float_add(B::float_mul_scalar(param.clone(), scalar(penalty)), grad)
            }
            None => grad,
        };
        let moment_1 = B::float_add(
            B::float_mul_scalar(moment_1, scalar(self.beta_1)),
            B::float_mul_scalar(grad.clone(), scalar(1.0 - self.beta_1)),
        );
        let square = B::float_mul(grad.clone(), grad);
        let moment_2 = B::float_add(
            B::float_mul_scalar(moment_2, scalar(self.beta_2)),
            B::float_mul_scalar(square, scalar(1.0 - self.beta_2)),
        );
        let (delta, param) = match self.update {
            Update::Adam { factor, epsilon } => {
                let denominator =
                    B::float_add_scalar(B::float_sqrt(moment_2.clone()), scalar(epsilon));
                let delta = B::float_div(
                    B::float_mul_scalar(moment_1.clone(), scalar(factor)),
                    denominator,
                );
                (delta, param)
            }
            Update::AdamW {
                correction_1,
                correction_2,
                epsilon,
                keep,
            } => {
                let corrected_2 = B::float_div_scalar(moment_2.clone(), scalar(correction_2));
                let denominator = B::float_add_scalar(B::float_sqrt(corrected_2), scalar(epsilon));
                let corrected_1 = B::float_div_scalar(moment_1.clone(), scalar(correction_1));
                let param = match keep {
                    Some(keep) => B::float_mul_scalar(param, scalar(keep)),
                    None => param,
                };
                (B::float_div(corrected_1, denominator), param)
            }
        };
        let param = B::float_sub(param, B::float_mul_scalar(delta, scalar(self.lr)));
        (param, moment_1, moment_2)
    }
}

#[cfg(feature = "kernels")]
/// One step over a whole parameter: `param`, `moment_1` and `moment_2` updated in place from
/// `grad` (all the same length; moments of zeros for the first step), chunks in parallel.
pub fn adam(
    step: &AdamStep,
    param: &mut [f32],
    grad: &[f32],
    moment_1: &mut [f32],
    moment_2: &mut [f32],
) {
    let len = param.len();
    assert!(
        grad.len() == len && moment_1.len() == len && moment_2.len() == len,
        "Adam step: a parameter of {len} values, a gradient of {}, moments of {} and {}",
        grad.len(),
        moment_1.len(),
        moment_2.len()
    );
    let buffers = Buffers {
        param,
        grad,
        moment_1,
        moment_2,
    };
    let lr = step.lr;
    // One loop per variant, so that nothing is decided per value and the loop vectorises.
    match (step.update, step.penalty) {
        (Update::Adam { factor, epsilon }, penalty) => {
            let update = move |p: f32, m: f32, v: f32| p - (m * factor) / (v.sqrt() + epsilon) * lr;
            match penalty {
                Some(penalty) => buffers.each(step, move |p, g| p * penalty + g, update),
                None => buffers.each(step, |_, g| g, update),
            }
        }
        (
            Update::AdamW {
                correction_1,
                correction_2,
                epsilon,
                keep,
            },
            _,
        ) => {
            let delta =
                move |m: f32, v: f32| (m / correction_1) / ((v / correction_2).sqrt() + epsilon);
            match keep {
                Some(keep) => {
                    buffers.each(step, |_, g| g, move |p, m, v| p * keep - delta(m, v) * lr)
                }
                None => buffers.each(step, |_, g| g, move |p, m, v| p - delta(m, v) * lr),
            }
        }
    }
}

/// The four slices of [`adam`].
#[cfg(feature = "kernels")]
struct Buffers<'a> {
    param: &'a mut [f32],
    grad: &'a [f32],
    moment_1: &'a mut [f32],
    moment_2: &'a mut [f32],
}

#[cfg(feature = "kernels")]
impl Buffers<'_> {
    /// The moments' update, then `update(p, m, v)` of each value from its gradient
    /// `gradient(p, g)`, chunks in parallel.
    fn each(
        self,
        step: &AdamStep,
        gradient: impl Fn(f32, f32) -> f32 + Sync,
        update: impl Fn(f32, f32, f32) -> f32 + Sync,
    ) {
        let (beta_1, beta_2) = (step.beta_1, step.beta_2);
        self.param
            .par_chunks_mut(CHUNK)
            .zip(self.grad.par_chunks(CHUNK))
            .zip(self.moment_1.par_chunks_mut(CHUNK))
            .zip(self.moment_2.par_chunks_mut(CHUNK))
            .for_each(|(((p, g), m), v)| {
                let chunk = |p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
                    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
                        let g = gradient(*p, g);
                        *m = *m * beta_1 + g * (1.0 - beta_1);
                        *v = *v * beta_2 + (g * g) * (1.0 - beta_2);
                        *p = update(*p, *m, *v);
                    }
                };
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx") {
                    // SAFETY: the CPU has AVX (checked just above).
                    return unsafe { with_avx(|| chunk(p, g, m, v)) };
                }
                chunk(p, g, m, v)
            });
    }
}

/// `f` compiled with AVX (8 values per instruction; no FMA, so the values stay Burn's).
#[cfg(all(feature = "kernels", target_arch = "x86_64"))]
#[target_feature(enable = "avx")]
#[inline]
unsafe fn with_avx(f: impl FnOnce()) {
    f()
}

#[cfg(all(test, feature = "kernels"))]
mod tests {
    use super::*;

    /// Adam by its textbook formulas in `f64` (PyTorch's documentation).
    fn reference(p: f64, grads: &[f64], lr: f64, wd: f64, decoupled: bool) -> f64 {
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
        let (mut p, mut m, mut v) = (p, 0.0, 0.0);
        for (t, &g) in grads.iter().enumerate() {
            let t = t as i32 + 1;
            if decoupled {
                p *= 1.0 - lr * wd;
            }
            let g = if decoupled { g } else { g + wd * p };
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            let (m_hat, v_hat) = (m / (1.0 - b1.powi(t)), v / (1.0 - b2.powi(t)));
            p -= lr * m_hat / (v_hat.sqrt() + eps);
        }
        p
    }

    #[test]
    fn steps_follow_the_textbook_formulas() {
        let grads = [0.5, -0.25, 2.0, 0.125, -1.0];
        for (decoupled, wd) in [(false, 0.0), (false, 0.1), (true, 0.0), (true, 0.1)] {
            // parameters across several chunks, each with its own scale
            let len = CHUNK * 2 + 37;
            let mut param: Vec<f32> = (0..len).map(|i| (i % 7) as f32 * 0.25 - 0.5).collect();
            let start = param.clone();
            let (mut m, mut v) = (vec![0.0; len], vec![0.0; len]);
            for (t, g) in grads.iter().enumerate() {
                let step = if decoupled {
                    AdamStep::adamw(0.9, 0.999, 1e-8, wd, 0.01, t + 1)
                } else {
                    AdamStep::adam(0.9, 0.999, 1e-8, wd, 0.01, t + 1)
                };
                let grad: Vec<f32> = (0..len).map(|i| (*g * (1 + i % 3) as f64) as f32).collect();
                adam(&step, &mut param, &grad, &mut m, &mut v);
            }
            for i in [0, 1, 2, CHUNK + 5, len - 1] {
                let grads: Vec<f64> = grads.iter().map(|g| g * (1 + i % 3) as f64).collect();
                let want = reference(start[i] as f64, &grads, 0.01, wd as f64, decoupled);
                assert!(
                    (param[i] as f64 - want).abs() < 1e-5,
                    "decoupled {decoupled}, wd {wd}, value {i}: {} against {want}",
                    param[i]
                );
            }
        }
    }

    #[test]
    #[should_panic(expected = "a gradient of 2")]
    fn lengths_must_agree() {
        let step = AdamStep::adam(0.9, 0.999, 1e-8, 0.0, 0.01, 1);
        adam(
            &step,
            &mut [0.0; 3],
            &[0.0; 2],
            &mut [0.0; 3],
            &mut [0.0; 3],
        );
    }
}
