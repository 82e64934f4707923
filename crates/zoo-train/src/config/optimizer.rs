//! The `[optimizer]` table: SGD (momentum, Nesterov), Adam, AdamW, RMSprop, and the keys each
//! kind reads.

use serde::{Deserialize, Serialize};

use super::tagged::tagged;
use crate::error::Error;

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

impl<'de> Deserialize<'de> for OptimizerConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        tagged::<D, OptimizerToml>(deserializer, "adam").map(Self::from)
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
