//! Burn's file checkpointer, made atomic: each record is written to a temp file in the same
//! directory and renamed, so a run killed while checkpointing never leaves a truncated
//! `model-N.bpk` that `--resume` would then fail to load. Each record also gets a SHA-256
//! beside it (`model-N.bpk.sha256`, written before the record is renamed into place), so a
//! record damaged later (a bad disk, a copy cut short) is told from an intact one and
//! `--resume` falls back to the previous epoch.

use std::path::{Path, PathBuf};

use crate::error::Error;
use burn::train::checkpoint::{Checkpoint, Checkpointer, CheckpointerError};
use sha2::{Digest, Sha256};

/// The checksum file of a checkpoint record: `<record>.sha256`.
pub fn checksum_path(record: &Path) -> PathBuf {
    let mut name = record.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

fn sha256_hex(path: &Path) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Checks a record against its checksum file: `Ok(true)` when they match, `Ok(false)` when the
/// record has none (written by a zoo from before checksums, or copied without it); `Err` says
/// what is wrong.
pub fn verify(record: &Path) -> Result<bool, Error> {
    let sum = checksum_path(record);
    let expected = match std::fs::read_to_string(&sum) {
        Ok(text) => text.trim().to_string(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(Error::io(format!("cannot read {}", sum.display()), error)),
    };
    let found = sha256_hex(record)
        .map_err(|error| Error::io(format!("cannot read {}", record.display()), error))?;
    if found != expected {
        return Err(Error::format(
            record,
            format!(
                "checksum mismatch (SHA-256 {found}, recorded in {} {expected}): the file is \
                 damaged",
                sum.display()
            ),
        ));
    }
    Ok(true)
}

/// The SHA-256 of `path`'s bytes, as `<path>.sha256` holds it (lowercase hex and a newline).
pub(crate) fn checksum_line(path: &Path) -> std::io::Result<String> {
    Ok(format!("{}\n", sha256_hex(path)?))
}

/// `<dir>/<name>-<epoch>.bpk`, written atomically.
pub struct AtomicCheckpointer {
    directory: PathBuf,
    name: String,
}

impl AtomicCheckpointer {
    /// Checkpoints named `<name>-<epoch>.bpk` in `directory` (created if missing).
    pub fn new(directory: &Path, name: &str) -> Self {
        std::fs::create_dir_all(directory).ok();
        Self {
            directory: directory.to_path_buf(),
            name: name.to_string(),
        }
    }

    fn path(&self, epoch: usize) -> PathBuf {
        self.directory.join(format!("{}-{epoch}.bpk", self.name))
    }
}

impl<R: Checkpoint> Checkpointer<R> for AtomicCheckpointer {
    fn save(&self, epoch: usize, record: R) -> Result<(), CheckpointerError> {
        let path = self.path(epoch);
        let temp = self.directory.join(format!(
            ".{}-{epoch}.tmp-{}.bpk",
            self.name,
            std::process::id()
        ));
        record.save(temp.clone())?;
        let sum = checksum_line(&temp).map_err(CheckpointerError::IOError)?;
        crate::atomic::write_atomic(&checksum_path(&path), sum.as_bytes())
            .map_err(CheckpointerError::IOError)?;
        std::fs::rename(&temp, &path).map_err(CheckpointerError::IOError)
    }

    fn delete(&self, epoch: usize) -> Result<(), CheckpointerError> {
        let path = self.path(epoch);
        if path.exists() {
            std::fs::remove_file(&path).map_err(CheckpointerError::IOError)?;
        }
        let sum = checksum_path(&path);
        if sum.exists() {
            std::fs::remove_file(sum).map_err(CheckpointerError::IOError)?;
        }
        Ok(())
    }

    fn restore(&self, epoch: usize) -> Result<R, CheckpointerError> {
        let path = self.path(epoch);
        verify(&path).map_err(|error| CheckpointerError::Unknown(error.to_string()))?;
        R::load(path)
    }
}
