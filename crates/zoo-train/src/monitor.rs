//! The burn-train renderer that watches a run: it turns Burn's metric events into the run's
//! [`History`] (steps and epochs), feeds the divergence guard ([`DivergenceGuard`]) and the
//! plateau warning ([`PlateauWatch`]), prints one line per epoch when stdout is not a terminal
//! (Burn's own non-terminal renderer prints no metric values), and forwards to Burn's TUI on a
//! terminal. What it records, and how that is written, is in `history.rs`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::config::GuardConfig;
use crate::guard::{DivergenceGuard, Verdict};
use crate::history::{
    ACCURACY, Divergence, EpochRecord, History, LEARNING_RATE, LOSS, Plateau, StepRecord,
    epoch_line,
};
use crate::metrics::GRAD_NORM;
use crate::plateau::PlateauWatch;
use crate::run::RunDir;
use burn::train::Interrupter;
use burn::train::LearnerSummary;
use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};

/// The renderer burn-train drives; see the module docs.
pub struct Monitor {
    inner: Option<Box<dyn MetricsRenderer>>,
    history: Arc<Mutex<History>>,
    divergence: DivergenceGuard,
    plateau: PlateauWatch,
    interrupter: Interrupter,
    names: HashMap<MetricId, String>,
    epoch: usize,
    total_epochs: usize,
    split: SplitProgress,
    last_lr: Option<f64>,
    persist: Option<RunDir>,
    /// Devices training together: Burn reports each device's block of a step as an item.
    devices: usize,
}

/// The split being run: its name, clock, items and the metric values of the current step and
/// of the epoch so far.
struct SplitProgress {
    name: String,
    started: Instant,
    items: usize,
    step: usize,
    step_values: HashMap<String, f64>,
    /// The step's device blocks reported so far (several devices).
    blocks: Vec<HashMap<String, f64>>,
    epoch_values: BTreeMap<String, f64>,
}

impl SplitProgress {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            started: Instant::now(),
            items: 0,
            step: 0,
            step_values: HashMap::new(),
            blocks: Vec::new(),
            epoch_values: BTreeMap::new(),
        }
    }
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
            plateau: PlateauWatch::new(&guard),
            interrupter,
            names: HashMap::new(),
            epoch: 1,
            total_epochs: 0,
            split: SplitProgress::new(""),
            last_lr: None,
            persist: None,
            devices: 1,
        };
        (monitor, history)
    }

    /// Writes `metrics.csv` and `history.json` into `dir` after every split, so a run killed
    /// mid-epoch keeps the epochs it finished.
    pub fn persist_to(mut self, run: RunDir) -> Self {
        self.persist = Some(run);
        self
    }

    /// Several devices train together: the `devices` blocks of a step (equal in size) become
    /// one step record with their mean loss and accuracy.
    pub fn devices(mut self, devices: usize) -> Self {
        self.devices = devices.max(1);
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
                self.plateau
                    .replay(record.epoch, loss, earlier.plateau.is_some());
            }
        }
        self.last_lr = earlier.steps.last().and_then(|s| s.lr);
        *self.history.lock().unwrap() = earlier;
        self
    }

    fn save(&self) {
        let Some(run) = &self.persist else { return };
        // Losing these files is not worth stopping a training for; the end of the run
        // writes them again and reports errors then.
        let _ = self.history.lock().unwrap().save(run);
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
                self.split.epoch_values.insert(name, *value);
            }
            other => {
                self.split.step_values.insert(name, other.current());
            }
        }
    }

    /// After each training step: record it and run the divergence guard.
    fn end_train_step(&mut self) {
        if self.devices > 1 {
            let split = &mut self.split;
            split.blocks.push(split.step_values.clone());
            if split.blocks.len() < self.devices {
                return;
            }
            let blocks = std::mem::take(&mut split.blocks);
            for (name, value) in split.step_values.iter_mut() {
                let seen: Vec<f64> = blocks.iter().filter_map(|b| b.get(name)).copied().collect();
                if name != LEARNING_RATE && !seen.is_empty() {
                    *value = seen.iter().sum::<f64>() / seen.len() as f64;
                }
            }
        }
        self.split.step += 1;
        let values = &self.split.step_values;
        let Some(&loss) = values.get(LOSS) else {
            return;
        };
        let grad_norm = values.get(GRAD_NORM).copied();
        let lr = values.get(LEARNING_RATE).copied();
        let accuracy = values.get(ACCURACY).copied();
        self.last_lr = lr.or(self.last_lr);
        let record = StepRecord {
            epoch: self.epoch,
            step: self.split.step,
            loss,
            grad_norm,
            lr,
            accuracy,
            seconds: Some(self.split.started.elapsed().as_secs_f64()),
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
                step: self.split.step,
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
        let split = &mut self.split;
        if split.items == 0 {
            // An empty split (`data.valid_fraction = 0`): Burn still runs it and reports NaN
            // metrics; a run without validation simply has no validation rows, as in Keras.
            split.step_values.clear();
            split.epoch_values.clear();
            return;
        }
        let seconds = split.started.elapsed().as_secs_f64();
        // Epoch-level metrics without a per-step value (AUROC) arrive as plain values after the
        // last step; everything else as `Final`.
        for (name, value) in split.step_values.drain() {
            split.epoch_values.entry(name).or_insert(value);
        }
        let metrics = std::mem::take(&mut split.epoch_values);
        let record = EpochRecord {
            epoch: self.epoch,
            split: split.name.clone(),
            metrics,
            items_per_second: split.items as f64 / seconds.max(1e-9),
            seconds,
        };
        if record.split == "valid" {
            self.check_plateau(&record);
        }
        let line = epoch_line(&record, self.total_epochs);
        self.history.lock().unwrap().epochs.push(record);
        self.say(line);
        self.save();
    }

    fn check_plateau(&mut self, record: &EpochRecord) {
        let Some(&loss) = record.metrics.get(LOSS) else {
            return;
        };
        let Some(stall) = self.plateau.observe(record.epoch, loss) else {
            return;
        };
        let lr = self.last_lr;
        let lr_text = lr.map_or("unknown".to_string(), |lr| format!("{lr:.3e}"));
        self.history.lock().unwrap().plateau = Some(Plateau {
            epoch: stall.epoch,
            best: stall.best,
            lr,
        });
        self.say(format!(
            "warning: validation loss has not improved by {} for {} epochs (best {:.4} \
             at epoch {}); learning rate {lr_text} may be too low to make progress, \
             or too high to settle — try an LR range test (zoo lr-find) or a schedule",
            self.plateau.min_delta(),
            stall.epochs(),
            stall.best,
            stall.best_epoch
        ));
    }
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
        self.split = SplitProgress::new(split);
        if let Some(inner) = &mut self.inner {
            inner.start_split(split, total_items);
        }
    }

    fn update_split(&mut self, items_processed: usize) {
        self.split.items = items_processed;
        if self.split.name == "train" {
            self.end_train_step();
        }
        self.split.step_values.clear();
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
