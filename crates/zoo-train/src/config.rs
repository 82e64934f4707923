//! The `[train]`, `[optimizer]`, `[schedule]`, `[clip]` and `[guard]` tables, with the keys
//! each optimizer and schedule kind reads, and their checks.

use serde::{Deserialize, Serialize};

use crate::error::Error;

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
    pub fn validate(&self) -> Result<(), Error> {
        if self.epochs == 0 {
            return Err(Error::Config(
                "train.epochs must be at least 1, got 0".to_string(),
            ));
        }
        if self.batch_size == BatchSize::Items(0) {
            return Err(Error::Config(
                "train.batch_size must be at least 1, got 0".to_string(),
            ));
        }
        if self.early_stopping == Some(0) {
            return Err(Error::Config(
                "train.early_stopping must be at least 1 epoch, got 0".to_string(),
            ));
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
///
/// In TOML the table is tagged by `kind`, and each kind owns its keys ([`OptimizerToml`]):
/// `momentum` with Adam, or `nesterov` with RMSprop, is refused as an unknown field, not
/// silently ignored. Here every field exists for every kind; a key that does not apply holds
/// its neutral value (0, false), which [`OptimizerConfig::validate`] checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(into = "OptimizerToml")]
pub struct OptimizerConfig {
    /// Which optimizer.
    pub kind: OptimizerKind,
    /// Learning rate (the peak, when a schedule is used).
    pub lr: f64,
    /// Momentum (SGD and RMSprop; 0 turns it off).
    pub momentum: f64,
    /// Nesterov momentum (SGD with momentum > 0 only).
    pub nesterov: bool,
    /// L2 penalty (SGD, Adam, RMSprop) or decoupled weight decay (AdamW).
    pub weight_decay: f64,
}

/// Reads a kind-tagged table, with `kind = default_kind` when the table names none (so
/// `--set optimizer.lr=0.01` works on a config without an `[optimizer]` table).
fn tagged<'de, D, T>(deserializer: D, default_kind: &str) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::de::Error;
    let mut table = toml::Table::deserialize(deserializer)?;
    let kind = table
        .entry("kind")
        .or_insert_with(|| toml::Value::String(default_kind.to_string()))
        .to_string();
    toml::Value::Table(table)
        .try_into()
        .map_err(|error: toml::de::Error| {
            let message = error.message().trim();
            let message = message.replace("there are no fields", "expected no key besides `kind`");
            match message.strip_prefix("unknown field ") {
                Some(rest) => D::Error::custom(format!(
                    "unknown field {}: it does not apply to kind = {kind}{}",
                    rest.split(',').next().unwrap_or(rest),
                    rest.find(',')
                        .map_or(String::new(), |at| format!(" ({})", rest[at + 1..].trim())),
                )),
                None => D::Error::custom(&message),
            }
        })
}

impl<'de> Deserialize<'de> for OptimizerConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        tagged::<D, OptimizerToml>(deserializer, "adam").map(Self::from)
    }
}

impl<'de> Deserialize<'de> for ScheduleConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        tagged::<D, ScheduleToml>(deserializer, "constant").map(Self::from)
    }
}

fn default_lr() -> f64 {
    1e-3
}

/// `[optimizer]` as written: `kind` picks the variant, and only that variant's keys are
/// accepted (PyTorch's constructors likewise take no `momentum` for Adam).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum OptimizerToml {
    /// Stochastic gradient descent.
    Sgd {
        /// Learning rate.
        #[serde(default = "default_lr")]
        lr: f64,
        /// Momentum (0: plain SGD).
        #[serde(default)]
        momentum: f64,
        /// Nesterov momentum (needs momentum > 0, as in PyTorch).
        #[serde(default)]
        nesterov: bool,
        /// L2 penalty.
        #[serde(default)]
        weight_decay: f64,
    },
    /// Adam.
    Adam {
        /// Learning rate.
        #[serde(default = "default_lr")]
        lr: f64,
        /// L2 penalty.
        #[serde(default)]
        weight_decay: f64,
    },
    /// Adam with decoupled weight decay.
    Adamw {
        /// Learning rate.
        #[serde(default = "default_lr")]
        lr: f64,
        /// Decoupled weight decay.
        #[serde(default)]
        weight_decay: f64,
    },
    /// RMSprop.
    Rmsprop {
        /// Learning rate.
        #[serde(default = "default_lr")]
        lr: f64,
        /// Momentum (0: off).
        #[serde(default)]
        momentum: f64,
        /// L2 penalty.
        #[serde(default)]
        weight_decay: f64,
    },
}

impl From<OptimizerToml> for OptimizerConfig {
    fn from(toml: OptimizerToml) -> Self {
        let plain = |kind, lr, weight_decay| OptimizerConfig {
            kind,
            lr,
            momentum: 0.0,
            nesterov: false,
            weight_decay,
        };
        match toml {
            OptimizerToml::Sgd {
                lr,
                momentum,
                nesterov,
                weight_decay,
            } => OptimizerConfig {
                kind: OptimizerKind::Sgd,
                lr,
                momentum,
                nesterov,
                weight_decay,
            },
            OptimizerToml::Adam { lr, weight_decay } => {
                plain(OptimizerKind::Adam, lr, weight_decay)
            }
            OptimizerToml::Adamw { lr, weight_decay } => {
                plain(OptimizerKind::Adamw, lr, weight_decay)
            }
            OptimizerToml::Rmsprop {
                lr,
                momentum,
                weight_decay,
            } => OptimizerConfig {
                momentum,
                ..plain(OptimizerKind::Rmsprop, lr, weight_decay)
            },
        }
    }
}

impl From<OptimizerConfig> for OptimizerToml {
    fn from(config: OptimizerConfig) -> Self {
        let OptimizerConfig {
            kind,
            lr,
            momentum,
            nesterov,
            weight_decay,
        } = config;
        match kind {
            OptimizerKind::Sgd => OptimizerToml::Sgd {
                lr,
                momentum,
                nesterov,
                weight_decay,
            },
            OptimizerKind::Adam => OptimizerToml::Adam { lr, weight_decay },
            OptimizerKind::Adamw => OptimizerToml::Adamw { lr, weight_decay },
            OptimizerKind::Rmsprop => OptimizerToml::Rmsprop {
                lr,
                momentum,
                weight_decay,
            },
        }
    }
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
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::Config(format!(
                "optimizer.lr must be a positive number, got {}",
                self.lr
            )));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(Error::Config(format!(
                "optimizer.momentum must be in [0, 1), got {}",
                self.momentum
            )));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(Error::Config(format!(
                "optimizer.weight_decay must be zero or positive, got {}",
                self.weight_decay
            )));
        }
        let kind = self.kind.name();
        if self.momentum != 0.0 && !matches!(self.kind, OptimizerKind::Sgd | OptimizerKind::Rmsprop)
        {
            return Err(Error::Config(format!(
                "optimizer.momentum applies to kind = \"sgd\" and \"rmsprop\", not \"{kind}\""
            )));
        }
        if self.nesterov && self.kind != OptimizerKind::Sgd {
            return Err(Error::Config(format!(
                "optimizer.nesterov applies to kind = \"sgd\" only, not \"{kind}\""
            )));
        }
        if self.nesterov && self.momentum == 0.0 {
            return Err(Error::Config(
                "optimizer.nesterov = true needs optimizer.momentum > 0 (Nesterov momentum \
                 without momentum is plain SGD; PyTorch refuses it too)"
                    .into(),
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

impl OptimizerKind {
    /// The name used in configs.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::Adamw => "adamw",
            OptimizerKind::Rmsprop => "rmsprop",
        }
    }
}

/// How the learning rate changes over training: the `[schedule]` table. Lengths are in
/// epochs (converted to optimizer steps, since Burn's schedulers step every iteration).
///
/// In TOML the table is tagged by `kind` and each kind owns its keys ([`ScheduleToml`]):
/// `gamma` with `constant` is refused, not ignored. Keys that do not apply hold their defaults
/// here.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(into = "ScheduleToml")]
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

fn default_step_epochs() -> usize {
    ScheduleConfig::default().step_epochs
}
fn default_gamma() -> f64 {
    ScheduleConfig::default().gamma
}
fn default_warmup_epochs() -> usize {
    ScheduleConfig::default().warmup_epochs
}

/// `[schedule]` as written: `kind` picks the variant, and only its keys are accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ScheduleToml {
    /// `optimizer.lr` throughout.
    Constant {},
    /// Multiplied by `gamma` every `step_epochs` epochs.
    Step {
        /// Epochs between two multiplications.
        #[serde(default = "default_step_epochs")]
        step_epochs: usize,
        /// Factor per `step_epochs`.
        #[serde(default = "default_gamma")]
        gamma: f64,
    },
    /// Multiplied by `gamma` every epoch.
    Exponential {
        /// Factor per epoch.
        #[serde(default = "default_gamma")]
        gamma: f64,
    },
    /// Cosine annealing to `min_lr`.
    Cosine {
        /// The learning rate at the end.
        #[serde(default)]
        min_lr: f64,
    },
    /// Linear warm-up, then cosine annealing to `min_lr`.
    WarmupCosine {
        /// The learning rate at the end.
        #[serde(default)]
        min_lr: f64,
        /// Epochs of warm-up from `lr / 100`.
        #[serde(default = "default_warmup_epochs")]
        warmup_epochs: usize,
    },
}

impl From<ScheduleToml> for ScheduleConfig {
    fn from(toml: ScheduleToml) -> Self {
        let default = ScheduleConfig::default();
        match toml {
            ScheduleToml::Constant {} => default,
            ScheduleToml::Step { step_epochs, gamma } => ScheduleConfig {
                kind: ScheduleKind::Step,
                step_epochs,
                gamma,
                ..default
            },
            ScheduleToml::Exponential { gamma } => ScheduleConfig {
                kind: ScheduleKind::Exponential,
                gamma,
                ..default
            },
            ScheduleToml::Cosine { min_lr } => ScheduleConfig {
                kind: ScheduleKind::Cosine,
                min_lr,
                ..default
            },
            ScheduleToml::WarmupCosine {
                min_lr,
                warmup_epochs,
            } => ScheduleConfig {
                kind: ScheduleKind::WarmupCosine,
                min_lr,
                warmup_epochs,
                ..default
            },
        }
    }
}

impl From<ScheduleConfig> for ScheduleToml {
    fn from(config: ScheduleConfig) -> Self {
        match config.kind {
            ScheduleKind::Constant => ScheduleToml::Constant {},
            ScheduleKind::Step => ScheduleToml::Step {
                step_epochs: config.step_epochs,
                gamma: config.gamma,
            },
            ScheduleKind::Exponential => ScheduleToml::Exponential {
                gamma: config.gamma,
            },
            ScheduleKind::Cosine => ScheduleToml::Cosine {
                min_lr: config.min_lr,
            },
            ScheduleKind::WarmupCosine => ScheduleToml::WarmupCosine {
                min_lr: config.min_lr,
                warmup_epochs: config.warmup_epochs,
            },
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
    pub fn validate(&self, lr: f64, epochs: usize) -> Result<(), Error> {
        match self.kind {
            ScheduleKind::Constant => {}
            ScheduleKind::Step => {
                if self.step_epochs == 0 {
                    return Err(Error::Config(
                        "schedule.step_epochs must be at least 1, got 0".to_string(),
                    ));
                }
                if !(self.gamma > 0.0 && self.gamma <= 1.0) {
                    return Err(Error::Config(format!(
                        "schedule.gamma must be in (0, 1], got {}",
                        self.gamma
                    )));
                }
            }
            ScheduleKind::Exponential => {
                if !(self.gamma > 0.0 && self.gamma <= 1.0) {
                    return Err(Error::Config(format!(
                        "schedule.gamma must be in (0, 1], got {}",
                        self.gamma
                    )));
                }
            }
            ScheduleKind::Cosine | ScheduleKind::WarmupCosine => {
                if !(self.min_lr >= 0.0 && self.min_lr <= lr) {
                    return Err(Error::Config(format!(
                        "schedule.min_lr must be in [0, optimizer.lr = {lr}], got {}",
                        self.min_lr
                    )));
                }
                if self.kind == ScheduleKind::WarmupCosine && self.warmup_epochs == 0 {
                    return Err(Error::Config(
                        "schedule.warmup_epochs must be at least 1 with kind = \
                                \"warmup-cosine\" (kind = \"cosine\" has no warm-up)"
                            .to_string(),
                    ));
                }
                if self.kind == ScheduleKind::WarmupCosine && self.warmup_epochs >= epochs {
                    return Err(Error::Config(format!(
                        "schedule.warmup_epochs ({}) must be less than train.epochs ({epochs})",
                        self.warmup_epochs
                    )));
                }
            }
        }
        // Burn's exponential, cosine and linear schedulers take learning rates in (0, 1].
        if self.kind != ScheduleKind::Constant && self.kind != ScheduleKind::Step && lr > 1.0 {
            return Err(Error::Config(format!(
                "optimizer.lr must be at most 1 with schedule.kind = \"{}\", got {lr}",
                self.kind.name()
            )));
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
    pub fn validate(&self) -> Result<(), Error> {
        for (key, value) in [("clip.max_norm", self.max_norm), ("clip.value", self.value)] {
            if let Some(value) = value
                && !(value.is_finite() && value > 0.0)
            {
                return Err(Error::Config(format!(
                    "{key} must be a positive number, got {value}"
                )));
            }
        }
        Ok(())
    }
}

/// The divergence guard and the plateau warning (the homework's Q1a and Q1b): `[guard]`.
/// The rule is [`crate::DivergenceGuard`]'s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardConfig {
    /// Stop when the smoothed training loss stays above this multiple of its own running
    /// minimum (floored at a tenth of the first step's loss) for `patience_steps` steps. A
    /// non-finite loss or gradient norm always stops. 0 turns the rise test off.
    pub max_loss_ratio: f64,
    /// Span, in steps, of the loss's exponential moving average.
    pub smoothing_steps: usize,
    /// Consecutive steps the smoothed loss must stay above the limit: one noisy batch is not
    /// a divergence.
    pub patience_steps: usize,
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
            smoothing_steps: 20,
            patience_steps: 10,
            plateau_epochs: 3,
            plateau_min_delta: 1e-3,
        }
    }
}

impl GuardConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.max_loss_ratio == 0.0 || self.max_loss_ratio > 1.0) {
            return Err(Error::Config(format!(
                "guard.max_loss_ratio must be 0 (off) or above 1, got {}",
                self.max_loss_ratio
            )));
        }
        if self.smoothing_steps == 0 {
            return Err(Error::Config(
                "guard.smoothing_steps must be at least 1 (1: no smoothing), got 0".to_string(),
            ));
        }
        if self.patience_steps == 0 {
            return Err(Error::Config(
                "guard.patience_steps must be at least 1, got 0".to_string(),
            ));
        }
        if !(self.plateau_min_delta.is_finite() && self.plateau_min_delta >= 0.0) {
            return Err(Error::Config(format!(
                "guard.plateau_min_delta must be zero or positive, got {}",
                self.plateau_min_delta
            )));
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
    fn each_optimizer_and_schedule_kind_owns_its_keys() {
        let refused = |text: &str| {
            toml::from_str::<OptimizerConfig>(text)
                .unwrap_err()
                .to_string()
        };
        let message = refused("kind = \"adam\"\nnesterov = true");
        assert!(message.contains("unknown field `nesterov`"), "{message}");
        assert!(
            message.contains("does not apply to kind = \"adam\" (expected `lr` or `weight_decay`)"),
            "{message}"
        );
        let message = refused("kind = \"rmsprop\"\nnesterov = false");
        assert!(message.contains("unknown field `nesterov`"), "{message}");
        let message = refused("kind = \"lbfgs\"");
        assert!(message.contains("unknown variant `lbfgs`"), "{message}");
        assert!(
            message.contains("`sgd`, `adam`, `adamw`, `rmsprop`"),
            "{message}"
        );
        let sgd: OptimizerConfig = toml::from_str("kind = \"sgd\"\nmomentum = 0.9").unwrap();
        assert_eq!(
            (sgd.kind, sgd.momentum, sgd.lr),
            (OptimizerKind::Sgd, 0.9, 1e-3)
        );
        let unnamed: OptimizerConfig = toml::from_str("lr = 0.01").unwrap();
        assert_eq!((unnamed.kind, unnamed.lr), (OptimizerKind::Adam, 0.01));
        // Serialised, a kind writes only its own keys, so the text reads back.
        let text = toml::to_string(&unnamed).unwrap();
        assert!(
            !text.contains("momentum") && !text.contains("nesterov"),
            "{text}"
        );
        assert_eq!(toml::from_str::<OptimizerConfig>(&text).unwrap(), unnamed);

        let schedule = |text: &str| toml::from_str::<ScheduleConfig>(text);
        let message = schedule("kind = \"constant\"\ngamma = 0.5")
            .unwrap_err()
            .to_string();
        assert!(message.contains("unknown field `gamma`"), "{message}");
        let message = schedule("kind = \"cosine\"\nwarmup_epochs = 2")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("unknown field `warmup_epochs`"),
            "{message}"
        );
        let step = schedule("kind = \"step\"\ngamma = 0.5").unwrap();
        assert_eq!(
            (step.kind, step.gamma, step.step_epochs),
            (ScheduleKind::Step, 0.5, 10)
        );
        let text = toml::to_string(&step).unwrap();
        assert!(!text.contains("min_lr"), "{text}");
        assert_eq!(schedule(&text).unwrap(), step);
        assert_eq!(schedule("").unwrap(), ScheduleConfig::default());
    }

    #[test]
    fn nesterov_needs_sgd_with_momentum() {
        let sgd = |momentum, nesterov| OptimizerConfig {
            kind: OptimizerKind::Sgd,
            momentum,
            nesterov,
            ..OptimizerConfig::default()
        };
        let error = sgd(0.0, true).validate().unwrap_err();
        assert!(
            error.config().contains("needs optimizer.momentum > 0"),
            "{error}"
        );
        assert!(sgd(0.9, true).validate().is_ok());
        let adam = OptimizerConfig {
            momentum: 0.9,
            ..OptimizerConfig::default()
        };
        let error = adam.validate().unwrap_err();
        assert!(error.config().contains("not \"adam\""), "{error}");
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
        assert!(
            train
                .validate()
                .unwrap_err()
                .config()
                .contains("train.batch_size")
        );
        let optimizer = OptimizerConfig {
            lr: -1.0,
            ..OptimizerConfig::default()
        };
        assert!(
            optimizer
                .validate()
                .unwrap_err()
                .config()
                .contains("optimizer.lr")
        );
    }
}
