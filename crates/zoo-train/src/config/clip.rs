//! The `[clip]` table: gradient clipping by global norm or by value.

use serde::{Deserialize, Serialize};

use crate::error::Error;

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
