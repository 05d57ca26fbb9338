"""Standard output: plain text or JSON lines, one write per item, flushed at once."""

from __future__ import annotations

import sys
from typing import Optional, TextIO

from monilog.accumulation.alerter import AlertEvent
from monilog.accumulation.report import PeriodReport, RunSummary
from monilog.outputs.sink import Sink
from monilog.presentation import jsonlines, text


class TextSink(Sink):
    """Readable plain text: a block per report, one line per alert, recovery and notice."""

    def __init__(self, stream: Optional[TextIO] = None, top: int = 5) -> None:
        self.stream = stream or sys.stdout
        self.top = top

    def _write(self, chunk: str) -> None:
        self.stream.write(chunk + "\n")
        self.stream.flush()

    def report(self, report: PeriodReport) -> None:
        self._write(text.format_report(report, top=self.top))

    def event(self, event: AlertEvent) -> None:
        self._write(text.format_event(event))

    def notice(self, message: str) -> None:
        self._write(text.format_notice(message))

    def summary(self, summary: RunSummary) -> None:
        self._write(text.format_summary(summary, top=max(self.top, 10)))


class JsonSink(Sink):
    """JSON lines: one object per report, event, notice and the final summary (schema: :mod:`monilog.presentation.jsonlines`)."""

    def __init__(self, stream: Optional[TextIO] = None, top: int = 5) -> None:
        self.stream = stream or sys.stdout
        self.top = top

    def _write(self, obj: dict) -> None:
        self.stream.write(jsonlines.dumps(obj) + "\n")
        self.stream.flush()

    def report(self, report: PeriodReport) -> None:
        self._write(jsonlines.report_to_dict(report, top=self.top))

    def event(self, event: AlertEvent) -> None:
        self._write(jsonlines.event_to_dict(event))

    def notice(self, message: str) -> None:
        self._write(jsonlines.notice_to_dict(message))

    def summary(self, summary: RunSummary) -> None:
        self._write(jsonlines.summary_to_dict(summary, top=max(self.top, 10)))


class BellSink(Sink):
    """Rings the terminal bell on every alert (``--bell``), on standard error so that it never
    mixes into JSON or report output."""

    def __init__(self, stream: Optional[TextIO] = None) -> None:
        self.stream = stream or sys.stderr

    def event(self, event: AlertEvent) -> None:
        if event.kind == "alert":
            self.stream.write("\a")
            self.stream.flush()
