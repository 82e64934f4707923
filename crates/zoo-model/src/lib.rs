//! The contract between a model crate and the zoo.
//!
//! A model crate implements [`Architecture`] for its configuration and [`Network`] for its
//! module; zoo-cli's registry then lists it with one line and every command (`list`,
//! `summary`, `train`, `predict`, weights in and out) works from these traits alone. Plain
//! Burn and std types keep model crates free of training, data and the command line.

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The layout of a `model.bpk` without the training around it: the weights under `model.`,
/// as zoo-train's `Classifier` (whose other fields are not saved) writes them. For weights of
/// any model, classifier or not (`zoo import`/`zoo export`, the web demo).
#[derive(Module, Debug)]
pub struct Weights<M: Module> {
    /// The model.
    pub model: M,
}

/// A layer-by-layer trace: `(path, layer type, output shape, parameters,
/// multiply-accumulates per item)`, called once per layer by [`Network::forward_traced`].
/// `zoo summary` prints these rows; `zoo bench --layers` times between them.
pub type Trace<'a> = dyn FnMut(&str, &str, &[usize], usize, u64) + 'a;

/// What a model's output means; decides the loss and the metrics (nothing else guesses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Logits over this many classes (softmax cross-entropy).
    Classes(usize),
    /// One logit for a two-class task (sigmoid, binary cross-entropy).
    BinaryLogit,
    /// Not a classifier (a feature map, averages): summaries and inference only.
    Features,
}

impl Output {
    /// Classes of a classifier (2 for a binary logit), `None` for other models.
    pub fn classes(self) -> Option<usize> {
        match self {
            Output::Classes(classes) => Some(classes),
            Output::BinaryLogit => Some(2),
            Output::Features => None,
        }
    }
}

/// A batch a network takes: `Tensor<3>` sequences `[N, C, L]` or `Tensor<4>` images
/// `[N, C, H, W]`, both channels first.
pub trait Input: Sized {
    /// Rank of a batch (the item's rank + 1).
    const RANK: usize;
    /// The batch, or `None` when `batch` holds the other kind.
    fn from_batch(batch: Batch) -> Option<Self>;
}

/// A batch of either kind, so that code that does not know the model can hand one over.
#[derive(Debug, Clone)]
pub enum Batch {
    /// Sequences `[N, C, L]`.
    Sequences(Tensor<3>),
    /// Images `[N, C, H, W]`.
    Images(Tensor<4>),
}

impl Batch {
    /// A batch of `shape` (batch first) from `data`: rank 3 is sequences, 4 images.
    pub fn from_data(data: TensorData, device: &Device) -> Result<Batch, ModelError> {
        match data.shape().len() {
            3 => Ok(Batch::Sequences(Tensor::from_data(data, device))),
            4 => Ok(Batch::Images(Tensor::from_data(data, device))),
            _ => Err(Batch::wrong_rank(data.shape())),
        }
    }

    /// A random batch (uniform in [0, 1)) of `shape`, batch first.
    pub fn random(shape: &[usize], device: &Device) -> Result<Batch, ModelError> {
        match *shape {
            [n, c, l] => Ok(Batch::Sequences(Tensor::random(
                [n, c, l],
                Distribution::Default,
                device,
            ))),
            [n, c, h, w] => Ok(Batch::Images(Tensor::random(
                [n, c, h, w],
                Distribution::Default,
                device,
            ))),
            _ => Err(Batch::wrong_rank(shape)),
        }
    }

    fn wrong_rank(shape: &[usize]) -> ModelError {
        ModelError::Shape {
            expected: "a batch has rank 3 (sequences [N, C, L]) or 4 (images [N, C, H, W])".into(),
            got: shape.to_vec(),
        }
    }

    /// `Sequences` or `Images`, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Batch::Sequences(_) => "sequences [N, C, L]",
            Batch::Images(_) => "images [N, C, H, W]",
        }
    }
}

impl Input for Tensor<3> {
    const RANK: usize = 3;
    fn from_batch(batch: Batch) -> Option<Self> {
        match batch {
            Batch::Sequences(tensor) => Some(tensor),
            Batch::Images(_) => None,
        }
    }
}

impl Input for Tensor<4> {
    const RANK: usize = 4;
    fn from_batch(batch: Batch) -> Option<Self> {
        match batch {
            Batch::Images(tensor) => Some(tensor),
            Batch::Sequences(_) => None,
        }
    }
}

/// What a network returns: logits `Tensor<2>` for classifiers, any tensor otherwise.
pub trait Prediction: Sized {
    /// The logits `[N, columns]`, or the values of an output of another rank.
    fn into_logits_or_data(self) -> Result<Tensor<2>, TensorData>;
}

impl<const D: usize> Prediction for Tensor<D> {
    fn into_logits_or_data(self) -> Result<Tensor<2>, TensorData> {
        if D == 2 {
            let shape = self.shape();
            Ok(self.reshape(shape))
        } else {
            Err(self.into_data())
        }
    }
}

/// A built model: one traced forward pass from its input kind to its output.
pub trait Network: Module {
    /// `Tensor<3>` for sequence models, `Tensor<4>` for image models.
    type Input: Input;
    /// What `forward` returns.
    type Output: Prediction;
    /// The forward pass, reporting each layer to `trace` (see [`Trace`]).
    fn forward_traced(&self, input: Self::Input, trace: &mut Trace) -> Self::Output;
}

/// An architecture's configuration (the `[model]` table of an experiment, tagged by
/// [`NAME`](Self::NAME)): what the zoo needs to list, check, build and train it.
pub trait Architecture:
    Clone + std::fmt::Debug + PartialEq + Serialize + DeserializeOwned + 'static
{
    /// The module [`init`](Self::init) builds.
    type Network: Network;
    /// The crate name, also `kind = "…"` in configs.
    const NAME: &'static str;
    /// One line for `zoo list`.
    const DESCRIPTION: &'static str;

    /// The configuration the zoo lists under [`NAME`](Self::NAME) (the homework's).
    fn reference() -> Self;
    /// Checks every field, so that [`init`](Self::init) cannot panic inside Burn.
    fn validate(&self) -> Result<(), ModelError>;
    /// Shape of one input item, channels first.
    fn input_shape(&self) -> Vec<usize>;
    /// What the output means.
    fn output(&self) -> Output;
    /// What the output holds, for `zoo list` (classifiers need not say).
    fn output_description(&self) -> String {
        match self.output() {
            Output::Classes(classes) => format!("{classes} classes"),
            Output::BinaryLogit => "2 classes (1 logit)".to_string(),
            Output::Features => "features".to_string(),
        }
    }
    /// Sets the item shape (channels first) the architecture takes; an error when it takes
    /// another kind of input (see [`square_image`], [`sequence`]).
    fn set_input_shape(&mut self, shape: &[usize]) -> Result<(), ModelError>;
    /// The same architecture for another item shape (channels first), validated: for
    /// `zoo summary --input` and memory estimates.
    fn with_input_shape(&self, shape: &[usize]) -> Result<Self, ModelError> {
        let mut config = self.clone();
        config.set_input_shape(shape)?;
        config.validate()?;
        Ok(config)
    }
    /// The dense layer that takes a flattened feature map, with that map's channels-first
    /// shape: Keras flattens channels last, so importing Keras weights reorders this layer's
    /// rows. `None` for models without one.
    fn flattened(&self) -> Option<(&'static str, Vec<usize>)> {
        None
    }
    /// Builds the module (Burn's initialisation).
    ///
    /// # Panics
    /// If [`validate`](Self::validate) fails; the zoo validates first.
    fn init(&self, device: &Device) -> Self::Network;
}

/// Why a configuration does not make a model, or an input is not one it takes: the `[model]`
/// key at fault (so that the zoo can point at its line in the config file) or the shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// A `[model]` key whose value cannot be built: the key below `model.` (`filters`,
    /// `inception.branch1x1`) and what is wrong with the value, after the key
    /// (`must be at least 1, got 0`).
    Key {
        /// The key, without `model.`.
        key: String,
        /// What it must be, and what it is.
        message: String,
    },
    /// An item or batch shape the model does not take.
    Shape {
        /// Who takes what: `conv1d-classifier takes sequences [C, L] (channels first)`.
        expected: String,
        /// The shape given.
        got: Vec<usize>,
    },
}

impl ModelError {
    /// A value of `model.<key>` that cannot be built; `message` follows the key.
    pub fn key(key: impl Into<String>, message: impl Into<String>) -> Self {
        ModelError::Key {
            key: key.into(),
            message: message.into(),
        }
    }

    /// `model.<key>` when one key is at fault.
    pub fn config_key(&self) -> Option<String> {
        match self {
            ModelError::Key { key, .. } => Some(format!("model.{key}")),
            ModelError::Shape { .. } => None,
        }
    }
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelError::Key { key, message } => write!(f, "model.{key} {message}"),
            ModelError::Shape { expected, got } => write!(f, "{expected}, got {got:?}"),
        }
    }
}

impl std::error::Error for ModelError {}

/// `[C, S, S]` → `(C, S)` for models that take square images; the error names the model.
pub fn square_image(model: &str, shape: &[usize]) -> Result<(usize, usize), ModelError> {
    match *shape {
        [channels, height, width] if height == width => Ok((channels, height)),
        _ => Err(ModelError::Shape {
            expected: format!("{model} takes square images [C, S, S] (channels first)"),
            got: shape.to_vec(),
        }),
    }
}

/// `[C, L]` → `(C, L)` for sequence models; the error names the model.
pub fn sequence(model: &str, shape: &[usize]) -> Result<(usize, usize), ModelError> {
    match *shape {
        [channels, length] => Ok((channels, length)),
        _ => Err(ModelError::Shape {
            expected: format!("{model} takes sequences [C, L] (channels first)"),
            got: shape.to_vec(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_go_only_to_their_kind() {
        let device = Device::flex();
        let images = Batch::random(&[2, 1, 3, 3], &device).unwrap();
        assert!(<Tensor<3> as Input>::from_batch(images.clone()).is_none());
        assert_eq!(
            <Tensor<4> as Input>::from_batch(images).unwrap().dims(),
            [2, 1, 3, 3]
        );
        let sequences = Batch::random(&[2, 7, 5], &device).unwrap();
        assert!(<Tensor<4> as Input>::from_batch(sequences).is_none());
        assert!(Batch::random(&[2, 3], &device).is_err());
    }

    #[test]
    fn only_rank_two_outputs_are_logits() {
        let device = Device::flex();
        let logits = Tensor::<2>::zeros([2, 5], &device);
        assert_eq!(logits.into_logits_or_data().unwrap().dims(), [2, 5]);
        let map = Tensor::<4>::zeros([2, 5, 1, 1], &device).into_logits_or_data();
        assert_eq!(map.unwrap_err().shape().to_vec(), vec![2, 5, 1, 1]);
    }

    #[test]
    fn shapes_are_checked() {
        assert_eq!(square_image("m", &[3, 32, 32]), Ok((3, 32)));
        let error = square_image("m", &[3, 32, 31]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "m takes square images [C, S, S] (channels first), got [3, 32, 31]"
        );
        assert_eq!(error.config_key(), None);
        let error = ModelError::key("filters", "must be at least 1, got 0");
        assert_eq!(error.to_string(), "model.filters must be at least 1, got 0");
        assert_eq!(error.config_key().as_deref(), Some("model.filters"));
        assert_eq!(sequence("m", &[7, 500]), Ok((7, 500)));
        assert!(sequence("m", &[7, 500, 1]).is_err());
    }
}
