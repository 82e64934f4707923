//! The tables' checks and their TOML round trips.

use super::*;

#[test]
fn train_and_optimizer_configs_round_trip_through_toml() {
    let train = TrainConfig {
        epochs: 3,
        batch_size: BatchSize::Items(16),
        seed: 1,
        num_workers: 0,
        last_batch: LastBatch::Drop,
        early_stopping: Some(2),
    };
    let optimizer = OptimizerConfig {
        kind: OptimizerKind::Sgd,
        lr: 0.1,
        momentum: 0.9,
        nesterov: true,
        weight_decay: 5e-4,
    };
    let train_text = toml::to_string(&train).unwrap();
    let optimizer_text = toml::to_string(&optimizer).unwrap();
    assert_eq!(toml::from_str::<TrainConfig>(&train_text).unwrap(), train);
    assert_eq!(
        toml::from_str::<OptimizerConfig>(&optimizer_text).unwrap(),
        optimizer
    );
}

#[test]
fn each_optimizer_and_schedule_kind_owns_its_keys() {
    let refused = |text: &str| {
        toml::from_str::<OptimizerConfig>(text)
            .unwrap_err()
            .to_string()
    };
    let message = refused("kind = \"adam\"\nnesterov = true");
    assert!(message.contains("unknown field `nesterov`"), "{message}");
    assert!(
        message.contains("does not apply to kind = \"adam\" (expected `lr` or `weight_decay`)"),
        "{message}"
    );
    let message = refused("kind = \"rmsprop\"\nnesterov = false");
    assert!(message.contains("unknown field `nesterov`"), "{message}");
    let message = refused("kind = \"lbfgs\"");
    assert!(message.contains("unknown variant `lbfgs`"), "{message}");
    assert!(
        message.contains("`sgd`, `adam`, `adamw`, `rmsprop`"),
        "{message}"
    );
    let sgd: OptimizerConfig = toml::from_str("kind = \"sgd\"\nmomentum = 0.9").unwrap();
    assert_eq!(
        (sgd.kind, sgd.momentum, sgd.lr),
        (OptimizerKind::Sgd, 0.9, 1e-3)
    );
    let unnamed: OptimizerConfig = toml::from_str("lr = 0.01").unwrap();
    assert_eq!((unnamed.kind, unnamed.lr), (OptimizerKind::Adam, 0.01));
    // Serialised, a kind writes only its own keys, so the text reads back.
    let text = toml::to_string(&unnamed).unwrap();
    assert!(
        !text.contains("momentum") && !text.contains("nesterov"),
        "{text}"
    );
    assert_eq!(toml::from_str::<OptimizerConfig>(&text).unwrap(), unnamed);

    let schedule = |text: &str| toml::from_str::<ScheduleConfig>(text);
    let message = schedule("kind = \"constant\"\ngamma = 0.5")
        .unwrap_err()
        .to_string();
    assert!(message.contains("unknown field `gamma`"), "{message}");
    let message = schedule("kind = \"cosine\"\nwarmup_epochs = 2")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("unknown field `warmup_epochs`"),
        "{message}"
    );
    let step = schedule("kind = \"step\"\ngamma = 0.5").unwrap();
    assert_eq!(
        (step.kind, step.gamma, step.step_epochs),
        (ScheduleKind::Step, 0.5, 10)
    );
    let text = toml::to_string(&step).unwrap();
    assert!(!text.contains("min_lr"), "{text}");
    assert_eq!(schedule(&text).unwrap(), step);
    assert_eq!(schedule("").unwrap(), ScheduleConfig::default());
}

#[test]
fn nesterov_needs_sgd_with_momentum() {
    let sgd = |momentum, nesterov| OptimizerConfig {
        kind: OptimizerKind::Sgd,
        momentum,
        nesterov,
        ..OptimizerConfig::default()
    };
    let error = sgd(0.0, true).validate().unwrap_err();
    assert!(
        error.config().contains("needs optimizer.momentum > 0"),
        "{error}"
    );
    assert!(sgd(0.9, true).validate().is_ok());
    let adam = OptimizerConfig {
        momentum: 0.9,
        ..OptimizerConfig::default()
    };
    let error = adam.validate().unwrap_err();
    assert!(error.config().contains("not \"adam\""), "{error}");
}

#[test]
fn batch_size_is_a_count_or_full() {
    let full: TrainConfig = toml::from_str("batch_size = \"full\"").unwrap();
    assert_eq!(full.batch_size, BatchSize::Full);
    assert_eq!(full.batch_size.items(800), 800);
    assert!(
        toml::to_string(&full)
            .unwrap()
            .contains("batch_size = \"full\"")
    );
    let n: TrainConfig = toml::from_str("batch_size = 16").unwrap();
    assert_eq!(n.batch_size.items(10), 10);
    let error = toml::from_str::<TrainConfig>("batch_size = \"big\"").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("expected a positive number of items or \"full\""),
        "{error}"
    );
}

#[test]
fn zero_batch_size_and_negative_lr_are_rejected() {
    let train = TrainConfig {
        batch_size: BatchSize::Items(0),
        ..TrainConfig::default()
    };
    assert!(
        train
            .validate()
            .unwrap_err()
            .config()
            .contains("train.batch_size")
    );
    let optimizer = OptimizerConfig {
        lr: -1.0,
        ..OptimizerConfig::default()
    };
    assert!(
        optimizer
            .validate()
            .unwrap_err()
            .config()
            .contains("optimizer.lr")
    );
}
