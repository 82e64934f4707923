//! Gradient norms and clipping across the whole model.
//!
//! Burn's `GradientClippingConfig::Norm` clips each parameter tensor on its own; the homework's
//! advice (and PyTorch's `clip_grad_norm_`) is about the *global* norm: the L2 norm of all
//! gradients as one vector. It is also what the divergence guard and the gradient-norm metric
//! report.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// Sums the squares of every parameter gradient of a module (as one tensor, one sync at the end).
struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            let squares = grad.square().sum();
            self.total = Some(match self.total.take() {
                Some(total) => total + squares,
                None => squares,
            });
        }
    }
}

/// The squared global L2 norm of `grads` over the parameters of `module`, as a `[1]` tensor
/// that stays on the device (no sync): `None` when no parameter has a gradient.
pub fn squared_grad_norm<M: Module>(module: &M, grads: &GradientsParams) -> Option<Tensor<1>> {
    let mut visitor = SquaredNorm { grads, total: None };
    module.visit(&mut visitor);
    visitor.total
}

/// The global L2 norm of `grads` over the parameters of `module` (0 when there are none).
pub fn global_grad_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    squared_grad_norm(module, grads).map_or(0.0, |total| (total.into_scalar::<f32>() as f64).sqrt())
}

/// Multiplies every gradient of `module` by a `[1]` tensor, broadcast to its rank.
struct ScaleBy<'a> {
    grads: &'a mut GradientsParams,
    scale: Tensor<1>,
}

impl ModuleVisitor for ScaleBy<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            let scale: Tensor<D> = self.scale.clone().reshape([1; D]);
            self.grads.register(param.id, grad * scale);
        }
    }
}

/// [`clip_global_norm`] without reading the norm back to the host: the scale
/// `min(1, max_norm / (norm + 1e-6))` is computed on the device from `squared`
/// ([`squared_grad_norm`]), so a GPU step does not wait on a sync.
pub fn scale_to_global_norm<M: Module>(
    module: &M,
    mut grads: GradientsParams,
    squared: Tensor<1>,
    max_norm: f64,
) -> GradientsParams {
    let scale = squared
        .sqrt()
        .add_scalar(1e-6)
        .recip()
        .mul_scalar(max_norm)
        .clamp_max(1.0);
    module.visit(&mut ScaleBy {
        grads: &mut grads,
        scale,
    });
    grads
}

/// Clips `grads` so that their global norm is at most `max_norm`, as PyTorch's
/// `clip_grad_norm_`: every gradient is scaled by `max_norm / (norm + 1e-6)` when the norm
/// exceeds `max_norm`. Returns the gradients and the norm *before* clipping (read back to the
/// host; the train step uses [`scale_to_global_norm`], which does not).
pub fn clip_global_norm<M: Module>(
    module: &M,
    grads: GradientsParams,
    max_norm: f64,
) -> (GradientsParams, f64) {
    let Some(squared) = squared_grad_norm(module, &grads) else {
        return (grads, 0.0);
    };
    let norm = (squared.clone().into_scalar::<f32>() as f64).sqrt();
    if norm <= max_norm {
        return (grads, norm);
    }
    (scale_to_global_norm(module, grads, squared, max_norm), norm)
}

/// Clamps every gradient element of `module` to `[-threshold, threshold]`.
struct ClampValues<'a> {
    grads: &'a mut GradientsParams,
    threshold: f32,
}

impl ModuleVisitor for ClampValues<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            self.grads
                .register(param.id, grad.clamp(-self.threshold, self.threshold));
        }
    }
}

/// Clips every gradient element to `[-threshold, threshold]` (clipping by value).
pub fn clip_by_value<M: Module>(
    module: &M,
    mut grads: GradientsParams,
    threshold: f64,
) -> GradientsParams {
    module.visit(&mut ClampValues {
        grads: &mut grads,
        threshold: threshold as f32,
    });
    grads
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::{Device, Tensor};

    use super::*;

    /// A 2 → 1 linear layer with weight [1, 1] and bias 0; the gradient of the output summed
    /// for the input [3, 4] is dL/dW = [3, 4], dL/db = 1: global norm √26.
    fn linear_and_grads() -> (Linear, GradientsParams) {
        let device = Device::flex().autodiff();
        let mut linear = LinearConfig::new(2, 1).init(&device);
        linear.weight = Param::from_tensor(Tensor::<2>::ones([2, 1], &device));
        linear.bias = Some(Param::from_tensor(Tensor::<1>::zeros([1], &device)));
        let x = Tensor::<2>::from_floats([[3.0, 4.0]], &device);
        let grads = linear.forward(x).sum().backward();
        let grads = GradientsParams::from_grads(grads, &linear);
        (linear, grads)
    }

    fn flat<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
        tensor.into_data().convert::<f32>().try_into_vec().unwrap()
    }

    fn values(linear: &Linear, grads: &GradientsParams) -> Vec<f32> {
        let mut out = flat(grads.get::<2>(linear.weight.id).unwrap());
        out.extend(flat(
            grads.get::<1>(linear.bias.as_ref().unwrap().id).unwrap(),
        ));
        out
    }

    #[test]
    fn global_norm_is_the_norm_of_all_gradients_as_one_vector() {
        let (linear, grads) = linear_and_grads();
        assert_eq!(values(&linear, &grads), [3.0, 4.0, 1.0]);
        let norm = global_grad_norm(&linear, &grads);
        assert!((norm - 26f64.sqrt()).abs() < 1e-6, "{norm}");
    }

    #[test]
    fn clipping_scales_every_gradient_by_the_same_factor() {
        let (linear, grads) = linear_and_grads();
        let (clipped, before) = clip_global_norm(&linear, grads, 1.0);
        assert!((before - 26f64.sqrt()).abs() < 1e-6);
        let after = global_grad_norm(&linear, &clipped);
        assert!((after - 1.0).abs() < 1e-5, "{after}");
        let v = values(&linear, &clipped);
        assert!(
            (v[0] / v[1] - 0.75).abs() < 1e-6 && (v[1] / v[2] - 4.0).abs() < 1e-5,
            "{v:?}"
        );
        // Below the threshold nothing changes.
        let (linear, grads) = linear_and_grads();
        let (unclipped, _) = clip_global_norm(&linear, grads, 10.0);
        assert_eq!(values(&linear, &unclipped), [3.0, 4.0, 1.0]);
    }

    #[test]
    fn device_side_scaling_matches_host_clipping() {
        let (linear, grads) = linear_and_grads();
        let squared = squared_grad_norm(&linear, &grads).unwrap();
        let clipped = scale_to_global_norm(&linear, grads, squared, 1.0);
        let (linear2, grads2) = linear_and_grads();
        let (host, _) = clip_global_norm(&linear2, grads2, 1.0);
        for (a, b) in values(&linear, &clipped)
            .iter()
            .zip(values(&linear2, &host))
        {
            assert!((a - b).abs() < 1e-6);
        }
        let (linear, grads) = linear_and_grads();
        let squared = squared_grad_norm(&linear, &grads).unwrap();
        let unclipped = scale_to_global_norm(&linear, grads, squared, 10.0);
        assert_eq!(values(&linear, &unclipped), [3.0, 4.0, 1.0]);
    }

    #[test]
    fn clipping_by_value_clamps_each_element() {
        let (linear, grads) = linear_and_grads();
        let clipped = clip_by_value(&linear, grads, 2.0);
        assert_eq!(values(&linear, &clipped), [2.0, 2.0, 1.0]);
    }
}
