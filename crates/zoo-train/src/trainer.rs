//! The training loop: burn-train's `SupervisedTraining` + `Learner` driven by the experiment's
//! tables, then the run directory's files (best weights, test metrics, curves, summary).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::tensor::Device;
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

use crate::checkpoint::AtomicCheckpointer;
use crate::config::{ClipConfig, GuardConfig, OptimizerConfig, ScheduleConfig, TrainConfig};
use crate::data::Loaders;
use crate::error::Error;
use crate::eval::{EvalMetrics, evaluate};
use crate::metrics::GradNormMetric;
use crate::monitor::{
    ACCURACY, Divergence, EpochRecord, History, LOSS, Monitor, Plateau, StepRecord,
};
use crate::optim::{build_optimizer, build_schedule};
use crate::plot::{Panel, Series, render_png};
use crate::run::{RunDir, git_revision, metrics_csv, write_atomic};
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
    /// Devices to train on (more than one: Burn's multi-device data parallelism).
    pub devices: Vec<Device>,
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
fn history_path(run: &RunDir) -> PathBuf {
    run.path.join("history.json")
}

/// Everything a run's monitor recorded (`history.json`), guard marks included; `None` when the
/// run has none (it stopped before its first split ended).
pub fn read_history(run: &RunDir) -> Result<Option<History>, Error> {
    let path = history_path(run);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(Error::io(format!("cannot read {}", path.display()), error)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|error| Error::format(&path, format!("not a history file: {error}")))
}

/// The history of an earlier invocation, up to and including `epoch`.
pub fn load_history(run: &RunDir, epoch: usize) -> Result<History, Error> {
    let Some(mut history) = read_history(run)? else {
        return Ok(History::default());
    };
    history.epochs.retain(|record| record.epoch <= epoch);
    history.steps.retain(|record| record.epoch <= epoch);
    history.divergence = None;
    Ok(history)
}

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
    let steps_per_epoch = loaders.steps_per_epoch(plan.train.batch_size);
    let optimizer = build_optimizer(&plan.optimizer);
    let scheduler = build_schedule(
        &plan.schedule,
        plan.optimizer.lr,
        plan.train.epochs,
        steps_per_epoch,
    )?;
    let mut training =
        SupervisedTraining::new(&run.path, loaders.train.clone(), loaders.valid.clone())
            .metrics((AccuracyMetric::new(), LossMetric::new()))
            .metric_train_numeric(LearningRateMetric::new())
            .metric_train_numeric(GradNormMetric::new())
            .with_custom_checkpointers(
                AtomicCheckpointer::new(&run.checkpoints(), "model"),
                AtomicCheckpointer::new(&run.checkpoints(), "optim"),
                AtomicCheckpointer::new(&run.checkpoints(), "scheduler"),
            )
            .num_epochs(plan.train.epochs);
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
    if plan.devices.len() > 1 {
        training = training.with_training_strategy(TrainingStrategy::Default(
            ExecutionStrategy::multi(plan.devices.clone(), MultiDeviceOptim::OptimMainDevice),
        ));
    }
    training = training.with_interrupter(plan.stop.0.clone());
    let interrupter = training.interrupter();
    let terminal = std::io::stdout().is_terminal();
    let inner = terminal.then(|| default_renderer(interrupter.clone(), resume_after));
    let (mut monitor, history) = Monitor::new(inner, plan.guard.clone(), interrupter);
    monitor = monitor.persist_to(run.path.clone());
    if let Some(epoch) = resume_after {
        let earlier = load_history(run, epoch)?;
        monitor = monitor.resume(earlier);
    }
    training = training.renderer(Box::new(monitor));

    let classifier = Classifier::<M, B>::new(model, plan.task, plan.clip.clone());
    let result = training.launch(Learner::new(classifier, optimizer, scheduler));
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

/// Metric names as `metrics.csv` columns.
fn short_keys(metrics: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    metrics
        .iter()
        .map(|(k, v)| (crate::monitor::short_name(k), *v))
        .collect()
}

/// Writes `model`'s weights to `path` (burnpack) atomically: a temp file in the same directory
/// (with the `.bpk` extension Burn writes), then a rename; the temp file is removed on failure.
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
            std::fs::rename(&temp, path)
                .map_err(|error| Error::io(format!("writing {}", path.display()), error))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
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

/// `steps.csv`: epoch,step,loss,grad_norm,lr,accuracy for every training step.
pub fn steps_csv(history: &History) -> String {
    let mut out = String::from("epoch,step,loss,grad_norm,lr,accuracy\n");
    let cell = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for s in &history.steps {
        out.push_str(&format!(
            "{},{},{},{},{},{}\n",
            s.epoch,
            s.step,
            s.loss,
            cell(s.grad_norm),
            cell(s.lr),
            cell(s.accuracy)
        ));
    }
    out
}

/// Exponential moving average, debiased as TensorBoard's smoothing is (so the line starts at
/// the first values, not at zero), over a span of about `span` points.
pub fn smoothed(points: &[(f64, f64)], span: usize) -> Vec<(f64, f64)> {
    let alpha = 2.0 / (span.max(1) as f64 + 1.0);
    let (mut average, mut weight) = (0.0, 0.0);
    points
        .iter()
        .filter(|(_, y)| y.is_finite())
        .map(|&(x, y)| {
            average = (1.0 - alpha) * average + alpha * y;
            weight = (1.0 - alpha) * weight + alpha;
            (x, average / weight)
        })
        .collect()
}

/// The smoothing span for `steps` steps: a 25th of the run, between 1 and 100 steps.
pub fn smoothing_span(steps: usize) -> usize {
    (steps / 25).clamp(1, 100)
}

/// Where each step and each epoch's end fall on a run's step axis (steps counted from 1 over
/// the whole run, `--resume` included).
struct StepAxis {
    epoch_end: BTreeMap<usize, f64>,
}

impl StepAxis {
    fn new(history: &History) -> Self {
        let mut epoch_end = BTreeMap::new();
        for (index, step) in history.steps.iter().enumerate() {
            epoch_end.insert(step.epoch, (index + 1) as f64);
        }
        StepAxis { epoch_end }
    }

    /// The step at which `epoch` ended (its validation ran there).
    fn end_of(&self, epoch: usize) -> Option<f64> {
        self.epoch_end.get(&epoch).copied()
    }
}

/// The four panels of `curves.png`, against training steps: the training loss and accuracy per
/// step (raw, faint, and smoothed) with the validation values at each epoch's end; the
/// learning rate and the gradient norm per step; the guard's and plateau warning's marks.
pub fn curve_panels(history: &History) -> Vec<Panel> {
    let axis = StepAxis::new(history);
    let span = smoothing_span(history.steps.len());
    let per_step = |value: fn(&StepRecord) -> Option<f64>| -> Vec<(f64, f64)> {
        history
            .steps
            .iter()
            .enumerate()
            .filter_map(|(index, step)| value(step).map(|v| ((index + 1) as f64, v)))
            .collect()
    };
    let line = |name: &str, points: Vec<(f64, f64)>, faint: bool, markers: bool| Series {
        name: name.to_string(),
        points,
        markers,
        faint,
    };
    let at_epoch_ends = |split: &str, metric: &str| -> Vec<(f64, f64)> {
        history
            .epochs
            .iter()
            .filter(|r| r.split == split)
            .filter_map(|r| Some((axis.end_of(r.epoch)?, *r.metrics.get(metric)?)))
            .collect()
    };
    // Raw per-step values under their smoothed line; runs recorded before per-step accuracy
    // was kept show the training epochs' accuracy instead.
    let trained = |values: Vec<(f64, f64)>, metric: &str| -> Vec<Series> {
        if values.is_empty() {
            let epochs = at_epoch_ends("train", metric);
            return vec![line("train (epoch)", epochs, false, true)];
        }
        let smooth = smoothed(&values, span);
        vec![
            line("train (step)", values, true, false),
            line(
                &format!("train (smoothed, {span} steps)"),
                smooth,
                false,
                false,
            ),
        ]
    };
    let with_valid = |mut series: Vec<Series>, metric: &str| {
        let valid = at_epoch_ends("valid", metric);
        if !valid.is_empty() {
            series.push(line("valid (epoch end)", valid, false, true));
        }
        series
    };
    let mut marks = Vec::new();
    if let Some(d) = &history.divergence {
        let index = history
            .steps
            .iter()
            .position(|s| s.epoch == d.epoch && s.step == d.step);
        let x = index.map_or_else(|| axis.end_of(d.epoch).unwrap_or(0.0), |i| (i + 1) as f64);
        marks.push((x, format!(" diverged (epoch {}, step {})", d.epoch, d.step)));
    }
    if let Some(p) = &history.plateau
        && let Some(x) = axis.end_of(p.epoch)
    {
        marks.push((x, format!(" plateau (epoch {})", p.epoch)));
    }
    let epochs = axis.epoch_end.len();
    let x_label = format!(
        "training step ({} step{} in {epochs} epoch{})",
        history.steps.len(),
        if history.steps.len() == 1 { "" } else { "s" },
        if epochs == 1 { "" } else { "s" }
    );
    let panel = |title: &str, y: &str, log_y: bool, series: Vec<Series>| Panel {
        title: title.into(),
        x_label: x_label.clone(),
        y_label: y.into(),
        log_y,
        series,
        marks: marks.clone(),
        integer_x: true,
        ..Panel::default()
    };
    let grad_norms = per_step(|s| s.grad_norm);
    let grad_smooth = smoothed(&grad_norms, span);
    vec![
        panel(
            "Loss",
            "cross-entropy loss",
            false,
            with_valid(trained(per_step(|s| Some(s.loss)), LOSS), LOSS),
        ),
        panel(
            "Accuracy",
            "accuracy (%)",
            false,
            with_valid(trained(per_step(|s| s.accuracy), ACCURACY), ACCURACY),
        ),
        panel(
            "Learning rate",
            "learning rate",
            true,
            vec![line("per step", per_step(|s| s.lr), false, false)],
        ),
        panel(
            "Gradient norm (global, before clipping)",
            "L2 norm",
            true,
            vec![
                line("per step", grad_norms, true, false),
                line(
                    &format!("smoothed, {span} steps"),
                    grad_smooth,
                    false,
                    false,
                ),
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(epoch: usize, step: usize, loss: f64) -> StepRecord {
        StepRecord {
            epoch,
            step,
            loss,
            grad_norm: Some(1.0),
            lr: Some(1e-3),
            accuracy: Some(50.0),
        }
    }

    fn epoch(epoch: usize, split: &str, loss: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            split: split.into(),
            metrics: BTreeMap::from([(LOSS.to_string(), loss), (ACCURACY.to_string(), 60.0)]),
            items_per_second: 0.0,
            seconds: 0.0,
        }
    }

    #[test]
    fn smoothing_starts_at_the_data_and_follows_a_constant() {
        let points: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 2.0)).collect();
        assert!(
            smoothed(&points, 5)
                .iter()
                .all(|(_, y)| (y - 2.0).abs() < 1e-12)
        );
        let step_up = [(0.0, 1.0), (1.0, 3.0)];
        let out = smoothed(&step_up, 3); // alpha 1/2
        assert_eq!(out[0], (0.0, 1.0));
        // (0.5·1·0.5 + 0.5·3) / (1 − 0.25) = 2.333…
        assert!((out[1].1 - 7.0 / 3.0).abs() < 1e-12, "{out:?}");
        assert_eq!(smoothing_span(10), 1);
        assert_eq!(smoothing_span(843), 33);
        assert_eq!(smoothing_span(100_000), 100);
    }

    /// Two epochs of three steps: every step is a point, validation sits at each epoch's last
    /// step, and the guard's mark at the step it fired.
    #[test]
    fn curves_have_a_point_per_step_and_validation_at_epoch_ends() {
        let mut history = History::default();
        for e in 1..=2 {
            for s in 1..=3 {
                history.steps.push(step(e, s, (10 - 3 * e - s) as f64));
            }
            history.epochs.push(epoch(e, "train", 1.0));
            history.epochs.push(epoch(e, "valid", 0.5 / e as f64));
        }
        history.divergence = Some(Divergence {
            epoch: 2,
            step: 2,
            loss: 9.0,
            grad_norm: None,
            lr: None,
            reason: "test".into(),
        });
        let panels = curve_panels(&history);
        let loss = &panels[0];
        assert_eq!(loss.series[0].name, "train (step)");
        assert!(loss.series[0].faint);
        let xs: Vec<f64> = loss.series[0].points.iter().map(|p| p.0).collect();
        assert_eq!(xs, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(loss.series[2].points, [(3.0, 0.5), (6.0, 0.25)]);
        assert_eq!(loss.marks[0].0, 5.0);
        assert!(
            loss.x_label.contains("6 steps in 2 epochs"),
            "{}",
            loss.x_label
        );
        // Accuracy per step too; learning rate and gradient norm per step.
        assert_eq!(panels[1].series[0].points.len(), 6);
        assert_eq!(panels[2].series[0].points.len(), 6);
        assert_eq!(panels[3].series[0].points.len(), 6);
    }

    /// history.json written before per-step accuracy was kept still draws (epoch markers).
    #[test]
    fn older_histories_without_step_accuracy_still_draw() {
        let json = r#"{"epochs":[],"steps":[{"epoch":1,"step":1,"loss":1.0,"grad_norm":null,"lr":null}],"divergence":null,"plateau":null}"#;
        let history: History = serde_json::from_str(json).unwrap();
        assert_eq!(history.steps[0].accuracy, None);
        let panels = curve_panels(&history);
        assert_eq!(panels[1].series[0].name, "train (epoch)");
    }
}
