//! zoo-data on real files: the Fashion-MNIST files of Debian's `dataset-fashion-mnist`, and
//! the `zoo data` command end to end on generated CIFAR-10 files.

use std::path::Path;

use zoo_data::{DataConfig, DataKind, DataSpec, Splits, cifar, synthetic};
use zoo_tests::zoo_with_env;

const FASHION: &str = "/usr/share/datasets/fashion-mnist";

#[test]
fn debian_fashion_mnist_has_60_000_plus_10_000_images_in_10_balanced_classes() {
    if !Path::new(FASHION)
        .join("train-images-idx3-ubyte.gz")
        .is_file()
    {
        println!("SKIPPED: {FASHION} is absent (Debian package dataset-fashion-mnist)");
        return;
    }
    let config = DataConfig {
        kind: DataKind::Idx,
        dir: Some(FASHION.into()),
        valid_fraction: 0.0,
        ..DataConfig::default()
    };
    let spec = DataSpec {
        shape: vec![1, 28, 28],
        classes: 10,
    };
    let Splits::Images(splits) = zoo_data::load(&config, &spec).unwrap() else {
        panic!("images expected")
    };
    assert_eq!(splits.train.len(), 60_000);
    assert_eq!(splits.test.len(), 10_000);
    assert_eq!(splits.classes.len(), 10);
    for class in 0..10 {
        let count = splits
            .train
            .iter()
            .filter(|item| item.label == class)
            .count();
        assert_eq!(count, 6_000, "class {class}");
    }
    // Fashion-MNIST's published training mean and std: 0.2860, 0.3530.
    let (mean, std) = zoo_data::channel_stats(&splits.train, 1);
    assert!((mean[0] - 0.2860).abs() < 1e-3, "{mean:?}");
    assert!((std[0] - 0.3530).abs() < 1e-3, "{std:?}");
}

#[test]
fn zoo_data_prints_splits_histograms_and_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(cifar::DIR_NAME);
    std::fs::create_dir(&root).unwrap();
    let items = synthetic::images([3, 32, 32], 10, 30, 4);
    for name in cifar::TRAIN_FILES.iter().chain([&cifar::TEST_FILE]) {
        std::fs::write(root.join(name), cifar::encode_records(&items)).unwrap();
    }
    let data_dir = dir.path().to_str().unwrap();
    let run = zoo_with_env(
        &[
            "data",
            "cifar-inception",
            "--set",
            &format!("data.dir=\"{data_dir}\""),
        ],
        &[],
    )
    .success();
    assert!(run.stdout.contains("train     135 items"), "{run}");
    assert!(run.stdout.contains("valid      15 items"), "{run}");
    assert!(
        run.stdout.contains("test       30 items   0: 3  1: 3"),
        "{run}"
    );
    assert!(
        run.stdout.contains("mean [0.4914, 0.4822, 0.4465]"),
        "{run}"
    );
    assert!(run.stdout.contains("airplane, automobile"), "{run}");

    let grid = dir.path().join("grid.png");
    let run = zoo_with_env(
        &[
            "data",
            "conv1d-classifier",
            "--preview",
            grid.to_str().unwrap(),
        ],
        &[],
    )
    .success();
    assert!(run.stdout.contains("train     800 items   0: 1"), "{run}");
    assert!(run.stdout.contains("channel mean (train)"), "{run}");
    let png = std::fs::read(&grid).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG file");
}

#[test]
fn zoo_data_without_cifar_files_says_where_to_put_them() {
    let dir = tempfile::tempdir().unwrap();
    let run = zoo_with_env(
        &[
            "data",
            "cifar-inception",
            "--set",
            "data.url=\"http://127.0.0.1:9/cifar-10-binary.tar.gz\"",
        ],
        &[("ZOO_DATA_DIR", dir.path().to_str().unwrap())],
    )
    .failure();
    assert!(
        run.stderr.contains("cifar-10-batches-bin/data_batch_1.bin"),
        "{run}"
    );
    assert!(run.stderr.contains("ZOO_DATA_DIR"), "{run}");
}

/// The first command on a machine without the data: `fashion-inception` pointed at an empty
/// directory stops before making a run directory, naming the package, the URLs and the
/// directory (CI's stand-in for "no data installed"; the download itself is tested in
/// zoo-data against a local server).
#[test]
fn fashion_inception_without_data_says_what_to_install_and_where() {
    let empty = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = format!("data.dir=\"{}\"", empty.path().display());
    let run = zoo_tests::zoo(&[
        "train",
        "fashion-inception",
        "--set",
        &dir,
        "--out",
        out.path().to_str().unwrap(),
    ])
    .failure();
    for text in [
        "apt-get install dataset-fashion-mnist",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz",
        &format!("download these four files into {}", empty.path().display()),
    ] {
        assert!(run.stderr.contains(text), "no `{text}` in\n{run}");
    }
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        0,
        "a run directory was made"
    );
}
