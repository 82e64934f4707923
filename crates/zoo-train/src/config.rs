use serde::{Deserialize, Serialize};

/// How long and in what batches to train: the `[train]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Items per optimizer step, or `"full"`: the whole training split per step (full-batch
    /// gradient descent).
    pub batch_size: BatchSize,
    /// Seed of the weights' initialisation and of the data order.
    pub seed: u64,
    /// Data-loading threads that overlap batching with compute. 0 (the default) keeps a run
    /// repeatable: Burn's multi-threaded loader hands out its workers' batches in the order
    /// they finish, so with workers the batch order (and the run) depends on timing.
    pub num_workers: usize,
    /// Stop when validation loss has not improved for this many epochs (absent: never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: BatchSize::Items(64),
            seed: 42,
            num_workers: 0,
            early_stopping: None,
        }
    }
}

impl TrainConfig {
    /// Checks the values serde cannot: ranges.
    pub fn validate(&self) -> Result<(), String> {
        if self.epochs == 0 {
            return Err("train.epochs must be at least 1, got 0".into());
        }
        if self.batch_size == BatchSize::Items(0) {
            return Err("train.batch_size must be at least 1, got 0".into());
        }
        if self.early_stopping == Some(0) {
            return Err("train.early_stopping must be at least 1 epoch, got 0".into());
        }
        Ok(())
    }
}

/// `train.batch_size`: a number of items, or the whole training split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    /// This many items per step (the last batch of an epoch may be smaller).
    Items(usize),
    /// The whole training split in one step.
    Full,
}

impl BatchSize {
    /// Items per batch for a split of `items` items (at least 1, at most the split).
    pub fn items(self, items: usize) -> usize {
        match self {
            BatchSize::Items(n) => n.min(items).max(1),
            BatchSize::Full => items.max(1),
        }
    }
}

impl std::fmt::Display for BatchSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchSize::Items(n) => write!(f, "{n}"),
            BatchSize::Full => f.write_str("full"),
        }
    }
}

impl Serialize for BatchSize {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            BatchSize::Items(n) => serializer.serialize_u64(*n as u64),
            BatchSize::Full => serializer.serialize_str("full"),
        }
    }
}

impl<'de> Deserialize<'de> for BatchSize {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = BatchSize;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a positive number of items or \"full\"")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<BatchSize, E> {
                Ok(BatchSize::Items(n as usize))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<BatchSize, E> {
                usize::try_from(n)
                    .map(BatchSize::Items)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(n), &self))
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<BatchSize, E> {
                match text {
                    "full" => Ok(BatchSize::Full),
                    other => Err(E::invalid_value(serde::de::Unexpected::Str(other), &self)),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The optimizer and its hyper-parameters: the `[optimizer]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Which optimizer.
    pub kind: OptimizerKind,
    /// Learning rate (the peak, when a schedule is used).
    pub lr: f64,
    /// Momentum (SGD and RMSprop; 0 turns it off).
    pub momentum: f64,
    /// Nesterov momentum (SGD only).
    pub nesterov: bool,
    /// L2 penalty (SGD, Adam, RMSprop) or decoupled weight decay (AdamW).
    pub weight_decay: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            kind: OptimizerKind::Adam,
            lr: 1e-3,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
}

impl OptimizerConfig {
    /// Checks the values serde cannot: ranges.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(format!(
                "optimizer.lr must be a positive number, got {}",
                self.lr
            ));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(format!(
                "optimizer.momentum must be in [0, 1), got {}",
                self.momentum
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(format!(
                "optimizer.weight_decay must be zero or positive, got {}",
                self.weight_decay
            ));
        }
        Ok(())
    }
}

/// The optimizers burn-zoo configures (all Burn's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// Stochastic gradient descent, with optional (Nesterov) momentum.
    Sgd,
    /// Adam.
    Adam,
    /// Adam with decoupled weight decay.
    Adamw,
    /// RMSprop.
    Rmsprop,
}

/// How the learning rate changes over training: the `[schedule]` table. Lengths are in
/// epochs (converted to optimizer steps, since Burn's schedulers step every iteration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Which schedule.
    pub kind: ScheduleKind,
    /// `step`: epochs between two multiplications by `gamma`.
    pub step_epochs: usize,
    /// `step`: factor per `step_epochs`; `exponential`: factor per epoch.
    pub gamma: f64,
    /// `cosine` and `warmup-cosine`: the learning rate at the end of training.
    pub min_lr: f64,
    /// `warmup-cosine`: epochs of linear warm-up from `lr / 100` to `lr`.
    pub warmup_epochs: usize,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            kind: ScheduleKind::Constant,
            step_epochs: 10,
            gamma: 0.1,
            min_lr: 0.0,
            warmup_epochs: 1,
        }
    }
}

/// The learning-rate schedules (all Burn's own schedulers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleKind {
    /// `optimizer.lr` throughout.
    Constant,
    /// Multiplied by `gamma` every `step_epochs` epochs.
    Step,
    /// Multiplied by `gamma` every epoch (smoothly, per step).
    Exponential,
    /// Cosine annealing from `optimizer.lr` to `min_lr` over all epochs.
    Cosine,
    /// Linear warm-up for `warmup_epochs`, then cosine annealing to `min_lr`.
    WarmupCosine,
}

impl ScheduleConfig {
    /// Checks the values serde cannot, given the run's length and peak learning rate.
    pub fn validate(&self, lr: f64, epochs: usize) -> Result<(), String> {
        match self.kind {
            ScheduleKind::Constant => {}
            ScheduleKind::Step => {
                if self.step_epochs == 0 {
                    return Err("schedule.step_epochs must be at least 1, got 0".into());
                }
                if !(self.gamma > 0.0 && self.gamma <= 1.0) {
                    return Err(format!(
                        "schedule.gamma must be in (0, 1], got {}",
                        self.gamma
                    ));
                }
            }
            ScheduleKind::Exponential => {
                if !(self.gamma > 0.0 && self.gamma <= 1.0) {
                    return Err(format!(
                        "schedule.gamma must be in (0, 1], got {}",
                        self.gamma
                    ));
                }
            }
            ScheduleKind::Cosine | ScheduleKind::WarmupCosine => {
                if !(self.min_lr >= 0.0 && self.min_lr <= lr) {
                    return Err(format!(
                        "schedule.min_lr must be in [0, optimizer.lr = {lr}], got {}",
                        self.min_lr
                    ));
                }
                if self.kind == ScheduleKind::WarmupCosine && self.warmup_epochs >= epochs {
                    return Err(format!(
                        "schedule.warmup_epochs ({}) must be less than train.epochs ({epochs})",
                        self.warmup_epochs
                    ));
                }
            }
        }
        // Burn's exponential, cosine and linear schedulers take learning rates in (0, 1].
        if self.kind != ScheduleKind::Constant && self.kind != ScheduleKind::Step && lr > 1.0 {
            return Err(format!(
                "optimizer.lr must be at most 1 with schedule.kind = \"{}\", got {lr}",
                self.kind.name()
            ));
        }
        Ok(())
    }
}

impl ScheduleKind {
    /// The name used in configs.
    pub fn name(self) -> &'static str {
        match self {
            ScheduleKind::Constant => "constant",
            ScheduleKind::Step => "step",
            ScheduleKind::Exponential => "exponential",
            ScheduleKind::Cosine => "cosine",
            ScheduleKind::WarmupCosine => "warmup-cosine",
        }
    }
}

/// Gradient clipping: the `[clip]` table. Both off by default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClipConfig {
    /// Scale all gradients so their *global* L2 norm is at most this (PyTorch's
    /// `clip_grad_norm_`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_norm: Option<f64>,
    /// Clamp every gradient element to `[-value, value]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

impl ClipConfig {
    /// Checks that thresholds are positive.
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in [("clip.max_norm", self.max_norm), ("clip.value", self.value)] {
            if let Some(value) = value
                && !(value.is_finite() && value > 0.0)
            {
                return Err(format!("{key} must be a positive number, got {value}"));
            }
        }
        Ok(())
    }
}

/// The divergence guard and the plateau warning (the homework's Q1a and Q1b): `[guard]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardConfig {
    /// Stop when a step's loss exceeds this multiple of the first epoch's mean training loss
    /// (a non-finite loss or gradient norm always stops). 0 turns the ratio test off.
    pub max_loss_ratio: f64,
    /// Warn when validation loss has not improved by `plateau_min_delta` for this many epochs
    /// (0: never).
    pub plateau_epochs: usize,
    /// The improvement that counts, in loss units.
    pub plateau_min_delta: f64,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            max_loss_ratio: 5.0,
            plateau_epochs: 3,
            plateau_min_delta: 1e-3,
        }
    }
}

impl GuardConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.max_loss_ratio == 0.0 || self.max_loss_ratio > 1.0) {
            return Err(format!(
                "guard.max_loss_ratio must be 0 (off) or above 1, got {}",
                self.max_loss_ratio
            ));
        }
        if !(self.plateau_min_delta.is_finite() && self.plateau_min_delta >= 0.0) {
            return Err(format!(
                "guard.plateau_min_delta must be zero or positive, got {}",
                self.plateau_min_delta
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn train_and_optimizer_configs_round_trip_through_toml() {
        let train = TrainConfig {
            epochs: 3,
            batch_size: BatchSize::Items(16),
            seed: 1,
            num_workers: 0,
            early_stopping: Some(2),
        };
        let optimizer = OptimizerConfig {
            kind: OptimizerKind::Sgd,
            lr: 0.1,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 5e-4,
        };
        let train_text = toml::to_string(&train).unwrap();
        let optimizer_text = toml::to_string(&optimizer).unwrap();
        assert_eq!(toml::from_str::<TrainConfig>(&train_text).unwrap(), train);
        assert_eq!(
            toml::from_str::<OptimizerConfig>(&optimizer_text).unwrap(),
            optimizer
        );
    }

    #[test]
    fn batch_size_is_a_count_or_full() {
        let full: TrainConfig = toml::from_str("batch_size = \"full\"").unwrap();
        assert_eq!(full.batch_size, BatchSize::Full);
        assert_eq!(full.batch_size.items(800), 800);
        assert!(
            toml::to_string(&full)
                .unwrap()
                .contains("batch_size = \"full\"")
        );
        let n: TrainConfig = toml::from_str("batch_size = 16").unwrap();
        assert_eq!(n.batch_size.items(10), 10);
        let error = toml::from_str::<TrainConfig>("batch_size = \"big\"").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("expected a positive number of items or \"full\""),
            "{error}"
        );
    }

    #[test]
    fn zero_batch_size_and_negative_lr_are_rejected() {
        let train = TrainConfig {
            batch_size: BatchSize::Items(0),
            ..TrainConfig::default()
        };
        assert!(train.validate().unwrap_err().contains("train.batch_size"));
        let optimizer = OptimizerConfig {
            lr: -1.0,
            ..OptimizerConfig::default()
        };
        assert!(optimizer.validate().unwrap_err().contains("optimizer.lr"));
    }
}
