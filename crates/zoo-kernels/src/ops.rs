//! The trait [`ZooKernels`]: the operations burn-zoo adds to a backend, each Burn's own by
//! default; Burn's backend extension macro routes a `Tensor` to a backend's implementation.
// The macro names burn-ndarray, deprecated upstream; burn-zoo serves it on purpose.
#![allow(deprecated)]

use burn::backend::ops::ConvOptions;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata, backend_extension};

use std::sync::Arc;

use crate::optim::AdamStep;
use crate::pool::Pool2dGeometry;

/// burn-zoo's operations: a 2-D convolution, a dense layer, a max pool and a ReLU's gradient,
/// ours on Flex and NdArray (the convolution as im2col + GEMM both ways, the pool without an
/// index buffer unless autodiff needs one).
///
/// Every operation defaults to Burn's own (`conv2d`, its generic backward, `max_pool2d`); Flex
/// and NdArray override them for `f32` (and one group for the convolution), in `served.rs`.
#[backend_extension(
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Autodiff
)]
pub trait ZooKernels: Backend {
    /// `conv2d` without bias, followed by a ReLU when `relu`, with a backward pass that calls
    /// [`conv2d_x_grad`](Self::conv2d_x_grad) and [`conv2d_weight_grad`](Self::conv2d_weight_grad).
    fn zoo_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
        relu: bool,
    ) -> FloatTensor<Self> {
        let y = Self::conv2d(x, weight, None, options);
        if relu { Self::relu(y) } else { y }
    }

    /// [`zoo_conv2d`](Self::zoo_conv2d) with a bias. (Two operations because the extension
    /// macro of Burn 0.22.1 does not unwrap an `Option` of a float tensor for autodiff.)
    fn zoo_conv2d_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
        relu: bool,
    ) -> FloatTensor<Self> {
        let y = Self::conv2d(x, weight, Some(bias), options);
        if relu { Self::relu(y) } else { y }
    }

    /// A dense layer `x · weight + bias` (`x`: `[rows, inputs]`, `weight`: `[inputs, outputs]`),
    /// followed by a ReLU when `relu`.
    fn zoo_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        linear_by_ops::<Self>(x, weight, bias, relu)
    }

    /// Max pooling in floor mode with symmetric padding (Burn's `max_pool2d` arguments).
    fn zoo_max_pool2d(
        x: FloatTensor<Self>,
        kernel_size: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
    ) -> FloatTensor<Self> {
        Self::max_pool2d(x, kernel_size, stride, padding, dilation, false)
    }

    /// `zoo_max_pool2d(zoo_conv2d_bias(x, weight, bias, options, relu = true), pool)`: on Flex
    /// and NdArray in one pass per sample (the convolution's output pooled while in cache, never
    /// stored whole); elsewhere, and under autodiff, those two operations.
    fn zoo_conv2d_relu_pool(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
        pool: MaxPoolOptions,
    ) -> FloatTensor<Self> {
        conv_relu_pool_by_ops::<Self>(x, weight, bias, options, pool)
    }

    /// Four `[N, C_i, H, W]` tensors (an Inception module's branches) concatenated along the
    /// channels (Burn's `float_cat` on dimension 1). Not through autodiff: callers use it
    /// without one. (Four tensors rather than a `Vec`: the extension macro of Burn 0.22.1 does
    /// not convert a `Vec` of tensors for the backends it routes to.)
    fn zoo_cat_channels4(
        a: FloatTensor<Self>,
        b: FloatTensor<Self>,
        c: FloatTensor<Self>,
        d: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::float_cat(vec![a, b, c, d], 1)
    }

    /// The gradient before a ReLU, from the ReLU's output: zero where the output is not positive,
    /// kept where it is NaN (Burn's `relu_backward`, which NdArray runs as a comparison into a
    /// mask tensor and a masked fill: two passes and an allocation).
    fn zoo_relu_backward(output: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::relu_backward(output, grad)
    }

    /// One Adam or AdamW step of a parameter (no autodiff): the new parameter, first moment
    /// and second moment, from the gradient and the moments before (zeros for the first step).
    /// On Flex and NdArray one parallel pass in place ([`crate::optim::adam`]); elsewhere the
    /// same arithmetic as Burn's operations.
    fn zoo_adam_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        step: AdamStep,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        step.by_ops::<Self>(param, grad, moment_1, moment_2)
    }

    /// The gradient with respect to the convolution's input.
    fn conv2d_x_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_x_backward(x, weight, output_grad, options)
    }

    /// The gradient with respect to the convolution's bias.
    fn conv2d_bias_grad(
        x: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::conv2d_bias_backward(x, bias, output_grad)
    }

    /// The gradient with respect to the convolution's weight.
    fn conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_weight_backward(x, weight, output_grad, options)
    }
}

/// A max pool's options as Burn's `max_pool2d` takes them (floor mode, symmetric padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPoolOptions {
    pub kernel_size: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
}

/// [`ZooKernels::zoo_conv2d_relu_pool`] as its two operations.
pub(crate) fn conv_relu_pool_by_ops<B: ZooKernels>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: FloatTensor<B>,
    options: ConvOptions<2>,
    pool: MaxPoolOptions,
) -> FloatTensor<B> {
    let y = B::zoo_conv2d_bias(x, weight, bias, options, true);
    let MaxPoolOptions {
        kernel_size,
        stride,
        padding,
        dilation,
    } = pool;
    B::zoo_max_pool2d(y, kernel_size, stride, padding, dilation)
}

/// A dense layer (and ReLU) as Burn's own operations: a matrix product, a broadcast bias add.
pub(crate) fn linear_by_ops<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: FloatTensor<B>,
    relu: bool,
) -> FloatTensor<B> {
    let outputs = bias.shape().num_elements();
    let y = B::float_matmul(x, weight);
    let y = B::float_add(y, B::float_reshape(bias, [1, outputs].into()));
    if relu { B::relu(y) } else { y }
}

/// The backend half of the max pool's autodiff step: a forward pass that keeps the position of
/// each maximum, and the backward pass from those positions.
pub trait ArgmaxPool: Backend {
    /// The output and the argmax (per plane) of a pool [`pool_geometry`] accepted.
    fn max_pool2d_argmax(
        x: FloatTensor<Self>,
        g: &Pool2dGeometry,
    ) -> (FloatTensor<Self>, Arc<Vec<u32>>);

    /// The input gradient from the output gradient and the argmax.
    fn max_pool2d_argmax_backward(
        argmax: &[u32],
        output_grad: FloatTensor<Self>,
        g: &Pool2dGeometry,
    ) -> FloatTensor<Self>;
}
