//! Several devices through Burn's strategies (`[backend] devices`): N devices at a global batch B
//! make the update of one device at B. Here on Flex (two workers on one CPU); real DDP on two
//! CUDA GPUs is the ignored test at the end (`just test-ddp`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use zoo_tests::{Run, checkpoint_tensors, max_abs_diff, zoo};

/// 105 synthetic sequences: 84 train (10 batches of 8 and 4 left over), 21 valid, 21 test.
const DATA: &[&str] = &[
    "data.synthetic_items=105",
    "train.batch_size=8",
    "train.epochs=2",
    // SGD: an update proportional to the gradient, so a summed gradient (twice the mean) shows.
    "optimizer.kind=\"sgd\"",
    "optimizer.lr=0.05",
];

fn train(out: &Path, sets: &[&str]) -> Run {
    let mut args = vec!["train", "conv1d-classifier", "--out", out.to_str().unwrap()];
    for set in DATA.iter().chain(sets) {
        args.extend(["--set", set]);
    }
    zoo(&args)
}

fn run_dir(out: &Path) -> PathBuf {
    zoo_tests::run_dir(out, "conv1d-classifier")
}

fn weights(run: &Path, epoch: usize) -> BTreeMap<String, Vec<f32>> {
    checkpoint_tensors(run, "conv1d-classifier", epoch)
}

/// (epoch, step, loss) of steps.csv.
fn steps(run: &Path) -> Vec<(String, String, f64)> {
    let text = std::fs::read_to_string(run.join("steps.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (cells[0].into(), cells[1].into(), cells[2].parse().unwrap())
        })
        .collect()
}

#[test]
fn two_flex_devices_reproduce_one_device_at_the_same_global_batch() {
    let out = tempfile::tempdir().unwrap();
    let (one, two) = (out.path().join("one"), out.path().join("two"));
    // One device drops its 4-item last batch as two devices do (their blocks would be unequal).
    train(&one, &["train.last_batch=\"drop\""]).success();
    let double = train(&two, &["backend.devices=[0, 1]"]).success();
    assert!(
        double
            .stdout
            .contains("x 2 devices (Burn's multi-device strategy"),
        "{double}"
    );
    let (one, two) = (run_dir(&one), run_dir(&two));
    // 10 steps an epoch; the same loss at every step.
    let (a, b) = (steps(&one), steps(&two));
    assert_eq!(a.len(), 20, "{a:?}");
    assert_eq!(b.len(), 20, "{b:?}");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((&x.0, &x.1), (&y.0, &y.1));
        assert!((x.2 - y.2).abs() < 1e-5, "step {x:?} vs {y:?}");
    }
    // The parameters after 10 and after 20 steps.
    for epoch in [1, 2] {
        let diff = max_abs_diff(&weights(&one, epoch), &weights(&two, epoch));
        eprintln!("epoch {epoch}: max |one device - two devices| = {diff:e}");
        assert!(diff <= 1e-5, "epoch {epoch}: {diff}");
    }
    // Without the last batch dropped, one device trains on other items: not the same run.
    let kept = out.path().join("kept");
    train(&kept, &["train.last_batch=\"keep\""]).success();
    let diff = max_abs_diff(&weights(&run_dir(&kept), 2), &weights(&two, 2));
    assert!(diff > 1e-4, "{diff}");
}

#[test]
fn several_devices_refuse_what_they_cannot_do_before_writing_anything() {
    let out = tempfile::tempdir().unwrap();
    for (sets, expect) in [
        (
            &["backend.devices=[0, 1, 2]"][..],
            "train.batch_size = 8 does not split evenly over 3 devices",
        ),
        (
            &["backend.devices=[0, 1]", "clip.max_norm=1.0"][..],
            "clip.max_norm with 2 devices",
        ),
        (
            &["backend.devices=[0, 1]", "backend.strategy=\"ddp\""][..],
            "backend.strategy = \"ddp\" needs collective operations",
        ),
    ] {
        let run = train(out.path(), sets).failure();
        assert!(run.stderr.contains(expect), "{sets:?}: {run}");
        assert!(!run.stderr.contains("panicked"), "{run}");
        assert!(!out.path().join("conv1d-classifier").exists(), "{sets:?}");
    }
}

/// Burn's DDP (NCCL all-reduce, mean) on the first two CUDA GPUs against one of them. Needs a
/// zoo built with `--features cuda` and two GPUs: `just test-ddp`.
#[test]
#[ignore = "needs two CUDA GPUs and zoo built with --features cuda: just test-ddp"]
fn ddp_on_two_cuda_gpus_reproduces_one_gpu() {
    let out = tempfile::tempdir().unwrap();
    let (one, two) = (out.path().join("one"), out.path().join("two"));
    let cuda = ["backend.kind=\"cuda\"", "train.last_batch=\"drop\""];
    train(&one, &[&cuda[..], &["backend.devices=[0]"]].concat()).success();
    let double = train(&two, &[&cuda[..], &["backend.devices=[0, 1]"]].concat()).success();
    assert!(double.stdout.contains("Burn's DDP"), "{double}");
    let diff = max_abs_diff(&weights(&run_dir(&one), 2), &weights(&run_dir(&two), 2));
    eprintln!("DDP: max |one GPU - two GPUs| = {diff:e}");
    assert!(diff <= 1e-4, "{diff}");
}

/// `zoo_train::train` asked for DDP on devices without collective operations (a library user;
/// the CLI refuses it in the config): a `Config` error, no panic, nothing trained.
#[test]
fn ddp_on_flex_through_the_library_is_an_error_not_a_panic() {
    use burn::tensor::Device;
    use zoo_cli::registry::{Model, ModelKind};
    use zoo_data::{SequenceBatch, SequenceItem, SequenceSplits};
    use zoo_train::{
        ClipConfig, GuardConfig, Loaders, OptimizerConfig, Parallel, RunDir, ScheduleConfig,
        StopHandle, TrainConfig, TrainError, TrainPlan,
    };

    let kind = ModelKind::all()
        .into_iter()
        .find(|k| k.name() == "conv1d-classifier")
        .unwrap();
    let device = Device::flex();
    let model = kind.init(&device.clone().autodiff()).unwrap();
    let items = |n: usize| {
        (0..n)
            .map(|i| SequenceItem {
                values: vec![0.0; 7 * 500],
                label: i % 5,
            })
            .collect()
    };
    let splits = SequenceSplits {
        train: items(16),
        valid: items(4),
        test: Vec::new(),
        shape: [7, 500],
        classes: (0..5).map(|c| c.to_string()).collect(),
    };
    let train = TrainConfig {
        batch_size: zoo_train::BatchSize::Items(8),
        epochs: 1,
        ..TrainConfig::default()
    };
    let loaders = Loaders::sequences(splits, &train, &device);
    let out = tempfile::tempdir().unwrap();
    let run = RunDir::create(out.path(), "ddp", "").unwrap();
    let plan = TrainPlan {
        experiment: "ddp".into(),
        model: "conv1d-classifier".into(),
        backend: "flex".into(),
        task: kind.classifier_task().unwrap(),
        devices: vec![device.clone(), device],
        parallel: Parallel::Ddp,
        train,
        optimizer: OptimizerConfig::default(),
        schedule: ScheduleConfig::default(),
        clip: ClipConfig::default(),
        guard: GuardConfig::default(),
        stop: StopHandle::default(),
    };
    let result = zoo_train::train::<Model, SequenceBatch>(model, loaders, &plan, &run, None);
    match result {
        Err(TrainError::Failed(zoo_train::Error::Config(message))) => {
            assert!(message.contains("CUDA only"), "{message}")
        }
        other => panic!("expected a Config error, got {:?}", other.map(|s| s.status)),
    }
    assert!(run.complete_checkpoints().is_empty());
}
