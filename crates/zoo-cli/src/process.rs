//! What the binary's `main` decides before any thread starts, as functions it can test: here
//! the private runtime directory (the environment itself is set in `main.rs`).

use std::path::{Path, PathBuf};

/// `<base>/zoo-runtime-<uid>`, created with mode 0700 when missing, if it is ours alone: a
/// directory (not a symlink), owned by this user, closed to others. Anything else (another
/// user's directory planted under that name, a symlink, one open to others) is `None`: the
/// caller then leaves `XDG_RUNTIME_DIR` unset rather than trust it.
#[cfg(unix)]
pub fn private_runtime_dir(base: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let dir = base.join(format!("zoo-runtime-{uid}"));
    // Not recursive: an existing path is checked below, never changed.
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    (meta.file_type().is_dir() && meta.uid() == uid && meta.mode() & 0o077 == 0).then_some(dir)
}

/// No runtime directory off Unix (libwayland is a Unix library).
#[cfg(not(unix))]
pub fn private_runtime_dir(_base: &Path) -> Option<PathBuf> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn name() -> String {
        // SAFETY: geteuid has no preconditions.
        format!("zoo-runtime-{}", unsafe { libc::geteuid() })
    }

    #[test]
    fn a_fresh_directory_is_created_private() {
        let base = tempfile::tempdir().unwrap();
        let dir = private_runtime_dir(base.path()).unwrap();
        assert_eq!(dir, base.path().join(name()));
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // Again: the same directory, still accepted.
        assert_eq!(private_runtime_dir(base.path()), Some(dir));
    }

    #[test]
    fn a_directory_open_to_others_or_a_symlink_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let planted = base.path().join(name());
        std::fs::create_dir(&planted).unwrap();
        std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(private_runtime_dir(base.path()), None);

        let base = tempfile::tempdir().unwrap();
        let elsewhere = base.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, base.path().join(name())).unwrap();
        assert_eq!(private_runtime_dir(base.path()), None);
    }

    /// Another user's directory under our name (only root can make one to test with).
    #[test]
    fn another_users_directory_is_refused() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        let base = tempfile::tempdir().unwrap();
        let planted = base.path().join(name());
        std::fs::create_dir(&planted).unwrap();
        std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&planted, Some(65534), Some(65534)).unwrap();
        assert_eq!(private_runtime_dir(base.path()), None);
    }
}
