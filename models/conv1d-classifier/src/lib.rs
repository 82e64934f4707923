#![doc = include_str!("../README.md")]

mod model;

pub use model::{Conv1dClassifier, Conv1dClassifierConfig};
pub use zoo_model::{Architecture, Trace};
