#![doc = include_str!("../README.md")]

mod model;

pub use model::{PointwiseConv, PointwiseConvConfig};
pub use zoo_model::{Architecture, Trace};
