//! Sizes from configs and flags checked against this machine's memory before anything is
//! allocated: an absurd `model.image_size` or `--batch` is an error that names the key and
//! the memory it would take, not an allocation failure that aborts the process.

use burn::tensor::Device;

use crate::error::Error;
use crate::registry::ModelKind;

/// The memory zoo may use, in bytes: the smallest of `ZOO_MEMORY_LIMIT` (bytes, or with a
/// `KiB`/`MiB`/`GiB` suffix), the cgroup's limit (a container's `memory.max`), and
/// `MemTotal` of `/proc/meminfo`; `None` where none is known.
pub fn total_memory() -> Option<f64> {
    let from_env = std::env::var("ZOO_MEMORY_LIMIT")
        .ok()
        .and_then(|text| parse_bytes(&text));
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|path| std::fs::read_to_string(path).ok())
    .filter_map(|text| text.trim().parse::<f64>().ok())
    .find(|&bytes| bytes < 1e18); // "max" or a huge number: no limit
    let meminfo = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
            let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024.0)
        });
    [from_env, cgroup, meminfo]
        .into_iter()
        .flatten()
        .reduce(f64::min)
}

/// `4096`, `512MiB`, `2 GiB` → bytes.
fn parse_bytes(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => (&text[..at], text[at..].trim()),
        None => (text, ""),
    };
    let scale = match unit {
        "" | "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n > 0.0)
        .map(|n| n * scale)
}

/// Elements of one item of `shape`, as a float so that absurd sizes cannot overflow.
pub fn elements(shape: &[usize]) -> f64 {
    shape.iter().map(|&d| d as f64).product()
}

/// An error when `bytes` (what `what` takes, `key` the setting that decides it) is more than
/// `memory` bytes (this machine's, when known).
pub fn check_fits(key: &str, what: &str, bytes: f64, memory: Option<f64>) -> Result<(), Error> {
    // Without /proc/meminfo, 1 TiB still catches the absurd sizes.
    let memory = memory.unwrap_or((1u64 << 40) as f64);
    if bytes > memory {
        return Err(Error::TooLarge {
            key: key.to_string(),
            what: what.to_string(),
            needed: bytes,
            available: memory,
        });
    }
    Ok(())
}

/// Bytes one item takes in a training step, estimated: every layer's output (leaf layers of
/// the summary) kept for the backward pass and its gradient, 4 bytes each. Measured by a real
/// forward pass at a small input (spatial sides at most 64) and scaled by the area (or
/// length) ratio, since a convolutional network's activations grow with its input; `None` when
/// the model cannot be probed at a smaller size.
pub fn training_bytes_per_item(model: &ModelKind, device: &Device) -> Option<f64> {
    let shape = model.input_shape();
    let probe: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if i == 0 { d } else { d.min(64) })
        .collect();
    let ratio = elements(&shape[1..]) / elements(&probe[1..]);
    let small = if probe == shape {
        model.clone()
    } else {
        model.with_input_shape(&probe).ok()?
    };
    let summary = small.summarize(device, 1).ok()?;
    let rows = &summary.rows;
    let leaves: f64 = rows
        .iter()
        .enumerate()
        .filter(|(i, row)| {
            rows.get(i + 1)
                .is_none_or(|next| !next.path.starts_with(&format!("{}.", row.path)))
        })
        .map(|(_, row)| elements(&row.output_shape))
        .sum();
    Some((leaves + elements(&shape)) * 4.0 * 2.0 * ratio)
}

/// An error when `batch` items of `model` would not fit in this machine's memory in a
/// training step (CPU backends; a GPU's memory is its own).
pub fn check_training_fits(
    model: &ModelKind,
    batch: usize,
    key: &str,
    device: &Device,
) -> Result<(), Error> {
    let Some(per_item) = training_bytes_per_item(model, device) else {
        return Ok(());
    };
    check_fits(
        key,
        &format!(
            "a training step on {batch} item(s) of shape {:?} (layer outputs and their \
             gradients, estimated)",
            model.input_shape()
        ),
        per_item * batch as f64,
        total_memory(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_sizes_name_the_key_and_the_memory() {
        let giant = 4.0 * elements(&[1, 100_000_000, 100_000_000]);
        let message = check_fits("model.image_size", "one input item", giant, Some(1e9))
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("model.image_size: one input item would take"));
        assert!(message.contains("37252903.0 GiB"), "{message}");
        assert!(message.contains("953.7 MiB"), "{message}");
        assert!(check_fits("x", "y", 1e6, Some(1e9)).is_ok());
        assert!(elements(&[usize::MAX, usize::MAX]).is_finite());
    }

    #[test]
    fn memory_limits_parse_with_units() {
        assert_eq!(parse_bytes("4096"), Some(4096.0));
        assert_eq!(parse_bytes("2 GiB"), Some(2.0 * 1024.0 * 1024.0 * 1024.0));
        assert_eq!(parse_bytes("512MiB"), Some(512.0 * 1024.0 * 1024.0));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("-1"), None);
        assert_eq!(parse_bytes("3 TB"), None);
    }
}
