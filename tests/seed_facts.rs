//! The homework's numbers, asserted exactly, and every registered model checked on both CPU
//! backends (timm-style: a new `ModelKind` is tested the moment it is registered).

use burn::tensor::{Device, Distribution, Tensor, TensorData};
use cifar_inception::{CifarInceptionConfig, InceptionConfig};
use conv_gap::{ConvGap, homework};
use zoo_cli::registry::ModelKind;
use zoo_tests::{cpu_devices, max_relative_error};

fn flex() -> Device {
    Device::flex()
}

fn model(name: &str) -> ModelKind {
    ModelKind::by_name(name).unwrap_or_else(|| panic!("`{name}` is registered"))
}

/// (output shape channels last, params) of each summary row at depth 0.
fn table(name: &str) -> Vec<(String, usize)> {
    let summary = model(name).summarize(&flex(), 1).unwrap();
    summary
        .rows
        .iter()
        .filter(|row| row.depth() == 0)
        .map(|row| (row.shape_text(true), row.params))
        .collect()
}

#[test]
fn q2_conv_gap_forward_and_gradients_are_the_hand_derived_values() {
    for (backend, device) in cpu_devices() {
        let device = device.autodiff();
        let model = ConvGap::from_filter(homework::F, &device);
        let x = Tensor::<2>::from_floats(homework::X, &device)
            .reshape([1, 1, 3, 3])
            .require_grad();
        let o = model.feature_map(x.clone());
        assert_eq!(
            o.into_data().try_to_vec::<f32>().unwrap(),
            [1.0, 2.0, -10.0, 8.0],
            "O on {backend}"
        );
        let g = model.forward(x.clone());
        assert_eq!(
            g.to_data().try_to_vec::<f32>().unwrap(),
            [0.25],
            "G on {backend}"
        );
        let grads = g.sum().backward();
        let dl_dx = x
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(
            dl_dx,
            [0.5, 0.5, 0.0, -0.25, 0.0, 0.25, -0.75, -0.5, 0.25],
            "dL/dX on {backend}"
        );
        let dl_df = model.conv.weight.val().grad(&grads).unwrap();
        assert_eq!(
            dl_df.into_data().try_to_vec::<f32>().unwrap(),
            [2.5, 1.75, 1.25, -1.0],
            "dL/dF on {backend}"
        );
    }
}

#[test]
fn q2_global_gradient_norm_is_the_norm_of_dl_df() {
    // The model's only parameter is F: the global norm is ‖dL/dF‖ = √(2.5² + 1.75² + 1.25² + 1²).
    let device = flex().autodiff();
    let model = ConvGap::from_filter(homework::F, &device);
    let x = Tensor::<2>::from_floats(homework::X, &device).reshape([1, 1, 3, 3]);
    let grads = model.forward(x).sum().backward();
    let grads = burn::optim::GradientsParams::from_grads(grads, &model);
    let norm = zoo_train::global_grad_norm(&model, &grads);
    assert!((norm - 11.875f64.sqrt()).abs() < 1e-6, "{norm}");
}

#[test]
fn q2_grad_example_agrees_on_flex() {
    let comparisons = zoo_cli::grad_example::run(&flex());
    assert_eq!(comparisons.len(), 4);
    for comparison in comparisons {
        assert!(comparison.agrees(), "{comparison:?}");
        assert_eq!(comparison.max_error(), 0.0, "{comparison:?}");
    }
}

#[test]
fn q3_conv1d_classifier_summary_is_the_homework_table_row_by_row() {
    let expected = [
        ("(None, 498, 16)", 352),
        ("(None, 249, 16)", 0),
        ("(None, 245, 32)", 2592),
        ("(None, 122, 32)", 0),
        ("(None, 118, 64)", 10304),
        ("(None, 59, 64)", 0),
        ("(None, 3776)", 0),
        ("(None, 128)", 483456),
        ("(None, 5)", 645),
    ];
    let expected: Vec<(String, usize)> = expected
        .iter()
        .map(|(shape, params)| (shape.to_string(), *params))
        .collect();
    assert_eq!(table("conv1d-classifier"), expected);
    let summary = model("conv1d-classifier").summarize(&flex(), 1).unwrap();
    assert_eq!(summary.total_params, 497_349);
    assert_eq!(summary.trainable_params, 497_349);
}

#[test]
fn q4_binary_cnn_has_1_492_225_parameters_and_flattens_21_632() {
    let summary = model("binary-cnn").summarize(&flex(), 1).unwrap();
    assert_eq!(summary.total_params, 1_492_225);
    assert_eq!(summary.traced_params(), 1_492_225);
    let flatten = summary
        .rows
        .iter()
        .find(|row| row.path == "flatten")
        .unwrap();
    assert_eq!(flatten.output_shape, [1, 21_632]);
    let last = summary.rows.last().unwrap();
    assert_eq!(last.output_shape, [1, 1], "one logit");
}

#[test]
fn q4_predict_proba_is_the_sigmoid_of_the_logit() {
    let device = flex();
    let model = binary_cnn::BinaryCnnConfig::homework().init(&device);
    let images = Tensor::<4>::random([2, 1, 256, 256], Distribution::Uniform(0.0, 255.0), &device);
    let logits = model
        .forward(images.clone())
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let proba = model
        .predict_proba(images)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let sigmoid: Vec<f32> = logits.iter().map(|z| 1.0 / (1.0 + (-z).exp())).collect();
    assert!(
        max_relative_error(&proba, &sigmoid) < 1e-5,
        "{proba:?} vs {sigmoid:?}"
    );
}

#[test]
fn q6_pointwise_conv_keeps_28x28_and_has_2_080_parameters() {
    let summary = model("pointwise-conv").summarize(&flex(), 1).unwrap();
    assert_eq!(summary.total_params, 2_080);
    assert_eq!(summary.rows[0].output_shape, [1, 32, 28, 28]);
    assert_eq!(summary.rows[0].shape_text(true), "(None, 28, 28, 32)");
}

#[test]
fn q7_cifar_inception_has_787_642_parameters_and_256_inception_channels() {
    let summary = model("cifar-inception").summarize(&flex(), 1).unwrap();
    assert_eq!(summary.total_params, 787_642);
    assert_eq!(summary.traced_params(), 787_642);
    let shape = |path: &str| {
        summary
            .rows
            .iter()
            .find(|row| row.path == path)
            .unwrap_or_else(|| panic!("row {path}"))
            .output_shape
            .clone()
    };
    assert_eq!(shape("conv1"), [1, 32, 30, 30]);
    assert_eq!(shape("conv2"), [1, 64, 28, 28]);
    assert_eq!(shape("pool"), [1, 64, 14, 14]);
    assert_eq!(shape("inception"), [1, 256, 14, 14]);
    assert_eq!(shape("inception.branch3x3.reduce"), [1, 96, 14, 14]);
    assert_eq!(shape("inception.branch3x3"), [1, 128, 14, 14]);
    assert_eq!(shape("inception.branch_pool.pool"), [1, 64, 14, 14]);
    assert_eq!(shape("conv3"), [1, 128, 6, 6]);
    assert_eq!(shape("conv4"), [1, 256, 4, 4]);
    assert_eq!(shape("flatten"), [1, 4096]);
    assert_eq!(shape("output"), [1, 10]);
    let params = |path: &str| {
        summary
            .rows
            .iter()
            .find(|row| row.path == path)
            .unwrap()
            .params
    };
    assert_eq!(params("inception"), 137_072);
    assert_eq!(params("inception.branch3x3"), 116_960);
    assert_eq!(params("inception.branch5x5"), 13_872);
    assert_eq!(params("inception.branch_pool"), 2_080);
}

/// MACs per item of a summary row.
fn macs(summary: &zoo_cli::summary::Summary, path: &str) -> u64 {
    summary
        .rows
        .iter()
        .find(|row| row.path == path)
        .unwrap()
        .macs
}

fn cifar_inception(stem: [usize; 2], bottleneck: bool) -> zoo_cli::summary::Summary {
    ModelKind::CifarInception(CifarInceptionConfig {
        stem,
        inception: InceptionConfig {
            bottleneck,
            ..InceptionConfig::default()
        },
        ..CifarInceptionConfig::cifar10()
    })
    .summarize(&flex(), 1)
    .unwrap()
}

#[test]
fn q7_bottleneck_saves_on_the_5x5_branch_but_the_3x3_reduction_expands_64_to_96() {
    let with = cifar_inception([32, 64], true);
    let without = cifar_inception([32, 64], false);
    // The 1x1 reduction 64 -> 16 before the 5x5 conv saves 3.7x.
    assert_eq!(macs(&with, "inception.branch5x5"), 2_709_504);
    assert_eq!(macs(&without, "inception.branch5x5"), 10_035_200);
    // The "reduction" before the 3x3 conv widens 64 -> 96 channels, so it costs more.
    assert_eq!(macs(&with, "inception.branch3x3"), 22_880_256);
    assert_eq!(macs(&without, "inception.branch3x3"), 14_450_688);
    // With the homework's widths the two nearly cancel: dropping both is 2 % cheaper.
    assert_eq!(with.total_macs(), 57_398_656);
    assert_eq!(without.total_macs(), 56_294_784);
    assert_eq!(without.total_params, 781_898);
    let inception_shape = |s: &zoo_cli::summary::Summary| {
        s.rows
            .iter()
            .find(|row| row.path == "inception")
            .unwrap()
            .output_shape
            .clone()
    };
    assert_eq!(inception_shape(&without), inception_shape(&with));
}

#[test]
fn q7_bottleneck_saves_overall_when_the_module_input_is_wide() {
    // GoogLeNet's inception (3a) sees 192 channels: there the reductions pay off.
    let with = cifar_inception([32, 192], true);
    let without = cifar_inception([32, 192], false);
    assert_eq!(with.total_macs(), 91_518_336);
    assert_eq!(without.total_macs(), 136_576_384);
    assert!(without.total_params > with.total_params);
}

#[test]
fn q7_same_architecture_serves_1x28x28() {
    let config = CifarInceptionConfig::fashion_mnist();
    let model = config.init(&flex());
    let images = Tensor::<4>::random([3, 1, 28, 28], Distribution::Default, &flex());
    assert_eq!(model.forward(images).dims(), [3, 10]);
    assert_eq!(config.flatten_size(), 256 * 3 * 3);
}

#[test]
fn every_model_gives_its_output_shape_and_the_same_values_on_flex_and_ndarray() {
    let [(_, flex), (_, ndarray)] = cpu_devices();
    for kind in ModelKind::all() {
        let on_flex = kind.init(&flex).unwrap();
        let summary = kind.summarize(&flex, 1).unwrap();
        let item_output = &summary.rows.last().unwrap().output_shape[1..];
        for batch in [1, 17] {
            let mut shape = vec![batch];
            shape.extend(kind.input_shape());
            let count = shape.iter().product::<usize>();
            // Deterministic inputs in [0, 1), so both backends see the same numbers.
            let values: Vec<f32> = (0..count)
                .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
                .collect();
            let input = TensorData::new(values, shape.clone());
            let out_flex = on_flex.forward_data(input.clone(), &flex).unwrap();
            let mut expected_shape = vec![batch];
            expected_shape.extend_from_slice(item_output);
            assert_eq!(
                out_flex.shape().to_vec(),
                expected_shape,
                "{} batch {batch}",
                kind.name()
            );

            let moved = on_flex.clone().to_device(&ndarray);
            let out_ndarray = moved.forward_data(input, &ndarray).unwrap();
            let a = out_flex.try_to_vec::<f32>().unwrap();
            let b = out_ndarray.try_to_vec::<f32>().unwrap();
            let error = max_relative_error(&b, &a);
            assert!(
                error < 1e-4,
                "{} batch {batch}: relative error {error}",
                kind.name()
            );
        }
    }
}
