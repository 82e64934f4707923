//! The tables zoo-train reads, one file each: `[train]`, `[optimizer]`, `[schedule]`, `[clip]`,
//! `[guard]` (each with its checks), and the kind-tagged TOML that `[optimizer]` and
//! `[schedule]` share.

mod clip;
mod guard;
mod optimizer;
mod schedule;
mod tagged;
#[cfg(test)]
mod tests;
mod train;

pub use clip::ClipConfig;
pub use guard::GuardConfig;
pub use optimizer::{OptimizerConfig, OptimizerKind};
pub use schedule::{ScheduleConfig, ScheduleKind};
pub use train::{BatchSize, LastBatch, TrainConfig};
