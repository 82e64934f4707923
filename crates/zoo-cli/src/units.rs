//! Sizes as people read them, for messages.

/// Bytes as `12.3 GiB` / `4.5 MiB`.
pub fn human_bytes(bytes: f64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    if bytes >= GIB {
        format!("{:.1} GiB", bytes / GIB)
    } else {
        format!("{:.1} MiB", bytes / (1u64 << 20) as f64)
    }
}
