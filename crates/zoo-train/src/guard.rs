//! The divergence guard as a pure type: fed each training step's loss and gradient norm, it
//! says when training has diverged (the homework's Q1a advice, automated).
//!
//! Divergence is a sustained rise, not one noisy batch. The guard smooths the loss with an
//! exponential moving average (span `smoothing_steps`, bias-corrected as Adam's moments are,
//! so the first steps are not pulled towards 0) and stops when the smoothed loss has stayed
//! above `max_loss_ratio` × its own running minimum for `patience_steps` consecutive steps.
//! The minimum is floored at a tenth of the first step's loss (the untrained model's), so that
//! a run whose loss goes to ~0 is not stopped for a rise from 0.001 to 0.01. An explosion —
//! the smoothed loss above `max_loss_ratio`² × that minimum — stops at once, as does a
//! non-finite loss or gradient norm.

use crate::config::GuardConfig;

/// The guard's state over a run.
#[derive(Debug, Clone)]
pub struct DivergenceGuard {
    ratio: f64,
    decay: f64,
    patience: usize,
    steps: usize,
    ema: f64,
    first_loss: Option<f64>,
    min_smoothed: f64,
    above: usize,
}

/// What one step did to the guard.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Keep training.
    Healthy,
    /// Stop: why (for the message and `summary.json`).
    Diverged(String),
}

impl DivergenceGuard {
    /// A guard with the `[guard]` table's settings.
    pub fn new(config: &GuardConfig) -> Self {
        Self {
            ratio: config.max_loss_ratio,
            decay: 1.0 - 2.0 / (config.smoothing_steps.max(1) as f64 + 1.0),
            patience: config.patience_steps.max(1),
            steps: 0,
            ema: 0.0,
            first_loss: None,
            min_smoothed: f64::INFINITY,
            above: 0,
        }
    }

    /// The smoothed loss after the steps seen so far (`None` before the first).
    pub fn smoothed(&self) -> Option<f64> {
        (self.steps > 0).then(|| self.ema / (1.0 - self.decay.powi(self.steps as i32)))
    }

    /// Feeds one training step.
    pub fn observe(&mut self, loss: f64, grad_norm: Option<f64>) -> Verdict {
        if !loss.is_finite() {
            return Verdict::Diverged(format!("loss is {loss}"));
        }
        if let Some(norm) = grad_norm.filter(|norm| !norm.is_finite()) {
            return Verdict::Diverged(format!("gradient norm is {norm}"));
        }
        let first = *self.first_loss.get_or_insert(loss);
        self.steps += 1;
        self.ema = self.decay * self.ema + (1.0 - self.decay) * loss;
        let smoothed = self.smoothed().unwrap_or(loss);
        self.min_smoothed = self.min_smoothed.min(smoothed);
        if self.ratio <= 0.0 {
            return Verdict::Healthy;
        }
        let reference = self.min_smoothed.max(first / 10.0);
        if smoothed > self.ratio * reference {
            self.above += 1;
        } else {
            self.above = 0;
        }
        if smoothed > self.ratio * self.ratio * reference {
            return Verdict::Diverged(format!(
                "smoothed loss {smoothed:.4e} above {} × its minimum {reference:.4}: exploding",
                self.ratio * self.ratio
            ));
        }
        if self.above >= self.patience {
            return Verdict::Diverged(format!(
                "smoothed loss {smoothed:.4} above {} × its minimum {reference:.4} for {} steps",
                self.ratio, self.above
            ));
        }
        Verdict::Healthy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> DivergenceGuard {
        DivergenceGuard::new(&GuardConfig::default())
    }

    /// The first step at which the guard stops, fed `losses`.
    fn stop_step(losses: &[f64]) -> Option<usize> {
        let mut guard = guard();
        losses
            .iter()
            .position(|&loss| guard.observe(loss, None) != Verdict::Healthy)
            .map(|index| index + 1)
    }

    #[test]
    fn non_finite_values_stop_at_once() {
        let mut guard = guard();
        assert_eq!(guard.observe(1.0, Some(2.0)), Verdict::Healthy);
        assert_eq!(
            guard.observe(f64::NAN, None),
            Verdict::Diverged("loss is NaN".into())
        );
        assert_eq!(
            guard.observe(1.0, Some(f64::INFINITY)),
            Verdict::Diverged("gradient norm is inf".into())
        );
    }

    #[test]
    fn smoothing_is_bias_corrected() {
        let mut guard = guard();
        guard.observe(2.0, None);
        assert!((guard.smoothed().unwrap() - 2.0).abs() < 1e-12);
        guard.observe(2.0, None);
        assert!((guard.smoothed().unwrap() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn one_spike_passes_and_a_sustained_rise_stops() {
        // An easy task: loss 0.7 falling to 0.05, then one batch at 1.5 (30x the minimum).
        let mut losses: Vec<f64> = (0..200)
            .map(|i| 0.05 + 0.65 * (-(i as f64) / 20.0).exp())
            .collect();
        losses.push(1.5);
        losses.extend(std::iter::repeat_n(0.05, 100));
        assert_eq!(stop_step(&losses), None);
        // The same run whose loss then climbs back to 1.0 and stays: stopped within the
        // smoothing span plus the patience.
        let rise_at = losses.len();
        losses.extend(std::iter::repeat_n(1.0, 60));
        let stopped = stop_step(&losses).expect("a sustained rise stops");
        assert!(stopped > rise_at && stopped <= rise_at + 30, "{stopped}");
    }

    #[test]
    fn a_loss_near_zero_may_wiggle() {
        // From 2.3 down to 1e-3, then up to 1e-2 (10x the minimum, but far below the floor).
        let mut losses: Vec<f64> = (0..300)
            .map(|i| 1e-3 + 2.3 * (-(i as f64) / 30.0).exp())
            .collect();
        losses.extend(std::iter::repeat_n(1e-2, 200));
        assert_eq!(stop_step(&losses), None);
    }

    #[test]
    fn ratio_zero_turns_the_rise_test_off() {
        let config = GuardConfig {
            max_loss_ratio: 0.0,
            ..GuardConfig::default()
        };
        let mut guard = DivergenceGuard::new(&config);
        for _ in 0..100 {
            guard.observe(0.1, None);
        }
        for _ in 0..100 {
            assert_eq!(guard.observe(100.0, None), Verdict::Healthy);
        }
        assert!(matches!(
            guard.observe(f64::NAN, None),
            Verdict::Diverged(_)
        ));
    }

    /// (epoch, step, loss, grad norm) rows of a recorded trace.
    fn trace(csv: &str) -> Vec<(usize, usize, f64, Option<f64>)> {
        csv.lines()
            .skip(1)
            .map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                (
                    fields[0].parse().unwrap(),
                    fields[1].parse().unwrap(),
                    fields[2].parse().unwrap(),
                    fields[3].parse().ok(),
                )
            })
            .collect()
    }

    /// Where the guard stops a trace: (epoch, step, reason).
    fn stops(csv: &str) -> Option<(usize, usize, String)> {
        let mut guard = guard();
        trace(csv)
            .into_iter()
            .find_map(
                |(epoch, step, loss, norm)| match guard.observe(loss, norm) {
                    Verdict::Healthy => None,
                    Verdict::Diverged(reason) => Some((epoch, step, reason)),
                },
            )
    }

    const TROUSER_BAG: &str =
        include_str!("../fixtures/loss-traces/fashion-trouser-vs-bag-adam.csv");
    const HEALTHY: [(&str, &str); 4] = [
        ("trouser vs bag", TROUSER_BAG),
        (
            "sneaker vs boot",
            include_str!("../fixtures/loss-traces/fashion-sneaker-vs-boot-adam.csv"),
        ),
        (
            "fashion-mnist",
            include_str!("../fixtures/loss-traces/fashion-mnist-adam-epoch1.csv"),
        ),
        (
            "japanese vowels",
            include_str!("../fixtures/loss-traces/japanese-vowels-adam.csv"),
        ),
    ];

    #[test]
    fn healthy_recorded_runs_are_never_stopped() {
        for (name, csv) in HEALTHY {
            assert!(trace(csv).len() > 300, "{name}");
            assert_eq!(stops(csv), None, "{name}");
        }
    }

    #[test]
    fn the_old_rule_stopped_the_easy_two_class_run() {
        // The rule before this guard: a step above 5 × the first epoch's mean loss. On the
        // recorded trouser-vs-bag run it fired in epoch 2, a false stop.
        let rows = trace(TROUSER_BAG);
        let first: Vec<f64> = rows.iter().filter(|r| r.0 == 1).map(|r| r.2).collect();
        let mean = first.iter().sum::<f64>() / first.len() as f64;
        let false_stop = rows.iter().find(|r| r.0 > 1 && r.2 > 5.0 * mean);
        assert!(matches!(false_stop, Some((2, _, _, _))), "{false_stop:?}");
    }

    #[test]
    fn the_readme_lr_1_2_run_still_stops_before_its_nan() {
        let csv = include_str!("../fixtures/loss-traces/conv1d-synthetic-sgd-lr1.2.csv");
        let (epoch, step, reason) = stops(csv).expect("the lr 1.2 run diverges");
        assert_eq!((epoch, step), (3, 6), "{reason}");
        assert!(reason.contains("exploding"), "{reason}");
    }
}
