//! The CIFAR-10 CNN with an Inception module (HW3 Q7): its configuration, its module and its
//! forward pass.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::serde::{Deserialize, Serialize};
use burn::tensor::{Device, Tensor};
use zoo_model::ModelError;

use crate::inception::{Inception, InceptionConfig, Trace, conv_relu};

/// Configuration of [`CifarInception`]; the default is the homework's Q7 CIFAR-10 model.
///
/// Channels, image size and class count are fields, so the same architecture serves
/// 1-channel 28×28 data ([`fashion_mnist`](Self::fashion_mnist)); the flatten size is derived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "burn::serde", default, deny_unknown_fields)]
pub struct CifarInceptionConfig {
    /// Input channels (3: RGB).
    pub in_channels: usize,
    /// Side of the square input image (32).
    pub image_size: usize,
    /// Number of classes (logits).
    pub num_classes: usize,
    /// Filters of the two 3×3 stem convolutions (32, 64).
    pub stem: [usize; 2],
    /// The Inception module's branch widths.
    pub inception: InceptionConfig,
    /// Filters of the 3×3 stride-2 and the last 3×3 convolution (128, 256).
    pub head: [usize; 2],
}

impl Default for CifarInceptionConfig {
    fn default() -> Self {
        Self {
            in_channels: 3,
            image_size: 32,
            num_classes: 10,
            stem: [32, 64],
            inception: InceptionConfig::default(),
            head: [128, 256],
        }
    }
}

impl burn::config::Config for CifarInceptionConfig {}

impl CifarInceptionConfig {
    /// The homework's model for CIFAR-10: 3×32×32, 10 classes, 787,642 parameters.
    pub fn cifar10() -> Self {
        Self::default()
    }

    /// The same architecture for Fashion-MNIST / MNIST: 1×28×28, 10 classes.
    pub fn fashion_mnist() -> Self {
        Self {
            in_channels: 1,
            image_size: 28,
            ..Self::default()
        }
    }

    /// Side of the last feature map (4 for 32×32 input), or `None` if the image is too small
    /// for the two valid convs, the pool, the stride-2 conv and the last conv.
    pub fn final_size(&self) -> Option<usize> {
        let pooled = self.image_size.checked_sub(4)? / 2;
        let strided = pooled.checked_sub(3)? / 2 + 1;
        let last = strided.checked_sub(2)?;
        (last > 0).then_some(last)
    }

    /// Shape `[C, H, W]` of conv4's output, which `output` takes flattened (`[256, 4, 4]` by
    /// default); `None` when the image is too small.
    pub fn flatten_dims(&self) -> Option<[usize; 3]> {
        self.final_size().map(|side| [self.head[1], side, side])
    }

    /// Size of the flattened features (256 × 4 × 4 = 4096 by default).
    pub fn flatten_size(&self) -> usize {
        self.final_size()
            .map_or(0, |side| side * side * self.head[1])
    }

    /// Checks every field, so that [`init`](Self::init) cannot panic inside Burn.
    pub fn validate(&self) -> Result<(), ModelError> {
        for (key, value) in [
            ("in_channels", self.in_channels),
            ("num_classes", self.num_classes),
        ] {
            if value == 0 {
                return Err(ModelError::key(key, "must be at least 1, got 0"));
            }
        }
        for (key, values) in [("stem", self.stem), ("head", self.head)] {
            if values.contains(&0) {
                return Err(ModelError::key(
                    key,
                    format!("must all be at least 1, got {values:?}"),
                ));
            }
        }
        self.inception.validate()?;
        if self.final_size().is_none() {
            return Err(ModelError::key(
                "image_size",
                format!(
                    "= {} is too small: this architecture needs at least 18",
                    self.image_size
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
    pub fn init(&self, device: &Device) -> CifarInception {
        if let Err(message) = self.validate() {
            panic!("invalid CifarInceptionConfig: {message}");
        }
        let conv3x3 = |cin, cout| Conv2dConfig::new([cin, cout], [3, 3]).init(device);
        let [s1, s2] = self.stem;
        let [h1, h2] = self.head;
        CifarInception {
            conv1: conv3x3(self.in_channels, s1),
            conv2: conv3x3(s1, s2),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            inception: self.inception.init(s2, device),
            conv3: Conv2dConfig::new([self.inception.out_channels(), h1], [3, 3])
                .with_stride([2, 2])
                .init(device),
            conv4: conv3x3(h1, h2),
            output: LinearConfig::new(self.flatten_size(), self.num_classes).init(device),
        }
    }
}

/// conv32 → conv64 → pool → Inception → conv128/2 → conv256 → dense: `[N, 3, 32, 32]` → `[N, 10]`.
#[derive(Module, Debug)]
pub struct CifarInception {
    /// Conv 3×3, 32 filters, valid: 32² → 30².
    pub conv1: Conv2d,
    /// Conv 3×3, 64 filters, valid: 30² → 28².
    pub conv2: Conv2d,
    /// Max-pool 2: 28² → 14².
    pub pool: MaxPool2d,
    /// Inception module: 64 → 256 channels at 14².
    pub inception: Inception,
    /// Conv 3×3 stride 2, 128 filters: 14² → 6².
    pub conv3: Conv2d,
    /// Conv 3×3, 256 filters: 6² → 4².
    pub conv4: Conv2d,
    /// Dense 4096 → 10 (logits).
    pub output: Linear,
}

impl CifarInception {
    /// Logits `[N, num_classes]` for images `[N, in_channels, image_size, image_size]`.
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        self.forward_traced(input, &mut |_, _, _, _, _| {})
    }

    /// [`forward`](Self::forward), reporting each layer to `trace` as
    /// `(path, layer type, output shape, parameters, multiply-accumulates per item)`.
    /// Plain std types keep this crate free of anything but Burn; `zoo summary` prints them.
    pub fn forward_traced(&self, input: Tensor<4>, trace: &mut Trace) -> Tensor<2> {
        let (x, _) = conv_relu(&self.conv1, input, "conv1", trace);
        // conv2, its ReLU and the pool in one call (fused on Flex for inference, where conv2's
        // output is never stored whole): conv2's output shape is computed for the trace (valid
        // padding, stride 1, as `init` builds it).
        let [batch, _, height, width] = x.dims();
        let [filters, _, kh, kw] = self.conv2.weight.dims();
        let conv2_dims = [batch, filters, height + 1 - kh, width + 1 - kw];
        let x = zoo_kernels::conv2d_relu_pool_module(&self.conv2, &self.pool, x);
        let macs = self.conv2.weight.shape().num_elements() * conv2_dims[2] * conv2_dims[3];
        let params = self.conv2.num_params();
        trace("conv2", "Conv2d+ReLU", &conv2_dims, params, macs as u64);
        trace("pool", "MaxPool2d", &x.dims(), 0, 0);
        let x = self.inception.forward_traced(x, "inception", trace);
        let (x, _) = conv_relu(&self.conv3, x, "conv3", trace);
        let (x, _) = conv_relu(&self.conv4, x, "conv4", trace);
        let x = x.flatten::<2>(1, 3);
        trace("flatten", "Flatten", &x.dims(), 0, 0);
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
impl zoo_model::Network for CifarInception {
    type Input = Tensor<4>;
    type Output = Tensor<2>;
    fn forward_traced(&self, input: Tensor<4>, trace: &mut Trace) -> Tensor<2> {
        CifarInception::forward_traced(self, input, trace)
    }
}

impl zoo_model::Architecture for CifarInceptionConfig {
    type Network = CifarInception;
    const NAME: &'static str = "cifar-inception";
    const DESCRIPTION: &'static str = "Q7: CIFAR-10 CNN with an Inception module";

    fn reference() -> Self {
        Self::cifar10()
    }
    fn validate(&self) -> Result<(), ModelError> {
        CifarInceptionConfig::validate(self)
    }
    fn input_shape(&self) -> Vec<usize> {
        CifarInceptionConfig::input_shape(self).to_vec()
    }
    fn output(&self) -> zoo_model::Output {
        zoo_model::Output::Classes(self.num_classes)
    }
    fn set_input_shape(&mut self, shape: &[usize]) -> Result<(), ModelError> {
        (self.in_channels, self.image_size) = zoo_model::square_image(Self::NAME, shape)?;
        Ok(())
    }

    fn flattened(&self) -> Option<(&'static str, Vec<usize>)> {
        Some(("output", self.flatten_dims()?.to_vec()))
    }
    fn init(&self, device: &Device) -> CifarInception {
        CifarInceptionConfig::init(self, device)
    }
}
