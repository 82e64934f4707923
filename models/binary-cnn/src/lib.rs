#![doc = include_str!("../README.md")]

mod model;

pub use model::{BinaryCnn, BinaryCnnConfig, ConvBlock};
pub use zoo_model::{Architecture, Trace};
