//! The training loader for N devices: every global batch of the one-device loader, cut into N
//! equal row blocks, block `d` to device `d`. Burn's multi-device and DDP strategies split a
//! loader with `split_dataloader` (contiguous item ranges, each batched and shuffled on its
//! own), so N devices would train on other batches than one device at the same seed; here
//! `slice` hands out these row blocks instead, and step `k` on N devices sees exactly the
//! items of step `k` on one. A global batch with fewer rows than the others (the last of an
//! epoch) is dropped: its blocks would be of unequal size, so averaging them would weight its
//! items unequally, and Burn's DDP waits for every device at every step.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::tensor::Device;

use crate::step::LabeledBatch;

/// Global batches made ahead of the slowest device.
const AHEAD: usize = 2;

/// A training loader of global batches of `rows` rows, shared by `shards` devices.
pub(crate) struct Sharded<B> {
    inner: Arc<dyn DataLoader<B>>,
    rows: usize,
    shards: usize,
    /// `None`: the whole loader (as handed to Burn); `Some`: one device's row block.
    shard: Option<(usize, Option<Device>)>,
    hub: Arc<Mutex<Hub<B>>>,
}

type Made<B> = Result<B, String>;

/// The epoch's global batches, kept until every device has taken its block.
struct Hub<B> {
    /// Epochs started; a device starting one more starts the next epoch.
    epoch: usize,
    /// Epochs each device has started.
    started: Vec<usize>,
    batches: Option<Receiver<Made<B>>>,
    /// Step of `buffer[0]`.
    base: usize,
    /// Global batches not yet taken by every device, with how many took them.
    buffer: VecDeque<(Made<B>, usize)>,
}

impl<B: LabeledBatch> Sharded<B> {
    /// `inner` yields global batches of `rows` rows (fewer: dropped); `rows` is a multiple of
    /// `shards`.
    pub(crate) fn new(inner: Arc<dyn DataLoader<B>>, rows: usize, shards: usize) -> Self {
        assert!(
            shards > 0 && rows.is_multiple_of(shards),
            "{rows} rows over {shards}"
        );
        Self {
            inner,
            rows,
            shards,
            shard: None,
            hub: Arc::new(Mutex::new(Hub {
                epoch: 0,
                started: vec![0; shards],
                batches: None,
                base: 0,
                buffer: VecDeque::new(),
            })),
        }
    }

    /// Items a device sees per epoch: its block of every full global batch.
    fn kept_items(&self) -> usize {
        self.inner.num_items() / self.rows * self.rows
    }
}

impl<B: LabeledBatch> DataLoader<B> for Sharded<B> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<B> + 'a> {
        let Some((index, device)) = &self.shard else {
            // The whole loader: its full global batches.
            return Box::new(Whole {
                inner: self.inner.iter(),
                rows: self.rows,
                done: 0,
                total: self.kept_items(),
            });
        };
        let mut hub = self.hub.lock().unwrap();
        hub.started[*index] += 1;
        let epoch = hub.started[*index];
        if epoch > hub.epoch {
            // The first device of a new epoch: start its global batches.
            hub.epoch = epoch;
            hub.base = 0;
            hub.buffer.clear();
            let (sender, receiver) = sync_channel(AHEAD);
            let inner = self.inner.clone();
            let rows = self.rows;
            let spawned = std::thread::Builder::new()
                .name("zoo-shards".into())
                .spawn(move || {
                    for batch in inner.iter() {
                        let made = match batch {
                            Ok(batch) if batch.items() < rows => continue,
                            Ok(batch) => Ok(batch),
                            Err(error) => Err(error.to_string()),
                        };
                        // The receiver is gone when the epoch was cut short.
                        if sender.send(made).is_err() {
                            break;
                        }
                    }
                });
            hub.batches = spawned.ok().map(|_| receiver);
        }
        Box::new(ShardIter {
            hub: self.hub.clone(),
            index: *index,
            shards: self.shards,
            block: self.rows / self.shards,
            device: device.clone(),
            epoch,
            step: 0,
            total: self.kept_items() / self.shards,
        })
    }

    fn num_items(&self) -> usize {
        match self.shard {
            None => self.kept_items(),
            Some(_) => self.kept_items() / self.shards,
        }
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<B>> {
        match &self.shard {
            Some((index, _)) => Arc::new(Sharded {
                inner: self.inner.clone(),
                rows: self.rows,
                shards: self.shards,
                shard: Some((*index, Some(device.clone()))),
                hub: self.hub.clone(),
            }),
            None => Arc::new(Sharded {
                inner: self.inner.to_device(device),
                rows: self.rows,
                shards: self.shards,
                shard: None,
                hub: self.hub.clone(),
            }),
        }
    }

    /// `split_dataloader`'s ranges (`num_items / shards` items each, the last to the end)
    /// become row blocks; any other range is the inner loader's slice, as in Burn.
    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<B>> {
        let per = self.kept_items() / self.shards;
        let index = start.checked_div(per).unwrap_or(0);
        let boundary = self.shard.is_none()
            && per > 0
            && start == index * per
            && index < self.shards
            && (end == start + per || (index == self.shards - 1 && end == self.kept_items()));
        if !boundary {
            return self.inner.slice(start, end);
        }
        Arc::new(Sharded {
            inner: self.inner.clone(),
            rows: self.rows,
            shards: self.shards,
            shard: Some((index, None)),
            hub: self.hub.clone(),
        })
    }
}

/// One device's blocks of an epoch.
struct ShardIter<B> {
    hub: Arc<Mutex<Hub<B>>>,
    index: usize,
    shards: usize,
    block: usize,
    device: Option<Device>,
    epoch: usize,
    step: usize,
    total: usize,
}

impl<B: LabeledBatch> Iterator for ShardIter<B> {
    type Item = Result<B, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut hub = self.hub.lock().unwrap();
        if hub.epoch != self.epoch {
            return None;
        }
        while hub.base + hub.buffer.len() <= self.step {
            let made = hub.batches.as_ref()?.recv().ok()?;
            hub.buffer.push_back((made, 0));
        }
        let at = self.step - hub.base;
        let (made, taken) = &mut hub.buffer[at];
        *taken += 1;
        let block = match made {
            Ok(batch) => {
                let block = batch.clone().rows(self.index * self.block, self.block);
                Ok(match &self.device {
                    Some(device) => block.to_device(device),
                    None => block,
                })
            }
            Err(message) => Err(DatasetError::new(std::io::Error::other(message.clone()))),
        };
        while hub.buffer.front().is_some_and(|(_, n)| *n >= self.shards) {
            hub.buffer.pop_front();
            hub.base += 1;
        }
        self.step += 1;
        Some(block)
    }
}

impl<B: LabeledBatch> DataLoaderIterator<B> for ShardIter<B> {
    fn progress(&self) -> Progress {
        Progress::new(self.step * self.block, self.total, None)
    }
}

/// The whole loader's full global batches (what one device would train on).
struct Whole<'a, B> {
    inner: Box<dyn DataLoaderIterator<B> + 'a>,
    rows: usize,
    done: usize,
    total: usize,
}

impl<B: LabeledBatch> Iterator for Whole<'_, B> {
    type Item = Result<B, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.inner.next()? {
                Ok(batch) if batch.items() < self.rows => continue,
                Ok(batch) => {
                    self.done += self.rows;
                    return Some(Ok(batch));
                }
                error => return Some(error),
            }
        }
    }
}

impl<B: LabeledBatch> DataLoaderIterator<B> for Whole<'_, B> {
    fn progress(&self) -> Progress {
        Progress::new(self.done, self.total, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BatchSize, LastBatch, TrainConfig};
    use crate::data::Loaders;
    use crate::data::tests::{ids, splits};
    use burn::data::dataloader::split::split_dataloader;
    use zoo_data::SequenceBatch;

    /// Items whose one value is their index.
    fn loaders(train: usize, batch: usize) -> Loaders<SequenceBatch> {
        let config = TrainConfig {
            batch_size: BatchSize::Items(batch),
            last_batch: LastBatch::Keep,
            ..TrainConfig::default()
        };
        Loaders::sequences(splits(train, 0), &config, &Device::flex())
    }

    #[test]
    fn devices_take_equal_blocks_of_the_one_device_batches_and_drop_the_short_one() {
        // 22 items, batch 6: one device sees 6, 6, 6, 4 (shuffled); two devices see blocks of
        // 3 of the first three batches, and the 4-item batch is left out.
        let one = loaders(22, 6);
        let two = loaders(22, 6);
        let sharded = Arc::new(Sharded::new(two.train.clone(), 6, 2));
        let devices = [Device::flex(), Device::flex()];
        for epoch in 0..3 {
            let whole: Vec<Vec<usize>> = one.train.iter().map(|b| ids(&b.unwrap())).collect();
            assert_eq!(whole.len(), 4);
            let parts = split_dataloader(sharded.clone() as Arc<dyn DataLoader<_>>, &devices);
            assert_eq!(parts.len(), 2);
            assert_eq!(parts[0].num_items(), 9);
            // Burn's step: each device's iterator made, then one batch of each in turn.
            let mut iters: Vec<_> = parts.iter().map(|p| p.iter()).collect();
            for (step, batch) in whole.iter().take(3).enumerate() {
                let a = ids(&iters[0].next().unwrap().unwrap());
                let b = ids(&iters[1].next().unwrap().unwrap());
                assert_eq!([a, b].concat(), *batch, "epoch {epoch}, step {step}");
                assert_eq!(iters[1].progress().items_processed, 3 * (step + 1));
            }
            assert!(iters[0].next().is_none() && iters[1].next().is_none());
            // The whole loader (one device's view) is the full batches.
            let full: Vec<Vec<usize>> = sharded.iter().map(|b| ids(&b.unwrap())).collect();
            assert_eq!(full.len(), 3);
            drop(full);
            // (the whole loader's iter drew a shuffle of its own: keep `one` in step)
            let _ = one.train.iter().count();
        }
    }
}
