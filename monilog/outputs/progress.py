"""The progress bar of a replay on a terminal's standard error: :class:`ProgressBar`.

It shows the name of the file being read (without its directory), a bar of the bytes read of the total, those bytes, lines/s, the
time elapsed and the time left (:mod:`rich.progress`). It is fed by the replay engine's progress
callback (:meth:`ProgressBar.update`, in the main process, after each batch applied) and
redraws at most every :data:`UPDATE_SECONDS`, so a replay spends nothing measurable on it; a
replay shorter than that never shows it.

It is also a :class:`~monilog.outputs.sink.Sink`, placed before the others: it takes itself off
the screen before the summary is printed, and, when standard output is the terminal too, before
each report, alert or notice, to be drawn again below it at the next update. So nothing printed
is ever overwritten, and the bar is gone once the summary shows.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Optional, TextIO

from monilog.outputs.sink import Sink

if TYPE_CHECKING:
    from monilog.accumulation.alerter import AlertEvent
    from monilog.accumulation.report import PeriodReport, RunSummary
    from monilog.replayer.engine import ReplayProgress

UPDATE_SECONDS = 0.1
"""Least time between two redraws of the bar."""


class ProgressBar(Sink):
    """A replay's progress on ``stream`` (a terminal); ``shares_screen``: standard output is that
    terminal too, so the bar steps aside whenever the other outputs print."""

    def __init__(self, stream: Optional[TextIO] = None, shares_screen: bool = False) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.table import Column

        # one line from 72 columns on: the file's name is cut (with an ellipsis) to what is left
        self._progress = Progress(
            TextColumn("{task.description}", style="bold", table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis")),
            BarColumn(bar_width=20), DownloadColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
            TimeRemainingColumn(), console=Console(file=stream or sys.stderr), transient=True, auto_refresh=False,
            redirect_stdout=False, redirect_stderr=False, expand=True,
        )
        self._task = self._progress.add_task("replaying", total=None, rate="")
        self._shares_screen = shares_screen
        self._shown = False
        self._drawn_at = time.monotonic()

    def update(self, progress: ReplayProgress) -> None:
        """Show how far the replay is (the engine's progress callback)."""
        now = time.monotonic()
        if now - self._drawn_at < UPDATE_SECONDS:
            return
        self._drawn_at = now
        elapsed = self._progress.tasks[0].elapsed or UPDATE_SECONDS
        self._progress.update(self._task, description=os.path.basename(progress.path), completed=progress.done,
                              total=progress.total, rate=f"{progress.lines / elapsed:,.0f} lines/s")
        if self._shown:
            self._progress.refresh()
        else:
            sys.stdout.flush()  # what was printed goes above the bar
            self._progress.start()
            self._shown = True

    def _hide(self) -> None:
        if self._shown:
            self._shown = False
            self._progress.stop()

    def _step_aside(self) -> None:
        if self._shares_screen:
            self._hide()

    def report(self, report: PeriodReport) -> None:
        self._step_aside()

    def event(self, event: AlertEvent) -> None:
        self._step_aside()

    def notice(self, message: str) -> None:
        self._step_aside()

    def summary(self, summary: RunSummary) -> None:
        self._hide()

    def close(self) -> None:
        self._hide()
