#!/usr/bin/env bash
# Here, before a GPU session: build zoo with cuda and wgpu only (offline, scripts/build-cuda) and
# pack it for the device machine, which has no Rust: bench/gpu/carry/zoo-cuda.xz (stripped, xz,
# ~2 min to compress on 2 cores). A device run carries at most 64 MiB, the tracked tree (~35 MB)
# included: the default features' zoo-cuda packs to 36 MB, too much, hence no ndarray, no
# burn-zoo CPU kernels, no downloads. Then run bench/gpu/device.sh there with
# `carry: ["bench/gpu/carry"]`.
# The binary needs glibc 2.36 and libstdc++ from GCC 12 (Debian 12) plus libz and libzstd.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
scripts/build-cuda --no-default-features --features zoo-cli/wgpu,zoo-cli/autotune-cache "$@"
target=${CARGO_TARGET_DIR:-$root/target}
mkdir -p bench/gpu/carry
strip -o bench/gpu/carry/zoo-cuda "$target/release/zoo-cuda"
xz -T0 -9 -f bench/gpu/carry/zoo-cuda
git rev-parse HEAD > bench/gpu/carry/revision
ls -la bench/gpu/carry
