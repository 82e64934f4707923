#!/usr/bin/env bash
# Here, before a GPU session: build zoo with cuda and wgpu only (offline, scripts/build-cuda) and
# pack it for the device machine, which has no Rust: bench/gpu/carry/zoo-cuda.xz (stripped, xz,
# ~2 min to compress on 2 cores). A device run carries at most 64 MiB, the tracked tree (35.4 MB)
# included, and this script says whether it fits. Measured 2026-12-02: default features 35.7 MB,
# cuda + wgpu (these features) 33.7 MB, cuda alone 31.8 MB: none fits yet (cuda alone misses by
# 0.1 MB); a size-optimised build profile is the next step. Then run bench/gpu/device.sh there
# with `carry: ["bench/gpu/carry"]`.
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
# What a device run would carry: the tracked tree, untracked files git does not ignore, and this.
tree=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 du -cb 2>/dev/null | awk 'END {print $1}')
carry=$(du -cb bench/gpu/carry | awk 'END {print $1}')
limit=$((64 * 1024 * 1024))
echo "pack: tree $tree B + carry $carry B = $((tree + carry)) B of $limit B a device run may carry" >&2
if (( tree + carry > limit )); then
    echo "pack: too big by $((tree + carry - limit)) B: build a smaller binary (fewer features, or a" >&2
    echo "pack: size-optimised profile: lto, codegen-units = 1, opt-level = \"s\")" >&2
    exit 1
fi
