"""Standard output: plain text or JSON lines, one write per item, flushed at once."""

from __future__ import annotations

import sys
from typing import Callable, NamedTuple, Optional, TextIO

from monilog.accumulation.alerter import AlertEvent
from monilog.accumulation.report import PeriodReport, RunSummary
from monilog.outputs.sink import Sink
from monilog.presentation import jsonlines, text


class Presentation(NamedTuple):
    """How each thing a monitor produces becomes one chunk of output text."""

    report: Callable[[PeriodReport, int], str]
    event: Callable[[AlertEvent], str]
    notice: Callable[[str], str]
    summary: Callable[[RunSummary, int], str]


PLAIN = Presentation(text.format_report, text.format_event, text.format_notice, text.format_summary)
"""Readable plain text: a block per report, one line per alert, recovery and notice."""

JSON_LINES = Presentation(
    lambda report, top: jsonlines.dumps(jsonlines.report_to_dict(report, top)),
    lambda event: jsonlines.dumps(jsonlines.event_to_dict(event)),
    lambda message: jsonlines.dumps(jsonlines.notice_to_dict(message)),
    lambda summary, top: jsonlines.dumps(jsonlines.summary_to_dict(summary, top)),
)
"""One JSON object per line (schema: :mod:`monilog.presentation.jsonlines`)."""


class StreamSink(Sink):
    """Writes everything to a text stream in one presentation, one flushed write per item.

    Reports list ``top`` sections, clients and codes; the summary at least 10.
    """

    def __init__(self, presentation: Presentation, stream: Optional[TextIO] = None, top: int = 5) -> None:
        self.presentation = presentation
        self.stream = stream or sys.stdout
        self.top = top

    def _write(self, chunk: str) -> None:
        self.stream.write(chunk + "\n")
        self.stream.flush()

    def report(self, report: PeriodReport) -> None:
        self._write(self.presentation.report(report, self.top))

    def event(self, event: AlertEvent) -> None:
        self._write(self.presentation.event(event))

    def notice(self, message: str) -> None:
        self._write(self.presentation.notice(message))

    def summary(self, summary: RunSummary) -> None:
        self._write(self.presentation.summary(summary, max(self.top, 10)))


class TextSink(StreamSink):
    """Plain text on ``stream`` (standard output by default)."""

    def __init__(self, stream: Optional[TextIO] = None, top: int = 5) -> None:
        super().__init__(PLAIN, stream, top)


class JsonSink(StreamSink):
    """JSON lines on ``stream`` (standard output by default)."""

    def __init__(self, stream: Optional[TextIO] = None, top: int = 5) -> None:
        super().__init__(JSON_LINES, stream, top)


class BellSink(Sink):
    """Rings the terminal bell on every alert (``--bell``), on standard error so that it never
    mixes into JSON or report output."""

    def __init__(self, stream: Optional[TextIO] = None) -> None:
        self.stream = stream or sys.stderr

    def event(self, event: AlertEvent) -> None:
        if event.kind == "alert":
            self.stream.write("\a")
            self.stream.flush()
