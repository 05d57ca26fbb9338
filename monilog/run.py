"""Following live files: a :class:`~monilog.watcher.FileWatcher` feeding a :class:`~monilog.monitor.Monitor`.

(Replaying whole files is :func:`monilog.replayer.replay`.)

* :func:`follow` runs a :class:`~monilog.watcher.FileWatcher` thread feeding the monitor while
  the calling thread ticks the clock, refreshes an optional live display, and stops on request,
  on ``max_idle`` or when a signal sets ``stop``.
"""

from __future__ import annotations

import glob
import os
import threading
import time
from typing import Callable, Optional, Sequence

from monilog.accumulation.report import RunSummary
from monilog.monitor import Monitor
from monilog.parsing.w3c import last_fields_directive
from monilog.watcher import FileWatcher, WatchNotice, glob_matches
from monilog.watcher.kafka import KafkaSettings

TICK_SECONDS = 0.25
"""How often follow mode moves the clock and refreshes the display."""


class HostClock:
    """The host's time as the monitor sees it: epoch seconds that move with :func:`time.monotonic`.

    The wall clock is read once, at creation; after that only elapsed monotonic time counts, so
    an NTP step or a manual change of the host's clock cannot move the monitor's clock by an
    hour (the offset between the log and the host is learnt anew from the lines anyway, which
    also absorbs the slow drift between the two clocks). Tests pass their own ``wall`` and
    ``monotonic`` functions.
    """

    def __init__(self, wall: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._anchor = monotonic()
        self._epoch = wall()

    def now(self) -> float:
        """The host's time now."""
        return self.at(self._monotonic())

    def at(self, monotonic: float) -> float:
        """The host's time when :func:`time.monotonic` (or the clock's own) read ``monotonic``."""
        return self._epoch + (monotonic - self._anchor)


def follow(
    monitor: Monitor,
    paths: Sequence[str],
    *,
    from_start: bool = False,
    max_idle: Optional[float] = None,
    stop: Optional[threading.Event] = None,
    on_tick: Optional[Callable[[], None]] = None,
    poll_interval: float = 0.2,
    clock: Optional[HostClock] = None,
    kafka: Optional[KafkaSettings] = None,
) -> RunSummary:
    """Follow ``paths`` live until ``stop`` is set, nothing arrived for ``max_idle`` seconds, or
    the only input, standard input, has ended.

    ``kafka://`` paths are topics, read with the ``kafka`` settings beside the files.
    ``on_tick`` is called from this thread after every clock tick (to refresh a dashboard).

    The monitor's clock moves with the host's (``clock``) only up to the last moment the watcher
    had read every input to its end: after a stall (the process stopped, a VM paused, a watcher
    behind on an overloaded machine) the backlog is read first, in log time, so a pause neither
    makes a false recovery nor turns the lines written meanwhile into late ones.
    """
    stop = stop or threading.Event()
    clock = clock or HostClock()

    def on_lines(source: str, lines: Sequence[bytes]) -> None:
        monitor.feed(source, lines, wall_now=clock.now())

    def on_notice(notice: WatchNotice) -> None:
        monitor.notice(f"{notice.path}: {notice.message}", kind=notice.kind)

    if not from_start and monitor.fmt in ("auto", "w3c"):
        # files read from their end (explicit paths, and glob matches existing now) need the
        # field list their W3C header gave; files appearing later are read from their start
        for path in paths:
            for source in glob_matches(path) if glob.has_magic(path) else [path]:
                if source != "-" and os.path.isfile(source):
                    try:
                        with open(source, "rb") as handle:
                            directive = last_fields_directive(handle)
                    except OSError:
                        continue  # the watcher reports unreadable files
                    if directive is not None:
                        monitor.parser_for(source).parse(directive)

    def on_skipped(source: str, reason: str, amount: int) -> None:
        monitor.count_skipped(reason, amount)

    watcher = FileWatcher(paths, on_lines, from_start=from_start, poll_interval=poll_interval, on_notice=on_notice,
                          kafka=kafka, on_skipped=on_skipped)
    watcher.start()
    try:
        while not stop.wait(TICK_SECONDS):
            caught_up = watcher.caught_up_at
            if caught_up is not None:
                monitor.tick(clock.at(caught_up))
            if on_tick is not None:
                on_tick()
            if max_idle is not None and time.monotonic() - watcher.last_activity >= max_idle:
                monitor.notice(f"no new line for {max_idle:g} s: stopping (--max-idle)", kind="max-idle")
                break
            if not watcher.running:  # standard input reached its end (cat log | monitoring -)
                break
    finally:
        try:
            watcher.stop()  # flushes an unterminated last line into the monitor
        except Exception as error:
            monitor.notice(f"file watcher stopped by an error: {type(error).__name__}: {error}", kind="watcher-error")
    monitor.tick(clock.now())  # stop() read every input to its end
    return monitor.finish()
