//! What watches a run: a burn-train renderer that records every epoch's metrics (for
//! `metrics.csv`, `curves.png`, `summary.json`), prints one line per epoch when stdout is not a
//! terminal (Burn's own non-terminal renderer prints no metric values), and runs the
//! divergence guard and the plateau warning. On a terminal it forwards to Burn's TUI.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::train::Interrupter;
use burn::train::LearnerSummary;
use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use serde::{Deserialize, Serialize};

use crate::config::GuardConfig;
use crate::guard::{DivergenceGuard, Verdict};
use crate::metrics::GRAD_NORM;

/// Burn's names of the metrics the guard reads.
pub const LOSS: &str = "Loss";
/// Burn's name of the learning-rate metric.
pub const LEARNING_RATE: &str = "Learning Rate";
/// Burn's name of the accuracy metric (percent).
pub const ACCURACY: &str = "Accuracy";

/// One epoch of one split: every numeric metric's epoch value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// `train` or `valid`.
    pub split: String,
    /// Metric name → epoch value (Burn's names: "Loss", "Accuracy", …).
    pub metrics: BTreeMap<String, f64>,
    /// Items of the split processed per second of wall time.
    pub items_per_second: f64,
    /// Wall time of the split.
    pub seconds: f64,
}

/// One training step's loss, gradient norm and learning rate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// 1-based step within the epoch.
    pub step: usize,
    /// Mean loss of the batch.
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: Option<f64>,
    /// Learning rate of the step.
    pub lr: Option<f64>,
    /// Accuracy on the batch, in percent (absent in runs recorded before it was kept).
    #[serde(default)]
    pub accuracy: Option<f64>,
}

/// Why and where the divergence guard stopped a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Divergence {
    /// 1-based epoch.
    pub epoch: usize,
    /// 1-based step within the epoch.
    pub step: usize,
    /// The step's loss.
    pub loss: f64,
    /// The step's gradient norm.
    pub grad_norm: Option<f64>,
    /// The step's learning rate.
    pub lr: Option<f64>,
    /// What tripped: "loss is NaN", "smoothed loss 12.1 above 5 × its minimum 0.4 for 10
    /// steps", ...
    pub reason: String,
}

/// The plateau warning: validation loss stalled.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plateau {
    /// The epoch at which it fired.
    pub epoch: usize,
    /// The best validation loss so far.
    pub best: f64,
    /// The learning rate then.
    pub lr: Option<f64>,
}

/// Everything the monitor saw; shared with the caller, which reads it after the run.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct History {
    /// Epoch values, train and valid, in order.
    pub epochs: Vec<EpochRecord>,
    /// Every training step.
    pub steps: Vec<StepRecord>,
    /// Set when the divergence guard stopped training.
    pub divergence: Option<Divergence>,
    /// Set when the plateau warning fired.
    pub plateau: Option<Plateau>,
    /// Lines printed (or, under the TUI, held back to print after it closes).
    #[serde(skip)]
    pub lines: Vec<String>,
}

impl History {
    /// The record of `split` in `epoch`.
    pub fn record(&self, epoch: usize, split: &str) -> Option<&EpochRecord> {
        self.epochs
            .iter()
            .find(|record| record.epoch == epoch && record.split == split)
    }

    /// The value of `metric` for `split` in `epoch`.
    pub fn value(&self, epoch: usize, split: &str, metric: &str) -> Option<f64> {
        self.record(epoch, split)
            .and_then(|record| record.metrics.get(metric).copied())
    }
}

/// The renderer burn-train drives; see the module docs.
pub struct Monitor {
    inner: Option<Box<dyn MetricsRenderer>>,
    history: Arc<Mutex<History>>,
    guard: GuardConfig,
    divergence: DivergenceGuard,
    interrupter: Interrupter,
    names: HashMap<MetricId, String>,
    epoch: usize,
    total_epochs: usize,
    split: String,
    split_started: Instant,
    items: usize,
    step: usize,
    step_values: HashMap<String, f64>,
    epoch_values: BTreeMap<String, f64>,
    best_valid: Option<(f64, usize)>,
    last_lr: Option<f64>,
    persist: Option<std::path::PathBuf>,
}

impl Monitor {
    /// A monitor that forwards to `inner` (Burn's TUI) when given, and otherwise prints one
    /// line per epoch. `interrupter` is the one the training listens to.
    pub fn new(
        inner: Option<Box<dyn MetricsRenderer>>,
        guard: GuardConfig,
        interrupter: Interrupter,
    ) -> (Self, Arc<Mutex<History>>) {
        let history = Arc::new(Mutex::new(History::default()));
        let monitor = Self {
            inner,
            history: history.clone(),
            divergence: DivergenceGuard::new(&guard),
            guard,
            interrupter,
            names: HashMap::new(),
            epoch: 1,
            total_epochs: 0,
            split: String::new(),
            split_started: Instant::now(),
            items: 0,
            step: 0,
            step_values: HashMap::new(),
            epoch_values: BTreeMap::new(),
            best_valid: None,
            last_lr: None,
            persist: None,
        };
        (monitor, history)
    }

    /// Writes `metrics.csv` and `history.json` into `dir` after every split, so a run killed
    /// mid-epoch keeps the epochs it finished.
    pub fn persist_to(mut self, dir: std::path::PathBuf) -> Self {
        self.persist = Some(dir);
        self
    }

    /// Continues an earlier run's history (`--resume`): its epochs stay in the files, its
    /// steps are replayed through the divergence guard (its smoothed loss and minimum carry
    /// on), its best validation loss stays the plateau's.
    pub fn resume(mut self, earlier: History) -> Self {
        for step in &earlier.steps {
            self.divergence.observe(step.loss, step.grad_norm);
        }
        for record in earlier.epochs.iter().filter(|r| r.split == "valid") {
            if let Some(&loss) = record.metrics.get(LOSS) {
                self.track_best_valid(loss, record.epoch);
            }
        }
        self.last_lr = earlier.steps.last().and_then(|s| s.lr);
        *self.history.lock().unwrap() = earlier;
        self
    }

    fn save(&self) {
        let Some(dir) = &self.persist else { return };
        let history = self.history.lock().unwrap();
        let csv = crate::run::metrics_csv(&history.epochs);
        let json = serde_json::to_string(&*history).expect("a history serialises");
        // Losing these files is not worth stopping a training for; the end of the run
        // writes them again and reports errors then.
        let _ = crate::run::write_atomic(&dir.join("metrics.csv"), csv.as_bytes());
        let _ = crate::run::write_atomic(&dir.join("history.json"), json.as_bytes());
    }

    fn say(&mut self, line: String) {
        if self.inner.is_none() {
            println!("{line}");
        }
        self.history.lock().unwrap().lines.push(line);
    }

    fn record(&mut self, state: &MetricState) {
        let MetricState::Numeric(entry, Some(value)) = state else {
            return;
        };
        let Some(name) = self.names.get(&entry.metric_id).cloned() else {
            return;
        };
        match value {
            NumericEntry::Final(value) => {
                self.epoch_values.insert(name, *value);
            }
            other => {
                self.step_values.insert(name, other.current());
            }
        }
    }

    /// After each training step: record it and run the divergence guard.
    fn end_train_step(&mut self) {
        self.step += 1;
        let Some(&loss) = self.step_values.get(LOSS) else {
            return;
        };
        let grad_norm = self.step_values.get(GRAD_NORM).copied();
        let lr = self.step_values.get(LEARNING_RATE).copied();
        self.last_lr = lr.or(self.last_lr);
        let record = StepRecord {
            epoch: self.epoch,
            step: self.step,
            loss,
            grad_norm,
            lr,
            accuracy: self.step_values.get(ACCURACY).copied(),
        };
        self.history.lock().unwrap().steps.push(record);
        if self.history.lock().unwrap().divergence.is_some() {
            return;
        }
        let reason = match self.divergence.observe(loss, grad_norm) {
            Verdict::Healthy => None,
            Verdict::Diverged(reason) => Some(reason),
        };
        if let Some(reason) = reason {
            let divergence = Divergence {
                epoch: self.epoch,
                step: self.step,
                loss,
                grad_norm,
                lr: self.last_lr,
                reason,
            };
            self.interrupter.stop(Some(&format!(
                "loss diverged at epoch {}, step {}",
                divergence.epoch, divergence.step
            )));
            self.history.lock().unwrap().divergence = Some(divergence);
        }
    }

    fn end_split_record(&mut self) {
        if self.items == 0 {
            // An empty split (`data.valid_fraction = 0`): Burn still runs it and reports NaN
            // metrics; a run without validation simply has no validation rows, as in Keras.
            self.step_values.clear();
            self.epoch_values.clear();
            return;
        }
        let seconds = self.split_started.elapsed().as_secs_f64();
        // Epoch-level metrics without a per-step value (AUROC) arrive as plain values after the
        // last step; everything else as `Final`.
        for (name, value) in self.step_values.drain() {
            self.epoch_values.entry(name).or_insert(value);
        }
        let metrics = std::mem::take(&mut self.epoch_values);
        let record = EpochRecord {
            epoch: self.epoch,
            split: self.split.clone(),
            metrics,
            items_per_second: self.items as f64 / seconds.max(1e-9),
            seconds,
        };
        if self.split == "valid" {
            self.check_plateau(&record);
        }
        let line = epoch_line(&record, self.total_epochs);
        self.history.lock().unwrap().epochs.push(record);
        self.say(line);
        self.save();
    }

    /// Records `loss` as the best validation loss when it improves on the best by at least
    /// `plateau_min_delta`; says whether it did.
    fn track_best_valid(&mut self, loss: f64, epoch: usize) -> bool {
        let improved = self
            .best_valid
            .is_none_or(|(best, _)| loss < best - self.guard.plateau_min_delta);
        if improved {
            self.best_valid = Some((loss, epoch));
        }
        improved
    }

    fn check_plateau(&mut self, record: &EpochRecord) {
        let Some(&loss) = record.metrics.get(LOSS) else {
            return;
        };
        if self.track_best_valid(loss, record.epoch) {
            return;
        }
        let (best, best_epoch) = self.best_valid.unwrap();
        let stalled = record.epoch - best_epoch;
        let already = self.history.lock().unwrap().plateau.is_some();
        if self.guard.plateau_epochs > 0 && stalled >= self.guard.plateau_epochs && !already {
            let lr = self.last_lr;
            let lr_text = lr.map_or("unknown".to_string(), |lr| format!("{lr:.3e}"));
            self.history.lock().unwrap().plateau = Some(Plateau {
                epoch: record.epoch,
                best,
                lr,
            });
            self.say(format!(
                "warning: validation loss has not improved by {} for {stalled} epochs (best {best:.4} \
                 at epoch {best_epoch}); learning rate {lr_text} may be too low to make progress, \
                 or too high to settle — try an LR range test (zoo lr-find) or a schedule",
                self.guard.plateau_min_delta
            ));
        }
    }
}

/// "epoch 2/10 train  loss 0.4123  accuracy 85.21 %  ...  1234 img/s  12.3 s".
fn epoch_line(record: &EpochRecord, total: usize) -> String {
    let mut line = format!("epoch {}/{} {:<5}", record.epoch, total, record.split);
    for (name, value) in &record.metrics {
        let short = short_name(name);
        // Burn reports Accuracy in percent already; other ratios stay as they are.
        if value.abs() >= 1e4 || (value.abs() < 1e-3 && *value != 0.0) {
            line.push_str(&format!("  {short} {value:.3e}"));
        } else {
            line.push_str(&format!("  {short} {value:.4}"));
        }
    }
    line.push_str(&format!(
        "  {:.1} items/s  {:.1} s",
        record.items_per_second, record.seconds
    ));
    line
}

/// A metric's column name: lower case, words joined by `_`, Burn's settings left out
/// ("Learning Rate" → learning_rate, "Precision @ Threshold(0.5) [Macro]" → precision,
/// "FBetaScore ..." → f1, as burn-zoo only uses β = 1).
pub fn short_name(name: &str) -> String {
    let base = name.split(['@', '[', '(']).next().unwrap_or(name).trim();
    if base.to_ascii_lowercase().starts_with("fbetascore") {
        return "f1".to_string();
    }
    let mut out = String::new();
    for c in base.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

impl MetricsRendererTraining for Monitor {
    fn update_train(&mut self, state: MetricState) {
        self.record(&state);
        if let Some(inner) = &mut self.inner {
            inner.update_train(state);
        }
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(&state);
        if let Some(inner) = &mut self.inner {
            inner.update_valid(state);
        }
    }

    fn on_train_end(
        &mut self,
        summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn core::error::Error>> {
        // Burn's summary table is printed by the caller after the run, with the test split.
        match &mut self.inner {
            Some(inner) => inner.on_train_end(summary),
            None => Ok(()),
        }
    }
}

impl MetricsRendererEvaluation for Monitor {
    fn update_test(&mut self, name: EvaluationName, state: MetricState) {
        if let Some(inner) = &mut self.inner {
            inner.update_test(name, state);
        }
    }
}

impl TrainingProgressLogger for Monitor {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        total_items: Option<usize>,
        label: Option<&str>,
    ) {
        self.total_epochs = total_epochs;
        self.epoch = starting_epoch;
        if let Some(inner) = &mut self.inner {
            inner.start(total_epochs, starting_epoch, total_items, label);
        }
    }

    fn update_epoch(&mut self, epoch: usize) {
        self.epoch = epoch + 1;
        if let Some(inner) = &mut self.inner {
            inner.update_epoch(epoch);
        }
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.split = split.to_string();
        self.split_started = Instant::now();
        self.items = 0;
        self.step = 0;
        self.epoch_values.clear();
        if let Some(inner) = &mut self.inner {
            inner.start_split(split, total_items);
        }
    }

    fn update_split(&mut self, items_processed: usize) {
        self.items = items_processed;
        if self.split == "train" {
            self.end_train_step();
        }
        self.step_values.clear();
        if let Some(inner) = &mut self.inner {
            inner.update_split(items_processed);
        }
    }

    fn end_split(&mut self) {
        self.end_split_record();
        if let Some(inner) = &mut self.inner {
            inner.end_split();
        }
    }

    fn end(&mut self) {
        if let Some(inner) = &mut self.inner {
            inner.end();
        }
    }

    fn log_event_training(&mut self, event: String) {
        if let Some(inner) = &mut self.inner {
            inner.log_event_training(event);
        }
    }
}

impl EvaluationProgressLogger for Monitor {
    fn start_global_progress(&mut self, total_tests: usize) {
        if let Some(inner) = &mut self.inner {
            inner.start_global_progress(total_tests);
        }
    }

    fn start_test(&mut self, name: &str, total_items: usize) {
        if let Some(inner) = &mut self.inner {
            inner.start_test(name, total_items);
        }
    }

    fn update_test_progress(&mut self, items_processed: usize) {
        if let Some(inner) = &mut self.inner {
            inner.update_test_progress(items_processed);
        }
    }

    fn end_test(&mut self) {
        if let Some(inner) = &mut self.inner {
            inner.end_test();
        }
    }

    fn end_global_progress(&mut self) {
        if let Some(inner) = &mut self.inner {
            inner.end_global_progress();
        }
    }

    fn log_event_evaluation(&mut self, event: String) {
        if let Some(inner) = &mut self.inner {
            inner.log_event_evaluation(event);
        }
    }
}

impl MetricsRenderer for Monitor {
    fn manual_close(&mut self) {
        if let Some(inner) = &mut self.inner {
            inner.manual_close();
        }
    }

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id.clone(), definition.name.to_string());
        if let Some(inner) = &mut self.inner {
            inner.register_metric(definition);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_are_snake_case() {
        assert_eq!(short_name("Learning Rate"), "learning_rate");
        assert_eq!(short_name("AUROC [Macro]"), "auroc");
        assert_eq!(
            short_name("Precision @ Threshold(0.5) [Macro]"),
            "precision"
        );
        assert_eq!(short_name("FBetaScore (β=1) @ Threshold(0.5)"), "f1");
        assert_eq!(short_name("Gradient Norm"), "gradient_norm");
        assert_eq!(short_name("Loss"), "loss");
    }
}
