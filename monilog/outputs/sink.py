"""The interface every output implements: the monitor calls it, outputs decide what to do.

The report types are imported for annotations only, and the worker that reports problems when
it is needed: an output can be declared (the console scripts' command line does) without loading
the accumulation machinery or threads.
"""

from __future__ import annotations

TYPE_CHECKING = False  # as typing's, which is not imported: the console scripts start faster without it
if TYPE_CHECKING:
    from typing import Callable, Iterable, Optional

    from monilog.accumulation.alerter import AlertEvent
    from monilog.accumulation.report import PeriodReport, RunSummary


class Sink:
    """Receives what a :class:`~monilog.monitor.Monitor` produces. Every method is optional.

    A monitor calls its sinks one at a time (never concurrently), in the order things happen:
    an alert as soon as it is raised, a report when its period is over, the summary at exit.
    A sink must not raise: an output that fails reports it through :meth:`notice` of the
    others or on stderr and keeps monitoring going.
    """

    def report(self, report: PeriodReport) -> None:
        """One period is over."""

    def event(self, event: AlertEvent) -> None:
        """An alert was raised or recovered."""

    def notice(self, message: str) -> None:
        """Something the user should know about the input (a file missing, rotated, unreadable...)."""

    def summary(self, summary: RunSummary) -> None:
        """The run is over."""

    def close(self) -> None:
        """Release what the sink holds (files, threads, sockets)."""


class OneRule(Sink):
    """Hands ``sink`` the alerts and recoveries of one rule only (a ``webhook`` or ``exec`` of a
    ``[[rule]]`` table), and closes it with the others."""

    def __init__(self, sink: Sink, rule: str) -> None:
        self.sink, self.rule = sink, rule

    def event(self, event: AlertEvent) -> None:
        if event.rule == self.rule:
            self.sink.event(event)

    def close(self) -> None:
        self.sink.close()

    def __repr__(self) -> str:
        return f"{type(self.sink).__name__} of {self.rule!r}"


def close_all(sinks: Iterable[Sink], on_problem: Optional[Callable[[str], None]] = None) -> None:
    """Close every sink, whatever another one raises (a run log's last flush on a full disk...):
    a sink left open may leave a hook's process or a delivery thread behind. A failure is
    reported in one line through ``on_problem`` (by default
    :func:`~monilog.outputs.worker.report_problem`: on standard error), never raised."""
    if on_problem is None:
        from monilog.outputs.worker import report_problem

        on_problem = report_problem
    for sink in sinks:
        try:
            sink.close()
        except Exception as error:
            on_problem(f"output {type(sink).__name__} failed to close: {type(error).__name__}: {error}")
