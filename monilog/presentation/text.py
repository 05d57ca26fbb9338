"""Plain-text layout of reports, alert events, notices and the run summary: the one place it lives.

Made for plain log files and terminals without a dashboard: every line fits 79 columns (log
content is cut with ``…`` to its column), except an alert event line, which keeps the Alerter's
whole message on one line so that ``grep ALERT`` finds it complete. Only ASCII is used for the
layout itself. Every log-derived string (section, client, user, method, skip reason, file name)
goes through :func:`monilog.presentation.sanitize.clean`.

A report is a block opening with a ``===`` rule naming its period (date, times, UTC offset)::

    === 2024-05-01 12:00:00 - 12:00:10 +0200 ==================================
    hits 1135 (2 late) | 113.50 req/s | 1.3 MiB sent, mean 1.2 KiB
      section                                        hits  share  errors      bytes
      /api                                            800  70.5%      12  781.2 KiB
      /pages                                          300  26.4%       5  585.9 KiB
      (3 other sections)                               35   3.1%       0    3.2 KiB
    status  1xx 0  2xx 1113  3xx 5  4xx 5  5xx 12  error rate 1.5% (17)
    codes   200 1113  500 12  301 5  404 5
    methods GET 1100  POST 30  PUT 5
    clients 10.0.0.1 450  10.0.0.0 115  10.0.0.2 114  (7 distinct)
    skipped 3 lines:  malformed 2  bad timestamp 1
    alert   ALERT: average 12.40 req/s over 2m00s > threshold 10

The last row of the sections table gathers every section not listed, so the table adds up to the
period's totals. A period without hits (silence keeps producing reports) is a single line
starting with the same period, plus one line naming skipped lines if there were any::

    2024-05-01 12:00:10 - 12:00:20 +0200  no hits | avg 0.00 <= 10 req/s: OK

Sizes use binary units (KiB, MiB). An alert event is ``[ALERT] <message>`` or
``[RECOVERED] <message>``; a watcher notice ``[NOTICE] <message>``.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from rich.cells import cell_len

from monilog.accumulation.alerter import ALERT, TIME_FORMAT, AlertEvent, format_duration
from monilog.accumulation.report import AlertState, PeriodReport, RunSummary
from monilog.accumulation.statistics import SECTIONS, StatsSnapshot
from monilog.presentation.sanitize import clean

WIDTH = 79
"""Every line of a report or summary fits in this many columns."""

_DAY_FORMAT = "%Y-%m-%d"
_CLOCK_FORMAT = "%H:%M:%S"


# -- small formatters shared with the dashboard -----------------------------------------------


def format_bytes(size: float) -> str:
    """A byte count in binary units: ``512 B``, ``1.5 KiB``, ``12.3 MiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_rate(rate: Optional[float]) -> str:
    """Requests per second with two decimals, ``-`` when unknown."""
    return "-" if rate is None else f"{rate:.2f}"


def format_distinct(stats: StatsSnapshot) -> str:
    """Distinct clients: ``12 distinct``, or ``~41873 distinct`` when estimated (clients folded)."""
    return f"{'' if stats.unique_clients_exact else '~'}{stats.unique_clients} distinct"


def format_share(share: float) -> str:
    """A fraction (0.0–1.0) as a percentage with one decimal: ``64.8%``."""
    return f"{share * 100:.1f}%"


def format_threshold(threshold: float) -> str:
    """A threshold as the user would write it: ``10``, ``0.5``."""
    return f"{threshold:g}"


def format_time(moment: datetime) -> str:
    """Date, time and UTC offset: ``2024-05-01 12:00:00 +0200``."""
    return moment.strftime(TIME_FORMAT)


def format_period(start: Optional[datetime], end: Optional[datetime]) -> str:
    """A span written once: ``2024-05-01 12:00:00 - 12:00:10 +0200``.

    The end repeats the date and the offset only when they differ from the start's.
    """
    if start is None or end is None:
        return "(period unknown)"
    if start.utcoffset() != end.utcoffset():
        return f"{format_time(start)} - {format_time(end)}"
    end_format = _CLOCK_FORMAT if start.date() == end.date() else f"{_DAY_FORMAT} {_CLOCK_FORMAT}"
    return f"{start.strftime(f'{_DAY_FORMAT} {_CLOCK_FORMAT}')} - {end.strftime(end_format)} {start.strftime('%z')}"


def from_epoch(seconds: float, tz: Optional[tzinfo] = None) -> datetime:
    """An epoch time as an aware datetime in ``tz`` (UTC by default)."""
    return datetime.fromtimestamp(seconds, tz or timezone.utc)


def alert_state_label(alert: AlertState) -> str:
    """``ALERT`` or ``OK``."""
    return "ALERT" if alert.alerting else "OK"


def describe_alert_state(alert: AlertState) -> str:
    """``ALERT: average 12.40 req/s over 2m00s > threshold 10`` (or ``OK: ... <= ...``)."""
    comparison = ">" if alert.alerting else "<="
    return (
        f"{alert_state_label(alert)}: average {format_rate(alert.average)} req/s over "
        f"{format_duration(alert.window)} {comparison} threshold {format_threshold(alert.threshold)}"
    )


def describe_rule(alert: AlertState, short: bool = False) -> str:
    """The alert rule in force: ``average over 2m00s > 10 req/s`` (``avg ...`` when ``short``),
    with the lateness and what it costs when the run has one."""
    rule = f"{'avg' if short else 'average'} over {format_duration(alert.window)} > {format_threshold(alert.threshold)} req/s"
    if alert.lateness:
        rule += f", lateness {format_duration(alert.lateness)} (alerts {format_duration(alert.lateness)} later)"
    return rule


# -- alert history ------------------------------------------------------------------------------


class AlertPeriod(NamedTuple):
    """One alert of the history: from its alert event to its recovery (if any)."""

    start: datetime
    end: Optional[datetime]
    """Recovery time; None for an alert still open (ongoing, or its run ended during it)."""
    peak_hits: int
    """Highest window total seen during the alert; for an open alert (no recovery yet), a lower
    bound: the events only carry the total that triggered it."""
    window: int
    threshold: float
    earlier: bool
    """Raised by an earlier run (restored from an alert file)."""
    rule: str = ""
    """The rule that raised it (empty: the traffic rule)."""
    key: Optional[str] = None
    """The client or section of a ``by`` rule."""

    @property
    def peak_average(self) -> float:
        """The peak as requests per second over the window."""
        return self.peak_hits / self.window

    def duration(self, now: Optional[datetime] = None) -> Optional[float]:
        """Seconds from start to recovery, or to ``now`` for an open alert (None without ``now``)."""
        end = self.end or now
        return None if end is None else max(0.0, (end - self.start).total_seconds())


def alert_periods(events: Sequence[AlertEvent], earlier: int = 0,
                  ongoing_hits: Optional[int] = None) -> List[AlertPeriod]:
    """Pair a history of alert and recover events into alert periods, oldest first.

    :param earlier: how many of the first ``events`` come from earlier runs.
    :param ongoing_hits: the peak window total of the last alert when it is still ongoing
        (:attr:`Alerter.peak_hits`); without it the peak of an open alert is its trigger total.
    """
    periods: List[AlertPeriod] = []
    open_alerts: Dict[Tuple[str, Optional[str]], Tuple[AlertEvent, bool]] = {}  # per rule and key
    for index, event in enumerate(events):
        from_earlier = index < earlier
        which = (event.rule, event.key)
        open_alert = open_alerts.pop(which, None)
        if event.kind == ALERT:
            if open_alert is not None:  # its run ended before it recovered
                periods.append(_open_period(*open_alert))
            open_alerts[which] = (event, from_earlier)
            continue
        started = event.started or (open_alert[0].time if open_alert else event.time)
        peak = event.peak_hits if event.peak_hits is not None else event.hits
        periods.append(AlertPeriod(started, event.time, peak, event.window, event.threshold,
                                   open_alert[1] if open_alert else from_earlier, event.rule, event.key))
    for (rule, _), open_alert in open_alerts.items():
        period = _open_period(*open_alert)
        if ongoing_hits is not None and not rule:
            period = period._replace(peak_hits=max(period.peak_hits, ongoing_hits))
        periods.append(period)
    periods.sort(key=lambda period: period.start)
    return periods


def _open_period(event: AlertEvent, earlier: bool) -> AlertPeriod:
    return AlertPeriod(event.time, None, event.hits, event.window, event.threshold, earlier, event.rule, event.key)


def format_moment(moment: datetime, reference: Optional[datetime]) -> str:
    """``12:04:50`` when on the same day (and offset) as ``reference``, else date, time, offset."""
    if reference is not None and moment.date() == reference.date() and moment.utcoffset() == reference.utcoffset():
        return moment.strftime(_CLOCK_FORMAT)
    return format_time(moment)


# -- layout helpers ----------------------------------------------------------------------------

_KEY_WIDTH = 48
"""Longest log-derived name in a flowing list (methods, clients...), in cells."""


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _fit(text: str, width: int) -> str:
    """Left-align ``text`` (already clean) in ``width`` terminal cells."""
    return text + " " * max(0, width - cell_len(text))


def _rule(title: str) -> str:
    head = f"=== {title} "
    return head + "=" * max(3, WIDTH - cell_len(head))


def _flow(label: str, items: Iterable[str], sep: str = "  ") -> List[str]:
    """``label`` then the (clean) items joined by ``sep``, wrapped at :data:`WIDTH` under the label."""
    indent = " " * len(label)
    lines: List[str] = []
    line, empty = label, True
    for item in items:
        if empty:
            line, empty = line + item, False
        elif cell_len(line) + len(sep) + cell_len(item) <= WIDTH:
            line += sep + item
        else:
            lines.append(line.rstrip())
            line = indent + item
    lines.append(line)
    return lines


def _counts(pairs: Iterable[Tuple[object, int]]) -> List[str]:
    """``name hits`` items; the empty name (e.g. no method) is shown as ``(none)``."""
    return [f"{clean(str(key), _KEY_WIDTH) if key != '' else '(none)'} {hits}" for key, hits in pairs]


def _traffic_lines(stats: StatsSnapshot) -> List[str]:
    late = f" ({stats.late} late)" if stats.late else ""
    return _flow("", [
        f"hits {stats.hits}{late}",
        f"{format_rate(stats.rps)} req/s",
        f"{format_bytes(stats.bytes_total)} sent, mean {format_bytes(stats.bytes_mean)}",
    ], sep=" | ")


_NAME_WIDTH = 43
_SECTION_HEADER = "  " + _fit("section", _NAME_WIDTH) + f"{'hits':>8}{'share':>7}{'errors':>8}{'bytes':>11}"


def _section_row(name: str, hits: int, share: float, errors: int, size: int) -> str:
    return "  " + _fit(name, _NAME_WIDTH) + f"{hits:>8}{format_share(share):>7}{errors:>8}{format_bytes(size):>11}"


def _sections_table(stats: StatsSnapshot, top: int) -> List[str]:
    """The top sections, then one row for all the others so that the table adds up to the totals."""
    shown = stats.top_sections(top)
    lines = [_SECTION_HEADER]
    for name, section, share in shown:
        lines.append(_section_row(clean(name, _NAME_WIDTH), section.hits, share, section.errors, section.bytes))
    others = len(stats.sections) - len(shown)
    folded = stats.folded.get(SECTIONS, 0)
    if others or folded:
        hits = stats.hits - sum(section.hits for _, section, _ in shown)
        errors = stats.errors - sum(section.errors for _, section, _ in shown)
        size = stats.bytes_total - sum(section.bytes for _, section, _ in shown)
        plural = "" if others == 1 and not folded else "s"
        label = f"({others}{'+' if folded else ''} other section{plural})"
        lines.append(_section_row(label, hits, hits / stats.hits, errors, size))
    return lines


def _distinct(stats: StatsSnapshot) -> str:
    return f"({format_distinct(stats)})"


def _detail_lines(stats: StatsSnapshot, top: int) -> List[str]:
    """Status classes and codes, methods, clients and users of a snapshot with hits."""
    classes = [f"{name} {hits}" for name, hits in stats.status_classes.items()]
    lines = _flow("status  ", classes + [f"error rate {format_share(stats.error_rate)} ({stats.errors})"])
    lines += _flow("codes   ", _counts((code, hits) for code, hits, _ in stats.top_status_codes(top)))
    lines += _flow("methods ", _counts((method, hits) for method, hits, _ in stats.top_methods(top)))
    clients = _counts((host, hits) for host, hits, _ in stats.top_clients(top))
    lines += _flow("clients ", clients + [_distinct(stats)])
    if stats.users:
        lines += _flow("users   ", _counts((user, hits) for user, hits, _ in stats.top_users(top)))
    if len(stats.vhosts) > 1:
        lines += _flow("vhosts  ", [f"{clean(name, _KEY_WIDTH)} {vhost.hits} ({vhost.errors} err)"
                                    for name, vhost in stats.top_vhosts(top)])
    for label, sketch in (("latency ", stats.latency), ("upstream", stats.upstream_latency)):
        summary = None if sketch is None else sketch.summary()
        if summary is not None:
            figures = [f"{key} {format_seconds(summary[key])}" for key in ("p50", "p90", "p95", "p99", "max")]
            lines += _flow(label + " ", figures + [f"mean {format_seconds(summary['mean'])} of {summary['count']}"])
    return lines


def format_seconds(seconds: float) -> str:
    """A duration for people: ``850µs``, ``12.3ms``, ``1.25s``."""
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f}µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g}ms"
    return f"{seconds:.3g}s"


def _filter_lines(filters: Sequence[str], stats: StatsSnapshot) -> List[str]:
    """The filters in force and what they left out (nothing without filters)."""
    if not filters:
        return []
    left_out = sum(stats.filtered.values())
    by = _counts(sorted(stats.filtered.items(), key=lambda item: (-item[1], item[0])))
    return _flow("filters ", [clean(phrase, WIDTH) for phrase in filters] + [f"{_plural(left_out, 'line')} filtered"] + by)


def _skip_reasons(stats: StatsSnapshot) -> List[str]:
    """``reason count`` items, most frequent first."""
    return _counts(sorted(stats.skipped.items(), key=lambda item: (-item[1], item[0])))


def _skipped_lines(stats: StatsSnapshot, label: str) -> List[str]:
    total = stats.skipped_total
    head = _plural(total, "line") + (":" if total else "")
    return _flow(label, [head] + _skip_reasons(stats))


# -- public layout -----------------------------------------------------------------------------


def format_report(report: PeriodReport, top: int = 5) -> str:
    """A period's report as plain text (see the module documentation for the layout).

    :param top: how many sections, codes, methods, clients and users to list.
    """
    stats = report.stats
    period = format_period(stats.start, stats.end)
    alert = report.alert
    if not stats.hits:
        comparison = ">" if alert.alerting else "<="
        state = (f"avg {format_rate(alert.average)} {comparison} {format_threshold(alert.threshold)} req/s: "
                 f"{alert_state_label(alert)}")
        lines = [f"{period}  no hits | {state}"]
        if cell_len(lines[0]) > WIDTH:
            lines = [f"{period}  no hits", f"  {state}"]
        if stats.skipped_total:
            lines += _skipped_lines(stats, "  skipped ")
        return "\n".join(lines)
    lines = [_rule(period)]
    lines += _filter_lines(report.filters, stats)
    lines += _traffic_lines(stats)
    lines += _sections_table(stats, top)
    lines += _detail_lines(stats, top)
    lines += _skipped_lines(stats, "skipped ")
    lines.append(f"alert   {describe_alert_state(alert)}")
    for rule in report.rules:
        value = "no evidence" if rule.value is None else f"{rule.value:.4g}"
        keys = f" ({', '.join(clean(key, _KEY_WIDTH) for key in rule.alerting if key)})" if any(rule.alerting) else ""
        lines += _flow("rule    ", [clean(rule.rule, WIDTH - 8), f"{value}: {'ALERT' + keys if rule.alerting else 'OK'}"])
    return "\n".join(lines)


def format_event(event: AlertEvent) -> str:
    """An alert or recovery on one line, prefixed ``[ALERT]`` or ``[RECOVERED]`` to stand out."""
    return f"{'[ALERT]' if event.kind == ALERT else '[RECOVERED]'} {event.message}"


def format_notice(message: str) -> str:
    """A watcher notice (rotation, truncation...) on one line, prefixed ``[NOTICE]``."""
    return f"[NOTICE] {clean(message)}"


def _history_lines(periods: Sequence[AlertPeriod], alerting: bool, last: Optional[datetime]) -> List[str]:
    lines = ["  " + _fit("started", 26) + _fit("ended", 26) + _fit("lasted", 10) + "peak"]
    for period in periods:
        ongoing = alerting and period.end is None and not period.rule and not period.earlier
        if period.end is not None:
            ended = format_moment(period.end, period.start)
        elif ongoing:
            ended = "ongoing at exit"
        else:
            ended = "(run ended)"
        duration = period.duration(last if ongoing else None)
        lasted = "-" if duration is None else format_duration(duration)
        peak = f"{'' if period.end is not None or ongoing else '>='}{period.peak_hits} ({period.peak_average:.1f}/s)"
        earlier = "  (earlier run)" if period.earlier else ""
        lines.append("  " + _fit(format_time(period.start), 26) + _fit(ended, 26) + _fit(lasted, 10) + peak + earlier)
        if period.rule:
            lines.append("    " + clean(period.rule + (f" [{period.key}]" if period.key is not None else ""), WIDTH - 4))
    return lines


def format_summary(summary: RunSummary, top: int = 10) -> str:
    """The run's summary as plain text: lines, cumulative figures, top sections, alert history."""
    stats = summary.stats
    tz = stats.start.tzinfo if stats.start is not None else None
    first = from_epoch(summary.first_time, tz) if summary.first_time is not None else None
    last = from_epoch(summary.last_time, tz) if summary.last_time is not None else None
    lines = [_rule("monilog summary")]
    lines += _flow("files   ", [clean(name, WIDTH - 8) for name in summary.files] or ["(none)"])
    if first is not None and last is not None:
        span = format_duration((last - first).total_seconds())
        lines.append(f"span    {format_time(first)} - {format_moment(last, first)} ({span})")
    else:
        lines.append("span    nothing read")
    lines.append(f"lines   {summary.lines} read, {summary.parsed} parsed, {stats.skipped_total} skipped")
    lines += _filter_lines(summary.filters, stats)
    if stats.skipped_total:
        lines += _flow("skipped ", _skip_reasons(stats))
    lines += _traffic_lines(stats)
    lines += _flow("late    ", [
        f"{stats.late} after their period",
        f"{summary.late_hits} behind the alert window",
        _plural(summary.outlier_hits, "outlier"),
    ], sep=" | ")
    if stats.hits:
        lines += _sections_table(stats, top)
        lines += _detail_lines(stats, top)
    if summary.notices:
        lines += _flow("notices ", _counts(sorted(summary.notices.items())))
    alert = summary.alert
    periods = alert_periods(summary.alerts, summary.earlier_alerts, alert.peak_hits)
    rule = describe_rule(alert)
    if periods:
        lines.append(f"alerts  {len(periods)} ({rule})")
        lines += _history_lines(periods, alert.alerting, last)
    else:
        lines.append(f"alerts  none ({rule})")
    lines.append(f"state   {describe_alert_state(alert)}")
    return "\n".join(lines)
