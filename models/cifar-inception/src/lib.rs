#![doc = include_str!("../README.md")]

mod inception;
mod model;

pub use inception::{Inception, InceptionConfig, PoolBranch, ReducedConv, Trace};
pub use model::{CifarInception, CifarInceptionConfig};
pub use zoo_model::Architecture;
