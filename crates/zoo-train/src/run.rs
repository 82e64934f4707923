//! The run directory `artifacts/<experiment>/<YYYYmmdd-HHMMSS>/` and the files in it, every
//! one written atomically (temp file in the same directory, then rename).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::atomic::write_atomic;
use crate::error::Error;

/// The first line of a run's config.toml, before the experiment's name: a TOML comment, so the
/// file stays the resolved config that `zoo train FILE` reads.
pub const EXPERIMENT_LINE: &str = "# experiment: ";

/// The files of one run, by name.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The directory itself.
    pub path: PathBuf,
}

impl RunDir {
    /// Creates `root/<experiment>/<YYYYmmdd-HHMMSS>` (UTC) holding `config` (the resolved
    /// experiment, TOML) as `config.toml`; a second run within the same second gets a `-2`,
    /// `-3`, ... suffix rather than sharing a directory. Every file of a run directory is
    /// written by this crate (this, the trainer and [`crate::save_weights`]).
    /// The experiment's name is recorded in config.toml's first line ([`EXPERIMENT_LINE`]), so
    /// that a run directory moved elsewhere keeps its name ([`RunDir::experiment`]).
    pub fn create(root: &Path, experiment: &str, config: &str) -> Result<RunDir, Error> {
        let base = root.join(experiment);
        let run = Self::new_directory(&base).map_err(|error| {
            Error::io(
                format!("creating a run directory under {}", base.display()),
                error,
            )
        })?;
        run.write_config(&format!("{EXPERIMENT_LINE}{experiment}\n{config}"))?;
        Ok(run)
    }

    /// The experiment this run belongs to, from what the run recorded: `summary.json`'s
    /// `experiment`, else config.toml's first line ([`EXPERIMENT_LINE`]); only a run written
    /// before either existed is named by the directory above it (`artifacts/<experiment>/`),
    /// which moving the run changes.
    pub fn experiment(&self) -> Option<String> {
        let recorded = std::fs::read_to_string(self.summary())
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|summary| summary.get("experiment")?.as_str().map(str::to_string));
        recorded
            .or_else(|| {
                let text = std::fs::read_to_string(self.config()).ok()?;
                let name = text.lines().next()?.strip_prefix(EXPERIMENT_LINE)?.trim();
                (!name.is_empty()).then(|| name.to_string())
            })
            .or_else(|| {
                let parent = self.path.parent()?.file_name()?;
                Some(parent.to_string_lossy().into_owned())
            })
    }

    /// `path` (created if missing) as a run directory holding `config` as `config.toml`:
    /// `zoo import --to DIR`, whose weights then go to [`model`](Self::model).
    pub fn create_at(path: &Path, config: &str) -> Result<RunDir, Error> {
        std::fs::create_dir_all(path)
            .map_err(|error| Error::io(format!("creating {}", path.display()), error))?;
        let run = RunDir {
            path: path.to_path_buf(),
        };
        run.write_config(config)?;
        Ok(run)
    }

    fn write_config(&self, config: &str) -> Result<(), Error> {
        write_atomic(&self.config(), config.as_bytes())
            .map_err(|error| Error::io(format!("writing {}", self.config().display()), error))
    }

    fn new_directory(base: &Path) -> std::io::Result<RunDir> {
        std::fs::create_dir_all(base)?;
        let stamp = timestamp(SystemTime::now());
        for attempt in 1.. {
            let name = match attempt {
                1 => stamp.clone(),
                n => format!("{stamp}-{n}"),
            };
            let path = base.join(name);
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(RunDir { path }),
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(error),
            }
        }
        unreachable!("an unbounded range ends only by returning")
    }

    /// An existing run directory (for `--resume`, `zoo eval`, `zoo predict`).
    pub fn open(path: &Path) -> Result<RunDir, Error> {
        if !path.join("config.toml").is_file() {
            return Err(Error::format(
                path,
                "not a run directory: it has no config.toml (expected \
                 artifacts/<experiment>/<YYYYmmdd-HHMMSS>/ written by `zoo train`)",
            ));
        }
        Ok(RunDir {
            path: path.to_path_buf(),
        })
    }

    /// The resolved experiment config.
    pub fn config(&self) -> PathBuf {
        self.path.join("config.toml")
    }
    /// One row per epoch and split.
    pub fn metrics_csv(&self) -> PathBuf {
        self.path.join("metrics.csv")
    }
    /// Every training step (loss, gradient norm, learning rate).
    pub fn steps_csv(&self) -> PathBuf {
        self.path.join("steps.csv")
    }
    /// Loss, accuracy, learning rate and gradient norm per epoch.
    pub fn curves(&self) -> PathBuf {
        self.path.join("curves.png")
    }
    /// The best weights (lowest validation loss).
    pub fn model(&self) -> PathBuf {
        self.path.join("model.bpk")
    }
    /// Final and best metrics, throughput, backend, revision.
    pub fn summary(&self) -> PathBuf {
        self.path.join("summary.json")
    }
    /// Burn's checkpoints (`model-N.bpk`, `optim-N.bpk`, `scheduler-N.bpk`).
    pub fn checkpoints(&self) -> PathBuf {
        self.path.join("checkpoint")
    }
    /// The model checkpoint of `epoch`.
    pub fn model_checkpoint(&self, epoch: usize) -> PathBuf {
        self.checkpoints().join(format!("model-{epoch}.bpk"))
    }

    /// Epochs whose model, optimizer and scheduler checkpoints all exist, ascending.
    pub fn complete_checkpoints(&self) -> Vec<usize> {
        let Ok(entries) = std::fs::read_dir(self.checkpoints()) else {
            return Vec::new();
        };
        let mut epochs: Vec<usize> = entries
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                name.strip_prefix("model-")?
                    .strip_suffix(".bpk")?
                    .parse()
                    .ok()
            })
            .filter(|epoch| {
                ["optim", "scheduler"].iter().all(|kind| {
                    self.checkpoints()
                        .join(format!("{kind}-{epoch}.bpk"))
                        .is_file()
                })
            })
            .collect();
        epochs.sort_unstable();
        epochs
    }

    /// Complete checkpoints whose three records match their checksums, ascending, and the
    /// damaged ones with what is wrong (`model-6.bpk: checksum mismatch …`).
    pub fn intact_checkpoints(&self) -> (Vec<usize>, Vec<(usize, String)>) {
        let mut intact = Vec::new();
        let mut damaged = Vec::new();
        for epoch in self.complete_checkpoints() {
            let problem = ["model", "optim", "scheduler"].iter().find_map(|kind| {
                let record = self.checkpoints().join(format!("{kind}-{epoch}.bpk"));
                crate::checkpoint::verify(&record)
                    .err()
                    .map(|error| error.to_string())
            });
            match problem {
                None => intact.push(epoch),
                Some(problem) => damaged.push((epoch, problem)),
            }
        }
        (intact, damaged)
    }
}

/// `YYYYmmdd-HHMMSS` in UTC.
pub fn timestamp(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The git revision of the working directory (with `-dirty` when it has changes), or
/// "unknown" outside a git checkout.
pub fn git_revision() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    match run(&["rev-parse", "HEAD"]) {
        Some(revision) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|status| !status.is_empty());
            if dirty {
                format!("{revision}-dirty")
            } else {
                revision
            }
        }
        None => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(timestamp(UNIX_EPOCH), "19700101-000000");
        // 2026-11-27 05:36:51 UTC
        let t = UNIX_EPOCH + Duration::from_secs(1_795_757_811);
        assert_eq!(timestamp(t), "20261127-053651");
        // 2000-02-29 (leap day) 23:59:59
        let t = UNIX_EPOCH + Duration::from_secs(951_868_799);
        assert_eq!(timestamp(t), "20000229-235959");
    }

    #[test]
    fn run_dirs_never_collide() {
        let root = tempfile::tempdir().unwrap();
        let a = RunDir::create(root.path(), "exp", "description = \"\"\n").unwrap();
        let b = RunDir::create(root.path(), "exp", "description = \"\"\n").unwrap();
        assert_ne!(a.path, b.path);
        assert!(a.path.is_dir() && b.path.is_dir());
        assert_eq!(
            std::fs::read_to_string(a.config()).unwrap(),
            "# experiment: exp\ndescription = \"\"\n"
        );
        // moved under another experiment's folder, the run keeps its own name
        let moved = root.path().join("other").join("run");
        std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
        std::fs::rename(&a.path, &moved).unwrap();
        assert_eq!(
            RunDir::open(&moved).unwrap().experiment().as_deref(),
            Some("exp")
        );
    }
}
