//! The model registry: the one list of architectures. Adding one = a crate under `models/`
//! that implements `zoo_model::Architecture`, its dependency line in this crate's
//! `Cargo.toml`, one line in `registry!` below, and a config under `configs/`. Everything
//! else here is generic over the trait, so there is no match to extend and nothing to forget:
//! a model crate that is not registered fails `tests/cli.rs` (every `models/*` is listed).

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use zoo_data::DataSpec;
use zoo_model::{Architecture, Batch, Input, ModelError, Network, Output, Prediction};
use zoo_train::{Classify, Task};

use crate::error::Error;
use crate::summary::{LayerRow, Summary};

/// Declares [`ModelKind`] (configurations, the `[model]` table tagged by `kind`) and [`Model`]
/// (built modules) with one variant per architecture, and the dispatch between them.
macro_rules! registry {
    ($($(#[$doc:meta])* $variant:ident => $config:ty,)+) => {
        /// Every architecture with its configuration: the `[model]` table, tagged by `kind`
        /// (the variant's name in kebab-case, which is the crate's `Architecture::NAME`;
        /// a unit test checks that they agree).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "kebab-case")]
        pub enum ModelKind {
            $($(#[$doc])* $variant($config),)+
        }

        /// A built model of any registered architecture.
        // The variants hold module trees of different sizes; a model is built once per
        // command and never moved in a loop, so boxing would only add indirection.
        #[allow(clippy::large_enum_variant)]
        #[derive(Module, Debug)]
        pub enum Model {
            $($(#[$doc])* $variant(<$config as Architecture>::Network),)+
        }

        impl ModelKind {
            /// Every architecture with its reference (the homework's) configuration, in
            /// registry order.
            pub fn all() -> Vec<ModelKind> {
                vec![$(ModelKind::$variant(<$config as Architecture>::reference()),)+]
            }

            /// The crate name, also the `kind` in configs.
            pub fn name(&self) -> &'static str {
                match self { $(ModelKind::$variant(_) => <$config as Architecture>::NAME,)+ }
            }

            /// One line for `zoo list`.
            pub fn description(&self) -> &'static str {
                match self {
                    $(ModelKind::$variant(_) => <$config as Architecture>::DESCRIPTION,)+
                }
            }

            /// Checks the configuration, so building cannot panic.
            pub fn validate(&self) -> Result<(), ModelError> {
                match self { $(ModelKind::$variant(config) => config.validate(),)+ }
            }

            /// Shape of one input item, channels first (Burn's layout).
            pub fn input_shape(&self) -> Vec<usize> {
                match self {
                    $(ModelKind::$variant(config) => Architecture::input_shape(config),)+
                }
            }

            /// What the model outputs (this decides the loss and the metrics).
            pub fn output(&self) -> Output {
                match self { $(ModelKind::$variant(config) => config.output(),)+ }
            }

            /// What the output holds, for `zoo list`.
            pub fn output_description(&self) -> String {
                match self { $(ModelKind::$variant(config) => config.output_description(),)+ }
            }

            /// The same architecture for another input shape (channels first, without the
            /// batch): `[C, L]` for sequences, `[C, S, S]` for square images.
            pub fn with_input_shape(&self, shape: &[usize]) -> Result<ModelKind, ModelError> {
                Ok(match self {
                    $(ModelKind::$variant(config) => {
                        ModelKind::$variant(config.with_input_shape(shape)?)
                    })+
                })
            }

            /// The dense layer that takes a flattened feature map, with that map's
            /// channels-first shape (Keras import reorders its rows). `None` without one.
            pub fn flattened(&self) -> Option<(&'static str, Vec<usize>)> {
                match self { $(ModelKind::$variant(config) => config.flattened(),)+ }
            }

            /// Builds the model on `device` (validated first, so it cannot panic).
            pub fn init(&self, device: &Device) -> Result<Model, ModelError> {
                self.validate()?;
                Ok(match self {
                    $(ModelKind::$variant(config) => Model::$variant(config.init(device)),)+
                })
            }
        }

        impl Model {
            /// The same weights on another device (another backend).
            pub fn to_device(self, device: &Device) -> Self {
                match self { $(Model::$variant(model) => Model::$variant(model.to_device(device)),)+ }
            }

            /// The forward pass of a batch of either kind, each layer reported to `trace`; an
            /// error when the batch is not the kind the model takes.
            pub fn forward_traced(
                &self,
                batch: Batch,
                trace: &mut zoo_model::Trace,
            ) -> Result<ModelOutput, Error> {
                match self { $(Model::$variant(model) => run_traced(model, batch, trace),)+ }
            }

            /// (all parameters, parameters that take gradients).
            pub fn count_params(&self) -> (usize, usize) {
                match self { $(Model::$variant(model) => count_params(model),)+ }
            }
        }
    };
}

registry! {
    /// HW3 Q2: conv 2×2 + global average pooling.
    ConvGap => conv_gap::ConvGapConfig,
    /// HW3 Q3: Conv1D sequence classifier.
    Conv1dClassifier => conv1d_classifier::Conv1dClassifierConfig,
    /// HW3 Q4: binary image classifier.
    BinaryCnn => binary_cnn::BinaryCnnConfig,
    /// HW3 Q6: 1×1 convolution.
    PointwiseConv => pointwise_conv::PointwiseConvConfig,
    /// HW3 Q7: CIFAR-10 CNN with an Inception module.
    CifarInception => cifar_inception::CifarInceptionConfig,
}

/// A model's output of a forward pass: logits for classifiers, any tensor's values otherwise.
pub enum ModelOutput {
    /// `[N, columns]`.
    Logits(Tensor<2>),
    /// Another rank (a feature map).
    Other(TensorData),
}

impl ModelOutput {
    /// The values.
    pub fn into_data(self) -> TensorData {
        match self {
            ModelOutput::Logits(logits) => logits.into_data(),
            ModelOutput::Other(data) => data,
        }
    }
}

/// One network's traced forward pass on a batch, if the batch is its kind.
fn run_traced<N: Network>(
    network: &N,
    batch: Batch,
    trace: &mut zoo_model::Trace,
) -> Result<ModelOutput, Error> {
    let kind = batch.kind();
    let input = N::Input::from_batch(batch).ok_or_else(|| Error::WrongBatch {
        expected: <N::Input as Input>::RANK,
        got: kind.to_string(),
    })?;
    let output = network.forward_traced(input, trace);
    // Rank-2 outputs are logits; anything else is returned as values.
    Ok(match output.into_logits_or_data() {
        Ok(logits) => ModelOutput::Logits(logits),
        Err(data) => ModelOutput::Other(data),
    })
}

impl ModelKind {
    /// The architecture with its reference configuration, by crate name.
    pub fn by_name(name: &str) -> Option<ModelKind> {
        Self::all().into_iter().find(|model| model.name() == name)
    }

    /// Every registered name, for messages.
    pub fn names() -> Vec<&'static str> {
        Self::all().iter().map(ModelKind::name).collect()
    }

    /// zoo-train's task: the loss and metrics that the model crate's `Architecture::output`
    /// decides (the one place binary vs multi-class is decided); `None` for other models.
    pub fn task(&self) -> Option<Task> {
        match self.output() {
            Output::BinaryLogit => Some(Task::Binary),
            Output::Classes(classes) => Some(Task::MultiClass(classes)),
            Output::Features => None,
        }
    }

    /// [`task`](Self::task), or an error naming the model for the commands that train.
    pub fn classifier_task(&self) -> Result<Task, Error> {
        self.task().ok_or_else(|| {
            let classifiers: Vec<&str> = Self::all()
                .into_iter()
                .filter(|kind| kind.task().is_some())
                .map(|kind| kind.name())
                .collect();
            Error::NotAClassifier {
                model: self.name(),
                output: self.output_description(),
                classifiers: classifiers.join(", "),
            }
        })
    }

    /// What the model needs from a data set (item shape and classes), or `None` for the
    /// models that are not classifiers (conv-gap, pointwise-conv).
    pub fn data_spec(&self) -> Option<DataSpec> {
        Some(DataSpec {
            shape: self.input_shape(),
            classes: self.output().classes()?,
        })
    }

    /// Builds the model on `device` and runs one traced forward pass on a random batch of
    /// `batch` items: the layer table of `zoo summary` and the parameter count of `zoo list`
    /// come from this real pass, not from numbers typed in.
    pub fn summarize(&self, device: &Device, batch: usize) -> Result<Summary, Error> {
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
        model.forward_traced(Batch::random(&input_shape, device)?, &mut trace)?;
        let (total, trainable) = model.count_params();
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
    ) -> Result<Vec<LayerTime>, Error> {
        let mut input_shape = vec![batch];
        input_shape.extend(self.input_shape());
        let mut rows: Vec<(String, String, Vec<f64>)> = Vec::new();
        let sync = || {
            device.sync().map_err(|error| Error::Device {
                message: format!("device sync: {error:?}"),
            })
        };
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
            let input = Batch::random(&input_shape, device)?;
            sync()?;
            last.set(std::time::Instant::now());
            model.forward_traced(input, &mut trace)?;
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

impl Model {
    /// Runs the forward pass on `input` (batch first, channels first) and returns the
    /// output's data; the input's rank must be the model's.
    pub fn forward_data(&self, input: TensorData, device: &Device) -> Result<TensorData, Error> {
        let batch = Batch::from_data(input, device)?;
        Ok(self
            .forward_traced(batch, &mut |_, _, _, _, _| {})?
            .into_data())
    }

    /// Logits of a batch for training: `ModelKind::data_spec` only gives classifiers data of
    /// their own kind, so another batch or output is a bug in the caller, not bad input.
    fn logits_of(&self, batch: Batch) -> Tensor<2> {
        match self.forward_traced(batch, &mut |_, _, _, _, _| {}) {
            Ok(ModelOutput::Logits(logits)) => logits,
            Ok(ModelOutput::Other(_)) => unreachable!("only classifiers are trained (data_spec)"),
            Err(message) => unreachable!("{message} (data_spec gives each model its kind)"),
        }
    }
}

/// Image classifiers train through zoo-train's generic step.
impl Classify<Tensor<4>> for Model {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.logits_of(Batch::Images(images))
    }
}

/// Sequence classifiers; see the image impl.
impl Classify<Tensor<3>> for Model {
    fn logits(&self, sequences: Tensor<3>) -> Tensor<2> {
        self.logits_of(Batch::Sequences(sequences))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_tagged_with_its_crate_name() {
        for model in ModelKind::all() {
            let value = serde_json::to_value(&model).unwrap();
            assert_eq!(value["kind"], model.name(), "{model:?}");
        }
    }
}
