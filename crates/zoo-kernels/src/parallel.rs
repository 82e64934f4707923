//! Output vectors filled in parallel chunks, each chunk initialised by the thread that then
//! computes it (no serial zeroing pass by the caller).

use std::mem::MaybeUninit;

use rayon::prelude::*;

/// A vector of `len` values computed in parallel chunks of `chunk` values: `f(index, chunk)`
/// receives each chunk filled with `value` (by its own thread, right before use, rather than
/// the whole vector by the caller's).
pub(crate) fn par_chunks_filled<T: Copy + Send + Sync>(
    len: usize,
    chunk: usize,
    value: T,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) -> Vec<T> {
    par_chunks_rows_filled(len, chunk, chunk, |_| value, f)
}

/// [`par_chunks_filled`] where each chunk is made of rows of `row` values and row `r` of a
/// chunk is filled with `value(r)`: a convolution's output starts as its bias, one channel per
/// row, in the same pass that would otherwise write zeros.
pub(crate) fn par_chunks_rows_filled<T: Copy + Send + Sync>(
    len: usize,
    chunk: usize,
    row: usize,
    value: impl Fn(usize) -> T + Sync + Send,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(len);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .for_each(|(i, values)| {
            for (r, values) in values.chunks_mut(row.max(1)).enumerate() {
                let v = value(r);
                for slot in values {
                    slot.write(v);
                }
            }
            // SAFETY: every value of the chunk was written just above, and `MaybeUninit<T>`
            // has the layout of `T`.
            let values = unsafe { &mut *(values as *mut [MaybeUninit<T>] as *mut [T]) };
            f(i, values);
        });
    // SAFETY: the chunks cover `0..len` of the capacity and each was written above (had `f`
    // panicked, the panic would have propagated before this line).
    unsafe { out.set_len(len) };
    out
}
