//! zoo-cli's error type: why a command cannot go on, by kind, each naming the key, file or
//! value at fault. The commands themselves return `anyhow::Result` and add context; the
//! library functions below them (registry, config checks, limits, Keras files, backends)
//! return this, so a caller can tell a model's bad key from a backend without a device.

use std::path::PathBuf;

use crate::backend::BackendError;
use crate::units::human_bytes;

/// Why a zoo-cli function failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `[model]` value or an input shape the architecture cannot take.
    #[error(transparent)]
    Model(#[from] zoo_model::ModelError),
    /// The `[data]` table.
    #[error(transparent)]
    Data(#[from] zoo_data::DataError),
    /// The `[train]`, `[optimizer]`, `[schedule]`, `[clip]` or `[guard]` table.
    #[error(transparent)]
    Train(#[from] zoo_train::Error),
    /// The backend: not compiled in, or no device here.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Keys that parse but do not go together (the key named first is the one reported).
    #[error("{key}{message}")]
    Invalid {
        /// The config key (`backend.devices`, `data.mean`).
        key: String,
        /// The rest of the sentence, after the key.
        message: String,
    },
    /// A setting that would need more memory than this machine has.
    #[error(
        "{key}: {what} would take {} of memory, more than this machine's {}",
        human_bytes(*needed),
        human_bytes(*available)
    )]
    TooLarge {
        /// What decides the size (`train.batch_size`, `--batch`).
        key: String,
        /// What would take it.
        what: String,
        /// Bytes needed.
        needed: f64,
        /// Bytes this machine has.
        available: f64,
    },
    /// A command that needs classes, on a model without them.
    #[error(
        "model `{model}` is not a classifier ({output}): zoo train, eval and predict need a \
         model with classes ({classifiers})"
    )]
    NotAClassifier {
        /// The model.
        model: &'static str,
        /// What it outputs instead.
        output: String,
        /// The models that are classifiers.
        classifiers: String,
    },
    /// A batch of the other kind (sequences given to an image model).
    #[error("the model takes batches of rank {expected}, got {got}")]
    WrongBatch {
        /// The rank the model takes (batch first).
        expected: usize,
        /// What was given.
        got: String,
    },
    /// A Keras `.weights.h5` file that cannot be read, or does not fit the model.
    #[error("{}{message}", path.display())]
    Keras {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what was expected, after the path (`: layer …`, ` is not …`).
        message: String,
    },
    /// The device failed while running (a GPU runtime error at a sync).
    #[error("{message}")]
    Device {
        /// What the runtime said.
        message: String,
    },
    /// A command-line value that is not what the flag takes.
    #[error("`{value}` {expected}")]
    Argument {
        /// The value as typed.
        value: String,
        /// What it should be.
        expected: String,
    },
    /// The environment asks for something this build cannot do (`BURN_DEVICE`).
    #[error("{variable}={value:?}: {message}")]
    Environment {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What is wrong, and what to do.
        message: String,
    },
}

impl Error {
    /// A pair of keys that do not go together; `message` continues the sentence after `key`.
    pub fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The config key the error is about, where it names one: the config file's line is then
    /// shown beside it (`config::invalid`).
    pub fn config_key(&self) -> Option<String> {
        match self {
            Error::Model(error) => error.config_key(),
            Error::Backend(error) => error.config_key(),
            Error::Invalid { key, .. } if key.contains('.') => Some(key.clone()),
            Error::TooLarge { key, .. } if key.contains('.') && !key.contains(' ') => {
                Some(key.clone())
            }
            _ => None,
        }
    }
}

/// zoo-cli's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_their_key() {
        let model = Error::from(zoo_model::ModelError::key("filters", "must be at least 1"));
        assert_eq!(model.to_string(), "model.filters must be at least 1");
        assert_eq!(model.config_key().as_deref(), Some("model.filters"));
        let pair = Error::invalid("data.mean", " has 2 value(s)");
        assert_eq!(pair.to_string(), "data.mean has 2 value(s)");
        assert_eq!(pair.config_key().as_deref(), Some("data.mean"));
        let big = Error::TooLarge {
            key: "train.batch_size".into(),
            what: "one batch".into(),
            needed: 2.0 * (1u64 << 30) as f64,
            available: (1u64 << 30) as f64,
        };
        assert_eq!(
            big.to_string(),
            "train.batch_size: one batch would take 2.0 GiB of memory, more than this \
             machine's 1.0 GiB"
        );
        assert_eq!(big.config_key().as_deref(), Some("train.batch_size"));
        let flag = Error::TooLarge {
            key: "--batch".into(),
            what: "x".into(),
            needed: 2.0,
            available: 1.0,
        };
        assert_eq!(flag.config_key(), None);
    }
}
