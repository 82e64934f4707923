//! Kind-tagged tables (`[optimizer]`, `[schedule]`): `kind` picks the variant and each
//! variant owns its keys; a key of another kind is refused with the kind named.

use serde::Deserialize;

/// Reads a kind-tagged table, with `kind = default_kind` when the table names none (so
/// `--set optimizer.lr=0.01` works on a config without an `[optimizer]` table).
pub(super) fn tagged<'de, D, T>(deserializer: D, default_kind: &str) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::de::Error;
    let mut table = toml::Table::deserialize(deserializer)?;
    let kind = table
        .entry("kind")
        .or_insert_with(|| toml::Value::String(default_kind.to_string()))
        .to_string();
    toml::Value::Table(table)
        .try_into()
        .map_err(|error: toml::de::Error| {
            let message = error.message().trim();
            let message = message.replace("there are no fields", "expected no key besides `kind`");
            match message.strip_prefix("unknown field ") {
                Some(rest) => D::Error::custom(format!(
                    "unknown field {}: it does not apply to kind = {kind}{}",
                    rest.split(',').next().unwrap_or(rest),
                    rest.find(',')
                        .map_or(String::new(), |at| format!(" ({})", rest[at + 1..].trim())),
                )),
                None => D::Error::custom(&message),
            }
        })
}
