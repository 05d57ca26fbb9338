"""JSON lines: one object per report, alert event, notice and run summary (``--json``).

This module is the reference for the schema, a public interface: keys are only ever added, never
renamed or removed, and their meaning does not change. Every object has a ``"type"``.

Conventions
-----------
* Times are ISO 8601 strings with their UTC offset (``2024-05-01T12:00:10+02:00``): report and
  event times keep the log's own offset; the summary's ``first`` and ``last`` are in UTC.
  A time that is not known is ``null``.
* Rates and shares are numbers rounded to 6 decimals; shares and ``error_rate`` are fractions
  from 0 to 1 (not percentages). Counts are integers, sizes are bytes.
* Log-derived strings (sections, clients, users, methods) are given exactly as logged (cut to
  256 characters by the statistics); JSON string escaping makes them safe. :func:`dumps` writes
  UTF-8 text and escapes, besides what JSON requires, every character that could act on a
  terminal or change the layout (C1 controls, bidi and invisible characters, line separators,
  lone surrogates from undecodable bytes) as ``\\uXXXX``, so a line is safe to print as it is.
* Lists are ranked, most hits first (ties by name), and cut to the ``top`` asked for.

``report`` (one per period)::

    {"type": "report", "start": time, "end": time, "duration": seconds,
     "hits": int, "rps": number|null, "bytes": int, "bytes_mean": number,
     "errors": int, "error_rate": number, "late": int,
     "sections": [{"section": str, "hits": int, "share": number, "errors": int, "bytes": int}],
     "status": {"1xx": int, ..., "5xx": int[, "other": int]},
     "status_codes": {"200": int, ...}, "methods": {"GET": int, ...},
     "clients": [{"client": str, "hits": int}], "users": [{"user": str, "hits": int}],
     "unique_clients": int, "unique_clients_exact": bool,
     "skipped": {reason: int}, "skipped_total": int,
     "alerting": bool, "window_hits": int, "window_average": number,
     "threshold": number, "window": seconds}

When the log format records how long requests took (``$request_time``, ``%D``, ``time-taken``,
JSON durations), a report and the summary also have ``"latency": {"count": int, "mean", "p50",
"p90", "p95", "p99", "max": seconds}`` (percentiles within 0.5% of the exact order statistic,
:mod:`monilog.accumulation.sketch`) and every entry of ``"sections"`` a ``"p95"`` (null for a
section beyond the 100 whose latency is kept); ``"upstream_latency"`` likewise when upstream times
are logged. With more than one virtual host seen: ``"vhosts": [{"vhost": str, "hits": int,
"errors": int}]``. These keys are absent otherwise.

With filters (``--since``, ``--exclude-client``, ``--exclude-bots``...), reports and the summary
also have ``"filters": [str]`` (the filters in force, as phrases), ``"filtered": int`` (lines left
out, not counted in ``hits`` nor in ``skipped``) and ``"filtered_by": {filter: int}``.

With rules (``--alert``, ``--rules``), a report also has ``"rules": [{"rule": str, "value":
number|null, "threshold": number, "alerting": [str]}]``: each rule's value at the period's end
(a ``by`` rule's: its busiest key's) and the keys alerting (``""`` for a rule without ``by``).

``late`` counts hits whose period had already been reported (they are counted here).
``unique_clients`` is exact when ``unique_clients_exact`` is true; when more clients came than the
statistics track (``max_keys``), it is an estimate from a HyperLogLog sketch of every client
(:mod:`monilog.accumulation.distinct`, a relative standard error of about 0.8 %).
``status_codes`` and ``methods`` hold every code and method (the statistics cap them at many
thousands of keys); ``window_*`` describe the alert window last evaluated at the period's end.

``alert`` / ``recover`` (at once, when the state changes)::

    {"type": "alert"|"recover", "time": time, "hits": int, "average": number,
     "threshold": number, "window": seconds, "message": str}

plus, on ``recover``: ``"started": time, "duration_seconds": number, "peak_hits": int``.
Events of a rule given with ``--alert``/``--rules`` also carry ``"rule": str`` (its canonical
text), ``"metric": str``, ``"value": number|null`` (the rule's value: requests/s, share, seconds or
bytes/s; null for no evidence), ``"key": str|null`` (the client or section of a ``by`` rule) and,
for an ``on`` rule, ``"section": str``, for a ``by`` rule ``"by": "client"|"section"``, for a named
rule (``--rules``) ``"name": str``; ``threshold`` and ``window`` are the rule's (a share as a
fraction, ``window`` its ``over``). The traffic rule's events have none of these keys.
``hits`` is the window total that changed the state and ``average`` that total over the window.
In a webhook body (``--webhook``) the object also has ``"id": str``, a UUID made once per event
and repeated in every retry (and in the ``Idempotency-Key`` header), to drop duplicates by.

``notice`` (watcher events: rotation, truncation...)::

    {"type": "notice", "message": str}

``summary`` (once, at exit)::

    {"type": "summary", "files": [str], "lines": int, "parsed": int,
     "malformed": int, "skipped": {reason: int},
     "late": int, "late_hits": int, "outlier_hits": int,
     "first": time, "last": time, "duration": seconds|null,
     "hits": int, "rps": number|null, "bytes": int, "bytes_mean": number,
     "errors": int, "error_rate": number,
     "sections": [...], "status": {...}, "status_codes": {...}, "methods": {...},
     "clients": [...], "users": [...], "unique_clients": int, "unique_clients_exact": bool,
     "notices": {kind: int},
     "alerts": [alert and recover objects, in order], "earlier_alerts": int,
     "alerting": bool, "window_hits": int, "window_average": number,
     "threshold": number, "window": seconds}

``view`` (the live picture of a running monitor, ``/api/view`` of ``--web``)::

    {"type": "view", "files": [str], "uptime": seconds, "clock": time|null,
     "current_rps": number, "lines": int, "parsed": int,
     "skipped": {reason: int}, "skipped_total": int,
     "report": report object|null,
     "alerts": [alert and recover objects, in order], "earlier_alerts": int,
     "alerting": bool, "window_hits": int, "window_average": number,
     "threshold": number, "window": seconds}

``report`` is the last complete period; ``skipped`` counts every line skipped since the start
(reported periods and the one in progress); ``clock`` is the monitor's log clock, in UTC.

``lines`` counts every line read (directives included); ``parsed`` equals the sum of every
report's ``hits``; ``malformed`` is the total of ``skipped``. ``late_hits`` arrived too late for
the alert window and ``outlier_hits`` had an absurd timestamp: both are still in ``hits``.
The first ``earlier_alerts`` entries of ``alerts`` were raised by earlier runs (``--alert-file``).
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Tuple

from monilog.accumulation.alerter import AlertEvent
from monilog.accumulation.report import AlertState, LiveView, PeriodReport, RunSummary
from monilog.accumulation.sketch import LatencySketch
from monilog.accumulation.statistics import SectionStats, StatsSnapshot
from monilog.presentation.sanitize import UNSAFE_CHARACTERS

_DECIMALS = 6


def _number(value: Optional[float]) -> Optional[float]:
    """A float for JSON: rounded, and None when unknown or not finite."""
    if value is None or not math.isfinite(value):
        return None
    return round(value, _DECIMALS)


def _time(moment: Optional[datetime]) -> Optional[str]:
    return None if moment is None else moment.isoformat()


def _epoch_time(seconds: Optional[float]) -> Optional[str]:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def _latency(sketch: Optional[LatencySketch]) -> Optional[Dict[str, Any]]:
    summary = None if sketch is None else sketch.summary()
    if summary is None:
        return None
    data: Dict[str, Any] = {"count": summary["count"]}
    for key in ("mean", "p50", "p90", "p95", "p99", "max"):
        data[key] = _number(summary[key])
    return data


def _section(name: str, section: SectionStats, share: float, stats: StatsSnapshot) -> Dict[str, Any]:
    data: Dict[str, Any] = {"section": name, "hits": section.hits, "share": _number(share),
                            "errors": section.errors, "bytes": section.bytes}
    if stats.latency is not None:
        sketch = stats.section_latency.get(name)
        data["p95"] = None if sketch is None else _number(sketch.quantile(0.95))
    return data


def _traffic(stats: StatsSnapshot, top: int) -> Dict[str, Any]:
    """The keys a report and the summary share."""
    data = _common_traffic(stats, top)
    latency = _latency(stats.latency)
    if latency is not None:
        data["latency"] = latency
    upstream = _latency(stats.upstream_latency)
    if upstream is not None:
        data["upstream_latency"] = upstream
    if len(stats.vhosts) > 1:
        data["vhosts"] = [{"vhost": name, "hits": vhost.hits, "errors": vhost.errors}
                          for name, vhost in stats.top_vhosts(top)]
    return data


def _common_traffic(stats: StatsSnapshot, top: int) -> Dict[str, Any]:
    return {
        "hits": stats.hits,
        "rps": _number(stats.rps),
        "bytes": stats.bytes_total,
        "bytes_mean": _number(stats.bytes_mean),
        "errors": stats.errors,
        "error_rate": _number(stats.error_rate),
        "late": stats.late,
        "sections": [_section(name, section, share, stats) for name, section, share in stats.top_sections(top)],
        "status": dict(stats.status_classes),
        "status_codes": {str(code): hits for code, hits, _ in stats.top_status_codes()},
        "methods": {method: hits for method, hits, _ in stats.top_methods()},
        "clients": [{"client": host, "hits": hits} for host, hits, _ in stats.top_clients(top)],
        "users": [{"user": user, "hits": hits} for user, hits, _ in stats.top_users(top)],
        "unique_clients": stats.unique_clients,
        "unique_clients_exact": stats.unique_clients_exact,
        "skipped": dict(sorted(stats.skipped.items())),
    }


def _alert_state(alert: AlertState) -> Dict[str, Any]:
    state = {
        "alerting": alert.alerting,
        "window_hits": alert.window_hits,
        "window_average": _number(alert.average),
        "threshold": alert.threshold,
        "window": alert.window,
    }
    if alert.lateness:
        state["lateness"] = alert.lateness
    return state


def alert_state_to_dict(alert: AlertState) -> Dict[str, Any]:
    """The alert-state keys that end a report, the summary and a view (``alerting`` to ``window``)."""
    return _alert_state(alert)


def report_to_dict(report: PeriodReport, top: int = 10) -> Dict[str, Any]:
    """A period's report as a ``report`` object; ``top`` limits sections, clients and users."""
    stats = report.stats
    data: Dict[str, Any] = {
        "type": "report",
        "start": _time(stats.start),
        "end": _time(stats.end),
        "duration": stats.duration,
    }
    data.update(_traffic(stats, top))
    data["skipped_total"] = stats.skipped_total
    data.update(_filtering(report.filters, stats))
    data.update(_alert_state(report.alert))
    if report.rules:
        data["rules"] = [{"rule": state.rule, "value": _number(state.value), "threshold": state.threshold,
                          "alerting": list(state.alerting)} for state in report.rules]
    return data


def _filtering(filters: Tuple[str, ...], stats: StatsSnapshot) -> Dict[str, Any]:
    """``filters``, ``filtered`` and ``filtered_by`` when the run filters anything."""
    if not filters:
        return {}
    return {"filters": list(filters), "filtered": sum(stats.filtered.values()),
            "filtered_by": dict(sorted(stats.filtered.items()))}


def event_to_dict(event: AlertEvent) -> Dict[str, Any]:
    """An alert or recovery as an ``alert`` or ``recover`` object."""
    data: Dict[str, Any] = {
        "type": event.kind,
        "time": _time(event.time),
        "hits": event.hits,
        "average": _number(event.average),
        "threshold": event.threshold,
        "window": event.window,
        "message": event.message,
    }
    if event.rule:  # a rule of --alert/--rules; the traffic rule's events keep their keys alone
        data.update(rule=event.rule, metric=event.metric, value=_number(event.value), key=event.key)
        for name, value in (("section", event.section), ("by", event.by), ("name", event.name or None)):
            if value is not None:
                data[name] = value
    if event.kind != "alert":
        duration = event.duration
        data["started"] = _time(event.started)
        data["duration_seconds"] = None if duration is None else duration.total_seconds()
        data["peak_hits"] = event.peak_hits
    return data


def notice_to_dict(message: str) -> Dict[str, Any]:
    """A watcher notice (rotation, truncation...) as a ``notice`` object."""
    return {"type": "notice", "message": message}


def summary_to_dict(summary: RunSummary, top: int = 10) -> Dict[str, Any]:
    """The run's summary as a ``summary`` object; ``top`` limits sections, clients and users."""
    stats = summary.stats
    data: Dict[str, Any] = {
        "type": "summary",
        "files": list(summary.files),
        "lines": summary.lines,
        "parsed": summary.parsed,
        "malformed": stats.skipped_total,
        "late_hits": summary.late_hits,
        "outlier_hits": summary.outlier_hits,
        "first": _epoch_time(summary.first_time),
        "last": _epoch_time(summary.last_time),
        "duration": stats.duration,
    }
    data.update(_traffic(stats, top))
    data.update(_filtering(summary.filters, stats))
    data["notices"] = dict(sorted(summary.notices.items()))
    data["alerts"] = [event_to_dict(event) for event in summary.alerts]
    data["earlier_alerts"] = summary.earlier_alerts
    data.update(_alert_state(summary.alert))
    return data


def view_to_dict(view: LiveView) -> Dict[str, Any]:
    """A running monitor's :class:`LiveView` as a ``view`` object (its report cut to ``view.top``)."""
    report = view.last_report
    data: Dict[str, Any] = {
        "type": "view",
        "files": list(view.files),
        "uptime": _number(view.uptime),
        "clock": _epoch_time(view.clock),
        "current_rps": _number(view.current_rps),
        "lines": view.lines,
        "parsed": view.parsed,
        "skipped": dict(sorted(view.total.skipped.items())),
        "skipped_total": view.total.skipped_total,
        "report": None if report is None else report_to_dict(report, view.top),
        "alerts": [event_to_dict(event) for event in view.history],
        "earlier_alerts": view.earlier_alerts,
    }
    data.update(_alert_state(view.alert))
    return data


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:  # as a UTF-16 surrogate pair, the only JSON escape for it
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def dumps(obj: Dict[str, Any]) -> str:
    """One compact JSON line (no newline), UTF-8 text safe to print on a terminal.

    :raises ValueError: for a value JSON cannot represent (NaN, infinity).
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return UNSAFE_CHARACTERS.sub(_escape, text)


MAX_COUNT = 2 ** 63 - 1
"""The largest count read back (a 64-bit counter): past it, a count is taken for garbage."""


def _parse_time(value: Any, key: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be a time string")
    moment = datetime.fromisoformat(value)
    if moment.utcoffset() is None:
        raise ValueError(f"{key!r} has no UTC offset")
    try:
        moment.astimezone(timezone.utc)
    except OverflowError:  # year 1 or 9999 pushed out of range by its offset
        raise ValueError(f"{key!r} is out of range") from None
    return moment


def _parse_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise ValueError(f"{key!r} must be a whole number from 0 to {MAX_COUNT}")
    return value


def _parse_threshold(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("'threshold' must be a number")
    try:
        threshold = float(value)
    except OverflowError:  # an integer of hundreds of digits
        threshold = math.inf
    if not 0 < threshold < math.inf:  # NaN fails too
        raise ValueError("'threshold' must be a positive finite number")
    return threshold


def event_from_dict(data: Any) -> AlertEvent:
    """The :class:`AlertEvent` an ``alert`` or ``recover`` object describes (the reverse of :func:`event_to_dict`).

    Anything else JSON can hold (another object, a key missing or of the wrong type, a count
    beyond :data:`MAX_COUNT`, NaN, a time out of range, a recovery ending before it started)
    raises :class:`ValueError`, never another exception.
    """
    if not isinstance(data, dict) or data.get("type") not in ("alert", "recover"):
        raise ValueError("not an alert or recover object")
    threshold = _parse_threshold(data.get("threshold"))
    window = _parse_int(data.get("window"), "window")
    if not window:
        raise ValueError("'window' must be positive")
    hits = _parse_int(data.get("hits"), "hits")
    time = _parse_time(data.get("time"), "time")
    started = peak_hits = None
    if data["type"] == "recover":
        if data.get("started") is not None:
            started = _parse_time(data["started"], "started")
            if started > time:
                raise ValueError("'started' is after 'time'")
        if data.get("peak_hits") is not None:
            peak_hits = _parse_int(data["peak_hits"], "peak_hits")
    rule = data.get("rule", "")
    if not isinstance(rule, str):
        raise ValueError("'rule' must be text")
    extra: Dict[str, Any] = {}
    if rule:
        value = data.get("value")
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
            raise ValueError("'value' must be a number or null")
        for name in ("metric", "key", "section", "by", "name"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ValueError(f"'{name}' must be text")
        extra = dict(rule=rule, metric=str(data.get("metric") or ""), value=None if value is None else float(value),
                     key=data.get("key"), section=data.get("section"), by=data.get("by"), name=str(data.get("name") or ""))
    return AlertEvent(data["type"], hits, hits / window, time, threshold, window, started=started, peak_hits=peak_hits,
                      **extra)
