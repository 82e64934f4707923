//! Slice operations for the short runs im2col copies (4–64 values): whole-vector chunks and
//! no call to `memcpy`/`memset`, whose per-call cost exceeds the work at these lengths; a
//! lane-wise sum; and the in-place ReLU the fused layers share.

/// `dst = src` for short slices: whole 8-value chunks, then the tail, with no call to `memcpy`
/// (whose per-call cost exceeds the copy at these lengths).
#[inline(always)]
pub(crate) fn copy_short(dst: &mut [f32], src: &[f32]) {
    let len = dst.len();
    let src = &src[..len];
    if len >= 8 {
        for (d, s) in dst.chunks_exact_mut(8).zip(src.chunks_exact(8)) {
            let s: &[f32; 8] = s.try_into().expect("chunk of 8");
            d.copy_from_slice(s);
        }
        // the last 8 again (overlapping), instead of a loop over the tail
        let (d, s) = (&mut dst[len - 8..], &src[len - 8..]);
        let s: &[f32; 8] = s.try_into().expect("chunk of 8");
        d.copy_from_slice(s);
    } else if len >= 4 {
        // the first 4 and the last 4 (overlapping when len < 8)
        let (head, tail): (&[f32; 4], &[f32; 4]) = (
            src[..4].try_into().expect("4 values"),
            src[len - 4..].try_into().expect("4 values"),
        );
        dst[..4].copy_from_slice(head);
        dst[len - 4..].copy_from_slice(tail);
    } else {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
    }
}

/// `dst = 0` for short slices, without a call to `memset`.
#[inline(always)]
pub(crate) fn zero_short(dst: &mut [f32]) {
    const ZEROS: [f32; 64] = [0.0; 64];
    match ZEROS.get(..dst.len()) {
        Some(zeros) => copy_short(dst, zeros),
        None => dst.fill(0.0),
    }
}

/// `dst += src` for short slices: chunks of 8 and 4 as whole vectors, then at most 3 values.
#[inline(always)]
pub(crate) fn add_short(dst: &mut [f32], src: &[f32]) {
    fn add<const N: usize>(dst: &mut [f32], src: &[f32]) -> usize {
        let mut done = 0;
        for (d, s) in dst.chunks_exact_mut(N).zip(src.chunks_exact(N)) {
            let d: &mut [f32; N] = d.try_into().expect("chunk of N");
            let s: &[f32; N] = s.try_into().expect("chunk of N");
            for i in 0..N {
                d[i] += s[i];
            }
            done += N;
        }
        done
    }
    let src = &src[..dst.len()];
    let at = add::<8>(dst, src);
    let at = at + add::<4>(&mut dst[at..], &src[at..]);
    for (d, s) in dst[at..].iter_mut().zip(&src[at..]) {
        *d += s;
    }
}

/// A slice's sum in eight lanes (vectorised, and closer to exact than one running sum).
pub(crate) fn sum(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = values.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f32>() + rest
}

/// ReLU in place, as Flex's: a positive value or NaN stays, anything else becomes 0.
pub(crate) fn relu_in_place(values: &mut [f32]) {
    for v in values.iter_mut() {
        *v = if v.is_nan() || *v > 0.0 { *v } else { 0.0 };
    }
}
