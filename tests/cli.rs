//! The `zoo` binary end to end, run as a user runs it: list, config, devices, summary,
//! grad-example, and the errors a user can provoke.

use zoo_tests::{Run, zoo, zoo_with_env};

#[test]
fn list_shows_every_model_and_experiment_with_its_parameter_count() {
    let run = zoo(&["list"]).success();
    for (name, params) in [
        ("conv-gap", "4 params"),
        ("conv1d-classifier", "497,349 params"),
        ("binary-cnn", "1,492,225 params"),
        ("pointwise-conv", "2,080 params"),
        ("cifar-inception", "787,642 params"),
    ] {
        let line = run
            .stdout
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{name} ")));
        let line = line.unwrap_or_else(|| panic!("no row for {name}:\n{run}"));
        assert!(line.contains(params), "{line}");
    }
    for experiment in [
        "cifar-inception-aug",
        "fashion-inception",
        "binary-cnn",
        "conv1d-classifier",
    ] {
        assert!(
            run.stdout.contains(experiment),
            "{experiment} missing:\n{run}"
        );
    }
    assert!(
        run.stdout.contains("[7, 500]"),
        "conv1d input shape:\n{run}"
    );
    assert!(
        run.stdout.contains("[1, 28, 28]"),
        "fashion-inception input shape:\n{run}"
    );
}

/// The crates under `models/`: each must be registered (a crate left out of the registry
/// would silently be missing from every command).
fn model_crates() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("Cargo.toml").is_file())
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn list_json_has_every_crate_under_models() {
    let run = zoo(&["list", "--json"]).success();
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let mut listed: Vec<String> = value["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|model| model["name"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, model_crates(), "models/ and `zoo list` differ");
    assert!(!value["experiments"].as_array().unwrap().is_empty());
}

/// Every registered classifier trains a step on a CPU backend (`zoo bench`, a batch of 2),
/// and every other model runs its summary: nothing registered is left untried.
#[test]
fn every_model_crate_runs_on_a_cpu_backend() {
    let run = zoo(&["list", "--json"]).success();
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    for model in value["models"].as_array().unwrap() {
        let name = model["name"].as_str().unwrap();
        let input: Vec<String> = model["input_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|dim| dim.to_string())
            .collect();
        if model["classes"].is_u64() {
            // The smallest input the architecture takes would be faster; its own is still
            // under a second per step here except binary-cnn's 256×256 (a few seconds).
            let bench = zoo(&[
                "bench",
                name,
                "--backend",
                "flex",
                "--batch",
                "2",
                "--steps",
                "1",
                "--warmup",
                "1",
                "--json",
            ])
            .success();
            let report: serde_json::Value = serde_json::from_str(&bench.stdout)
                .unwrap_or_else(|error| panic!("{name}: {error}\n{bench}"));
            let train = report["report"]["train"]["median"].as_f64();
            assert!(train.is_some_and(|v| v > 0.0), "{name}: {bench}");
        } else {
            let summary = zoo(&["summary", name, "--input", &input.join("x")]).success();
            assert!(summary.stdout.contains("Total params"), "{name}: {summary}");
        }
    }
}

#[test]
fn config_prints_the_resolved_config_with_overrides() {
    let run = zoo(&[
        "config",
        "cifar-inception",
        "--set",
        "train.epochs=1",
        "--backend",
        "ndarray",
    ])
    .success();
    let body: String = run
        .stdout
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let value: toml::Table = toml::from_str(&body).unwrap();
    assert_eq!(value["train"]["epochs"].as_integer(), Some(1));
    assert_eq!(value["backend"]["kind"].as_str(), Some("ndarray"));
    assert_eq!(value["model"]["kind"].as_str(), Some("cifar-inception"));
    assert_eq!(value["optimizer"]["lr"].as_float(), Some(1e-3));
}

#[test]
fn config_accepts_a_path_and_zoo_config_dir() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.toml");
    std::fs::write(
        &path,
        "[model]\nkind = \"pointwise-conv\"\nout_channels = 8\n",
    )
    .unwrap();
    let run = zoo(&["config", path.to_str().unwrap()]).success();
    assert!(run.stdout.contains("out_channels = 8"), "{run}");
    let run = zoo_with_env(
        &["config", "tiny"],
        &[("ZOO_CONFIG_DIR", dir.path().to_str().unwrap())],
    )
    .success();
    assert!(run.stdout.contains("out_channels = 8"), "{run}");
}

#[test]
fn unknown_experiment_suggests_the_closest_name() {
    let run = zoo(&["config", "cifar-incepton"]).failure();
    assert!(
        run.stderr.contains("did you mean `cifar-inception`"),
        "{run}"
    );
}

#[test]
fn bad_config_file_names_file_line_column_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[model]\nkind = \"conv-gap\"\n\n[train]\nepochz = 3\n",
    )
    .unwrap();
    let run = zoo(&["config", path.to_str().unwrap()]).failure();
    let expected = format!("{}:5:1 (key `train.epochz`)", path.display());
    assert!(run.stderr.contains(&expected), "{run}");
    assert!(run.stderr.contains("unknown field `epochz`"), "{run}");
}

#[test]
fn missing_config_file_is_an_error_naming_it() {
    let run = zoo(&["config", "no/such/file.toml"]).failure();
    assert!(run.stderr.contains("no/such/file.toml"), "{run}");
}

#[test]
fn bad_override_names_key_and_expected_type() {
    let run = zoo(&["config", "binary-cnn", "--set", "train.batch_size=lots"]).failure();
    assert!(run.stderr.contains("--set train.batch_size=lots"), "{run}");
    assert!(
        run.stderr
            .contains("expected a positive number of items or \"full\""),
        "{run}"
    );
}

#[test]
fn invalid_value_is_an_error_not_a_panic() {
    let run = zoo(&["config", "cifar-inception", "--set", "model.image_size=8"]).failure();
    assert!(
        run.stderr.contains("model.image_size = 8 is too small"),
        "{run}"
    );
}

#[test]
fn unknown_backend_lists_the_valid_ones() {
    let run = zoo(&["config", "binary-cnn", "--set", "backend.kind=tpu"]).failure();
    for kind in ["ndarray", "flex", "wgpu", "wgpu-cpu", "vulkan", "cuda"] {
        assert!(run.stderr.contains(kind), "{kind}: {run}");
    }
}

#[test]
fn devices_reports_every_backend_without_panicking() {
    let run: Run = zoo(&["devices"]).success();
    assert!(!run.stderr.contains("panicked"), "{run}");
    let row = |kind: &str| {
        run.stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(kind))
            .unwrap_or_else(|| panic!("no row for {kind}:\n{run}"))
            .to_string()
    };
    assert!(row("flex").contains(" yes "), "{run}");
    assert!(row("ndarray").contains(" yes "), "{run}");
    assert!(row("vulkan").contains("cargo feature `vulkan`"), "{run}");
    assert!(row("cuda").contains("cargo feature `cuda`"), "{run}");
    let wgpu = row("wgpu");
    assert!(
        wgpu.contains(" yes ") || wgpu.contains("no device"),
        "{wgpu}"
    );
}

#[test]
fn summary_prints_the_q3_table_keras_style() {
    let run = zoo(&["summary", "conv1d-classifier"]).success();
    for (shape, params) in [
        ("(None, 498, 16)", "352"),
        ("(None, 249, 16)", "0"),
        ("(None, 245, 32)", "2,592"),
        ("(None, 118, 64)", "10,304"),
        ("(None, 3776)", "0"),
        ("(None, 128)", "483,456"),
        ("(None, 5)", "645"),
    ] {
        let line = run.stdout.lines().find(|line| line.contains(shape));
        let line = line.unwrap_or_else(|| panic!("no row {shape}:\n{run}"));
        assert!(line.split_whitespace().any(|cell| cell == params), "{line}");
    }
    assert!(
        run.stdout.contains("Total params: 497,349 (1.90 MB)"),
        "{run}"
    );
    assert!(run.stdout.contains("Non-trainable params: 0"), "{run}");
}

#[test]
fn summary_shows_nested_inception_rows_and_both_bottleneck_settings() {
    let total_macs = |run: &Run| -> u64 {
        let line = run
            .stdout
            .lines()
            .find(|l| l.contains("Total MACs"))
            .unwrap();
        let per_item = line
            .split('(')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        per_item.replace(',', "").parse().unwrap()
    };
    let with = zoo(&["summary", "cifar-inception"]).success();
    assert!(with.stdout.contains("\ninception (Inception)"), "{with}");
    assert!(
        with.stdout.contains("\n  branch3x3 (Branch)"),
        "indented branch rows:\n{with}"
    );
    assert!(
        with.stdout.contains("\n    reduce (Conv2d+ReLU)"),
        "indented layer rows:\n{with}"
    );
    assert!(with.stdout.contains("Total params: 787,642"), "{with}");
    assert_eq!(total_macs(&with), 57_398_656);
    let without = zoo(&[
        "summary",
        "cifar-inception",
        "--set",
        "model.inception.bottleneck=false",
    ])
    .success();
    assert!(!without.stdout.contains("reduce"), "{without}");
    assert_eq!(total_macs(&without), 56_294_784);
    let wide = [
        "summary",
        "cifar-inception",
        "--set",
        "model.stem=[32, 192]",
    ];
    let wide_with = zoo(&wide).success();
    let wide_without =
        zoo(&[&wide[..], &["--set", "model.inception.bottleneck=false"]].concat()).success();
    assert!(total_macs(&wide_without) > total_macs(&wide_with));
}

#[test]
fn summary_input_and_channels_first_change_the_shapes() {
    let run = zoo(&[
        "summary",
        "cifar-inception",
        "--input",
        "1x28x28",
        "--channels-first",
    ])
    .success();
    assert!(run.stdout.contains("(None, 256, 3, 3)"), "{run}");
    assert!(run.stdout.contains("(None, 2304)"), "{run}");
    let run = zoo(&["summary", "fashion-inception"]).success();
    assert!(run.stdout.contains("(None, 3, 3, 256)"), "{run}");
    let run = zoo(&["summary", "cifar-inception", "--input", "3x32x16"]).failure();
    assert!(run.stderr.contains("square"), "{run}");
    let run = zoo(&["summary", "cifar-incepton"]).failure();
    assert!(
        run.stderr.contains("did you mean `cifar-inception`"),
        "{run}"
    );
}

#[test]
fn grad_example_prints_both_and_exits_zero() {
    let run = zoo(&["grad-example"]).success();
    assert!(run.stdout.contains("dL/dX"), "{run}");
    assert!(run.stdout.contains("[[2.5, 1.75], [1.25, -1]]"), "{run}");
    assert!(run.stdout.contains("all four agree"), "{run}");
}

#[test]
fn a_closed_pipe_ends_zoo_quietly() {
    // `zoo list | head -0`: the reader is gone before zoo prints its first line (zoo needs
    // milliseconds to start; the pipe's read end is closed at once).
    let mut child = std::process::Command::new(zoo_tests::zoo_bin())
        .args(["list"])
        .current_dir(zoo_tests::workspace_root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(output.status.code(), Some(101), "{stderr}");
}

/// docs/config.toml documents every key at its default: it must resolve to exactly what a
/// config that states nothing but the model resolves to (experiments state only differences).
#[test]
fn the_documented_config_is_the_defaults() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let documented = zoo(&["config", root.join("docs/config.toml").to_str().unwrap()]).success();
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("bare.toml");
    std::fs::write(&bare, "[model]\nkind = \"conv1d-classifier\"\n").unwrap();
    let defaults = zoo(&["config", bare.to_str().unwrap()]).success();
    let body = |text: &str| text.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&documented.stdout), body(&defaults.stdout));
}
