#!/usr/bin/env bash
# On the device machine (one NVIDIA GPU, no Rust), from the repo root, after
# `bench/gpu/pack.sh KIND` here: `bash bench/gpu/device.sh KIND` with
# `carry: ["bench/gpu/carry/KIND"]` unpacks that kind's binaries and runs bench/gpu/run.sh for
# BUDGET seconds (default 500, inside one 600 s device call), leaving in $OUT (device runs bring
# back at most 8 files) results-KIND.tar.gz and summary-KIND.md.
#   cuda: the cuda backend, and PyTorch on the same card (bench/peer/peer.py)
#   wgpu: wgpu (WGSL) and vulkan (SPIR-V); PyTorch left out (PEER=1 to run it again)
#   cpu:  no GPU: bench/peer/run.py on the machine's CPU cores, burn-zoo (flex) against PyTorch
#         at 2, 8 and 16 threads (THREADS, BACKENDS, CASES, ROUNDS, STEPS override), rounds
#         started while they fit BUDGET (default 300 s); leaves BENCHMARKS.md with this CPU
#         kind's section rewritten after every round, run-cpu.log and machine-cpu.txt
set -uo pipefail
kind=${1:-}
out=${OUT:-/tmp/gpu-out}
work=/tmp/zoo-gpu-$kind
carry=bench/gpu/carry/$kind
case "$kind" in
  cuda) backends="cuda=$work/zoo-cuda"; peer=${PEER:-1} ;;
  wgpu) backends="wgpu=$work/zoo-wgpu vulkan=$work/zoo-vulkan"; peer=${PEER:-0} ;;
  cpu) ;;
  *) echo "usage: bench/gpu/device.sh cuda|wgpu|cpu" >&2; exit 2 ;;
esac
mkdir -p "$work" "$out"
for packed in "$carry"/*.xz; do
  name=$(basename "$packed" .xz)
  xz -dc "$packed" > "$work/$name" && chmod +x "$work/$name" || exit 1
done
if [ "$kind" = cpu ]; then
  cpus=$(nproc)
  # 2, 8 and 16 threads where the cores are there (and every core where there are more)
  default=$(for t in 2 8 16; do (( t <= cpus )) && printf '%s,' "$t"; done)
  (( cpus > 16 )) && default="$default$cpus,"
  threads=${THREADS:-${default%,}}
  cases=${CASES:-cifar-inception:64,conv1d-classifier:32,binary-cnn:16}
  {
    echo "revision $(cat "$carry/revision" 2>/dev/null); built with $(cat "$carry/rustc" 2>/dev/null)"
    lscpu
    free -g
    ldd "$work/zoo-cpu"
    python3 -c 'import torch; print("torch", torch.__version__, "threads", torch.get_num_threads())'
  } > "$out/machine-cpu.txt" 2>&1
  if ! command -v python3 >/dev/null; then
    # no Python: burn-zoo's own numbers, one `zoo bench --json` per model and thread count
    echo "no python3 here: zoo bench alone, JSON reports in bench-*.json" | tee "$out/run-cpu.log"
    for case in $(echo "$cases" | tr , ' '); do
      for t in $(echo "$threads" | tr , ' '); do
        RAYON_NUM_THREADS=$t "$work/zoo-cpu" bench "${case%%:*}" --batch "${case##*:}" \
          --steps "${STEPS:-5}" --json > "$out/bench-${case%%:*}-$t.json" 2>> "$out/run-cpu.log"
      done
    done
    exit 0
  fi
  cp BENCHMARKS.md "$out/BENCHMARKS.md"
  ZOO_RUSTC="$(cat "$carry/rustc" 2>/dev/null)" python3 bench/peer/run.py --zoo "$work/zoo-cpu" \
    --threads "$threads" --backends "${BACKENDS:-flex}" \
    --cases "$cases" \
    --rounds "${ROUNDS:-5}" --steps "${STEPS:-5}" --budget "${BUDGET:-300}" \
    --out "$out/BENCHMARKS.md" > "$out/run-cpu.log" 2>&1
  status=$?
  tail -n 60 "$out/run-cpu.log"
  exit $status
fi
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
