#!/usr/bin/env bash
# Issue 6's GPU check, PREPARED BUT NOT YET RUN (no GPU has been lent to a session so far).
# For one run on a machine with an NVIDIA GPU and the CUDA toolkit, from the repository root:
#   bash bench/gpu/run.sh            (results under $OUT, default bench/gpu/out)
# It trains cifar-inception for two CIFAR-shaped synthetic epochs of 50,000 training images on
# wgpu and cuda at batch 64 and 512 (epoch 2's time is the number: epoch 1 includes kernel
# compilation and autotune), then times PyTorch's step on the same card at the same batches.
set -euo pipefail
out=${OUT:-bench/gpu/out}
mkdir -p "$out"
cargo build --release -p zoo-cli --features cuda
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/gpu.csv" || true
./target/release/zoo devices > "$out/devices.txt" 2>&1 || true
# 55,556 synthetic items, 10 % held out for validation: 50,000 training images per epoch.
for backend in wgpu cuda; do
  for batch in 64 512; do
    ./target/release/zoo train cifar-inception --backend "$backend" \
      --set 'data.kind="synthetic"' --set data.synthetic_items=55556 \
      --set train.epochs=2 --set train.batch_size="$batch" \
      --out "$out/runs-$backend-$batch" > "$out/zoo-$backend-$batch.log" 2>&1 || true
    ./target/release/zoo bench cifar-inception --backend "$backend" --batch "$batch" \
      --steps 50 --json > "$out/bench-$backend-$batch.json" 2> "$out/bench-$backend-$batch.err" || true
  done
done
python3 -c "import torch" 2>/dev/null || python3 -m pip install torch
for batch in 64 512; do
  python3 bench/peer/peer.py cifar-inception --device cuda --batch "$batch" --steps 50 \
    > "$out/pytorch-cuda-$batch.json" 2> "$out/pytorch-cuda-$batch.err" || true
done
# Seconds per 50,000-image epoch: epoch 2's train row of each run's metrics.csv.
for csv in "$out"/runs-*/cifar-inception/*/metrics.csv; do
  echo "$csv: $(grep '^2,train,' "$csv" | awk -F, '{print $(NF) " s, " $(NF-1) " images/s"}')"
done | tee "$out/epochs.txt"
