//! Errors that point at a config's file, line, column and key.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;

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

/// 1-based line and column of a byte offset in `text`.
pub(super) fn location(text: &str, offset: usize) -> Location {
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
pub(super) fn key_at(text: &str, offset: usize) -> Option<String> {
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
pub(super) fn locate_key(text: &str, key: &str) -> Option<Location> {
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
pub(super) fn key_in_message(message: &str) -> Option<&str> {
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
pub(super) fn parse_text<T: for<'de> Deserialize<'de>>(
    path: &Path,
    text: &str,
) -> Result<T, ConfigError> {
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

/// A validation error as one that points at the key it names: in the file, or the override
/// that set it. The key is the error's own where it carries one (a model's key, a pair of keys
/// that do not go together), else the first dotted key its message names.
pub fn invalid(path: &Path, text: &str, overrides: &[String], error: Error) -> ConfigError {
    let message = error.to_string();
    let key = error
        .config_key()
        .or_else(|| key_in_message(&message).map(str::to_string));
    let key = key.as_deref();
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
