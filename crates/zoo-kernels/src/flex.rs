//! The Flex side: a backend extension whose autodiff step calls our im2col kernels.

use burn::Tensor;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::{ConvOptions, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, Backend, DType, Dispatch, Flex, TensorMetadata, backend_extension, flex::FlexTensor,
};
use burn::tensor::{Device, TensorData};

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::im2col::{self, Conv2dGeometry};

/// A 2-D convolution whose backward pass is ours on Flex (im2col + GEMM) and Burn's elsewhere.
///
/// The forward pass is the backend's own `conv2d` everywhere. The two `*_backward` operations
/// default to Burn's generic ones; Flex overrides them for `f32` and one group.
#[backend_extension(Flex, Autodiff)]
pub trait ZooConv: Backend {
    /// `conv2d` without bias, with a backward pass that calls
    /// [`conv2d_x_grad`](Self::conv2d_x_grad) and [`conv2d_weight_grad`](Self::conv2d_weight_grad).
    fn zoo_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, None, options)
    }

    /// [`zoo_conv2d`](Self::zoo_conv2d) with a bias. (Two operations because the extension
    /// macro of Burn 0.22.1 does not unwrap an `Option` of a float tensor for autodiff.)
    fn zoo_conv2d_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, Some(bias), options)
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

/// How many gradients (input or weight) our kernels have computed in this process: lets tests
/// prove that a model's convolutions take this path rather than Burn's.
pub fn gradients_computed() -> usize {
    GRADIENTS_COMPUTED.load(Ordering::Relaxed)
}

static GRADIENTS_COMPUTED: AtomicUsize = AtomicUsize::new(0);

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
    let [channels_out, _, kh, kw] = weight.shape().dims::<4>();
    Some(Conv2dGeometry {
        batch,
        channels_in,
        channels_out,
        input: [h, w],
        kernel: [kh, kw],
        stride: options.stride,
        padding: options.padding,
        dilation: options.dilation,
    })
}

/// The tensor's values in row-major order (copied only when it is a strided view).
fn values(tensor: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match tensor.as_slice::<f32>() {
        Some(slice) => std::borrow::Cow::Borrowed(slice),
        None => std::borrow::Cow::Owned(tensor.to_contiguous().as_slice::<f32>().unwrap().to_vec()),
    }
}

fn flex_tensor(values: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

impl ZooConv for Flex {
    fn conv2d_x_grad(
        x: FlexTensor,
        weight: FlexTensor,
        output_grad: FlexTensor,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        match geometry(&x, &weight, &options) {
            Some(g) => {
                GRADIENTS_COMPUTED.fetch_add(1, Ordering::Relaxed);
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
        match geometry(&x, &weight, &options) {
            Some(g) => {
                GRADIENTS_COMPUTED.fetch_add(1, Ordering::Relaxed);
                let dw = im2col::weight_grad(&values(&x), &values(&output_grad), &g);
                flex_tensor(dw, weight.shape().dims::<4>())
            }
            None => Self::conv2d_weight_backward(x, weight, output_grad, options),
        }
    }
}

/// The input and weight gradients, registered for the parents that are tracked.
fn register_conv_grads<B: Backend + ZooConv>(
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

#[derive(Debug)]
struct Conv2dWithBias;

impl<B: Backend + ZooConv> Backward<B, 3> for Conv2dWithBias {
    /// Checkpointed input, weight and bias, and the options.
    type State = (NodeId, NodeId, NodeId, ConvOptions<2>);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, bias_state, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);
        if let Some(node) = node_bias {
            let bias = checkpointer.retrieve_node_output::<FloatTensor<B>>(bias_state);
            grads.register::<B>(
                node.id,
                B::conv2d_bias_backward(x.clone(), bias, grad.clone()),
            );
        }
        let nodes = [node_x.map(|node| node.id), node_weight.map(|node| node.id)];
        register_conv_grads::<B>(grads, nodes, [x, weight, grad], options);
    }
}

#[derive(Debug)]
struct Conv2dNoBias;

impl<B: Backend + ZooConv> Backward<B, 2> for Conv2dNoBias {
    /// Checkpointed input and weight, and the options.
    type State = (NodeId, NodeId, ConvOptions<2>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);
        let nodes = [node_x.map(|node| node.id), node_weight.map(|node| node.id)];
        register_conv_grads::<B>(grads, nodes, [x, weight, grad], options);
    }
}

impl<B: Backend + ZooConv, C: CheckpointStrategy> ZooConv for Autodiff<B, C> {
    fn zoo_conv2d_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node(), bias.node()];
        match Conv2dWithBias
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (
                    prep.checkpoint(&x),
                    prep.checkpoint(&weight),
                    prep.checkpoint(&bias),
                    options.clone(),
                );
                let (x, weight, bias) = (
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                );
                prep.finish(state, B::conv2d(x, weight, Some(bias), options))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                Some(bias.into_primitive()),
                options,
            )),
        }
    }

    fn zoo_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let nodes = [x.node(), weight.node()];
        match Conv2dNoBias.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let state = (
                    prep.checkpoint(&x),
                    prep.checkpoint(&weight),
                    options.clone(),
                );
                let (x, weight) = (x.into_primitive(), weight.into_primitive());
                prep.finish(state, B::conv2d(x, weight, None, options))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                None,
                options,
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

/// Routes a convolution on a Flex device through [`ZooConv`].
pub(crate) fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    let (x, weight) = (x.into_dispatch(), weight.into_dispatch());
    Tensor::from_dispatch(match bias {
        Some(bias) => {
            <Dispatch as ZooConv>::zoo_conv2d_bias(x, weight, bias.into_dispatch(), options)
        }
        None => <Dispatch as ZooConv>::zoo_conv2d(x, weight, options),
    })
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
