//! The 1×1 convolution (HW3 Q6): its configuration, its module and its forward pass.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::serde::{Deserialize, Serialize};
use burn::tensor::{Device, Tensor};
use zoo_model::ModelError;
use zoo_model::Trace;

/// Configuration of [`PointwiseConv`]; the default is the homework's Q6 layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "burn::serde", default, deny_unknown_fields)]
pub struct PointwiseConvConfig {
    /// Input channels (64).
    pub in_channels: usize,
    /// Output channels (32).
    pub out_channels: usize,
    /// Side of the square input, used for summaries and dummy inputs (28).
    pub image_size: usize,
    /// Whether a ReLU follows the convolution.
    pub relu: bool,
}

impl Default for PointwiseConvConfig {
    fn default() -> Self {
        Self {
            in_channels: 64,
            out_channels: 32,
            image_size: 28,
            relu: true,
        }
    }
}

impl burn::config::Config for PointwiseConvConfig {}

impl PointwiseConvConfig {
    /// The homework's layer: 28×28×64 → 28×28×32, 2,080 parameters.
    pub fn homework() -> Self {
        Self::default()
    }

    /// Checks every field, so that [`init`](Self::init) cannot panic inside Burn.
    pub fn validate(&self) -> Result<(), ModelError> {
        for (key, value) in [
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
            ("image_size", self.image_size),
        ] {
            if value == 0 {
                return Err(ModelError::key(key, "must be at least 1, got 0"));
            }
        }
        Ok(())
    }

    /// Input shape of one item, channels first: `[in_channels, image_size, image_size]`.
    pub fn input_shape(&self) -> [usize; 3] {
        [self.in_channels, self.image_size, self.image_size]
    }

    /// Builds the layer with Burn's default initialisation.
    ///
    /// # Panics
    /// If [`validate`](Self::validate) fails.
    pub fn init(&self, device: &Device) -> PointwiseConv {
        if let Err(message) = self.validate() {
            panic!("invalid PointwiseConvConfig: {message}");
        }
        PointwiseConv {
            conv: Conv2dConfig::new([self.in_channels, self.out_channels], [1, 1]).init(device),
            relu: self.relu,
        }
    }
}

/// A 1×1 convolution: mixes channels at each pixel, leaves the spatial size unchanged.
/// `[N, 64, 28, 28]` → `[N, 32, 28, 28]`.
#[derive(Module, Debug)]
pub struct PointwiseConv {
    /// The 1×1 convolution (weight `[32, 64, 1, 1]`, bias `[32]`).
    pub conv: Conv2d,
    /// Whether a ReLU follows.
    pub relu: bool,
}

impl PointwiseConv {
    /// Feature maps `[N, out_channels, H, W]` for inputs `[N, in_channels, H, W]`.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        self.forward_traced(input, &mut |_, _, _, _, _| {})
    }

    /// [`forward`](Self::forward), reporting each layer to `trace` as
    /// `(path, layer type, output shape, parameters, multiply-accumulates per item)`.
    /// Plain std types keep this crate free of anything but Burn; `zoo summary` prints them.
    pub fn forward_traced(&self, input: Tensor<4>, trace: &mut Trace) -> Tensor<4> {
        let x = if self.relu {
            zoo_kernels::conv2d_relu_module(&self.conv, input)
        } else {
            zoo_kernels::conv2d_module(&self.conv, input)
        };
        let [_, _, height, width] = x.dims();
        let macs = self.conv.weight.shape().num_elements() * height * width;
        let kind = if self.relu { "Conv2d+ReLU" } else { "Conv2d" };
        trace("conv", kind, &x.dims(), self.conv.num_params(), macs as u64);
        x
    }
}

/// The zoo's view of this crate (zoo-model): listed, built and trained from these.
impl zoo_model::Network for PointwiseConv {
    type Input = Tensor<4>;
    type Output = Tensor<4>;
    fn forward_traced(&self, input: Tensor<4>, trace: &mut Trace) -> Tensor<4> {
        PointwiseConv::forward_traced(self, input, trace)
    }
}

impl zoo_model::Architecture for PointwiseConvConfig {
    type Network = PointwiseConv;
    const NAME: &'static str = "pointwise-conv";
    const DESCRIPTION: &'static str =
        "Q6: 1x1 convolution, 64 -> 32 channels, spatial size unchanged";

    fn reference() -> Self {
        Self::homework()
    }
    fn validate(&self) -> Result<(), ModelError> {
        PointwiseConvConfig::validate(self)
    }
    fn input_shape(&self) -> Vec<usize> {
        PointwiseConvConfig::input_shape(self).to_vec()
    }
    fn output(&self) -> zoo_model::Output {
        zoo_model::Output::Features
    }
    fn output_description(&self) -> String {
        format!("feature map, {} channels", self.out_channels)
    }
    fn set_input_shape(&mut self, shape: &[usize]) -> Result<(), ModelError> {
        (self.in_channels, self.image_size) = zoo_model::square_image(Self::NAME, shape)?;
        Ok(())
    }
    fn init(&self, device: &Device) -> PointwiseConv {
        PointwiseConvConfig::init(self, device)
    }
}
