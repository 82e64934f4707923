//! From a `[data]` table and the model's input to train / validation / test splits.

use std::path::{Path, PathBuf};

use burn::data::dataset::InMemDataset;

use crate::batch::{CIFAR10_MEAN, CIFAR10_STD, ImageItem, Normalization, SequenceItem};
use crate::config::{DataConfig, DataKind, NormalizeKind};
use crate::download::{self, Archive, cache_dir};
use crate::error::DataError;
use crate::rng::SplitMix64;
use crate::{cifar, folder, idx, synthetic, ts};

/// What the model takes: the shape of one item (channels first) and the number of classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSpec {
    /// `[C, H, W]` for images, `[C, L]` for sequences.
    pub shape: Vec<usize>,
    /// Classes (2 for a single-logit binary model).
    pub classes: usize,
}

/// Three splits of images, with what a batcher needs to know.
#[derive(Debug, Clone)]
pub struct ImageSplits {
    /// Training items (after the validation split and `limit`).
    pub train: Vec<ImageItem>,
    /// Validation items, held out of the training set with the seed.
    pub valid: Vec<ImageItem>,
    /// Test items (empty where the set has no test split).
    pub test: Vec<ImageItem>,
    /// Item shape `[C, H, W]`.
    pub shape: [usize; 3],
    /// Class names, by index.
    pub classes: Vec<String>,
    /// How the batcher turns pixels into floats.
    pub normalization: Normalization,
}

/// Three splits of sequences.
#[derive(Debug, Clone)]
pub struct SequenceSplits {
    /// Training items.
    pub train: Vec<SequenceItem>,
    /// Validation items.
    pub valid: Vec<SequenceItem>,
    /// Test items.
    pub test: Vec<SequenceItem>,
    /// Item shape `[C, L]`.
    pub shape: [usize; 2],
    /// Class names, by index.
    pub classes: Vec<String>,
}

impl ImageSplits {
    /// The three splits as Burn datasets (train, valid, test), ready for a `DataLoaderBuilder`
    /// with an [`ImageBatcher`](crate::ImageBatcher).
    pub fn into_datasets(self) -> [InMemDataset<ImageItem>; 3] {
        [self.train, self.valid, self.test].map(InMemDataset::new)
    }
}

impl SequenceSplits {
    /// The three splits as Burn datasets (train, valid, test).
    pub fn into_datasets(self) -> [InMemDataset<SequenceItem>; 3] {
        [self.train, self.valid, self.test].map(InMemDataset::new)
    }
}

/// Loaded data, images or sequences.
#[derive(Debug, Clone)]
pub enum Splits {
    /// Image sets.
    Images(ImageSplits),
    /// Sequence sets.
    Sequences(SequenceSplits),
}

impl Splits {
    /// Items in the training and validation splits.
    pub fn train_valid_sizes(&self) -> (usize, usize) {
        match self {
            Splits::Images(images) => (images.train.len(), images.valid.len()),
            Splits::Sequences(sequences) => (sequences.train.len(), sequences.valid.len()),
        }
    }
}

/// Splits `items` into (train, valid): a seeded shuffle, then the last `fraction` held out,
/// as Keras' `validation_split` with a seed. Each item keeps its order within its split.
pub fn split_validation<T>(items: Vec<T>, fraction: f64, seed: u64) -> (Vec<T>, Vec<T>) {
    let valid_count = (items.len() as f64 * fraction).round() as usize;
    let mut order: Vec<usize> = (0..items.len()).collect();
    SplitMix64::new(seed).shuffle(&mut order);
    let mut is_valid = vec![false; items.len()];
    for &i in &order[..valid_count] {
        is_valid[i] = true;
    }
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for (item, valid_item) in items.into_iter().zip(is_valid) {
        if valid_item {
            valid.push(item)
        } else {
            train.push(item)
        }
    }
    (train, valid)
}

/// Renumbers items to their position in their split (the augmentation streams' key).
fn reindex(mut items: Vec<ImageItem>) -> Vec<ImageItem> {
    for (index, item) in items.iter_mut().enumerate() {
        item.index = index;
    }
    items
}

/// Per-channel mean and standard deviation of items laid out channels first (`values` of each
/// item are `channels` equal planes), each value multiplied by `scale`.
fn plane_stats<T: Copy + Into<f64>>(
    items: &[&[T]],
    channels: usize,
    scale: f64,
) -> (Vec<f32>, Vec<f32>) {
    let mut sums = vec![(0f64, 0f64, 0usize); channels];
    for values in items {
        let plane = (values.len() / channels.max(1)).max(1);
        for (c, chunk) in values.chunks(plane).enumerate().take(channels) {
            let (sum, squares, count) = &mut sums[c];
            for &v in chunk {
                let x = v.into() * scale;
                *sum += x;
                *squares += x * x;
            }
            *count += chunk.len();
        }
    }
    sums.iter()
        .map(|&(sum, squares, count)| {
            let n = count.max(1) as f64;
            let mean = sum / n;
            (
                mean as f32,
                ((squares / n - mean * mean).max(0.0).sqrt() as f32).max(1e-6),
            )
        })
        .unzip()
}

/// Per-channel pixel mean and standard deviation on the [0, 1] scale (std at least 1e-6).
pub fn channel_stats(items: &[ImageItem], channels: usize) -> (Vec<f32>, Vec<f32>) {
    let pixels: Vec<&[u8]> = items.iter().map(|item| item.pixels.as_slice()).collect();
    plane_stats(&pixels, channels, 1.0 / 255.0)
}

/// Per-channel mean and standard deviation of sequence values (std at least 1e-6).
pub fn sequence_stats(items: &[SequenceItem], channels: usize) -> (Vec<f32>, Vec<f32>) {
    let values: Vec<&[f32]> = items.iter().map(|item| item.values.as_slice()).collect();
    plane_stats(&values, channels, 1.0)
}

/// Checks that the data's item shape is the model's.
fn check_shape(kind: &str, data: &[usize], spec: &DataSpec) -> Result<(), DataError> {
    if data == spec.shape.as_slice() {
        return Ok(());
    }
    Err(DataError::Config(format!(
        "data.kind = \"{kind}\" gives items of shape {data:?} but the model takes {:?}: \
         set the model's input fields (in_channels, image_size, length) to match",
        spec.shape
    )))
}

/// Loads the data a `[data]` table describes, shaped for `spec`; an error when the training
/// split comes out empty (a run on it would "complete" untrained).
pub fn load(config: &DataConfig, spec: &DataSpec) -> Result<Splits, DataError> {
    let splits = load_splits(config, spec)?;
    let (train, valid) = splits.train_valid_sizes();
    if train == 0 {
        return Err(DataError::Config(format!(
            "data.kind = \"{}\"{}: the training split is empty ({} items loaded, {valid} held \
             out by data.valid_fraction = {}{}); nothing to train on",
            config.kind.name(),
            config
                .dir
                .as_ref()
                .map_or(String::new(), |dir| format!(" in {}", dir.display())),
            train + valid,
            config.valid_fraction,
            config
                .limit
                .map_or(String::new(), |limit| format!(", data.limit = {limit}")),
        )));
    }
    if valid == 0 && config.valid_fraction > 0.0 {
        return Err(DataError::Config(format!(
            "data.valid_fraction = {} of {train} items holds none out for validation: use a \
             larger fraction, more items, or 0 for no validation split",
            config.valid_fraction
        )));
    }
    Ok(splits)
}

fn load_splits(config: &DataConfig, spec: &DataSpec) -> Result<Splits, DataError> {
    config.validate()?;
    let limit = |mut items: Vec<ImageItem>| {
        if let Some(limit) = config.limit {
            items.truncate(limit);
        }
        items
    };
    let (train, test, shape, classes) = match config.kind {
        DataKind::Cifar10 => {
            let dir = cifar_dir(config)?;
            let train = cifar::read_files(&dir, &cifar::TRAIN_FILES)?;
            let test = cifar::read_files(&dir, &[cifar::TEST_FILE])?;
            (train, test, cifar::SHAPE, cifar::class_names(&dir)?)
        }
        DataKind::FashionMnist => {
            let (train, test, shape) = idx::read_splits(&crate::fashion::fashion_dir(config)?)?;
            let classes = crate::fashion::CLASSES.map(String::from).to_vec();
            (train, test, shape, classes)
        }
        DataKind::Idx => {
            let dir = required_dir(config, "train-images-idx3-ubyte[.gz] and its siblings")?;
            let (train, test, shape) = idx::read_splits(&dir)?;
            let classes = train
                .iter()
                .chain(&test)
                .map(|item| item.label)
                .max()
                .map_or(0, |m| m + 1);
            (
                train,
                test,
                shape,
                (0..classes).map(|c| c.to_string()).collect(),
            )
        }
        DataKind::Synthetic if spec.shape.len() == 2 => {
            return Ok(Splits::Sequences(synthetic_sequences(config, spec)));
        }
        DataKind::Synthetic => {
            let shape: [usize; 3] = spec.shape.clone().try_into().map_err(|_| {
                DataError::Config(format!(
                    "synthetic data cannot make items of shape {:?}",
                    spec.shape
                ))
            })?;
            let train = synthetic::images(shape, spec.classes, config.synthetic_items, config.seed);
            let test_seed = config.seed.wrapping_add(1);
            let test =
                synthetic::images(shape, spec.classes, config.synthetic_items / 5, test_seed);
            (
                train,
                test,
                shape,
                (0..spec.classes).map(|c| c.to_string()).collect(),
            )
        }
        DataKind::Ts => return Ok(Splits::Sequences(ts_sequences(config, spec)?)),
        DataKind::ImageFolder => {
            let root = required_dir(config, "root/<class>/*.png|jpg|jpeg|bmp")?;
            let shape: [usize; 3] = spec.shape.clone().try_into().map_err(|_| {
                DataError::Config(format!(
                    "image folders give images, the model takes {:?}",
                    spec.shape
                ))
            })?;
            let read = folder::read(&root, shape, config.skip_unreadable)?;
            if read.classes.len() != spec.classes {
                return Err(DataError::Config(format!(
                    "{} has {} class directories ({}) but the model has {} classes: set \
                     model.num_classes",
                    root.display(),
                    read.classes.len(),
                    read.classes.join(", "),
                    spec.classes
                )));
            }
            for (path, reason) in &read.skipped {
                eprintln!("skipped unreadable image {}: {reason}", path.display());
            }
            (read.items, Vec::new(), shape, read.classes)
        }
    };
    check_shape(config.kind.name(), &shape, spec)?;
    check_labels(
        config.kind.name(),
        train.iter().chain(&test).map(|item| item.label),
        spec,
    )?;
    let (train, valid) = split_validation(limit(train), config.valid_fraction, config.seed);
    let (train, valid, test) = (reindex(train), reindex(valid), reindex(limit(test)));
    let normalization = match config.normalize {
        NormalizeKind::Raw => Normalization::Raw,
        NormalizeKind::Unit => Normalization::Unit,
        NormalizeKind::Standardize => {
            let (mean, std) = match (&config.mean, &config.std, config.kind) {
                (Some(mean), Some(std), _) => (mean.clone(), std.clone()),
                (None, None, DataKind::Cifar10) => (CIFAR10_MEAN.to_vec(), CIFAR10_STD.to_vec()),
                _ => channel_stats(&train, shape[0]),
            };
            Normalization::Standardize { mean, std }
        }
    };
    Ok(Splits::Images(ImageSplits {
        train,
        valid,
        test,
        shape,
        classes,
        normalization,
    }))
}

fn synthetic_sequences(config: &DataConfig, spec: &DataSpec) -> SequenceSplits {
    let shape = [spec.shape[0], spec.shape[1]];
    let train = synthetic::sequences(shape, spec.classes, config.synthetic_items, config.seed);
    let test_seed = config.seed.wrapping_add(1);
    let test = synthetic::sequences(shape, spec.classes, config.synthetic_items / 5, test_seed);
    let classes = (0..spec.classes).map(|c| c.to_string()).collect();
    sequence_splits(config, train, test, shape, classes)
}

/// Applies `limit` to the training and test items, then holds the validation split out.
fn sequence_splits(
    config: &DataConfig,
    mut train: Vec<SequenceItem>,
    mut test: Vec<SequenceItem>,
    shape: [usize; 2],
    classes: Vec<String>,
) -> SequenceSplits {
    if let Some(limit) = config.limit {
        train.truncate(limit);
        test.truncate(limit);
    }
    let (train, valid) = split_validation(train, config.valid_fraction, config.seed);
    SequenceSplits {
        train,
        valid,
        test,
        shape,
        classes,
    }
}

/// Checks that every label is a class the model has.
fn check_labels(
    kind: &str,
    labels: impl Iterator<Item = usize>,
    spec: &DataSpec,
) -> Result<(), DataError> {
    match labels.max() {
        Some(max) if max >= spec.classes => Err(DataError::Config(format!(
            "data.kind = \"{kind}\" has labels up to {max} ({} classes) but the model has {}: \
             set the model's num_classes",
            max + 1,
            spec.classes
        ))),
        _ => Ok(()),
    }
}

/// `data.dir`, required by folder-based kinds; the error says what it must hold.
fn required_dir(config: &DataConfig, holding: &str) -> Result<PathBuf, DataError> {
    config.dir.clone().ok_or_else(|| {
        DataError::Config(format!(
            "data.kind = \"{}\" needs data.dir, the directory holding {holding}",
            config.kind.name()
        ))
    })
}

/// Sequences from `<Problem>_TRAIN.ts` / `<Problem>_TEST.ts` in `data.dir`.
fn ts_sequences(config: &DataConfig, spec: &DataSpec) -> Result<SequenceSplits, DataError> {
    let dir = required_dir(config, "<Problem>_TRAIN.ts and <Problem>_TEST.ts")?;
    let shape: [usize; 2] = spec.shape.clone().try_into().map_err(|_| {
        DataError::Config(format!(
            ".ts files give sequences, the model takes {:?}",
            spec.shape
        ))
    })?;
    let [train_path, test_path] = ts::find_files(&dir)?;
    let read = |path: &Path| {
        let text = std::fs::read_to_string(path).map_err(|source| DataError::io(path, source))?;
        ts::parse(path, &text)
    };
    let (train_file, test_file) = (read(&train_path)?, read(&test_path)?);
    if train_file.labels.len() != spec.classes {
        return Err(DataError::format(
            &train_path,
            format!(
                "{} classes in @classLabel but the model has {}: set model.num_classes",
                train_file.labels.len(),
                spec.classes
            ),
        ));
    }
    let (train, test) = ts::to_items(
        &train_file,
        &test_file,
        shape,
        config.series,
        [&train_path, &test_path],
    )?;
    Ok(sequence_splits(
        config,
        train,
        test,
        shape,
        train_file.labels,
    ))
}

/// The official CIFAR-10 archive and its checksums.
pub const CIFAR10_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
/// MD5 of [`CIFAR10_URL`] (170,052,171 bytes).
pub const CIFAR10_MD5: &str = "c32a1d4ab5d03f1284b67883e8d87530";
/// SHA-256 of [`CIFAR10_URL`].
pub const CIFAR10_SHA256: &str = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd";

/// The archive to fetch for `config`: the official one, or the configured mirror.
pub fn cifar_archive(config: &DataConfig) -> Archive {
    let official = config.url.as_deref().is_none_or(|url| url == CIFAR10_URL);
    let default = |value: &Option<String>, official_value: &str| match value {
        Some(value) => Some(value.clone()),
        None if official => Some(official_value.to_string()),
        None => None,
    };
    let mut members: Vec<String> = cifar::TRAIN_FILES.iter().map(|s| s.to_string()).collect();
    members.push(cifar::TEST_FILE.into());
    members.push(cifar::META_FILE.into());
    Archive {
        url: config.url.clone().unwrap_or_else(|| CIFAR10_URL.into()),
        md5: default(&config.md5, CIFAR10_MD5),
        sha256: default(&config.sha256, CIFAR10_SHA256),
        top: cifar::DIR_NAME.into(),
        members,
    }
}

/// The CIFAR-10 directory: `data.dir` (itself or its `cifar-10-batches-bin/`), else the cache,
/// downloading into it when the files are not there.
fn cifar_dir(config: &DataConfig) -> Result<PathBuf, DataError> {
    let base = config.dir.clone().unwrap_or_else(cache_dir);
    let complete = |dir: &PathBuf| cifar::required_files(dir).iter().all(|f| f.is_file());
    let candidates = [base.clone(), base.join(cifar::DIR_NAME)];
    if let Some(dir) = candidates.iter().find(|dir| complete(dir)) {
        return Ok(dir.clone());
    }
    let target = base.join(cifar::DIR_NAME);
    if target.exists() {
        return Err(DataError::Missing {
            message: format!(
                "{} is incomplete.\n{}",
                target.display(),
                missing_cifar_message(&target)
            ),
        });
    }
    match download::download(&cifar_archive(config), &base) {
        Ok(dir) => Ok(dir),
        Err(error) => Err(DataError::Missing {
            message: format!("{error}\n{}", missing_cifar_message(&target)),
        }),
    }
}

/// What to do when CIFAR-10 is not on disk.
fn missing_cifar_message(target: &Path) -> String {
    let files: Vec<String> = cifar::required_files(target)
        .iter()
        .map(|path| format!("  {}", path.display()))
        .collect();
    format!(
        "CIFAR-10 is not on this machine. Download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz \
         (170,052,171 bytes, MD5 c32a1d4ab5d03f1284b67883e8d87530) and unpack it so that these \
         files exist:\n{}\n(or set data.dir, or ZOO_DATA_DIR for the cache directory)",
        files.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(shape: &[usize], classes: usize) -> DataSpec {
        DataSpec {
            shape: shape.to_vec(),
            classes,
        }
    }

    #[test]
    fn validation_split_is_seeded_disjoint_and_sized() {
        let (train, valid) = split_validation((0..100).collect::<Vec<_>>(), 0.2, 5);
        assert_eq!((train.len(), valid.len()), (80, 20));
        assert_eq!(
            split_validation((0..100).collect::<Vec<_>>(), 0.2, 5).1,
            valid
        );
        assert_ne!(
            split_validation((0..100).collect::<Vec<_>>(), 0.2, 6).1,
            valid
        );
        let mut all: Vec<i32> = train.iter().chain(&valid).copied().collect();
        all.sort();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn cifar_directory_loads_with_limit_split_and_cifar_statistics() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(cifar::DIR_NAME);
        std::fs::create_dir(&root).unwrap();
        let items = synthetic::images([3, 32, 32], 10, 20, 1);
        for name in cifar::TRAIN_FILES.iter().chain([&cifar::TEST_FILE]) {
            std::fs::write(root.join(name), cifar::encode_records(&items)).unwrap();
        }
        let config = DataConfig {
            kind: DataKind::Cifar10,
            dir: Some(dir.path().to_path_buf()),
            limit: Some(50),
            valid_fraction: 0.2,
            ..DataConfig::default()
        };
        let Splits::Images(splits) = load(&config, &spec(&[3, 32, 32], 10)).unwrap() else {
            panic!("images expected")
        };
        assert_eq!(
            (splits.train.len(), splits.valid.len(), splits.test.len()),
            (40, 10, 20)
        );
        assert_eq!(splits.classes[9], "truck");
        assert_eq!(splits.normalization, Normalization::cifar10());
        assert_eq!(
            splits.valid[3].index, 3,
            "items are renumbered within their split"
        );
    }

    #[test]
    fn missing_cifar_says_which_files_to_put_where() {
        let dir = tempfile::tempdir().unwrap();
        let config = DataConfig {
            kind: DataKind::Cifar10,
            dir: Some(dir.path().to_path_buf()),
            // Nothing listens on port 9 of 127.0.0.1: the download fails at once, offline or not.
            url: Some("http://127.0.0.1:9/cifar-10-binary.tar.gz".into()),
            ..DataConfig::default()
        };
        let message = load(&config, &spec(&[3, 32, 32], 10))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("cifar-10-batches-bin/data_batch_1.bin"),
            "{message}"
        );
        assert!(message.contains("test_batch.bin"), "{message}");
        assert!(
            message.contains("c32a1d4ab5d03f1284b67883e8d87530"),
            "{message}"
        );
    }

    #[test]
    fn shape_mismatch_names_both_shapes() {
        let config = DataConfig::default();
        let Splits::Images(_) = load(&config, &spec(&[1, 28, 28], 10)).unwrap() else {
            panic!("synthetic images expected")
        };
        let dir = tempfile::tempdir().unwrap();
        let items = synthetic::images([1, 4, 4], 3, 6, 1);
        let (images, labels) = idx::encode_pair(&items, 4, 4);
        for prefix in ["train", "t10k"] {
            std::fs::write(
                dir.path().join(format!("{prefix}-images-idx3-ubyte")),
                &images,
            )
            .unwrap();
            std::fs::write(
                dir.path().join(format!("{prefix}-labels-idx1-ubyte")),
                &labels,
            )
            .unwrap();
        }
        let config = DataConfig {
            kind: DataKind::Idx,
            dir: Some(dir.path().to_path_buf()),
            ..DataConfig::default()
        };
        let message = load(&config, &spec(&[1, 28, 28], 10))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("[1, 4, 4] but the model takes [1, 28, 28]"),
            "{message}"
        );
    }

    #[test]
    fn splits_feed_burn_data_loaders_through_the_batcher() {
        use burn::data::dataloader::DataLoaderBuilder;
        use burn::data::dataset::Dataset;

        let config = DataConfig {
            synthetic_items: 50,
            ..DataConfig::default()
        };
        let Splits::Images(splits) = load(&config, &spec(&[3, 32, 32], 10)).unwrap() else {
            panic!("images expected")
        };
        let batcher = crate::ImageBatcher::new(
            splits.shape,
            splits.normalization.clone(),
            splits.train.len(),
        );
        let [train, valid, test] = splits.into_datasets();
        assert_eq!((train.len(), valid.len(), test.len()), (45, 5, 10));
        let loader = DataLoaderBuilder::new(batcher)
            .batch_size(16)
            .shuffle(1)
            .set_device(burn::tensor::Device::flex())
            .build(train);
        let sizes: Vec<usize> = loader
            .iter()
            .map(|batch| batch.unwrap().images.dims()[0])
            .collect();
        assert_eq!(sizes, [16, 16, 13]);
    }

    #[test]
    fn channel_stats_of_a_constant_image() {
        let item = ImageItem {
            pixels: vec![51; 8],
            label: 0,
            index: 0,
        };
        let (mean, std) = channel_stats(&[item], 2);
        assert_eq!(mean, [0.2, 0.2]);
        assert!(std.iter().all(|&s| s <= 1e-6));
    }
}
