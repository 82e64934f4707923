//! A run's history: every epoch's metrics and every step's loss, gradient norm and learning
//! rate, the guard's and plateau warning's marks; how it is written (`history.json`,
//! `metrics.csv`, `steps.csv`) and read back (`zoo plot`, `--resume`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic;
use crate::error::Error;
use crate::run::RunDir;

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
    /// Seconds from the start of the epoch's training to when the step's values were read
    /// back, i.e. the step had finished on the device (absent in runs recorded before it was
    /// kept). Step 1 includes kernel compilation and autotune on a GPU.
    #[serde(default)]
    pub seconds: Option<f64>,
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

impl History {
    /// Writes `metrics.csv` and `history.json` into `run`, atomically each.
    pub fn save(&self, run: &RunDir) -> Result<(), Error> {
        let csv = metrics_csv(&self.epochs);
        let json = serde_json::to_string(self).expect("a history serialises");
        write_atomic(&run.metrics_csv(), csv.as_bytes())
            .map_err(|e| Error::io(format!("writing {}", run.metrics_csv().display()), e))?;
        let path = history_path(run);
        write_atomic(&path, json.as_bytes())
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))
    }
}

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

/// `metrics.csv`: `epoch,split,<metric columns…>,items_per_second,seconds`, one row per epoch
/// and split; a metric a split lacks is an empty cell.
pub fn metrics_csv(records: &[EpochRecord]) -> String {
    let mut columns: Vec<String> = Vec::new();
    for record in records {
        for name in record.metrics.keys() {
            if !columns.contains(name) {
                columns.push(name.clone());
            }
        }
    }
    let mut out = String::from("epoch,split");
    for column in &columns {
        out.push(',');
        out.push_str(&short_name(column));
    }
    out.push_str(",items_per_second,seconds\n");
    for record in records {
        let _ = write!(out, "{},{}", record.epoch, record.split);
        for column in &columns {
            out.push(',');
            if let Some(value) = record.metrics.get(column) {
                let _ = write!(out, "{value}");
            }
        }
        let _ = writeln!(out, ",{:.3},{:.3}", record.items_per_second, record.seconds);
    }
    out
}

/// `steps.csv`: epoch,step,loss,grad_norm,lr,accuracy,seconds for every training step.
pub fn steps_csv(history: &History) -> String {
    let mut out = String::from("epoch,step,loss,grad_norm,lr,accuracy,seconds\n");
    let cell = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for s in &history.steps {
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            s.epoch,
            s.step,
            s.loss,
            cell(s.grad_norm),
            cell(s.lr),
            cell(s.accuracy),
            s.seconds.map_or(String::new(), |v| format!("{v:.6}"))
        ));
    }
    out
}

/// Metric names as `metrics.csv` columns.
pub(crate) fn short_keys(metrics: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    metrics.iter().map(|(k, v)| (short_name(k), *v)).collect()
}

/// "epoch 2/10 train  loss 0.4123  accuracy 85.21 %  ...  1234 img/s  12.3 s".
pub(crate) fn epoch_line(record: &EpochRecord, total: usize) -> String {
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

    #[test]
    fn metrics_csv_has_a_column_per_metric_and_empty_cells_for_missing_ones() {
        let record = |split: &str, metrics: &[(&str, f64)]| EpochRecord {
            epoch: 1,
            split: split.into(),
            metrics: metrics
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect::<BTreeMap<_, _>>(),
            items_per_second: 10.0,
            seconds: 2.0,
        };
        let csv = metrics_csv(&[
            record("train", &[("Loss", 0.5), ("Learning Rate", 0.001)]),
            record("valid", &[("Loss", 0.25)]),
        ]);
        assert_eq!(
            csv,
            "epoch,split,learning_rate,loss,items_per_second,seconds\n\
             1,train,0.001,0.5,10.000,2.000\n1,valid,,0.25,10.000,2.000\n"
        );
    }
}
