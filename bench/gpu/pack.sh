#!/usr/bin/env bash
# Here, before a GPU session: build the zoo binaries a device run carries to the GPU machine
# (which has no Rust) and pack them, one device call per kind:
#   bench/gpu/pack.sh cuda   zoo with cuda alone (offline, scripts/build-cuda; ~27 min over a warm
#                            default build) -> bench/gpu/carry/cuda/zoo-cuda.xz
#   bench/gpu/pack.sh wgpu   zoo with wgpu (WGSL kernels) and zoo with vulkan (SPIR-V kernels; a
#                            build with `vulkan` sends wgpu through SPIR-V too, so two binaries)
#                            -> bench/gpu/carry/wgpu/zoo-wgpu.xz, zoo-vulkan.xz
#   bench/gpu/pack.sh cpu    the default zoo (flex, ndarray), for the CPU scaling runs on the GPU
#                            machine's cores (issue 15: 2, 8 and 16 threads against PyTorch)
#                            -> bench/gpu/carry/cpu/zoo-cpu.xz
# The GPU kinds with `autotune-cache`. Then, on the device: `bash bench/gpu/device.sh KIND` with
# `carry: ["bench/gpu/carry/KIND"]` (README "GPU", BENCHMARKS.md "GPU preparations").
# A device run carries at most 64 MiB, the tracked tree (~35 MB: test fixtures and shipped
# weights) included, and this script refuses a pack that does not fit. Stripped and compressed
# with xz's x86 filter and a 192 MiB window: 2.7 % smaller than `xz -9` on the default zoo
# (107.1 MB -> 16.47 MB against 16.93 MB); cuda + wgpu in one binary packed to 33.7 MB with `xz -9`,
# which is why the kinds travel apart.
# The binaries need glibc 2.36 and libstdc++ from GCC 12 (Debian 12) plus libz and libzstd.
set -euo pipefail
kind=${1:-}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
dir=bench/gpu/carry/$kind
# build FEATURES NAME: zoo with exactly these features, kept as target/release/NAME
build() {
  cargo build --release -p zoo-cli --no-default-features --features "$1"
  cp -f "$target/release/zoo" "$target/release/.$2.tmp"
  mv -f "$target/release/.$2.tmp" "$target/release/$2"
}
case "$kind" in
  cuda)
    scripts/build-cuda --no-default-features --features zoo-cli/autotune-cache
    binaries=(zoo-cuda) ;;
  wgpu)
    build zoo-cli/wgpu,zoo-cli/autotune-cache zoo-wgpu
    build zoo-cli/vulkan,zoo-cli/autotune-cache zoo-vulkan
    binaries=(zoo-wgpu zoo-vulkan) ;;
  cpu)
    # the default features: what `just bench-peer` runs here, so the curves compare
    cargo build --release -p zoo-cli
    cp -f "$target/release/zoo" "$target/release/.zoo-cpu.tmp"
    mv -f "$target/release/.zoo-cpu.tmp" "$target/release/zoo-cpu"
    binaries=(zoo-cpu) ;;
  *)
    echo "usage: bench/gpu/pack.sh cuda|wgpu|cpu (one device call each)" >&2
    exit 2 ;;
esac
rm -rf "$dir"
mkdir -p "$dir"
for name in "${binaries[@]}"; do
  strip -o "$dir/$name" "$target/release/$name"
  xz -T1 --x86 --lzma2=preset=9e,dict=192MiB -f "$dir/$name"
done
git rev-parse HEAD > "$dir/revision"
# the machine that runs them has no Rust: bench/peer/run.py reports this compiler (ZOO_RUSTC)
rustc --version > "$dir/rustc"
ls -la "$dir"
# What a device run would carry: the tracked tree, untracked files git does not ignore, and this.
tree=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 du -cb 2>/dev/null | awk 'END {print $1}')
carry=$(du -cb "$dir" | awk 'END {print $1}')
limit=$((64 * 1024 * 1024))
echo "pack: tree $tree B + carry $carry B = $((tree + carry)) B of $limit B a device run may carry" >&2
if (( tree + carry > limit )); then
  echo "pack: too big by $((tree + carry - limit)) B: fewer features, or a size-optimised profile" >&2
  exit 1
fi
