//! A dense layer's forward pass (`x · weight + bias`, optionally followed by a ReLU) on plain
//! `f32` slices: the bias written first and the product accumulated onto it, the rows split
//! across threads, the ReLU applied in place.
//!
//! Why: Burn's `Linear` on Flex runs a matrix product, a broadcast bias add and a ReLU as three
//! passes; for conv1d-classifier's 3776 → 128 layer at batch 32 that took 0.9 ms against 0.35 ms
//! for the product alone split by rows (gemm's own threading of a 32-row product: ~0.5 ms).

use rayon::prelude::*;

/// `[rows, outputs]` row-major: `x` (`[rows, inputs]`) times `weight` (`[inputs, outputs]`)
/// plus `bias`, then a ReLU when `relu` (NaN stays NaN, as in Flex's).
pub fn forward(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    rows: usize,
    inputs: usize,
    outputs: usize,
    relu: bool,
) -> Vec<f32> {
    assert_eq!(x.len(), rows * inputs, "input length");
    assert_eq!(weight.len(), inputs * outputs, "weight length");
    if let Some(bias) = bias {
        assert_eq!(bias.len(), outputs, "bias length");
    }
    let mut out = vec![0.0f32; rows * outputs];
    if out.is_empty() {
        return out;
    }
    // row blocks: one per thread (each a single-threaded product, no nested threading)
    let per_thread = rows.div_ceil(rayon::current_num_threads()).max(1);
    out.par_chunks_mut(per_thread * outputs)
        .zip(x.par_chunks(per_thread * inputs))
        .for_each(|(out, x)| {
            let block_rows = out.len() / outputs;
            if let Some(bias) = bias {
                for row in out.chunks_exact_mut(outputs) {
                    row.copy_from_slice(bias);
                }
            }
            if inputs > 0 {
                // SAFETY: `out` is block_rows × outputs, `x` block_rows × inputs and `weight`
                // inputs × outputs, all row-major and checked above; `out` aliases neither.
                unsafe {
                    gemm::gemm(
                        block_rows,
                        outputs,
                        inputs,
                        out.as_mut_ptr(),
                        1,
                        outputs as isize,
                        true,
                        x.as_ptr(),
                        1,
                        inputs as isize,
                        weight.as_ptr(),
                        1,
                        outputs as isize,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
            }
            if relu {
                for v in out.iter_mut() {
                    *v = if v.is_nan() || *v > 0.0 { *v } else { 0.0 };
                }
            }
        });
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_the_definition_with_and_without_relu() {
        let (rows, inputs, outputs) = (5, 7, 3);
        let x: Vec<f32> = (0..rows * inputs)
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let w: Vec<f32> = (0..inputs * outputs)
            .map(|i| (i as f32 * 0.11).cos())
            .collect();
        let b = [0.5, -2.0, 0.25];
        for relu in [false, true] {
            let got = super::forward(&x, &w, Some(&b), rows, inputs, outputs, relu);
            for r in 0..rows {
                for o in 0..outputs {
                    let mut want = b[o];
                    for i in 0..inputs {
                        want += x[r * inputs + i] * w[i * outputs + o];
                    }
                    if relu {
                        want = want.max(0.0);
                    }
                    let v = got[r * outputs + o];
                    assert!(
                        (v - want).abs() < 1e-5,
                        "[{r}, {o}] {v} vs {want}, relu {relu}"
                    );
                }
            }
        }
    }
}
