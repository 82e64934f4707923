#![doc = include_str!("../README.md")]

#[cfg(feature = "kernels")]
pub mod conv2d;
#[cfg(feature = "kernels")]
pub mod dense;
#[cfg(feature = "kernels")]
pub mod dropout;
#[cfg(feature = "kernels")]
mod extension;
#[cfg(feature = "kernels")]
mod ops;
pub mod optim;
#[cfg(feature = "kernels")]
mod parallel;
#[cfg(feature = "kernels")]
pub mod pool;
#[cfg(feature = "kernels")]
mod served;
#[cfg(feature = "kernels")]
mod short;
#[cfg(feature = "kernels")]
mod switches;

#[cfg(feature = "kernels")]
pub use extension::{serves, serves_adam};
#[cfg(feature = "kernels")]
pub use ops::{ArgmaxPool, MaxPoolOptions, ZooKernels};
pub use optim::AdamStep;

/// How many times our kernels have run in this process (a convolution's input or weight
/// gradient, a pool's forward or backward pass, a dropout mask, …): lets tests prove that a
/// model's layers take this path rather than Burn's.
#[cfg(feature = "kernels")]
pub fn kernel_calls() -> usize {
    KERNEL_CALLS.load(Ordering::Relaxed)
}

#[cfg(feature = "kernels")]
static KERNEL_CALLS: AtomicUsize = AtomicUsize::new(0);

#[cfg(feature = "kernels")]
fn count_call() {
    KERNEL_CALLS.fetch_add(1, Ordering::Relaxed);
}

/// The GEMM micro-kernels `gemm` runs on this CPU, by gemm-common 0.19's own test
/// (`init_gemm_fn`): `"avx512f"` where the CPU has AVX-512F (this crate builds gemm with its
/// `x86-v4` feature), `"fma"` (the AVX2 + FMA kernels) where it has FMA, else `"scalar"`;
/// `"neon"` on aarch64. Benchmarks print it beside the CPU model: the kernels set the speed.
pub fn gemm_kernels() -> &'static str {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        if cfg!(feature = "kernels") && std::arch::is_x86_feature_detected!("avx512f") {
            return "avx512f";
        }
        if std::arch::is_x86_feature_detected!("fma") {
            return "fma";
        }
    }
    #[cfg(target_arch = "aarch64")]
    if std::arch::is_aarch64_feature_detected!("neon") {
        return "neon";
    }
    "scalar"
}

/// Whether the direct AVX2 convolution (conv1d-classifier's layers) runs on `device`: where
/// our kernels [`serves`] it and the CPU has AVX2 + FMA, unless `ZOO_DIRECT=off`; the shapes
/// it computes aside. Benchmarks print it beside [`gemm_kernels`]: it moved
/// conv1d-classifier's inference 1.6× on AMD Zen 3 and 1.26× on an Intel Xeon with AVX-512.
pub fn direct_conv(device: &burn::tensor::Device) -> bool {
    #[cfg(feature = "kernels")]
    return serves(device) && conv2d::direct_enabled();
    #[cfg(not(feature = "kernels"))]
    {
        let _ = device;
        false
    }
}

/// Threads the CPU backends compute on: rayon's global pool, which Flex, NdArray and these
/// kernels share (`RAYON_NUM_THREADS` sets it; default: one per logical CPU).
pub fn threads() -> usize {
    #[cfg(feature = "kernels")]
    return rayon::current_num_threads();
    #[cfg(not(feature = "kernels"))]
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

use burn::Tensor;
use burn::nn::PaddingConfig1d;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv1d, Conv2d};
use burn::nn::pool::{MaxPool1d, MaxPool2d};
use burn::nn::{Dropout, Linear};
use burn::tensor::ops::ConvOptions;
#[cfg(feature = "kernels")]
use std::sync::atomic::{AtomicUsize, Ordering};

/// [`burn::tensor::module::conv2d`], by burn-zoo's kernels (forward and backward) on Flex and
/// NdArray when the `flex`/`ndarray` feature is on; on any other device, or without the
/// feature, exactly Burn's.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    conv2d_then(x, weight, bias, options, false)
}

/// [`conv2d`] followed by a ReLU, fused on Flex and NdArray: the ReLU runs on each sample's
/// output while it is in cache, and the backward pass masks the gradient before the
/// convolution's (no separate ReLU pass or tensor); elsewhere `relu(conv2d(…))`.
pub fn conv2d_relu(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    conv2d_then(x, weight, bias, options, true)
}

fn conv2d_then(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
    relu: bool,
) -> Tensor<4> {
    #[cfg(feature = "kernels")]
    if serves(&x.device()) {
        return extension::conv2d(x, weight, bias, options, relu);
    }
    let y = burn::tensor::module::conv2d(x, weight, bias, options);
    relu_if(y, relu)
}

/// [`Conv2d::forward`] through [`conv2d`]: the same padding, stride, dilation and groups.
pub fn conv2d_module(conv: &Conv2d, input: Tensor<4>) -> Tensor<4> {
    conv2d_module_then(conv, input, false)
}

/// `relu(conv.forward(input))` through [`conv2d_relu`].
pub fn conv2d_relu_module(conv: &Conv2d, input: Tensor<4>) -> Tensor<4> {
    conv2d_module_then(conv, input, true)
}

fn conv2d_module_then(conv: &Conv2d, input: Tensor<4>, relu: bool) -> Tensor<4> {
    let [_, _, height, width] = input.dims();
    let options = conv2d_options(conv, [height, width]);
    conv2d_then(
        input,
        conv.weight.val(),
        conv.bias.as_ref().map(|bias| bias.val()),
        options,
        relu,
    )
}

/// [`Conv1d::forward`] as a 2-D convolution of height 1 through [`conv2d`], so that it gets the
/// same kernels; on other devices or without the `flex`/`ndarray` feature, Burn's
/// `Conv1d::forward`.
pub fn conv1d_module(conv: &Conv1d, input: Tensor<3>) -> Tensor<3> {
    conv1d_module_then(conv, input, false)
}

/// `relu(conv.forward(input))`, the ReLU fused as in [`conv2d_relu`].
pub fn conv1d_relu_module(conv: &Conv1d, input: Tensor<3>) -> Tensor<3> {
    conv1d_module_then(conv, input, true)
}

fn conv1d_module_then(conv: &Conv1d, input: Tensor<3>, relu: bool) -> Tensor<3> {
    #[cfg(feature = "kernels")]
    if serves(&input.device()) {
        let [_, _, length] = input.dims();
        let options = conv1d_options(conv, length);
        let weight = conv.weight.val().unsqueeze_dim::<4>(2);
        let bias = conv.bias.as_ref().map(|bias| bias.val());
        let x = input.unsqueeze_dim(2);
        return conv2d_then(x, weight, bias, options, relu).squeeze_dim(2);
    }
    let y = conv.forward(input);
    relu_if(y, relu)
}

/// [`Linear::forward`] on `[rows, inputs]`: on Flex and NdArray with a bias, burn-zoo's dense
/// kernel (the bias written first, the product accumulated onto it, rows split across
/// threads); otherwise Burn's.
pub fn linear_module(linear: &Linear, input: Tensor<2>) -> Tensor<2> {
    linear_module_then(linear, input, false)
}

/// `relu(linear.forward(input))`, the ReLU applied in place by the same kernel on Flex and
/// NdArray and the gradient masked inside its backward step.
pub fn linear_relu_module(linear: &Linear, input: Tensor<2>) -> Tensor<2> {
    linear_module_then(linear, input, true)
}

fn linear_module_then(linear: &Linear, input: Tensor<2>, relu: bool) -> Tensor<2> {
    #[cfg(feature = "kernels")]
    if let Some(bias) = &linear.bias
        && serves(&input.device())
    {
        return extension::linear(input, linear.weight.val(), bias.val(), relu);
    }
    let y = linear.forward(input);
    relu_if(y, relu)
}

/// [`MaxPool2d::forward`], by burn-zoo's kernels on Flex and NdArray (floor mode, symmetric
/// padding); otherwise, or without the `flex`/`ndarray` feature, Burn's.
pub fn max_pool2d_module(pool: &MaxPool2d, input: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "kernels")]
    if serves(&input.device()) && !pool.ceil_mode {
        let [_, _, height, width] = input.dims();
        let [(top, bottom), (left, right)] = padding_2d(
            &pool.padding,
            [height, width],
            pool.kernel_size,
            pool.stride,
        );
        if top == bottom && left == right {
            let (k, s, d) = (pool.kernel_size, pool.stride, pool.dilation);
            return extension::max_pool2d(input, k, s, [top, left], d);
        }
    }
    pool.forward(input)
}

/// [`MaxPool1d::forward`] as a 2-D pool of height 1 through [`max_pool2d_module`]'s kernels.
pub fn max_pool1d_module(pool: &MaxPool1d, input: Tensor<3>) -> Tensor<3> {
    #[cfg(feature = "kernels")]
    if serves(&input.device()) && !pool.ceil_mode {
        let [_, _, length] = input.dims();
        let (left, right) = padding_1d(&pool.padding, length, pool.kernel_size, pool.stride);
        if left == right {
            let (k, s, d) = (pool.kernel_size, pool.stride, pool.dilation);
            let x = input.unsqueeze_dim(2);
            return extension::max_pool2d(x, [1, k], [1, s], [0, left], [1, d]).squeeze_dim(2);
        }
    }
    pool.forward(input)
}

/// `pool.forward(relu(conv.forward(input)))`. On Flex and NdArray without autodiff (inference)
/// in one pass per sample: the convolution's output is pooled while in cache and never stored
/// whole, which saves the pool's own pass over memory. Under autodiff it is
/// [`conv2d_relu_module`] then [`max_pool2d_module`] (the same gradients); elsewhere, or for a
/// bias-less convolution, `ceil_mode` or asymmetric pool padding, Burn's layers.
pub fn conv2d_relu_pool_module(conv: &Conv2d, pool: &MaxPool2d, input: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "kernels")]
    if let Some(bias) = &conv.bias
        && serves(&input.device())
        && !pool.ceil_mode
    {
        let [_, _, height, width] = input.dims();
        let options = conv2d_options(conv, [height, width]);
        if let Some(output) = conv_output(&options, [height, width], conv.kernel_size) {
            let (k, s) = (pool.kernel_size, pool.stride);
            let [(top, bottom), (left, right)] = padding_2d(&pool.padding, output, k, s);
            if top == bottom && left == right {
                let pool = MaxPoolOptions {
                    kernel_size: k,
                    stride: s,
                    padding: [top, left],
                    dilation: pool.dilation,
                };
                return extension::conv2d_relu_pool(
                    input,
                    conv.weight.val(),
                    bias.val(),
                    options,
                    pool,
                );
            }
        }
    }
    max_pool2d_module(pool, conv2d_relu_module(conv, input))
}

/// `pool.forward(relu(conv.forward(input)))` for sequences, fused on Flex and NdArray as in
/// [`conv2d_relu_pool_module`] (as a 2-D convolution and pool of height 1).
pub fn conv1d_relu_pool_module(conv: &Conv1d, pool: &MaxPool1d, input: Tensor<3>) -> Tensor<3> {
    #[cfg(feature = "kernels")]
    if let Some(bias) = &conv.bias
        && serves(&input.device())
        && !pool.ceil_mode
    {
        let [_, _, length] = input.dims();
        let options = conv1d_options(conv, length);
        if let Some([_, output]) = conv_output(&options, [1, length], [1, conv.kernel_size]) {
            let (k, s) = (pool.kernel_size, pool.stride);
            let (left, right) = padding_1d(&pool.padding, output, k, s);
            if left == right {
                let pool = MaxPoolOptions {
                    kernel_size: [1, k],
                    stride: [1, s],
                    padding: [0, left],
                    dilation: [1, pool.dilation],
                };
                let weight = conv.weight.val().unsqueeze_dim::<4>(2);
                let x = input.unsqueeze_dim(2);
                return extension::conv2d_relu_pool(x, weight, bias.val(), options, pool)
                    .squeeze_dim(2);
            }
        }
    }
    max_pool1d_module(pool, conv1d_relu_module(conv, input))
}

/// `Tensor::cat(tensors, 1)` for `[N, C_i, H, W]` tensors (an Inception module's branches):
/// for four tensors on Flex and NdArray without autodiff (inference), a copy per sample in
/// parallel; otherwise Burn's `cat` (under autodiff its backward splits the gradient).
/// Why: burn-ndarray concatenated cifar-inception's four branches at batch 64 in 10.7–23 ms,
/// Flex in 1.4–1.9 ms (the book, "Kernel measurements").
pub fn cat_channels(tensors: Vec<Tensor<4>>) -> Tensor<4> {
    #[cfg(feature = "kernels")]
    let tensors = match <[Tensor<4>; 4]>::try_from(tensors) {
        Ok(four) if serves(&four[0].device()) && !four[0].device().is_autodiff() => {
            return extension::cat_channels4(four);
        }
        Ok(four) => Vec::from(four),
        Err(tensors) => tensors,
    };
    Tensor::cat(tensors, 1)
}

/// [`Dropout::forward`]. On Flex and NdArray while training (an autodiff device, the layer not
/// frozen): one mask drawn in parallel with the scale folded in ([`dropout::mask`]) and one
/// product, whose gradient is the same product; the seed comes from Burn's own generator, so
/// `device.seed(n)` still decides the masks. Elsewhere Burn's (the identity without autodiff).
pub fn dropout_module<const D: usize>(dropout: &Dropout, input: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "kernels")]
    {
        let device = input.device();
        if dropout.prob > 0.0
            && dropout.prob < 1.0
            && dropout.training.is_enabled()
            && device.is_autodiff()
            && input.dtype() == burn::tensor::DType::F32
            && serves(&device)
        {
            let draws = Tensor::<1>::random([2], burn::tensor::Distribution::Default, &device)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap_or_default();
            // 24 random bits from each uniform draw in [0, 1)
            let seed = draws
                .iter()
                .fold(0u64, |seed, &u| (seed << 24) | (u * 16_777_216.0) as u64);
            let shape = input.shape();
            count_call();
            let mask = dropout::mask(shape.num_elements(), dropout.prob, seed);
            let mask = Tensor::<D>::from_data(burn::tensor::TensorData::new(mask, shape), &device);
            return input * mask;
        }
    }
    dropout.forward(input)
}

/// Whether our kernels serve `device`: never without the `flex` and `ndarray` features.
#[cfg(not(feature = "kernels"))]
pub fn serves(_device: &burn::tensor::Device) -> bool {
    false
}

/// Whether [`adam_step`] runs our pass on `device`: never without the `flex` and `ndarray`
/// features.
#[cfg(not(feature = "kernels"))]
pub fn serves_adam(_device: &burn::tensor::Device) -> bool {
    false
}

/// One Adam or AdamW step of a parameter (tensors without autodiff): the new parameter and
/// moments from the gradient and the moments before (`None` for the first step). On a device
/// [`serves_adam`] accepts, one parallel pass that updates the tensors in place where nothing else
/// holds them; on other devices Burn's own operations in the same order. Either way the
/// values are those of Burn's `Adam` / `AdamW` step (see [`optim`]).
///
/// # Panics
/// Built without the `flex` and `ndarray` features (where [`serves_adam`] is always false): a
/// caller runs Burn's optimizer there.
pub fn adam_step<const D: usize>(
    step: &AdamStep,
    param: Tensor<D>,
    grad: Tensor<D>,
    moments: Option<[Tensor<D>; 2]>,
) -> (Tensor<D>, [Tensor<D>; 2]) {
    #[cfg(feature = "kernels")]
    {
        let [moment_1, moment_2] =
            moments.unwrap_or_else(|| [grad.zeros_like(), grad.zeros_like()]);
        extension::adam_step(step, param, grad, moment_1, moment_2)
    }
    #[cfg(not(feature = "kernels"))]
    {
        let _ = (step, param, grad, moments);
        panic!("zoo_kernels::adam_step needs the `flex` or `ndarray` feature: run Burn's Adam")
    }
}

/// `relu(y)` when `relu`: Burn's layer followed by the ReLU our kernels fuse.
fn relu_if<const D: usize>(y: Tensor<D>, relu: bool) -> Tensor<D> {
    if relu {
        burn::tensor::activation::relu(y)
    } else {
        y
    }
}

/// The options `conv.forward` uses on an input of `size` (its padding resolved).
fn conv2d_options(conv: &Conv2d, size: [usize; 2]) -> ConvOptions<2> {
    let padding = padding_2d(&conv.padding, size, conv.kernel_size, conv.stride);
    ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups)
}

/// The options of a `Conv1d` on `length` values, as a 2-D convolution of height 1.
#[cfg_attr(not(feature = "kernels"), allow(dead_code))]
fn conv1d_options(conv: &Conv1d, length: usize) -> ConvOptions<2> {
    let padding = padding_1d(&conv.padding, length, conv.kernel_size, conv.stride);
    let (stride, dilation) = ([1, conv.stride], [1, conv.dilation]);
    ConvOptions::new_with_padding(stride, [(0, 0), padding], dilation, conv.groups)
}

/// A convolution's output size on an input of `size`, `None` where the kernel does not fit.
#[cfg_attr(not(feature = "kernels"), allow(dead_code))]
fn conv_output(
    options: &ConvOptions<2>,
    size: [usize; 2],
    kernel: [usize; 2],
) -> Option<[usize; 2]> {
    let mut output = [0; 2];
    for (i, o) in output.iter_mut().enumerate() {
        let span = options.dilation[i] * (kernel[i].max(1) - 1) + 1;
        let (begin, end) = options.padding[i];
        *o = (size[i] + begin + end).checked_sub(span)? / options.stride[i].max(1) + 1;
    }
    Some(output)
}

/// `(begin, end)` padding per dimension, as burn-nn's modules compute it.
fn padding_2d(
    config: &PaddingConfig2d,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
) -> [(usize, usize); 2] {
    match *config {
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Same => {
            std::array::from_fn(|i| same_padding(kernel[i], stride[i], input[i]))
        }
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
    }
}

#[cfg_attr(not(feature = "kernels"), allow(dead_code))]
fn padding_1d(
    config: &PaddingConfig1d,
    length: usize,
    kernel: usize,
    stride: usize,
) -> (usize, usize) {
    match *config {
        PaddingConfig1d::Valid => (0, 0),
        PaddingConfig1d::Same => same_padding(kernel, stride, length),
        PaddingConfig1d::Explicit(left, right) => (left, right),
    }
}

/// burn-nn 0.22.1's "same" padding (private there), copied so that our functions pad exactly as
/// the modules' `forward` do: the output is `ceil(size / stride)`, the odd pixel at the end.
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

#[cfg(test)]
mod tests {
    /// `just test-avx2` sets `ZOO_EXPECT_GEMM_KERNELS=fma` for its emulated AVX2-only CPU: this
    /// fails if the emulation let gemm pick other kernels (the AVX2 paths would go untested).
    #[test]
    fn gemm_kernels_are_the_ones_expected_here() {
        let kernels = super::gemm_kernels();
        assert!(["avx512f", "fma", "neon", "scalar"].contains(&kernels));
        if let Ok(expected) = std::env::var("ZOO_EXPECT_GEMM_KERNELS") {
            assert_eq!(kernels, expected, "gemm's kernels on this (emulated?) CPU");
        }
    }
}
