//! zoo-data's splits as Burn data loaders with the experiment's batch size, seed and workers.

use std::sync::Arc;

use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::tensor::Device;
use zoo_data::{
    Augmentation, ImageBatch, ImageBatcher, ImageSplits, SequenceBatch, SequenceBatcher,
    SequenceSplits,
};

use crate::config::{BatchSize, TrainConfig};

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
    /// Optimizer steps per epoch.
    pub fn steps_per_epoch(&self, batch_size: BatchSize) -> usize {
        self.sizes.0.div_ceil(batch_size.items(self.sizes.0)).max(1)
    }
}

/// The batch size a loader uses: the configured one, capped by the split's size (a split
/// smaller than a batch is one batch).
fn batch_size(train: &TrainConfig, items: usize) -> usize {
    train.batch_size.items(items)
}

/// One split's loader: shuffled (seeded) for training, in order otherwise.
fn loader<I, B, Bt>(
    batcher: Bt,
    dataset: burn::data::dataset::InMemDataset<I>,
    items: usize,
    train: &TrainConfig,
    shuffle: bool,
    device: &Device,
) -> Arc<dyn DataLoader<B>>
where
    I: Clone + std::fmt::Debug + Send + Sync + 'static,
    B: Clone + std::fmt::Debug + Send + 'static,
    Bt: burn::data::dataloader::batcher::Batcher<I, B> + 'static,
{
    let mut builder = DataLoaderBuilder::new(batcher)
        .batch_size(batch_size(train, items))
        .num_workers(train.num_workers)
        .set_device(device.clone());
    if shuffle {
        builder = builder.shuffle(train.seed);
    }
    builder.build(dataset)
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
        Self {
            train: loader(train_batcher, train_set, sizes.0, train, true, device),
            valid: loader(valid_batcher, valid_set, sizes.1, train, false, device),
            test: loader(test_batcher, test_set, sizes.2, train, false, device),
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
        Self {
            train: loader(batcher.clone(), train_set, sizes.0, train, true, device),
            valid: loader(batcher.clone(), valid_set, sizes.1, train, false, device),
            test: loader(batcher, test_set, sizes.2, train, false, device),
            sizes,
            classes,
        }
    }
}
