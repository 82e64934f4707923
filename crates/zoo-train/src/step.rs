//! The one train/inference step for every classifier: a generic wrapper module that
//! implements burn-train's `TrainStep` and `InferenceStep`, so model crates stay free of
//! burn-train. The [`Task`] is given, never guessed from the logits: the model crate's
//! `Architecture::output` decides it and the caller passes it in (a binary task: one logit,
//! sigmoid, BCE with logits; multi-class: softmax cross-entropy).

use std::marker::PhantomData;

use burn::module::{Module, ModuleDisplay};
use burn::tensor::activation::{log_softmax, sigmoid, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData, Transaction};
use burn::train::metric::{AccuracyInput, Adaptor, ConfusionStatsInput, ItemLazy, LossInput};
use burn::train::{InferenceStep, TrainOutput, TrainStep};
use zoo_data::{ImageBatch, SequenceBatch};

use crate::config::ClipConfig;
use crate::grad::{clip_by_value, scale_to_global_norm, squared_grad_norm};
use crate::host;

/// A batch of inputs with class targets.
pub trait LabeledBatch: Clone + std::fmt::Debug + Send + Sync + 'static {
    /// What the model takes.
    type Inputs;
    /// (inputs, targets).
    fn into_parts(self) -> (Self::Inputs, Tensor<1, Int>);
    /// Rows that are data (the first ones); the rest pad the batch and are not scored.
    fn items(&self) -> usize;
    /// Pads to `rows` rows by repeating the batch's rows (on its device), keeping
    /// [`LabeledBatch::items`]; a batch of `rows` or more rows is returned as it is.
    fn pad_to(self, rows: usize) -> Self;
    /// Rows `start..start + len` (a device's block of a global batch); its items are the data
    /// rows among them.
    fn rows(self, start: usize, len: usize) -> Self;
    /// The batch on `device`.
    fn to_device(self, device: &Device) -> Self;
}

/// The data rows among rows `start..start + len` of a batch of `items` data rows.
fn items_in(items: usize, start: usize, len: usize) -> usize {
    items.saturating_sub(start).min(len)
}

/// `rows` rows of `tensor` along dimension 0, repeating its rows cyclically.
fn repeat_rows<const D: usize, K>(tensor: Tensor<D, K>, rows: usize) -> Tensor<D, K>
where
    K: burn::tensor::kind::Basic,
{
    let have = tensor.dims()[0];
    if have == 0 || have >= rows {
        return tensor;
    }
    let copies = rows.div_ceil(have);
    Tensor::cat(vec![tensor; copies], 0).narrow(0, 0, rows)
}

impl LabeledBatch for ImageBatch {
    type Inputs = Tensor<4>;
    fn into_parts(self) -> (Tensor<4>, Tensor<1, Int>) {
        (self.images, self.targets)
    }
    fn items(&self) -> usize {
        self.items
    }
    fn pad_to(self, rows: usize) -> Self {
        Self {
            images: repeat_rows(self.images, rows),
            targets: repeat_rows(self.targets, rows),
            items: self.items,
        }
    }
    fn rows(self, start: usize, len: usize) -> Self {
        Self {
            images: self.images.narrow(0, start, len),
            targets: self.targets.narrow(0, start, len),
            items: items_in(self.items, start, len),
        }
    }
    fn to_device(self, device: &Device) -> Self {
        Self {
            images: self.images.to_device(device),
            targets: self.targets.to_device(device),
            items: self.items,
        }
    }
}

impl LabeledBatch for SequenceBatch {
    type Inputs = Tensor<3>;
    fn into_parts(self) -> (Tensor<3>, Tensor<1, Int>) {
        (self.sequences, self.targets)
    }
    fn items(&self) -> usize {
        self.items
    }
    fn pad_to(self, rows: usize) -> Self {
        Self {
            sequences: repeat_rows(self.sequences, rows),
            targets: repeat_rows(self.targets, rows),
            items: self.items,
        }
    }
    fn rows(self, start: usize, len: usize) -> Self {
        Self {
            sequences: self.sequences.narrow(0, start, len),
            targets: self.targets.narrow(0, start, len),
            items: items_in(self.items, start, len),
        }
    }
    fn to_device(self, device: &Device) -> Self {
        Self {
            sequences: self.sequences.to_device(device),
            targets: self.targets.to_device(device),
            items: self.items,
        }
    }
}

/// What a classifier's logits mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// One logit per item: sigmoid, binary cross-entropy with logits, binary metrics.
    Binary,
    /// One logit per class: softmax cross-entropy.
    MultiClass(usize),
}

impl Task {
    /// Columns of the logits.
    pub fn logit_columns(self) -> usize {
        match self {
            Task::Binary => 1,
            Task::MultiClass(classes) => classes,
        }
    }

    /// Panics on logits of another width: the model and its declared task disagree (a bug in
    /// a model crate, not bad input).
    fn check(self, logits: &Tensor<2>) {
        let columns = logits.dims()[1];
        assert_eq!(
            columns,
            self.logit_columns(),
            "the model's logits have {columns} columns; its task {self:?} has {}",
            self.logit_columns()
        );
    }
}

/// What zoo-train needs from a model: inputs to logits `[batch, task.logit_columns()]`.
pub trait Classify<I>: Module + ModuleDisplay {
    /// The logits of a batch.
    fn logits(&self, inputs: I) -> Tensor<2>;
}

/// The layout of a `model.bpk` without the training around it (in zoo-model, so that the web
/// demo, which has no burn-train, reads the same files).
pub use zoo_model::Weights;

/// A model `M` trained on batches `B`: the module burn-train's `Learner` drives.
#[derive(Module, Debug)]
pub struct Classifier<M: Module, B: Clone + std::fmt::Debug + Send + 'static> {
    /// The wrapped model (its parameters are the only ones).
    pub model: M,
    /// Binary or multi-class.
    #[module(skip)]
    pub task: Task,
    /// Gradient clipping applied in the train step.
    #[module(skip)]
    clip: ClipConfig,
    /// Devices whose gradients Burn's multi-device strategy adds up (1: the step's gradient
    /// is the whole one).
    #[module(skip)]
    summed_over: usize,
    #[module(skip)]
    batch: PhantomData<fn() -> B>,
}

impl<M: Module, B: Clone + std::fmt::Debug + Send + 'static> Classifier<M, B> {
    /// Wraps `model`, whose logits mean `task`; `clip` applies to every train step.
    pub fn new(model: M, task: Task, clip: ClipConfig) -> Self {
        Self {
            model,
            task,
            clip,
            summed_over: 1,
            batch: PhantomData,
        }
    }

    /// Steps for Burn's multi-device strategy over `devices` equal blocks of a global batch:
    /// it adds the devices' gradients, so each step's loss is divided by `devices` and the sum
    /// is the gradient of the global batch's mean loss, as on one device. A block's gradient
    /// norm is not the global one, so none is reported, and clipping (of the global gradient)
    /// cannot be done in the step: the trainer refuses `[clip]` then.
    pub fn summed_over(mut self, devices: usize) -> Self {
        self.summed_over = devices.max(1);
        self
    }
}

impl<M, B> Classifier<M, B>
where
    B: LabeledBatch,
    M: Classify<B::Inputs>,
{
    /// Logits, per-item losses and targets of a batch (padding rows included: see
    /// [`ClassifierOutput::items`]).
    pub fn forward_batch(&self, batch: B) -> ClassifierOutput {
        let items = batch.items();
        let (inputs, targets) = batch.into_parts();
        let logits = self.model.logits(inputs);
        let losses = per_item_loss(self.task, logits.clone(), targets.clone());
        ClassifierOutput {
            task: self.task,
            items,
            losses,
            logits,
            targets,
            grad_norm: None,
        }
    }
}

/// Per-item losses `[batch]`: BCE with logits for a binary task, cross-entropy otherwise.
pub fn per_item_loss(task: Task, logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    task.check(&logits);
    let [batch, _] = logits.dims();
    if task == Task::Binary {
        // max(z, 0) - z·y + log(1 + exp(-|z|)): stable for any z.
        let z = logits.reshape([batch]);
        let y = targets.float();
        z.clone().clamp_min(0.0) - z.clone() * y + z.abs().neg().exp().log1p()
    } else {
        let picked = log_softmax(logits, 1).gather(1, targets.reshape([batch, 1]));
        picked.reshape([batch]).neg()
    }
}

/// Class probabilities `[batch, classes]` (two columns for a binary task: 1 − p, p).
pub fn probabilities(task: Task, logits: Tensor<2>) -> Tensor<2> {
    task.check(&logits);
    if task == Task::Binary {
        let p = sigmoid(logits);
        Tensor::cat(vec![p.clone().neg().add_scalar(1.0), p], 1)
    } else {
        softmax(logits, 1)
    }
}

/// What one step hands to the metrics: tensors on the training device until burn-train's
/// metrics thread calls [`ItemLazy::sync`], which reads them back in one transfer and leaves
/// host copies of the data rows only.
pub struct ClassifierOutput {
    /// What the logits mean.
    pub task: Task,
    /// Rows that are data; rows past them pad the batch (never in the metrics after `sync`).
    pub items: usize,
    /// Per-item losses `[batch]`.
    pub losses: Tensor<1>,
    /// Logits `[batch, classes]`.
    pub logits: Tensor<2>,
    /// Targets `[batch]`.
    pub targets: Tensor<1, Int>,
    /// Squared global gradient norm before clipping `[1]` (training steps only).
    pub grad_norm: Option<Tensor<1>>,
}

impl ItemLazy for ClassifierOutput {
    /// One read of the step's device tensors ([`host::read`]); the metrics then compute on
    /// host copies (Flex), so Burn's loss, accuracy and binary metrics and the gradient norm
    /// cost no further device syncs. Padding rows are dropped here.
    fn sync(self) -> Result<Self, burn::tensor::ExecutionError> {
        let [rows, columns] = self.logits.dims();
        let items = self.items.min(rows);
        let mut transaction = Transaction::default()
            .register(self.losses.without_autodiff())
            .register(self.logits.without_autodiff())
            .register(self.targets.without_autodiff());
        let has_norm = self.grad_norm.is_some();
        if let Some(norm) = self.grad_norm {
            transaction = transaction.register(norm.without_autodiff());
        }
        let mut data = host::read(transaction)?.into_iter();
        let mut next = || {
            data.next()
                .expect("a transaction returns what was registered")
        };
        let device = host::host_device();
        let floats = |data: TensorData, keep: usize| -> Vec<f32> {
            let mut values: Vec<f32> = data
                .convert::<f32>()
                .try_into_vec()
                .expect("converted to f32");
            values.truncate(keep);
            values
        };
        let losses = floats(next(), items);
        let logits = floats(next(), items * columns);
        let mut targets: Vec<i64> = next()
            .convert::<i64>()
            .try_into_vec()
            .expect("converted to i64");
        targets.truncate(items);
        let grad_norm =
            has_norm.then(|| Tensor::from_data(TensorData::new(floats(next(), 1), [1]), &device));
        Ok(ClassifierOutput {
            task: self.task,
            items,
            losses: Tensor::from_data(TensorData::new(losses, [items]), &device),
            logits: Tensor::from_data(TensorData::new(logits, [items, columns]), &device),
            targets: Tensor::from_data(TensorData::new(targets, [items]), &device),
            grad_norm,
        })
    }
}

impl Adaptor<LossInput> for ClassifierOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.losses.clone())
    }
}

impl Adaptor<AccuracyInput> for ClassifierOutput {
    fn adapt(&self) -> AccuracyInput {
        // Two columns [0, z] for a binary logit: argmax = (z > 0) = (p > 0.5).
        let [batch, _] = self.logits.dims();
        let outputs = if self.task == Task::Binary {
            Tensor::cat(vec![self.logits.zeros_like(), self.logits.clone()], 1)
        } else {
            self.logits.clone()
        };
        debug_assert_eq!(outputs.dims()[0], batch);
        AccuracyInput::new(outputs, self.targets.clone())
    }
}

impl Adaptor<ConfusionStatsInput> for ClassifierOutput {
    fn adapt(&self) -> ConfusionStatsInput {
        // Binary metrics only: the probability of the positive class against target 1.
        ConfusionStatsInput::new(
            sigmoid(self.logits.clone()),
            self.targets.clone().unsqueeze_dim(1).bool(),
        )
    }
}

impl Adaptor<GradNormInput> for ClassifierOutput {
    fn adapt(&self) -> GradNormInput {
        GradNormInput {
            squared: self.grad_norm.clone(),
        }
    }
}

/// The squared global gradient norm of one step, for [`crate::GradNormMetric`].
pub struct GradNormInput {
    /// `[1]`, or `None` outside training.
    pub squared: Option<Tensor<1>>,
}

impl<M, B> TrainStep for Classifier<M, B>
where
    B: LabeledBatch,
    M: Classify<B::Inputs>,
{
    type Input = B;
    type Output = ClassifierOutput;

    fn step(&self, batch: B) -> TrainOutput<ClassifierOutput> {
        let mut output = self.forward_batch(batch);
        // A padded batch (never made for training, but possible) averages its data rows only.
        let rows = output.losses.dims()[0];
        let losses = if output.items < rows {
            output.losses.clone().narrow(0, 0, output.items)
        } else {
            output.losses.clone()
        };
        let mut loss = losses.mean();
        if self.summed_over > 1 {
            loss = loss.div_scalar(self.summed_over as f32);
        }
        let grads = loss.backward();
        let grads = burn::optim::GradientsParams::from_grads(grads, self);
        if self.summed_over > 1 {
            return TrainOutput {
                grads,
                item: output,
            };
        }
        let squared = squared_grad_norm(self, &grads);
        let mut grads = grads;
        if let (Some(max_norm), Some(squared)) = (self.clip.max_norm, squared.clone()) {
            grads = scale_to_global_norm(self, grads, squared, max_norm);
        }
        if let Some(value) = self.clip.value {
            grads = clip_by_value(self, grads, value);
        }
        output.grad_norm = squared;
        TrainOutput {
            grads,
            item: output,
        }
    }
}

impl<M, B> InferenceStep for Classifier<M, B>
where
    B: LabeledBatch,
    M: Classify<B::Inputs>,
{
    type Input = B;
    type Output = ClassifierOutput;

    fn step(&self, batch: B) -> ClassifierOutput {
        self.forward_batch(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn values(tensor: Tensor<1>) -> Vec<f32> {
        tensor.into_data().convert::<f32>().try_into_vec().unwrap()
    }

    #[test]
    fn binary_loss_is_bce_with_logits_and_equals_two_column_cross_entropy() {
        let device = Device::flex();
        let z = Tensor::<2>::from_data(
            TensorData::new(vec![2.0f32, -1.0, 0.0, 30.0], [4, 1]),
            &device,
        );
        let y = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 1, 0, 0], [4]), &device);
        let bce = values(per_item_loss(Task::Binary, z.clone(), y.clone()));
        let expected: Vec<f32> = [(2.0f32, 1.0f32), (-1.0, 1.0), (0.0, 0.0), (30.0, 0.0)]
            .iter()
            // −y·ln σ(z) − (1−y)·ln(1−σ(z)) = ln(1 + e^(−z)) + (1 − y)·z, in f64.
            .map(|&(z, y)| ((-(z as f64)).exp().ln_1p() + (1.0 - y as f64) * z as f64) as f32)
            .collect();
        for (a, b) in bce.iter().zip(&expected) {
            assert!(
                (a - b).abs() < 1e-5 * b.abs().max(1.0),
                "{bce:?} vs {expected:?}"
            );
        }
        let two = Tensor::cat(vec![z.zeros_like(), z], 1);
        let ce = values(per_item_loss(Task::MultiClass(2), two, y));
        for (a, b) in bce.iter().zip(&ce) {
            assert!((a - b).abs() < 1e-4, "{bce:?} vs {ce:?}");
        }
    }

    #[test]
    fn cross_entropy_of_uniform_logits_is_log_classes() {
        let device = Device::flex();
        let logits = Tensor::<2>::zeros([3, 10], &device);
        let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 5, 9], [3]), &device);
        for loss in values(per_item_loss(Task::MultiClass(10), logits, targets)) {
            assert!((loss - 10f32.ln()).abs() < 1e-5);
        }
    }

    #[test]
    fn binary_probabilities_have_two_columns_summing_to_one() {
        let device = Device::flex();
        let z = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 3.0], [2, 1]), &device);
        let p = probabilities(Task::Binary, z)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        assert!((p[0] - 0.5).abs() < 1e-6 && (p[1] - 0.5).abs() < 1e-6);
        assert!((p[2] + p[3] - 1.0).abs() < 1e-6 && p[3] > 0.95);
    }

    #[test]
    #[should_panic(expected = "its task MultiClass(3) has 3")]
    fn logits_of_another_width_than_the_task_are_a_bug() {
        let device = Device::flex();
        let logits = Tensor::<2>::zeros([2, 1], &device);
        let targets = Tensor::<1, Int>::zeros([2], &device);
        per_item_loss(Task::MultiClass(3), logits, targets);
    }
}
