//! `zoo data <experiment>`: what an experiment's data looks like before any training.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use zoo_data::{ImageItem, Normalization, SequenceItem, Splits};

use crate::config;
use crate::summary::thousands;

/// Items per class.
fn histogram(labels: impl Iterator<Item = usize>, classes: usize) -> Vec<usize> {
    let mut counts = vec![0; classes];
    for label in labels {
        if label >= counts.len() {
            counts.resize(label + 1, 0);
        }
        counts[label] += 1;
    }
    counts
}

/// `0: 5,400  1: 5,391 …`.
fn histogram_text(counts: &[usize]) -> String {
    let cells: Vec<String> = counts
        .iter()
        .enumerate()
        .map(|(class, &n)| format!("{class}: {}", thousands(n as u64)))
        .collect();
    cells.join("  ")
}

/// Saves a preview grid and says where.
fn write_preview(grid: &zoo_data::preview::RgbImage, path: &Path) -> Result<()> {
    zoo_data::preview::save_png(grid, path)?;
    println!(
        "  wrote {} ({}x{})",
        path.display(),
        grid.width(),
        grid.height()
    );
    Ok(())
}

fn floats(values: &[f32]) -> String {
    let cells: Vec<String> = values.iter().map(|v| format!("{v:.4}")).collect();
    format!("[{}]", cells.join(", "))
}

fn print_splits<T>(splits: [(&str, &[T]); 3], classes: usize, label: impl Fn(&T) -> usize) {
    for (name, items) in splits {
        let counts = histogram(items.iter().map(&label), classes);
        println!(
            "  {name:<5} {:>7} items   {}",
            thousands(items.len() as u64),
            histogram_text(&counts)
        );
    }
}

/// Samples in a preview grid.
const PREVIEW_ITEMS: usize = 32;

/// Prints the experiment's data summary, and writes a preview grid when asked.
pub fn show(experiment: &str, overrides: &[String], preview: Option<&Path>) -> Result<ExitCode> {
    let resolved = config::load_experiment(experiment, None, overrides)?;
    let model = &resolved.config.model;
    let Some(spec) = model.data_spec() else {
        bail!(
            "model `{}` is not a classifier: it has no data set",
            model.name()
        );
    };
    let started = Instant::now();
    let splits = zoo_data::load(&resolved.config.data, &spec)?;
    let elapsed = started.elapsed();
    let data = &resolved.config.data;
    println!(
        "Data of `{}`: kind {}{}, items {:?}, {} classes (loaded in {:.2} s)",
        resolved.name,
        serde_json::to_value(data.kind)?.as_str().unwrap_or("?"),
        data.dir
            .as_ref()
            .map_or(String::new(), |dir| format!(" from {}", dir.display())),
        spec.shape,
        spec.classes,
        elapsed.as_secs_f64()
    );
    match splits {
        Splits::Images(images) => {
            let label = |item: &ImageItem| item.label;
            print_splits(
                [
                    ("train", &images.train),
                    ("valid", &images.valid),
                    ("test", &images.test),
                ],
                images.classes.len(),
                label,
            );
            let (mean, std) = zoo_data::channel_stats(&images.train, images.shape[0]);
            println!(
                "  pixel mean per channel (train, 0-1 scale): {}",
                floats(&mean)
            );
            println!(
                "  pixel std  per channel (train, 0-1 scale): {}",
                floats(&std)
            );
            match &images.normalization {
                Normalization::Standardize { mean, std } => println!(
                    "  the batcher standardizes with mean {} and std {}",
                    floats(mean),
                    floats(std)
                ),
                other => println!("  the batcher normalizes: {other:?}"),
            }
            println!("  classes: {}", images.classes.join(", "));
            if let Some(path) = preview {
                let grid =
                    zoo_data::preview::image_grid(&images.train, images.shape, PREVIEW_ITEMS);
                write_preview(&grid, path)?;
            }
        }
        Splits::Sequences(sequences) => {
            let label = |item: &SequenceItem| item.label;
            print_splits(
                [
                    ("train", &sequences.train),
                    ("valid", &sequences.valid),
                    ("test", &sequences.test),
                ],
                sequences.classes.len(),
                label,
            );
            let (mean, std) = zoo_data::sequence_stats(&sequences.train, sequences.shape[0]);
            println!("  channel mean (train): {}", floats(&mean));
            println!("  channel std  (train): {}", floats(&std));
            if let Some(path) = preview {
                let grid = zoo_data::preview::sequence_grid(
                    &sequences.train,
                    sequences.shape,
                    PREVIEW_ITEMS,
                );
                write_preview(&grid, path)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_every_class_and_grows_for_unexpected_labels() {
        assert_eq!(histogram([0, 2, 2, 1].into_iter(), 3), [1, 1, 2]);
        assert_eq!(histogram([4].into_iter(), 2), [0, 0, 0, 0, 1]);
        assert_eq!(histogram_text(&[1200, 3]), "0: 1,200  1: 3");
    }
}
