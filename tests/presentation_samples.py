"""Inputs for the presentation tests, built through the real accumulators (not field by field)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, List, Optional, Sequence, Tuple

from monilog.accumulation.alerter import Alerter, AlertEvent
from monilog.accumulation.report import AlertState, LiveView, PeriodReport, RunSummary
from monilog.accumulation.statistics import Statistics, StatsSnapshot
from monilog.parsing.record import LogRecord
from monilog.parsing.section import section_of

TZ = timezone(timedelta(hours=2))
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=TZ)
"""Start of the sample period: 2024-05-01 12:00:00 +0200."""

HOSTILE_SECTION = "/x\x1b[2J\x1b]52;c;cHduZWQ=\x07\u202e[bold]"
"""A section carrying a clear-screen, an OSC 52 clipboard write, a bidi override and markup."""


def record(target: str, status: int = 200, size: int = 100, host: str = "10.0.0.1", user: str = "",
           method: str = "GET", second: float = 0) -> LogRecord:
    """A request at ``second`` seconds after :data:`T0`."""
    moment = T0 + timedelta(seconds=second)
    return LogRecord(host, "", user, moment, method, target, "HTTP/1.1", status, size, "", "",
                     section_of(target), int(moment.timestamp()))


API_DURATIONS = tuple(0.001 * (10 + index % 100) for index in range(600))
"""With ``timed``, the durations of /api's requests: 10 ms to 109 ms, six times each."""
PAGES_DURATION = 0.25
"""With ``timed``, the duration of every /pages request; its upstream time is 0.2 s."""


def sample_statistics(timed: bool = False, upstream: bool = False, vhosts: Sequence[str] = ()) -> Statistics:
    """A busy period: /api 600 hits (30 errors), /pages 300 (10 errors), a hostile section,
    five small sections, a few users and methods, three skipped lines and two late hits.

    :param timed: /api and /pages requests logged their durations (the others did not).
    :param upstream: /pages requests logged an upstream time too.
    :param vhosts: virtual hosts the /api and /pages requests go to, in turn.
    """
    stats = Statistics()
    for index in range(600):
        stats.add(record("/api/users", 500 if index < 20 else 404 if index < 30 else 200, 1000,
                         host=f"10.0.0.{index % 4}")._replace(
            duration=API_DURATIONS[index] if timed else None, vhost=vhosts[index % len(vhosts)] if vhosts else ""))
    for index in range(300):
        stats.add(record(f"/pages/{index}", 503 if index < 10 else 200, 2000, host="192.168.1.9",
                         user="alice", method="POST")._replace(
            duration=PAGES_DURATION if timed else None, upstream=0.2 if upstream else None,
            vhost=vhosts[index % len(vhosts)] if vhosts else ""))
    for _ in range(40):
        stats.add(record(HOSTILE_SECTION + "/y", 200, 10, host="\x1b[31mevil", method="PUT"))
    for index in range(5):
        stats.add(record(f"/s{index}/a", 301, 50, host="10.9.9.9"), late=index < 2)
    stats.add_skipped("malformed", 2)
    stats.add_skipped("bad timestamp")
    return stats


def sample_snapshot(seconds: int = 10, **options: Any) -> StatsSnapshot:
    """:func:`sample_statistics` (with ``options``) over ``T0`` to ``T0 + seconds``."""
    return sample_statistics(**options).snapshot(T0, T0 + timedelta(seconds=seconds))


def empty_snapshot(skipped: int = 0) -> StatsSnapshot:
    """A period of ``T0`` to ``T0 + 10 s`` without hits."""
    stats = Statistics()
    if skipped:
        stats.add_skipped("malformed", skipped)
    return stats.snapshot(T0, T0 + timedelta(seconds=10))


def state(alerter: Alerter) -> AlertState:
    """The alert state of an alerter."""
    return AlertState(
        alerter.alerting, alerter.window_hits, alerter.average, alerter.threshold, alerter.window, alerter.peak_hits,
    )


def drive(alerter: Alerter, rates: Sequence[Tuple[int, int]], start: int = 0) -> int:
    """Feed ``(seconds, hits per second)`` runs from ``start`` seconds after T0; return the end second."""
    second = start
    for seconds, rate in rates:
        for _ in range(seconds):
            if rate:
                alerter.observe(T0 + timedelta(seconds=second), rate)
            else:
                alerter.advance(T0 + timedelta(seconds=second))
            second += 1
    return second


def alerter_with_history(ongoing: bool = True) -> Tuple[Alerter, int]:
    """An alerter (threshold 10/s over 120 s) that alerted and recovered once, then alerted
    again (still alerting when ``ongoing``); returns it and the last second driven."""
    alerter = Alerter(10, 120)
    runs = [(150, 15), (150, 2), (200, 20)]
    if not ongoing:
        runs.append((200, 1))
    return alerter, drive(alerter, runs)


def report(snapshot: Optional[StatsSnapshot] = None, alerting: bool = True) -> PeriodReport:
    """A report of ``snapshot`` (default: the sample) with a fixed alert state."""
    alert = AlertState(True, 1488, 12.4, 10.0, 120) if alerting else AlertState(False, 120, 1.0, 10.0, 120)
    return PeriodReport(snapshot or sample_snapshot(), alert)


def summary(alerter: Alerter, files: Iterable[str] = ("/var/log/nginx/access.log",)) -> RunSummary:
    """A run summary over the sample snapshot with ``alerter``'s history."""
    stats = sample_snapshot()
    return RunSummary(
        stats=stats, lines=stats.hits + 5, parsed=stats.hits, late_hits=3, outlier_hits=1,
        alerts=alerter.history, earlier_alerts=0, alert=state(alerter), files=tuple(files),
        first_time=T0.timestamp(), last_time=alerter.clock, notices={"rotation": 1},
    )


def live_view(alerter: Alerter, earlier: Sequence[AlertEvent] = (), top: int = 5,
              files: Tuple[str, ...] = ("/var/log/nginx/access.log",), **options: Any) -> LiveView:
    """A live view whose last report is the sample period (:func:`sample_statistics` with
    ``options``) and whose traffic is ``alerter``'s."""
    per_second = tuple(alerter.per_second())
    last = report(sample_snapshot(**options), alerting=alerter.alerting)
    current = Statistics()
    current.add(record("/api/users", second=10))
    current_snapshot = current.snapshot(T0 + timedelta(seconds=10), T0 + timedelta(seconds=20))
    history = tuple(earlier) + alerter.history
    return LiveView(
        files=files, uptime=3723.0, clock=alerter.clock, current_rps=float(per_second[-2]),
        per_second=per_second, alert=state(alerter), last_report=last, current=current_snapshot,
        total=last.stats.merge(current_snapshot), history=history, earlier_alerts=len(earlier),
        lines=1234, parsed=1200, top=top,
    )


def earlier_run_events() -> List[AlertEvent]:
    """An alert and its recovery from an earlier run, the day before T0."""
    day_before = T0 - timedelta(days=1)
    alert = AlertEvent("alert", 1300, 1300 / 120, day_before, 10.0, 120)
    recover = AlertEvent("recover", 1100, 1100 / 120, day_before + timedelta(seconds=300), 10.0, 120,
                         started=day_before, peak_hits=2000)
    return [alert, recover]
