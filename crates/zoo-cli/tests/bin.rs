//! Smoke test of the `zoo` binary. Its presence also makes `cargo test --workspace` build
//! `target/<profile>/zoo`, which the workspace tests in `tests/` run end to end.

use std::process::Command;

#[test]
fn zoo_prints_its_version_and_help() {
    let output = Command::new(env!("CARGO_BIN_EXE_zoo"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("zoo "));
    let output = Command::new(env!("CARGO_BIN_EXE_zoo"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["list", "config", "devices", "summary", "grad-example"] {
        assert!(help.contains(command), "{help}");
    }
}
