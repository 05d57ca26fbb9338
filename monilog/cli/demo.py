"""``monitoring --demo``: the product at work on generated traffic, with no file to prepare.

A thread writes :class:`~monilog.generator.LogGenerator` traffic, in real time, into a log in a
fresh temporary directory (removed at exit); ``monitoring`` follows that log with every output it
would use on a real one (the dashboard on a terminal, plain text otherwise, ``--json``...).

The timeline, repeated until Ctrl-C: a fifth of the threshold for one window, twice the threshold
for one window, a fifth of it for one window. The window's average crosses the threshold 4/9 of a
window into the busy step and falls back 5/9 of a window after it: with the demo's defaults
(threshold 10 req/s, a 20-second window, reports every 5 s) an alert about 29 s in and a
recovery about 51 s in, then the same every minute. ``--threshold``, ``--window`` and
``--period`` change the rule and the timeline with it (``--window 120``: the real rule, an alert
after about 4 minutes). The demo writes no run log.

What a demo runs on (the generator, a thread, a temporary directory) is imported when one starts:
:func:`add_arguments` is part of every ``monitoring`` command line, ``--version`` included.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from contextlib import contextmanager

from monilog.cli.command import UsageError

TYPE_CHECKING = False  # as typing's, which is not imported: the console scripts start faster without it
if TYPE_CHECKING:
    import threading
    from typing import Iterator, Optional, Sequence

WINDOW = 20
"""The demo's alert window (seconds): short, so an alert and its recovery come within a minute."""

PERIOD = 5
"""The demo's report interval (seconds)."""

QUIET, BUSY = 0.2, 2.0
"""The timeline's rates, as multiples of the threshold."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--demo", action="store_true", help=f"show monilog at work on generated traffic that crosses "
                        f"the threshold and falls back, in a temporary log removed at exit (window {WINDOW} s and "
                        f"reports every {PERIOD} s unless given)")


def arguments(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """The command line parsed again with the demo's defaults, checked for what a demo cannot do."""
    parser.set_defaults(window=WINDOW, period=PERIOD, no_log_file=True)
    args = parser.parse_args(argv)
    if args.paths or args.file:
        raise UsageError("--demo follows its own generated log: give no PATH or --file")
    if args.replay:
        raise UsageError("--demo follows a live log: it cannot be used with --replay")
    args.from_start = True  # the log is new: every line of it counts
    return args


def rates(threshold: float) -> Sequence[float]:
    """Requests per second of the timeline's steps, each one window long."""
    return (QUIET * threshold, BUSY * threshold, QUIET * threshold)


def banner(args: argparse.Namespace, log: str) -> str:
    """What the demo says before it starts: that it is one, the rule in force, what to expect."""
    window, threshold = args.window, args.threshold
    steps = ", then ".join(f"{rate:g} req/s for {window} s" for rate in rates(threshold))
    alert, recovery = window * (1 + (1 - QUIET) / (BUSY - QUIET)), window * (2 + (BUSY - 1) / (BUSY - QUIET))
    return (f"== monilog demo: generated traffic, not a real log ==\n"
            f"Alert rule: average traffic over the last {window} s above {threshold:g} req/s"
            f"{' (the demo window; the default is 120 s)' if window != 120 else ''}. Reports every {args.period} s.\n"
            f"Traffic, repeated: {steps}: expect an alert about {alert:.0f} s in and a recovery about "
            f"{recovery:.0f} s in.\n"
            f"Log: {log} (temporary, removed at exit). Ctrl-C stops and prints the summary.\n"
            f"To watch a real log: monitoring /var/log/nginx/access.log (or --replay FILE for an old one).\n")


def label(log: str) -> str:
    """How the demo's log is named on screen (the dashboard's header, the summary)."""
    return f"DEMO · real logs: monitoring PATH · generated traffic in {log}"


@contextmanager
def generated_log(args: argparse.Namespace) -> Iterator[str]:
    """A temporary log with the demo's traffic written into it by a thread until the block ends;
    the directory holding it is removed then."""
    import shutil
    import tempfile
    import threading

    directory = tempfile.mkdtemp(prefix="monilog-demo-")
    log = os.path.join(directory, "access.log")
    stop = threading.Event()
    writer = threading.Thread(target=_write, args=(log, args.threshold, args.window, stop), name="monilog-demo",
                              daemon=True)
    try:
        with open(log, "wb"):
            pass
        writer.start()
        yield log
    finally:
        stop.set()
        if writer.is_alive():
            writer.join()
        shutil.rmtree(directory, ignore_errors=True)


def _write(log: str, threshold: float, window: int, stop: threading.Event) -> None:
    """Write the timeline into ``log`` again and again, each line when its time comes, until ``stop``."""
    from monilog.generator import LogGenerator

    descriptor = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        origin, start = time.monotonic(), time.time()
        for cycle in itertools.count():
            traffic = LogGenerator(rates(threshold), [window] * 3, seed=cycle)  # the same demo every run
            for moment, line in traffic.timeline(start):
                if stop.wait(origin + (moment - start) - time.monotonic()):
                    return
                os.write(descriptor, f"{line}\n".encode())
            origin, start = origin + traffic.total_duration, start + traffic.total_duration
            if stop.wait(origin - time.monotonic()):  # the end of the cycle, even one without a line
                return
    finally:
        os.close(descriptor)
