//! The model registry: one exhaustive enum that knows every architecture, matched here and
//! nowhere else. Adding an architecture = one crate under `models/`, one config under
//! `configs/`, one variant below (the compiler then points at each match to extend).

use binary_cnn::{BinaryCnn, BinaryCnnConfig};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use cifar_inception::{CifarInception, CifarInceptionConfig};
use conv_gap::{ConvGap, ConvGapConfig};
use conv1d_classifier::{Conv1dClassifier, Conv1dClassifierConfig};
use pointwise_conv::{PointwiseConv, PointwiseConvConfig};
use serde::{Deserialize, Serialize};
use zoo_data::DataSpec;
use zoo_train::Classify;

use crate::summary::{LayerRow, Summary};

/// Applies the same expression to whichever model a [`Model`] holds; `Variant` names that
/// model's variant inside the expression, to rewrap a result.
macro_rules! each_model {
    ($model:expr, $variant:ident($inner:ident) => $body:expr) => {
        match $model {
            Model::ConvGap($inner) => {
                #[allow(unused_imports)] // not every expression rewraps
                use Model::ConvGap as $variant;
                $body
            }
            Model::Conv1dClassifier($inner) => {
                #[allow(unused_imports)] // not every expression rewraps
                use Model::Conv1dClassifier as $variant;
                $body
            }
            Model::BinaryCnn($inner) => {
                #[allow(unused_imports)] // not every expression rewraps
                use Model::BinaryCnn as $variant;
                $body
            }
            Model::PointwiseConv($inner) => {
                #[allow(unused_imports)] // not every expression rewraps
                use Model::PointwiseConv as $variant;
                $body
            }
            Model::CifarInception($inner) => {
                #[allow(unused_imports)] // not every expression rewraps
                use Model::CifarInception as $variant;
                $body
            }
        }
    };
}

/// Every architecture with its configuration: the `[model]` table, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ModelKind {
    /// HW3 Q2: conv 2×2 + global average pooling.
    ConvGap(ConvGapConfig),
    /// HW3 Q3: Conv1D sequence classifier.
    Conv1dClassifier(Conv1dClassifierConfig),
    /// HW3 Q4: binary image classifier.
    BinaryCnn(BinaryCnnConfig),
    /// HW3 Q6: 1×1 convolution.
    PointwiseConv(PointwiseConvConfig),
    /// HW3 Q7: CIFAR-10 CNN with an Inception module.
    CifarInception(CifarInceptionConfig),
}

impl ModelKind {
    /// Every architecture with the homework's configuration, in homework order.
    pub fn all() -> Vec<ModelKind> {
        vec![
            ModelKind::ConvGap(ConvGapConfig::homework()),
            ModelKind::Conv1dClassifier(Conv1dClassifierConfig::homework()),
            ModelKind::BinaryCnn(BinaryCnnConfig::homework()),
            ModelKind::PointwiseConv(PointwiseConvConfig::homework()),
            ModelKind::CifarInception(CifarInceptionConfig::cifar10()),
        ]
    }

    /// The architecture with the homework's configuration, by crate name.
    pub fn by_name(name: &str) -> Option<ModelKind> {
        Self::all().into_iter().find(|model| model.name() == name)
    }

    /// The crate name, also the `kind` in configs.
    pub fn name(&self) -> &'static str {
        match self {
            ModelKind::ConvGap(_) => "conv-gap",
            ModelKind::Conv1dClassifier(_) => "conv1d-classifier",
            ModelKind::BinaryCnn(_) => "binary-cnn",
            ModelKind::PointwiseConv(_) => "pointwise-conv",
            ModelKind::CifarInception(_) => "cifar-inception",
        }
    }

    /// One line for `zoo list`.
    pub fn description(&self) -> &'static str {
        match self {
            ModelKind::ConvGap(_) => {
                "Q2: conv 2x2 (no bias) + global average pooling, hand-derived gradients"
            }
            ModelKind::Conv1dClassifier(_) => {
                "Q3: Conv1D sequence classifier, 3 conv-pool stages + 2 dense"
            }
            ModelKind::BinaryCnn(_) => {
                "Q4: grayscale binary image classifier, 4 conv blocks with dropout"
            }
            ModelKind::PointwiseConv(_) => {
                "Q6: 1x1 convolution, 64 -> 32 channels, spatial size unchanged"
            }
            ModelKind::CifarInception(_) => "Q7: CIFAR-10 CNN with an Inception module",
        }
    }

    /// Checks the configuration, so building cannot panic.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            ModelKind::ConvGap(config) => config.validate(),
            ModelKind::Conv1dClassifier(config) => config.validate(),
            ModelKind::BinaryCnn(config) => config.validate(),
            ModelKind::PointwiseConv(config) => config.validate(),
            ModelKind::CifarInception(config) => config.validate(),
        }
    }

    /// Shape of one input item, channels first (Burn's layout).
    pub fn input_shape(&self) -> Vec<usize> {
        match self {
            ModelKind::ConvGap(config) => config.input_shape().to_vec(),
            ModelKind::Conv1dClassifier(config) => config.input_shape().to_vec(),
            ModelKind::BinaryCnn(config) => config.input_shape().to_vec(),
            ModelKind::PointwiseConv(config) => config.input_shape().to_vec(),
            ModelKind::CifarInception(config) => config.input_shape().to_vec(),
        }
    }

    /// What the model outputs: classes for classifiers, otherwise what the output holds.
    pub fn output_description(&self) -> String {
        match self {
            ModelKind::ConvGap(config) => format!("{} average(s), no classes", config.filters),
            ModelKind::Conv1dClassifier(config) => format!("{} classes", config.num_classes),
            ModelKind::BinaryCnn(_) => "2 classes (1 logit)".to_string(),
            ModelKind::PointwiseConv(config) => {
                format!("feature map, {} channels", config.out_channels)
            }
            ModelKind::CifarInception(config) => format!("{} classes", config.num_classes),
        }
    }

    /// What the model needs from a data set (item shape and classes), or `None` for the
    /// models that are not classifiers (conv-gap, pointwise-conv).
    pub fn data_spec(&self) -> Option<DataSpec> {
        let classes = match self {
            ModelKind::ConvGap(_) | ModelKind::PointwiseConv(_) => return None,
            ModelKind::Conv1dClassifier(config) => config.num_classes,
            ModelKind::BinaryCnn(_) => 2,
            ModelKind::CifarInception(config) => config.num_classes,
        };
        Some(DataSpec {
            shape: self.input_shape(),
            classes,
        })
    }

    /// The same architecture for another input shape (channels first, without the batch):
    /// `[C, L]` for sequences, `[C, S, S]` for square images. `zoo summary --input`.
    pub fn with_input_shape(&self, shape: &[usize]) -> Result<ModelKind, String> {
        let square = |shape: &[usize]| match shape {
            [channels, height, width] if height == width => Ok((*channels, *height)),
            _ => Err(format!(
                "{} takes square images [C, S, S] (channels first), got {shape:?}",
                self.name()
            )),
        };
        let mut model = self.clone();
        match &mut model {
            ModelKind::Conv1dClassifier(config) => match shape {
                [channels, length] => (config.in_channels, config.length) = (*channels, *length),
                _ => {
                    return Err(format!(
                        "conv1d-classifier takes sequences [C, L] (channels first), got {shape:?}"
                    ));
                }
            },
            ModelKind::ConvGap(config) => (config.in_channels, config.image_size) = square(shape)?,
            ModelKind::BinaryCnn(config) => {
                (config.in_channels, config.image_size) = square(shape)?
            }
            ModelKind::PointwiseConv(config) => {
                (config.in_channels, config.image_size) = square(shape)?
            }
            ModelKind::CifarInception(config) => {
                (config.in_channels, config.image_size) = square(shape)?
            }
        }
        model.validate()?;
        Ok(model)
    }

    /// The dense layer that takes a flattened feature map, with that map's channels-first
    /// shape (`[C, L]` or `[C, H, W]`): Keras flattens channels last, so importing Keras
    /// weights reorders this layer's rows. `None` for models without one.
    pub fn flattened(&self) -> Option<(&'static str, Vec<usize>)> {
        match self {
            ModelKind::ConvGap(_) | ModelKind::PointwiseConv(_) => None,
            ModelKind::Conv1dClassifier(config) => Some(("dense", config.flatten_dims()?.to_vec())),
            ModelKind::BinaryCnn(config) => Some(("dense1", config.flatten_dims()?.to_vec())),
            ModelKind::CifarInception(config) => Some(("output", config.flatten_dims()?.to_vec())),
        }
    }

    /// Builds the model on `device` (validated first, so it cannot panic).
    pub fn init(&self, device: &Device) -> Result<Model, String> {
        self.validate()?;
        Ok(match self {
            ModelKind::ConvGap(config) => Model::ConvGap(config.init(device)),
            ModelKind::Conv1dClassifier(config) => Model::Conv1dClassifier(config.init(device)),
            ModelKind::BinaryCnn(config) => Model::BinaryCnn(config.init(device)),
            ModelKind::PointwiseConv(config) => Model::PointwiseConv(config.init(device)),
            ModelKind::CifarInception(config) => Model::CifarInception(config.init(device)),
        })
    }

    /// Builds the model on `device` and runs one traced forward pass on a random batch of
    /// `batch` items: the layer table of `zoo summary` and the parameter count of `zoo list`
    /// come from this real pass, not from numbers typed in.
    pub fn summarize(&self, device: &Device, batch: usize) -> Result<Summary, String> {
        let mut rows = Vec::new();
        let mut trace = |path: &str, kind: &str, shape: &[usize], params: usize, macs: u64| {
            rows.push(LayerRow {
                path: path.to_string(),
                kind: kind.to_string(),
                output_shape: shape.to_vec(),
                params,
                macs,
            })
        };
        let mut input_shape = vec![batch];
        input_shape.extend(self.input_shape());
        let model = self.init(device)?;
        // The input rank (3 for sequences, 4 for images) is inferred from each `forward_traced`.
        each_model!(&model, _Variant(inner) => {
            inner.forward_traced(random(&input_shape, device), &mut trace);
        });
        let (total, trainable) = each_model!(&model, _Variant(inner) => count_params(inner));
        Ok(Summary::new(
            self.name(),
            input_shape,
            rows,
            total,
            trainable,
        ))
    }
}

/// One layer's forward time over the measured passes of [`ModelKind::time_layers`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct LayerTime {
    /// Layer path, as in `zoo summary`.
    pub path: String,
    /// Layer type, as in `zoo summary`.
    pub kind: String,
    /// Median seconds from the previous layer's end to this layer's end.
    pub median_seconds: f64,
}

impl ModelKind {
    /// Per-layer forward times: `warmup + passes` inference passes of `model` on random batches
    /// of `batch` items, the device synchronised after each layer (the trace points of
    /// `zoo summary`), so that each layer's work is timed up to its end. Synchronising between
    /// layers stops a GPU backend from fusing across them: the sum can exceed a whole pass.
    pub fn time_layers(
        &self,
        model: &Model,
        device: &Device,
        batch: usize,
        warmup: usize,
        passes: usize,
    ) -> Result<Vec<LayerTime>, String> {
        let mut input_shape = vec![batch];
        input_shape.extend(self.input_shape());
        let mut rows: Vec<(String, String, Vec<f64>)> = Vec::new();
        let sync = || device.sync().map_err(|e| format!("device sync: {e:?}"));
        for pass in 0..warmup + passes {
            let mut index = 0;
            let mut failed = None;
            let last = std::cell::Cell::new(std::time::Instant::now());
            let mut trace = |path: &str, kind: &str, _: &[usize], _: usize, _: u64| {
                if let Err(error) = sync() {
                    failed.get_or_insert(error);
                }
                let seconds = last
                    .replace(std::time::Instant::now())
                    .elapsed()
                    .as_secs_f64();
                if pass >= warmup {
                    if pass == warmup {
                        rows.push((path.to_string(), kind.to_string(), Vec::new()));
                    }
                    rows[index].2.push(seconds);
                }
                index += 1;
            };
            // The input rank (3 or 4) is inferred from each `forward_traced`, as in `summarize`.
            each_model!(model, _Variant(inner) => {
                let input = random(&input_shape, device);
                sync()?;
                last.set(std::time::Instant::now());
                inner.forward_traced(input, &mut trace);
            });
            if let Some(error) = failed {
                return Err(error);
            }
        }
        Ok(rows
            .into_iter()
            .map(|(path, kind, mut seconds)| {
                seconds.sort_by(f64::total_cmp);
                LayerTime {
                    path,
                    kind,
                    median_seconds: seconds[seconds.len() / 2],
                }
            })
            .collect())
    }
}

/// A random input of rank `D` (uniform in [0, 1)) with the given shape.
fn random<const D: usize>(shape: &[usize], device: &Device) -> Tensor<D> {
    let dims: [usize; D] = shape
        .try_into()
        .unwrap_or_else(|_| panic!("model input has rank {D}, shape {shape:?} does not"));
    Tensor::random(dims, Distribution::Default, device)
}

/// (all parameters, parameters that take gradients) of a module.
fn count_params<M: Module>(module: &M) -> (usize, usize) {
    /// Counts parameter elements, and those a tape would differentiate.
    struct Counter {
        trainable: usize,
    }
    impl ModuleVisitor for Counter {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val();
            if !value.device().is_autodiff() || value.is_require_grad() {
                self.trainable += value.shape().num_elements();
            }
        }
    }
    let mut counter = Counter { trainable: 0 };
    module.visit(&mut counter);
    (module.num_params(), counter.trainable)
}

/// A built model of any registered architecture.
// The variants hold module trees of different sizes; a model is built once per command and
// never moved in a loop, so boxing would only add indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Model {
    /// See [`ModelKind::ConvGap`].
    ConvGap(ConvGap),
    /// See [`ModelKind::Conv1dClassifier`].
    Conv1dClassifier(Conv1dClassifier),
    /// See [`ModelKind::BinaryCnn`].
    BinaryCnn(BinaryCnn),
    /// See [`ModelKind::PointwiseConv`].
    PointwiseConv(PointwiseConv),
    /// See [`ModelKind::CifarInception`].
    CifarInception(CifarInception),
}

impl Model {
    /// The same weights on another device (another backend).
    pub fn to_device(self, device: &Device) -> Self {
        each_model!(self, Variant(model) => Variant(model.to_device(device)))
    }

    /// Runs the forward pass on `input` (batch first, channels first) and returns the
    /// output's data; the input's rank must be the model's.
    pub fn forward_data(&self, input: TensorData, device: &Device) -> TensorData {
        each_model!(self, _Variant(model) => {
            model.forward(Tensor::from_data(input, device)).into_data()
        })
    }
}

/// Image classifiers train through zoo-train's generic step; `ModelKind::data_spec` keeps the
/// other models (and sequence models) from ever being handed image batches.
impl Classify<Tensor<4>> for Model {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Model::BinaryCnn(model) => model.forward(images),
            Model::CifarInception(model) => model.forward(images),
            Model::ConvGap(_) | Model::PointwiseConv(_) | Model::Conv1dClassifier(_) => {
                unreachable!("only image classifiers get image batches (ModelKind::data_spec)")
            }
        }
    }
}

/// Sequence classifiers; see the image impl.
impl Classify<Tensor<3>> for Model {
    fn logits(&self, sequences: Tensor<3>) -> Tensor<2> {
        match self {
            Model::Conv1dClassifier(model) => model.forward(sequences),
            _ => unreachable!(
                "only sequence classifiers get sequence batches (ModelKind::data_spec)"
            ),
        }
    }
}
