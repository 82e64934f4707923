//! Conv 2×2 + global average pooling (HW3 Q2): its configuration, its module, its forward
//! pass and the homework's worked example.

use burn::module::{Module, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::serde::{Deserialize, Serialize};
use burn::tensor::{Device, Tensor};
use zoo_model::ModelError;
use zoo_model::Trace;

/// The homework's worked example: input X, filter F, and the values derived by hand.
///
/// All of them are exact in f32 (multiples of 1/4), so tests compare with `==`.
pub mod homework {
    /// The 3×3 input X.
    pub const X: [[f32; 3]; 3] = [[3.0, 4.0, 5.0], [2.0, 1.0, -3.0], [4.0, -2.0, 0.0]];
    /// The 2×2 filter F.
    pub const F: [[f32; 2]; 2] = [[2.0, 0.0], [-3.0, 1.0]];
    /// The convolution output O = X ⋆ F (valid cross-correlation, stride 1).
    pub const O: [[f32; 2]; 2] = [[1.0, 2.0], [-10.0, 8.0]];
    /// G, the global average of O.
    pub const G: f32 = 0.25;
    /// dL/dX for dL/dG = 1.
    pub const DL_DX: [[f32; 3]; 3] = [[0.5, 0.5, 0.0], [-0.25, 0.0, 0.25], [-0.75, -0.5, 0.25]];
    /// dL/dF for dL/dG = 1.
    pub const DL_DF: [[f32; 2]; 2] = [[2.5, 1.75], [1.25, -1.0]];
}

/// Configuration of [`ConvGap`]; the default is the homework's (one 2×2 filter, no bias).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "burn::serde", default, deny_unknown_fields)]
pub struct ConvGapConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Filters (output channels); G has one value per filter.
    pub filters: usize,
    /// Side of the square kernel.
    pub kernel_size: usize,
    /// Whether the convolution adds a bias (the homework's has none).
    pub bias: bool,
    /// Side of the square input, used for summaries and dummy inputs.
    pub image_size: usize,
}

impl Default for ConvGapConfig {
    fn default() -> Self {
        Self {
            in_channels: 1,
            filters: 1,
            kernel_size: 2,
            bias: false,
            image_size: 3,
        }
    }
}

impl burn::config::Config for ConvGapConfig {}

impl ConvGapConfig {
    /// The homework's model: 1 → 1 channel, 2×2, no bias, on a 3×3 input.
    pub fn homework() -> Self {
        Self::default()
    }

    /// Checks every field, so that [`init`](Self::init) cannot panic inside Burn.
    pub fn validate(&self) -> Result<(), ModelError> {
        for (key, value) in [
            ("in_channels", self.in_channels),
            ("filters", self.filters),
            ("kernel_size", self.kernel_size),
        ] {
            if value == 0 {
                return Err(ModelError::key(key, "must be at least 1, got 0"));
            }
        }
        if self.image_size < self.kernel_size {
            return Err(ModelError::key(
                "image_size",
                format!(
                    "({}) must be at least model.kernel_size ({})",
                    self.image_size, self.kernel_size
                ),
            ));
        }
        Ok(())
    }

    /// Input shape of one item, channels first: `[in_channels, image_size, image_size]`.
    pub fn input_shape(&self) -> [usize; 3] {
        [self.in_channels, self.image_size, self.image_size]
    }

    /// Builds the model with Burn's default (Kaiming-uniform) initialisation.
    ///
    /// # Panics
    /// If [`validate`](Self::validate) fails.
    pub fn init(&self, device: &Device) -> ConvGap {
        if let Err(message) = self.validate() {
            panic!("invalid ConvGapConfig: {message}");
        }
        let conv = Conv2dConfig::new(
            [self.in_channels, self.filters],
            [self.kernel_size, self.kernel_size],
        )
        .with_padding(PaddingConfig2d::Valid)
        .with_bias(self.bias)
        .init(device);
        ConvGap { conv }
    }
}

/// Convolution then global average pooling: `[N, C, H, W]` → `[N, filters]`.
#[derive(Module, Debug)]
pub struct ConvGap {
    /// The convolution; its weight is F, shape `[filters, in_channels, k, k]`.
    pub conv: Conv2d,
}

impl ConvGap {
    /// The homework's model with a given 2×2 filter F (no bias).
    pub fn from_filter(filter: [[f32; 2]; 2], device: &Device) -> Self {
        let mut model = ConvGapConfig::homework().init(device);
        let weight = Tensor::<2>::from_floats(filter, device).reshape([1, 1, 2, 2]);
        model.conv.weight = Param::from_tensor(weight);
        model
    }

    /// The feature map O = X ⋆ F: `[N, filters, H - k + 1, W - k + 1]`.
    pub fn feature_map(&self, input: Tensor<4>) -> Tensor<4> {
        zoo_kernels::conv2d_module(&self.conv, input)
    }

    /// G, the global average of each feature map: `[N, filters]`.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        self.forward_traced(input, &mut |_, _, _, _, _| {})
    }

    /// [`forward`](Self::forward), reporting each layer to `trace` as
    /// `(path, layer type, output shape, parameters, multiply-accumulates per item)`.
    /// Plain std types keep this crate free of anything but Burn; `zoo summary` prints them.
    pub fn forward_traced(&self, input: Tensor<4>, trace: &mut Trace) -> Tensor<2> {
        let map = self.feature_map(input);
        let [batch, filters, height, width] = map.dims();
        let weights = self.conv.weight.shape().num_elements();
        trace(
            "conv",
            "Conv2d",
            &map.dims(),
            self.conv.num_params(),
            (weights * height * width) as u64,
        );
        let pooled = map.mean_dim(3).mean_dim(2).reshape([batch, filters]);
        trace("gap", "GlobalAvgPool2d", &pooled.dims(), 0, 0);
        pooled
    }
}

/// The zoo's view of this crate (zoo-model): listed, built and trained from these.
impl zoo_model::Network for ConvGap {
    type Input = Tensor<4>;
    type Output = Tensor<2>;
    fn forward_traced(&self, input: Tensor<4>, trace: &mut Trace) -> Tensor<2> {
        ConvGap::forward_traced(self, input, trace)
    }
}

impl zoo_model::Architecture for ConvGapConfig {
    type Network = ConvGap;
    const NAME: &'static str = "conv-gap";
    const DESCRIPTION: &'static str =
        "Q2: conv 2x2 (no bias) + global average pooling, hand-derived gradients";

    fn reference() -> Self {
        Self::homework()
    }
    fn validate(&self) -> Result<(), ModelError> {
        ConvGapConfig::validate(self)
    }
    fn input_shape(&self) -> Vec<usize> {
        ConvGapConfig::input_shape(self).to_vec()
    }
    fn output(&self) -> zoo_model::Output {
        zoo_model::Output::Features
    }
    fn output_description(&self) -> String {
        format!("{} average(s), no classes", self.filters)
    }
    fn set_input_shape(&mut self, shape: &[usize]) -> Result<(), ModelError> {
        (self.in_channels, self.image_size) = zoo_model::square_image(Self::NAME, shape)?;
        Ok(())
    }
    fn init(&self, device: &Device) -> ConvGap {
        ConvGapConfig::init(self, device)
    }
}
