//! The README's commands stay true: every command of its code blocks that finishes in seconds is
//! run as a new user would type it (in an empty directory, the README's file names put there
//! from the test fixtures) and must exit 0; the long ones are named below as skipped, so a new
//! command in the README fails here until it is run or named.

use std::path::{Path, PathBuf};
use std::process::Command;

use zoo_tests::{workspace_root, zoo_bin};

/// Commands the test does not run, with why: minutes to hours, or the test suite itself.
const SKIPPED: [(&str, &str); 4] = [
    (
        "cargo install just --locked && just train fashion-inception",
        "a cold build (20-35 min) and a Fashion-MNIST epoch; CI's fresh clone runs the build",
    ),
    ("just test", "the test suite this test is part of"),
    ("just web", "a web server, running until it is stopped"),
    (
        "just test-web",
        "a wasm32 build and Chromium; CI runs it after `just test`",
    ),
];

/// The README's fenced code blocks: (language, lines).
fn blocks(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut open: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        match (line.strip_prefix("```"), open.take()) {
            (Some(_), Some(block)) => out.push(block),
            (Some(lang), None) => open = Some((lang.trim().to_string(), Vec::new())),
            (None, Some(mut block)) => {
                block.1.push(line.to_string());
                open = Some(block);
            }
            (None, None) => {}
        }
    }
    out
}

/// `artifacts/<experiment>/<run>` → the run this test trained, else the shipped weights of
/// that name (a Fashion-MNIST run takes minutes; `weights/fashion-inception` is one).
fn resolve(word: &str, dir: &Path) -> String {
    let Some(prefix) = word.strip_suffix("/<run>") else {
        return word.to_string();
    };
    let trained = dir.join(prefix);
    if let Some(run) = std::fs::read_dir(&trained)
        .ok()
        .and_then(|entries| entries.flatten().map(|e| e.path()).max())
    {
        return run.to_string_lossy().into_owned();
    }
    let experiment = Path::new(prefix).file_name().unwrap();
    let shipped = workspace_root().join("weights").join(experiment);
    assert!(
        shipped.is_dir(),
        "no run and no shipped weights for `{word}`"
    );
    shipped.to_string_lossy().into_owned()
}

fn run(args: &[String], dir: &Path) {
    let output = Command::new(zoo_bin())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "README command `zoo {}` failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_quick_command_of_the_readme_exits_0() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fixtures: PathBuf = workspace_root().join("tests/fixtures/weights");
    for (from, to) in [
        ("cifar-inception.pt", "model.pt"),
        ("conv1d-classifier.weights.h5", "model.weights.h5"),
    ] {
        std::fs::copy(fixtures.join(from), dir.path().join(to)).unwrap();
    }
    let (mut ran, mut skipped) = (0, Vec::new());
    for (lang, lines) in blocks(&readme) {
        // the config example: written where its first line says, trained for one epoch
        if lang == "toml"
            && let Some(name) = lines[0].strip_prefix("# configs/")
        {
            let name = name.split_whitespace().next().unwrap();
            std::fs::create_dir_all(dir.path().join("configs")).unwrap();
            std::fs::write(dir.path().join("configs").join(name), lines.join("\n")).unwrap();
            let config = format!("configs/{name}");
            run(
                &[
                    "train".into(),
                    config,
                    "--set".into(),
                    "train.epochs=1".into(),
                ],
                dir.path(),
            );
            ran += 1;
            continue;
        }
        if lang != "sh" {
            continue;
        }
        for line in &lines {
            let command = line.split(" #").next().unwrap().trim();
            if command.is_empty() {
                continue;
            }
            if let Some((_, why)) = SKIPPED.iter().find(|(skip, _)| *skip == command) {
                skipped.push(format!("{command} ({why})"));
                continue;
            }
            let words: Vec<&str> = command.split_whitespace().collect();
            assert_eq!(
                words[0], "zoo",
                "`{command}`: run it here or name it in SKIPPED with why"
            );
            let args: Vec<String> = words[1..].iter().map(|w| resolve(w, dir.path())).collect();
            run(&args, dir.path());
            ran += 1;
        }
    }
    eprintln!("ran {ran} README commands; skipped: {}", skipped.join("; "));
    assert_eq!(
        skipped.len(),
        SKIPPED.len(),
        "a skipped command left the README"
    );
    assert!(ran >= 5, "only {ran} README commands ran");
}
