//! Finding an experiment's file by name, with a suggestion for a typo.

use std::path::{Path, PathBuf};

use super::errors::ConfigError;

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
