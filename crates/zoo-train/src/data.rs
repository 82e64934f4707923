//! zoo-data's splits as Burn data loaders with the experiment's batch size, seed and workers;
//! with `train.last_batch = "drop"`, one batch shape throughout ([`FixedShapes`]); without
//! workers, batches made one step ahead on a thread of their own ([`Prefetch`]).

use std::sync::Arc;

use burn::data::dataloader::{DataLoader, DataLoaderBuilder, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::tensor::Device;
use zoo_data::{
    Augmentation, ImageBatch, ImageBatcher, ImageSplits, SequenceBatch, SequenceBatcher,
    SequenceSplits,
};

use crate::config::{BatchSize, TrainConfig};
use crate::step::LabeledBatch;

/// Train, validation and test loaders of one batch type.
pub struct Loaders<B> {
    /// Shuffled every epoch (seeded), augmented when the data config asks.
    pub train: Arc<dyn DataLoader<B>>,
    /// In order, never augmented.
    pub valid: Arc<dyn DataLoader<B>>,
    /// In order, never augmented (may hold no items: image folders have no test split).
    pub test: Arc<dyn DataLoader<B>>,
    /// Items per split: (train, valid, test).
    pub sizes: (usize, usize, usize),
    /// Class names, index = label.
    pub classes: Vec<String>,
}

impl<B> Loaders<B> {
    /// Optimizer steps per epoch (`last_batch` as resolved: `Drop` leaves out the partial one).
    pub fn steps_per_epoch(&self, train: &TrainConfig) -> usize {
        let batch = train.batch_size.items(self.sizes.0);
        let steps = if train.last_batch.fixed_shapes() {
            self.sizes.0 / batch
        } else {
            self.sizes.0.div_ceil(batch)
        };
        steps.max(1)
    }
}

/// The batch size a loader uses: the configured one, capped by the split's size (a split
/// smaller than a batch is one batch). With fixed shapes, evaluation splits batch (and pad) to
/// the training batch size, except for full-batch training (each split is one batch then).
fn batch_size(train: &TrainConfig, items: usize, train_items: usize) -> usize {
    if train.last_batch.fixed_shapes() && train.batch_size != BatchSize::Full {
        train.batch_size.items(train_items)
    } else {
        train.batch_size.items(items)
    }
}

/// How a [`FixedShapes`] loader treats a batch smaller than `rows`.
#[derive(Debug, Clone, Copy)]
enum Short {
    /// Skip it (training: PyTorch's `drop_last`).
    Drop(usize),
    /// Repeat rows up to `rows` (evaluation: every item is scored, padding rows are not).
    Pad(usize),
}

/// A loader whose batches all have one number of rows, so that a GPU backend compiles and
/// autotunes its kernels for one shape instead of again for each partial last batch.
struct FixedShapes<B> {
    inner: Arc<dyn DataLoader<B>>,
    short: Short,
}

impl<B: LabeledBatch> DataLoader<B> for FixedShapes<B> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<B> + 'a> {
        Box::new(FixedShapesIter {
            inner: self.inner.iter(),
            short: self.short,
        })
    }

    fn num_items(&self) -> usize {
        self.inner.num_items()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<B>> {
        Arc::new(FixedShapes {
            inner: self.inner.to_device(device),
            short: self.short,
        })
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<B>> {
        Arc::new(FixedShapes {
            inner: self.inner.slice(start, end),
            short: self.short,
        })
    }
}

struct FixedShapesIter<'a, B> {
    inner: Box<dyn DataLoaderIterator<B> + 'a>,
    short: Short,
}

impl<B: LabeledBatch> Iterator for FixedShapesIter<'_, B> {
    type Item = Result<B, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let batch = match self.inner.next()? {
                Ok(batch) => batch,
                error => return Some(error),
            };
            return Some(Ok(match self.short {
                Short::Drop(rows) if batch.items() < rows => continue,
                Short::Pad(rows) => batch.pad_to(rows),
                Short::Drop(_) => batch,
            }));
        }
    }
}

impl<B: LabeledBatch> DataLoaderIterator<B> for FixedShapesIter<'_, B> {
    fn progress(&self) -> Progress {
        self.inner.progress()
    }
}

/// Batches made on a thread of their own, one or two ahead of the training step, in the
/// inner loader's order (so runs stay repeatable, unlike Burn's multi-worker loader): reading,
/// augmenting and uploading a batch overlaps the step before it.
struct Prefetch<B> {
    inner: Arc<dyn DataLoader<B>>,
}

/// Batches waiting: two keep the step fed without holding many uploads on the device.
const PREFETCHED: usize = 2;

impl<B: LabeledBatch> DataLoader<B> for Prefetch<B> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<B> + 'a> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(PREFETCHED);
        let inner = self.inner.clone();
        let items_total = inner.num_items();
        let spawned = std::thread::Builder::new()
            .name("zoo-prefetch".into())
            .spawn(move || {
                let mut batches = inner.iter();
                while let Some(batch) = batches.next() {
                    // The receiver is gone when the epoch was cut short (Ctrl-C, divergence).
                    if sender.send((batch, batches.progress())).is_err() {
                        break;
                    }
                }
            });
        match spawned {
            Ok(_) => Box::new(PrefetchIter {
                receiver,
                progress: Progress::new(0, items_total, None),
            }),
            // No thread to be had: batch on the caller's thread as without prefetching.
            Err(_) => self.inner.iter(),
        }
    }

    fn num_items(&self) -> usize {
        self.inner.num_items()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<B>> {
        Arc::new(Prefetch {
            inner: self.inner.to_device(device),
        })
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<B>> {
        Arc::new(Prefetch {
            inner: self.inner.slice(start, end),
        })
    }
}

type Prefetched<B> = (Result<B, DatasetError>, Progress);

struct PrefetchIter<B> {
    receiver: std::sync::mpsc::Receiver<Prefetched<B>>,
    progress: Progress,
}

impl<B> Iterator for PrefetchIter<B> {
    type Item = Result<B, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (batch, progress) = self.receiver.recv().ok()?;
        self.progress = progress;
        Some(batch)
    }
}

impl<B> DataLoaderIterator<B> for PrefetchIter<B> {
    fn progress(&self) -> Progress {
        self.progress.clone()
    }
}

/// One split's loader: shuffled (seeded) for training, in order otherwise; with fixed shapes
/// the training split drops its partial last batch and the others pad theirs.
fn loader<I, B, Bt>(
    batcher: Bt,
    dataset: burn::data::dataset::InMemDataset<I>,
    (items, train_items): (usize, usize),
    train: &TrainConfig,
    shuffle: bool,
    device: &Device,
) -> Arc<dyn DataLoader<B>>
where
    I: Clone + std::fmt::Debug + Send + Sync + 'static,
    B: LabeledBatch,
    Bt: burn::data::dataloader::batcher::Batcher<I, B> + 'static,
{
    let rows = batch_size(train, items, train_items);
    let mut builder = DataLoaderBuilder::new(batcher)
        .batch_size(rows)
        .num_workers(train.num_workers)
        .set_device(device.clone());
    if shuffle {
        builder = builder.shuffle(train.seed);
    }
    let mut inner = builder.build(dataset);
    if train.last_batch.fixed_shapes() {
        let short = if shuffle {
            Short::Drop(rows)
        } else {
            Short::Pad(rows)
        };
        inner = Arc::new(FixedShapes { inner, short });
    }
    if train.num_workers == 0 {
        inner = Arc::new(Prefetch { inner });
    }
    inner
}

impl Loaders<ImageBatch> {
    /// Loaders over image splits; `augmentation` applies to the training split only.
    pub fn images(
        splits: ImageSplits,
        augmentation: Option<Augmentation>,
        train: &TrainConfig,
        device: &Device,
    ) -> Self {
        let sizes = (splits.train.len(), splits.valid.len(), splits.test.len());
        let batcher =
            |len: usize| ImageBatcher::new(splits.shape, splits.normalization.clone(), len);
        let mut train_batcher = batcher(sizes.0);
        if let Some(augmentation) = augmentation {
            train_batcher = train_batcher.with_augmentation(augmentation);
        }
        let (valid_batcher, test_batcher) = (batcher(sizes.1), batcher(sizes.2));
        let classes = splits.classes.clone();
        let [train_set, valid_set, test_set] = splits.into_datasets();
        let split = |batcher, set, items, shuffle| {
            loader(batcher, set, (items, sizes.0), train, shuffle, device)
        };
        Self {
            train: split(train_batcher, train_set, sizes.0, true),
            valid: split(valid_batcher, valid_set, sizes.1, false),
            test: split(test_batcher, test_set, sizes.2, false),
            sizes,
            classes,
        }
    }
}

impl Loaders<SequenceBatch> {
    /// Loaders over sequence splits.
    pub fn sequences(splits: SequenceSplits, train: &TrainConfig, device: &Device) -> Self {
        let sizes = (splits.train.len(), splits.valid.len(), splits.test.len());
        let batcher = SequenceBatcher::new(splits.shape);
        let classes = splits.classes.clone();
        let [train_set, valid_set, test_set] = splits.into_datasets();
        let split = |set, items, shuffle| {
            loader(
                batcher.clone(),
                set,
                (items, sizes.0),
                train,
                shuffle,
                device,
            )
        };
        Self {
            train: split(train_set, sizes.0, true),
            valid: split(valid_set, sizes.1, false),
            test: split(test_set, sizes.2, false),
            sizes,
            classes,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::LastBatch;
    use std::collections::BTreeSet;
    use zoo_data::SequenceItem;

    /// Items whose one value is their index, so batches say which items they hold.
    pub(crate) fn splits(train: usize, valid: usize) -> SequenceSplits {
        let items = |n: usize| {
            (0..n)
                .map(|i| SequenceItem {
                    values: vec![i as f32],
                    label: i % 2,
                })
                .collect()
        };
        SequenceSplits {
            train: items(train),
            valid: items(valid),
            test: Vec::new(),
            shape: [1, 1],
            classes: vec!["a".into(), "b".into()],
        }
    }

    pub(crate) fn ids(batch: &SequenceBatch) -> Vec<usize> {
        let values: Vec<f32> = batch
            .sequences
            .clone()
            .into_data()
            .convert::<f32>()
            .try_into_vec()
            .unwrap();
        values.iter().map(|&v| v as usize).collect()
    }

    fn config(last_batch: LastBatch) -> TrainConfig {
        TrainConfig {
            batch_size: BatchSize::Items(4),
            last_batch,
            ..TrainConfig::default()
        }
    }

    #[test]
    fn drop_keeps_one_batch_shape_and_reshuffles_which_items_are_left_out() {
        let train = config(LastBatch::Drop);
        let loaders = Loaders::sequences(splits(10, 6), &train, &Device::flex());
        assert_eq!(loaders.steps_per_epoch(&train), 2);
        let mut seen = Vec::new();
        for _epoch in 0..4 {
            let batches: Vec<SequenceBatch> = loaders.train.iter().map(Result::unwrap).collect();
            assert_eq!(batches.len(), 2);
            let mut epoch = BTreeSet::new();
            for batch in &batches {
                assert_eq!((batch.items, ids(batch).len()), (4, 4));
                epoch.extend(ids(batch));
            }
            assert_eq!(epoch.len(), 8, "no item twice in an epoch");
            seen.push(epoch);
        }
        let all: BTreeSet<usize> = seen.iter().flatten().copied().collect();
        assert!(
            all.len() > 8,
            "the items left out change from epoch to epoch: {seen:?}"
        );

        // Validation: every item once, the last batch padded to 4 rows with earlier rows.
        let batches: Vec<SequenceBatch> = loaders.valid.iter().map(Result::unwrap).collect();
        let rows: Vec<(usize, Vec<usize>)> = batches.iter().map(|b| (b.items, ids(b))).collect();
        assert_eq!(rows, vec![(4, vec![0, 1, 2, 3]), (2, vec![4, 5, 4, 5])]);
    }

    #[test]
    fn keep_and_unresolved_auto_keep_the_partial_batch() {
        for last_batch in [LastBatch::Keep, LastBatch::Auto] {
            let train = config(last_batch);
            let loaders = Loaders::sequences(splits(10, 6), &train, &Device::flex());
            assert_eq!(loaders.steps_per_epoch(&train), 3);
            let sizes: Vec<usize> = loaders.train.iter().map(|b| b.unwrap().items).collect();
            assert_eq!(sizes, vec![4, 4, 2]);
            let sizes: Vec<usize> = loaders
                .valid
                .iter()
                .map(|b| ids(&b.unwrap()).len())
                .collect();
            assert_eq!(sizes, vec![4, 2]);
        }
        assert_eq!(LastBatch::Auto.resolve(true), LastBatch::Drop);
        assert_eq!(LastBatch::Auto.resolve(false), LastBatch::Keep);
        assert_eq!(LastBatch::Keep.resolve(true), LastBatch::Keep);
    }

    #[test]
    fn a_split_smaller_than_a_batch_is_one_batch_even_when_dropping() {
        let train = config(LastBatch::Drop);
        let loaders = Loaders::sequences(splits(3, 2), &train, &Device::flex());
        assert_eq!(loaders.steps_per_epoch(&train), 1);
        let sizes: Vec<usize> = loaders.train.iter().map(|b| b.unwrap().items).collect();
        assert_eq!(sizes, vec![3]);
        // Evaluation pads to the training batch (3 rows), keeping its 2 items.
        let rows: Vec<(usize, Vec<usize>)> = loaders
            .valid
            .iter()
            .map(|b| b.unwrap())
            .map(|b| (b.items, ids(&b)))
            .collect();
        assert_eq!(rows, vec![(2, vec![0, 1, 0])]);
    }
}
