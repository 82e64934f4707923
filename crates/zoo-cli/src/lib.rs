//! The `zoo` command's library: configs, backend selection, the model registry, summaries.
//!
//! Only this crate knows every name: the model crates know nothing of training or data,
//! zoo-train and zoo-data nothing of a particular model.

pub mod backend;
pub mod bench;
pub mod cli;
pub mod config;
pub mod data;
pub mod error;
pub mod grad_example;
pub mod info;
pub mod keras;
pub mod limits;
pub mod lookup;
pub mod plot;
pub mod process;
pub mod registry;
pub mod serve;
pub mod signals;
pub mod summary;
pub mod tools;
pub mod train;
pub mod units;
pub mod weights;
