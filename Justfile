# burn-zoo tasks. Every recipe runs the release `zoo` binary: debug builds of Burn train ~100x
# slower, and tests share the release profile so Burn compiles once.

set shell := ["bash", "-euo", "pipefail", "-c"]

# The zoo binary, built on demand (incremental; the first, cold build shows its progress).
zoo := "scripts/zoo"

# List the recipes.
default:
    @just --list

# Build the release `zoo` binary.
build:
    cargo build --release -p zoo-cli

# target/release/zoo-cuda: zoo with the CUDA backend, built offline on Debian's LLVM 22
# (installs llvm-22-dev, libpolly-22-dev, libzstd-dev as root; ~27 min over `just build`)
build-cuda *ARGS:
    scripts/build-cuda {{ARGS}}

# Burn's DDP (NCCL all-reduce, mean) on two CUDA GPUs against one: the same parameters
# (tests/parallel.rs, ignored elsewhere). Needs two GPUs and their driver; builds zoo-cuda first.
test-ddp: build-cuda
    ZOO_BIN="$PWD/target/release/zoo-cuda" cargo test --release --workspace --test parallel -- --ignored --nocapture ddp_on_two_cuda_gpus

# target/release/zoo-remote: zoo with `zoo serve` and `kind = "remote"` (Burn Remote; rebuilds Burn)
build-remote:
    cargo build --release -p zoo-cli --features remote
    cp "${CARGO_TARGET_DIR:-target}/release/zoo" "${CARGO_TARGET_DIR:-target}/release/zoo-remote"

# Two `zoo serve` on 127.0.0.1 as two devices, a server killed mid-run, wrong hosts (tests/remote.rs)
test-remote: build-remote
    ZOO_BIN="$(realpath "${CARGO_TARGET_DIR:-target}")/release/zoo-remote" cargo test --release --workspace --test remote -- --ignored --nocapture --test-threads 1

# Training images/s on 1 and 2 Flex devices and 2 localhost servers: BENCHMARKS.md's section
bench-scaling *ARGS: build-remote
    ZOO_BIN="$(realpath "${CARGO_TARGET_DIR:-target}")/release/zoo-remote" python3 bench/scaling.py {{ARGS}}

# Train an experiment: just train cifar-inception --set train.epochs=1
# (as root on Debian/Ubuntu, first installs the data's package when it is missing)
train experiment *ARGS:
    @scripts/setup-data {{experiment}}
    {{zoo}} train {{experiment}} {{ARGS}}

# Learning-rate range test: just lr-find fashion-inception
lr-find experiment *ARGS:
    {{zoo}} lr-find {{experiment}} {{ARGS}}

# One training per value: just sweep conv1d-classifier --set train.batch_size=16,64,full
sweep experiment *ARGS:
    {{zoo}} sweep {{experiment}} {{ARGS}}

# SGD, momentum, RMSprop and Adam at the saddles of x^2 - y^2 and x^3 - 3xy^2
saddle *ARGS:
    {{zoo}} saddle {{ARGS}}

# Regenerate the book's example pictures and their CSV files under docs/book/src/images/ (~1 minute)
docs-images:
    #!/usr/bin/env bash
    set -euo pipefail
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    zoo=scripts/zoo
    $zoo lr-find conv1d-classifier --out "$tmp/lr-find"
    $zoo sweep conv1d-classifier --set train.batch_size=16,64,full --set train.epochs=4 --set data.synthetic_items=400 --out "$tmp/sweep"
    $zoo saddle --out "$tmp/saddle"
    # Diverges in epoch 3 (exit code 3): curves.png with the guard's mark.
    $zoo train conv1d-classifier --set 'optimizer.kind="sgd"' --set optimizer.lr=1.2 --set train.epochs=4 --out "$tmp/runs" || [ $? -eq 3 ]
    images=docs/book/src/images
    mkdir -p $images
    cp "$tmp"/lr-find/lr-find.png "$tmp"/lr-find/lr-find.csv "$tmp"/sweep/sweep.png "$tmp"/sweep/sweep.csv "$tmp"/saddle/saddle.png "$tmp"/saddle/saddle.csv $images/
    for run in "$tmp"/runs/conv1d-classifier/*/; do cp "$run/curves.png" $images/curves-diverged.png; cp "$run/metrics.csv" $images/curves-diverged.csv; done

# Training and inference images/s of a model: just bench-model cifar-inception --backend flex
bench-model model *ARGS:
    {{zoo}} bench {{model}} {{ARGS}}

# Installs torch with pip when it is missing (~5 GB from PyPI).
# zoo bench beside the PyTorch peer (bench/peer), alternating; writes BENCHMARKS.md.
bench-peer *ARGS:
    cargo build --release -p zoo-cli
    python3 -c "import torch" 2>/dev/null || python3 -m pip install torch
    python3 bench/peer/run.py {{ARGS}}

# Each kernel switch (ZOO_DIRECT, ZOO_WINOGRAD, ZOO_FUSED_ADAM) off and on, alternating, on this CPU.
bench-switches *ARGS:
    cargo build --release -p zoo-cli --bins --examples
    python3 bench/cpu/switches.py {{ARGS}}

# The web demo: builds it (scripts/build-web) and serves target/web on http://127.0.0.1:PORT
# with Python's http.server; open that address in a browser.
web port="8000": web-build
    @echo "web: open http://127.0.0.1:{{port}}/ (Ctrl-C stops the server)"
    python3 -m http.server {{port}} --bind 127.0.0.1 --directory target/web

# Builds the web demo into target/web: every model crate for wasm32, zoo-web, the page, the weights.
web-build:
    scripts/build-web

# The web demo in headless Chromium against zoo predict (web/test_page.py; Debian chromium and
# chromium-driver, Selenium from PyPI, Fashion-MNIST's test images).
test-web *ARGS: web-build
    cargo build --release -p zoo-cli
    python3 -c "import selenium" 2>/dev/null || python3 -m pip install --quiet selenium
    python3 web/test_page.py {{ARGS}}

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

# `--workspace` keeps the features, and so the build, of the tests and the zoo binary.
# Criterion benchmarks: data loading, each model's forward and train step, one conv layer.
bench *ARGS:
    cargo bench --workspace --benches {{ARGS}}

# The whole test suite, in release (the README's test command; CI runs it, then test-avx2, test-aarch64).
test:
    cargo test --release --workspace
    python3 -m unittest discover -s bench/peer
    python3 -m unittest discover -s bench/cpu

# Needs torch and safetensors (pip); regenerate the fixtures with tests/fixtures/weights/make.py.
# Every model: PyTorch fixture -> zoo import -> zoo export -> PyTorch strict load, same logits.
weights-roundtrip:
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release -p zoo-cli
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    for model in conv-gap conv1d-classifier binary-cnn pointwise-conv cifar-inception; do
        target/release/zoo import "tests/fixtures/weights/$model.safetensors" --model "$model" --to "$tmp/$model.bpk"
        target/release/zoo export "$tmp/$model.bpk" --model "$model" --to "$tmp/$model.safetensors"
        python3 tests/fixtures/weights/make.py --check "$tmp/$model.safetensors" --model "$model"
    done

# Under qemu-user's `-cpu Haswell` gemm runs its AVX2 + FMA kernels instead of AVX-512, so an
# AVX-512 machine tests both (~1.5 min); skipped, saying so, without qemu-x86_64. CI runs it.
# Kernel tests, seed facts and unit tests again on an emulated AVX2-only CPU.
test-avx2:
    #!/usr/bin/env bash
    set -euo pipefail
    if ! command -v qemu-x86_64 >/dev/null; then
        echo "test-avx2 skipped: qemu-x86_64 not installed (Debian: apt-get install qemu-user)"
        exit 0
    fi
    # Haswell: AVX2 + FMA, no AVX-512; less the features TCG does not emulate (each a warning per run)
    cpu=Haswell,-pcid,-x2apic,-tsc-deadline,-hle,-invpcid,-rtm
    # a unit test checks that gemm really picks its AVX2 + FMA kernels there
    ZOO_EXPECT_GEMM_KERNELS=fma CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="qemu-x86_64 -cpu $cpu" \
        cargo test --release --workspace --lib --test conv2d --test fused --test linear --test pool --test seed_facts

# zoo-kernels holds every architecture-specific line of burn-zoo, each x86 path beside its
# portable one (Graviton, Apple silicon under Linux). Needs Debian's gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross and qemu-user, and rustup's aarch64 target (added here when missing).
# zoo-kernels' tests on an emulated 64-bit ARM CPU (qemu-aarch64), gemm's NEON kernels checked.
test-aarch64:
    #!/usr/bin/env bash
    set -euo pipefail
    target=aarch64-unknown-linux-gnu
    for tool in qemu-aarch64 aarch64-linux-gnu-gcc; do
        if ! command -v $tool >/dev/null; then
            echo "test-aarch64 skipped: $tool not installed (Debian: apt-get install qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross)"
            exit 0
        fi
    done
    # the cross linker without ARM's C library (a Recommends of gcc-aarch64-linux-gnu) cannot link
    if [ ! -e /usr/aarch64-linux-gnu/lib/crti.o ]; then
        echo "test-aarch64 skipped: ARM's C library is not installed (Debian: apt-get install libc6-dev-arm64-cross)"
        exit 0
    fi
    if ! rustup target list --installed | grep -qx $target; then
        rustup target add $target || { echo "test-aarch64 skipped: rustup could not install $target"; exit 0; }
    fi
    # gemm must pick its NEON kernels there (a unit test checks)
    ZOO_EXPECT_GEMM_KERNELS=neon \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu" \
        cargo test --release -p zoo-kernels --target $target

# The book (docs/book, mdBook) into target/book/; its links are checked by tests/docs.rs.
docs:
    #!/usr/bin/env bash
    set -euo pipefail
    if ! command -v mdbook >/dev/null; then
        cargo install mdbook --locked --version 0.5.4
    fi
    mdbook build docs/book
    echo "the book: target/book/index.html"

# Formatting and clippy, warnings denied.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
