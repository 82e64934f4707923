//! `zoo grad-example`: the homework's Q2 gradients, computed by Burn's autodiff and checked
//! against the hand-derived values.

use burn::tensor::{Device, Tensor};
use conv_gap::{ConvGap, homework};

/// Largest difference tolerated between Burn's value and the hand-derived one. The example's
/// values are multiples of 1/4 and exact in f32; the tolerance only absorbs GPU reassociation.
pub const TOLERANCE: f32 = 1e-6;

/// One quantity of the example: Burn's value beside the homework's.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// `O`, `G`, `dL/dX`, `dL/dF`.
    pub name: &'static str,
    /// Rows of Burn's values.
    pub burn: Vec<Vec<f32>>,
    /// Rows of the hand-derived values.
    pub expected: Vec<Vec<f32>>,
}

impl Comparison {
    /// Largest absolute difference.
    pub fn max_error(&self) -> f32 {
        self.burn
            .iter()
            .flatten()
            .zip(self.expected.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    }

    /// Within [`TOLERANCE`] everywhere, with the same shape.
    pub fn agrees(&self) -> bool {
        let same_shape = self.burn.len() == self.expected.len()
            && self
                .burn
                .iter()
                .zip(&self.expected)
                .all(|(a, b)| a.len() == b.len());
        same_shape && self.max_error() <= TOLERANCE
    }
}

fn rows(tensor: Tensor<2>) -> Vec<Vec<f32>> {
    let [_, width] = tensor.dims();
    let values = tensor.into_data().try_to_vec::<f32>().unwrap_or_default();
    values.chunks(width).map(<[f32]>::to_vec).collect()
}

fn expected<const N: usize>(matrix: [[f32; N]; N]) -> Vec<Vec<f32>> {
    matrix.iter().map(|row| row.to_vec()).collect()
}

/// Runs X through the model with filter F on `device` (made autodiff here), calls backward on
/// G, and returns O, G, dL/dX and dL/dF beside the homework's values.
pub fn run(device: &Device) -> Vec<Comparison> {
    let device = device.clone().autodiff();
    let model = ConvGap::from_filter(homework::F, &device);
    let x = Tensor::<2>::from_floats(homework::X, &device)
        .reshape([1, 1, 3, 3])
        .require_grad();
    let o = model.feature_map(x.clone()).reshape([2, 2]);
    let g = model.forward(x.clone());
    let grads = g.clone().sum().backward();
    let dl_dx = x.grad(&grads).map(|grad| grad.reshape([3, 3]));
    let dl_df = model
        .conv
        .weight
        .val()
        .grad(&grads)
        .map(|grad| grad.reshape([2, 2]));
    vec![
        Comparison {
            name: "O = X * F",
            burn: rows(o),
            expected: expected(homework::O),
        },
        Comparison {
            name: "G = mean(O)",
            burn: rows(g.reshape([1, 1])),
            expected: vec![vec![homework::G]],
        },
        Comparison {
            name: "dL/dX",
            burn: dl_dx.map(rows).unwrap_or_default(),
            expected: expected(homework::DL_DX),
        },
        Comparison {
            name: "dL/dF",
            burn: dl_df.map(rows).unwrap_or_default(),
            expected: expected(homework::DL_DF),
        },
    ]
}

/// `[[0.5, 0.5, 0], …]`.
pub fn matrix_text(rows: &[Vec<f32>]) -> String {
    if rows.is_empty() {
        return "(no gradient)".into();
    }
    let rows: Vec<String> = rows
        .iter()
        .map(|row| {
            let cells: Vec<String> = row.iter().map(|v| format!("{v}")).collect();
            format!("[{}]", cells.join(", "))
        })
        .collect();
    format!("[{}]", rows.join(", "))
}
