//! Throughput of the trainer's own step: `TrainStep::step` (forward, loss, backward, gradient
//! norm and clipping) followed by the optimizer step, exactly as the `Learner` runs it, and of
//! the inference forward pass. The first steps (kernel compilation, autotune, allocator
//! warm-up) are timed separately and left out of the statistics.

use std::time::Instant;

use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use burn::train::TrainStep;
use serde::Serialize;

use crate::error::Error;
use crate::step::{Classifier, Classify, LabeledBatch};

/// How long to measure.
#[derive(Debug, Clone, Copy)]
pub struct BenchConfig {
    /// Steps run before measuring (at least 1).
    pub warmup: usize,
    /// Steps measured.
    pub steps: usize,
    /// Learning rate of the optimizer steps (small: the weights should stay sane).
    pub lr: f64,
    /// Told of each warm-up step as it ends (`"train"` or `"inference"`, step, of, seconds):
    /// on a GPU the first step can take minutes of autotuning, and a run cut short should
    /// still say how far it got.
    pub on_warmup: Option<fn(&str, usize, usize, f64)>,
}

impl BenchConfig {
    /// Files one step's seconds: into the warm-up total (telling `on_warmup`) while
    /// `step < warmup`, else into the measured steps.
    fn record(
        &self,
        phase: &str,
        step: usize,
        warmup: usize,
        seconds: f64,
        (warm_total, measured): (&mut f64, &mut Vec<f64>),
    ) {
        if step < warmup {
            *warm_total += seconds;
            if let Some(tell) = self.on_warmup {
                tell(phase, step + 1, warmup, seconds);
            }
        } else {
            measured.push(seconds);
        }
    }
}

/// Images per second over the measured steps.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Median of the per-step throughputs.
    pub median: f64,
    /// Slowest step.
    pub min: f64,
    /// Fastest step.
    pub max: f64,
    /// Steps measured.
    pub steps: usize,
}

impl Throughput {
    /// From per-step wall times in seconds for batches of `batch` items.
    pub fn from_seconds(seconds: &[f64], batch: usize) -> Throughput {
        let mut rates: Vec<f64> = seconds
            .iter()
            .map(|s| batch as f64 / s.max(1e-12))
            .collect();
        rates.sort_by(|a, b| a.total_cmp(b));
        let n = rates.len();
        let median = match n {
            0 => 0.0,
            n if n % 2 == 1 => rates[n / 2],
            n => (rates[n / 2 - 1] + rates[n / 2]) / 2.0,
        };
        Throughput {
            median,
            min: rates.first().copied().unwrap_or(0.0),
            max: rates.last().copied().unwrap_or(0.0),
            steps: n,
        }
    }
}

/// What `zoo bench` reports for one model, backend and batch size.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Items per batch.
    pub batch: usize,
    /// Seconds of the warm-up training steps (compilation and autotune included).
    pub train_warmup_seconds: f64,
    /// Training throughput (forward + backward + optimizer step).
    pub train: Throughput,
    /// Seconds of the warm-up inference steps.
    pub infer_warmup_seconds: f64,
    /// Inference throughput (forward only, no autodiff).
    pub infer: Throughput,
    /// Peak resident memory of the process so far, MiB (Linux `VmHWM`; absent elsewhere).
    pub peak_rss_mib: Option<f64>,
}

/// Times `config.warmup + config.steps` training steps and as many inference steps on the
/// batches `batch()` makes (a new one per step, made outside the timed region). `model` must
/// live on an autodiff device; inference runs on its `valid()` copy.
pub fn bench<M, B>(
    model: Classifier<M, B>,
    mut optimizer: ModuleOptimizer,
    mut batch: impl FnMut(&Device) -> B,
    batch_size: usize,
    config: &BenchConfig,
) -> Result<BenchReport, Error>
where
    B: LabeledBatch,
    M: Classify<B::Inputs>,
{
    let device = burn::module::Module::devices(&model)
        .first()
        .cloned()
        .ok_or_else(|| Error::Empty("the model has no parameters".into()))?;
    let sync = |device: &Device| {
        device
            .sync()
            .map_err(|e| Error::Backend(format!("device sync: {e:?}")))
    };
    let warmup = config.warmup.max(1);
    let mut model = model;
    let mut train_seconds = Vec::with_capacity(config.steps);
    let mut train_warmup = 0.0;
    for step in 0..warmup + config.steps {
        let input = batch(&device);
        sync(&device)?;
        let started = Instant::now();
        let output = TrainStep::step(&model, input);
        model = optimizer.step(config.lr, model, output.grads);
        sync(&device)?;
        let seconds = started.elapsed().as_secs_f64();
        config.record(
            "train",
            step,
            warmup,
            seconds,
            (&mut train_warmup, &mut train_seconds),
        );
    }
    let inference = burn::module::Module::valid(&model);
    let plain = burn::module::Module::devices(&inference)
        .first()
        .cloned()
        .unwrap_or(device);
    let mut infer_seconds = Vec::with_capacity(config.steps);
    let mut infer_warmup = 0.0;
    for step in 0..warmup + config.steps {
        let input = batch(&plain);
        sync(&plain)?;
        let started = Instant::now();
        // the forward pass alone, as the documentation and the PyTorch peer (`model(x)`) have
        // it: no loss (the trainer's validation step adds one, ~10 small operations)
        let (inputs, _) = input.into_parts();
        let logits = inference.model.logits(inputs);
        drop(logits);
        sync(&plain)?;
        let seconds = started.elapsed().as_secs_f64();
        config.record(
            "inference",
            step,
            warmup,
            seconds,
            (&mut infer_warmup, &mut infer_seconds),
        );
    }
    Ok(BenchReport {
        batch: batch_size,
        train_warmup_seconds: train_warmup,
        train: Throughput::from_seconds(&train_seconds, batch_size),
        infer_warmup_seconds: infer_warmup,
        infer: Throughput::from_seconds(&infer_seconds, batch_size),
        peak_rss_mib: peak_rss_mib(),
    })
}

/// Peak resident set size of this process in MiB (`VmHWM` in /proc/self/status).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_statistics_of_known_step_times() {
        let t = Throughput::from_seconds(&[0.5, 0.25, 1.0], 10);
        assert_eq!((t.median, t.min, t.max, t.steps), (20.0, 10.0, 40.0, 3));
        let even = Throughput::from_seconds(&[1.0, 0.5], 10);
        assert_eq!(even.median, 15.0);
    }

    #[test]
    fn peak_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_mib().unwrap() > 1.0);
        }
    }
}
