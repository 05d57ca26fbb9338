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
* ``hours``: hits, errors, top sections and clients of every hour, added up from the reports
  (sections and clients beyond a report's key cap are not in its mappings, so an hour's figures
  are exact up to that cap, like a report's).

A series starts at its finest step (a second, or the period) and widens (a minute, an hour, a
day) whenever it would have more than :data:`MAX_BINS` bins, so a day of a busy log is some
1,440 bins a chart, a few hundred kB in all.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
from collections import Counter
from datetime import datetime, timezone, tzinfo
from typing import TYPE_CHECKING, Any, Callable, Dict, Generic, List, Optional, Tuple, TypeVar

from monilog.outputs.sink import Sink
from monilog.presentation.jsonlines import dumps, summary_to_dict
from monilog.web.server import asset

if TYPE_CHECKING:
    from monilog.accumulation.report import PeriodReport, RunSummary
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


class Hour:
    """Hits, errors, sections and clients of one hour, added up from its reports.

    (Merging whole snapshots hour by hour would cost a replay half as much again as the monitor.)
    """

    def __init__(self, start: int, zone: Optional[tzinfo]) -> None:
        self.start = start
        self.zone = zone
        self.hits = self.errors = 0
        self.sections: Counter[str] = Counter()
        self.section_errors: Counter[str] = Counter()
        self.clients: Counter[str] = Counter()

    def add(self, stats: StatsSnapshot) -> None:
        self.hits += stats.hits
        self.errors += stats.errors
        for name, section in stats.sections.items():
            self.sections[name] += section.hits
            self.section_errors[name] += section.errors
        self.clients.update(stats.clients)

    def as_dict(self) -> Dict[str, Any]:
        """The keys of a report object this page shows per hour (sections without bytes)."""
        def top(counts: Counter[str]) -> List[Tuple[str, int]]:
            return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:HOUR_TOP]

        return {
            "start": datetime.fromtimestamp(self.start, self.zone).isoformat(),
            "hits": self.hits,
            "errors": self.errors,
            "sections": [{"section": name, "hits": hits, "share": round(hits / self.hits, 6) if self.hits else 0,
                          "errors": self.section_errors[name]} for name, hits in top(self.sections)],
            "clients": [{"client": name, "hits": hits} for name, hits in top(self.clients)],
        }


class HtmlReportSink(Sink):
    """Collects a run for :func:`render` and writes ``path`` when the summary comes."""

    def __init__(self, path: str, on_problem: Callable[[str], None]) -> None:
        self.path = path
        self.on_problem = on_problem
        self._monitor: Optional[Monitor] = None
        self._seconds = False
        self._pending: Dict[int, int] = {}  # per-second hits still in the alert window
        self._fresh = 0
        self._start: Optional[int] = None  # the first report's start
        self.hits: Series[int] = Series(1, int.__add__)
        self.status: Series[Dict[str, int]] = Series(1, _sum_counts)
        self.latency: Series[LatencySketch] = Series(1, _merge_sketches)
        self._hour: Optional[Hour] = None
        self.hours: List[Dict[str, Any]] = []
        self._offset = 0

    def start(self, monitor: Monitor) -> None:
        """Read per-second hits from ``monitor`` (when its window covers a period)."""
        self._monitor = monitor
        state = monitor.alert_state()
        self._seconds = state.window > monitor.period
        self._fresh = monitor.period + state.lateness + 2
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
        if self._hour is not None and hour != self._hour.start:
            self.hours.append(self._hour.as_dict())
            self._hour = None
        if self._hour is None:
            self._hour = Hour(hour, stats.start.tzinfo)
        self._hour.add(stats)

    def _take_seconds(self, final: bool, until: Optional[float] = None) -> None:
        """Move the seconds that left the alert window (all of them when ``final``) into ``hits``."""
        assert self._monitor is not None and self._start is not None
        second, hits = self._monitor.recent_seconds()
        if second is not None:
            first = second - len(hits) + 1
            # the seconds that can have changed since the last report: a period and the lateness
            fresh = min(len(hits), self._fresh)
            for index in range(len(hits) - fresh, len(hits)):
                if hits[index] > self._pending.get(first + index, -1):
                    self._pending[first + index] = hits[index]
        else:
            first = 0
        for moment in list(self._pending):
            if final or moment < first:
                count = self._pending.pop(moment)
                if moment >= self._start and (until is None or moment < until):
                    self.hits.add(moment, count)

    def summary(self, summary: RunSummary) -> None:
        if self._seconds and self._start is not None:
            self._take_seconds(final=True, until=summary.last_time)
        if self._hour is not None:
            self.hours.append(self._hour.as_dict())
            self._hour = None
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
