"""Hostile cardinality: replay a log whose every line has its own path and client, next to an
ordinary log of the same size, in the same run (a benchmark, not a test).

Run from the repository root::

    python bench/cardinality_bench.py               # 1M lines each, 3 runs, a few minutes
    python bench/cardinality_bench.py --runs 1 --lines 200000

The ordinary log comes from ``log_generator`` (Combined, seed 1, 1000 requests/s: 300 clients,
10 sections of 20 paths). The hostile log is the same file with each line's path replaced by a
random one of its own (``/3fa9c0d1e2b4/...``: every line is a new section too) and its client by
an address of its own: what an attacker requesting random URLs from spoofed or many addresses
writes into the log. Both have the same lines per second, so every 10-second report gets 10,000
distinct sections and clients.

Each log is replayed with ``monitoring --replay --json --no-log-file`` ``--runs`` times (worker
processes, as by default), alternating the two logs so a change in the machine's speed during
the run affects both alike. The table shows the median wall time and lines/s, the CPU time of
all processes (user + system; steadier than wall time on a shared machine), the peak RSS of
the largest process (``RSS max``) and the peak of the summed proportional set sizes of the
process and its workers (``PSS all``). The goal: the hostile log replays at ≥ 50 % of the ordinary log's speed
with a peak RSS ≤ 100 MB.

With ``--follow`` the logs are followed instead, as a live file is read: ``monitoring --json
--from-start --max-idle 2 --no-log-file --file FILE`` reads each from its start through the
watcher, in one process, then exits 2 s after the last line: wall times include those 2 s, and
lines/s are over the wall time less them. Results then go to ``bench/results/cardinality_follow.txt``.

Results are printed and written to ``bench/results/cardinality.txt`` (``--output`` to change).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import Run, load_average, machine, replay_options, table, write_results
from replay_bench import MB, generate, measure, monitoring

HOSTILE = "distinct paths and clients"
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "cardinality.txt")
RESULTS_FOLLOW = os.path.join(os.path.dirname(RESULTS), "cardinality_follow.txt")
IDLE_SECONDS = 2


def following(path: str) -> list[str]:
    """The command following ``path`` from its start, exiting :data:`IDLE_SECONDS` after its last line."""
    return [sys.executable, "-m", "monilog.cli.monitoring", "--json", "--from-start", "--max-idle", str(IDLE_SECONDS),
            "--no-log-file", "--file", path]


def hostile(ordinary: str) -> str:
    """The ordinary log with a path and a client of its own on every line (made once, then reused)."""
    path = ordinary.replace(".log", "-distinct.log")
    if os.path.exists(path):
        return path
    draw = random.Random(1).getrandbits
    partial = path + ".partial"
    with open(ordinary, "rb") as source, open(partial, "wb") as target:
        for number, line in enumerate(source):
            _, rest = line.split(b" ", 1)
            head, request, tail = rest.split(b'"', 2)
            method, _, version = request.split(b" ")
            client = f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}".encode()
            target_path = f"/{draw(48):012x}/{draw(32):08x}?q={number}".encode()
            target.write(b"%s %s\"%s %s %s\"%s" % (client, head, method, target_path, version, tail))
    os.replace(partial, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines per log (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per log (default 3)")
    parser.add_argument("--follow", action="store_true", help="follow the logs from their start instead of replaying them")
    parser.add_argument("--output", help="results file (default bench/results/cardinality.txt, or "
                                         "cardinality_follow.txt with --follow)")
    options = replay_options(parser)
    command = following if options.follow else monitoring

    ordinary = generate(options.workdir, "combined", options.lines, 1000)
    logs = {"ordinary": ordinary, HOSTILE: hostile(ordinary)}
    results: dict[str, list[Run]] = {name: [] for name in logs}
    load_before = load_average()
    output = os.path.join(options.workdir, "cardinality.json")
    for _ in range(options.runs):
        for name, path in logs.items():
            results[name] += measure(command(path), 1, output)

    rows = []
    speeds, cpus = {}, {}
    for name, path in logs.items():
        runs = results[name]
        wall = statistics.median(run.wall for run in runs)
        cpus[name] = statistics.median(run.cpu for run in runs)
        speeds[name] = options.lines / (wall - (IDLE_SECONDS if options.follow else 0))
        rows.append([f"{name} ({os.path.getsize(path) / MB:,.0f} MB)", str(len(runs)), f"{wall:.2f}",
                     f"{min(run.wall for run in runs):.2f}", f"{speeds[name]:,.0f}", f"{cpus[name]:.2f}",
                     f"{cpus[name] / options.lines * 1e6:.1f}", f"{max(run.max_rss for run in runs) / MB:.0f}",
                     f"{max(run.tree_pss for run in runs) / MB:.0f}"])
    ratio = speeds[HOSTILE] / speeds["ordinary"]
    rss = max(run.max_rss for run in results[HOSTILE]) / MB
    how = (f"monitoring {' '.join(following('FILE')[3:])} (wall includes the {IDLE_SECONDS} s of --max-idle)"
           if options.follow else "monitoring --replay --json --no-log-file")
    text = "\n".join([
        f"{how}, Combined, {options.lines:,} lines each: {machine()}",
        f"load average before {load_before[0]:.2f}, after {load_average()[0]:.2f}",
        table(rows, ["log", "runs", "wall s (median)", "best s", "lines/s", "CPU s", "µs CPU/line", "RSS max MB",
                     "PSS all MB"]),
        f"distinct-path log at {ratio:.0%} of the ordinary log's speed (goal >= 50%; "
        f"{cpus['ordinary'] / cpus[HOSTILE]:.0%} by CPU time), peak RSS {rss:.0f} MB (goal <= 100 MB)",
    ])
    print(text)
    write_results(options.output or (RESULTS_FOLLOW if options.follow else RESULTS), text)


if __name__ == "__main__":
    main()
