//! The shape of the code, checked: every source file opens with a comment saying its job, and
//! no two files of a crate import each other (`crate::a` in b and `crate::b` in a).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// Every crate's `src` directory: crates/*/src and models/*/src.
fn source_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut dirs = Vec::new();
    for parent in ["crates", "models"] {
        for entry in std::fs::read_dir(root.join(parent)).unwrap() {
            let src = entry.unwrap().path().join("src");
            if src.is_dir() {
                dirs.push(src);
            }
        }
    }
    dirs.sort();
    dirs
}

/// `a/b.rs` or `a/b/mod.rs` → `a::b`; `lib.rs`/`main.rs` → "".
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .filter(|part| part != "mod")
        .collect();
    match parts.as_slice() {
        [only] if only == "lib" || only == "main" => String::new(),
        _ => parts.join("::"),
    }
}

/// The modules of this crate that `text` names through `crate::…` (test modules left out).
fn imports(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap();
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let path: String = text[at + 7..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
        for len in (1..=parts.len()).rev() {
            let candidate = parts[..len].join("::");
            if modules.contains(&candidate) {
                found.insert(candidate);
                break;
            }
        }
    }
    found
}

#[test]
fn every_source_file_says_its_job_first() {
    for src in source_dirs() {
        let mut files = Vec::new();
        sources(&src, &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(
                text.starts_with("//!") || text.starts_with("#![doc"),
                "{} does not open with a `//!` comment saying its job",
                file.display()
            );
        }
    }
}

#[test]
fn no_two_files_import_each_other() {
    let mut cycles = Vec::new();
    for src in source_dirs() {
        let mut files = Vec::new();
        sources(&src, &mut files);
        let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
        let mut graph = BTreeMap::new();
        for file in &files {
            let module = module_of(&src, file);
            let mut uses = imports(&std::fs::read_to_string(file).unwrap(), &modules);
            uses.remove(&module);
            graph.insert(module, uses);
        }
        for (a, uses) in &graph {
            for b in uses {
                if a < b && !a.is_empty() && graph.get(b).is_some_and(|back| back.contains(a)) {
                    cycles.push(format!("{}: {a} <-> {b}", src.display()));
                }
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "files that import each other: {cycles:#?}"
    );
}

/// The files a training step's values pass through on their way to the metrics, the guard and
/// the history. A read of a device tensor waits for the GPU; the step reads once, in
/// `ClassifierOutput::sync` through `zoo_train::host` (counted by `tests/host_reads.rs`), and
/// these files must not read again behind the counter's back.
#[test]
fn the_training_step_reads_the_device_only_through_the_host_module() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/zoo-train/src");
    let reads = [
        "into_data(",
        "to_data(",
        "into_scalar",
        "try_into_scalar",
        ".execute(",
        "try_execute(",
        "into_data_async",
    ];
    let mut found = Vec::new();
    for file in [
        "step.rs",
        "trainer.rs",
        "monitor.rs",
        "guard.rs",
        "plateau.rs",
        "history.rs",
        "checkpoint.rs",
        "data.rs",
    ] {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        // Unit tests may read what they like.
        let code = text.split("#[cfg(test)]").next().unwrap();
        for (number, line) in code.lines().enumerate() {
            if reads.iter().any(|read| line.contains(read)) {
                found.push(format!("{file}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "reads of tensors outside host.rs on the training step's path:\n{}",
        found.join("\n")
    );
}
