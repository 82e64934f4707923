//! burn-zoo's one training loop. This crate owns the `[train]` and `[optimizer]` tables of an
//! experiment; the loop on burn-train's `SupervisedTraining` builds on them. zoo-train never
//! names a concrete model or dataset.

mod config;

pub use config::{OptimizerConfig, OptimizerKind, TrainConfig};
