//! Backends from the config: each kind maps to the right Burn device, one small computation
//! (a convolution and a matmul) agrees across ndarray, flex and wgpu-cpu, and the optimizers
//! the config builds step as Burn's own do on the CPU backends our kernels serve.

use std::path::Path;

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, DeviceKind, Tensor};
use zoo_cli::backend::{BackendConfig, BackendError, BackendKind, devices_for, open_device};
use zoo_tests::max_relative_error;

fn config(kind: BackendKind) -> BackendConfig {
    BackendConfig {
        kind,
        ..BackendConfig::default()
    }
}

#[test]
fn each_kind_maps_to_the_right_device() {
    #[allow(deprecated)]
    let ndarray = Device::ndarray();
    assert_eq!(devices_for(BackendKind::Ndarray, None).unwrap(), [ndarray]);
    assert_eq!(
        devices_for(BackendKind::Flex, None).unwrap(),
        [Device::flex()]
    );
    assert_eq!(
        devices_for(BackendKind::WgpuCpu, None).unwrap(),
        [Device::wgpu(DeviceKind::Cpu)]
    );
    assert_eq!(
        devices_for(BackendKind::Wgpu, Some(1)).unwrap(),
        [Device::wgpu(DeviceKind::DiscreteGpu(1))]
    );
    assert_eq!(
        devices_for(BackendKind::Wgpu, None).unwrap(),
        [
            Device::wgpu(DeviceKind::DiscreteGpu(0)),
            Device::wgpu(DeviceKind::IntegratedGpu(0))
        ]
    );
}

#[test]
fn compiled_out_kinds_name_their_cargo_feature() {
    for kind in [BackendKind::Vulkan, BackendKind::Cuda] {
        if kind.is_compiled() {
            println!("{kind} is compiled into this build; nothing to check");
            continue;
        }
        let error = open_device(&config(kind)).unwrap_err();
        assert!(matches!(error, BackendError::NotCompiled { .. }), "{error}");
        let message = error.to_string();
        assert!(
            message.contains(&format!("cargo feature `{}`", kind.cargo_feature())),
            "{message}"
        );
    }
}

#[test]
fn gpu_kind_without_adapter_is_an_error_with_suggestions() {
    match open_device(&config(BackendKind::Wgpu)) {
        Ok(device) => println!("this machine has a GPU for wgpu ({device:?}): nothing to check"),
        Err(error) => {
            let message = error.to_string();
            assert!(
                matches!(error, BackendError::Unavailable { .. }),
                "{message}"
            );
            assert!(message.contains("wgpu-cpu"), "{message}");
            assert!(message.contains("mesa-vulkan-drivers"), "{message}");
            assert!(message.contains("ndarray"), "{message}");
        }
    }
}

/// A 3×3 convolution of a 1×2×6×6 input, flattened, times a matrix: a few hundred numbers
/// through both kinds of kernel.
fn conv_then_matmul(device: &Device) -> Vec<f32> {
    let values = |n: usize, seed: usize| -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 31 + seed) % 17) as f32 / 17.0 - 0.5)
            .collect()
    };
    let input = Tensor::<1>::from_floats(values(72, 1).as_slice(), device).reshape([1, 2, 6, 6]);
    let weight = Tensor::<1>::from_floats(values(72, 2).as_slice(), device).reshape([4, 2, 3, 3]);
    let bias = Tensor::<1>::from_floats(values(4, 3).as_slice(), device);
    let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
    let features = conv2d(input, weight, Some(bias), options).reshape([4, 16]);
    let matrix = Tensor::<1>::from_floats(values(16 * 5, 4).as_slice(), device).reshape([16, 5]);
    features
        .matmul(matrix)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

/// Whether `Device::default()` opens in this process: it is a wgpu device (any adapter, a CPU
/// one included) in this build unless `BURN_DEVICE` names another backend. Opening a wgpu
/// device without an adapter panics in cubecl's device thread; `open_device` asks first.
fn default_device_opens() -> bool {
    std::env::var_os("BURN_DEVICE").is_some()
        || open_device(&config(BackendKind::WgpuCpu)).is_ok()
        || open_device(&config(BackendKind::Wgpu)).is_ok()
}

/// Whether Mesa's lavapipe is installed for this process's architecture: its manifest is
/// `lvp_icd.<arch>.json` (Debian, Fedora) or `lvp_icd.json`. Another architecture's manifest
/// (an x86-64 one seen by an aarch64 test under qemu-user) names a library this process cannot
/// load.
fn lavapipe_installed() -> bool {
    let ours = [
        format!("lvp_icd.{}.json", std::env::consts::ARCH),
        "lvp_icd.json".to_string(),
    ];
    ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"]
        .iter()
        .any(|dir| {
            std::fs::read_dir(Path::new(dir))
                .map(|entries| {
                    entries.flatten().any(|e| {
                        ours.iter()
                            .any(|name| e.file_name().to_string_lossy() == *name)
                    })
                })
                .unwrap_or(false)
        })
}

#[test]
fn conv_and_matmul_agree_on_ndarray_flex_and_wgpu_cpu() {
    let reference = conv_then_matmul(&open_device(&config(BackendKind::Flex)).unwrap());
    assert_eq!(reference.len(), 20);
    let ndarray = conv_then_matmul(&open_device(&config(BackendKind::Ndarray)).unwrap());
    assert!(
        max_relative_error(&ndarray, &reference) < 1e-5,
        "{ndarray:?} vs {reference:?}"
    );
    if !lavapipe_installed() {
        println!(
            "SKIPPED wgpu-cpu: no Vulkan CPU driver for this architecture (lvp_icd.<arch>.json) here; \
             install the Debian package mesa-vulkan-drivers"
        );
        return;
    }
    let device = open_device(&config(BackendKind::WgpuCpu)).expect("lavapipe is installed");
    let wgpu = conv_then_matmul(&device);
    assert!(
        max_relative_error(&wgpu, &reference) < 1e-5,
        "{wgpu:?} vs {reference:?}"
    );
}

/// A convolution and a dense layer: parameters of rank 1, 2 and 4, one of them larger than a
/// parallel chunk of the fused Adam step.
#[derive(burn::module::Module, Debug)]
struct TwoLayers {
    conv: burn::nn::conv::Conv2d,
    dense: burn::nn::Linear,
}

impl TwoLayers {
    fn new(device: &Device) -> Self {
        device.seed(11);
        Self {
            conv: burn::nn::conv::Conv2dConfig::new([3, 8], [3, 3]).init(device),
            dense: burn::nn::LinearConfig::new(8 * 4 * 4, 200).init(device),
        }
    }

    /// A loss that weighs each output differently (every gradient element distinct).
    fn loss(&self, step: usize, device: &Device) -> Tensor<1> {
        let x: Vec<f32> = (0..2 * 3 * 6 * 6)
            .map(|i| (((i * 37 + step * 11) % 29) as f32 / 29.0 - 0.4) * (1 + step) as f32)
            .collect();
        let x = Tensor::<1>::from_floats(x.as_slice(), device).reshape([2, 3, 6, 6]);
        let y = self
            .dense
            .forward(self.conv.forward(x).reshape([2, 8 * 4 * 4]));
        (y.clone() * y.ones_like().cumsum(1).sin()).sum()
    }
}

/// Every parameter value, in module order.
fn parameters(model: &TwoLayers) -> Vec<f32> {
    let mut values = Vec::new();
    for tensor in [
        model.conv.weight.val().into_data(),
        model.conv.bias.as_ref().unwrap().val().into_data(),
        model.dense.weight.val().into_data(),
        model.dense.bias.as_ref().unwrap().val().into_data(),
    ] {
        values.extend(tensor.try_to_vec::<f32>().unwrap());
    }
    values
}

/// `steps` optimizer steps from the same start; the parameters after each.
fn trajectory(
    device: &Device,
    mut optimizer: burn::optim::ModuleOptimizer,
    steps: std::ops::Range<usize>,
    mut model: TwoLayers,
) -> (Vec<Vec<f32>>, burn::optim::ModuleOptimizer, TwoLayers) {
    let mut after = Vec::new();
    for step in steps {
        let grads = model.loss(step, device).backward();
        let grads = burn::optim::GradientsParams::from_grads(grads, &model);
        model = optimizer.step(0.01, model, grads);
        after.push(parameters(&model));
    }
    (after, optimizer, model)
}

#[test]
fn fused_adam_steps_are_burns_bit_for_bit_on_flex_and_ndarray() {
    use burn::optim::decay::WeightDecayConfig;
    use burn::optim::{AdamConfig, AdamWConfig};
    use zoo_train::{OptimizerConfig, OptimizerKind, build_optimizer};
    let resumable = default_device_opens();
    for kind in [BackendKind::Flex, BackendKind::Ndarray] {
        let device = open_device(&config(kind)).unwrap().autodiff();
        for (optimizer, weight_decay) in [
            (OptimizerKind::Adam, 0.0),
            (OptimizerKind::Adam, 0.05),
            (OptimizerKind::Adamw, 0.05),
        ] {
            let config = OptimizerConfig {
                kind: optimizer,
                lr: 0.01,
                weight_decay,
                ..OptimizerConfig::default()
            };
            let burn = || match optimizer {
                OptimizerKind::Adam => AdamConfig::new()
                    .with_epsilon(1e-8)
                    .with_weight_decay(
                        (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay as f32)),
                    )
                    .init(),
                _ => AdamWConfig::new()
                    .with_epsilon(1e-8)
                    .with_weight_decay(weight_decay as f32)
                    .init(),
            };
            let what = format!("{kind:?}, {optimizer:?}, weight decay {weight_decay}");
            let before = zoo_kernels::kernel_calls();
            let (ours, ours_optimizer, ours_model) = trajectory(
                &device,
                build_optimizer(&config),
                0..3,
                TwoLayers::new(&device),
            );
            // Tests run in parallel threads: other tests' calls may add to the count.
            assert!(
                zoo_kernels::kernel_calls() > before,
                "{what}: not our kernels"
            );
            let (theirs, _, _) = trajectory(&device, burn(), 0..4, TwoLayers::new(&device));
            let start = parameters(&TwoLayers::new(&device));
            for (step, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                assert_ne!(a, &start, "{what}: step {step} changed nothing");
                let differs = a
                    .iter()
                    .zip(b)
                    .position(|(a, b)| a.to_bits() != b.to_bits());
                if let Some(i) = differs {
                    panic!("{what}: step {step}, value {i}: {} against {}", a[i], b[i]);
                }
            }
            // The state is Burn's own record: a checkpoint of ours resumes under Burn's.
            if !resumable {
                println!(
                    "SKIPPED {what}, resumed under Burn's Adam: Burn's load_record allocates \
                     on Device::default(), a wgpu device in this build, and no adapter opens \
                     here (`zoo` sets BURN_DEVICE to the CPU for that; BURN_DEVICE=flex runs it)"
                );
                continue;
            }
            let resumed = burn().load_record(ours_optimizer.to_record());
            let (next, _, _) = trajectory(&device, resumed, 3..4, ours_model);
            assert_eq!(next[0], theirs[3], "{what}: resumed under Burn's Adam");
        }
    }
}
