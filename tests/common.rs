//! Helpers shared by the workspace-level tests: running the built `zoo` binary as a user does,
//! and the devices every backend test compares.

use std::path::PathBuf;
use std::process::{Command, Output};

use burn::tensor::Device;

/// The `zoo` binary of this build (`target/<profile>/zoo`, next to the test's own `deps/`),
/// or `ZOO_BIN` when set.
pub fn zoo_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("ZOO_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test knows its own path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binaries live in target/<profile>/deps");
    let bin = profile_dir.join(format!("zoo{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: `cargo test --workspace` builds it (zoo-cli has an integration test); \
         or run `cargo build --release -p zoo-cli`, or set ZOO_BIN",
        bin.display()
    );
    bin
}

/// What a run of `zoo` gave: exit status and both streams as text.
#[derive(Debug)]
pub struct Run {
    /// Exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Panics with both streams unless the run succeeded.
    pub fn success(self) -> Self {
        assert_eq!(self.code, Some(0), "zoo failed:\n{self}");
        self
    }

    /// Panics unless the run failed cleanly: exit code 1 or 2, an `error:` line, no panic.
    pub fn failure(self) -> Self {
        assert!(
            matches!(self.code, Some(1 | 2)),
            "expected a clean failure:\n{self}"
        );
        assert!(self.stderr.contains("error"), "no error message:\n{self}");
        assert!(!self.stderr.contains("panicked"), "zoo panicked:\n{self}");
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `zoo ARGS` from the workspace root (where `configs/` is).
pub fn zoo(args: &[&str]) -> Run {
    zoo_with_env(args, &[])
}

/// Runs `zoo ARGS` from the workspace root with extra environment variables.
pub fn zoo_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let output: Output = Command::new(zoo_bin())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(workspace_root())
        .output()
        .expect("zoo runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// The two CPU backends every model is compared on.
pub fn cpu_devices() -> [(&'static str, Device); 2] {
    #[allow(deprecated)] // burn-ndarray is deprecated upstream; zoo still offers it
    let ndarray = Device::ndarray();
    [("flex", Device::flex()), ("ndarray", ndarray)]
}

/// Largest |a - b| / max(|b|, 1) over two equally long slices: relative for large values,
/// absolute near zero, where a relative error only measures float rounding of a cancellation.
pub fn max_relative_error(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "different lengths");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(1.0))
        .fold(0.0, f32::max)
}

/// The README's Rust example, compiled and run as a doc test of this crate (`cargo test`), so
/// that the front page cannot rot silently.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;

/// The book's chapter on using a model crate, its examples tested the same way.
#[cfg(doctest)]
#[doc = include_str!("../docs/book/src/use-a-model.md")]
pub struct BookUseAModel;

/// The one run directory under `out/<experiment>/` (panics if there is not exactly one).
pub fn run_dir(out: &std::path::Path, experiment: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out.join(experiment))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.pop().unwrap()
}

/// The tensors of a checkpoint of `run` as `zoo export` writes them (safetensors, all f32 for
/// these models), by name: what two trainings are compared by.
pub fn checkpoint_tensors(
    run: &std::path::Path,
    model: &str,
    epoch: usize,
) -> std::collections::BTreeMap<String, Vec<f32>> {
    let to = run.join(format!("weights-{epoch}.safetensors"));
    let bpk = run.join(format!("checkpoint/model-{epoch}.bpk"));
    let (bpk, to_text) = (bpk.to_str().unwrap(), to.to_str().unwrap());
    zoo(&["export", bpk, "--model", model, "--to", to_text]).success();
    let bytes = std::fs::read(&to).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    let data = &bytes[8 + len..];
    let mut out = std::collections::BTreeMap::new();
    for (name, entry) in header.as_object().unwrap() {
        if name == "__metadata__" {
            continue;
        }
        assert_eq!(entry["dtype"], "F32", "{name}");
        let [start, end] = [0, 1].map(|i| entry["data_offsets"][i].as_u64().unwrap() as usize);
        let values = data[start..end]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        out.insert(name.clone(), values);
    }
    out
}

/// The largest |a - b| over every tensor of two [`checkpoint_tensors`] (same names required).
pub fn max_abs_diff(
    a: &std::collections::BTreeMap<String, Vec<f32>>,
    b: &std::collections::BTreeMap<String, Vec<f32>>,
) -> f32 {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    a.iter()
        .flat_map(|(name, x)| x.iter().zip(&b[name]).map(|(x, y)| (x - y).abs()))
        .fold(0.0, f32::max)
}
