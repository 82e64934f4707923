# burn-zoo tasks. Every recipe runs the release `zoo` binary: debug builds of Burn train ~100x
# slower, and tests share the release profile so Burn compiles once.

set shell := ["bash", "-euo", "pipefail", "-c"]

# The zoo binary, built on demand (cargo run rebuilds only what changed).
zoo := "cargo run --release --quiet -p zoo-cli --"

# List the recipes.
default:
    @just --list

# Build the release `zoo` binary.
build:
    cargo build --release -p zoo-cli

# Train an experiment: just train cifar-inception --set train.epochs=1
train experiment *ARGS:
    {{zoo}} train {{experiment}} {{ARGS}}

# Every model and experiment with input shape, classes and parameter count.
list:
    {{zoo}} list

# Keras-style layer table of a model or experiment: just summary conv1d-classifier
summary model *ARGS:
    {{zoo}} summary {{model}} {{ARGS}}

# Print an experiment's resolved config: just config cifar-inception --set train.epochs=1
config experiment *ARGS:
    {{zoo}} config {{experiment}} {{ARGS}}

# An experiment's data: splits, class histograms, statistics (--preview grid.png for samples).
data experiment *ARGS:
    {{zoo}} data {{experiment}} {{ARGS}}

# Which backends this build has and which can open a device here.
devices:
    {{zoo}} devices

# HW3 Q2: Burn's gradients beside the hand-derived ones.
grad-example *ARGS:
    {{zoo}} grad-example {{ARGS}}

# Criterion benchmarks (data loading today). `--workspace` keeps the features, and so the
# build, of the tests and the zoo binary.
bench *ARGS:
    cargo bench --workspace --benches {{ARGS}}

# The whole test suite, in release (the README's test command; CI runs exactly this).
test:
    cargo test --release --workspace

# Formatting and clippy, warnings denied.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
