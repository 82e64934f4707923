//! `--set key=value` overrides, applied to what the file says.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::errors::{ConfigError, key_at, parse_text};

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
