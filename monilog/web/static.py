"""``--html FILE``: one self-contained HTML report of a whole run, written with its summary.

The file holds the page's own script and style inline (allowed by a Content-Security-Policy
naming their SHA-256 hashes: no other script, no inline handler, nothing from elsewhere) and the
data as JSON in a ``<script type="application/json">`` element, every ``<``, ``>`` and ``&``
escaped. It opens from disk with no network.

The data (besides the ``summary`` object of :mod:`monilog.presentation.jsonlines`):

* ``hits``: requests per bin, from the per-second hits of the alert rule
  (:meth:`Monitor.recent_seconds`, read at each report) when the window is longer than the
  period, else from the reports;
* ``status``: status classes per bin and ``latency``: p50, p90, p95 and p99 per bin, from the
  reports;
* ``hours``: hits, errors, top sections and clients of every hour, from the reports' statistics
  merged hour by hour.

A series starts at its finest step (a second, or the period) and widens (a minute, an hour, a
day) whenever it would have more than :data:`MAX_BINS` bins, so a day of a busy log is some
1,440 bins a chart, a few hundred kB in all.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Dict, Generic, List, Optional, TypeVar

from monilog.accumulation.report import PeriodReport
from monilog.outputs.sink import Sink
from monilog.presentation.jsonlines import dumps, report_to_dict, summary_to_dict
from monilog.web.server import asset

if TYPE_CHECKING:
    from monilog.accumulation.report import RunSummary
    from monilog.accumulation.sketch import LatencySketch
    from monilog.accumulation.statistics import StatsSnapshot
    from monilog.monitor import Monitor

MAX_BINS = 4000
"""Most bins a chart series has."""

STEPS = (1, 60, 3600, 86400)
"""The steps a series widens through."""

TOP = 10
"""Sections, clients and users listed for the whole span; :data:`HOUR_TOP` per hour."""
HOUR_TOP = 5

PERCENTILES = (0.5, 0.9, 0.95, 0.99)

V = TypeVar("V")


class Series(Generic[V]):
    """Values per bin of ``step`` seconds, combined by ``merge`` within a bin and when widening."""

    def __init__(self, finest: int, merge: Callable[[V, V], V]) -> None:
        self.step = finest
        self._steps = [finest] + [step for step in STEPS if step > finest]
        self._merge = merge
        self.bins: Dict[int, V] = {}
        self._first: Optional[int] = None
        self._last: Optional[int] = None

    def add(self, moment: int, value: V) -> None:
        key = moment - moment % self.step
        old = self.bins.get(key)
        self.bins[key] = value if old is None else self._merge(old, value)
        self._first = key if self._first is None else min(self._first, key)
        self._last = key if self._last is None else max(self._last, key)
        while (self._last - self._first) // self.step >= MAX_BINS and self.step != self._steps[-1]:
            self._widen()

    def _widen(self) -> None:
        self.step = self._steps[self._steps.index(self.step) + 1]
        bins, self.bins = self.bins, {}
        for moment in sorted(bins):
            key = moment - moment % self.step
            old = self.bins.get(key)
            self.bins[key] = bins[moment] if old is None else self._merge(old, bins[moment])
        self._first, self._last = min(self.bins), max(self.bins)

    def as_dict(self, convert: Callable[[V], Any], missing: Any) -> Dict[str, Any]:
        """``{"first": epoch, "width": step, "values": [...]}``, every bin from the first to the last."""
        first, last = self._first, self._last
        if first is None or last is None:
            return {"first": None, "width": self.step, "values": []}
        values = [convert(self.bins[key]) if key in self.bins else missing
                  for key in range(first, last + 1, self.step)]
        return {"first": first, "width": self.step, "values": values}


def _sum_counts(a: Dict[str, int], b: Dict[str, int]) -> Dict[str, int]:
    return {key: a.get(key, 0) + b.get(key, 0) for key in {**a, **b}}


def _merge_sketches(a: LatencySketch, b: LatencySketch) -> LatencySketch:
    a.merge(b)
    return a


def _percentiles(sketch: LatencySketch) -> Dict[str, Optional[float]]:
    return {f"p{round(q * 100)}": sketch.quantile(q) for q in PERCENTILES}


class HtmlReportSink(Sink):
    """Collects a run for :func:`render` and writes ``path`` when the summary comes."""

    def __init__(self, path: str, on_problem: Callable[[str], None]) -> None:
        self.path = path
        self.on_problem = on_problem
        self._monitor: Optional[Monitor] = None
        self._seconds = False
        self._pending: Dict[int, int] = {}  # per-second hits still in the alert window
        self._start: Optional[int] = None  # the first report's start
        self.hits: Series[int] = Series(1, int.__add__)
        self.status: Series[Dict[str, int]] = Series(1, _sum_counts)
        self.latency: Series[LatencySketch] = Series(1, _merge_sketches)
        self._hour: Optional[StatsSnapshot] = None
        self._hour_start = 0
        self._last: Optional[PeriodReport] = None
        self.hours: List[Dict[str, Any]] = []
        self._offset = 0

    def start(self, monitor: Monitor) -> None:
        """Read per-second hits from ``monitor`` (when its window covers a period)."""
        self._monitor = monitor
        self._seconds = monitor.alert_state().window > monitor.period
        finest = 1 if self._seconds else monitor.period
        self.hits = Series(finest, int.__add__)
        self.status = Series(monitor.period, _sum_counts)
        self.latency = Series(monitor.period, _merge_sketches)

    def report(self, report: PeriodReport) -> None:
        stats = report.stats
        if stats.start is None or stats.end is None:
            return
        start = int(stats.start.timestamp())
        offset = stats.start.utcoffset()
        self._offset = 0 if offset is None else int(offset.total_seconds())
        if self._start is None:
            self._start = start
        if self._seconds:
            self._take_seconds(final=False)
        else:
            self.hits.add(start, stats.hits)
        self.status.add(start, dict(stats.status_classes))
        if stats.latency is not None:
            self.latency.add(start, stats.latency.copy())
        hour = start - (start + self._offset) % 3600
        if self._hour is not None and hour != self._hour_start:
            self._close_hour()
        if self._hour is None:
            self._hour, self._hour_start = stats, hour
        else:
            self._hour = self._hour.merge(stats)
        self._last = report

    def _take_seconds(self, final: bool, until: Optional[float] = None) -> None:
        """Move the seconds that left the alert window (all of them when ``final``) into ``hits``."""
        assert self._monitor is not None and self._start is not None
        second, hits = self._monitor.recent_seconds()
        if second is not None:
            first = second - len(hits) + 1
            for index, count in enumerate(hits):
                if count > self._pending.get(first + index, -1):
                    self._pending[first + index] = count
        else:
            first = 0
        for moment in sorted(self._pending):
            if final or moment < first:
                count = self._pending.pop(moment)
                if moment >= self._start and (until is None or moment < until):
                    self.hits.add(moment, count)

    def _close_hour(self) -> None:
        assert self._hour is not None and self._last is not None
        data = report_to_dict(PeriodReport(self._hour, self._last.alert), HOUR_TOP)
        self.hours.append({key: data[key] for key in ("start", "end", "hits", "errors", "sections", "clients")})
        self._hour = None

    def summary(self, summary: RunSummary) -> None:
        if self._seconds and self._start is not None:
            self._take_seconds(final=True, until=summary.last_time)
        if self._hour is not None:
            self._close_hour()
        try:
            with open(self.path, "w", encoding="utf-8") as handle:
                handle.write(render(self.data(summary)))
        except OSError as error:
            self.on_problem(f"--html {self.path}: cannot write the report: {error.strerror or error}")
            return
        print(f"monilog: HTML report written to {os.path.abspath(self.path)}", file=sys.stderr)

    def data(self, summary: RunSummary) -> Dict[str, Any]:
        """What the page draws."""
        return {
            "type": "html",
            "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "utc_offset": self._offset,
            "summary": summary_to_dict(summary, TOP),
            "hits": self.hits.as_dict(int, 0),
            "status": self.status.as_dict(dict, {}),
            "latency": self.latency.as_dict(_percentiles, None) if self.latency.bins else None,
            "hours": self.hours,
        }


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def render(data: Dict[str, Any]) -> str:
    """The report page for ``data``: the page's script and style inline, ``data`` as inert JSON."""
    script = asset("app.js").decode("utf-8")
    style = asset("app.css").decode("utf-8")
    payload = dumps(data).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    policy = (f"default-src 'none'; script-src {_hash(script)}; style-src {_hash(style)}; "
              "img-src data:; base-uri 'none'; form-action 'none'")
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\">\n"
        "<title>monilog report</title>\n<link rel=\"icon\" href=\"data:,\">\n"
        f"<style>{style}</style>\n</head>\n<body data-mode=\"report\">\n"
        "<main id=\"app\"><p>This report needs JavaScript.</p></main>\n"
        f"<script type=\"application/json\" id=\"monilog-data\">{payload}</script>\n"
        f"<script>{script}</script>\n</body>\n</html>\n"
    )
