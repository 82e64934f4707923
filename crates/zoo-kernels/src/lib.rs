#![doc = include_str!("../README.md")]

#[cfg(feature = "flex")]
mod flex;
#[cfg(feature = "flex")]
pub mod im2col;

#[cfg(feature = "flex")]
pub use flex::{ZooConv, gradients_computed, serves};

use burn::Tensor;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::ops::ConvOptions;

/// [`burn::tensor::module::conv2d`], with burn-zoo's backward pass on Flex when the `flex`
/// feature is on; on any other device, or without the feature, exactly Burn's `conv2d`.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if serves(&x.device()) {
        return flex::conv2d(x, weight, bias, options);
    }
    burn::tensor::module::conv2d(x, weight, bias, options)
}

/// [`Conv2d::forward`] through [`conv2d`]: the same padding, stride, dilation and groups.
pub fn conv2d_module(conv: &Conv2d, input: Tensor<4>) -> Tensor<4> {
    let [_, _, height, width] = input.dims();
    let padding = match conv.padding {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Same => [
            same_padding(conv.kernel_size[0], conv.stride[0], height),
            same_padding(conv.kernel_size[1], conv.stride[1], width),
        ],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
    };
    let options = ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups);
    conv2d(
        input,
        conv.weight.val(),
        conv.bias.as_ref().map(|bias| bias.val()),
        options,
    )
}

/// burn-nn 0.22.1's "same" padding (private there), copied so that [`conv2d_module`] pads exactly
/// as `Conv2d::forward` does: the output is `ceil(size / stride)`, the odd pixel at the end.
/// (Like Burn's, it ignores dilation.)
fn same_padding(kernel: usize, stride: usize, size: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = if out > 0 {
        ((out - 1) * stride + kernel).saturating_sub(size)
    } else {
        0
    };
    (total / 2, total - total / 2)
}
