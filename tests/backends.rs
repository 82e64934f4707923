//! Backends from the config: each kind maps to the right Burn device, and one small
//! computation (a convolution and a matmul) agrees across ndarray, flex and wgpu-cpu.

use std::path::Path;

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, DeviceKind, Tensor};
use zoo_cli::backend::{BackendConfig, BackendError, BackendKind, devices_for, open_device};
use zoo_tests::max_relative_error;

fn config(kind: BackendKind) -> BackendConfig {
    BackendConfig {
        kind,
        index: None,
        devices: Vec::new(),
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

/// Whether a Vulkan CPU driver (Mesa's lavapipe) is installed.
fn lavapipe_installed() -> bool {
    ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"]
        .iter()
        .any(|dir| {
            std::fs::read_dir(Path::new(dir))
                .map(|entries| {
                    entries
                        .flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with("lvp_icd"))
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
            "SKIPPED wgpu-cpu: no Vulkan CPU driver (lvp_icd*.json) on this machine; \
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
