//! The learning-rate range test (Smith, 2015, "Cyclical Learning Rates"; fastai's `lr_find`):
//! a short run with the learning rate rising exponentially, the loss smoothed with a
//! bias-corrected exponential moving average, stopped once the smoothed loss passes 4× its
//! minimum. It trains a copy: the caller's weights are untouched.

use std::path::Path;

use burn::data::dataloader::DataLoader;
use burn::optim::{GradientsParams, ModuleOptimizer};
use serde::Serialize;

use crate::atomic::write_atomic;
use crate::error::Error;
use crate::plot::{Panel, Series, render_png};
use crate::step::{Classifier, Classify, LabeledBatch};

/// The range and length of the test.
#[derive(Debug, Clone, Copy)]
pub struct LrFindConfig {
    /// First learning rate.
    pub start: f64,
    /// Last learning rate (reached at the last step, if it gets there).
    pub end: f64,
    /// Steps from `start` to `end`.
    pub steps: usize,
    /// EMA factor of the smoothed loss.
    pub beta: f64,
    /// Stop when the smoothed loss exceeds this multiple of its minimum.
    pub stop_ratio: f64,
}

impl Default for LrFindConfig {
    fn default() -> Self {
        Self {
            start: 1e-7,
            end: 10.0,
            steps: 200,
            beta: 0.98,
            stop_ratio: 4.0,
        }
    }
}

impl LrFindConfig {
    /// Checks the range.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.start > 0.0 && self.end > self.start && self.end.is_finite()) {
            return Err(Error::Config(format!(
                "--start and --end: the learning-rate range must satisfy 0 < start < end, got start {} end {}",
                self.start, self.end
            )));
        }
        if self.steps < 10 {
            return Err(Error::Config(format!(
                "--steps: at least 10 steps are needed, got {}",
                self.steps
            )));
        }
        Ok(())
    }

    /// The learning rate of step `i` (0-based).
    pub fn lr(&self, i: usize) -> f64 {
        let t = i as f64 / (self.steps - 1) as f64;
        self.start * (self.end / self.start).powf(t)
    }
}

/// One step of the test.
#[derive(Debug, Clone, Serialize)]
pub struct LrFindPoint {
    /// 1-based step.
    pub step: usize,
    /// Learning rate of the step.
    pub lr: f64,
    /// The batch's loss.
    pub loss: f64,
    /// The bias-corrected EMA of the loss.
    pub smoothed: f64,
}

/// The curve and the two suggestions.
#[derive(Debug, Clone, Serialize)]
pub struct LrFindResult {
    /// Every step taken.
    pub points: Vec<LrFindPoint>,
    /// Learning rate where the smoothed loss falls fastest (per log-lr).
    pub steepest: Option<f64>,
    /// Learning rate of the smoothed loss's minimum, divided by 10.
    pub min_over_10: Option<f64>,
    /// Why the test stopped: "diverged" (4× the minimum), "non-finite loss" or "end of range".
    pub stopped: String,
}

/// Runs the test on a copy of `model` with `optimizer`, cycling through `loader`.
pub fn lr_find<M, B>(
    model: &Classifier<M, B>,
    mut optimizer: ModuleOptimizer,
    loader: &dyn DataLoader<B>,
    config: &LrFindConfig,
) -> Result<LrFindResult, Error>
where
    B: LabeledBatch,
    M: Classify<B::Inputs>,
{
    config.validate()?;
    let mut model = model.clone();
    let mut points: Vec<LrFindPoint> = Vec::new();
    let (mut average, mut best) = (0.0, f64::INFINITY);
    let mut stopped = "end of range".to_string();
    let mut batches = loader.iter();
    for i in 0..config.steps {
        let batch = match batches.next() {
            Some(batch) => batch,
            None => {
                batches = loader.iter();
                batches
                    .next()
                    .ok_or_else(|| Error::Empty("the training split has no items".into()))?
            }
        }
        .map_err(|error| Error::Batch(error.to_string()))?;
        let lr = config.lr(i);
        let output = model.forward_batch(batch);
        let loss = output.losses.mean();
        let value = loss
            .clone()
            .into_data()
            .convert::<f64>()
            .try_into_vec::<f64>()
            .map_err(|e| Error::Backend(format!("reading the loss back: {e:?}")))?[0];
        if !value.is_finite() {
            stopped = "non-finite loss".into();
            break;
        }
        average = config.beta * average + (1.0 - config.beta) * value;
        let smoothed = average / (1.0 - config.beta.powi(i as i32 + 1));
        points.push(LrFindPoint {
            step: i + 1,
            lr,
            loss: value,
            smoothed,
        });
        best = best.min(smoothed);
        if i > 0 && smoothed > config.stop_ratio * best {
            stopped = "diverged".into();
            break;
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(lr, model, grads);
    }
    let (steepest, min_over_10) = suggestions(&points);
    Ok(LrFindResult {
        points,
        steepest,
        min_over_10,
        stopped,
    })
}

/// (steepest descent, minimum / 10) of the smoothed curve. The steepest point is the most
/// negative slope of smoothed loss against log(lr), between the first tenth of the curve
/// (the EMA is still warming up) and its minimum (beyond it the loss only rises).
pub fn suggestions(points: &[LrFindPoint]) -> (Option<f64>, Option<f64>) {
    let minimum = points
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.smoothed.total_cmp(&b.1.smoothed));
    let Some((min_index, min_point)) = minimum else {
        return (None, None);
    };
    let skip = (points.len() / 10).max(1);
    let steepest = (skip..=min_index)
        .filter(|&i| i >= 1)
        .map(|i| {
            let (a, b) = (&points[i - 1], &points[i]);
            let slope = (b.smoothed - a.smoothed) / (b.lr.ln() - a.lr.ln());
            (i, slope)
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| points[i].lr);
    (steepest, Some(min_point.lr / 10.0))
}

/// `lr-find.csv`: step,lr,loss,smoothed.
pub fn lr_find_csv(result: &LrFindResult) -> String {
    let mut out = String::from("step,lr,loss,smoothed\n");
    for p in &result.points {
        out.push_str(&format!("{},{},{},{}\n", p.step, p.lr, p.loss, p.smoothed));
    }
    out
}

/// Writes `lr-find.csv` and `lr-find.png` (loss and smoothed loss against the learning rate,
/// log x axis, both suggestions marked) into `dir`.
pub fn write_lr_find(dir: &Path, result: &LrFindResult) -> Result<(), Error> {
    write_atomic(&dir.join("lr-find.csv"), lr_find_csv(result).as_bytes())
        .map_err(|e| Error::io(format!("writing {}", dir.join("lr-find.csv").display()), e))?;
    let series = |name: &str, f: fn(&LrFindPoint) -> f64| Series {
        name: name.into(),
        points: result.points.iter().map(|p| (p.lr, f(p))).collect(),
        markers: false,
        faint: false,
    };
    let mut marks = Vec::new();
    if let Some(lr) = result.steepest {
        marks.push((lr, format!(" steepest {lr:.1e}")));
    }
    if let Some(lr) = result.min_over_10 {
        marks.push((lr, format!(" min/10 {lr:.1e}")));
    }
    let panel = Panel {
        title: "Learning-rate range test".into(),
        x_label: "learning rate (log scale)".into(),
        y_label: "training loss".into(),
        log_x: true,
        series: vec![
            series("loss", |p| p.loss),
            series("smoothed", |p| p.smoothed),
        ],
        marks,
        // The interesting part is below the starting loss; the explosion at the end is cut.
        y_max: result.points.first().map(|p| p.smoothed * 1.5),
        ..Panel::default()
    };
    render_png(&dir.join("lr-find.png"), &[panel], 1, (900, 560))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(step: usize, lr: f64, smoothed: f64) -> LrFindPoint {
        LrFindPoint {
            step,
            lr,
            loss: smoothed,
            smoothed,
        }
    }

    #[test]
    fn learning_rates_rise_exponentially_from_start_to_end() {
        let config = LrFindConfig {
            start: 1e-6,
            end: 1.0,
            steps: 7,
            ..LrFindConfig::default()
        };
        let lrs: Vec<f64> = (0..7).map(|i| config.lr(i)).collect();
        for (i, lr) in lrs.iter().enumerate() {
            let expected = 10f64.powi(i as i32 - 6);
            assert!((lr / expected - 1.0).abs() < 1e-9, "{lrs:?}");
        }
    }

    #[test]
    fn suggestions_pick_the_steepest_drop_and_a_tenth_of_the_minimum() {
        // A flat start, a steep drop between lr 1e-3 and 1e-2, a minimum at 1e-1, then a rise.
        let curve = [
            (1e-6, 2.30),
            (1e-5, 2.30),
            (1e-4, 2.25),
            (1e-3, 2.00),
            (1e-2, 1.00),
            (1e-1, 0.80),
            (1e0, 3.00),
        ];
        let points: Vec<LrFindPoint> = curve
            .iter()
            .enumerate()
            .map(|(i, &(lr, s))| point(i + 1, lr, s))
            .collect();
        let (steepest, min10) = suggestions(&points);
        assert_eq!(steepest, Some(1e-2));
        assert!((min10.unwrap() - 1e-2).abs() < 1e-12);
    }

    #[test]
    fn bad_ranges_are_refused() {
        let config = LrFindConfig {
            start: 1.0,
            end: 0.1,
            ..LrFindConfig::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .config()
                .contains("start < end")
        );
    }
}
