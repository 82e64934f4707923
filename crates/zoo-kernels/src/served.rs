//! The CPU backends our kernels serve, Flex and NdArray: one implementation of [`ZooKernels`]
//! and [`ArgmaxPool`] for both, written over [`KernelTensor`], the little a backend's float
//! tensor has to offer (its `f32` values as a slice, and a tensor made from a `Vec`).

use burn::backend::ops::ConvOptions;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, DType, TensorMetadata};
use burn::tensor::{Shape, TensorData};

use rayon::prelude::*;
use std::sync::Arc;

use crate::conv2d::{self, Conv2dGeometry};
use crate::count_call;
use crate::dense;
use crate::ops::{ArgmaxPool, MaxPoolOptions, ZooKernels, conv_relu_pool_by_ops, linear_by_ops};
use crate::optim::AdamStep;
use crate::pool::{self, Pool2dGeometry};

/// What our kernels need of a backend's float tensor primitive.
pub(crate) trait KernelTensor: TensorMetadata {
    /// The values of an `f32` tensor (the caller checked the dtype) in row-major order.
    fn values(&self) -> Values<'_>;

    /// An `f32` tensor of `shape` that owns `values` (no copy).
    fn from_values(values: Vec<f32>, shape: Shape) -> Self;

    /// The values of an `f32` tensor to update in place: its own storage when nothing else
    /// shares it and it is in row-major order from its start, else a copy it then owns.
    fn values_mut(&mut self) -> &mut [f32];
}

/// A tensor's `f32` values: its own storage, or a contiguous copy of a strided view (a
/// transposed or broadcast gradient), copied once.
pub(crate) enum Values<'a> {
    View(&'a [f32]),
    Copy(Vec<f32>),
}

impl std::ops::Deref for Values<'_> {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        match self {
            Values::View(slice) => slice,
            Values::Copy(values) => values,
        }
    }
}

#[cfg(feature = "flex")]
impl KernelTensor for burn::backend::flex::FlexTensor {
    fn values(&self) -> Values<'_> {
        match self.as_slice::<f32>() {
            Some(slice) => Values::View(slice),
            None => Values::Copy(
                self.to_contiguous()
                    .into_data()
                    .try_into_vec::<f32>()
                    .expect("zoo-kernels reads f32 tensors only"),
            ),
        }
    }

    fn from_values(values: Vec<f32>, shape: Shape) -> Self {
        Self::from_data(TensorData::new(values, shape))
    }

    fn values_mut(&mut self) -> &mut [f32] {
        let len = self.shape().num_elements();
        if self.layout().contiguous_offsets() != Some((0, len)) {
            *self = self.to_contiguous();
        }
        // copy-on-write: a copy only where the storage is shared
        &mut self.storage_mut::<f32>()[..len]
    }
}

#[cfg(feature = "ndarray")]
#[allow(deprecated)] // burn-ndarray is deprecated upstream; burn-zoo serves it on purpose
impl KernelTensor for burn::backend::ndarray::NdArrayTensor {
    fn values(&self) -> Values<'_> {
        let Self::F32(storage) = self else {
            unreachable!("zoo-kernels reads f32 tensors only, got {:?}", self.dtype());
        };
        // A view of the array (or of borrowed bytes) is a slice when it is in standard layout.
        let view = storage.view();
        match view.to_slice() {
            Some(slice) => Values::View(slice),
            None => Values::Copy(view.iter().copied().collect()),
        }
    }

    fn from_values(values: Vec<f32>, shape: Shape) -> Self {
        Self::from_data(TensorData::new(values, shape))
    }

    fn values_mut(&mut self) -> &mut [f32] {
        let Self::F32(storage) = self else {
            unreachable!(
                "zoo-kernels writes f32 tensors only, got {:?}",
                self.dtype()
            );
        };
        // borrowed bytes (a zero-copy load) become an array this tensor owns
        let array = storage.ensure_owned();
        if !array.is_standard_layout() {
            *array = array.as_standard_layout().into_owned().into_shared();
        }
        // copy-on-write: a copy only where the array is shared
        array.as_slice_mut().expect("an array in standard layout")
    }
}

/// A backend whose float tensors our kernels read and write.
pub(crate) trait Served: ZooKernels<FloatTensorPrimitive: KernelTensor> {}

impl<B: ZooKernels<FloatTensorPrimitive: KernelTensor>> Served for B {}

/// The geometry of a convolution our kernels handle (`f32`, one group), `None` otherwise.
fn geometry(
    x: &impl TensorMetadata,
    weight: &impl TensorMetadata,
    options: &ConvOptions<2>,
) -> Option<Conv2dGeometry> {
    if options.groups != 1 || x.dtype() != DType::F32 || weight.dtype() != DType::F32 {
        return None;
    }
    let [batch, channels_in, h, w] = x.shape().dims::<4>();
    let [channels_out, weight_channels_in, kh, kw] = weight.shape().dims::<4>();
    let g = Conv2dGeometry {
        batch,
        channels_in,
        channels_out,
        input: [h, w],
        kernel: [kh, kw],
        stride: options.stride,
        padding: options.padding,
        dilation: options.dilation,
    };
    // Anything unusual (mismatched channels too) goes to Burn's, which checks and reports it.
    (weight_channels_in == channels_in && g.is_supported()).then_some(g)
}

/// The geometry of a max pool our kernel handles (`f32`, a window that fits), `None` otherwise.
pub(crate) fn pool_geometry(
    x: &impl TensorMetadata,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
) -> Option<Pool2dGeometry> {
    if x.dtype() != DType::F32 {
        return None;
    }
    let [n, c, h, w] = x.shape().dims::<4>();
    if h * w > u32::MAX as usize {
        return None; // the argmax is a u32 per plane
    }
    let g = Pool2dGeometry {
        planes: n * c,
        input: [h, w],
        kernel,
        stride,
        padding,
        dilation,
    };
    g.output().map(|_| g)
}

fn pool_output_shape(x: &impl TensorMetadata, g: &Pool2dGeometry) -> Shape {
    let [n, c, _, _] = x.shape().dims::<4>();
    let [oh, ow] = g.output().expect("checked by pool_geometry");
    [n, c, oh, ow].into()
}

fn is_f32(tensor: &impl TensorMetadata) -> bool {
    tensor.dtype() == DType::F32
}

/// Burn's ReLU of `y` when `relu` (the fallback of a fused convolution and ReLU).
fn relu_if<B: Backend>(y: FloatTensor<B>, relu: bool) -> FloatTensor<B> {
    if relu { B::relu(y) } else { y }
}

/// [`ZooKernels::zoo_conv2d`] and [`ZooKernels::zoo_conv2d_bias`].
pub(crate) fn conv2d<B: Served>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: Option<FloatTensor<B>>,
    options: ConvOptions<2>,
    relu: bool,
) -> FloatTensor<B> {
    let g = geometry(&x, &weight, &options).filter(|_| bias.as_ref().is_none_or(is_f32));
    let Some(g) = g else {
        return relu_if::<B>(B::conv2d(x, weight, bias, options), relu);
    };
    count_call();
    let bias = bias.as_ref().map(KernelTensor::values);
    let (x, weight) = (x.values(), weight.values());
    let out = if relu {
        conv2d::forward_relu(&x, &weight, bias.as_deref(), &g)
    } else {
        conv2d::forward(&x, &weight, bias.as_deref(), &g)
    };
    let [oh, ow] = g.output();
    KernelTensor::from_values(out, [g.batch, g.channels_out, oh, ow].into())
}

/// [`ZooKernels::zoo_max_pool2d`].
pub(crate) fn max_pool2d<B: Served>(
    x: FloatTensor<B>,
    kernel_size: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
) -> FloatTensor<B> {
    match pool_geometry(&x, kernel_size, stride, padding, dilation) {
        Some(g) => {
            count_call();
            let (out, _) = pool::max_pool2d(&x.values(), &g, false);
            KernelTensor::from_values(out, pool_output_shape(&x, &g))
        }
        None => B::max_pool2d(x, kernel_size, stride, padding, dilation, false),
    }
}

/// [`ZooKernels::zoo_conv2d_relu_pool`].
pub(crate) fn conv2d_relu_pool<B: Served>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: FloatTensor<B>,
    options: ConvOptions<2>,
    pool: MaxPoolOptions,
) -> FloatTensor<B> {
    let conv = geometry(&x, &weight, &options).filter(|_| is_f32(&bias));
    let Some((g, p)) = conv.and_then(|g| {
        let p = Pool2dGeometry {
            planes: g.channels_out,
            input: g.output(),
            kernel: pool.kernel_size,
            stride: pool.stride,
            padding: pool.padding,
            dilation: pool.dilation,
        };
        p.output().map(|_| (g, p))
    }) else {
        return conv_relu_pool_by_ops::<B>(x, weight, bias, options, pool);
    };
    count_call();
    let (x, weight, bias) = (x.values(), weight.values(), bias.values());
    let out = conv2d::forward_relu_pool(&x, &weight, Some(&bias), &g, &p);
    let [ph, pw] = p.output().expect("checked above");
    KernelTensor::from_values(out, [g.batch, g.channels_out, ph, pw].into())
}

/// [`ZooKernels::conv2d_x_grad`].
pub(crate) fn conv2d_x_grad<B: Served>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    output_grad: FloatTensor<B>,
    options: ConvOptions<2>,
) -> FloatTensor<B> {
    match geometry(&x, &weight, &options).filter(|_| is_f32(&output_grad)) {
        Some(g) => {
            count_call();
            let dx = conv2d::input_grad(&weight.values(), &output_grad.values(), &g);
            KernelTensor::from_values(dx, x.shape())
        }
        None => B::conv2d_x_backward(x, weight, output_grad, options),
    }
}

/// [`ZooKernels::conv2d_weight_grad`].
pub(crate) fn conv2d_weight_grad<B: Served>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    output_grad: FloatTensor<B>,
    options: ConvOptions<2>,
) -> FloatTensor<B> {
    match geometry(&x, &weight, &options).filter(|_| is_f32(&output_grad)) {
        Some(g) => {
            count_call();
            let dw = conv2d::weight_grad(&x.values(), &output_grad.values(), &g);
            KernelTensor::from_values(dw, weight.shape())
        }
        None => B::conv2d_weight_backward(x, weight, output_grad, options),
    }
}

/// [`ZooKernels::conv2d_bias_grad`].
pub(crate) fn conv2d_bias_grad<B: Served>(
    x: FloatTensor<B>,
    bias: FloatTensor<B>,
    output_grad: FloatTensor<B>,
) -> FloatTensor<B> {
    if !is_f32(&output_grad) || !is_f32(&bias) {
        return B::conv2d_bias_backward(x, bias, output_grad);
    }
    // Burn's default transposes the whole output gradient (`swap_dims(0, 1)` and a copy)
    // before summing it.
    count_call();
    let [batch, channels, oh, ow] = output_grad.shape().dims::<4>();
    let db = conv2d::bias_grad(&output_grad.values(), batch, channels, oh * ow);
    KernelTensor::from_values(db, [channels].into())
}

/// [`ZooKernels::zoo_linear`].
pub(crate) fn linear<B: Served>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: FloatTensor<B>,
    relu: bool,
) -> FloatTensor<B> {
    let f32s = is_f32(&x) && is_f32(&weight) && is_f32(&bias);
    let ([rows, inputs], [weight_inputs, outputs]) =
        (x.shape().dims::<2>(), weight.shape().dims::<2>());
    if !f32s || weight_inputs != inputs || bias.shape().num_elements() != outputs {
        // Burn's ops, which check and report the mismatch
        return linear_by_ops::<B>(x, weight, bias, relu);
    }
    count_call();
    let (x, weight, bias) = (x.values(), weight.values(), bias.values());
    let y = dense::forward(&x, &weight, Some(&bias), rows, inputs, outputs, relu);
    KernelTensor::from_values(y, [rows, outputs].into())
}

/// [`ZooKernels::zoo_relu_backward`]: one parallel pass.
pub(crate) fn relu_backward<B: Served>(
    output: FloatTensor<B>,
    grad: FloatTensor<B>,
) -> FloatTensor<B> {
    if !is_f32(&output) || !is_f32(&grad) || output.shape() != grad.shape() {
        return B::relu_backward(output, grad);
    }
    count_call();
    let shape = grad.shape();
    let (output, grad) = (output.values(), grad.values());
    let masked: Vec<f32> = output
        .par_iter()
        .zip(grad.par_iter())
        .with_min_len(1 << 14)
        .map(|(&y, &g)| if y <= 0.0 { 0.0 } else { g })
        .collect();
    KernelTensor::from_values(masked, shape)
}

/// [`ZooKernels::zoo_cat_channels4`] (for any number of tensors): per sample, each tensor's
/// `C_i × H × W` values copied after the previous ones, samples in parallel (burn-ndarray's own
/// concatenation of cifar-inception's branches ran on one thread through dynamic-dimension
/// views, ~10× Flex's time). Burn's `float_cat` for anything but `f32` tensors of one batch,
/// height and width.
pub(crate) fn cat_channels<B: Served>(tensors: Vec<FloatTensor<B>>) -> FloatTensor<B> {
    let dims = |t: &FloatTensor<B>| {
        let shape = t.shape();
        (is_f32(t) && shape.num_dims() == 4).then(|| shape.dims::<4>())
    };
    let shapes: Option<Vec<[usize; 4]>> = tensors.iter().map(dims).collect();
    let Some(shapes) = shapes.filter(|s| !s.is_empty()) else {
        return B::float_cat(tensors, 1);
    };
    let [batch, _, height, width] = shapes[0];
    if shapes
        .iter()
        .any(|&[n, _, h, w]| [n, h, w] != [batch, height, width])
    {
        return B::float_cat(tensors, 1);
    }
    count_call();
    let values: Vec<Values<'_>> = tensors.iter().map(|t| t.values()).collect();
    let parts: Vec<usize> = shapes
        .iter()
        .map(|[_, c, _, _]| c * height * width)
        .collect();
    let sample: usize = parts.iter().sum();
    let channels: usize = shapes.iter().map(|[_, c, _, _]| c).sum();
    let out = crate::parallel::par_chunks_filled(batch * sample, sample, 0.0, |n, out| {
        let mut at = 0;
        for (v, &len) in values.iter().zip(&parts) {
            out[at..at + len].copy_from_slice(&v[n * len..(n + 1) * len]);
            at += len;
        }
    });
    KernelTensor::from_values(out, [batch, channels, height, width].into())
}

/// [`ZooKernels::zoo_adam_step`]: in place where the tensors are not shared.
pub(crate) fn adam_step<B: Served>(
    mut param: FloatTensor<B>,
    grad: FloatTensor<B>,
    mut moment_1: FloatTensor<B>,
    mut moment_2: FloatTensor<B>,
    step: AdamStep,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let shape = param.shape();
    let all = [&param, &grad, &moment_1, &moment_2];
    if !all.iter().all(|t| is_f32(*t) && t.shape() == shape) {
        // Burn's operations, which broadcast or report the mismatch
        return step.by_ops::<B>(param, grad, moment_1, moment_2);
    }
    count_call();
    let grad = grad.values();
    crate::optim::adam(
        &step,
        param.values_mut(),
        &grad,
        moment_1.values_mut(),
        moment_2.values_mut(),
    );
    (param, moment_1, moment_2)
}

/// [`ArgmaxPool::max_pool2d_argmax`].
pub(crate) fn max_pool2d_argmax<B: Served>(
    x: FloatTensor<B>,
    g: &Pool2dGeometry,
) -> (FloatTensor<B>, Arc<Vec<u32>>) {
    count_call();
    let (out, argmax) = pool::max_pool2d(&x.values(), g, true);
    let out = KernelTensor::from_values(out, pool_output_shape(&x, g));
    (out, Arc::new(argmax))
}

/// [`ArgmaxPool::max_pool2d_argmax_backward`].
pub(crate) fn max_pool2d_argmax_backward<B: Served>(
    argmax: &[u32],
    output_grad: FloatTensor<B>,
    g: &Pool2dGeometry,
) -> FloatTensor<B> {
    count_call();
    let [n, c, _, _] = output_grad.shape().dims::<4>();
    let dx = pool::max_pool2d_backward(argmax, &output_grad.values(), g);
    KernelTensor::from_values(dx, [n, c, g.input[0], g.input[1]].into())
}

/// `impl ZooKernels` and `impl ArgmaxPool` for a backend whose float tensor is a
/// [`KernelTensor`]: every operation is the generic function of this module.
macro_rules! serve {
    ($backend:ty) => {
        impl ZooKernels for $backend {
            fn zoo_conv2d(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                options: ConvOptions<2>,
                relu: bool,
            ) -> FloatTensor<Self> {
                conv2d::<Self>(x, weight, None, options, relu)
            }

            fn zoo_conv2d_bias(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                bias: FloatTensor<Self>,
                options: ConvOptions<2>,
                relu: bool,
            ) -> FloatTensor<Self> {
                conv2d::<Self>(x, weight, Some(bias), options, relu)
            }

            fn zoo_linear(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                bias: FloatTensor<Self>,
                relu: bool,
            ) -> FloatTensor<Self> {
                linear::<Self>(x, weight, bias, relu)
            }

            fn zoo_max_pool2d(
                x: FloatTensor<Self>,
                kernel_size: [usize; 2],
                stride: [usize; 2],
                padding: [usize; 2],
                dilation: [usize; 2],
            ) -> FloatTensor<Self> {
                max_pool2d::<Self>(x, kernel_size, stride, padding, dilation)
            }

            fn zoo_conv2d_relu_pool(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                bias: FloatTensor<Self>,
                options: ConvOptions<2>,
                pool: MaxPoolOptions,
            ) -> FloatTensor<Self> {
                conv2d_relu_pool::<Self>(x, weight, bias, options, pool)
            }

            fn zoo_relu_backward(
                output: FloatTensor<Self>,
                grad: FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                relu_backward::<Self>(output, grad)
            }

            fn zoo_cat_channels4(
                a: FloatTensor<Self>,
                b: FloatTensor<Self>,
                c: FloatTensor<Self>,
                d: FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                cat_channels::<Self>(vec![a, b, c, d])
            }

            fn zoo_adam_step(
                param: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                moment_1: FloatTensor<Self>,
                moment_2: FloatTensor<Self>,
                step: AdamStep,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                adam_step::<Self>(param, grad, moment_1, moment_2, step)
            }

            fn conv2d_x_grad(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                output_grad: FloatTensor<Self>,
                options: ConvOptions<2>,
            ) -> FloatTensor<Self> {
                conv2d_x_grad::<Self>(x, weight, output_grad, options)
            }

            fn conv2d_bias_grad(
                x: FloatTensor<Self>,
                bias: FloatTensor<Self>,
                output_grad: FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                conv2d_bias_grad::<Self>(x, bias, output_grad)
            }

            fn conv2d_weight_grad(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                output_grad: FloatTensor<Self>,
                options: ConvOptions<2>,
            ) -> FloatTensor<Self> {
                conv2d_weight_grad::<Self>(x, weight, output_grad, options)
            }
        }

        impl ArgmaxPool for $backend {
            fn max_pool2d_argmax(
                x: FloatTensor<Self>,
                g: &Pool2dGeometry,
            ) -> (FloatTensor<Self>, Arc<Vec<u32>>) {
                max_pool2d_argmax::<Self>(x, g)
            }

            fn max_pool2d_argmax_backward(
                argmax: &[u32],
                output_grad: FloatTensor<Self>,
                g: &Pool2dGeometry,
            ) -> FloatTensor<Self> {
                max_pool2d_argmax_backward::<Self>(argmax, output_grad, g)
            }
        }
    };
}

#[cfg(feature = "flex")]
serve!(burn::backend::Flex);

#[cfg(feature = "ndarray")]
#[allow(deprecated)]
mod ndarray {
    use super::*;
    serve!(burn::backend::NdArray);
}
