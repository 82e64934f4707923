//! burn-zoo's data side: the `[data]` table of an experiment, the loaders behind it (CIFAR-10
//! binary and Fashion-MNIST with their downloaders, IDX, image folders, UEA/UCR `.ts`, synthetic), and the batchers that make Burn tensors. zoo-data never names a
//! model: the caller says what item shape and how many classes it needs ([`DataSpec`]).

mod batch;
pub mod cifar;
mod config;
pub mod download;
mod error;
pub mod fashion;
pub mod folder;
pub mod idx;
mod load;
mod preprocess;
pub mod preview;
mod rng;
pub mod synthetic;
pub mod ts;

pub use batch::{
    Augmentation, CIFAR10_MEAN, CIFAR10_STD, ImageBatch, ImageBatcher, ImageItem, Normalization,
    SequenceBatch, SequenceBatcher, SequenceItem,
};
pub use config::{DataConfig, DataKind, NormalizeKind};
pub use download::cache_dir;
pub use error::DataError;
pub use load::{
    CIFAR10_MD5, CIFAR10_SHA256, CIFAR10_URL, DataSpec, ImageSplits, SequenceSplits, Splits,
    channel_stats, cifar_archive, load, sequence_stats, split_validation,
};
pub use preprocess::Preprocess;
pub use rng::SplitMix64;
