//! The `[optimizer]` and `[schedule]` tables turned into Burn's own optimizers and schedulers.
//!
//! Defaults follow PyTorch where Burn's differ (SGD dampening 0, Adam/RMSprop epsilon 1e-8,
//! RMSprop momentum from the config, 0 by default), so a config means the same as the
//! PyTorch code a reader knows.

use burn::lr_scheduler::LrSchedulerConfig;
use burn::lr_scheduler::constant::ConstantLr;
use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::exponential::ExponentialLrSchedulerConfig;
use burn::lr_scheduler::linear::LinearLrSchedulerConfig;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::lr_scheduler::sequential::SequentialLrSchedulerConfig;
use burn::lr_scheduler::step::StepLrSchedulerConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{
    Adam, AdamConfig, AdamState, AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState,
    LearningRate, ModuleOptimizer, Optimizer, RmsPropConfig, SgdConfig,
};
use burn::tensor::{Device, Tensor};
use zoo_kernels::AdamStep;

use crate::config::{OptimizerConfig, OptimizerKind, ScheduleConfig, ScheduleKind};
use crate::error::Error;

/// Builds the optimizer the config names (gradient clipping is ours, not Burn's: see
/// [`crate::clip_global_norm`]).
pub fn build_optimizer(config: &OptimizerConfig) -> ModuleOptimizer {
    let decay =
        (config.weight_decay > 0.0).then(|| WeightDecayConfig::new(config.weight_decay as f32));
    match config.kind {
        OptimizerKind::Sgd => SgdConfig::new()
            .with_weight_decay(decay)
            .with_momentum((config.momentum > 0.0).then_some(MomentumConfig {
                momentum: config.momentum,
                dampening: 0.0,
                nesterov: config.nesterov,
            }))
            .init(),
        OptimizerKind::Adam => ModuleOptimizer::from(Fused {
            burn: AdamConfig::new()
                .with_epsilon(ADAM_EPSILON)
                .with_weight_decay(decay)
                .build(),
            weight_decay: config.weight_decay as f32,
        }),
        OptimizerKind::Adamw => ModuleOptimizer::from(Fused {
            burn: AdamWConfig::new()
                .with_epsilon(ADAM_EPSILON)
                .with_weight_decay(config.weight_decay as f32)
                .build(),
            weight_decay: config.weight_decay as f32,
        }),
        OptimizerKind::Rmsprop => RmsPropConfig::new()
            .with_alpha(0.99)
            .with_epsilon(1e-8)
            .with_momentum(config.momentum as f32)
            .with_weight_decay(decay)
            .init(),
    }
}

/// PyTorch's default (Burn's is 1e-5).
const ADAM_EPSILON: f32 = 1e-8;
/// Burn's and PyTorch's default betas, which the config does not change.
const ADAM_BETAS: (f32, f32) = (0.9, 0.999);

/// Burn's `Adam` or `AdamW` (`O`), whose step runs as one parallel pass in place on the CPU
/// backends burn-zoo's kernels serve ([`zoo_kernels::adam_step`]: the same values, bit for bit)
/// and as Burn's own elsewhere (a GPU, `ZOO_KERNELS=off`, `ZOO_FUSED_ADAM=off`). Why: Flex
/// runs Burn's ~13 operations per parameter on one thread, a serial share of each step that
/// grows with the thread count (the book, "Kernel measurements"). The state is Burn's own (`AdamState`,
/// `AdamWState`), so checkpoints resume across either path.
#[derive(Clone)]
struct Fused<O> {
    burn: O,
    weight_decay: f32,
}

/// What [`Fused`] needs of Burn's `Adam` and `AdamW`: the step's constants and the moments
/// inside their states.
trait AdamFamily: Optimizer {
    fn constants(weight_decay: f32, lr: LearningRate, time: usize) -> AdamStep;
    fn momentum<const D: usize>(state: Self::State<D>) -> AdaptiveMomentumState<D>;
    fn state<const D: usize>(momentum: AdaptiveMomentumState<D>) -> Self::State<D>;
}

impl AdamFamily for Adam {
    fn constants(weight_decay: f32, lr: LearningRate, time: usize) -> AdamStep {
        let (beta_1, beta_2) = ADAM_BETAS;
        AdamStep::adam(beta_1, beta_2, ADAM_EPSILON, weight_decay, lr, time)
    }

    fn momentum<const D: usize>(state: AdamState<D>) -> AdaptiveMomentumState<D> {
        state.momentum
    }

    fn state<const D: usize>(momentum: AdaptiveMomentumState<D>) -> AdamState<D> {
        AdamState::new(momentum)
    }
}

impl AdamFamily for AdamW {
    fn constants(weight_decay: f32, lr: LearningRate, time: usize) -> AdamStep {
        let (beta_1, beta_2) = ADAM_BETAS;
        AdamStep::adamw(beta_1, beta_2, ADAM_EPSILON, weight_decay, lr, time)
    }

    fn momentum<const D: usize>(state: AdamWState<D>) -> AdaptiveMomentumState<D> {
        state.momentum
    }

    fn state<const D: usize>(momentum: AdaptiveMomentumState<D>) -> AdamWState<D> {
        AdamWState::new(momentum)
    }
}

impl<O: AdamFamily> Optimizer for Fused<O> {
    type State<const D: usize> = O::State<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        if !zoo_kernels::serves_adam(&tensor.device()) {
            return self.burn.step(lr, tensor, grad, state);
        }
        let momentum = state.map(O::momentum);
        let time = momentum.as_ref().map_or(0, |state| state.time) + 1;
        let moments = momentum.map(|state| [state.moment_1, state.moment_2]);
        let step = O::constants(self.weight_decay, lr, time);
        let (tensor, [moment_1, moment_2]) = zoo_kernels::adam_step(&step, tensor, grad, moments);
        let momentum = AdaptiveMomentumState::new(time, moment_1, moment_2);
        (tensor, Some(O::state(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        O::to_device(state, device)
    }
}

/// Builds the learning-rate schedule for a run of `epochs` epochs of `steps_per_epoch`
/// optimizer steps, peaking at `lr`.
pub fn build_schedule(
    schedule: &ScheduleConfig,
    lr: f64,
    epochs: usize,
    steps_per_epoch: usize,
) -> Result<ModuleLrScheduler, Error> {
    schedule.validate(lr, epochs)?;
    let steps_per_epoch = steps_per_epoch.max(1);
    let total = epochs * steps_per_epoch;
    let built = match schedule.kind {
        ScheduleKind::Constant => Ok(ConstantLr::new(lr).into()),
        ScheduleKind::Step => {
            StepLrSchedulerConfig::new(lr, schedule.step_epochs * steps_per_epoch)
                .with_gamma(schedule.gamma)
                .init()
        }
        ScheduleKind::Exponential => {
            ExponentialLrSchedulerConfig::new(lr, schedule.gamma.powf(1.0 / steps_per_epoch as f64))
                .init()
        }
        ScheduleKind::Cosine => CosineAnnealingLrSchedulerConfig::new(lr, total)
            .with_min_lr(schedule.min_lr)
            .init(),
        ScheduleKind::WarmupCosine => {
            let warmup = (schedule.warmup_epochs * steps_per_epoch).max(1);
            SequentialLrSchedulerConfig::new(
                vec![
                    LrSchedulerConfig::Linear(LinearLrSchedulerConfig::new(lr / 100.0, lr, warmup)),
                    LrSchedulerConfig::Cosine(
                        CosineAnnealingLrSchedulerConfig::new(lr, (total - warmup).max(1))
                            .with_min_lr(schedule.min_lr),
                    ),
                ],
                vec![warmup],
            )
            .init()
        }
    };
    built.map_err(|error| {
        Error::Config(format!(
            "schedule.kind = \"{}\": {error}",
            schedule.kind.name()
        ))
    })
}

/// The learning rate of each step `0..steps` of a schedule, for plots and tests.
pub fn schedule_values(
    schedule: &ScheduleConfig,
    lr: f64,
    epochs: usize,
    steps_per_epoch: usize,
) -> Result<Vec<f64>, Error> {
    let mut scheduler = build_schedule(schedule, lr, epochs, steps_per_epoch)?;
    Ok((0..epochs * steps_per_epoch.max(1))
        .map(|_| scheduler.step().base())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(kind: ScheduleKind) -> ScheduleConfig {
        ScheduleConfig {
            kind,
            step_epochs: 2,
            gamma: 0.5,
            min_lr: 0.0,
            warmup_epochs: 1,
        }
    }

    #[test]
    fn step_schedule_halves_every_two_epochs() {
        let lrs = schedule_values(&schedule(ScheduleKind::Step), 0.1, 4, 3).unwrap();
        assert_eq!(lrs.len(), 12);
        assert!((lrs[0] - 0.1).abs() < 1e-12 && (lrs[5] - 0.1).abs() < 1e-12);
        assert!((lrs[6] - 0.05).abs() < 1e-12 && (lrs[11] - 0.05).abs() < 1e-12);
    }

    #[test]
    fn exponential_schedule_multiplies_by_gamma_per_epoch() {
        let lrs = schedule_values(&schedule(ScheduleKind::Exponential), 0.1, 3, 4).unwrap();
        assert!((lrs[0] - 0.1).abs() < 1e-12);
        assert!((lrs[4] - 0.05).abs() < 1e-9, "{lrs:?}");
        assert!((lrs[8] - 0.025).abs() < 1e-9, "{lrs:?}");
    }

    #[test]
    fn cosine_schedule_falls_from_lr_towards_min() {
        let lrs = schedule_values(&schedule(ScheduleKind::Cosine), 0.1, 2, 10).unwrap();
        assert!((lrs[0] - 0.1).abs() < 1e-12);
        assert!(lrs.windows(2).all(|pair| pair[1] <= pair[0] + 1e-15));
        assert!(*lrs.last().unwrap() < 0.01);
    }

    #[test]
    fn warmup_cosine_rises_then_falls() {
        let lrs = schedule_values(&schedule(ScheduleKind::WarmupCosine), 0.1, 3, 10).unwrap();
        assert!(lrs[0] < 0.01, "{lrs:?}");
        let peak = lrs
            .iter()
            .cloned()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert!(
            (9..=11).contains(&peak.0) && (peak.1 - 0.1).abs() < 1e-9,
            "{lrs:?}"
        );
        assert!(*lrs.last().unwrap() < 0.01);
    }

    #[test]
    fn invalid_schedules_name_the_key() {
        let mut config = schedule(ScheduleKind::Step);
        config.step_epochs = 0;
        assert!(
            build_schedule(&config, 0.1, 2, 2)
                .err()
                .unwrap()
                .config()
                .contains("schedule.step_epochs")
        );
        let config = schedule(ScheduleKind::Cosine);
        assert!(
            build_schedule(&config, 2.0, 2, 2)
                .err()
                .unwrap()
                .config()
                .contains("at most 1")
        );
        let mut config = schedule(ScheduleKind::WarmupCosine);
        config.warmup_epochs = 3;
        assert!(
            build_schedule(&config, 0.1, 3, 2)
                .err()
                .unwrap()
                .config()
                .contains("warmup_epochs")
        );
    }
}
