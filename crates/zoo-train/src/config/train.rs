//! The `[train]` table: epochs, batch size (a count or "full"), seed, data-loading workers.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// How long and in what batches to train: the `[train]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Items per optimizer step, or `"full"`: the whole training split per step (full-batch
    /// gradient descent).
    pub batch_size: BatchSize,
    /// Seed of the weights' initialisation and of the data order.
    pub seed: u64,
    /// Data-loading threads that overlap batching with compute. 0 (the default) keeps a run
    /// repeatable: Burn's multi-threaded loader hands out its workers' batches in the order
    /// they finish, so with workers the batch order (and the run) depends on timing.
    pub num_workers: usize,
    /// What to do with an epoch's partial last training batch: `"keep"` it (every item every
    /// epoch), `"drop"` it (PyTorch's `drop_last=True`: one batch shape, which GPU backends
    /// otherwise autotune again for), or `"auto"`: drop on GPU backends, keep on CPU ones.
    /// Dropping also pads the last validation and test batches to the training batch size
    /// (padding rows are left out of every metric).
    pub last_batch: LastBatch,
    /// Stop when validation loss has not improved for this many epochs (absent: never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: BatchSize::Items(64),
            seed: 42,
            num_workers: 0,
            last_batch: LastBatch::Auto,
            early_stopping: None,
        }
    }
}

impl TrainConfig {
    /// Checks the values serde cannot: ranges.
    pub fn validate(&self) -> Result<(), Error> {
        if self.epochs == 0 {
            return Err(Error::Config(
                "train.epochs must be at least 1, got 0".to_string(),
            ));
        }
        if self.batch_size == BatchSize::Items(0) {
            return Err(Error::Config(
                "train.batch_size must be at least 1, got 0".to_string(),
            ));
        }
        if self.early_stopping == Some(0) {
            return Err(Error::Config(
                "train.early_stopping must be at least 1 epoch, got 0".to_string(),
            ));
        }
        Ok(())
    }
}

/// `train.last_batch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LastBatch {
    /// Drop on GPU backends, keep on CPU backends (resolved with [`LastBatch::resolve`]).
    Auto,
    /// Train on the smaller last batch.
    Keep,
    /// Skip the smaller last batch; the order is reshuffled every epoch, so the items skipped
    /// differ from epoch to epoch.
    Drop,
}

impl LastBatch {
    /// `Auto` made `Drop` for a GPU backend and `Keep` otherwise; the others unchanged.
    pub fn resolve(self, gpu: bool) -> Self {
        match self {
            LastBatch::Auto if gpu => LastBatch::Drop,
            LastBatch::Auto => LastBatch::Keep,
            chosen => chosen,
        }
    }

    /// Whether batches keep one shape: the partial training batch dropped, evaluation batches
    /// padded. `Auto` not yet resolved counts as `Keep`.
    pub fn fixed_shapes(self) -> bool {
        self == LastBatch::Drop
    }
}

/// `train.batch_size`: a number of items, or the whole training split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    /// This many items per step (the last batch of an epoch may be smaller).
    Items(usize),
    /// The whole training split in one step.
    Full,
}

impl BatchSize {
    /// Items per batch for a split of `items` items (at least 1, at most the split).
    pub fn items(self, items: usize) -> usize {
        match self {
            BatchSize::Items(n) => n.min(items).max(1),
            BatchSize::Full => items.max(1),
        }
    }
}

impl std::fmt::Display for BatchSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchSize::Items(n) => write!(f, "{n}"),
            BatchSize::Full => f.write_str("full"),
        }
    }
}

impl Serialize for BatchSize {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            BatchSize::Items(n) => serializer.serialize_u64(*n as u64),
            BatchSize::Full => serializer.serialize_str("full"),
        }
    }
}

impl<'de> Deserialize<'de> for BatchSize {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = BatchSize;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a positive number of items or \"full\"")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<BatchSize, E> {
                Ok(BatchSize::Items(n as usize))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<BatchSize, E> {
                usize::try_from(n)
                    .map(BatchSize::Items)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(n), &self))
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<BatchSize, E> {
                match text {
                    "full" => Ok(BatchSize::Full),
                    other => Err(E::invalid_value(serde::de::Unexpected::Str(other), &self)),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
