//! `zoo lr-find`, `zoo sweep` and `zoo saddle`: every picture exists, is a PNG of the stated
//! size, and the numbers in its CSV are the ones the tool computed (checked against closed
//! forms and against the runs they came from).

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use zoo_data::{DataConfig, DataSpec, SequenceBatch, Splits};
use zoo_tests::zoo;
use zoo_train::{
    BatchSize, Classifier, Classify, ClipConfig, Loaders, LrFindConfig, LrFindPoint, TrainConfig,
    build_optimizer, lr_find, suggestions,
};

fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// A CSV as rows of column → cell.
fn csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|line| {
            header
                .iter()
                .cloned()
                .zip(line.split(',').map(String::from))
                .collect()
        })
        .collect()
}

fn num(row: &BTreeMap<String, String>, key: &str) -> f64 {
    row[key]
        .parse()
        .unwrap_or_else(|_| panic!("{key}: {:?}", row[key]))
}

#[test]
fn saddle_paths_follow_the_closed_form_and_adaptive_methods_escape_first() {
    let out = tempfile::tempdir().unwrap();
    let run = zoo(&["saddle", "--out", out.path().to_str().unwrap()]).success();
    assert_eq!(png_size(&out.path().join("saddle.png")), (1200, 600));
    let rows = csv(&out.path().join("saddle.csv"));
    for row in &rows {
        let (x, y, f) = (num(row, "x"), num(row, "y"), num(row, "f"));
        let expected = match row["surface"].as_str() {
            "x^2 - y^2" => x * x - y * y,
            "x^3 - 3xy^2" => x * x * x - 3.0 * x * y * y,
            other => panic!("surface {other}"),
        };
        assert!(
            (f - expected).abs() <= 1e-12 * expected.abs().max(1.0),
            "{row:?}"
        );
    }
    // Gradient descent on x² − y² is linear: x_t = x0 (1 − 2 lr)^t, y_t = y0 (1 + 2 lr)^t.
    let sgd: Vec<_> = rows
        .iter()
        .filter(|r| r["surface"] == "x^2 - y^2" && r["optimizer"] == "SGD")
        .collect();
    for row in &sgd {
        let t = num(row, "step") as i32;
        let (x, y) = (0.5 * 0.98f64.powi(t), 0.001 * 1.02f64.powi(t));
        assert!((num(row, "x") - x).abs() <= 1e-5 * x.max(1e-6), "{row:?}");
        assert!((num(row, "y") - y).abs() <= 1e-5 * y, "{row:?}");
    }
    // It leaves the unit disc at the first t with x_t² + y_t² > 1.
    let escape = (1..)
        .find(|&t| {
            let (x, y) = (0.5 * 0.98f64.powi(t), 0.001 * 1.02f64.powi(t));
            x * x + y * y > 1.0
        })
        .unwrap();
    assert_eq!(escape, 349);
    assert_eq!(num(sgd.last().unwrap(), "step") as i32, escape);
    let table_row = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("SGD "))
        .unwrap();
    assert!(table_row.contains(" 349 "), "{table_row}");
    // Adam and RMSprop normalise the tiny gradient along y: both escape several times sooner.
    let steps = |surface: &str, optimizer: &str| {
        rows.iter()
            .filter(|r| r["surface"] == surface && r["optimizer"] == optimizer)
            .count()
            - 1
    };
    for adaptive in ["Adam", "RMSprop"] {
        assert!(steps("x^2 - y^2", adaptive) * 4 < escape as usize);
    }
    // On the monkey saddle plain SGD stalls: the gradient vanishes quadratically.
    assert!(run.stdout.contains("stayed 500"), "{run}");
}

#[test]
fn lr_find_writes_the_curve_it_computed_and_suggests_from_it() {
    let out = tempfile::tempdir().unwrap();
    let run = zoo(&[
        "lr-find",
        "conv1d-classifier",
        "--steps",
        "80",
        "--set",
        "data.synthetic_items=300",
        "--out",
        out.path().to_str().unwrap(),
    ])
    .success();
    assert_eq!(png_size(&out.path().join("lr-find.png")), (900, 560));
    let rows = csv(&out.path().join("lr-find.csv"));
    assert!(rows.len() >= 10 && rows.len() <= 80);
    // Learning rates rise exponentially from 1e-7 towards 10 over 80 steps.
    let ratio = (10.0f64 / 1e-7).powf(1.0 / 79.0);
    for (i, row) in rows.iter().enumerate() {
        let lr = 1e-7 * ratio.powi(i as i32);
        assert!((num(row, "lr") / lr - 1.0).abs() < 1e-9, "{row:?}");
    }
    // The smoothed column is the bias-corrected EMA (β = 0.98) of the loss column.
    let mut average = 0.0;
    let points: Vec<LrFindPoint> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            average = 0.98 * average + 0.02 * num(row, "loss");
            let smoothed = average / (1.0 - 0.98f64.powi(i as i32 + 1));
            assert!((num(row, "smoothed") - smoothed).abs() < 1e-9 * smoothed.max(1.0));
            LrFindPoint {
                step: i + 1,
                lr: num(row, "lr"),
                loss: num(row, "loss"),
                smoothed,
            }
        })
        .collect();
    // Stopped early only once the smoothed loss passed 4× its minimum.
    if rows.len() < 80 {
        let min = points
            .iter()
            .map(|p| p.smoothed)
            .fold(f64::INFINITY, f64::min);
        assert!(points.last().unwrap().smoothed > 4.0 * min);
    }
    // The printed suggestions are those of the CSV's curve.
    let (steepest, min10) = suggestions(&points);
    assert!(
        run.stdout.contains(&format!("{:.2e}", steepest.unwrap())),
        "{run}"
    );
    assert!(
        run.stdout.contains(&format!("{:.2e}", min10.unwrap())),
        "{run}"
    );
}

#[test]
fn lr_find_leaves_the_model_weights_untouched() {
    let device = Device::flex();
    let kind = zoo_cli::registry::ModelKind::by_name("conv1d-classifier").unwrap();
    let model = kind.init(&device.clone().autodiff()).unwrap();
    let config = DataConfig {
        synthetic_items: 64,
        ..DataConfig::default()
    };
    let spec: DataSpec = kind.data_spec().unwrap();
    let Splits::Sequences(splits) = zoo_data::load(&config, &spec).unwrap() else {
        panic!("sequences expected")
    };
    let train = TrainConfig {
        batch_size: BatchSize::Items(16),
        ..TrainConfig::default()
    };
    let loaders = Loaders::sequences(splits, &train, &device);
    let classifier = Classifier::<zoo_cli::registry::Model, SequenceBatch>::new(
        model,
        zoo_train::Task::MultiClass(5),
        ClipConfig::default(),
    );
    let probe = Tensor::<3>::from_data(
        TensorData::new(vec![0.5f32; 7 * 500], [1, 7, 500]),
        &device.clone().autodiff(),
    );
    let before = classifier.model.logits(probe.clone()).into_data();
    let loader = loaders.train.to_device(&device.clone().autodiff());
    let range = LrFindConfig {
        steps: 20,
        ..LrFindConfig::default()
    };
    let optimizer = build_optimizer(&zoo_train::OptimizerConfig::default());
    let result = lr_find(&classifier, optimizer, loader.as_ref(), &range).unwrap();
    assert!(!result.points.is_empty());
    let after = classifier.model.logits(probe).into_data();
    assert_eq!(before, after);
}

#[test]
fn sweep_overlays_one_run_per_value_with_the_runs_own_numbers() {
    let out = tempfile::tempdir().unwrap();
    let run = zoo(&[
        "sweep",
        "conv1d-classifier",
        "--set",
        "train.batch_size=16,full",
        "--set",
        "train.epochs=2",
        "--set",
        "data.synthetic_items=200",
        "--out",
        out.path().to_str().unwrap(),
    ])
    .success();
    assert_eq!(png_size(&out.path().join("sweep.png")), (1500, 500));
    assert!(run.stdout.contains("Sweep of train.batch_size"), "{run}");
    let rows = csv(&out.path().join("sweep.csv"));
    let count = |value: &str, curve: &str| {
        rows.iter()
            .filter(|r| r["value"] == value && r["curve"] == curve)
            .count()
    };
    // 160 training items: batches of 16 → 10 steps per epoch; "full" → 1 step per epoch.
    assert_eq!(count("16", "step"), 20);
    assert_eq!(count("full", "step"), 2);
    assert_eq!(count("full", "train"), 2);
    assert_eq!(count("16", "valid"), 2);
    // The step losses are the run's own steps.csv.
    for (value, dir) in [
        ("16", "train.batch_size=16"),
        ("full", "train.batch_size=full"),
    ] {
        let runs = out.path().join("runs").join(dir).join("conv1d-classifier");
        let run_dir = std::fs::read_dir(&runs)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let steps = csv(&run_dir.join("steps.csv"));
        let swept: Vec<f64> = rows
            .iter()
            .filter(|r| r["value"] == value && r["curve"] == "step")
            .map(|r| num(r, "loss"))
            .collect();
        let own: Vec<f64> = steps.iter().map(|r| num(r, "loss")).collect();
        // Equal up to the last bit serde_json's float parsing may round (history.json).
        assert_eq!(swept.len(), own.len(), "{value}");
        for (a, b) in swept.iter().zip(&own) {
            assert!((a - b).abs() <= 1e-12 * b.abs(), "{value}: {a} vs {b}");
        }
    }
    // One key at a time, with several values.
    zoo(&["sweep", "conv1d-classifier", "--set", "train.epochs=1"]).failure();
}

#[test]
fn zoo_bench_times_the_train_step_and_inference() {
    let run = zoo(&[
        "bench",
        "conv1d-classifier",
        "--batch",
        "4",
        "--steps",
        "3",
        "--warmup",
        "2",
        "--json",
    ])
    .success();
    // Each warm-up step is told on stderr as it ends (on a GPU they can take minutes).
    for line in [
        "train warm-up step 1/2",
        "train warm-up step 2/2",
        "inference warm-up step 2/2",
    ] {
        assert!(run.stderr.contains(line), "{line}: {run}");
    }
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["model"], "conv1d-classifier");
    assert_eq!(json["backend"], "flex");
    let report = &json["report"];
    assert_eq!(report["batch"], 4);
    for kind in ["train", "infer"] {
        let t = &report[kind];
        assert_eq!(t["steps"], 3);
        let (min, median, max) = (
            t["min"].as_f64().unwrap(),
            t["median"].as_f64().unwrap(),
            t["max"].as_f64().unwrap(),
        );
        assert!(0.0 < min && min <= median && median <= max, "{t}");
    }
    assert!(report["train_warmup_seconds"].as_f64().unwrap() > 0.0);
    assert!(report["peak_rss_mib"].as_f64().unwrap() > 1.0);
    // --layers: one median per traced layer, in the order `zoo summary` lists them.
    let run = zoo(&[
        "bench",
        "conv1d-classifier",
        "--batch",
        "4",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--layers",
        "--json",
    ])
    .success();
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let layers = json["layers"].as_array().unwrap();
    let paths: Vec<&str> = layers.iter().map(|l| l["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "conv1", "pool1", "conv2", "pool2", "conv3", "pool3", "flatten", "dense", "output"
        ]
    );
    assert_eq!(layers[1]["kind"], "MaxPool1d");
    let seconds: Vec<f64> = layers
        .iter()
        .map(|l| l["median_seconds"].as_f64().unwrap())
        .collect();
    assert!(
        seconds.iter().all(|&s| s >= 0.0) && seconds[0] > 0.0,
        "{seconds:?}"
    );
    // Only classifiers have a training step to time.
    let run = zoo(&["bench", "pointwise-conv"]).failure();
    assert!(run.stderr.contains("not a classifier"), "{run}");
}
