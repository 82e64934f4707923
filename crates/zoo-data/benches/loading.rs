//! Data loading speed: reading all 60,000 CIFAR-10 images (here: generated files in the
//! official layout, 6 × 10,000 records, from the page cache) and batching 64 of them with
//! augmentation. Run with `cargo bench -p zoo-data --bench loading`.

use std::hint::black_box;

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::Device;
use criterion::{Criterion, criterion_group, criterion_main};
use zoo_data::{Augmentation, ImageBatcher, Normalization, cifar, synthetic};

fn loading(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let records = cifar::encode_records(&synthetic::images([3, 32, 32], 10, 10_000, 1));
    for name in cifar::TRAIN_FILES.iter().chain([&cifar::TEST_FILE]) {
        std::fs::write(dir.path().join(name), &records).unwrap();
    }
    let mut group = c.benchmark_group("cifar10");
    group.sample_size(10);
    group.bench_function("read 60,000 images", |b| {
        b.iter(|| {
            let train = cifar::read_files(dir.path(), &cifar::TRAIN_FILES).unwrap();
            let test = cifar::read_files(dir.path(), &[cifar::TEST_FILE]).unwrap();
            black_box((train.len(), test.len()))
        })
    });
    let items = cifar::read_files(dir.path(), &cifar::TRAIN_FILES[..1]).unwrap();
    let batch: Vec<_> = items[..64].to_vec();
    let device = Device::flex();
    let batcher = ImageBatcher::new(cifar::SHAPE, Normalization::cifar10(), items.len())
        .with_augmentation(Augmentation {
            padding: 4,
            flip: true,
            erase: 0.0,
            seed: 1,
        });
    group.bench_function("batch 64 with augmentation (flex)", |b| {
        b.iter(|| black_box(batcher.batch(batch.clone(), &device).images.dims()))
    });
    group.finish();
}

criterion_group!(benches, loading);
criterion_main!(benches);
