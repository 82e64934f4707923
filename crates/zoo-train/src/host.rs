//! Reads of training tensors back to the host. A read waits for the device (on a GPU, for
//! every queued kernel), so the training loop reads once per step, through [`read`]: one
//! `Transaction` for everything a step's metrics need, counted so that a test holds the step
//! to that one read ([`reads`]).

use std::sync::atomic::{AtomicUsize, Ordering};

use burn::tensor::{Device, ExecutionError, TensorData, Transaction};

static READS: AtomicUsize = AtomicUsize::new(0);

/// Reads every tensor registered in `transaction` in one transfer (in registration order).
pub fn read(transaction: Transaction) -> Result<Vec<TensorData>, ExecutionError> {
    READS.fetch_add(1, Ordering::Relaxed);
    transaction.try_execute()
}

/// Calls of [`read`] in this process so far.
pub fn reads() -> usize {
    READS.load(Ordering::Relaxed)
}

/// Where values read back live for the metrics: Flex, Burn's CPU backend, which every build
/// with burn-train has. Metrics computed on it never touch the training device.
pub fn host_device() -> Device {
    Device::flex()
}
