#!/usr/bin/env python3
"""Each of burn-zoo's kernel switches off and on, in one binary, alternating, on this CPU.

The CPU-kind-dependent choices of crates/zoo-kernels were measured on the CPU kinds at hand
(BENCHMARKS.md): the direct AVX2 convolution, Winograd and the fused Adam step are each on by
default on every x86 CPU with AVX2 + FMA. This prints, for this machine, what each one does:
the median time of the code it changes with the switch `off` and `on` (the default),
per round and overall, so that a CPU kind not yet measured (AVX-512, ARM, many cores) gets its
answer in minutes and a default can follow the measurement. `just bench-switches` (it builds
the examples first); `--rounds`, `--threads`, `--only NAME`.

A shared VM drifts by tens of per cent over minutes, so each round runs every setting back to
back and the order alternates between rounds; compare within a round."""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "peer"))
from run import cpu_kind, cpuinfo, logical_cpus  # noqa: E402

RELEASE = ROOT / "target" / "release"
EXAMPLES = RELEASE / "examples"

# name -> (environment variable, settings, what is timed, command, how to read it, unit)
# `ms`: the example's "median X ms"; `train`/`infer`: `zoo bench --json`'s images/s.
CASES = {
    "direct": ("ZOO_DIRECT", ["off", "on"],
               "conv1d-classifier inference, batch 32 (its three convolutions)",
               [str(EXAMPLES / "infer_loop"), "conv1d-classifier", "32", "600"], "ms"),
    # binary-cnn's conv1 and conv2 (rows of 252 and 122 positions) take it too
    "direct-binary": ("ZOO_DIRECT", ["off", "on"],
                      "binary-cnn inference, batch 16 (conv1 and conv2)",
                      [str(EXAMPLES / "infer_loop"), "binary-cnn", "16", "20"], "ms"),
    "direct-binary-train": ("ZOO_DIRECT", ["off", "on"],
                            "binary-cnn training step, batch 16 (`zoo bench`)",
                            [str(RELEASE / "zoo"), "bench", "binary-cnn", "--batch", "16",
                             "--steps", "5", "--json"], "train"),
    "winograd": ("ZOO_WINOGRAD", ["off", "on"],
                 "cifar-inception inference, batch 64 (conv2 and the 3 x 3 branch)",
                 [str(EXAMPLES / "infer_loop"), "cifar-inception", "64", "30"], "ms"),
    "winograd-train": ("ZOO_WINOGRAD", ["off", "on"],
                       "cifar-inception training step, batch 64 (`zoo bench`)",
                       [str(RELEASE / "zoo"), "bench", "cifar-inception", "--batch", "64",
                        "--steps", "8", "--json"], "train"),
    "fused-adam": ("ZOO_FUSED_ADAM", ["off", "on"],
                   "conv1d-classifier's Adam step (after a forward and backward pass)",
                   [str(EXAMPLES / "optim_step"), "conv1d-classifier", "40"], "ms"),
}


# `zoo` sets these allocator tunables itself (src/main.rs, `mallopt`): the examples get the
# same, else glibc hands each pass's freed pages back and faults them in again (README,
# "Use one model from another project"), which would hide the kernels' differences.
TUNABLES = ("glibc.malloc.trim_threshold=1073741824:glibc.malloc.mmap_threshold=33554432:"
            "glibc.malloc.top_pad=67108864")


def measure(cmd, env, unit):
    """One run's number: milliseconds (lower is better) or images/s (higher is better)."""
    env = {**os.environ, "GLIBC_TUNABLES": TUNABLES, **env}
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    if unit == "ms":
        found = re.search(r"median ([0-9.]+) ms", done.stdout)
        if not found:
            raise SystemExit(f"no 'median … ms' in the output of {' '.join(cmd)}:\n{done.stdout}")
        return float(found.group(1))
    return json.loads(done.stdout)["report"][unit]["median"]


def main(argv=None, cases=None):
    cases = cases or CASES
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=logical_cpus(),
                        help="RAYON_NUM_THREADS (default: every CPU this process may use)")
    parser.add_argument("--only", action="append", choices=sorted(cases),
                        help="this switch only (repeatable; default: all)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.threads < 1:
        parser.error("--rounds and --threads must be at least 1")
    for cmd in {Path(case[3][0]) for case in cases.values()}:
        if not cmd.exists():
            raise SystemExit(f"{cmd} is missing: `cargo build --release -p zoo-cli --examples` "
                             "(or `just bench-switches`, which builds it)")
    name, isa = cpu_kind(cpuinfo())
    started = time.time()
    print(f"# Kernel switches on {name}, {isa}; {args.threads} threads, {args.rounds} rounds, "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| switch | timed | per round | median | against off |")
    print("|---|---|---|---|---|")
    for key in args.only or list(cases):
        variable, settings, what, cmd, unit = cases[key]
        values = {s: [] for s in settings}
        for round_ in range(args.rounds):
            order = settings if round_ % 2 == 0 else list(reversed(settings))
            for setting in order:
                env = {variable: setting, "RAYON_NUM_THREADS": str(args.threads)}
                values[setting].append(measure(cmd, env, unit))
        label = "ms" if unit == "ms" else "images/s"
        base = statistics.median(values["off"])
        for setting in settings:
            median = statistics.median(values[setting])
            # a speed-up: time off / time on, or images/s on / images/s off
            gain = base / median if unit == "ms" else median / base
            rounds = ", ".join(f"{v:.3g}" for v in values[setting])
            print(f"| `{variable}={setting}` | {what} | {rounds} {label} | {median:.3g} {label} "
                  f"| {gain:.2f}x |", flush=True)
    only = "".join(f" --only {o}" for o in args.only or [])
    print(f"\n({(time.time() - started) / 60:.1f} min; `python3 bench/cpu/switches.py "
          f"--rounds {args.rounds} --threads {args.threads}{only}`)")


if __name__ == "__main__":
    main()
