#!/usr/bin/env python3
"""Data parallel on this machine: training images/s of conv1d-classifier on one Flex device,
on two (`backend.devices = [0, 1]`, two workers on the one CPU) and on two `zoo serve`
processes on 127.0.0.1 (`kind = "remote"`), with the bytes the servers moved per step. Writes
its CPU kind's section of BENCHMARKS.md (`just bench-scaling`).

Images/s: from each run's steps.csv (`seconds`, from the epoch's start to each step's values),
over steps 2.. of every epoch, so the first step's one-time costs are left out. Bytes: counted
by a TCP relay in front of each server (what the client and the servers send each other through
the servers' addresses), divided by the run's training steps; validation and test passes go
through the servers too, so it is an upper bound of what a step sends."""

import argparse
import csv
import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETS = ["train.epochs={epochs}", "data.synthetic_items={items}", "train.batch_size={batch}"]


def cpu_kind():
    """The CPU kind as BENCHMARKS.md names it: vendor model and its widest vector unit."""
    text = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", text).group(1).strip()
    flags = set(re.search(r"flags\s*:\s*(.*)", text).group(1).split())
    name = "AMD EPYC" if "AMD EPYC" in model else model
    vector = "AVX-512" if "avx512f" in flags else "AVX2 + FMA, no AVX-512"
    return f"{name}, {vector}", model


def steady_rate(run, batch):
    """Images/s over steps 2.. of each epoch (steps.csv), and the number of steps."""
    rows = list(csv.DictReader(open(run / "steps.csv")))
    images, seconds = 0, 0.0
    for epoch in sorted({r["epoch"] for r in rows}):
        steps = [r for r in rows if r["epoch"] == epoch]
        if len(steps) < 3:
            continue
        first, last = float(steps[0]["seconds"]), float(steps[-1]["seconds"])
        images += (len(steps) - 1) * batch
        seconds += last - first
    return images / seconds, len(rows)


def only_run(out):
    runs = [p for p in (out / "conv1d-classifier").iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


class Relay:
    """A TCP relay on 127.0.0.1 in front of `host` (ws://HOST:PORT), counting bytes both ways."""

    def __init__(self, host):
        target = host.removeprefix("ws://").rsplit(":", 1)
        self.target = (target[0], int(target[1]))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host = "ws://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.bytes = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            server = socket.create_connection(self.target)
            for end in (client, server):
                end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.pipe, args=(client, server), daemon=True).start()
            threading.Thread(target=self.pipe, args=(server, client), daemon=True).start()

    def pipe(self, source, sink):
        while True:
            try:
                data = source.recv(1 << 16)
            except OSError:
                break
            if not data:
                break
            with self.lock:
                self.bytes += len(data)
            try:
                sink.sendall(data)
            except OSError:
                break
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def train(zoo, out, sets, env=None):
    args = [zoo, "train", "conv1d-classifier", "--out", str(out)]
    for s in sets:
        args += ["--set", s]
    done = subprocess.run(args, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        sys.exit(f"zoo train failed:\n{done.stdout}\n{done.stderr}")
    return only_run(out)


def serve(zoo):
    server = subprocess.Popen([zoo, "serve", "--port", "0"], stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    host = next(w for w in line.split() if w.startswith("ws://"))
    # Read on: a server logging into a full pipe would stop.
    threading.Thread(target=server.stdout.read, daemon=True).start()
    return server, host


def measure(zoo, epochs, items, batch):
    base = [s.format(epochs=epochs, items=items, batch=batch) for s in SETS]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        local = [
            ("1 Flex device", [], {}),
            ("2 Flex devices", ["backend.devices=[0, 1]"], {}),
            # What a server runs: Burn's own Flex kernels (burn-zoo's are the client's extension).
            ("1 Flex device, Burn's kernels (`ZOO_KERNELS=off`)", [], {"ZOO_KERNELS": "off"}),
        ]
        for name, extra, env in local:
            run = train(zoo, tmp / re.sub(r"\W+", "-", name), base + extra, env)
            rate, steps = steady_rate(run, batch)
            rows.append((name, rate, steps, None))
        servers = [serve(zoo) for _ in range(2)]
        try:
            relays = [Relay(host) for _, host in servers]
            hosts = ", ".join(json.dumps(r.host) for r in relays)
            extra = ['backend.kind="remote"', f"backend.hosts=[{hosts}]"]
            run = train(zoo, tmp / "remote", base + extra)
            moved = sum(r.bytes for r in relays)
            rate, steps = steady_rate(run, batch)
            rows.append(("2 servers on 127.0.0.1", rate, steps, moved / steps))
        finally:
            for server, _ in servers:
                server.terminate()
                server.wait()
    return rows


def section(kind, rows, args, seconds):
    one = rows[0][1]
    lines = [
        f"<!-- generated by bench/scaling.py for {kind}: start -->",
        f"**Data parallel, {kind}**: {os.cpu_count()} logical CPUs; conv1d-classifier, global batch {args.batch}, "
        f"{args.items} synthetic sequences, {args.epochs} epochs, images/s over steps 2.. of "
        f"each epoch; {dt.date.today()}, {seconds:.0f} s: `python3 bench/scaling.py --epochs "
        f"{args.epochs} --items {args.items} --batch {args.batch}` (`just bench-scaling`).",
        "",
        "| setup | train img/s | vs 1 device | steps | bytes per step |",
        "|---|---|---|---|---|",
    ]
    for name, rate, steps, per_step in rows:
        moved = "-" if per_step is None else f"{per_step / 1e6:.1f} MB"
        lines.append(f"| {name} | {rate:.0f} | {rate / one:.2f}× | {steps} | {moved} |")
    lines.append(f"<!-- generated by bench/scaling.py for {kind}: end -->")
    return "\n".join(lines)


def write(section_text, kind, path):
    text = path.read_text()
    start = f"<!-- generated by bench/scaling.py for {kind}: start -->"
    end = f"<!-- generated by bench/scaling.py for {kind}: end -->"
    if start in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + section_text + after
    else:
        anchor = "## Build times"  # the first run on a CPU kind: before the build times
        text = text.replace(anchor, section_text + "\n\n" + anchor, 1)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", default=os.environ.get("ZOO_BIN", str(ROOT / "target/release/zoo-remote")))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    args = parser.parse_args()
    started = time.time()
    rows = measure(args.zoo, args.epochs, args.items, args.batch)
    kind, _model = cpu_kind()
    text = section(kind, rows, args, time.time() - started)
    print(text)
    write(text, kind, args.out)


if __name__ == "__main__":
    main()
