use serde::{Deserialize, Serialize};

/// How long and in what batches to train: the `[train]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Items per optimizer step.
    pub batch_size: usize,
    /// Seed of the weights' initialisation and of the data order.
    pub seed: u64,
    /// Data-loading threads that overlap batching with compute.
    pub num_workers: usize,
    /// Stop when validation loss has not improved for this many epochs (absent: never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 64,
            seed: 42,
            num_workers: 2,
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
        if self.batch_size == 0 {
            return Err("train.batch_size must be at least 1, got 0".into());
        }
        if self.early_stopping == Some(0) {
            return Err("train.early_stopping must be at least 1 epoch, got 0".into());
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn train_and_optimizer_configs_round_trip_through_toml() {
        let train = TrainConfig {
            epochs: 3,
            batch_size: 16,
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
    fn zero_batch_size_and_negative_lr_are_rejected() {
        let train = TrainConfig {
            batch_size: 0,
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
