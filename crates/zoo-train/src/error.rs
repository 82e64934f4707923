//! zoo-train's error type: what failed, by kind, with the file, key or value in the message,
//! so callers can match on the kind and tests can assert it.

use std::path::PathBuf;

/// Why a zoo-train operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value of `[train]`, `[optimizer]`, `[schedule]`, `[clip]`, `[guard]` or of a tool's
    /// flags that cannot work; the message names the key and what was expected.
    #[error("{0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path (`cannot read …`, `writing …`).
        context: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file was read but is not what it should be (a history that does not parse, a
    /// checkpoint whose checksum differs).
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Burn failed: a device, a tensor read back, a record written, a picture encoded.
    #[error("{0}")]
    Backend(String),
    /// A batch could not be loaded (Burn's data loader said why).
    #[error("reading a batch: {0}")]
    Batch(String),
    /// A picture could not be drawn or encoded.
    #[error("{0}")]
    Plot(String),
    /// There was nothing to compute on (an empty split).
    #[error("{0}")]
    Empty(String),
}

impl Error {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// A format error for `path`.
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
impl Error {
    /// The message of a [`Error::Config`]; panics on any other kind (the tests assert both).
    pub(crate) fn config(&self) -> &str {
        match self {
            Error::Config(message) => message,
            other => panic!("expected a Config error, got {other:?}"),
        }
    }
}
