#!/usr/bin/env bash
# On the device machine (one NVIDIA GPU, no Rust), from the repo root, after
# `bench/gpu/pack.sh KIND` here: `bash bench/gpu/device.sh KIND` with
# `carry: ["bench/gpu/carry/KIND"]` unpacks that kind's binaries and runs bench/gpu/run.sh for
# BUDGET seconds (default 500, inside one 600 s device call), leaving in $OUT (device runs bring
# back at most 8 files) results-KIND.tar.gz and summary-KIND.md.
#   cuda: the cuda backend, and PyTorch on the same card (bench/peer/peer.py)
#   wgpu: wgpu (WGSL) and vulkan (SPIR-V); PyTorch left out (PEER=1 to run it again)
set -uo pipefail
kind=${1:-}
out=${OUT:-/tmp/gpu-out}
work=/tmp/zoo-gpu-$kind
carry=bench/gpu/carry/$kind
case "$kind" in
  cuda) backends="cuda=$work/zoo-cuda"; peer=${PEER:-1} ;;
  wgpu) backends="wgpu=$work/zoo-wgpu vulkan=$work/zoo-vulkan"; peer=${PEER:-0} ;;
  *) echo "usage: bench/gpu/device.sh cuda|wgpu" >&2; exit 2 ;;
esac
mkdir -p "$work" "$out"
for packed in "$carry"/*.xz; do
  name=$(basename "$packed" .xz)
  xz -dc "$packed" > "$work/$name" && chmod +x "$work/$name" || exit 1
done
{
  echo "revision $(cat "$carry/revision" 2>/dev/null)"
  for binary in "$work"/zoo-*; do echo "$binary:"; ldd "$binary"; done
  ldconfig -p | grep -E 'libcuda|libvulkan|libnvrtc' | head
} > "$work/loader.txt" 2>&1
first=${backends%% *}
ZOO="${first#*=}" BACKENDS="${BACKENDS:-$backends}" PEER="$peer" OUT="$work/results" \
  BUDGET="${BUDGET:-500}" bash bench/gpu/run.sh > "$work/run.log" 2>&1
cp "$work/loader.txt" "$work/run.log" "$work/results/" 2>/dev/null
python3 bench/gpu/summary.py "$work/results" > "$out/summary-$kind.md" 2>&1
tar -C "$work" -czf "$out/results-$kind.tar.gz" results
cat "$work/results/steps.txt" "$out/summary-$kind.md" 2>/dev/null
