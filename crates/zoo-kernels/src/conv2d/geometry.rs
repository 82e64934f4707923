//! A 2-D convolution's shapes ([`Conv2dGeometry`]), the im2col [`Layout`] chosen for it, and
//! the window arithmetic ([`valid_range`]) the max pools share.

/// Shapes and options of one 2-D convolution. Padding is `(begin, end)` per spatial dimension,
/// as in Burn's `ConvOptions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dGeometry {
    pub batch: usize,
    pub channels_in: usize,
    pub channels_out: usize,
    pub input: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [(usize, usize); 2],
    pub dilation: [usize; 2],
}

impl Conv2dGeometry {
    /// A "valid" convolution (no padding, stride and dilation 1): Keras' default, and the
    /// shape of most examples and tests.
    pub fn valid(
        batch: usize,
        channels_in: usize,
        channels_out: usize,
        input: [usize; 2],
        kernel: [usize; 2],
    ) -> Self {
        Self {
            batch,
            channels_in,
            channels_out,
            input,
            kernel,
            stride: [1, 1],
            padding: [(0, 0), (0, 0)],
            dilation: [1, 1],
        }
    }

    /// Output height and width, as Burn and PyTorch compute them.
    pub fn output(&self) -> [usize; 2] {
        std::array::from_fn(|i| {
            let (begin, end) = self.padding[i];
            let span = self.dilation[i] * (self.kernel[i] - 1) + 1;
            (self.input[i] + begin + end).saturating_sub(span) / self.stride[i] + 1
        })
    }

    /// Whether these kernels compute this convolution: non-zero sizes, strides and dilations,
    /// and a window that fits the padded input (otherwise the caller uses Burn's, which reports
    /// what is wrong).
    pub fn is_supported(&self) -> bool {
        let sizes = [self.batch, self.channels_in, self.channels_out];
        sizes
            .iter()
            .chain(&self.kernel)
            .chain(&self.stride)
            .chain(&self.dilation)
            .all(|&v| v > 0)
            && (0..2).all(|i| {
                let (begin, end) = self.padding[i];
                self.input[i] + begin + end > self.dilation[i] * (self.kernel[i] - 1)
            })
    }

    /// Rows of the im2col matrix: `channels_in × kernel height × kernel width`.
    pub(crate) fn patch(&self) -> usize {
        self.channels_in * self.kernel[0] * self.kernel[1]
    }

    pub(crate) fn input_len(&self) -> usize {
        self.channels_in * self.input[0] * self.input[1]
    }

    pub(crate) fn output_len(&self) -> usize {
        let [oh, ow] = self.output();
        oh * ow
    }

    /// The threads of one matrix product: one, as the samples already run in parallel, unless
    /// there are fewer samples than threads (batch 1 at inference), then all of them.
    pub(crate) fn gemm_threads(&self) -> gemm::Parallelism {
        if self.batch < rayon::current_num_threads() {
            gemm::Parallelism::Rayon(0)
        } else {
            gemm::Parallelism::None
        }
    }

    /// The im2col layout for this convolution: channels-last wherever its runs (kernel width ×
    /// channels) are at least as long as the planar layout's lines (one output row), which is
    /// every convolution of cifar-inception but its first (3 channels) — when every thread has
    /// a sample of its own. With fewer samples than threads the GEMM runs on all threads but
    /// the sample's copies on one, and the channels-last copies (sample and weight transposes)
    /// cost more than they save (cifar-inception at batch 1 inferred slower channels-last;
    /// the book's "Kernel measurements" chapter, "Kernel design measurements").
    pub(crate) fn layout(&self) -> Layout {
        if self.is_pointwise() {
            Layout::Pointwise
        } else if self.channels_in * self.kernel[1] >= self.output()[1]
            && self.batch >= rayon::current_num_threads()
        {
            Layout::ChannelsLast
        } else {
            Layout::Planar
        }
    }

    /// A 1×1 convolution without stride or padding: the im2col matrix is the input itself.
    pub(crate) fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1]
            && self.stride == [1, 1]
            && self.padding == [(0, 0), (0, 0)]
            && self.output() == self.input
    }
}

/// How one sample's im2col matrix is laid out and built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// A 1×1 convolution without stride or padding: the matrix is the sample itself,
    /// `[channels_in, positions]`.
    Pointwise,
    /// `[patch, positions]` from the planar (NCHW) sample, whose rows a column stride first
    /// reorders ([`split_columns`]).
    Planar,
    /// `[positions, patch]` with the patch ordered (kernel row, kernel column, channel), from a
    /// channels-last copy of the sample ([`crate::channels_last`]).
    ChannelsLast,
}

/// Input positions read by output positions `0..out` for kernel offset `k`: the first and last
/// (exclusive) output index whose input index `o * stride + k * dilation - pad` is in `0..len`.
pub(crate) fn valid_range(
    out: usize,
    len: usize,
    k: usize,
    stride: usize,
    dilation: usize,
    pad: usize,
) -> (usize, usize) {
    let offset = (k * dilation) as isize - pad as isize;
    // first o with o*stride + offset >= 0
    let first = if offset >= 0 {
        0
    } else {
        ((-offset) as usize).div_ceil(stride)
    };
    // last o with o*stride + offset <= len - 1
    let end = if (len as isize) <= offset {
        0
    } else {
        (((len as isize - 1 - offset) as usize) / stride + 1).min(out)
    };
    (first.min(end), end)
}
