//! The Conv1D sequence classifier (HW3 Q3): its configuration, its module and its forward
//! pass.

use burn::module::Module;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::pool::{MaxPool1d, MaxPool1dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::serde::{Deserialize, Serialize};
use burn::tensor::{Device, Tensor};
use zoo_model::ModelError;
use zoo_model::Trace;

/// Configuration of [`Conv1dClassifier`]; the default is the homework's Q3 network.
///
/// The flatten size is derived from `length`, `kernel_sizes` and the pooling, never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(crate = "burn::serde", default, deny_unknown_fields)]
pub struct Conv1dClassifierConfig {
    /// Channels of the input sequence (the homework's 7 features).
    pub in_channels: usize,
    /// Length of the input sequence (the homework's 500 time steps).
    pub length: usize,
    /// Number of classes (logits).
    pub num_classes: usize,
    /// Filters of the three convolutions.
    pub filters: [usize; 3],
    /// Kernel sizes of the three convolutions.
    pub kernel_sizes: [usize; 3],
    /// Width of the hidden dense layer.
    pub hidden: usize,
}

impl Default for Conv1dClassifierConfig {
    fn default() -> Self {
        Self {
            in_channels: 7,
            length: 500,
            num_classes: 5,
            filters: [16, 32, 64],
            kernel_sizes: [3, 5, 5],
            hidden: 128,
        }
    }
}

impl burn::config::Config for Conv1dClassifierConfig {}

impl Conv1dClassifierConfig {
    /// The homework's network: input (500, 7), 5 classes, 497,349 parameters.
    pub fn homework() -> Self {
        Self::default()
    }

    /// Sequence length after each conv (valid) + max-pool 2 (floor) stage, or `None` when a
    /// stage would have nothing left.
    fn stage_lengths(&self) -> Option<[usize; 3]> {
        let mut length = self.length;
        let mut out = [0; 3];
        for (slot, &kernel) in out.iter_mut().zip(&self.kernel_sizes) {
            length = length.checked_sub(kernel)? + 1;
            length /= 2;
            if length == 0 {
                return None;
            }
            *slot = length;
        }
        Some(out)
    }

    /// Shape `[C, L]` of the last stage's output, which `dense` takes flattened (`[64, 59]`
    /// by default); `None` when the sequence is too short.
    pub fn flatten_dims(&self) -> Option<[usize; 2]> {
        self.stage_lengths()
            .map(|lengths| [self.filters[2], lengths[2]])
    }

    /// Size of the flattened features fed to the dense layer (64 × 59 = 3776 by default).
    pub fn flatten_size(&self) -> usize {
        self.stage_lengths()
            .map_or(0, |lengths| lengths[2] * self.filters[2])
    }

    /// Checks every field, so that [`init`](Self::init) cannot panic inside Burn.
    pub fn validate(&self) -> Result<(), ModelError> {
        let scalars = [
            ("in_channels", self.in_channels),
            ("num_classes", self.num_classes),
            ("hidden", self.hidden),
        ];
        let arrays = [
            ("filters", self.filters),
            ("kernel_sizes", self.kernel_sizes),
        ];
        for (key, value) in scalars {
            if value == 0 {
                return Err(ModelError::key(key, "must be at least 1, got 0"));
            }
        }
        for (key, values) in arrays {
            if values.contains(&0) {
                return Err(ModelError::key(
                    key,
                    format!("must all be at least 1, got {values:?}"),
                ));
            }
        }
        if self.stage_lengths().is_none() {
            return Err(ModelError::key(
                "length",
                format!(
                    "= {} is too short for kernel sizes {:?} with pooling by 2",
                    self.length, self.kernel_sizes
                ),
            ));
        }
        Ok(())
    }

    /// Input shape of one item, channels first: `[in_channels, length]`.
    pub fn input_shape(&self) -> [usize; 2] {
        [self.in_channels, self.length]
    }

    /// Builds the model with Burn's default initialisation.
    ///
    /// # Panics
    /// If [`validate`](Self::validate) fails.
    pub fn init(&self, device: &Device) -> Conv1dClassifier {
        if let Err(message) = self.validate() {
            panic!("invalid Conv1dClassifierConfig: {message}");
        }
        let [f1, f2, f3] = self.filters;
        let [k1, k2, k3] = self.kernel_sizes;
        Conv1dClassifier {
            conv1: Conv1dConfig::new(self.in_channels, f1, k1).init(device),
            conv2: Conv1dConfig::new(f1, f2, k2).init(device),
            conv3: Conv1dConfig::new(f2, f3, k3).init(device),
            pool: MaxPool1dConfig::new(2).init(),
            dense: LinearConfig::new(self.flatten_size(), self.hidden).init(device),
            output: LinearConfig::new(self.hidden, self.num_classes).init(device),
        }
    }
}

/// Three Conv1d–ReLU–MaxPool stages, then Dense–ReLU and the logits: `[N, C, L]` → `[N, classes]`.
#[derive(Module, Debug)]
pub struct Conv1dClassifier {
    /// Conv1d 7 → 16, kernel 3.
    pub conv1: Conv1d,
    /// Conv1d 16 → 32, kernel 5.
    pub conv2: Conv1d,
    /// Conv1d 32 → 64, kernel 5.
    pub conv3: Conv1d,
    /// Max-pool 2, stride 2 (shared: it has no parameters).
    pub pool: MaxPool1d,
    /// Dense 3776 → 128.
    pub dense: Linear,
    /// Dense 128 → 5 (logits).
    pub output: Linear,
}

impl Conv1dClassifier {
    /// Logits `[N, num_classes]` for sequences `[N, in_channels, length]`.
    pub fn forward(&self, input: Tensor<3>) -> Tensor<2> {
        self.forward_traced(input, &mut |_, _, _, _, _| {})
    }

    /// [`forward`](Self::forward), reporting each layer to `trace` as
    /// `(path, layer type, output shape, parameters, multiply-accumulates per item)`.
    /// Plain std types keep this crate free of anything but Burn; `zoo summary` prints them.
    pub fn forward_traced(&self, input: Tensor<3>, trace: &mut Trace) -> Tensor<2> {
        let mut x = input;
        let stages = [
            ("conv1", &self.conv1, "pool1"),
            ("conv2", &self.conv2, "pool2"),
            ("conv3", &self.conv3, "pool3"),
        ];
        for (name, conv, pool_name) in stages {
            // The convolution, its ReLU and the pool in one call (fused on Flex for inference,
            // where the convolution's output is never stored whole): its output shape is
            // computed for the trace (valid padding, stride 1, as `init` builds it).
            let [batch, _, length] = x.dims();
            let conv_dims = [batch, conv.weight.dims()[0], length + 1 - conv.kernel_size];
            x = zoo_kernels::conv1d_relu_pool_module(conv, &self.pool, x);
            let macs = conv.weight.shape().num_elements() * conv_dims[2];
            trace(
                name,
                "Conv1d+ReLU",
                &conv_dims,
                conv.num_params(),
                macs as u64,
            );
            trace(pool_name, "MaxPool1d", &x.dims(), 0, 0);
        }
        let x = x.flatten::<2>(1, 2);
        trace("flatten", "Flatten", &x.dims(), 0, 0);
        let x = zoo_kernels::linear_relu_module(&self.dense, x);
        let macs = self.dense.weight.shape().num_elements();
        trace(
            "dense",
            "Linear+ReLU",
            &x.dims(),
            self.dense.num_params(),
            macs as u64,
        );
        let logits = zoo_kernels::linear_module(&self.output, x);
        let macs = self.output.weight.shape().num_elements();
        trace(
            "output",
            "Linear",
            &logits.dims(),
            self.output.num_params(),
            macs as u64,
        );
        logits
    }
}

/// The zoo's view of this crate (zoo-model): listed, built and trained from these.
impl zoo_model::Network for Conv1dClassifier {
    type Input = Tensor<3>;
    type Output = Tensor<2>;
    fn forward_traced(&self, input: Tensor<3>, trace: &mut Trace) -> Tensor<2> {
        Conv1dClassifier::forward_traced(self, input, trace)
    }
}

impl zoo_model::Architecture for Conv1dClassifierConfig {
    type Network = Conv1dClassifier;
    const NAME: &'static str = "conv1d-classifier";
    const DESCRIPTION: &'static str =
        "Q3: Conv1D sequence classifier, 3 conv-pool stages + 2 dense";

    fn reference() -> Self {
        Self::homework()
    }
    fn validate(&self) -> Result<(), ModelError> {
        Conv1dClassifierConfig::validate(self)
    }
    fn input_shape(&self) -> Vec<usize> {
        Conv1dClassifierConfig::input_shape(self).to_vec()
    }
    fn output(&self) -> zoo_model::Output {
        zoo_model::Output::Classes(self.num_classes)
    }
    fn set_input_shape(&mut self, shape: &[usize]) -> Result<(), ModelError> {
        (self.in_channels, self.length) = zoo_model::sequence(Self::NAME, shape)?;
        Ok(())
    }

    fn flattened(&self) -> Option<(&'static str, Vec<usize>)> {
        Some(("dense", self.flatten_dims()?.to_vec()))
    }
    fn init(&self, device: &Device) -> Conv1dClassifier {
        Conv1dClassifierConfig::init(self, device)
    }
}
