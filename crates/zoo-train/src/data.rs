//! zoo-data's splits as Burn data loaders with the experiment's batch size, seed and workers.

use std::sync::Arc;

use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::tensor::Device;
use zoo_data::{
    Augmentation, ImageBatch, ImageBatcher, ImageSplits, SequenceBatch, SequenceBatcher,
    SequenceSplits,
};

use crate::config::TrainConfig;

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
    pub fn steps_per_epoch(&self, batch_size: usize) -> usize {
        self.sizes.0.div_ceil(batch_size.max(1)).max(1)
    }
}

/// The batch size a loader uses: the configured one, capped by the split's size (a split
/// smaller than a batch is one batch).
fn batch_size(train: &TrainConfig, items: usize) -> usize {
    train.batch_size.min(items.max(1))
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
            train: DataLoaderBuilder::new(train_batcher)
                .batch_size(batch_size(train, sizes.0))
                .shuffle(train.seed)
                .num_workers(train.num_workers)
                .set_device(device.clone())
                .build(train_set),
            valid: DataLoaderBuilder::new(valid_batcher)
                .batch_size(batch_size(train, sizes.1))
                .num_workers(train.num_workers)
                .set_device(device.clone())
                .build(valid_set),
            test: DataLoaderBuilder::new(test_batcher)
                .batch_size(batch_size(train, sizes.2))
                .num_workers(train.num_workers)
                .set_device(device.clone())
                .build(test_set),
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
            train: DataLoaderBuilder::new(batcher.clone())
                .batch_size(batch_size(train, sizes.0))
                .shuffle(train.seed)
                .num_workers(train.num_workers)
                .set_device(device.clone())
                .build(train_set),
            valid: DataLoaderBuilder::new(batcher.clone())
                .batch_size(batch_size(train, sizes.1))
                .num_workers(train.num_workers)
                .set_device(device.clone())
                .build(valid_set),
            test: DataLoaderBuilder::new(batcher)
                .batch_size(batch_size(train, sizes.2))
                .num_workers(train.num_workers)
                .set_device(device.clone())
                .build(test_set),
            sizes,
            classes,
        }
    }
}
