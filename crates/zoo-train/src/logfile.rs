//! `experiment.log` in the run directory: warnings and errors of Burn, CubeCL and wgpu. Burn's
//! own file logger also writes "Iteration N" at every training step, a formatted write on the
//! training thread that a fast GPU step should not pay, and can be installed only once per
//! process (a sweep's later runs got none); this one switches files per run.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, Once};

use burn::train::ApplicationLoggerInstaller;

/// The open `experiment.log` of the current run.
static FILE: Mutex<Option<File>> = Mutex::new(None);

struct WarningsLogger;

impl log::Log for WarningsLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut file = FILE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(file) = file.as_mut() {
            let _ = writeln!(
                file,
                "{} {} {}: {}",
                crate::run::timestamp(std::time::SystemTime::now()),
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {
        if let Some(file) = FILE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_mut()
        {
            let _ = file.flush();
        }
    }
}

/// Sends warnings and errors to `path` (appending) from now on.
pub struct WarningsLog {
    /// `experiment.log` of the run.
    pub path: PathBuf,
}

impl ApplicationLoggerInstaller for WarningsLog {
    fn install(&self) -> Result<(), String> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|error| format!("opening {}: {error}", self.path.display()))?;
        *FILE.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(file);
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            // Another logger set by the embedding program keeps its place.
            if log::set_logger(&WarningsLogger).is_ok() {
                log::set_max_level(log::LevelFilter::Warn);
            }
        });
        Ok(())
    }
}
