//! The one matrix product every convolution pass calls: the gemm crate's, through strides.

/// `dst (m×n) [+]= lhs (m×k) · rhs (k×n)`, the inputs given by (row stride, column stride), `dst`
/// by its row stride (columns contiguous), on `threads` (see [`Conv2dGeometry::gemm_threads`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_row_stride: usize,
    accumulate: bool,
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
    threads: gemm::Parallelism,
) {
    assert!(m == 0 || n == 0 || (m - 1) * dst_row_stride + n <= dst.len());
    let last = |(rs, cs): (usize, usize), rows: usize, cols: usize| {
        (rows.max(1) - 1) * rs + (cols.max(1) - 1) * cs
    };
    assert!(m == 0 || k == 0 || last(lhs_strides, m, k) < lhs.len());
    assert!(n == 0 || k == 0 || last(rhs_strides, k, n) < rhs.len());
    // SAFETY: the asserts above keep every index gemm computes from these strides and sizes
    // inside the three slices; `dst` does not alias the inputs (it is a distinct `&mut`).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_row_stride as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_strides.1 as isize,
            lhs_strides.0 as isize,
            rhs.as_ptr(),
            rhs_strides.1 as isize,
            rhs_strides.0 as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            threads,
        );
    }
}
