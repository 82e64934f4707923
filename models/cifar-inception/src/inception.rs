//! The Inception module (Szegedy et al., 2014, "GoogLeNet"): four parallel "same"-padded
//! branches concatenated along channels. The 1×1 "reduce" convolutions before the 3×3 and 5×5
//! ones are what keeps it cheap; `bottleneck = false` drops them to show the difference.

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::serde::{Deserialize, Serialize};
use burn::tensor::{Device, Tensor};
use zoo_model::ModelError;
pub use zoo_model::Trace;

/// Branch widths of an [`Inception`] module; the default is the homework's (64, 96→128, 16→32, 32).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "burn::serde", default, deny_unknown_fields)]
pub struct InceptionConfig {
    /// Filters of the 1×1 branch.
    pub branch1x1: usize,
    /// Filters of the 1×1 reduction before the 3×3 convolution.
    pub reduce3x3: usize,
    /// Filters of the 3×3 convolution.
    pub branch3x3: usize,
    /// Filters of the 1×1 reduction before the 5×5 convolution.
    pub reduce5x5: usize,
    /// Filters of the 5×5 convolution.
    pub branch5x5: usize,
    /// Filters of the 1×1 projection after the 3×3 max-pool (stride 1).
    pub pool_proj: usize,
    /// Keep the 1×1 reductions before the 3×3 and 5×5 convolutions.
    pub bottleneck: bool,
}

impl Default for InceptionConfig {
    fn default() -> Self {
        Self {
            branch1x1: 64,
            reduce3x3: 96,
            branch3x3: 128,
            reduce5x5: 16,
            branch5x5: 32,
            pool_proj: 32,
            bottleneck: true,
        }
    }
}

impl InceptionConfig {
    /// Channels of the concatenated output (256 by default).
    pub fn out_channels(&self) -> usize {
        self.branch1x1 + self.branch3x3 + self.branch5x5 + self.pool_proj
    }

    /// Checks every width, so that [`init`](Self::init) cannot panic inside Burn.
    pub fn validate(&self) -> Result<(), ModelError> {
        let widths = [
            ("branch1x1", self.branch1x1),
            ("reduce3x3", self.reduce3x3),
            ("branch3x3", self.branch3x3),
            ("reduce5x5", self.reduce5x5),
            ("branch5x5", self.branch5x5),
            ("pool_proj", self.pool_proj),
        ];
        match widths.iter().find(|(_, width)| *width == 0) {
            Some((key, _)) => Err(ModelError::key(
                format!("inception.{key}"),
                "must be at least 1, got 0",
            )),
            None => Ok(()),
        }
    }

    /// Builds the module for `in_channels` input channels.
    pub fn init(&self, in_channels: usize, device: &Device) -> Inception {
        let same = |cin: usize, cout: usize, k: usize| {
            Conv2dConfig::new([cin, cout], [k, k])
                .with_padding(PaddingConfig2d::Same)
                .init(device)
        };
        let reduced = |reduce: usize, out: usize, k: usize| match self.bottleneck {
            true => ReducedConv {
                reduce: Some(same(in_channels, reduce, 1)),
                conv: same(reduce, out, k),
            },
            false => ReducedConv {
                reduce: None,
                conv: same(in_channels, out, k),
            },
        };
        Inception {
            branch1x1: same(in_channels, self.branch1x1, 1),
            branch3x3: reduced(self.reduce3x3, self.branch3x3, 3),
            branch5x5: reduced(self.reduce5x5, self.branch5x5, 5),
            branch_pool: PoolBranch {
                pool: MaxPool2dConfig::new([3, 3])
                    .with_strides([1, 1])
                    .with_padding(PaddingConfig2d::Same)
                    .init(),
                proj: same(in_channels, self.pool_proj, 1),
            },
        }
    }
}

/// An optional 1×1 reduction followed by a k×k convolution, each with ReLU.
#[derive(Module, Debug)]
pub struct ReducedConv {
    /// The 1×1 bottleneck (absent when `bottleneck = false`).
    pub reduce: Option<Conv2d>,
    /// The 3×3 or 5×5 convolution.
    pub conv: Conv2d,
}

/// The pooling branch: 3×3 max-pool (stride 1, "same") then a 1×1 projection with ReLU.
#[derive(Module, Debug)]
pub struct PoolBranch {
    /// 3×3 max-pool, stride 1, "same".
    pub pool: MaxPool2d,
    /// 1×1 projection.
    pub proj: Conv2d,
}

/// Four parallel branches, concatenated: `[N, C, H, W]` → `[N, 256, H, W]`.
#[derive(Module, Debug)]
pub struct Inception {
    /// 1×1 convolution.
    pub branch1x1: Conv2d,
    /// (1×1 reduction →) 3×3 convolution.
    pub branch3x3: ReducedConv,
    /// (1×1 reduction →) 5×5 convolution.
    pub branch5x5: ReducedConv,
    /// 3×3 max-pool → 1×1 projection.
    pub branch_pool: PoolBranch,
}

/// ReLU(conv(x)), reported to `trace` as one row; returns the output and its MACs.
pub(crate) fn conv_relu(
    conv: &Conv2d,
    x: Tensor<4>,
    path: &str,
    trace: &mut Trace,
) -> (Tensor<4>, u64) {
    let y = zoo_kernels::conv2d_relu_module(conv, x);
    let [_, _, height, width] = y.dims();
    let macs = (conv.weight.shape().num_elements() * height * width) as u64;
    trace(path, "Conv2d+ReLU", &y.dims(), conv.num_params(), macs);
    (y, macs)
}

impl ReducedConv {
    /// Reports the reduction and the convolution, then itself as their parent (its MACs summed).
    fn forward_traced(&self, x: Tensor<4>, path: &str, trace: &mut Trace) -> (Tensor<4>, u64) {
        let (mut y, mut macs) = (x, 0);
        if let Some(reduce) = &self.reduce {
            let (reduced, m) = conv_relu(reduce, y, &format!("{path}.reduce"), trace);
            (y, macs) = (reduced, m);
        }
        let (y, m) = conv_relu(&self.conv, y, &format!("{path}.conv"), trace);
        macs += m;
        trace(path, "Branch", &y.dims(), self.num_params(), macs);
        (y, macs)
    }
}

impl PoolBranch {
    /// Reports the pool and the projection, then itself as their parent.
    fn forward_traced(&self, x: Tensor<4>, path: &str, trace: &mut Trace) -> (Tensor<4>, u64) {
        let pooled = zoo_kernels::max_pool2d_module(&self.pool, x);
        trace(&format!("{path}.pool"), "MaxPool2d", &pooled.dims(), 0, 0);
        let (y, macs) = conv_relu(&self.proj, pooled, &format!("{path}.proj"), trace);
        trace(path, "Branch", &y.dims(), self.num_params(), macs);
        (y, macs)
    }
}

impl Inception {
    /// The concatenated branches, reporting every layer and branch to `trace` under `prefix`
    /// (parents are reported after their children, whose parameters and MACs they sum).
    pub fn forward_traced(&self, x: Tensor<4>, prefix: &str, trace: &mut Trace) -> Tensor<4> {
        let (b1, m1) = conv_relu(
            &self.branch1x1,
            x.clone(),
            &format!("{prefix}.branch1x1"),
            trace,
        );
        let (b3, m3) =
            self.branch3x3
                .forward_traced(x.clone(), &format!("{prefix}.branch3x3"), trace);
        let (b5, m5) =
            self.branch5x5
                .forward_traced(x.clone(), &format!("{prefix}.branch5x5"), trace);
        let (bp, mp) = self
            .branch_pool
            .forward_traced(x, &format!("{prefix}.branch_pool"), trace);
        let out = zoo_kernels::cat_channels(vec![b1, b3, b5, bp]);
        trace(
            prefix,
            "Inception",
            &out.dims(),
            self.num_params(),
            m1 + m3 + m5 + mp,
        );
        out
    }

    /// The concatenated branches `[N, out_channels, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_traced(x, "inception", &mut |_, _, _, _, _| {})
    }
}
