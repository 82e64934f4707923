//! A dense layer's forward pass (`x · weight + bias`, optionally followed by a ReLU) on plain
//! `f32` slices: the bias written first and the product accumulated onto it, the output columns
//! split across threads, the ReLU applied in place.
//!
//! Why: Burn's `Linear` on Flex runs a matrix product, a broadcast bias add and a ReLU as three
//! passes over the output, and gemm's own threading of a product with few rows (a batch) is
//! poor; the layer took over twice the product's time (the book's "Kernel measurements", "Kernel design
//! measurements").

use rayon::prelude::*;

use crate::short::relu_in_place;

/// `[rows, outputs]` row-major: `x` (`[rows, inputs]`) times `weight` (`[inputs, outputs]`)
/// plus `bias`, then a ReLU when `relu` (NaN stays NaN, as in Flex's).
///
/// The work is split across threads by output columns, so that each thread reads only its
/// share of the weight (megabytes for conv1d-classifier's dense layer, read from memory on
/// every pass): split by rows, every thread read all of it, about twice as slow in the model.
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
    if rows * outputs == 0 {
        return vec![0.0; rows * outputs];
    }
    let threads = rayon::current_num_threads().max(1);
    let width = outputs.div_ceil(threads).max(1);
    // each block: `[rows, cols.len()]`, the bias first, then the product accumulated onto it
    let blocks: Vec<(usize, Vec<f32>)> = (0..outputs.div_ceil(width))
        .into_par_iter()
        .map(|block| {
            let first = block * width;
            let cols = first..(first + width).min(outputs);
            let n = cols.len();
            let mut block = vec![0.0f32; rows * n];
            if let Some(bias) = bias {
                for row in block.chunks_exact_mut(n) {
                    row.copy_from_slice(&bias[cols.clone()]);
                }
            }
            if inputs > 0 {
                // SAFETY: `block` is rows × n (row stride n), `x` rows × inputs (row stride
                // inputs), and the weight's columns `cols` of inputs rows (row stride outputs)
                // end within `weight`: all checked above; `block` aliases neither.
                unsafe {
                    gemm::gemm(
                        rows,
                        n,
                        inputs,
                        block.as_mut_ptr(),
                        1,
                        n as isize,
                        true,
                        x.as_ptr(),
                        1,
                        inputs as isize,
                        weight[first..].as_ptr(),
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
                relu_in_place(&mut block);
            }
            (first, block)
        })
        .collect();
    let mut out = vec![0.0f32; rows * outputs];
    for (first, block) in blocks {
        let n = block.len() / rows;
        for (dst, src) in out.chunks_exact_mut(outputs).zip(block.chunks_exact(n)) {
            dst[first..first + n].copy_from_slice(src);
        }
    }
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
