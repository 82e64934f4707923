//! The training loop: burn-train's `SupervisedTraining` + `Learner` driven by the experiment's
//! tables, then the run directory's files (best weights, test metrics, curves, summary).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::Device;
use burn::tensor::distributed::{DistributedConfig, ReduceOperation};
use burn::train::metric::store::{Aggregate, Direction, Split};
use burn::train::metric::{
    AccuracyMetric, AurocMetric, FBetaScoreMetric, LearningRateMetric, LossMetric, PrecisionMetric,
    RecallMetric,
};
use burn::train::renderer::default_renderer;
use burn::train::{
    ExecutionStrategy, Interrupter, Learner, MetricEarlyStoppingStrategy, MultiDeviceOptim,
    StoppingCondition, SupervisedTraining, TrainingStrategy,
};
use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::checkpoint::AtomicCheckpointer;
use crate::config::{ClipConfig, GuardConfig, OptimizerConfig, ScheduleConfig, TrainConfig};
use crate::curves::curve_panels;
use crate::data::Loaders;
use crate::error::Error;
use crate::eval::{EvalMetrics, evaluate};
use crate::history::{
    Divergence, EpochRecord, History, LOSS, Plateau, load_history, metrics_csv, short_keys,
    steps_csv,
};
use crate::logfile::WarningsLog;
use crate::metrics::GradNormMetric;
use crate::monitor::Monitor;
use crate::optim::{build_optimizer, build_schedule};
use crate::plot::render_png;
use crate::run::{RunDir, git_revision};
use crate::shard::Sharded;
use crate::step::{Classifier, Classify, LabeledBatch, Task};

/// Stops a training from outside (a signal handler): [`StopHandle::stop`] ends it after the
/// current step as an interruption, and the run directory's files are written as for any end.
#[derive(Clone, Default)]
pub struct StopHandle(Interrupter);

impl StopHandle {
    /// Asks the training to stop; `reason` is kept with the interruption.
    pub fn stop(&self, reason: &str) {
        self.0.stop(Some(reason));
    }
}

impl std::fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StopHandle").finish()
    }
}

/// Everything about a run that is not the model or the data.
#[derive(Debug, Clone)]
pub struct TrainPlan {
    /// Experiment name (config stem).
    pub experiment: String,
    /// Model name (the registry's).
    pub model: String,
    /// Backend name as configured.
    pub backend: String,
    /// Binary or multi-class (the model's; it picks the loss and the metrics).
    pub task: Task,
    /// Devices to train on (more than one: data parallel, by [`TrainPlan::parallel`]).
    pub devices: Vec<Device>,
    /// Which of Burn's strategies runs several devices (ignored for one).
    pub parallel: Parallel,
    /// `[train]`.
    pub train: TrainConfig,
    /// `[optimizer]`.
    pub optimizer: OptimizerConfig,
    /// `[schedule]`.
    pub schedule: ScheduleConfig,
    /// `[clip]`.
    pub clip: ClipConfig,
    /// `[guard]`.
    pub guard: GuardConfig,
    /// Stops the training from outside (Ctrl-C).
    pub stop: StopHandle,
}

/// Which of Burn's data-parallel strategies trains on several devices. Either way a step of N
/// devices at the global batch size B is the step of one device at B: each device takes a
/// block of B / N rows of the same global batch (see `shard.rs`), and the update is made from
/// the mean gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parallel {
    /// Burn's `MultiDevice` (`OptimMainDevice`): one thread per device, the gradients added on
    /// the first device, which steps the optimizer; each device's loss is divided by N so that
    /// the sum is the mean gradient. Any backend.
    MultiDevice,
    /// Burn's `DistributedDataParallel` with `ReduceOperation::Mean`: gradients all-reduced
    /// during backward, every device steps its own optimizer. Needs collective operations,
    /// which Burn 0.22 implements for CUDA only (NCCL).
    Ddp,
}

impl TrainPlan {
    /// Checks that the devices can train this plan, before anything is written: the global
    /// batch (`train.batch_size`, or the split for `"full"`) must split into equal blocks, and
    /// `[clip]` needs the global gradient, which the multi-device step does not see.
    pub fn check_devices(&self, train_items: usize) -> Result<(), Error> {
        let n = self.devices.len();
        if n <= 1 {
            return Ok(());
        }
        let rows = self.train.batch_size.items(train_items);
        if !rows.is_multiple_of(n) {
            let what = if self.train.batch_size == crate::config::BatchSize::Full {
                format!("\"full\" ({train_items} training items)")
            } else {
                rows.to_string()
            };
            return Err(Error::Config(format!(
                "train.batch_size = {what} does not split evenly over {n} devices: each device \
                 takes an equal block of every global batch; use a multiple of {n}"
            )));
        }
        if self.parallel == Parallel::MultiDevice
            && (self.clip.max_norm.is_some() || self.clip.value.is_some())
        {
            let key = if self.clip.max_norm.is_some() {
                "clip.max_norm"
            } else {
                "clip.value"
            };
            return Err(Error::Config(format!(
                "{key} with {n} devices: Burn's multi-device strategy adds the devices' \
                 gradients after the step, so the step cannot clip the global gradient; remove \
                 {key}, or train on one device"
            )));
        }
        Ok(())
    }
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    /// Experiment name.
    pub experiment: String,
    /// Model name.
    pub model: String,
    /// Backend name.
    pub backend: String,
    /// `git rev-parse HEAD` of the working directory (`-dirty` with changes).
    pub git_revision: String,
    /// `completed`, `early-stopped`, `diverged` or `interrupted`.
    pub status: String,
    /// `train.epochs`.
    pub epochs_planned: usize,
    /// The last epoch with a complete checkpoint.
    pub epochs_completed: usize,
    /// Set when this run continued an earlier one after that epoch.
    pub resumed_after: Option<usize>,
    /// Epoch of the lowest validation loss (its weights are `model.bpk`).
    pub best_epoch: Option<usize>,
    /// Validation metrics of the best epoch.
    pub best_valid: BTreeMap<String, f64>,
    /// Training metrics of the last epoch.
    pub final_train: BTreeMap<String, f64>,
    /// Validation metrics of the last epoch.
    pub final_valid: BTreeMap<String, f64>,
    /// The test split evaluated with the best weights (absent without a test split).
    pub test: Option<EvalMetrics>,
    /// Items in the train, validation and test splits.
    pub split_sizes: [usize; 3],
    /// Wall time of this invocation, seconds.
    pub wall_seconds: f64,
    /// Mean training throughput over this invocation's epochs (items/s).
    pub train_items_per_second: f64,
    /// Where the divergence guard stopped training.
    pub divergence: Option<Divergence>,
    /// Where the plateau warning fired.
    pub plateau: Option<Plateau>,
}

/// How a run ended, when not well.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The divergence guard stopped training; the run directory's files are written.
    #[error("{message}")]
    Diverged {
        /// The message for the user (epoch, step, gradient norm, learning rate, checkpoint).
        message: String,
        /// What was written.
        summary: Box<RunSummary>,
    },
    /// Anything else (bad schedule, Burn error, I/O), by kind.
    #[error(transparent)]
    Failed(#[from] Error),
}

/// `history.json`: what the monitor recorded, kept after every epoch for `--resume`.
/// Trains `model` (on the plan's first device) on `loaders`, writing into `run`; with
/// `resume_after = Some(n)`, continues from the run's checkpoint of epoch `n`.
pub fn train<M, B>(
    model: M,
    loaders: Loaders<B>,
    plan: &TrainPlan,
    run: &RunDir,
    resume_after: Option<usize>,
) -> Result<RunSummary, TrainError>
where
    B: LabeledBatch,
    M: Classify<B::Inputs> + 'static,
    Classifier<M, B>: std::fmt::Display,
{
    let started = Instant::now();
    plan.check_devices(loaders.sizes.0)?;
    let shards = plan.devices.len();
    let mut steps_per_epoch = loaders.steps_per_epoch(&plan.train);
    let mut train_loader = loaders.train.clone();
    if shards > 1 {
        let rows = plan.train.batch_size.items(loaders.sizes.0);
        steps_per_epoch = (loaders.sizes.0 / rows).max(1);
        // Burn's one-device strategy moves its loader to the device, which forks the loader's
        // shuffling RNG; the same move here gives N devices the one device's batch order.
        let inner = train_loader.to_device(&plan.devices[0]);
        train_loader = Arc::new(Sharded::new(inner, rows, shards));
    }
    let optimizer = build_optimizer(&plan.optimizer);
    let scheduler = build_schedule(
        &plan.schedule,
        plan.optimizer.lr,
        plan.train.epochs,
        steps_per_epoch,
    )?;
    let mut training = SupervisedTraining::new(&run.path, train_loader, loaders.valid.clone())
        .metrics((AccuracyMetric::new(), LossMetric::new()))
        .metric_train_numeric(LearningRateMetric::new())
        .with_custom_checkpointers(
            AtomicCheckpointer::new(&run.checkpoints(), "model"),
            AtomicCheckpointer::new(&run.checkpoints(), "optim"),
            AtomicCheckpointer::new(&run.checkpoints(), "scheduler"),
        )
        .num_epochs(plan.train.epochs)
        .with_application_logger(Some(Box::new(WarningsLog {
            path: run.path.join("experiment.log"),
        })));
    // The multi-device step sees only its block's gradient: no global norm to report.
    let summed = shards > 1 && plan.parallel == Parallel::MultiDevice;
    if !summed {
        training = training.metric_train_numeric(GradNormMetric::new());
    }
    if plan.task == Task::Binary {
        training = training.metrics((
            PrecisionMetric::binary(0.5),
            RecallMetric::binary(0.5),
            FBetaScoreMetric::binary(1.0, 0.5),
            AurocMetric::binary(),
        ));
    }
    if let Some(n_epochs) = plan.train.early_stopping {
        training = training.early_stopping(MetricEarlyStoppingStrategy::new(
            &LossMetric::new(),
            Aggregate::Mean,
            Direction::Lowest,
            Split::Valid,
            StoppingCondition::NoImprovementSince { n_epochs },
        ));
    }
    if let Some(epoch) = resume_after {
        training = training.checkpoint(epoch);
    }
    if shards > 1 {
        let strategy = match plan.parallel {
            Parallel::MultiDevice => {
                ExecutionStrategy::multi(plan.devices.clone(), MultiDeviceOptim::OptimMainDevice)
            }
            Parallel::Ddp => {
                // Burn panics where the backend has no collective operations (all but CUDA).
                let devices = plan.devices.clone();
                let config = DistributedConfig {
                    all_reduce_op: ReduceOperation::Mean,
                };
                std::panic::catch_unwind(move || ExecutionStrategy::ddp(devices, config)).map_err(
                    |panic| {
                        Error::Config(format!(
                            "DDP on these devices: Burn could not start its collective \
                             operations ({}); Burn 0.22 has them for CUDA only: use the \
                             multi-device strategy",
                            panic_text(panic.as_ref())
                        ))
                    },
                )?
            }
        };
        training = training.with_training_strategy(TrainingStrategy::Default(strategy));
    }
    training = training.with_interrupter(plan.stop.0.clone());
    let interrupter = training.interrupter();
    let terminal = std::io::stdout().is_terminal();
    let inner = terminal.then(|| default_renderer(interrupter.clone(), resume_after));
    let (mut monitor, history) = Monitor::new(inner, plan.guard.clone(), interrupter);
    monitor = monitor.persist_to(run.clone()).devices(shards);
    if let Some(epoch) = resume_after {
        let earlier = load_history(run, epoch)?;
        monitor = monitor.resume(earlier);
    }
    training = training.renderer(Box::new(monitor));

    let mut classifier = Classifier::<M, B>::new(model, plan.task, plan.clip.clone());
    if summed {
        classifier = classifier.summed_over(shards);
    }
    // A device that fails mid-run (a remote server gone, a GPU lost) panics inside Burn; the
    // checkpoints written so far are whole (atomic), so it ends as an error to resume from.
    let learner = Learner::new(classifier, optimizer, scheduler);
    let launched =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| training.launch(learner)));
    let result = match launched {
        Ok(result) => result,
        Err(panic) => {
            let text = panic_text(panic.as_ref());
            let last = run.complete_checkpoints().last().copied();
            let resume = last.map_or("no epoch was complete".to_string(), |epoch| {
                format!(
                    "`zoo train --resume {}` continues after epoch {epoch}",
                    run.path.display()
                )
            });
            return Err(Error::Backend(format!(
                "training stopped: a device failed ({text}); {resume}"
            ))
            .into());
        }
    };
    // Dropping Burn's TUI closes it and restores the terminal; `manual_close` would instead
    // wait for the user to press `q` (the TUI resets the interrupter when training ends).
    drop(result.renderer);
    let history = history.lock().unwrap().clone();
    if terminal {
        for line in &history.lines {
            println!("{line}");
        }
    }
    if let Some(error) = &result.error {
        return Err(Error::Backend(format!("training stopped by an error: {error}")).into());
    }

    // The best complete epoch by validation loss; its checkpoint becomes model.bpk.
    let complete = run.complete_checkpoints();
    let epochs_completed = complete.last().copied().unwrap_or(0);
    let best_epoch = complete
        .iter()
        .filter_map(|&epoch| {
            history
                .value(epoch, "valid", LOSS)
                .map(|loss| (epoch, loss))
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(epoch, _)| epoch)
        .or(complete.last().copied());
    let mut test = None;
    if let Some(epoch) = best_epoch {
        crate::checkpoint::verify(&run.model_checkpoint(epoch))?;
        let best = result
            .model
            .clone()
            .try_load_file(run.model_checkpoint(epoch))
            .map_err(|error| {
                Error::Backend(format!(
                    "loading {}: {error:?}",
                    run.model_checkpoint(epoch).display()
                ))
            })?;
        save_weights(&best, &run.model())?;
        if loaders.sizes.2 > 0 {
            test = Some(evaluate(&best, loaders.test.as_ref())?);
        }
    }

    let records = |split: &str, epoch: usize| {
        history
            .record(epoch, split)
            .map(|r| short_keys(&r.metrics))
            .unwrap_or_default()
    };
    let last_epoch = history.epochs.iter().map(|r| r.epoch).max().unwrap_or(0);
    let this_invocation: Vec<&EpochRecord> = history
        .epochs
        .iter()
        .filter(|r| r.split == "train" && r.epoch > resume_after.unwrap_or(0))
        .collect();
    let status = if history.divergence.is_some() {
        "diverged"
    } else if result.interrupted.is_some() {
        "interrupted"
    } else if epochs_completed < plan.train.epochs {
        "early-stopped"
    } else {
        "completed"
    };
    let summary = RunSummary {
        experiment: plan.experiment.clone(),
        model: plan.model.clone(),
        backend: plan.backend.clone(),
        git_revision: git_revision(),
        status: status.to_string(),
        epochs_planned: plan.train.epochs,
        epochs_completed,
        resumed_after: resume_after,
        best_epoch,
        best_valid: best_epoch.map(|e| records("valid", e)).unwrap_or_default(),
        final_train: records("train", last_epoch),
        final_valid: records("valid", last_epoch),
        test: test.clone(),
        split_sizes: [loaders.sizes.0, loaders.sizes.1, loaders.sizes.2],
        wall_seconds: started.elapsed().as_secs_f64(),
        train_items_per_second: if this_invocation.is_empty() {
            0.0
        } else {
            this_invocation
                .iter()
                .map(|r| r.items_per_second)
                .sum::<f64>()
                / this_invocation.len() as f64
        },
        divergence: history.divergence.clone(),
        plateau: history.plateau.clone(),
    };
    write_outputs(run, &history, test.as_ref(), best_epoch, &summary)?;

    if let Some(divergence) = &history.divergence {
        let norm = divergence
            .grad_norm
            .map_or("unknown".to_string(), |n| format!("{n:.2e}"));
        let lr = divergence.lr.map_or(plan.optimizer.lr, |lr| lr);
        let checkpoint = match complete.last() {
            Some(&epoch) => run.model_checkpoint(epoch).display().to_string(),
            None => "none (it diverged in the first epoch)".to_string(),
        };
        let message = format!(
            "loss diverged at epoch {}, step {} ({}; grad norm {norm}): learning rate {lr:e} is \
             likely too high; last good checkpoint: {checkpoint}",
            divergence.epoch, divergence.step, divergence.reason
        );
        return Err(TrainError::Diverged {
            message,
            summary: Box::new(summary),
        });
    }
    Ok(summary)
}

/// A caught panic's message on one line.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Writes `model`'s weights to `path` (burnpack) atomically: a temp file in the same directory
/// (with the `.bpk` extension Burn writes), then a rename; the temp file is removed on failure.
/// Its SHA-256 goes to `<path>.sha256` before the rename, as for checkpoints, so that
/// [`verify_weights`] tells a damaged copy (a flipped bit evaluates without an error) from the
/// file written.
pub fn save_weights<M: Module>(model: &M, path: &Path) -> Result<(), Error> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let temp = dir
        .unwrap_or(Path::new("."))
        .join(format!(".weights.tmp-{}.bpk", std::process::id()));
    let result = model
        .clone()
        .save_file(&temp)
        .map_err(|error| Error::Backend(format!("writing {}: {error:?}", temp.display())))
        .and_then(|()| {
            let sum = crate::checkpoint::checksum_path(path);
            crate::checkpoint::checksum_line(&temp)
                .and_then(|line| crate::atomic::write_atomic(&sum, line.as_bytes()))
                .map_err(|error| Error::io(format!("writing {}", sum.display()), error))
        })
        .and_then(|()| {
            std::fs::rename(&temp, path)
                .map_err(|error| Error::io(format!("writing {}", path.display()), error))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Checks weights written by [`save_weights`] against their `<path>.sha256`: `Ok(true)` when
/// they match, `Ok(false)` when there is no checksum file (weights from before checksums, or
/// copied without it: the caller says that damage cannot be told), `Err` when the file differs
/// from what was written.
pub fn verify_weights(path: &Path) -> Result<bool, Error> {
    crate::checkpoint::verify(path)
}

/// [`verify_weights`] for a command about to read weights: a mismatch is the error; weights
/// without a checksum file (written elsewhere, or before checksums) are read with a warning
/// that damage cannot be told.
pub fn check_weights(path: &Path) -> Result<(), Error> {
    if !verify_weights(path)? {
        eprintln!(
            "warning: {} has no checksum file ({}.sha256, written by `zoo train` and `zoo \
             import`): whether it is damaged cannot be told",
            path.display(),
            path.file_name().unwrap_or_default().to_string_lossy()
        );
    }
    Ok(())
}

/// metrics.csv (with the test row), steps.csv, curves.png and summary.json.
fn write_outputs(
    run: &RunDir,
    history: &History,
    test: Option<&EvalMetrics>,
    best_epoch: Option<usize>,
    summary: &RunSummary,
) -> Result<(), TrainError> {
    let mut records = history.epochs.clone();
    if let (Some(test), Some(epoch)) = (test, best_epoch) {
        let mut metrics = BTreeMap::from([
            (LOSS.to_string(), test.loss),
            ("Accuracy".to_string(), test.accuracy),
        ]);
        if let Some(binary) = &test.binary {
            metrics.insert("Precision".into(), binary.precision);
            metrics.insert("Recall".into(), binary.recall);
            metrics.insert("F1".into(), binary.f1);
            metrics.insert("AUROC".into(), binary.auroc);
        }
        records.push(EpochRecord {
            epoch,
            split: "test".into(),
            metrics,
            items_per_second: 0.0,
            seconds: 0.0,
        });
    }
    write_atomic(&run.metrics_csv(), metrics_csv(&records).as_bytes())
        .map_err(|e| Error::io(format!("writing {}", run.metrics_csv().display()), e))?;
    write_atomic(&run.steps_csv(), steps_csv(history).as_bytes())
        .map_err(|e| Error::io(format!("writing {}", run.steps_csv().display()), e))?;
    render_png(&run.curves(), &curve_panels(history), 2, (1200, 800))?;
    let json = serde_json::to_string_pretty(summary).expect("a summary serialises");
    write_atomic(&run.summary(), json.as_bytes())
        .map_err(|e| Error::io(format!("writing {}", run.summary().display()), e))?;
    Ok(())
}
