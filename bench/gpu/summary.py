#!/usr/bin/env python3
"""The GPU table of BENCHMARKS.md from the files bench/gpu/run.sh leaves (kept under
bench/gpu/results/<date-card>/): `python3 bench/gpu/summary.py bench/gpu/results/2026-11-27-h100`.

For Burn it reads each run's `steps.csv` (`run-KIND-BATCH.steps.csv`, or `.history.json` of a
run cut short; the `seconds` column: from the epoch's start to when each step's values were
read back), or, in results recorded before that column existed, the trainer's log
(`run-KIND-BATCH.log`, Burn's "Iteration N" line as each step started): the first step's
seconds (kernel compilation and autotune: Burn tunes each new shape on its first use), and per
epoch the steady rate from step 2 to the end of the epoch's training. For PyTorch it reads peer.py's
JSON: the step's median images/s and the two whole epochs."""

import datetime as dt
import json
import re
import sys
from pathlib import Path

LINE = re.compile(r"^(\S+Z) .*?: (Executing training step for epoch (\d+)|Iteration (\d+)|Executing validation step)")


def stamp(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def burn_log(path, batch):
    """{epoch: (steps, first step s, steady images/s over steps 2.., epoch seconds, cut off)}.
    A run cut off during its first step gets the seconds from that step's start to the log's
    last line as its first step."""
    epochs, epoch, times, end, last_line = {}, None, [], None, None

    def close():
        if epoch is None or not times:
            return
        last = end or times[-1]
        first = ((times[1] if len(times) > 1 else end or last_line) - times[0]).total_seconds()
        steady = None
        if len(times) > 1 and end is not None:
            steady = (len(times) - 1) * batch / (last - times[1]).total_seconds()
        elif len(times) > 2:  # cut off: from step 2's start to the last step's start
            steady = (len(times) - 2) * batch / (times[-1] - times[1]).total_seconds()
        epoch_seconds = (last - times[0]).total_seconds() if end else None
        epochs[epoch] = (len(times), first, steady, epoch_seconds, end is None)

    for line in Path(path).read_text().splitlines():
        if line[:1].isdigit():
            last_line = stamp(line.split(" ", 1)[0])
        m = LINE.match(line)
        if not m:
            continue
        if m.group(3):
            close()
            epoch, times, end = int(m.group(3)), [], None
        elif m.group(4):
            times.append(stamp(m.group(1)))
        elif end is None:
            end = stamp(m.group(1))
    close()
    return epochs


def burn_steps(rows, batch, complete):
    """As burn_log, from steps.csv rows or history.json steps: (epoch, step, seconds)."""
    epochs = {}
    by_epoch = {}
    for epoch, _step, seconds in rows:
        if seconds is not None:
            by_epoch.setdefault(epoch, []).append(seconds)
    last_epoch = max(by_epoch) if by_epoch else None
    for epoch, times in sorted(by_epoch.items()):
        cut = not complete and epoch == last_epoch
        first = times[0]
        steady = (len(times) - 1) * batch / (times[-1] - times[0]) if len(times) > 1 else None
        epochs[epoch] = (len(times), first, steady, None if cut else times[-1], cut)
    return epochs


def steps_rows(path):
    """(epoch, step, seconds) from steps.csv or history.json."""
    if path.name.endswith(".history.json"):
        steps = json.loads(path.read_text()).get("steps", [])
        return [(s["epoch"], s["step"], s.get("seconds")) for s in steps]
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    at = {name: i for i, name in enumerate(header)}
    rows = []
    for line in lines[1:]:
        cells = line.split(",")
        seconds = cells[at["seconds"]] if "seconds" in at else ""
        rows.append((int(cells[at["epoch"]]), int(cells[at["step"]]), float(seconds) if seconds else None))
    return rows


def burn_runs(root):
    """(name, batch, epochs) per Burn run: steps files first, old logs otherwise."""
    runs = {}
    for path in sorted(root.glob("run*-*-*.log")):
        name = path.stem
        batch = int(name.rsplit("-", 1)[1])
        runs[name] = (batch, burn_log(path, batch))
    for suffix, complete in ((".history.json", False), (".steps.csv", True)):
        for path in sorted(root.glob(f"run*-*-*{suffix}")):
            name = path.name[: -len(suffix)]
            batch = int(name.rsplit("-", 1)[1])
            runs[name] = (batch, burn_steps(steps_rows(path), batch, complete))
    return sorted(runs.items())


def fmt(value, digits=1):
    return "–" if value is None else f"{value:,.{digits}f}"


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/gpu/results/2026-11-27-h100")
    print("| run | batch | first step (compile + autotune) | epoch 1 s | epoch 1 images/s after step 1 "
          "| epoch 2 s | epoch 2 images/s after step 1 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, (batch, epochs) in burn_runs(root):
        e1, e2 = epochs.get(1), epochs.get(2)
        first = fmt(e1[1] if e1 else None)
        if e1 and e1[0] == 1 and e1[4]:
            first = f"> {first} (cut off)"
        cells = [f"Burn {name}", str(batch), first, fmt(e1[3] if e1 else None),
                 fmt(e1[2] if e1 else None, 0) + (f" (cut off after {e1[0]} steps)" if e1 and e1[4]
                                                  and e1[2] else ""),
                 fmt(e2[3] if e2 else None, 2), fmt(e2[2] if e2 else None, 0)]
        print("| " + " | ".join(cells) + " |")
    peers = pytorch_runs(root)
    for data in peers:
        rep, ep = data["report"], data.get("epochs") or []
        print(f"| PyTorch {data['torch']} | {rep['batch']} | {fmt(rep['train_warmup_seconds'], 2)} (warm-up steps) "
              f"| {fmt(ep[0]['seconds'], 2) if ep else '–'} | {fmt(ep[0]['items_per_second'], 0) if ep else '–'} "
              f"| {fmt(ep[1]['seconds'], 2) if len(ep) > 1 else '–'} "
              f"| {fmt(ep[1]['items_per_second'], 0) if len(ep) > 1 else '–'} |")
    print()
    print("| PyTorch step (peer.py, median of timed steps) | batch | train images/s | inference images/s |")
    print("| --- | ---: | ---: | ---: |")
    for data in peers:
        rep = data["report"]
        print(f"| {data['device']}, torch {data['torch']} | {rep['batch']} | {fmt(rep['train']['median'], 0)} "
              f"| {fmt(rep['infer']['median'], 0)} |")


def pytorch_runs(root):
    """peer.py's JSON reports (`pytorch-B.json`, or run.sh's `pytorch-B.out`); a run that
    failed left no JSON and is skipped."""
    runs = []
    for path in sorted(root.glob("pytorch-*.json")) + sorted(root.glob("pytorch-*.out")):
        try:
            runs.append(json.loads(path.read_text()))
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
    return runs


if __name__ == "__main__":
    main()
