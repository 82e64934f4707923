//! The autodiff side of [`ZooKernels`] (our backward steps, which call the inner backend's
//! gradient kernels), which devices our kernels serve, and the routing of a `Tensor` through Burn's
//! dispatch. The trait is in `ops.rs`, the CPU backends it serves in `served.rs`.

use burn::Tensor;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::{ConvOptions, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, TensorMetadata};
use burn::tensor::Device;

use std::sync::Arc;

use crate::ops::{ArgmaxPool, MaxPoolOptions, ZooKernels};
use crate::optim::AdamStep;
use crate::pool::Pool2dGeometry;
use crate::served::pool_geometry;

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

/// The gradient before a fused ReLU, from its output ([`ZooKernels::zoo_relu_backward`]).
fn through_relu<B: ZooKernels>(
    grad: FloatTensor<B>,
    relu_output: Option<FloatTensor<B>>,
) -> FloatTensor<B> {
    match relu_output {
        Some(output) => B::zoo_relu_backward(output, grad),
        None => grad,
    }
}

/// The dense layer's backward step, with Burn's own operations (two matrix products on
/// transposed views and a column sum: Flex runs those well).
#[derive(Debug)]
struct LinearBackward;

impl<B: ZooKernels> Backward<B, 3> for LinearBackward {
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

/// Whether our kernels serve this device: Flex or NdArray (as far as this build has them), with
/// or without autodiff, unless the environment variable `ZOO_KERNELS=off` turns them off for
/// this process (to compare with Burn's own kernels, or to rule ours out when a result looks
/// wrong).
pub fn serves(device: &Device) -> bool {
    if !crate::switches::kernels() {
        return false;
    }
    let device = device.clone().inner();
    #[cfg(feature = "flex")]
    if device == Device::flex() {
        return true;
    }
    #[cfg(feature = "ndarray")]
    #[allow(deprecated)] // burn-ndarray is deprecated upstream; burn-zoo still offers it
    if device == Device::ndarray() {
        return true;
    }
    false
}

/// Whether [`crate::adam_step`] runs our pass on this device: where [`serves`] holds, unless
/// `ZOO_FUSED_ADAM=off` leaves the step to Burn's optimizer (to compare).
pub fn serves_adam(device: &Device) -> bool {
    serves(device) && crate::switches::fused_adam()
}

/// One Adam step through [`ZooKernels`] on a served device, as Burn's operations elsewhere.
pub(crate) fn adam_step<const D: usize>(
    step: &AdamStep,
    param: Tensor<D>,
    grad: Tensor<D>,
    moment_1: Tensor<D>,
    moment_2: Tensor<D>,
) -> (Tensor<D>, [Tensor<D>; 2]) {
    let served = serves_adam(&param.device());
    let [param, grad, moment_1, moment_2] =
        [param, grad, moment_1, moment_2].map(Tensor::into_dispatch);
    let (param, moment_1, moment_2) = if served {
        <Dispatch as ZooKernels>::zoo_adam_step(param, grad, moment_1, moment_2, *step)
    } else {
        step.by_ops::<Dispatch>(param, grad, moment_1, moment_2)
    };
    (
        Tensor::from_dispatch(param),
        [
            Tensor::from_dispatch(moment_1),
            Tensor::from_dispatch(moment_2),
        ],
    )
}

/// Routes a max pool on a served device through [`ZooKernels`].
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

/// Routes a concatenation of four tensors along the channels, on a served device without
/// autodiff, through [`ZooKernels`].
pub(crate) fn cat_channels4([a, b, c, d]: [Tensor<4>; 4]) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as ZooKernels>::zoo_cat_channels4(
        a.into_dispatch(),
        b.into_dispatch(),
        c.into_dispatch(),
        d.into_dispatch(),
    ))
}

/// Routes a dense layer with a bias (followed by a ReLU when `relu`) on a served device through
/// [`ZooKernels`].
pub(crate) fn linear(x: Tensor<2>, weight: Tensor<2>, bias: Tensor<1>, relu: bool) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as ZooKernels>::zoo_linear(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        relu,
    ))
}

/// Routes a convolution (followed by a ReLU when `relu`) on a served device through
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

/// Routes a convolution with a bias, its ReLU and a max pool on a served device through
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
