"""Helpers shared by the end-to-end benches: running a command while sampling its memory and CPU,
and writing a dated result table.

Memory is measured two ways: the peak resident set of the largest process (``ru_maxrss`` from
``wait4``, what ``/usr/bin/time`` reports) and the peak of the sum of the proportional set sizes
(PSS: shared pages divided among the processes sharing them) of the process and all its
descendants, sampled every 50 ms from ``/proc``: the memory the whole run really uses. (Sampling
every 5 ms, as these benches first did, slowed a 1 s replay by 5 to 10 %: the sampler's reads of
``/proc/PID/smaps_rollup`` compete with the measured processes for the machine's 2 cores, and
they cost more for monilog's three processes than for GoAccess's one. The peaks of these runs
last far longer than 50 ms: the same PSS peak was seen at both rates.)

Every bench first compiles the bytecode of the monilog it measures (:func:`compile_monilog`), as
``pip install`` does: an editable checkout run with ``PYTHONDONTWRITEBYTECODE`` (as on the machines
these benches ran on) would otherwise compile some 50 modules again at every start, about 60 ms
that no installed copy spends.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from argparse import ArgumentParser, Namespace
from collections.abc import Sequence
from typing import NamedTuple

TICKS = os.sysconf("SC_CLK_TCK")

WRITER = r"""
import sys, time
from monilog.generator import LogGenerator
path, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
pool = [line for _, line in LogGenerator([1000], [2], fmt="combined", seed=7, start=0).timeline()]
parts = [(line[:line.index("[") + 1], line[line.index("]"):] + "\n") for line in pool]
tick, per_tick = 0.01, max(1, round(rate * 0.01))
written, second, block, offset = 0, None, b"", 0
start = time.monotonic()
with open(path, "ab", buffering=0) as stream:
    ticks = 0
    while ticks * tick < seconds:
        now = int(time.time())
        if now != second:
            second = now
            stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
            lines = [(head + stamp + tail).encode() for head, tail in parts]
        chunk = [lines[(offset + i) % len(lines)] for i in range(per_tick)]
        offset += per_tick
        stream.write(b"".join(chunk))
        written += per_tick
        ticks += 1
        time.sleep(max(0.0, start + ticks * tick - time.monotonic()))
print(written)
"""
"""Source of the writer process (``python -c WRITER PATH RATE SECONDS``): appends ``RATE`` Combined
lines per second from the traffic generator, stamped with the current time, every 10 ms, for
``SECONDS``, then prints how many lines it wrote."""


class Run(NamedTuple):
    """One run of a command."""

    wall: float
    """Seconds from start to exit."""
    cpu: float
    """CPU seconds (user + system) of the process and its descendants."""
    max_rss: int
    """Peak resident set of the largest process, bytes."""
    tree_pss: int
    """Peak of the summed proportional set sizes of the process tree, bytes (sampled)."""
    returncode: int


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, from ``/proc/*/task/*/children``."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as stream:
                    queue.extend(int(child) for child in stream.read().split())
        except OSError:
            continue
    return found


def proportional(pid: int) -> int:
    """Proportional set size of one process in bytes (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as stream:
            for line in stream:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one live process (its own threads only)."""
    with open(f"/proc/{pid}/stat") as stream:
        fields = stream.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and every live process below it, each with the
    children it has already waited for (``/proc/PID/stat`` fields 14 to 17): the same total that
    ``wait4`` gives for the whole tree once it has exited."""
    total = 0.0
    for member in descendants(pid):
        try:
            with open(f"/proc/{member}/stat") as stream:
                fields = stream.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(field) for field in fields[11:15]) / TICKS
    return total


def run(command: Sequence[str], stdout_path: str = os.devnull, env: dict[str, str] | None = None,
        sample_interval: float = 0.05, quiet: bool = False) -> Run:
    """Run ``command`` with its output to ``stdout_path`` (and its errors to nowhere when ``quiet``);
    measure time, CPU and memory."""
    peak = [0]
    done = threading.Event()
    with open(stdout_path, "wb") as output:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=output, env=env, stderr=subprocess.DEVNULL if quiet else None)

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], sum(proportional(pid) for pid in descendants(process.pid)))
                done.wait(sample_interval)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, peak[0], process.returncode)


WORKDIR = os.path.join(tempfile.gettempdir(), "monilog-bench")
"""Where the replay benches keep the logs they generate, between runs (``--workdir``)."""


def replay_options(parser: ArgumentParser) -> Namespace:
    """The options of a bench replaying generated logs: ``parser``'s, with ``--workdir`` (made
    ready), after monilog's bytecode is compiled."""
    parser.add_argument("--workdir", default=WORKDIR, help="where the generated logs are kept between runs")
    options = parser.parse_args()
    compile_monilog()
    os.makedirs(options.workdir, exist_ok=True)
    return options


def compile_monilog(python: str = sys.executable) -> None:
    """Write the bytecode of the monilog package that ``python`` imports (see the module documentation)."""
    subprocess.run([python, "-c", "import compileall, os, sys, monilog; "
                    "sys.exit(not compileall.compile_dir(os.path.dirname(monilog.__file__), quiet=1))"], check=True)


def machine() -> str:
    """Date, CPU, cores, OS and Python, for the table header."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{time.strftime('%Y-%m-%d')}, {model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """A plain-text table, first column left-aligned, the others right-aligned."""
    widths = [max(len(str(row[index])) for row in [header, *rows]) for index in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [str(cell).ljust(widths[0]) if index == 0 else str(cell).rjust(widths[index])
                 for index, cell in enumerate(row)]
        return "  ".join(cells).rstrip()

    return "\n".join([line(header), line(["-" * width for width in widths]), *map(line, rows)])


def write_results(path: str, text: str) -> None:
    """Write ``text`` to ``path``, creating its directory."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as stream:
        stream.write(text + "\n")


def load_average() -> tuple[float, float, float]:
    """The system load averages (other work on the machine skews timings)."""
    return os.getloadavg()
