"""Measure ``monitoring`` following a live file: sustained append rate, append-to-report latency, idle CPU.

Run from the repository root (a benchmark, not a test)::

    python bench/follow_bench.py                          # 60 s per rate and 60 s idle: about 8 minutes
    python bench/follow_bench.py --seconds 10 --idle-seconds 10 --rates 50000 100000   # quick look

The watcher alone is measured by ``bench/watcher_bench.py``; this bench runs the whole program,
``monitoring --json --no-log-file --max-idle 3 FILE``, as a user would, in a subprocess:

* sustained rate: a writer process appends ``RATE`` lines per second (Combined lines from the
  traffic generator, stamped with the current time, written every 10 ms) for ``--seconds``;
  ``monitoring`` stops 3 s after the last line (``--max-idle``) and its summary says how many
  lines it parsed. A rate is *sustained* when none is lost and the summary comes no later than
  ``--max-lag`` seconds after the idle time (the monitor kept up instead of draining a backlog);
  the table gives the highest sustained rate tried and every rate's figures;
* append-to-report latency: for every report printed during the traffic, the time between the
  end of its period (log time, which the writer keeps equal to the wall clock) and the moment the
  report line reached this process through the pipe;
* idle CPU: the CPU time of the ``monitoring`` process following a file nobody writes to, over
  ``--idle-seconds``, as a percentage of one core.

Results are printed and written to ``bench/results/follow.txt`` (``--output`` to change).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from typing import NamedTuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import WRITER, compile_monilog, load_average, machine, table, tree_cpu, write_results

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "follow.txt")
MAX_IDLE = 3.0


class RateResult(NamedTuple):
    rate: int
    written: int
    parsed: int
    lag: float
    """Seconds between the writer's end plus the idle time and the summary."""
    cpu: float
    """CPU of the monitoring process during the run, % of one core."""
    latencies: list[float]


def monitoring(path: str, period: int, max_idle: float | None) -> subprocess.Popen:
    command = [sys.executable, "-m", "monilog.cli.monitoring", "--json", "--no-log-file", "--period", str(period),
               "--threshold", "1000000000", path]
    if max_idle is not None:
        command[3:3] = ["--max-idle", str(max_idle)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def measure_rate(directory: str, rate: int, seconds: float, period: int) -> RateResult:
    """Follow a file while a writer appends ``rate`` lines/s for ``seconds``."""
    path = os.path.join(directory, f"follow-{rate}.log")
    open(path, "wb").close()
    process = monitoring(path, period, MAX_IDLE)
    latencies: list[float] = []
    summary: list[dict] = []
    finished = threading.Event()
    writing = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            arrived = time.time()
            record = json.loads(raw)
            if record.get("type") == "report" and writing.is_set() and record["hits"]:
                latencies.append(arrived - datetime.fromisoformat(record["end"]).timestamp())
            elif record.get("type") == "summary":
                summary.append(record)
        finished.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(2.0)  # start-up
    cpu_before = tree_cpu(process.pid)
    wall_before = time.monotonic()
    writing.set()
    writer = subprocess.run([sys.executable, "-c", WRITER, path, str(rate), str(seconds)],
                            check=True, capture_output=True, text=True)
    written_at = time.monotonic()
    cpu = tree_cpu(process.pid) - cpu_before
    cpu_percent = 100.0 * cpu / (written_at - wall_before)
    writing.clear()
    if not finished.wait(seconds + 120.0):
        process.kill()
        finished.wait(5.0)
    lag = time.monotonic() - written_at - MAX_IDLE
    process.wait(10.0)
    os.unlink(path)
    parsed = summary[0]["parsed"] if summary else 0
    return RateResult(rate, int(writer.stdout), parsed, lag, cpu_percent, latencies)


def measure_idle(directory: str, seconds: float, period: int) -> float:
    """CPU of ``monitoring`` following a quiet file, % of one core."""
    path = os.path.join(directory, "idle.log")
    open(path, "wb").close()
    process = monitoring(path, period, None)
    drain = threading.Thread(target=lambda: process.stdout.read() if process.stdout else None, daemon=True)
    drain.start()
    time.sleep(3.0)  # start-up
    cpu_before, wall_before = tree_cpu(process.pid), time.monotonic()
    time.sleep(seconds)
    used, elapsed = tree_cpu(process.pid) - cpu_before, time.monotonic() - wall_before
    process.send_signal(signal.SIGINT)
    process.wait(10.0)
    return 100.0 * used / elapsed


def main() -> None:
    """Run the measurements, print the table and write it to the results file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rates", type=int, nargs="+", default=[25_000, 50_000, 100_000, 150_000, 200_000])
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of writing per rate")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--period", type=int, default=10, help="report period of the monitor")
    parser.add_argument("--max-lag", type=float, default=2.0, help="seconds of backlog allowed at the end")
    parser.add_argument("--output", default=RESULTS)
    options = parser.parse_args()
    compile_monilog()

    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="monilog-follow-bench-") as directory:
        idle = measure_idle(directory, options.idle_seconds, options.period)
        results = []
        for rate in sorted(options.rates):
            result = measure_rate(directory, rate, options.seconds, options.period)
            results.append(result)
            print(f"{rate} lines/s: written {result.written}, parsed {result.parsed}, lag {result.lag:.2f} s, "
                  f"CPU {result.cpu:.0f} %", file=sys.stderr, flush=True)

    rows = []
    sustained = 0
    for result in results:
        kept_up = result.parsed == result.written and result.lag <= options.max_lag
        if kept_up:
            sustained = max(sustained, result.rate)
        latency = sorted(result.latencies)
        rows.append([
            f"{result.rate:,}", f"{result.written:,}", f"{result.written - result.parsed:,}", f"{result.lag:.2f}",
            f"{result.cpu:.0f}",
            f"{statistics.median(latency):.2f}" if latency else "-", f"{latency[-1]:.2f}" if latency else "-",
            "yes" if kept_up else "no",
        ])
    header = ["lines/s", "written", "lost", "lag s", "CPU %", "report latency median s", "max s", "sustained"]
    text = "\n".join([
        f"monitoring following a file (--json, --period {options.period}, {options.seconds:g} s per rate): {machine()}",
        f"load average before {load_before[0]:.2f}, after {load_average()[0]:.2f}",
        table(rows, header),
        f"highest sustained rate: {sustained:,} lines/s",
        f"idle CPU over {options.idle_seconds:g} s: {idle:.2f} % of one core",
    ])
    print(text)
    write_results(options.output, text)


if __name__ == "__main__":
    main()
