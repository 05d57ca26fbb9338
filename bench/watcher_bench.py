"""Measure the file watcher: idle CPU, append-to-delivery latency, CPU at a steady rate, burst speed.

Run from the repository root::

    python bench/watcher_bench.py                  # about a minute with the defaults
    python bench/watcher_bench.py --idle-seconds 5 --samples 50 --rate-seconds 3   # quick look

Prints a table and writes it to ``bench/results/watcher.txt`` (``--output`` to change).

* idle CPU: the process's CPU time (user + system, all threads) while the watcher follows
  ``--files`` quiet files and a glob pattern, as a percentage of one core;
* latency: time from appending a line (timestamp written in it) to its delivery to the callback,
  for lines appended at random moments (so that they do not fall in step with the polls);
* steady rate: CPU used while another process appends ``--rate`` lines per second, and whether
  every line arrived;
* burst: how fast a large backlog is delivered (lines per second).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import List, Tuple

from monilog.watcher import FileWatcher

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "watcher.txt")

LINE = (b'127.0.0.1 - james [09/May/2018:16:00:39 +0000] "GET /report HTTP/1.0" 200 123 '
        b'"-" "bench"')

WRITER = """
import sys, time
path, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
line = %r + b"\\n"
tick = 0.01
per_tick = max(1, round(rate * tick))
start = time.monotonic()
with open(path, "ab") as stream:
    ticks = 0
    while ticks * tick < seconds:
        stream.write(line * per_tick)
        stream.flush()
        ticks += 1
        time.sleep(max(0.0, start + ticks * tick - time.monotonic()))
print(ticks * per_tick)
""" % LINE


def cpu_seconds() -> float:
    """CPU time used by this process so far, all threads, user + system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_idle(directory: str, files: int, seconds: float, poll_interval: float) -> float:
    """Percentage of one core used while following quiet files."""
    paths = [os.path.join(directory, f"idle-{number}.log") for number in range(files)]
    for path in paths + [os.path.join(directory, "matched.idle")]:
        with open(path, "wb") as stream:
            stream.write(LINE + b"\n")
    watched = paths + [os.path.join(directory, "*.idle")]
    with FileWatcher(watched, lambda source, lines: None, poll_interval=poll_interval):
        time.sleep(1.0)  # let start-up settle
        cpu, wall = cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        used, elapsed = cpu_seconds() - cpu, time.monotonic() - wall
    return 100.0 * used / elapsed


def measure_latency(directory: str, samples: int, poll_interval: float) -> List[float]:
    """Seconds from append to delivery, one per line appended at a random moment."""
    path = os.path.join(directory, "latency.log")
    open(path, "wb").close()
    latencies: List[float] = []
    arrived = threading.Event()

    def on_lines(source: str, lines: List[bytes]) -> None:
        now = time.monotonic()
        latencies.extend(now - float(line.split(b" ", 1)[0]) for line in lines)
        arrived.set()

    jitter = random.Random(1)
    with FileWatcher([path], on_lines, poll_interval=poll_interval), open(path, "ab") as stream:
        for _ in range(samples):
            time.sleep(jitter.uniform(0.0, 2 * poll_interval))
            arrived.clear()
            stream.write(b"%.6f " % time.monotonic() + LINE + b"\n")
            stream.flush()
            if not arrived.wait(10.0):
                raise RuntimeError("a line was not delivered within 10 s")
    return latencies


def measure_rate(directory: str, rate: int, seconds: float, poll_interval: float) -> Tuple[float, int, int]:
    """(CPU % of one core, lines written, lines delivered) while a writer appends at ``rate``."""
    path = os.path.join(directory, "rate.log")
    open(path, "wb").close()
    delivered = [0]

    def on_lines(source: str, lines: List[bytes]) -> None:
        delivered[0] += len(lines)

    with FileWatcher([path], on_lines, poll_interval=poll_interval) as watcher:
        cpu, wall = cpu_seconds(), time.monotonic()
        writer = subprocess.run([sys.executable, "-c", WRITER, path, str(rate), str(seconds)],
                                check=True, capture_output=True)
        written = int(writer.stdout)
        deadline = time.monotonic() + 10.0
        while delivered[0] < written and time.monotonic() < deadline:
            time.sleep(0.01)
        used, elapsed = cpu_seconds() - cpu, time.monotonic() - wall
        watcher.stop()
    return 100.0 * used / elapsed, written, delivered[0]


def measure_burst(directory: str, lines: int, poll_interval: float) -> float:
    """Lines per second delivered from a backlog of ``lines`` lines read with ``from_start``."""
    path = os.path.join(directory, "burst.log")
    with open(path, "wb") as stream:
        stream.write((LINE + b"\n") * lines)
    delivered = [0]
    done = threading.Event()

    def on_lines(source: str, batch: List[bytes]) -> None:
        delivered[0] += len(batch)
        if delivered[0] >= lines:
            done.set()

    start = time.monotonic()
    with FileWatcher([path], on_lines, from_start=True, poll_interval=poll_interval):
        if not done.wait(120.0):
            raise RuntimeError("the backlog was not delivered within 120 s")
        elapsed = time.monotonic() - start
    return lines / elapsed


def main() -> None:
    """Run the measurements, print the table and write it to the results file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--files", type=int, default=3, help="quiet files followed while idle")
    parser.add_argument("--samples", type=int, default=200, help="latency samples")
    parser.add_argument("--rate", type=int, default=1000, help="lines per second of the steady writer")
    parser.add_argument("--rate-seconds", type=float, default=10.0)
    parser.add_argument("--burst-lines", type=int, default=500_000)
    parser.add_argument("--poll-interval", type=float, default=0.2)
    parser.add_argument("--output", default=RESULTS)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="monilog-bench-") as directory:
        idle = measure_idle(directory, options.files, options.idle_seconds, options.poll_interval)
        latencies = sorted(measure_latency(directory, options.samples, options.poll_interval))
        rate_cpu, written, delivered = measure_rate(directory, options.rate, options.rate_seconds,
                                                    options.poll_interval)
        burst = measure_burst(directory, options.burst_lines, options.poll_interval)

    p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
    rows = [
        ("idle CPU, % of one core",
         f"{idle:.2f}", f"{options.files} files + 1 glob, {options.idle_seconds:g} s"),
        ("latency median, s", f"{statistics.median(latencies):.3f}", f"{len(latencies)} appends"),
        ("latency p99, s", f"{p99:.3f}", ""),
        ("latency max, s", f"{latencies[-1]:.3f}", ""),
        (f"CPU at {options.rate} lines/s, % of one core",
         f"{rate_cpu:.2f}", f"{options.rate_seconds:g} s"),
        (f"lines delivered at {options.rate} lines/s",
         f"{delivered}/{written}", "lost: %d" % (written - delivered)),
        ("backlog to a no-op callback, lines/s", f"{burst:,.0f}", f"{options.burst_lines:,} lines"),
    ]
    width = max(len(row[0]) for row in rows)
    value_width = max(len(row[1]) for row in rows)
    header = (f"monilog watcher bench, poll interval {options.poll_interval:g} s - "
              f"Python {platform.python_version()}, {platform.system()} {platform.release()}, "
              f"{os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}")
    table = "\n".join([header] + [f"{name:<{width}}  {value:>{value_width}}  {note}".rstrip()
                                  for name, value, note in rows])
    print(table)
    os.makedirs(os.path.dirname(os.path.abspath(options.output)), exist_ok=True)
    with open(options.output, "w") as stream:
        stream.write(table + "\n")


if __name__ == "__main__":
    main()
