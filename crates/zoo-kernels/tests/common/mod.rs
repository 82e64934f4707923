//! What the test files share: the backends our kernels serve, and a comparison with a tolerance
//! (the sums run in another order than Burn's, and in another again on AVX-512 than on AVX2).

use burn::tensor::{Device, Tensor};

/// The plain devices of the backends our kernels serve, by name (`.autodiff()` for gradients).
pub fn devices() -> [(&'static str, Device); 2] {
    #[allow(deprecated)] // burn-ndarray is deprecated upstream; burn-zoo still offers it
    let ndarray = Device::ndarray();
    [("flex", Device::flex()), ("ndarray", ndarray)]
}

/// `|got - want| <= tolerance * (1 + |want|)` elementwise, with the shapes equal.
pub fn assert_close<const D: usize>(name: &str, got: Tensor<D>, want: Tensor<D>, tolerance: f32) {
    assert_eq!(got.dims(), want.dims(), "{name}: shape");
    let got = got.into_data().try_to_vec::<f32>().unwrap();
    let want = want.into_data().try_to_vec::<f32>().unwrap();
    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
        assert!(
            (a - b).abs() <= tolerance * (1.0 + b.abs()),
            "{name}[{i}]: {a} vs {b}"
        );
    }
}
