//! Experiment configs: the experiment (this file), finding one by name ([`find`]), `--set`
//! overrides ([`overrides`]) and errors that point at the file, line, column and key
//! ([`errors`]).
//!
//! Each crate owns the serde struct of its own table; this module composes them into
//! [`ExperimentConfig`]. Every struct denies unknown fields, so a typo is an error, not a
//! silently ignored setting.

mod errors;
mod find;
mod overrides;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use zoo_data::{DataConfig, DataKind, NormalizeKind};
use zoo_train::{BatchSize, ClipConfig, GuardConfig, OptimizerConfig, ScheduleConfig, TrainConfig};

pub use errors::{ConfigError, KeyNote, Location, invalid};
pub use find::{closest, config_dirs, experiment_names, resolve_experiment};
pub use overrides::parse_with_overrides;

use crate::backend::{BackendConfig, BackendKind};
use crate::error::Error;
use crate::registry::ModelKind;

/// One experiment: what `zoo train <name>` runs. The file `configs/<name>.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// One line on what the experiment is for (shown by `zoo list`).
    #[serde(default)]
    pub description: String,
    /// The architecture and its hyper-parameters (`kind` names the model crate).
    pub model: ModelKind,
    /// The data.
    #[serde(default)]
    pub data: DataConfig,
    /// Epochs, batches, seeds.
    #[serde(default)]
    pub train: TrainConfig,
    /// The optimizer.
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule.
    #[serde(default)]
    pub schedule: ScheduleConfig,
    /// Gradient clipping.
    #[serde(default)]
    pub clip: ClipConfig,
    /// Divergence guard and plateau warning.
    #[serde(default)]
    pub guard: GuardConfig,
    /// The backend that runs it.
    #[serde(default)]
    pub backend: BackendConfig,
}

impl ExperimentConfig {
    /// Checks what serde cannot (ranges, sizes that must fit together).
    pub fn validate(&self) -> Result<(), Error> {
        self.model.validate()?;
        self.data.validate()?;
        self.train.validate()?;
        self.optimizer.validate()?;
        self.schedule
            .validate(self.optimizer.lr, self.train.epochs)?;
        self.clip.validate()?;
        self.guard.validate()?;
        if self.train.early_stopping.is_some() && self.data.valid_fraction == 0.0 {
            return Err(Error::invalid(
                "train.early_stopping",
                " watches the validation loss, but data.valid_fraction = 0 holds out no \
                 validation split: set data.valid_fraction > 0 or remove train.early_stopping",
            ));
        }
        self.check_model_fit()?;
        Ok(self.backend.validate()?)
    }

    /// What only the model and the data together decide: sizes against this machine's
    /// memory, and the keys that apply to images or to sequences only.
    fn check_model_fit(&self) -> Result<(), Error> {
        let shape = self.model.input_shape();
        let item = crate::limits::elements(&shape) * 4.0;
        let memory = crate::limits::total_memory();
        crate::limits::check_fits(
            "model (in_channels, image_size or length)",
            &format!("one input item of shape {shape:?}"),
            item,
            memory,
        )?;
        if let BatchSize::Items(n) = self.train.batch_size {
            crate::limits::check_fits(
                "train.batch_size",
                &format!("one batch of {n} inputs of shape {shape:?} (the inputs alone)"),
                item * n as f64,
                memory,
            )?;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if self.train.num_workers > (4 * cores).max(64) {
            return Err(Error::invalid(
                "train.num_workers",
                format!(
                    " = {} data-loading threads is far more than this machine's {cores} cores \
                     can use (at most {} accepted)",
                    self.train.num_workers,
                    (4 * cores).max(64)
                ),
            ));
        }
        let Some(spec) = self.model.data_spec() else {
            return Ok(());
        };
        if spec.classes < 2 {
            return Err(Error::invalid(
                "model.num_classes",
                format!(
                    " = {} cannot be trained as a classifier: a classifier needs at least 2 \
                     classes",
                    spec.classes
                ),
            ));
        }
        let sequences = spec.shape.len() == 2;
        if self.data.kind == DataKind::Synthetic {
            let bytes_per_value = if sequences { 4.0 } else { 1.0 };
            crate::limits::check_fits(
                "data.synthetic_items",
                &format!("{} generated items", self.data.synthetic_items),
                crate::limits::elements(&shape)
                    * bytes_per_value
                    * self.data.synthetic_items as f64,
                memory,
            )?;
        }
        let model = self.model.name();
        if sequences {
            let pixel_keys = [
                ("augment", self.data.augment),
                ("random_erasing", self.data.random_erasing > 0.0),
                ("mean", self.data.mean.is_some()),
                (
                    "normalize",
                    self.data.normalize != NormalizeKind::Standardize,
                ),
            ];
            if let Some((key, _)) = pixel_keys.iter().find(|(_, set)| *set) {
                return Err(Error::invalid(
                    format!("data.{key}"),
                    format!(
                        " applies to images, but model `{model}` takes sequences {shape:?} \
                         (standardised per channel with the training split's statistics)"
                    ),
                ));
            }
        } else if let Some(mean) = &self.data.mean {
            let channels = spec.shape[0];
            for (key, values) in [
                ("mean", mean),
                ("std", self.data.std.as_ref().unwrap_or(mean)),
            ] {
                if values.len() != channels {
                    return Err(Error::invalid(
                        format!("data.{key}"),
                        format!(
                            " has {} value(s) but model `{model}` takes {channels} channel(s) \
                             (model.in_channels): give one value per channel",
                            values.len()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A config file read and resolved: the experiment, where it came from, what was overridden.
#[derive(Debug, Clone)]
pub struct ResolvedExperiment {
    /// The experiment name (file stem).
    pub name: String,
    /// The file it was read from.
    pub path: PathBuf,
    /// The config after overrides.
    pub config: ExperimentConfig,
    /// The `--set` overrides applied, in order.
    pub overrides: Vec<String>,
}

/// Loads an experiment by name or path, applies `--backend` and `--set`, and validates it.
pub fn load_experiment(
    name_or_path: &str,
    backend: Option<BackendKind>,
    overrides: &[String],
) -> Result<ResolvedExperiment, ConfigError> {
    let path = resolve_experiment(name_or_path)?;
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let mut all = overrides.to_vec();
    if let Some(kind) = backend {
        all.push(format!("backend.kind={}", kind.name()));
    }
    let mut config: ExperimentConfig = parse_with_overrides(&path, &text, &all)?;
    // `--backend <cpu kind>` on a config written for a GPU: its GPU ordinals mean nothing
    // there; the flag's choice wins, and says what it dropped.
    if backend.is_some_and(|kind| !kind.is_gpu())
        && (config.backend.index.is_some() || !config.backend.devices.is_empty())
    {
        eprintln!(
            "note: --backend {} runs on the CPU: {}'s backend.index/devices not used",
            config.backend.kind.name(),
            path.display()
        );
        config.backend.index = None;
        config.backend.devices.clear();
    }
    config
        .validate()
        .map_err(|message| invalid(&path, &text, &all, message))?;
    let name = path.file_stem().map_or_else(
        || name_or_path.to_string(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    Ok(ResolvedExperiment {
        name,
        path,
        config,
        overrides: all,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::errors::{key_at, location};
    use super::*;

    const MINIMAL: &str = "[model]\nkind = \"pointwise-conv\"\n\n[train]\nepochs = 3\n";

    fn parse(text: &str, overrides: &[&str]) -> Result<ExperimentConfig, ConfigError> {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        parse_with_overrides(Path::new("configs/x.toml"), text, &overrides)
    }

    #[test]
    fn unknown_key_names_file_line_column_and_key() {
        let text = "[model]\nkind = \"pointwise-conv\"\n\n[train]\nepochs = 3\nepoch = 4\n";
        let message = parse(text, &[]).unwrap_err().to_string();
        assert!(
            message.starts_with("configs/x.toml:6:1 (key `train.epoch`)"),
            "{message}"
        );
        assert!(message.contains("unknown field `epoch`"), "{message}");
        assert!(message.contains("epochs"), "{message}");
    }

    #[test]
    fn early_stopping_without_validation_split_is_rejected() {
        let config = parse(
            MINIMAL,
            &["train.early_stopping=2", "data.valid_fraction=0.0"],
        )
        .unwrap();
        let error = config.validate().unwrap_err();
        assert!(
            error.to_string().contains("data.valid_fraction = 0"),
            "{error}"
        );
        assert_eq!(error.config_key().as_deref(), Some("train.early_stopping"));
        let with_validation = parse(MINIMAL, &["train.early_stopping=2"]).unwrap();
        assert!(with_validation.validate().is_ok());
    }

    #[test]
    fn wrong_type_names_the_key_and_expected_type() {
        let text = "[model]\nkind = \"pointwise-conv\"\n[train]\nbatch_size = \"big\"\n";
        let message = parse(text, &[]).unwrap_err().to_string();
        assert!(message.starts_with("configs/x.toml:4:"), "{message}");
        assert!(message.contains("train.batch_size"), "{message}");
        assert!(
            message.contains("invalid value: string \"big\""),
            "{message}"
        );
    }

    #[test]
    fn overrides_apply_and_parse_values_as_toml() {
        let config = parse(
            MINIMAL,
            &[
                "train.epochs=1",
                "optimizer.lr=0.5",
                "backend.kind=wgpu-cpu",
                "data.augment=true",
            ],
        )
        .unwrap();
        assert_eq!(config.train.epochs, 1);
        assert_eq!(config.optimizer.lr, 0.5);
        assert_eq!(config.backend.kind, BackendKind::WgpuCpu);
        assert!(config.data.augment);
    }

    #[test]
    fn bad_override_names_the_key_and_expected_type() {
        let message = parse(MINIMAL, &["train.epochs=abc"])
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("--set train.epochs=abc"), "{message}");
        assert!(message.contains("train.epochs"), "{message}");
        assert!(message.contains("expected usize"), "{message}");

        let message = parse(MINIMAL, &["train.epoch=1"]).unwrap_err().to_string();
        assert!(message.contains("unknown field `epoch`"), "{message}");

        let message = parse(MINIMAL, &["train.epochs"]).unwrap_err().to_string();
        assert!(message.contains("expected KEY=VALUE"), "{message}");

        let message = parse(MINIMAL, &["train.epochs.x=1"])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("`train.epochs` is a value, not a table"),
            "{message}"
        );
    }

    #[test]
    fn unknown_backend_kind_lists_the_valid_ones() {
        let message = parse(MINIMAL, &["backend.kind=tpu"])
            .unwrap_err()
            .to_string();
        for kind in BackendKind::ALL {
            assert!(message.contains(kind.name()), "{message}");
        }
    }

    #[test]
    fn resolved_config_round_trips_through_toml() {
        let config = parse(MINIMAL, &["model.out_channels=8", "data.limit=100"]).unwrap();
        let text = toml::to_string(&config).unwrap();
        assert_eq!(toml::from_str::<ExperimentConfig>(&text).unwrap(), config);
    }

    #[test]
    fn closest_suggests_typos_only() {
        let names = ["cifar-inception", "binary-cnn", "fashion-inception"];
        assert_eq!(closest("cifar-incepton", names), Some("cifar-inception"));
        assert_eq!(closest("zzz", names), None);
    }

    #[test]
    fn location_and_key_at_point_into_the_text() {
        let text = "[a]\nx = 1\n[b.c]\ny = 2\n";
        let offset = text.find("y =").unwrap();
        assert_eq!(location(text, offset), Location { line: 4, column: 1 });
        assert_eq!(key_at(text, offset).as_deref(), Some("b.c.y"));
    }
}
