"""What one frame of the dashboard costs, in this process (a benchmark, not a test; about 20 s).

Run from the repository root::

    python bench/dashboard_bench.py
    python bench/dashboard_bench.py --frames 50

A ``Monitor`` is fed the first ``--lines`` lines of the 1M-line Combined log of ``replay_bench``
(so the screen has a report, sections, clients and a traffic chart), then ``--frames`` frames of
its view are drawn on an in-memory 120x40 terminal (``force_terminal``, 256 colours), one second
of log time apart (a line of the next second fed before each frame, as following live does):

* ``Dashboard.update``, as ``monitoring`` draws each second: only the lines that changed are
  written, and the panels whose figures did not change (status codes, clients, a closed alert
  history) are not laid out again;
* the whole screen laid out and rendered by rich for each frame (``render_dashboard`` printed on
  the same kind of console), as the dashboard drew before it kept lines and panels.

Each figure is the median CPU time of a frame (``time.process_time``), with the bytes written per
frame. The bench measures whichever monilog it imports, so running it with ``PYTHONPATH`` at an
older commit measures that commit's ``Dashboard`` (at a8dabd8 and before, it drew through
rich's ``Live``). Results are printed and written to ``bench/results/dashboard.txt``
(``--output`` to change).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from typing import Callable, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib import load_average, machine, replay_options, table, write_results
from replay_bench import generate
from rich.console import Console

from monilog.monitor import Monitor
from monilog.presentation.dashboard import Dashboard, render_dashboard

UPDATE, WHOLE = "Dashboard.update", "whole screen by rich"
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "dashboard.txt")


def frames(monitor: Monitor, later: List[bytes], count: int, draw: Callable[[Monitor], None]) -> List[float]:
    """CPU seconds of each of ``count`` frames, a line of a later second fed before each."""
    spent = []
    for index in range(count):
        monitor.feed("access.log", [later[index % len(later)]])
        start = time.process_time()
        draw(monitor)
        spent.append(time.process_time() - start)
    return spent


def measure(way: str, head: List[bytes], later: List[bytes], count: int) -> List[str]:
    """The table row of one way of drawing ``count`` frames."""
    monitor = Monitor(10, 120, 10)
    for start in range(0, len(head), 4096):
        monitor.feed("access.log", head[start:start + 4096])
    output = io.StringIO()
    console = Console(file=output, width=120, height=40, force_terminal=True, color_system="256")
    if way == UPDATE:
        dashboard = Dashboard(console)
        dashboard.start()
        draw: Callable[[Monitor], None] = lambda monitor: dashboard.update(monitor.view())  # noqa: E731
    else:
        draw = lambda monitor: console.print(render_dashboard(monitor.view()))  # noqa: E731
    frames(monitor, later, 5, draw)  # warm
    written = len(output.getvalue())
    spent = frames(monitor, later, count, draw)
    per_frame = (len(output.getvalue()) - written) / count
    return [way, str(count), f"{statistics.median(spent) * 1000:.2f}", f"{min(spent) * 1000:.2f}",
            f"{max(spent) * 1000:.2f}", f"{per_frame / 1000:.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lines", type=int, default=200_000, help="lines fed before the frames (default 200,000)")
    parser.add_argument("--frames", type=int, default=100, help="frames drawn per way (default 100)")
    parser.add_argument("--output", default=RESULTS)
    options = replay_options(parser)
    with open(generate(options.workdir, "combined", 1_000_000, 1000), "rb") as stream:
        lines = [next(stream).rstrip(b"\n") for _ in range(options.lines + options.frames * 1000)]
    head, tail = lines[:options.lines], lines[options.lines:]
    later = tail[::1000]  # a line of each later second
    load_before = load_average()
    rows = [measure(way, head, later, options.frames) for way in (UPDATE, WHOLE)]
    text = "\n".join([
        f"dashboard frames, 120x40, after {options.lines:,} Combined lines: {machine()}",
        f"load average before {load_before[0]:.2f}, after {load_average()[0]:.2f}",
        table(rows, ["drawing", "frames", "ms CPU (median)", "min", "max", "kB written a frame"]),
    ])
    print(text)
    write_results(options.output, text)


if __name__ == "__main__":
    main()
