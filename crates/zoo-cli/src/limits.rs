//! Sizes from configs and flags checked against this machine's memory before anything is
//! allocated: an absurd `model.image_size` or `--batch` is an error that names the key and
//! the memory it would take, not an allocation failure that aborts the process.

/// This machine's memory in bytes (`MemTotal` of `/proc/meminfo`); `None` where unknown.
pub fn total_memory() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// Bytes as `12.3 GiB` / `4.5 MiB`.
pub fn human_bytes(bytes: f64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    if bytes >= GIB {
        format!("{:.1} GiB", bytes / GIB)
    } else {
        format!("{:.1} MiB", bytes / (1u64 << 20) as f64)
    }
}

/// Elements of one item of `shape`, as a float so that absurd sizes cannot overflow.
pub fn elements(shape: &[usize]) -> f64 {
    shape.iter().map(|&d| d as f64).product()
}

/// An error when `bytes` (what `what` takes, `key` the setting that decides it) is more than
/// `memory` bytes (this machine's, when known).
pub fn check_fits(key: &str, what: &str, bytes: f64, memory: Option<f64>) -> Result<(), String> {
    // Without /proc/meminfo, 1 TiB still catches the absurd sizes.
    let memory = memory.unwrap_or((1u64 << 40) as f64);
    if bytes > memory {
        return Err(format!(
            "{key}: {what} would take {} of memory, more than this machine's {}",
            human_bytes(bytes),
            human_bytes(memory)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_sizes_name_the_key_and_the_memory() {
        let giant = 4.0 * elements(&[1, 100_000_000, 100_000_000]);
        let message =
            check_fits("model.image_size", "one input item", giant, Some(1e9)).unwrap_err();
        assert!(message.starts_with("model.image_size: one input item would take"));
        assert!(message.contains("37252903.0 GiB"), "{message}");
        assert!(message.contains("953.7 MiB"), "{message}");
        assert_eq!(check_fits("x", "y", 1e6, Some(1e9)), Ok(()));
        assert!(elements(&[usize::MAX, usize::MAX]).is_finite());
    }
}
