//! The Flex side: a backend extension whose autodiff step calls our im2col kernels.

use burn::Tensor;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::{ActivationOps, ConvOptions, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, Backend, DType, Dispatch, Flex, TensorMetadata, backend_extension, flex::FlexTensor,
};
use burn::tensor::{Device, TensorData};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::dense;
use crate::im2col::{self, Conv2dGeometry};
use crate::pool::{self, Pool2dGeometry};

/// burn-zoo's operations: a 2-D convolution and a max pool, ours on Flex (the convolution as
/// im2col + GEMM both ways, the pool without an index buffer unless autodiff needs one).
///
/// Every operation defaults to Burn's own (`conv2d`, its generic backward, `max_pool2d`); Flex
/// overrides them for `f32` (and one group for the convolution).
#[backend_extension(Flex, Autodiff)]
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
    /// in one pass per sample (the convolution's output pooled while in cache, never stored
    /// whole); elsewhere, and under autodiff, those two operations.
    fn zoo_conv2d_relu_pool(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
        pool: MaxPoolOptions,
    ) -> FloatTensor<Self> {
        conv_relu_pool_by_ops::<Self>(x, weight, bias, options, pool)
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
fn conv_relu_pool_by_ops<B: ZooKernels>(
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

/// How many times our kernels have run in this process (a convolution's input or weight
/// gradient, a pool's forward or backward pass): lets tests prove that a model's layers take
/// this path rather than Burn's.
pub fn kernel_calls() -> usize {
    KERNEL_CALLS.load(Ordering::Relaxed)
}

static KERNEL_CALLS: AtomicUsize = AtomicUsize::new(0);

fn count_call() {
    KERNEL_CALLS.fetch_add(1, Ordering::Relaxed);
}

/// The geometry of a convolution our kernels handle (`f32`, one group), `None` otherwise.
fn geometry(
    x: &FlexTensor,
    weight: &FlexTensor,
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

/// The tensor's values in row-major order (copied only when it is a strided view).
fn values(tensor: &FlexTensor) -> Values<'_> {
    match tensor.as_slice::<f32>() {
        Some(slice) => Values::View(slice),
        None => Values::Copy(tensor.to_contiguous()),
    }
}

/// An `f32` tensor's values: the tensor's own storage, or a contiguous copy of a strided view
/// (a transposed or broadcast gradient), copied once.
enum Values<'a> {
    View(&'a [f32]),
    Copy(FlexTensor),
}

impl std::ops::Deref for Values<'_> {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        match self {
            Values::View(slice) => slice,
            Values::Copy(tensor) => tensor.as_slice::<f32>().expect("contiguous f32 copy"),
        }
    }
}

fn conv2d_forward(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: Option<&FlexTensor>,
    g: &Conv2dGeometry,
    relu: bool,
) -> FlexTensor {
    count_call();
    let bias = bias.map(values);
    let (x, weight) = (values(x), values(weight));
    let out = if relu {
        im2col::forward_relu(&x, &weight, bias.as_deref(), g)
    } else {
        im2col::forward(&x, &weight, bias.as_deref(), g)
    };
    let [oh, ow] = g.output();
    flex_tensor(out, [g.batch, g.channels_out, oh, ow])
}

fn flex_tensor(values: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

impl ZooKernels for Flex {
    fn zoo_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        options: ConvOptions<2>,
        relu: bool,
    ) -> FlexTensor {
        match geometry(&x, &weight, &options) {
            Some(g) => conv2d_forward(&x, &weight, None, &g, relu),
            None => with_relu(Self::conv2d(x, weight, None, options), relu),
        }
    }

    fn zoo_conv2d_bias(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        options: ConvOptions<2>,
        relu: bool,
    ) -> FlexTensor {
        match geometry(&x, &weight, &options).filter(|_| bias.dtype() == DType::F32) {
            Some(g) => conv2d_forward(&x, &weight, Some(&bias), &g, relu),
            None => with_relu(Self::conv2d(x, weight, Some(bias), options), relu),
        }
    }

    fn zoo_max_pool2d(
        x: FlexTensor,
        kernel_size: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
    ) -> FlexTensor {
        match pool_geometry(&x, kernel_size, stride, padding, dilation) {
            Some(g) => {
                count_call();
                let (out, _) = pool::max_pool2d(&values(&x), &g, false);
                flex_tensor(out, pool_output_shape(&x, &g))
            }
            None => Self::max_pool2d(x, kernel_size, stride, padding, dilation, false),
        }
    }

    fn zoo_conv2d_relu_pool(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        options: ConvOptions<2>,
        pool: MaxPoolOptions,
    ) -> FlexTensor {
        let conv = geometry(&x, &weight, &options).filter(|_| bias.dtype() == DType::F32);
        let Some((g, p)) = conv.and_then(|g| {
            let [oh, ow] = g.output();
            let p = Pool2dGeometry {
                planes: g.channels_out,
                input: [oh, ow],
                kernel: pool.kernel_size,
                stride: pool.stride,
                padding: pool.padding,
                dilation: pool.dilation,
            };
            p.output().map(|_| (g, p))
        }) else {
            return conv_relu_pool_by_ops::<Self>(x, weight, bias, options, pool);
        };
        count_call();
        let (x, weight, bias) = (values(&x), values(&weight), values(&bias));
        let out = im2col::forward_relu_pool(&x, &weight, Some(&bias), &g, &p);
        let [ph, pw] = p.output().expect("checked above");
        flex_tensor(out, [g.batch, g.channels_out, ph, pw])
    }

    fn conv2d_x_grad(
        x: FlexTensor,
        weight: FlexTensor,
        output_grad: FlexTensor,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        match geometry(&x, &weight, &options).filter(|_| output_grad.dtype() == DType::F32) {
            Some(g) => {
                count_call();
                let dx = im2col::input_grad(&values(&weight), &values(&output_grad), &g);
                flex_tensor(dx, x.shape().dims::<4>())
            }
            None => Self::conv2d_x_backward(x, weight, output_grad, options),
        }
    }

    fn conv2d_weight_grad(
        x: FlexTensor,
        weight: FlexTensor,
        output_grad: FlexTensor,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        match geometry(&x, &weight, &options).filter(|_| output_grad.dtype() == DType::F32) {
            Some(g) => {
                count_call();
                let dw = im2col::weight_grad(&values(&x), &values(&output_grad), &g);
                flex_tensor(dw, weight.shape().dims::<4>())
            }
            None => Self::conv2d_weight_backward(x, weight, output_grad, options),
        }
    }

    fn zoo_linear(x: FlexTensor, weight: FlexTensor, bias: FlexTensor, relu: bool) -> FlexTensor {
        let f32s = [&x, &weight, &bias].iter().all(|t| t.dtype() == DType::F32);
        let ([rows, inputs], [weight_inputs, outputs]) =
            (x.shape().dims::<2>(), weight.shape().dims::<2>());
        if !f32s || weight_inputs != inputs || bias.shape().num_elements() != outputs {
            // Burn's ops, which check and report the mismatch
            return linear_by_ops::<Self>(x, weight, bias, relu);
        }
        count_call();
        let (x, weight, bias) = (values(&x), values(&weight), values(&bias));
        let y = dense::forward(&x, &weight, Some(&bias), rows, inputs, outputs, relu);
        FlexTensor::from_data(TensorData::new(y, [rows, outputs]))
    }

    fn conv2d_bias_grad(x: FlexTensor, bias: FlexTensor, output_grad: FlexTensor) -> FlexTensor {
        if output_grad.dtype() != DType::F32 || bias.dtype() != DType::F32 {
            return Self::conv2d_bias_backward(x, bias, output_grad);
        }
        // Burn's default transposes the whole output gradient (`swap_dims(0, 1)` and a copy)
        // before summing it: 5 % of a cifar-inception training step.
        count_call();
        let [batch, channels, oh, ow] = output_grad.shape().dims::<4>();
        let db = im2col::bias_grad(&values(&output_grad), batch, channels, oh * ow);
        FlexTensor::from_data(TensorData::new(db, [channels]))
    }
}

/// A dense layer (and ReLU) as Burn's own operations: a matrix product, a broadcast bias add.
fn linear_by_ops<B: Backend>(
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

/// Burn's ReLU of `y` when `relu` (the fallback of a fused convolution and ReLU).
fn with_relu(y: FlexTensor, relu: bool) -> FlexTensor {
    if relu { Flex::relu(y) } else { y }
}

/// The geometry of a max pool our kernel handles (`f32`, a window that fits), `None` otherwise.
fn pool_geometry(
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

fn pool_output_shape(x: &impl TensorMetadata, g: &Pool2dGeometry) -> [usize; 4] {
    let [n, c, _, _] = x.shape().dims::<4>();
    let [oh, ow] = g.output().expect("checked by pool_geometry");
    [n, c, oh, ow]
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

impl ArgmaxPool for Flex {
    fn max_pool2d_argmax(x: FlexTensor, g: &Pool2dGeometry) -> (FlexTensor, Arc<Vec<u32>>) {
        count_call();
        let (out, argmax) = pool::max_pool2d(&values(&x), g, true);
        (flex_tensor(out, pool_output_shape(&x, g)), Arc::new(argmax))
    }

    fn max_pool2d_argmax_backward(
        argmax: &[u32],
        output_grad: FlexTensor,
        g: &Pool2dGeometry,
    ) -> FlexTensor {
        count_call();
        let [n, c, _, _] = output_grad.shape().dims::<4>();
        let dx = pool::max_pool2d_backward(argmax, &values(&output_grad), g);
        flex_tensor(dx, [n, c, g.input[0], g.input[1]])
    }
}

#[derive(Debug)]
struct MaxPool2dBackward;

impl<B: Backend + ArgmaxPool> Backward<B, 1> for MaxPool2dBackward {
    /// The pool's geometry and the argmax of its forward pass.
    type State = (Pool2dGeometry, Arc<Vec<u32>>);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_x] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (g, argmax) = ops.state;
        if let Some(node) = node_x {
            grads.register::<B>(node.id, B::max_pool2d_argmax_backward(&argmax, grad, &g));
        }
    }
}

/// The input and weight gradients, registered for the parents that are tracked.
fn register_conv_grads<B: Backend + ZooKernels>(
    grads: &mut Gradients,
    [node_x, node_weight]: [Option<NodeId>; 2],
    [x, weight, grad]: [FloatTensor<B>; 3],
    options: ConvOptions<2>,
) {
    if let Some(node) = node_x {
        let dx = B::conv2d_x_grad(x.clone(), weight.clone(), grad.clone(), options.clone());
        grads.register::<B>(node, dx);
    }
    if let Some(node) = node_weight {
        grads.register::<B>(node, B::conv2d_weight_grad(x, weight, grad, options));
    }
}

/// The gradient before a fused ReLU, from its output (Burn's `relu_backward`: zero where the
/// output is not positive, kept for NaN).
fn through_relu<B: Backend>(
    grad: FloatTensor<B>,
    relu_output: Option<FloatTensor<B>>,
) -> FloatTensor<B> {
    match relu_output {
        Some(output) => B::relu_backward(output, grad),
        None => grad,
    }
}

/// The dense layer's backward step, with Burn's own operations (two matrix products on
/// transposed views and a column sum: Flex runs those well).
#[derive(Debug)]
struct LinearBackward;

impl<B: Backend> Backward<B, 3> for LinearBackward {
    /// Checkpointed input and weight, and the output of a fused ReLU.
    type State = (NodeId, NodeId, Option<FloatTensor<B>>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let (x_state, weight_state, relu_output) = ops.state;
        let grad = through_relu::<B>(grads.consume::<B>(&ops.node), relu_output);
        if let Some(node) = node_bias {
            let outputs = grad.shape().dims::<2>()[1];
            let sum = B::float_sum_dim(grad.clone(), 0);
            grads.register::<B>(node.id, B::float_reshape(sum, [outputs].into()));
        }
        if let Some(node) = node_x {
            let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);
            let dx = B::float_matmul(grad.clone(), B::float_transpose(weight));
            grads.register::<B>(node.id, dx);
        }
        if let Some(node) = node_weight {
            let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
            grads.register::<B>(node.id, B::float_matmul(B::float_transpose(x), grad));
        }
    }
}

#[derive(Debug)]
struct Conv2dWithBias;

impl<B: Backend + ZooKernels> Backward<B, 3> for Conv2dWithBias {
    /// Checkpointed input, weight and bias, the options, and the output of a fused ReLU.
    type State = (
        NodeId,
        NodeId,
        NodeId,
        ConvOptions<2>,
        Option<FloatTensor<B>>,
    );

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let (x_state, weight_state, bias_state, options, relu_output) = ops.state;
        let grad = through_relu::<B>(grads.consume::<B>(&ops.node), relu_output);
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);
        if let Some(node) = node_bias {
            let bias = checkpointer.retrieve_node_output::<FloatTensor<B>>(bias_state);
            grads.register::<B>(node.id, B::conv2d_bias_grad(x.clone(), bias, grad.clone()));
        }
        let nodes = [node_x.map(|node| node.id), node_weight.map(|node| node.id)];
        register_conv_grads::<B>(grads, nodes, [x, weight, grad], options);
    }
}

#[derive(Debug)]
struct Conv2dNoBias;

impl<B: Backend + ZooKernels> Backward<B, 2> for Conv2dNoBias {
    /// Checkpointed input and weight, the options, and the output of a fused ReLU.
    type State = (NodeId, NodeId, ConvOptions<2>, Option<FloatTensor<B>>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let (x_state, weight_state, options, relu_output) = ops.state;
        let grad = through_relu::<B>(grads.consume::<B>(&ops.node), relu_output);
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);
        let nodes = [node_x.map(|node| node.id), node_weight.map(|node| node.id)];
        register_conv_grads::<B>(grads, nodes, [x, weight, grad], options);
    }
}

impl<B: Backend + ZooKernels + ArgmaxPool, C: CheckpointStrategy> ZooKernels for Autodiff<B, C> {
    fn zoo_max_pool2d(
        x: FloatTensor<Self>,
        kernel_size: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
    ) -> FloatTensor<Self> {
        let Some(g) = pool_geometry(x.primitive(), kernel_size, stride, padding, dilation) else {
            return Self::max_pool2d(x, kernel_size, stride, padding, dilation, false);
        };
        match MaxPool2dBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (output, argmax) = B::max_pool2d_argmax(x.into_primitive(), &g);
                prep.finish((g, argmax), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::zoo_max_pool2d(
                x.into_primitive(),
                kernel_size,
                stride,
                padding,
                dilation,
            )),
        }
    }

    fn zoo_conv2d_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
        relu: bool,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node(), bias.node()];
        match Conv2dWithBias
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let checkpoints = (
                    prep.checkpoint(&x),
                    prep.checkpoint(&weight),
                    prep.checkpoint(&bias),
                );
                let (x, weight, bias) = (
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                );
                let output = B::zoo_conv2d_bias(x, weight, bias, options.clone(), relu);
                let (cx, cw, cb) = checkpoints;
                let state = (cx, cw, cb, options, relu.then(|| output.clone()));
                prep.finish(state, output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::zoo_conv2d_bias(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                options,
                relu,
            )),
        }
    }

    fn zoo_linear(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu: bool,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node(), bias.node()];
        match LinearBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let checkpoints = (prep.checkpoint(&x), prep.checkpoint(&weight));
                let (x, weight, bias) = (
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                );
                let output = B::zoo_linear(x, weight, bias, relu);
                let (cx, cw) = checkpoints;
                prep.finish((cx, cw, relu.then(|| output.clone())), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::zoo_linear(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                relu,
            )),
        }
    }

    fn zoo_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
        relu: bool,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node()];
        match Conv2dNoBias.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let checkpoints = (prep.checkpoint(&x), prep.checkpoint(&weight));
                let (x, weight) = (x.into_primitive(), weight.into_primitive());
                let output = B::zoo_conv2d(x, weight, options.clone(), relu);
                let (cx, cw) = checkpoints;
                prep.finish((cx, cw, options, relu.then(|| output.clone())), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::zoo_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                options,
                relu,
            )),
        }
    }
    // The gradients: the trait's defaults (Burn's ModuleOps on Autodiff), never called by our
    // step, which calls the inner backend's.
}

/// Whether our kernels serve this device: Flex, with or without autodiff, unless the
/// environment variable `ZOO_KERNELS=off` turns them off for this process (to compare with
/// Burn's own backward, or to rule our kernels out when a result looks wrong).
pub fn serves(device: &Device) -> bool {
    enabled() && device.clone().inner() == Device::flex()
}

fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| match std::env::var("ZOO_KERNELS") {
        Err(_) => true,
        Ok(value) => match parse_switch(&value) {
            Ok(on) => on,
            Err(message) => {
                eprintln!("warning: {message}; using zoo-kernels");
                true
            }
        },
    })
}

/// `ZOO_KERNELS`'s value: `on`/`1`/`true` or `off`/`0`/`false`.
fn parse_switch(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "1" | "true" => Ok(true),
        "off" | "0" | "false" => Ok(false),
        _ => Err(format!(
            "ZOO_KERNELS={value:?} is not one of on, off, 1, 0, true, false"
        )),
    }
}

/// Routes a max pool on a Flex device through [`ZooKernels`].
pub(crate) fn max_pool2d(
    x: Tensor<4>,
    kernel_size: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as ZooKernels>::zoo_max_pool2d(
        x.into_dispatch(),
        kernel_size,
        stride,
        padding,
        dilation,
    ))
}

/// Routes a dense layer with a bias (followed by a ReLU when `relu`) on a Flex device through
/// [`ZooKernels`].
pub(crate) fn linear(x: Tensor<2>, weight: Tensor<2>, bias: Tensor<1>, relu: bool) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as ZooKernels>::zoo_linear(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        relu,
    ))
}

/// Routes a convolution (followed by a ReLU when `relu`) on a Flex device through
/// [`ZooKernels`].
pub(crate) fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
    relu: bool,
) -> Tensor<4> {
    let (x, weight) = (x.into_dispatch(), weight.into_dispatch());
    Tensor::from_dispatch(match bias {
        Some(bias) => <Dispatch as ZooKernels>::zoo_conv2d_bias(
            x,
            weight,
            bias.into_dispatch(),
            options,
            relu,
        ),
        None => <Dispatch as ZooKernels>::zoo_conv2d(x, weight, options, relu),
    })
}

/// Routes a convolution with a bias, its ReLU and a max pool on a Flex device through
/// [`ZooKernels`].
pub(crate) fn conv2d_relu_pool(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    options: ConvOptions<2>,
    pool: MaxPoolOptions,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as ZooKernels>::zoo_conv2d_relu_pool(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        options,
        pool,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn switch_values() {
        assert_eq!(super::parse_switch("off"), Ok(false));
        assert_eq!(super::parse_switch(" ON "), Ok(true));
        assert_eq!(super::parse_switch("0"), Ok(false));
        let err = super::parse_switch("fast").unwrap_err();
        assert!(err.contains("\"fast\"") && err.contains("on, off"), "{err}");
    }
}
