//! Each thread's reusable buffers (im2col blocks, sample copies, outputs before pooling) and
//! the blocking of a sample's output rows that sizes them.

use std::cell::Cell;
use std::ops::Range;

use crate::conv2d::geometry::{Conv2dGeometry, Layout};
use crate::conv2d::im2col::needs_sample_buffer;

thread_local! {
    /// Each thread's scratch space (im2col blocks, reordered inputs), kept between calls so that
    /// no call allocates or zeroes it again.
    pub(crate) static SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Each thread's buffer for one sample's convolution output before it is pooled
    /// ([`forward_relu_pool`]); taken and put back like [`SCRATCH`].
    pub(crate) static SAMPLE_OUTPUT: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
    /// Each thread's buffer for a channels-last block's product, `[positions, channels_out]`,
    /// before it is added transposed onto the output.
    pub(crate) static BLOCK_OUTPUT: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch space split into an im2col block and a sample-sized
/// buffer for [`sample_input`] (empty where the layout needs none); their contents are
/// whatever the last user left. Re-entrant: a nested call (rayon may run another of our tasks
/// on this thread while a GEMM waits) finds the scratch taken and allocates its own.
pub(crate) fn with_scratch<R>(
    g: &Conv2dGeometry,
    layout: Layout,
    f: impl FnOnce(&mut [f32], &mut [f32]) -> R,
) -> R {
    with_group_scratch(g, layout, 1, f)
}

/// [`with_scratch`] with room for the im2col blocks of `samples` samples side by side (the
/// forward pass in groups of samples, `group_forward`).
pub(crate) fn with_group_scratch<R>(
    g: &Conv2dGeometry,
    layout: Layout,
    samples: usize,
    f: impl FnOnce(&mut [f32], &mut [f32]) -> R,
) -> R {
    let cols = if layout == Layout::Pointwise {
        0
    } else {
        samples * g.patch() * block_rows(g) * g.output()[1]
    };
    let split = if needs_sample_buffer(g, layout) {
        g.input_len()
    } else {
        0
    };
    let mut scratch = SCRATCH.take();
    if scratch.len() < cols + split {
        scratch = vec![0.0; cols + split];
    }
    let (a, b) = scratch.split_at_mut(cols);
    let result = f(a, &mut b[..split]);
    SCRATCH.set(scratch);
    result
}

/// Output rows per im2col block: the block (`patch × rows × ow` values) stays within about
/// 512 KiB, the size of one core's L2 cache here, instead of the whole sample's matrix (24 MB
/// for binary-cnn's second convolution) going through memory twice.
pub(crate) fn block_rows(g: &Conv2dGeometry) -> usize {
    const BLOCK_VALUES: usize = 128 * 1024;
    let [oh, ow] = g.output();
    (BLOCK_VALUES / (g.patch() * ow).max(1)).clamp(1, oh.max(1))
}

/// The output-row blocks of one sample.
pub(crate) fn blocks(g: &Conv2dGeometry) -> impl Iterator<Item = Range<usize>> {
    let [oh, _] = g.output();
    let step = block_rows(g);
    (0..oh)
        .step_by(step)
        .map(move |start| start..(start + step).min(oh))
}
