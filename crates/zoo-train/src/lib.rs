//! burn-zoo's one training loop on burn-train's `SupervisedTraining`: the generic
//! [`Classifier`] wrapper (train and inference steps for any model that maps inputs to
//! logits, its [`Task`] given), metrics with the global gradient norm, optimizers and
//! schedules from config, the divergence guard ([`DivergenceGuard`]) and plateau warning
//! ([`PlateauWatch`]) fed by the renderer ([`Monitor`]), the run's [`History`] and the run
//! directory ([`RunDir`]), errors as [`Error`]. zoo-train never names a concrete model or
//! dataset.

mod atomic;
mod bench;
mod checkpoint;
mod config;
mod curves;
mod data;
mod error;
mod eval;
mod grad;
mod guard;
mod history;
mod host;
mod logfile;
mod lrfind;
mod metrics;
mod monitor;
mod optim;
mod plateau;
pub mod plot;
mod run;
mod saddle;
mod shard;
mod step;
mod trainer;

pub use atomic::write_atomic;
pub use bench::{BenchConfig, BenchReport, Throughput, bench, peak_rss_mib};
pub use checkpoint::AtomicCheckpointer;
pub use config::{
    BatchSize, ClipConfig, GuardConfig, LastBatch, OptimizerConfig, OptimizerKind, ScheduleConfig,
    ScheduleKind, TrainConfig,
};
pub use curves::{curve_panels, smoothed, smoothing_span};
pub use data::Loaders;
pub use error::Error;
pub use eval::{BinaryMetrics, ClassCounts, EvalMetrics, binary_metrics, evaluate};
pub use grad::{
    clip_by_value, clip_global_norm, global_grad_norm, scale_to_global_norm, squared_grad_norm,
};
pub use guard::{DivergenceGuard, Verdict};
pub use history::{
    Divergence, EpochRecord, History, Plateau, StepRecord, load_history, metrics_csv, read_history,
    short_name, steps_csv,
};
pub use host::{host_device, reads as host_reads};
pub use lrfind::{
    LrFindConfig, LrFindPoint, LrFindResult, lr_find, lr_find_csv, suggestions, write_lr_find,
};
pub use metrics::{GRAD_NORM, GradNormMetric};
pub use monitor::Monitor;
pub use optim::{build_optimizer, build_schedule, schedule_values};
pub use plateau::{PlateauWatch, Stall};
pub use run::{RunDir, git_revision, timestamp};
pub use saddle::{
    Point, SaddleConfig, SaddleOptimizer, Surface, Trajectory, run_saddle, saddle_csv,
};
pub use step::{
    Classifier, ClassifierOutput, Classify, GradNormInput, LabeledBatch, Task, Weights,
    per_item_loss, probabilities,
};
pub use trainer::{
    Parallel, RunSummary, StopHandle, TrainError, TrainPlan, check_weights, save_weights, train,
    verify_weights,
};
