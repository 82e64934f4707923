#![doc = include_str!("../README.md")]

mod model;

pub use model::{ConvGap, ConvGapConfig, homework};
pub use zoo_model::{Architecture, Trace};
