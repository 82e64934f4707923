//! The binary CNN (HW3 Q4): its configuration, its module and its forward pass.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::serde::{Deserialize, Serialize};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use zoo_model::ModelError;
use zoo_model::Trace;

/// Configuration of [`BinaryCnn`]; the default is the homework's Q4 Keras model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "burn::serde", default, deny_unknown_fields)]
pub struct BinaryCnnConfig {
    /// Input channels (1: grayscale).
    pub in_channels: usize,
    /// Side of the square input image.
    pub image_size: usize,
    /// Filters of the four conv blocks.
    pub filters: [usize; 4],
    /// Kernel sizes of the four conv blocks.
    pub kernel_sizes: [usize; 4],
    /// Dropout after each conv block.
    pub conv_dropout: [f64; 4],
    /// Widths of the two hidden dense layers.
    pub hidden: [usize; 2],
    /// Dropout after the first hidden dense layer.
    pub dense_dropout: f64,
    /// Multiplier applied to the raw input (Keras `Rescaling(1/255)`): the model takes 0–255 pixels.
    pub rescale: f64,
}

impl Default for BinaryCnnConfig {
    fn default() -> Self {
        Self {
            in_channels: 1,
            image_size: 256,
            filters: [16, 32, 64, 128],
            kernel_sizes: [5, 5, 3, 3],
            conv_dropout: [0.5, 0.4, 0.3, 0.2],
            hidden: [64, 32],
            dense_dropout: 0.2,
            rescale: 1.0 / 255.0,
        }
    }
}

impl burn::config::Config for BinaryCnnConfig {}

impl BinaryCnnConfig {
    /// The homework's model: 256×256×1 input, 1,492,225 parameters.
    pub fn homework() -> Self {
        Self::default()
    }

    /// Side of the feature map after each conv (valid) + max-pool 2 (floor) block, or `None`
    /// when a block would have nothing left.
    fn block_sizes(&self) -> Option<[usize; 4]> {
        let mut size = self.image_size;
        let mut out = [0; 4];
        for (slot, &kernel) in out.iter_mut().zip(&self.kernel_sizes) {
            let convolved = size.checked_sub(kernel)? + 1; // "valid" convolution
            size = convolved / 2; // max-pool 2, floor
            if size == 0 {
                return None;
            }
            *slot = size;
        }
        Some(out)
    }

    /// Shape `[C, H, W]` of the last block's output, which `dense1` takes flattened
    /// (`[128, 13, 13]` by default); `None` when the image is too small.
    pub fn flatten_dims(&self) -> Option<[usize; 3]> {
        self.block_sizes()
            .map(|sizes| [self.filters[3], sizes[3], sizes[3]])
    }

    /// Size of the flattened features (128 × 13 × 13 = 21,632 by default).
    pub fn flatten_size(&self) -> usize {
        self.block_sizes()
            .map_or(0, |sizes| sizes[3] * sizes[3] * self.filters[3])
    }

    /// Checks every field, so that [`init`](Self::init) cannot panic inside Burn.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.in_channels == 0 {
            return Err(ModelError::key("in_channels", "must be at least 1, got 0"));
        }
        let arrays = [
            ("filters", &self.filters[..]),
            ("kernel_sizes", &self.kernel_sizes[..]),
            ("hidden", &self.hidden[..]),
        ];
        for (key, values) in arrays {
            if values.contains(&0) {
                return Err(ModelError::key(
                    key,
                    format!("must all be at least 1, got {values:?}"),
                ));
            }
        }
        let outside = |p: &f64| !(0.0..1.0).contains(p);
        if self.conv_dropout.iter().any(outside) {
            return Err(ModelError::key(
                "conv_dropout",
                format!(
                    "holds dropout probabilities, each in [0, 1), got {:?}",
                    self.conv_dropout
                ),
            ));
        }
        if outside(&self.dense_dropout) {
            return Err(ModelError::key(
                "dense_dropout",
                format!(
                    "is a dropout probability, in [0, 1), got {}",
                    self.dense_dropout
                ),
            ));
        }
        if !self.rescale.is_finite() {
            return Err(ModelError::key(
                "rescale",
                format!("must be finite, got {}", self.rescale),
            ));
        }
        if self.block_sizes().is_none() {
            return Err(ModelError::key(
                "image_size",
                format!(
                    "= {} is too small for kernel sizes {:?} with pooling by 2",
                    self.image_size, self.kernel_sizes
                ),
            ));
        }
        Ok(())
    }

    /// Input shape of one item, channels first: `[in_channels, image_size, image_size]`.
    pub fn input_shape(&self) -> [usize; 3] {
        [self.in_channels, self.image_size, self.image_size]
    }

    /// Builds the model with Burn's default initialisation.
    ///
    /// # Panics
    /// If [`validate`](Self::validate) fails.
    pub fn init(&self, device: &Device) -> BinaryCnn {
        if let Err(message) = self.validate() {
            panic!("invalid BinaryCnnConfig: {message}");
        }
        let channels_in = [
            self.in_channels,
            self.filters[0],
            self.filters[1],
            self.filters[2],
        ];
        let blocks = (0..4)
            .map(|i| ConvBlock {
                conv: Conv2dConfig::new(
                    [channels_in[i], self.filters[i]],
                    [self.kernel_sizes[i], self.kernel_sizes[i]],
                )
                .init(device),
                pool: MaxPool2dConfig::new([2, 2]).init(),
                dropout: DropoutConfig::new(self.conv_dropout[i]).init(),
            })
            .collect();
        let [h1, h2] = self.hidden;
        BinaryCnn {
            blocks,
            dense1: LinearConfig::new(self.flatten_size(), h1).init(device),
            dense_dropout: DropoutConfig::new(self.dense_dropout).init(),
            dense2: LinearConfig::new(h1, h2).init(device),
            output: LinearConfig::new(h2, 1).init(device),
            rescale: self.rescale,
        }
    }
}

/// Conv (valid) → ReLU → MaxPool 2 → Dropout.
#[derive(Module, Debug)]
pub struct ConvBlock {
    /// The convolution.
    pub conv: Conv2d,
    /// Max-pool 2, stride 2.
    pub pool: MaxPool2d,
    /// Dropout (active only on an autodiff device, i.e. while training).
    pub dropout: Dropout,
}

/// Four conv blocks, Dense 64 → Dense 32 → one logit: `[N, 1, 256, 256]` (0–255) → `[N, 1]`.
///
/// The output is a logit: train with BCE-with-logits, read probabilities with
/// [`predict_proba`](Self::predict_proba).
#[derive(Module, Debug)]
pub struct BinaryCnn {
    /// The four conv blocks.
    pub blocks: Vec<ConvBlock>,
    /// Dense 21,632 → 64.
    pub dense1: Linear,
    /// Dropout after `dense1`.
    pub dense_dropout: Dropout,
    /// Dense 64 → 32.
    pub dense2: Linear,
    /// Dense 32 → 1 (the logit).
    pub output: Linear,
    /// Input multiplier (1/255).
    pub rescale: f64,
}

impl BinaryCnn {
    /// Logits `[N, 1]` for raw 0–255 images `[N, C, H, W]`.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        self.forward_traced(input, &mut |_, _, _, _, _| {})
    }

    /// Probability of the positive class, `[N, 1]`: the sigmoid of the logit.
    pub fn predict_proba(&self, input: Tensor<4>) -> Tensor<2> {
        sigmoid(self.forward(input))
    }

    /// [`forward`](Self::forward), reporting each layer to `trace` as
    /// `(path, layer type, output shape, parameters, multiply-accumulates per item)`.
    /// Plain std types keep this crate free of anything but Burn; `zoo summary` prints them.
    pub fn forward_traced(&self, input: Tensor<4>, trace: &mut Trace) -> Tensor<2> {
        let mut x = input * self.rescale;
        trace("rescaling", "Rescaling", &x.dims(), 0, 0);
        for (i, block) in self.blocks.iter().enumerate() {
            // The convolution, its ReLU and the pool in one call (fused on Flex for inference,
            // where the convolution's output is never stored whole): its output shape is
            // computed for the trace (valid padding, stride 1, as `init` builds it).
            let [batch, _, height, width] = x.dims();
            let [filters, _, kh, kw] = block.conv.weight.dims();
            let conv_dims = [batch, filters, height + 1 - kh, width + 1 - kw];
            x = zoo_kernels::conv2d_relu_pool_module(&block.conv, &block.pool, x);
            let macs = block.conv.weight.shape().num_elements() * conv_dims[2] * conv_dims[3];
            let params = block.conv.num_params();
            trace(
                &format!("conv{}", i + 1),
                "Conv2d+ReLU",
                &conv_dims,
                params,
                macs as u64,
            );
            trace(&format!("pool{}", i + 1), "MaxPool2d", &x.dims(), 0, 0);
            x = zoo_kernels::dropout_module(&block.dropout, x);
            trace(&format!("dropout{}", i + 1), "Dropout", &x.dims(), 0, 0);
        }
        let x = x.flatten::<2>(1, 3);
        trace("flatten", "Flatten", &x.dims(), 0, 0);
        let x = zoo_kernels::linear_relu_module(&self.dense1, x);
        let macs = self.dense1.weight.shape().num_elements() as u64;
        trace(
            "dense1",
            "Linear+ReLU",
            &x.dims(),
            self.dense1.num_params(),
            macs,
        );
        let x = zoo_kernels::dropout_module(&self.dense_dropout, x);
        trace("dense_dropout", "Dropout", &x.dims(), 0, 0);
        let x = zoo_kernels::linear_relu_module(&self.dense2, x);
        let macs = self.dense2.weight.shape().num_elements() as u64;
        trace(
            "dense2",
            "Linear+ReLU",
            &x.dims(),
            self.dense2.num_params(),
            macs,
        );
        let logits = zoo_kernels::linear_module(&self.output, x);
        let macs = self.output.weight.shape().num_elements() as u64;
        trace(
            "output",
            "Linear",
            &logits.dims(),
            self.output.num_params(),
            macs,
        );
        logits
    }
}

/// The zoo's view of this crate (zoo-model): listed, built and trained from these.
impl zoo_model::Network for BinaryCnn {
    type Input = Tensor<4>;
    type Output = Tensor<2>;
    fn forward_traced(&self, input: Tensor<4>, trace: &mut Trace) -> Tensor<2> {
        BinaryCnn::forward_traced(self, input, trace)
    }
}

impl zoo_model::Architecture for BinaryCnnConfig {
    type Network = BinaryCnn;
    const NAME: &'static str = "binary-cnn";
    const DESCRIPTION: &'static str =
        "Q4: grayscale binary image classifier, 4 conv blocks with dropout";

    fn reference() -> Self {
        Self::homework()
    }
    fn validate(&self) -> Result<(), ModelError> {
        BinaryCnnConfig::validate(self)
    }
    fn input_shape(&self) -> Vec<usize> {
        BinaryCnnConfig::input_shape(self).to_vec()
    }
    fn output(&self) -> zoo_model::Output {
        zoo_model::Output::BinaryLogit
    }
    fn set_input_shape(&mut self, shape: &[usize]) -> Result<(), ModelError> {
        (self.in_channels, self.image_size) = zoo_model::square_image(Self::NAME, shape)?;
        Ok(())
    }

    fn flattened(&self) -> Option<(&'static str, Vec<usize>)> {
        Some(("dense1", self.flatten_dims()?.to_vec()))
    }
    fn init(&self, device: &Device) -> BinaryCnn {
        BinaryCnnConfig::init(self, device)
    }
}
