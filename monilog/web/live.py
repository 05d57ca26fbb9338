"""``monitoring --web``: the live page's sink, which keeps the last ten minutes for the page.

The monitor knows nothing of the web: this sink receives reports, events and notices like any
output, and a thread of its own reads the per-second hits (:meth:`Monitor.recent_seconds`, a
few microseconds) and the alert state twice a second. What it keeps and sends:

``/api/view``
    The ``view`` object of :mod:`monilog.presentation.jsonlines` (built from
    :meth:`Monitor.view`, at most once a second however many ask), plus the page's history:
    ``"seconds": {"first": epoch second, "hits": [int]}`` (hits of each second of the last
    :data:`HISTORY_SECONDS`, oldest first), ``"reports": [report objects]`` (the periods of the
    last :data:`HISTORY_SECONDS`), ``"notices": [notice objects]`` (the last
    :data:`MAX_NOTICES`) and ``"utc_offset"`` (seconds east of UTC of the log's times).
``/api/events``
    Server-Sent Events. Unnamed events carry exactly the ``--json`` lines: ``report``,
    ``alert``, ``recover``, ``notice`` and ``summary`` objects, as they happen. Events named
    ``tick`` (every :data:`TICK_SECONDS`) carry ``{"type": "tick", "second": epoch second,
    "hits": [int]}`` (the hits of the seconds up to ``second``, oldest first), ``"lines"``,
    ``"parsed"`` and the alert-state keys of a report (``alerting``, ``window_hits``,
    ``window_average``, ``threshold``, ``window``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Tuple

from monilog.outputs.sink import Sink
from monilog.presentation.jsonlines import (
    alert_state_to_dict,
    dumps,
    event_to_dict,
    notice_to_dict,
    report_to_dict,
    summary_to_dict,
    view_to_dict,
)
from monilog.web.server import Broadcaster, WebServer, event_message

if TYPE_CHECKING:
    from monilog.accumulation.alerter import AlertEvent
    from monilog.accumulation.report import PeriodReport, RunSummary
    from monilog.monitor import Monitor

HISTORY_SECONDS = 600
"""How much history the page gets: ten minutes."""

TICK_SECONDS = 0.5
"""How often the per-second hits are read and sent: the page is never more than this behind."""

VIEW_SECONDS = 1.0
"""``/api/view`` is built at most this often (a view costs milliseconds on a busy monitor)."""

MAX_NOTICES = 50


class WebSink(Sink):
    """Serves the live page on ``host:port`` once :meth:`start` gave it the monitor.

    :raises OSError: the address cannot be bound.
    """

    def __init__(self, host: str, port: int, token: Optional[str] = None, top: int = 5) -> None:
        self.top = top
        self.broadcaster = Broadcaster()
        self.server = WebServer(host, port, self._view, self.broadcaster, token)
        self._monitor: Optional[Monitor] = None
        self._lock = threading.Lock()
        self._seconds: Dict[int, int] = {}
        self._reports: Deque[Tuple[float, Dict[str, Any]]] = deque()
        self._notices: Deque[Dict[str, Any]] = deque(maxlen=MAX_NOTICES)
        self._offset = 0
        self._cached: Optional[Tuple[float, bytes]] = None
        self._sent: Optional[int] = None  # the last second a tick carried
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, name="monilog-web-tick", daemon=True)

    @property
    def address(self) -> Tuple[str, int]:
        return self.server.address

    def start(self, monitor: Monitor) -> None:
        """Start serving ``monitor``."""
        self._monitor = monitor
        self.server.start()
        self._ticker.start()

    # -- what the monitor hands over -------------------------------------------------------

    def report(self, report: PeriodReport) -> None:
        data = report_to_dict(report, self.top)
        end = report.stats.end
        with self._lock:
            if end is not None:
                offset = end.utcoffset()
                self._offset = 0 if offset is None else int(offset.total_seconds())
                self._reports.append((end.timestamp(), data))
                while self._reports and self._reports[0][0] < end.timestamp() - HISTORY_SECONDS:
                    self._reports.popleft()
        self._send(data)

    def event(self, event: AlertEvent) -> None:
        self._send(event_to_dict(event))

    def notice(self, message: str) -> None:
        data = notice_to_dict(message)
        with self._lock:
            self._notices.append(data)
        self._send(data)

    def summary(self, summary: RunSummary) -> None:
        self._send(summary_to_dict(summary, self.top))

    def close(self) -> None:
        self._stop.set()
        if self._ticker.is_alive():
            self._ticker.join(5.0)
        self.server.close()

    # -- what the page reads ---------------------------------------------------------------

    def _send(self, data: Dict[str, Any], event: Optional[str] = None) -> None:
        if self.broadcaster.clients:
            self.broadcaster.send(event_message(dumps(data), event))

    def _tick_loop(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            self.tick()

    def tick(self) -> None:
        """Keep the seconds the monitor evaluated and send them to the page."""
        monitor = self._monitor
        assert monitor is not None
        second, hits = monitor.recent_seconds()
        if second is None:
            return
        kept = hits[-HISTORY_SECONDS:]
        first = second - len(kept) + 1
        with self._lock:
            seconds = self._seconds
            for index, count in enumerate(kept):
                # a count only grows while in the window: a read racing the move of the window
                # (a slot just emptied) must not undo what an earlier read saw
                if count > seconds.get(first + index, -1):
                    seconds[first + index] = count
            for old in [moment for moment in seconds if moment <= second - HISTORY_SECONDS]:
                del seconds[old]
            fresh = len(kept) if self._sent is None else max(1, min(len(kept), second - self._sent + 2))
            self._sent = second
            recent = [seconds.get(moment, 0) for moment in range(second - fresh + 1, second + 1)]
        tick: Dict[str, Any] = {"type": "tick", "second": second, "hits": recent,
                                "lines": monitor.lines, "parsed": monitor.parsed}
        tick.update(alert_state_to_dict(monitor.alert_state()))
        self._send(tick, "tick")

    def _view(self) -> bytes:
        """``/api/view``'s body, built again when older than :data:`VIEW_SECONDS`."""
        now = time.monotonic()
        cached = self._cached
        if cached is not None and now - cached[0] < VIEW_SECONDS:
            return cached[1]
        monitor = self._monitor
        assert monitor is not None
        data = view_to_dict(monitor.view())
        with self._lock:
            last = max(self._seconds, default=None)
            first = None if last is None else min(self._seconds)
            hits: List[int] = [] if last is None or first is None else \
                [self._seconds.get(moment, 0) for moment in range(first, last + 1)]
            data["seconds"] = {"first": first, "hits": hits}
            data["reports"] = [report for _, report in self._reports]
            data["notices"] = list(self._notices)
            data["utc_offset"] = self._offset
        body = dumps(data).encode("utf-8")
        self._cached = (now, body)
        return body
