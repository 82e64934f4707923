//! The `[schedule]` table: constant, step, exponential, cosine and warm-up + cosine, with
//! lengths in epochs and the keys each kind reads.

use serde::{Deserialize, Serialize};

use super::tagged::tagged;
use crate::error::Error;

impl<'de> Deserialize<'de> for ScheduleConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        tagged::<D, ScheduleToml>(deserializer, "constant").map(Self::from)
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
