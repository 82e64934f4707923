//! zoo-data's error type: why data could not be loaded, by kind.

use std::path::PathBuf;

/// Why data could not be loaded. Every variant names the file (or key) and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file or directory could not be created or written (an output, a download's cache).
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file was read but its content is not what its format requires.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what was expected.
        message: String,
    },
    /// The data set is not where it should be (and could not be downloaded).
    #[error("{message}")]
    Missing {
        /// What is missing and where to put it.
        message: String,
    },
    /// The `[data]` table asks for something that cannot work.
    #[error("{0}")]
    Config(String),
}

impl DataError {
    /// A format error for `path`.
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        DataError::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A write error for `path` (creating it, or the directory it goes in).
    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Write {
            path: path.into(),
            source,
        }
    }

    /// A read error for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}
