#!/usr/bin/env bash
# On the device machine (one NVIDIA GPU, no Rust), from the repo root, after bench/gpu/pack.sh
# here: unpacks the carried zoo-cuda and runs bench/gpu/run.sh for BUDGET seconds (default 500,
# inside one 600 s device call), cuda then wgpu, and leaves one archive in $OUT (device runs
# bring back at most 8 files): gpu-results.tar.gz, plus summary.md with the table.
set -uo pipefail
out=${OUT:-/tmp/gpu-out}
work=/tmp/zoo-gpu
mkdir -p "$work" "$out"
xz -dc bench/gpu/carry/zoo-cuda.xz > "$work/zoo" && chmod +x "$work/zoo" || exit 1
{
  echo "revision $(cat bench/gpu/carry/revision 2>/dev/null)"
  ldd "$work/zoo"
  ldconfig -p | grep -E 'libcuda|libvulkan|libnvrtc' | head
} > "$work/loader.txt" 2>&1
ZOO="$work/zoo" BACKENDS="${BACKENDS:-cuda wgpu}" OUT="$work/results" BUDGET="${BUDGET:-500}" \
  bash bench/gpu/run.sh > "$work/run.log" 2>&1
cp "$work/loader.txt" "$work/run.log" "$work/results/" 2>/dev/null
python3 bench/gpu/summary.py "$work/results" > "$out/summary.md" 2>&1
tar -C "$work" -czf "$out/gpu-results.tar.gz" results
cat "$work/results/steps.txt" "$out/summary.md" 2>/dev/null
