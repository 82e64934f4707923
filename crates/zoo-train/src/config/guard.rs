//! The `[guard]` table: the divergence guard's and the plateau warning's settings.

use serde::{Deserialize, Serialize};

use crate::error::Error;

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
