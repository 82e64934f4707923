//! Dropout masks drawn in parallel: each value `0` or `1 / (1 - p)`.
//!
//! Why: Burn's `Dropout` draws a Bernoulli tensor value by value on one thread (ChaCha), then
//! multiplies twice (mask, then scale); for binary-cnn's millions of activations per training
//! step that was a large share of the step on Flex (the book, "Kernel measurements"). Here the mask is drawn with SplitMix64 in
//! fixed-size chunks (one stream per chunk, so the values do not depend on the thread count)
//! with the scale folded in, and the caller multiplies once.

use rayon::prelude::*;

/// Values per chunk, each chunk its own random stream.
const CHUNK: usize = 1 << 15;

/// `len` values, each `1 / (1 - prob)` with probability `1 - prob` and `0` otherwise, from
/// `seed`. `prob` in `[0, 1)`.
pub fn mask(len: usize, prob: f64, seed: u64) -> Vec<f32> {
    assert!(
        (0.0..1.0).contains(&prob),
        "dropout probability {prob} not in [0, 1)"
    );
    let keep = 1.0 - prob;
    let scale = (1.0 / keep) as f32;
    // a value is kept when its 32 random bits are below keep × 2^32
    let threshold = (keep * 4_294_967_296.0).min(4_294_967_295.0) as u32;
    let mut values = vec![0.0f32; len];
    values
        .par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(chunk, values)| {
            let mut state = seed ^ (chunk as u64).wrapping_mul(0xA076_1D64_78BD_642F);
            let mut pairs = values.chunks_exact_mut(2);
            for pair in &mut pairs {
                let bits = split_mix(&mut state);
                pair[0] = if (bits as u32) < threshold {
                    scale
                } else {
                    0.0
                };
                pair[1] = if ((bits >> 32) as u32) < threshold {
                    scale
                } else {
                    0.0
                };
            }
            for value in pairs.into_remainder() {
                let bits = split_mix(&mut state) as u32;
                *value = if bits < threshold { scale } else { 0.0 };
            }
        });
    values
}

fn split_mix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_about_one_minus_p_scaled_by_its_inverse() {
        for prob in [0.0, 0.2, 0.5, 0.9] {
            let len = 200_001; // several chunks and an odd remainder
            let mask = super::mask(len, prob, 42);
            let scale = (1.0 / (1.0 - prob)) as f32;
            assert!(mask.iter().all(|&v| v == 0.0 || v == scale), "p {prob}");
            let kept = mask.iter().filter(|&&v| v != 0.0).count() as f64 / len as f64;
            // 200 k Bernoulli draws: the standard deviation of the share is below 0.0012
            assert!((kept - (1.0 - prob)).abs() < 0.006, "p {prob}: kept {kept}");
            // the mean is 1 (what dropout's scale is for)
            let mean = mask.iter().map(|&v| v as f64).sum::<f64>() / len as f64;
            assert!((mean - 1.0).abs() < 0.02, "p {prob}: mean {mean}");
        }
    }

    #[test]
    fn the_seed_decides_and_chunks_differ() {
        let (a, b) = (super::mask(70_000, 0.5, 1), super::mask(70_000, 0.5, 1));
        assert_eq!(a, b);
        assert_ne!(a, super::mask(70_000, 0.5, 2));
        // two chunks are not the same stream
        let chunk = super::CHUNK;
        assert_ne!(a[..1000], a[chunk..chunk + 1000]);
    }
}
