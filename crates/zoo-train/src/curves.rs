//! The pictures of a run's history (`curves.png`): the loss and accuracy per step, raw and
//! smoothed, validation at each epoch's end, learning rate and gradient norm per step, and the
//! guard's and plateau warning's marks.

use std::collections::BTreeMap;

use crate::history::{ACCURACY, History, LOSS, StepRecord};
use crate::plot::{Panel, Series};

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
    use crate::history::{Divergence, EpochRecord};

    fn step(epoch: usize, step: usize, loss: f64) -> StepRecord {
        StepRecord {
            epoch,
            step,
            loss,
            grad_norm: Some(1.0),
            lr: Some(1e-3),
            accuracy: Some(50.0),
            seconds: Some(0.1 * step as f64),
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
