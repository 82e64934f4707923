//! Experiment configs: finding them by name, reading them with errors that point at the
//! file, line, column and key, and applying `--set key=value` overrides.
//!
//! Each crate owns the serde struct of its own table; this module composes them into
//! [`ExperimentConfig`]. Every struct denies unknown fields, so a typo is an error, not a
//! silently ignored setting.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zoo_data::{DataConfig, DataKind, NormalizeKind};
use zoo_train::{BatchSize, ClipConfig, GuardConfig, OptimizerConfig, ScheduleConfig, TrainConfig};

use crate::backend::{BackendConfig, BackendKind};
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
    pub fn validate(&self) -> Result<(), String> {
        self.model.validate()?;
        self.data.validate().map_err(|error| error.to_string())?;
        let text = |error: zoo_train::Error| error.to_string();
        self.train.validate().map_err(text)?;
        self.optimizer.validate().map_err(text)?;
        self.schedule
            .validate(self.optimizer.lr, self.train.epochs)
            .map_err(text)?;
        self.clip.validate().map_err(text)?;
        self.guard.validate().map_err(text)?;
        if self.train.early_stopping.is_some() && self.data.valid_fraction == 0.0 {
            return Err("train.early_stopping watches the validation loss, but \
                        data.valid_fraction = 0 holds out no validation split: \
                        set data.valid_fraction > 0 or remove train.early_stopping"
                .into());
        }
        self.check_model_fit()?;
        self.backend.validate()
    }

    /// What only the model and the data together decide: sizes against this machine's
    /// memory, and the keys that apply to images or to sequences only.
    fn check_model_fit(&self) -> Result<(), String> {
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
            return Err(format!(
                "train.num_workers = {} data-loading threads is far more than this machine's \
                 {cores} cores can use (at most {} accepted)",
                self.train.num_workers,
                (4 * cores).max(64)
            ));
        }
        let Some(spec) = self.model.data_spec() else {
            return Ok(());
        };
        if spec.classes < 2 {
            return Err(format!(
                "model.num_classes = {} cannot be trained as a classifier: a classifier needs \
                 at least 2 classes",
                spec.classes
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
                return Err(format!(
                    "data.{key} applies to images, but model `{model}` takes sequences \
                     {shape:?} (standardised per channel with the training split's statistics)"
                ));
            }
        } else if let Some(mean) = &self.data.mean {
            let channels = spec.shape[0];
            for (key, values) in [
                ("mean", mean),
                ("std", self.data.std.as_ref().unwrap_or(mean)),
            ] {
                if values.len() != channels {
                    return Err(format!(
                        "data.{key} has {} value(s) but model `{model}` takes {channels} \
                         channel(s) (model.in_channels): give one value per channel",
                        values.len()
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A config that could not be found, read, parsed or validated.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No file and no experiment of that name.
    #[error("no experiment named `{name}` (looked for {looked_in}){suggestion}")]
    UnknownExperiment {
        /// What the user typed.
        name: String,
        /// Where we looked.
        looked_in: String,
        /// ", did you mean `x`?" or the list of experiments.
        suggestion: String,
    },
    /// The file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// TOML syntax, unknown key, or wrong type in the file.
    #[error("{path}:{location}{key}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// `line:column`.
        location: Location,
        /// ` (key `a.b`)` when the error is about one key.
        key: KeyNote,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A `--set` that is malformed or does not fit the config.
    #[error("--set {assignment}: {message}")]
    Override {
        /// The override as given.
        assignment: String,
        /// What was wrong and what was expected.
        message: String,
    },
    /// Values that parse but do not make sense together.
    #[error("{path}{at}: {message}")]
    Invalid {
        /// The file (and overrides).
        path: PathBuf,
        /// `:line:column (key `a.b`)` where the key the message names is written in the
        /// file, ` (--set a.b=…)` when an override set it, else empty.
        at: String,
        /// What was wrong.
        message: String,
    },
}

/// A 1-based line and column in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// The key an error is about, if known, printed as ` (key `train.epochs`)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyNote(pub Option<String>);

impl fmt::Display for KeyNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(key) => write!(f, " (key `{key}`)"),
            None => Ok(()),
        }
    }
}

/// Directories searched for `<name>.toml`, in order: `ZOO_CONFIG_DIR`, then `configs/` in the
/// current directory or any parent (the workspace root), then the workspace zoo was built from.
pub fn config_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("ZOO_CONFIG_DIR") {
        dirs.push(PathBuf::from(dir));
    }
    if let Ok(cwd) = std::env::current_dir()
        && let Some(found) = cwd
            .ancestors()
            .map(|dir| dir.join("configs"))
            .find(|dir| dir.is_dir())
    {
        dirs.push(found);
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    if let Ok(built_from) = built_from.canonicalize()
        && !dirs
            .iter()
            .any(|dir| dir.canonicalize().ok().as_ref() == Some(&built_from))
    {
        dirs.push(built_from);
    }
    dirs
}

/// Every experiment name (config stem) found in the config directories, sorted, unique.
pub fn experiment_names() -> Vec<String> {
    let mut names: Vec<String> = config_dirs()
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "toml").then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The closest of `candidates` to `name`, if it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::levenshtein(name, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(2))
        .min()
        .map(|(_, candidate)| candidate)
}

/// The file for an experiment given as a name (`cifar-inception`) or a path to a TOML file.
pub fn resolve_experiment(name_or_path: &str) -> Result<PathBuf, ConfigError> {
    let as_path = Path::new(name_or_path);
    if as_path.extension().is_some_and(|ext| ext == "toml") || as_path.components().count() > 1 {
        return Ok(as_path.to_path_buf());
    }
    let dirs = config_dirs();
    if let Some(found) = dirs
        .iter()
        .map(|dir| dir.join(format!("{name_or_path}.toml")))
        .find(|path| path.is_file())
    {
        return Ok(found);
    }
    let names = experiment_names();
    let suggestion = match closest(name_or_path, names.iter().map(String::as_str)) {
        Some(close) => format!("; did you mean `{close}`?"),
        None if names.is_empty() => String::new(),
        None => format!("; experiments: {}", names.join(", ")),
    };
    let looked_in = if dirs.is_empty() {
        "no config directory: set ZOO_CONFIG_DIR or run from the workspace".to_string()
    } else {
        dirs.iter()
            .map(|dir| format!("{}/{name_or_path}.toml", dir.display()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Err(ConfigError::UnknownExperiment {
        name: name_or_path.to_string(),
        looked_in,
        suggestion,
    })
}

/// 1-based line and column of a byte offset in `text`.
fn location(text: &str, offset: usize) -> Location {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    Location { line, column }
}

/// The dotted key at a byte offset of a TOML text: the last `[table]` header above it joined
/// with the bare key the offset is on. Good enough for the error messages of configs.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |nl| nl + 1);
    let line_end = text[offset..]
        .find('\n')
        .map_or(text.len(), |nl| offset + nl);
    let line = text[line_start..line_end].trim();
    let header = |line: &str| {
        line.strip_prefix('[')
            .and_then(|rest| rest.trim_end_matches(']').split(']').next())
            .map(|name| name.trim().to_string())
    };
    if let Some(table) = header(line) {
        return Some(table);
    }
    let key = line.split('=').next()?.trim().trim_matches('"');
    if key.is_empty() {
        return None;
    }
    let table = text[..line_start]
        .lines()
        .rev()
        .find_map(|line| header(line.trim()));
    Some(match table {
        Some(table) => format!("{table}.{key}"),
        None => key.to_string(),
    })
}

/// Where the dotted `key` (`data.mean`, `model.inception.branch1x1`) is written in a TOML
/// text: the line under its `[table]` header that assigns it.
fn locate_key(text: &str, key: &str) -> Option<Location> {
    let (table, name) = key.rsplit_once('.')?;
    let mut in_table = false;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_table = trimmed
                .trim_start_matches('[')
                .split(']')
                .next()
                .is_some_and(|header| header.trim() == table);
        } else if in_table
            && trimmed
                .split('=')
                .next()
                .is_some_and(|lhs| trimmed.contains('=') && lhs.trim().trim_matches('"') == name)
        {
            let indent = line.len() - line.trim_start().len();
            return Some(location(text, offset + indent));
        }
        offset += line.len();
    }
    None
}

/// The first dotted config key a validation message names (`data.mean must …`).
fn key_in_message(message: &str) -> Option<&str> {
    message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .find(|word| {
            let parts: Vec<&str> = word.split('.').collect();
            parts.len() >= 2
                && parts[0].chars().all(|c| c.is_ascii_lowercase())
                && !parts[0].is_empty()
                && parts.iter().all(|p| !p.is_empty())
                && !parts.iter().any(|p| p.chars().all(|c| c.is_ascii_digit()))
        })
}

/// Parses TOML text into `T`, turning errors into ones that name `path`, line, column and key.
fn parse_text<T: for<'de> Deserialize<'de>>(path: &Path, text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        let message = error.message().trim().to_string();
        let mut at = location(text, span.start);
        let mut key = key_at(text, span.start);
        // A key refused by a whole-table check (a kind's keys) is reported at the table:
        // point at the key itself.
        if let Some(field) = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
            && let Some(table) = key.as_deref().map(|k| {
                if text[..span.start.min(text.len())].trim_end().ends_with(']') || !k.contains('.')
                {
                    k.to_string()
                } else {
                    k.rsplit_once('.').map_or(k, |(t, _)| t).to_string()
                }
            })
            && let Some(found) = locate_key(text, &format!("{table}.{field}"))
        {
            at = found;
            key = Some(format!("{table}.{field}"));
        }
        ConfigError::Parse {
            path: path.to_path_buf(),
            location: at,
            key: KeyNote(key),
            message,
        }
    })
}

/// A validation message as an error that points at the key it names: in the file, or the
/// override that set it.
pub fn invalid(path: &Path, text: &str, overrides: &[String], message: String) -> ConfigError {
    let key = key_in_message(&message);
    let overridden = key.and_then(|key| {
        overrides.iter().rev().find(|assignment| {
            assignment
                .split_once('=')
                .is_some_and(|(set, _)| set.trim() == key)
        })
    });
    let at = match (overridden, key.and_then(|key| locate_key(text, key))) {
        (Some(assignment), _) => format!(" (--set {assignment})"),
        (None, Some(location)) => format!(":{location} (key `{}`)", key.unwrap_or_default()),
        (None, None) => String::new(),
    };
    ConfigError::Invalid {
        path: path.to_path_buf(),
        at,
        message,
    }
}

/// Splits `key=value` and parses the value as a TOML value (a bare word is a string).
fn parse_assignment(assignment: &str) -> Result<(Vec<String>, toml::Value), ConfigError> {
    let error = |message: &str| ConfigError::Override {
        assignment: assignment.to_string(),
        message: message.to_string(),
    };
    let (key, value) = assignment
        .split_once('=')
        .ok_or_else(|| error("expected KEY=VALUE, e.g. --set train.epochs=1"))?;
    let path: Vec<String> = key.trim().split('.').map(str::to_string).collect();
    if path.iter().any(String::is_empty) {
        return Err(error("the key must be dotted names, e.g. train.epochs"));
    }
    let value = value.trim();
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut table| table.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    Ok((path, parsed))
}

/// Sets `path` in `table` to `value`, creating tables on the way.
fn set_path(
    table: &mut toml::Table,
    path: &[String],
    value: toml::Value,
    assignment: &str,
) -> Result<(), ConfigError> {
    let (last, parents) = path
        .split_last()
        .expect("parse_assignment rejects empty keys");
    let mut current = table;
    for (depth, name) in parents.iter().enumerate() {
        let entry = current
            .entry(name.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry.as_table_mut().ok_or_else(|| ConfigError::Override {
            assignment: assignment.to_string(),
            message: format!("`{}` is a value, not a table", path[..=depth].join(".")),
        })?;
    }
    current.insert(last.clone(), value);
    Ok(())
}

/// Reads `T` from the TOML `text` of `path`, then applies `overrides` (`key=value`).
///
/// Errors in the file point at the file; errors that only the overrides cause name the
/// override, its key and what the key expects.
pub fn parse_with_overrides<T>(
    path: &Path,
    text: &str,
    overrides: &[String],
) -> Result<T, ConfigError>
where
    T: Serialize + for<'de> Deserialize<'de>,
{
    let from_file: T = parse_text(path, text)?;
    if overrides.is_empty() {
        return Ok(from_file);
    }
    // Overrides apply to what the file says, not to its resolved defaults: switching
    // `optimizer.kind` then brings the new kind's defaults, not the old kind's keys.
    let mut table: toml::Table = parse_text(path, text)?;
    let mut assignments = Vec::new();
    for assignment in overrides {
        let (key, value) = parse_assignment(assignment)?;
        set_path(&mut table, &key, value, assignment)?;
        assignments.push((key.join("."), assignment));
    }
    // A `--set <table>.kind=…` switches kind: the file's keys of that table that the new kind
    // does not read are dropped, and said so (they were written for the file's kind).
    let mut dropped = Vec::new();
    let (merged, parsed) = loop {
        let merged = toml::to_string(&table).map_err(|error| ConfigError::Invalid {
            path: path.to_path_buf(),
            at: String::new(),
            message: error.to_string(),
        })?;
        let parsed = toml::from_str::<T>(&merged);
        let Err(error) = &parsed else {
            break (merged, parsed);
        };
        let span = error.span().unwrap_or(0..0);
        let field = error
            .message()
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string);
        let section =
            key_at(&merged, span.start).map(|k| k.split('.').next().unwrap_or("").to_string());
        let switched = |section: &str| {
            assignments
                .iter()
                .any(|(set, _)| set == &format!("{section}.kind"))
        };
        let droppable = match (&section, &field) {
            (Some(section), Some(field)) => {
                switched(section)
                    && error.message().contains("does not apply to kind")
                    && !assignments
                        .iter()
                        .any(|(set, _)| set == &format!("{section}.{field}"))
            }
            _ => false,
        };
        let (Some(section), Some(field), true) = (section, field, droppable) else {
            break (merged, parsed);
        };
        let removed = table
            .get_mut(&section)
            .and_then(|value| value.as_table_mut())
            .and_then(|t| t.remove(&field));
        if removed.is_none() {
            break (merged, parsed);
        }
        dropped.push(format!("{section}.{field}"));
    };
    if !dropped.is_empty() {
        eprintln!(
            "note: {} from {} not used: the kind set by --set does not read them",
            dropped.join(", "),
            path.display()
        );
    }
    parsed.map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        let mut key = key_at(&merged, span.start);
        if let (Some(table), Some(field)) = (
            &key,
            error
                .message()
                .strip_prefix("unknown field `")
                .and_then(|rest| rest.split('`').next()),
        ) && table != field
            && !table.ends_with(&format!(".{field}"))
        {
            key = Some(format!("{table}.{field}"));
        }
        // Blame the override whose key is (or contains, or is inside) the failing key.
        let blamed = assignments.iter().rev().find(|(set, _)| match &key {
            Some(key) => key.starts_with(set.as_str()) || set.starts_with(key.as_str()),
            None => false,
        });
        let assignment = blamed.or(assignments.last()).map(|(_, a)| a.to_string());
        ConfigError::Override {
            assignment: assignment.unwrap_or_default(),
            message: match key {
                Some(key) => format!("key `{key}`: {}", error.message().trim()),
                None => error.message().trim().to_string(),
            },
        }
    })
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
        assert!(error.contains("data.valid_fraction = 0"), "{error}");
        let with_validation = parse(MINIMAL, &["train.early_stopping=2"]).unwrap();
        assert_eq!(with_validation.validate(), Ok(()));
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
