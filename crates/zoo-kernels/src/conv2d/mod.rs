//! A 2-D convolution (NCHW, one group) on plain `f32` slices, forward and backward, as im2col
//! and matrix products.
//!
//! Why: Burn's generic backward, which Flex uses, computes the weight gradient as a convolution
//! with batch and channels swapped (many skinny products) and the input gradient as a
//! transposed convolution, both slower than PyTorch's on the same CPU (the book, "Kernel measurements").
//!
//! One job per file: [`geometry`] (shapes, the layout chosen), `im2col` and `channels_last`
//! (the two ways to build the matrix), `scratch` (per-thread buffers, row blocks), `matmul`
//! (the product), [`forward`] and [`backward`] (the passes), `direct` (the forward pass of
//! valid stride-1 convolutions without im2col, AVX2 + FMA), `winograd` (3 × 3 stride-1
//! convolutions, all three passes, by Winograd's F(2 × 2, 3 × 3)).

mod backward;
mod channels_last;
mod direct;
mod forward;
pub mod geometry;
mod im2col;
mod matmul;
mod scratch;
#[cfg(test)]
mod tests;
mod winograd;

pub use backward::{bias_grad, input_grad, weight_grad};
pub(crate) use direct::enabled as direct_enabled;
pub use forward::{forward, forward_relu, forward_relu_pool};
pub use geometry::Conv2dGeometry;
