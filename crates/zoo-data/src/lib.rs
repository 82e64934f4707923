//! burn-zoo's data side: the `[data]` table of an experiment, and (as the loaders land) the
//! datasets and batchers behind it. zoo-data never names a model: a model asks for
//! an input shape, a dataset provides items of that shape.

mod config;

pub use config::{DataConfig, DataKind};
