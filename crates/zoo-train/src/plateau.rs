//! The plateau warning (HW3 Q1b) as a pure type: validation losses in, at most one warning
//! out, when the loss has not improved by `plateau_min_delta` for `plateau_epochs` epochs.

use crate::config::GuardConfig;

/// Watches validation losses; see the module docs.
#[derive(Debug, Clone)]
pub struct PlateauWatch {
    epochs: usize,
    min_delta: f64,
    best: Option<(f64, usize)>,
    fired: bool,
}

/// A stall: the epoch it was noticed at, the best loss and its epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stall {
    /// The epoch whose validation loss made it a stall.
    pub epoch: usize,
    /// The best validation loss so far.
    pub best: f64,
    /// The epoch of the best loss.
    pub best_epoch: usize,
}

impl Stall {
    /// Epochs since the best loss.
    pub fn epochs(&self) -> usize {
        self.epoch - self.best_epoch
    }
}

impl PlateauWatch {
    /// A watch with the `[guard]` table's `plateau_epochs` (0: never warn) and
    /// `plateau_min_delta`.
    pub fn new(guard: &GuardConfig) -> Self {
        Self {
            epochs: guard.plateau_epochs,
            min_delta: guard.plateau_min_delta,
            best: None,
            fired: false,
        }
    }

    /// An earlier run's validation loss (`--resume`): it counts for the best loss but never
    /// warns; `fired` says whether the earlier run already warned (it warns once per run).
    pub fn replay(&mut self, epoch: usize, loss: f64, fired: bool) {
        self.improves(epoch, loss);
        self.fired |= fired;
    }

    /// The validation loss of `epoch`: a [`Stall`] the first time the loss has gone
    /// `plateau_epochs` epochs without improving by `plateau_min_delta`.
    pub fn observe(&mut self, epoch: usize, loss: f64) -> Option<Stall> {
        if self.improves(epoch, loss) || self.fired || self.epochs == 0 {
            return None;
        }
        let (best, best_epoch) = self.best?;
        let stall = Stall {
            epoch,
            best,
            best_epoch,
        };
        (stall.epochs() >= self.epochs).then(|| {
            self.fired = true;
            stall
        })
    }

    /// The minimum delta an improvement needs (for the warning's text).
    pub fn min_delta(&self) -> f64 {
        self.min_delta
    }

    /// Records `loss` as the best when it improves on it by at least `min_delta`.
    fn improves(&mut self, epoch: usize, loss: f64) -> bool {
        let improved = self
            .best
            .is_none_or(|(best, _)| loss < best - self.min_delta);
        if improved {
            self.best = Some((loss, epoch));
        }
        improved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(epochs: usize) -> PlateauWatch {
        PlateauWatch::new(&GuardConfig {
            plateau_epochs: epochs,
            plateau_min_delta: 0.01,
            ..GuardConfig::default()
        })
    }

    #[test]
    fn warns_once_after_the_set_epochs_without_improvement() {
        let mut watch = watch(3);
        assert_eq!(watch.observe(1, 1.0), None);
        assert_eq!(watch.observe(2, 0.5), None);
        // 0.495 is not an improvement by 0.01
        assert_eq!(watch.observe(3, 0.495), None);
        assert_eq!(watch.observe(4, 0.6), None);
        let stall = watch.observe(5, 0.5).expect("three epochs since epoch 2");
        assert_eq!((stall.best, stall.best_epoch, stall.epochs()), (0.5, 2, 3));
        assert_eq!(watch.observe(6, 0.5), None, "once per run");
    }

    #[test]
    fn improvements_reset_the_count_and_zero_epochs_never_warns() {
        let mut watch = watch(2);
        for (epoch, loss) in [(1, 1.0), (2, 0.9), (3, 0.8), (4, 0.7)] {
            assert_eq!(watch.observe(epoch, loss), None);
        }
        let mut never = self::watch(0);
        for epoch in 1..20 {
            assert_eq!(never.observe(epoch, 1.0), None);
        }
    }

    #[test]
    fn a_resumed_run_keeps_the_best_and_whether_it_warned() {
        let mut watch = watch(2);
        watch.replay(1, 0.5, false);
        watch.replay(2, 0.6, false);
        assert!(watch.observe(3, 0.7).is_some(), "the replayed best counts");
        let mut warned = self::watch(2);
        warned.replay(1, 0.5, true);
        assert_eq!(
            warned.observe(3, 0.7),
            None,
            "the earlier run already warned"
        );
    }
}
