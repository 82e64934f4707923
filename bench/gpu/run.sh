#!/usr/bin/env bash
# Issue 6's GPU check: one script, run once on a machine with an NVIDIA GPU. From the repo root:
#   bash bench/gpu/run.sh         builds `zoo` with the cuda and vulkan features, results in bench/gpu/out
#   ZOO=path/to/zoo BACKENDS="vulkan wgpu" OUT=dir bash bench/gpu/run.sh   a `zoo` built elsewhere
#   (BACKENDS below says how to give each backend its own build)
# (the cuda feature is built offline by scripts/build-cuda, as root on Debian 12; a machine without
# Rust gets binaries built elsewhere through ZOO and BACKENDS).
# In order of importance, each step under its own time limit and all under one deadline
# (BUDGET seconds, default 1500; lower it to fit a time-limited machine), so a slow or failing
# step cannot take the others with it:
#   - the devices `zoo` sees with each build;
#   - PyTorch's step and two whole 50,000-image epochs on the same card (bench/peer/peer.py);
#   - `zoo train cifar-inception` for two CIFAR-shaped synthetic epochs of 50,176 training images
#     (epoch 2 is the number: epoch 1 includes kernel compilation and autotune) on each of
#     BACKENDS (default "cuda vulkan wgpu"), batch 64 then 512; then `zoo bench` at batch 64.
# `python3 bench/gpu/summary.py OUT` reads the logs into the table of BENCHMARKS.md.
set -uo pipefail
out=${OUT:-bench/gpu/out}
mkdir -p "$out"
deadline=$(( $(date +%s) + ${BUDGET:-1500} ))
if [ -z "${ZOO:-}" ]; then
  scripts/build-cuda --features zoo-cli/vulkan || exit 1
  ZOO=./target/release/zoo-cuda
fi
# CUDA's runtime compiler (NVRTC) is loaded at run time: let the loader find the toolkit's or
# the pip wheel's copy.
for dir in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
  $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, d, "lib") for p in nvidia.__path__ for d in os.listdir(p)))' 2>/dev/null); do
  [ -d "$dir" ] && LD_LIBRARY_PATH="$dir:${LD_LIBRARY_PATH:-}"
done
export LD_LIBRARY_PATH

# step NAME LIMIT COMMAND...: stdout to $out/NAME.out, stderr to $out/NAME.err, a line in steps.txt.
step() {
  local name=$1 limit=$2 left; shift 2
  left=$(( deadline - $(date +%s) ))
  (( left < limit )) && limit=$left
  if (( limit < 10 )); then echo "$name: skipped (deadline)" | tee -a "$out/steps.txt"; return; fi
  local start=$(date +%s%N)
  timeout -k 5 "$limit" "$@" > "$out/$name.out" 2> "$out/$name.err"
  local rc=$? ms=$(( ($(date +%s%N) - start) / 1000000 ))
  echo "$name: rc $rc, $(( ms / 1000 )).$(( ms % 1000 / 100 )) s (limit $limit s)" | tee -a "$out/steps.txt"
}

{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
  nproc; uname -r
} > "$out/machine.txt" 2>&1
# The Burn GPU backends to measure, the first one first, each `KIND` or `KIND=ZOO_BINARY`:
# cuda needs `zoo` built with `--features cuda`, vulkan with `--features vulkan`. A build with
# `vulkan` compiles every Vulkan device's kernels to SPIR-V, `wgpu` included: to time wgpu's
# WGSL path, give it a default build (BACKENDS="vulkan=zoo-vulkan wgpu=zoo-default").
read -r -a backends <<< "${BACKENDS:-cuda vulkan wgpu}"
kind() { echo "${1%%=*}"; }
bin() { if [[ $1 == *=* ]]; then echo "${1#*=}"; else echo "$ZOO"; fi; }
for b in "${backends[@]}"; do
  step "devices-$(kind "$b")" 60 "$(bin "$b")" devices
done
bench() { step "bench-$(kind "$1")-$2" "$3" "$(bin "$1")" bench cifar-inception --backend "$(kind "$1")" \
  --batch "$2" --steps "$4" --warmup 5 --json; }
# 50,176 synthetic training images (ITEMS) = 784 batches of 64 = 98 of 512, no validation split:
# Burn autotunes every kernel again for each new shape (about two minutes on an H100 for the
# first step at batch 64), so a partial last batch or a validation pass would mostly time tuning.
train() {
  step "train-$(kind "$1")-$2" "$3" "$(bin "$1")" train cifar-inception --backend "$(kind "$1")" \
    --set 'data.kind="synthetic"' --set data.synthetic_items="${ITEMS:-50176}" --set data.valid_fraction=0 \
    --set train.epochs=2 --set train.batch_size="$2" --out "$out/runs-$(kind "$1")-$2"
}
# PEER=0 leaves PyTorch out (a second device call that measured it in the first).
if [ "${PEER:-1}" != 0 ]; then
  step pytorch-64 90 python3 bench/peer/peer.py cifar-inception --device cuda --batch 64 --steps 50 --warmup 5 --epoch-items 50000
  step pytorch-512 60 python3 bench/peer/peer.py cifar-inception --device cuda --batch 512 --steps 20 --warmup 5 --epoch-items 50000
fi
for b in "${backends[@]}"; do train "$b" 64 240; done
for b in "${backends[@]}"; do train "$b" 512 300; done
# `zoo bench` last: its warm-up steps tune the same shapes again in a new process.
for b in "${backends[@]}"; do bench "$b" 64 180 50; done
# Each run's per-step times as run-KIND-BATCH.steps.csv (what summary.py reads; a run cut off
# by its limit has only history.json, saved after each split), and its epoch rows.
for dir in "$out"/runs-*/cifar-inception/*/; do
  [ -d "$dir" ] || continue
  name=$(basename "$(dirname "$(dirname "$dir")")")
  if [ -f "$dir/steps.csv" ]; then
    cp "$dir/steps.csv" "$out/run-${name#runs-}.steps.csv"
  elif [ -f "$dir/history.json" ]; then
    cp "$dir/history.json" "$out/run-${name#runs-}.history.json"
  fi
  grep -E '^[0-9]+,train,' "$dir/metrics.csv" 2>/dev/null | sed "s/^/${name#runs-}: /"
done
python3 "$(dirname "$0")/summary.py" "$out" || true
