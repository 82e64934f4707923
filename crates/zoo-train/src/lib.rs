//! burn-zoo's one training loop. This crate owns the `[train]` and `[optimizer]` tables of an
//! experiment and the global gradient norm (clipping, the metric, the divergence guard); the
//! loop on burn-train's `SupervisedTraining` builds on them. zoo-train never
//! names a concrete model or dataset.

mod config;
mod grad;

pub use config::{OptimizerConfig, OptimizerKind, TrainConfig};
pub use grad::{clip_by_value, clip_global_norm, global_grad_norm};
