//! Names to things: a model or experiment name to its model (with overrides), and the device
//! the inspection commands run on.

use anyhow::{Result, bail};
use burn::tensor::Device;

use crate::backend::{self, BackendConfig, BackendKind};
use crate::config::{self, ConfigError};
use crate::registry::ModelKind;

/// The device for summaries and listings: the configured backend, else flex, else ndarray.
pub(crate) fn device_for(kind: Option<BackendKind>) -> Result<Device> {
    let kinds = match kind {
        Some(kind) => vec![kind],
        None => vec![BackendKind::Flex, BackendKind::Ndarray],
    };
    let mut last_error = None;
    for kind in kinds {
        match backend::open_device(&BackendConfig {
            kind,
            ..BackendConfig::default()
        }) {
            Ok(device) => return Ok(device),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.expect("at least one kind was tried").into())
}

/// A registry model by name (with `--set model.KEY=…` applied), else an experiment's `[model]`
/// (and its backend); an unknown name is an error suggesting the closest one.
pub(crate) fn model_or_experiment(
    name: &str,
    set: &[String],
    backend: Option<BackendKind>,
) -> Result<(ModelKind, Option<BackendKind>)> {
    if let Some(model) = ModelKind::by_name(name) {
        let table = toml::to_string(&serde_json::json!({ "model": model }))?;
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ModelOnly {
            model: ModelKind,
        }
        let parsed: ModelOnly =
            config::parse_with_overrides(std::path::Path::new(name), &table, set)?;
        parsed.model.validate().map_err(anyhow::Error::msg)?;
        return Ok((parsed.model, backend));
    }
    match config::load_experiment(name, backend, set) {
        Ok(resolved) => Ok((resolved.config.model, Some(resolved.config.backend.kind))),
        Err(ConfigError::UnknownExperiment { .. }) => {
            let names = ModelKind::names();
            let experiments = config::experiment_names();
            let candidates = names
                .iter()
                .copied()
                .chain(experiments.iter().map(String::as_str));
            match config::closest(name, candidates) {
                Some(close) => {
                    bail!("no model or experiment named `{name}`; did you mean `{close}`?")
                }
                None => bail!(
                    "no model or experiment named `{name}`; models: {}",
                    names.join(", ")
                ),
            }
        }
        Err(error) => Err(error.into()),
    }
}
