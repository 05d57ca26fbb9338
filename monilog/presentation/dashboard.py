"""The live dashboard: a full-screen rich rendering of a :class:`LiveView`.

:func:`render_dashboard` returns a renderable that lays itself out for the size it is rendered
at (or the ``width``/``height`` given), so a resized terminal gets a fresh layout at the next
refresh. :class:`Dashboard` shows it on the alternate screen, rewriting only the lines that changed.

Layout, top to bottom
---------------------
* Header (1 line): program, files, uptime, log clock with its UTC offset.
* Traffic: the OK/ALERT state (green/red), current req/s, the window average against the
  threshold, and a req/s sparkline over the alert window built from ``view.per_second``: one
  column per second, or the mean of several seconds when the window is wider than the screen,
  newest on the right; bars above the threshold are red and the threshold is a dashed line
  with its value on the right axis.
* Top sections (hits, share, errors; p95 latency when the run has durations and the panel is
  50 columns wide; since-start hits on wide screens), status codes, top clients: ``view.top``
  rows of the last complete period's figures (stable between reports), or of the period so far
  before the first report. The period is named in the panel title.
* Latency, once the run has seen durations: p50, p90, p95, p99, max, mean and count of the same
  period, one row for requests and one for upstream times when the format logs them. Virtual
  hosts (hits, errors), once the run has seen more than one. Both only appear for formats that
  log them, and stay once they have appeared, so the layout does not jump between periods.
* Alert history, newest first: start, end, duration, peak window average (exact for the ongoing
  alert; for an earlier run's alert that never recovered, a lower bound marked ``≥``). The
  ongoing alert is highlighted; alerts restored from earlier runs are dimmed and marked.
* Since start: cumulative hits, rate, bytes, errors, clients, methods, users and, when there is
  room, the top sections of the whole run.
* Footer (1 line): lines read, parsed, skipped (by reason) and late.

Sizes: from 80×24 up. From 60 to 119 columns the panels pair up (sections beside status codes,
clients beside the history; the since-start panel gets its own row when the height allows);
from 120 columns on, sections, codes and clients share a row and the history shares its row with
the since-start panel; under 60 columns only sections and history are listed. The latency and
vhosts panels get a row each under the listed rows (from 120 columns on, one row side by side),
only where the listed rows keep their full height and the history keeps two lines: they shrink
to one line each (upstream times go first) before they are dropped, vhosts before latency. Height
goes first to the listed rows, then to the history, then to the since-start row, then to a taller
sparkline (up to a third of the screen), the rest to the history. On small screens the
sections go first, then the history; the header, the alert state and the footer always stay.

Everything from the log (sections, clients, skip reasons) and the file names go through
:func:`monilog.presentation.sanitize.clean_text`: no escape sequence and no rich markup in a
log line can act on the terminal.
"""

from __future__ import annotations

import math
import operator
from datetime import datetime, timezone, tzinfo
from itertools import groupby
from typing import Any, Callable, Dict, List, Literal, NamedTuple, Optional, Sequence, Tuple

from rich import box
from rich.color import ColorSystem
from rich.console import Console, ConsoleDimensions, ConsoleOptions, Group, RenderableType, RenderResult
from rich.control import Control
from rich.layout import Layout
from rich.panel import Panel
from rich.segment import Segment
from rich.text import Text

from monilog.accumulation.alerter import format_duration
from monilog.accumulation.report import LiveView, RuleState
from monilog.accumulation.sketch import LatencySketch, LatencySummary
from monilog.accumulation.statistics import StatsSnapshot
from monilog.presentation.grid import Cell, CellGrid, Column
from monilog.presentation.sanitize import clean, clean_text
from monilog.presentation.text import (
    AlertPeriod,
    alert_periods,
    describe_rule,
    format_bytes,
    format_distinct,
    format_rate,
    format_seconds,
    format_share,
    format_threshold,
    format_time,
    from_epoch,
)

BLOCKS = " ▁▂▃▄▅▆▇█"
"""Sparkline cells from empty to full, in eighths."""

WIDE = 120
"""From this width on, sections, codes and clients share one row."""
NARROW = 60
"""Under this width, only sections and the alert history are listed."""

_STATUS_STYLES = {"1": "blue", "2": "green", "3": "cyan", "4": "yellow", "5": "bold red"}
_ALERT_STYLE = "bold white on red"
_OK_STYLE = "bold black on green"
_AXIS_WIDTH = 9


# -- sparkline ---------------------------------------------------------------------------------


def sparkline_values(per_second: Sequence[int], columns: int) -> List[float]:
    """Requests per second to draw in at most ``columns`` columns, oldest first.

    Seconds are grouped from the newest one backwards into groups of equal size (the oldest
    group may be shorter); each value is its group's mean rate, so it compares with the threshold.
    """
    if not per_second or columns < 1:
        return []
    size = math.ceil(len(per_second) / columns)
    values: List[float] = []
    end = len(per_second)
    while end > 0:
        start = max(0, end - size)
        values.append(sum(per_second[start:end]) / (end - start))
        end = start
    values.reverse()
    return values


def sparkline_rows(values: Sequence[float], rows: int, threshold: float, scale: float) -> List[Text]:
    """The sparkline as ``rows`` lines of block characters, top line first.

    Bars above ``threshold`` are red, others green; empty cells on the threshold's line show a
    dashed rule. ``scale`` is the rate drawn at full height. Any traffic shows at least ``▁``.
    """
    # a bar's height in eighths of a row (round(x - 8 * row) is round(x) - 8 * row: 8 * row is even)
    levels = [round(value / scale * rows * 8) if scale > 0 else 0 for value in values]
    colours = ["red" if value > threshold else "green" for value in values]
    threshold_row = min(rows - 1, int(threshold / scale * rows)) if scale > 0 else 0
    lines: List[Text] = []
    for row in range(rows - 1, -1, -1):
        floor = row * 8
        fills = [min(8, max(0, level - floor)) for level in levels]
        if row == 0:  # any traffic shows
            fills = [1 if value > 0 and not fill else fill for fill, value in zip(fills, values)]
        empty, empty_style = ("┄", "yellow") if row == threshold_row else (" ", "")
        chars = "".join([BLOCKS[fill] if fill else empty for fill in fills])
        styles = [colour if fill else empty_style for fill, colour in zip(fills, colours)]
        line = Text(no_wrap=True)
        start = 0
        for style, run in groupby(styles):  # one span per run of a colour
            end = start + sum(1 for _ in run)
            line.append(chars[start:end], style)
            start = end
        lines.append(line)
    return lines


def _chart_scale(values: Sequence[float], threshold: float) -> float:
    """Full-height rate: room above both the highest bar and the threshold, rounded up nicely."""
    top = max(max(values, default=0.0), threshold) * 1.15
    magnitude = 10 ** math.floor(math.log10(top)) if top > 0 else 1
    for step in (1, 2, 2.5, 5, 10):
        if top <= step * magnitude:
            return step * magnitude
    return top  # pragma: no cover - 10 × magnitude always covers


def _rate_label(rate: float) -> str:
    return f"{rate:g}/s" if rate < 1000 else f"{rate / 1000:g}k/s"


def _chart(view: LiveView, width: int, rows: int, axis: bool) -> RenderableType:
    """The sparkline with its right-hand axis (scale and threshold) and, optionally, a time axis."""
    threshold = view.alert.threshold
    columns = max(1, width - _AXIS_WIDTH)
    values = sparkline_values(view.per_second, columns)
    if values:  # a short window is stretched over the width, each second the same number of columns
        stretch = columns // len(values)
        values = [value for value in values for _ in range(stretch)]
    scale = _chart_scale(values, threshold)
    lines = sparkline_rows(values, rows, threshold, scale)
    threshold_row = rows - 1 - min(rows - 1, int(threshold / scale * rows))
    pad = " " * (columns - len(values))
    chart: List[Text] = []
    for index, line in enumerate(lines):
        row = Text(pad, no_wrap=True) + line
        if index == threshold_row:
            row.append(f" ┄{_rate_label(threshold)}", "yellow")
        elif index == 0:
            row.append(f" {_rate_label(scale)}", "dim")
        chart.append(row)
    if axis:
        start = f"-{format_duration(len(view.per_second))}"
        span = min(columns, len(values))
        chart.append(Text(pad + start + " " * max(1, span - len(start) - 3) + "now", "dim", no_wrap=True))
    return Group(*chart)


# -- panels ------------------------------------------------------------------------------------


def _log_tz(view: LiveView) -> tzinfo:
    """The offset the log speaks in, to show the log clock as the log does."""
    for stats in (view.current, view.last_report.stats if view.last_report else None):
        if stats is not None and stats.start is not None and stats.start.tzinfo is not None:
            return stats.start.tzinfo
    if view.history:
        return view.history[-1].time.tzinfo or timezone.utc
    return timezone.utc


def _header(view: LiveView, now: Optional[datetime]) -> RenderableType:
    grid = CellGrid([Column(), Column(justify="right")], gap=0)
    left = Text(" monilog ", "bold white on blue")
    left.append(" ")
    files = ", ".join(clean(name) for name in view.files) or "(no file)"
    left.append(files, "bold")
    right = Text(f"up {format_duration(view.uptime)}", "dim")
    right.append("  log ")
    right.append(format_time(now) if now is not None else "waiting for the first line", "bold")
    right.append(" ")
    grid.add_row(left, right)
    return grid


def _state_line(view: LiveView, periods: Sequence[AlertPeriod], now: Optional[datetime]) -> Text:
    alert = view.alert
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(" ALERT " if alert.alerting else " OK ", _ALERT_STYLE if alert.alerting else _OK_STYLE)
    line.append("  now ")
    line.append(f"{view.current_rps:.1f}/s", "bold")
    line.append("  avg ")
    line.append(f"{format_rate(alert.average)}/s", "bold red" if alert.alerting else "bold green")
    line.append("  threshold ")
    line.append(f"{format_threshold(alert.threshold)}/s", "bold yellow")
    since = next((period for period in reversed(periods) if not period.rule and period.end is None), None)
    if alert.alerting and since is not None:
        line.append(f"  since {_short_time(since.start, now)}")
        lasted = since.duration(now)
        if lasted is not None:
            line.append(f" ({format_duration(lasted)})")
    rules = view.last_report.rules if view.last_report is not None else ()
    if rules:  # the rules of --alert, as of the last report (their events are in the history)
        alerting = sum(1 for rule in rules if rule.alerting)
        line.append(f"  rules {alerting}/{len(rules)} alerting", "bold red" if alerting else "dim")
    return line


def _traffic(view: LiveView, periods: Sequence[AlertPeriod], now: Optional[datetime], width: int,
             rows: int) -> RenderableType:
    axis = rows >= 3
    parts: List[RenderableType] = [_state_line(view, periods, now)]
    if rows:
        parts.append(_chart(view, width - 4, rows, axis))
    title = Text(" Traffic ", "bold")
    title.append(f"window {format_duration(view.alert.window)} ", "dim")
    return Panel(Group(*parts), title=title, title_align="left", box=box.ROUNDED,
                 border_style="red" if view.alert.alerting else "green", padding=(0, 1))


def _panel(body: RenderableType, title: str, subtitle: str = "") -> Panel:
    heading = Text(f" {title} ", "bold")
    if subtitle:
        heading.append(f"{subtitle} ", "dim")
    return Panel(body, title=heading, title_align="left", box=box.ROUNDED, border_style="blue", padding=(0, 1))


def _table(*columns: Tuple[str, str], flexible: bool = True) -> CellGrid:
    """A borderless table; each column is ``(header, justify)``.

    When ``flexible``, the table fills its panel and the first column takes the slack (cutting
    long names with an ellipsis); otherwise every column keeps its natural width.
    """
    return CellGrid([Column(header, justify) for header, justify in columns], flexible=0 if flexible else None)


def _period_stats(view: LiveView) -> Tuple[StatsSnapshot, str]:
    """The figures the tables show, and how their period is named."""
    complete = view.last_report is not None
    stats = view.last_report.stats if view.last_report is not None else view.current
    if stats.start is None or stats.end is None:
        return stats, "last period" if complete else "period so far"
    span = f"{stats.start.strftime('%H:%M:%S')}–{stats.end.strftime('%H:%M:%S')}"
    return stats, span if complete else f"{span} so far"


def _empty(message: str) -> Text:
    return Text(message, "dim italic")


def _errors(count: int) -> Text:
    return Text(str(count), "red" if count else "dim")


def _sections(view: LiveView, rows: int, wide: bool, width: int) -> RenderableType:
    """The top sections in a panel ``width`` columns wide (the p95 column needs :data:`_P95_WIDTH`)."""
    stats, label = _period_stats(view)
    if not stats.hits:
        return _panel(_empty("no hits in this period"), "Top sections", label)
    latency = view.total.latency is not None and width >= _P95_WIDTH
    columns = [("section", "left"), ("hits", "right"), ("share", "right"), ("errors", "right")]
    if latency:
        columns.append(("p95", "right"))
    if wide:
        columns.append(("since start", "right"))
    table = _table(*columns)
    for name, section, share in stats.top_sections(min(view.top, rows)):
        cells: List[Cell] = [clean_text(name), str(section.hits), format_share(share),
                                       _errors(section.errors)]
        if latency:
            p95 = _p95(stats.section_latency.get(name))
            cells.append(Text(p95 or "-", "" if p95 else "dim"))
        if wide:
            total = view.total.sections.get(name)
            cells.append(Text(str(total.hits) if total else "-", "dim"))
        table.add_row(*cells)
    return _panel(table, "Top sections", label)


_P95_WIDTH = 50
"""Narrowest sections panel with a p95 column: section names keep about 15 columns."""


def _p95(sketch: Optional[LatencySketch]) -> Optional[str]:
    p95 = None if sketch is None else sketch.quantile(0.95)
    return None if p95 is None else format_seconds(p95)


_LATENCY_FIGURES: Tuple[Literal["p50", "p90", "p95", "p99", "max", "mean"], ...] = (
    "p50", "p90", "p95", "p99", "max", "mean")
"""The latency panel's columns of seconds, before the count."""


def _latency(view: LiveView, rows: int) -> RenderableType:
    """The period's latency figures: a row for requests, one for upstream times (``rows`` allowing)."""
    stats, label = _period_stats(view)
    kinds: List[Tuple[str, LatencySummary]] = []
    for kind, sketch in (("request", stats.latency), ("upstream", stats.upstream_latency)):
        summary = None if sketch is None else sketch.summary()
        if summary is not None:
            kinds.append((kind, summary))
    if not kinds:
        return _panel(_empty("no durations in this period"), "Latency", label)
    table = _table(("", "left"), *((figure, "right") for figure in _LATENCY_FIGURES), ("count", "right"),
                   flexible=False)
    for kind, summary in kinds[:rows]:
        table.add_row(Text(kind, "dim"), *(format_seconds(summary[figure]) for figure in _LATENCY_FIGURES),
                      str(summary["count"]))
    return _panel(table, "Latency", label)


def _rule_states(view: LiveView) -> Tuple[RuleState, ...]:
    """The rules of ``--alert``/``--rules`` as of the last report."""
    return view.last_report.rules if view.last_report is not None else ()


def _rules(view: LiveView, rows: int) -> RenderableType:
    """Each rule, its value against its limit, and its state (the alerting ones first)."""
    states = sorted(_rule_states(view), key=lambda state: not state.alerting)
    table = _table(("rule", "left"), ("value", "right"), ("limit", "right"), ("state", "left"))
    for state in states[:rows]:
        keys = ", ".join(key for key in state.alerting if key)
        table.add_row(clean_text(state.rule), "-" if state.value is None else f"{state.value:.4g}", f"{state.threshold:g}",
                      Text("ALERT" + (f" {clean_text(keys)}" if keys else ""), "bold red") if state.alerting else Text("OK", "green"))
    hidden = len(states) - min(rows, len(states))
    return _panel(table, "Rules", f"{hidden} more not shown" if hidden else "")


def _vhosts(view: LiveView, rows: int) -> RenderableType:
    stats, label = _period_stats(view)
    if not stats.vhosts:
        return _panel(_empty("no hits in this period"), "Virtual hosts", label)
    table = _table(("vhost", "left"), ("hits", "right"), ("errors", "right"))
    for name, vhost in stats.top_vhosts(min(view.top, rows)):
        table.add_row(clean_text(name), str(vhost.hits), _errors(vhost.errors))
    return _panel(table, "Virtual hosts", label)


def _status_codes(view: LiveView, rows: int) -> RenderableType:
    stats, _ = _period_stats(view)
    if not stats.hits:
        return _panel(_empty("none"), "Status")
    table = _table(("code", "left"), ("hits", "right"), ("share", "right"))
    codes = stats.top_status_codes(min(view.top, max(rows - 1, 1)))
    for code, hits, share in codes:
        table.add_row(Text(str(code), _STATUS_STYLES.get(str(code)[0], "")), str(hits), format_share(share))
    if rows > len(codes):
        table.add_row(Text("errors", "dim"), str(stats.errors), format_share(stats.error_rate),
                      style="red" if stats.errors else "dim")
    return _panel(table, "Status")


def _clients(view: LiveView, rows: int, shares: bool) -> RenderableType:
    stats, _ = _period_stats(view)
    distinct = format_distinct(stats)
    if not stats.hits:
        return _panel(_empty("none"), "Top clients" if shares else "Clients")
    table = _table(("client", "left"), ("hits", "right"), *([("share", "right")] if shares else []))
    for host, hits, share in stats.top_clients(min(view.top, rows)):
        table.add_row(clean_text(host), str(hits), *([format_share(share)] if shares else []))
    return _panel(table, "Top clients", distinct) if shares else _panel(table, "Clients")


def _short_time(moment: datetime, reference: Optional[datetime]) -> str:
    """``12:04:50`` on the reference's day, ``05-01 12:04:50`` on another day (in its offset)."""
    if reference is not None:
        moment = moment.astimezone(reference.tzinfo)
        if moment.date() == reference.date():
            return moment.strftime("%H:%M:%S")
    return moment.strftime("%m-%d %H:%M:%S")


def _alerts(view: LiveView, periods: Sequence[AlertPeriod], now: Optional[datetime], rows: int,
            wide: bool) -> RenderableType:
    rule = describe_rule(view.alert, short=True)
    if not periods:
        return _panel(_empty("no alerts so far"), "Alerts", rule)
    shown = list(reversed(periods))[:rows]
    earlier = any(period.earlier for period in shown)
    columns = [("started", "left"), ("ended", "left"), ("lasted", "right"), ("peak", "right")]
    if wide:
        columns.append(("peak hits", "right"))
    if earlier:
        columns.append(("run", "left"))
    table = _table(*columns, flexible=False)
    for period in shown:
        # the traffic rule's open alert is ongoing while it alerts; a rule's open alert is ongoing too
        is_ongoing = period.end is None and not period.earlier and (view.alert.alerting or bool(period.rule))
        if period.end is not None:
            ended = Text(_short_time(period.end, period.start))
        elif is_ongoing:
            ended = Text("ongoing", "bold")
        else:
            ended = Text("(run ended)", "dim")
        lasted = period.duration(now if is_ongoing else None)
        cells: List[Cell] = [
            _short_time(period.start, now), ended, "-" if lasted is None else format_duration(lasted),
            f"{'' if period.end or is_ongoing else '≥'}{period.peak_average:.1f}/s",
        ]
        if wide:
            cells.append(f"{'' if period.end or is_ongoing else '≥'}{period.peak_hits}")
        if earlier:
            cells.append(Text(("earlier" if wide else "prev") if period.earlier else "", "italic"))
        style = _ALERT_STYLE if is_ongoing else "dim" if period.earlier else ""
        table.add_row(*cells, style=style)
        if period.rule:
            table.add_row(Text(clean(period.rule + (f" [{period.key}]" if period.key is not None else ""), 60), "italic"),
                          style=style)
    hidden = len(periods) - len(shown)
    subtitle = f"{len(periods)} · {rule}" + (f" · {hidden} older not shown" if hidden else "")
    return _panel(table, "Alerts", subtitle)


def _totals(view: LiveView, now: Optional[datetime], rows: int) -> RenderableType:
    """Cumulative figures since the monitor started, and its top sections when ``rows`` allow."""
    total = view.total
    grid = CellGrid([Column(style="dim"), Column()], flexible=1)
    methods = "  ".join(f"{clean(method, 12) or '(none)'} {hits}" for method, hits, _ in total.top_methods(4))
    users = "  ".join(f"{clean(user, 16)} {hits}" for user, hits, _ in total.top_users(4))
    grid.add_row("hits", f"{total.hits}  ({format_rate(total.rps)} req/s)")
    grid.add_row("bytes", f"{format_bytes(total.bytes_total)}  (mean {format_bytes(total.bytes_mean)})")
    grid.add_row("errors", f"{total.errors}  ({format_share(total.error_rate)})")
    grid.add_row("clients", format_distinct(total))
    grid.add_row("methods", Text(methods or "-"))
    grid.add_row("users", Text(users or "-"))
    since = _short_time(total.start, now) if total.start is not None else ""
    listed = min(view.top, rows - _TOTALS_LINES - 2)
    if listed < 1 or not total.hits:
        return _panel(grid, "Since start", since)
    table = _table(("section since start", "left"), ("hits", "right"), ("share", "right"), ("errors", "right"))
    for name, section, share in total.top_sections(listed):
        table.add_row(clean_text(name), str(section.hits), format_share(share), _errors(section.errors))
    return _panel(Group(grid, Text(""), table), "Since start", since)


def _footer(view: LiveView) -> RenderableType:
    total = view.total
    line = Text(no_wrap=True, overflow="ellipsis", style="dim")
    line.append(f" lines {view.lines}  parsed {view.parsed}  skipped {total.skipped_total}")
    if total.skipped_total:
        reasons = sorted(total.skipped.items(), key=lambda item: (-item[1], item[0]))
        line.append(" (" + ", ".join(f"{clean(reason)} {count}" for reason, count in reasons) + ")")
    line.append(f"  late {total.late}  ·  Ctrl-C to quit")
    return line


# -- layout ------------------------------------------------------------------------------------


class _Plan(NamedTuple):
    """How the screen's rows are shared out."""

    chart: int
    """Sparkline rows (a time axis is added below from 3 rows on)."""
    listing: int
    """Height of the sections / codes / clients row, 0 when dropped."""
    history: int
    """Height of the alert history row, 0 when dropped."""
    totals: int
    """Height of the since-start row of medium screens (beside the history when wide), 0 when none."""
    latency: int = 0
    """Height of the latency row (wide: latency and vhosts side by side), 0 when none."""
    vhosts: int = 0
    """Height of the vhosts row of medium screens, 0 when none."""


_TOTALS_LINES = 6
_TOTALS_HEIGHT = 2 + _TOTALS_LINES  # borders, no header row
_HISTORY_MIN = 5
"""The history's height (two lines) that the latency and vhosts rows leave it."""
_ROW_MIN = 4
"""The least a latency or vhosts row shrinks to: one line."""


def _has_latency(view: LiveView) -> bool:
    """Whether the run has seen durations or upstream times: the latency panel is shown."""
    return view.total.latency is not None or view.total.upstream_latency is not None


def _has_vhosts(view: LiveView) -> bool:
    """Whether the run has seen more than one virtual host: the vhosts panel is shown."""
    return len(view.total.vhosts) > 1


def _extra_wants(view: LiveView, width: int) -> Tuple[int, int]:
    """Heights the latency row and the vhosts row of medium screens want (0: none)."""
    if width < NARROW:
        return 0, 0
    total = view.total
    kinds = (total.latency is not None) + (total.upstream_latency is not None)
    latency = 3 + kinds if kinds else 0
    rules = len(_rule_states(view))
    if rules:  # the rules share the latency row
        latency = max(latency, 3 + min(rules, view.top))
    vhosts = 3 + min(view.top, len(total.vhosts)) if _has_vhosts(view) else 0
    return (max(latency, vhosts), 0) if width >= WIDE else (latency, vhosts)


def _fit_row(want: int, room: int) -> int:
    """A row's height within ``room``: ``want``, shrunk down to :data:`_ROW_MIN`, or 0."""
    height = min(want, room)
    return height if height >= _ROW_MIN else 0


def _plan(view: LiveView, height: int, width: int, periods: Sequence[AlertPeriod]) -> _Plan:
    """Share out the rows (see the module documentation for the priorities)."""
    wide, narrow = width >= WIDE, width < NARROW
    history_rows = max(1, len(periods))
    if not wide and not narrow:
        history_rows = max(history_rows, view.top)  # the clients share the row
    listing_want = 3 + view.top
    history_want = 3 + history_rows
    if wide:
        history_want = max(history_want, _TOTALS_HEIGHT)  # the totals share the row
    body = height - 7  # header, footer, traffic panel with a 2-row chart
    latency_want, vhosts_want = _extra_wants(view, width)
    room = body - listing_want - _HISTORY_MIN
    latency = _fit_row(latency_want, room)
    vhosts = _fit_row(vhosts_want, room - latency)
    body -= latency + vhosts
    if (latency or vhosts) and body < listing_want + history_want:
        return _Plan(2, listing_want, body - listing_want, 0, latency, vhosts)
    if body < listing_want + history_want:
        if body >= 8:
            history = max(4, min(history_want, body // 2))
            return _Plan(2, body - history, history, 0)
        if body >= 4:
            return _Plan(2, 0, body, 0)
        return _Plan(2 if body >= 0 else 0, 0, 0, 0)
    extra = body - listing_want - history_want
    totals = 0
    if not wide and not narrow and extra >= _TOTALS_HEIGHT + 2:
        totals = _TOTALS_HEIGHT
        extra -= totals
    chart = 2
    grow = min(extra, max(2, min(20, height // 3)) - 2)
    if grow >= 2:  # one of the rows goes to the time axis
        chart += grow - 1
        extra -= grow
    return _Plan(chart, listing_want, history_want + extra, totals, latency, vhosts)


def _extras_row(view: LiveView, height: int, wide: bool) -> Layout:
    """The latency row; on wide screens the vhosts share it, and the rules on any (each may be alone)."""
    rows = height - 3
    panels: List[Layout] = []
    if _has_latency(view):
        panels.append(Layout(_latency(view, rows), size=_LATENCY_WIDTH if wide else None))
    if wide and _has_vhosts(view):
        panels.append(Layout(_vhosts(view, rows), ratio=1))
    if _rule_states(view):
        panels.append(Layout(_rules(view, rows), ratio=2))
    row = Layout(size=height)
    row.split_row(*panels)
    return row


_LATENCY_WIDTH = 72
"""Columns of the latency panel beside the vhosts: its table at its natural width, and borders."""


class KeptPanels:
    """Panels laid out for an earlier screen, drawn again while what they show is the same.

    The status codes and clients come from the last report, which changes once a period; the
    alert history changes with an event, and every second only while an alert is open. A panel
    is kept under its name with the objects it shows (compared by identity: a view's figures are
    immutable) and the values that size it; the others are laid out at every screen.
    """

    def __init__(self) -> None:
        self._kept: Dict[str, Tuple[Tuple[Any, ...], Tuple[Any, ...], List[List[Segment]]]] = {}

    def panel(self, name: str, shows: Tuple[Any, ...], sized: Tuple[Any, ...],
              make: Callable[[], RenderableType]) -> RenderableType:
        """The panel ``make`` builds, laid out again only when ``shows`` (by identity) or ``sized``
        (by value) or the room it is given changed since it was last laid out."""
        return _KeptPanel(self._kept, name, shows, sized, make)


class _KeptPanel:
    def __init__(self, kept: Dict[str, Tuple[Tuple[Any, ...], Tuple[Any, ...], List[List[Segment]]]], name: str,
                 shows: Tuple[Any, ...], sized: Tuple[Any, ...], make: Callable[[], RenderableType]) -> None:
        self.kept, self.name, self.shows, self.sized, self.make = kept, name, shows, sized, make

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        sized = (*self.sized, options.max_width, options.height)
        kept = self.kept.get(self.name)
        if kept is not None and kept[1] == sized and len(kept[0]) == len(self.shows) \
                and all(map(operator.is_, kept[0], self.shows)):
            lines = kept[2]
        else:
            lines = console.render_lines(self.make(), options, pad=True)
            self.kept[self.name] = (self.shows, sized, lines)
        new_line = Segment.line()
        for line in lines:
            yield from line
            yield new_line


def _build(view: LiveView, width: int, height: int, kept: Optional[KeptPanels] = None) -> RenderableType:
    tz = _log_tz(view)
    now = from_epoch(view.clock, tz) if view.clock is not None else None
    alert = view.alert
    periods = alert_periods(view.history, view.earlier_alerts, alert.peak_hits)
    plan = _plan(view, height, width, periods)
    wide, narrow = width >= WIDE, width < NARROW
    kept = kept if kept is not None else KeptPanels()
    shown = _period_stats(view)[0]
    listing_rows = plan.listing - 3
    status = kept.panel("status", (shown,), (listing_rows,), lambda: _status_codes(view, listing_rows))
    clients = kept.panel("clients", (shown,), (listing_rows,), lambda: _clients(view, listing_rows, shares=True))
    traffic_height = 3 + plan.chart + (1 if plan.chart >= 3 else 0)
    regions = [Layout(_header(view, now), size=1),
               Layout(_traffic(view, periods, now, width, plan.chart), size=traffic_height)]
    if plan.listing:
        rows = plan.listing - 3
        row = Layout(size=plan.listing)
        if narrow:
            row.update(_sections(view, rows, wide=False, width=width))
        elif wide:
            row.split_row(Layout(_sections(view, rows, wide=True, width=(width - 30) * 5 // 8), ratio=5),
                          Layout(status, size=30), Layout(clients, ratio=3))
        else:
            row.split_row(Layout(_sections(view, rows, wide=False, width=width - 26), ratio=1),
                          Layout(status, size=26))
        regions.append(row)
    if plan.latency:
        regions.append(_extras_row(view, plan.latency, wide))
    if plan.vhosts:
        regions.append(Layout(_vhosts(view, plan.vhosts - 3), size=plan.vhosts))
    if plan.history:
        rows = plan.history - 3
        row = Layout(size=plan.history)
        if any(period.end is None and not period.earlier for period in periods):  # open: its duration grows
            alerts = _alerts(view, periods, now, rows, wide)
        else:
            alerts = kept.panel("alerts", (), (view.history, view.earlier_alerts, rows, wide, now and now.date()),
                                lambda: _alerts(view, periods, now, rows, wide))
        if wide:
            row.split_row(Layout(alerts, ratio=3), Layout(_totals(view, now, rows + 1), ratio=2))
        elif plan.listing and not narrow:
            row.split_row(Layout(_clients(view, rows, shares=False), size=min(30, width // 2 - 16)),
                          Layout(alerts, ratio=1))
        else:
            row.update(alerts)
        regions.append(row)
    if plan.totals:
        regions.append(Layout(_totals(view, now, plan.totals - 2), size=plan.totals))
    regions.append(Layout(_footer(view), ratio=1))  # one row, or whatever a tiny screen leaves
    root = Layout()
    root.split_column(*regions)
    return root


class DashboardScreen:
    """A renderable dashboard for one :class:`LiveView`, laid out at render time.

    The screen is a function of the view and the size alone (its clock is the view's), so the
    lines laid out for one size are kept and drawn again while the size stays (a console that
    draws it twice, as rich's Live does when it stops, lays it out once).

    :param width: columns to use; default: all the console offers.
    :param height: lines to use; default: the console's height.
    """

    def __init__(self, view: LiveView, width: Optional[int] = None, height: Optional[int] = None,
                 kept: Optional[KeptPanels] = None) -> None:
        self.view = view
        self.width = width
        self.height = height
        self.kept = kept
        """Panels of earlier screens to draw again where they show the same (:class:`KeptPanels`)."""
        self._laid_out: Optional[Tuple[Tuple[int, int], List[List[Segment]]]] = None

    def lines(self, console: Console, options: ConsoleOptions) -> List[List[Segment]]:
        """The screen's lines for the size ``options`` give, each as wide as the screen."""
        width = min(self.width or options.max_width, options.max_width)
        height = self.height or options.height or options.max_height
        if self._laid_out is None or self._laid_out[0] != (width, height):
            render_options = options.update(width=width, height=height)
            self._laid_out = ((width, height), console.render_lines(_build(self.view, width, height, self.kept),
                                                                     render_options, pad=True))
        return self._laid_out[1]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        new_line = Segment.line()
        for line in self.lines(console, options):
            yield from line
            yield new_line


def render_dashboard(view: LiveView, width: Optional[int] = None, height: Optional[int] = None) -> RenderableType:
    """The full dashboard for ``view``, sized to the console (or to ``width`` × ``height``)."""
    return DashboardScreen(view, width, height)


FULL_DRAW_EVERY = 30
"""Every this many draws (about 30 s at one a second), :class:`Dashboard` writes every line again."""

_COLOR_SYSTEMS = {"standard": ColorSystem.STANDARD, "256": ColorSystem.EIGHT_BIT, "truecolor": ColorSystem.TRUECOLOR,
                  "windows": ColorSystem.WINDOWS}


class Dashboard:
    """The dashboard on the terminal's alternate screen, redrawn in place (no flicker).

    Drive it from one thread: :meth:`start`, then :meth:`update` with each new view (it is drawn
    at once) and :meth:`redraw_if_resized` now and then (the screen is drawn again, at the new
    size, when the terminal's size changed), then :meth:`stop` (also as a context manager).

    It draws as curses does: the lines of the screen as shown are kept, and a new view rewrites
    only the lines that differ (the header, the chart, the totals; the tables change once a
    period). Sending the whole screen through rich's ``Live`` each second took as long as laying
    it out. Every :data:`FULL_DRAW_EVERY` draws, every line is written again, so that anything
    else written to the terminal meanwhile (which should not happen: standard output and error
    are not redirected, and print only after :meth:`stop`) does not stay on the screen. Colours
    follow the console (none with ``NO_COLOR``). Outside :meth:`start` and :meth:`stop`
    nothing is drawn.
    """

    def __init__(self, console: Optional[Console] = None) -> None:
        self.console = console if console is not None else Console()
        self._screen: RenderableType = _empty(" monilog: waiting for the first line…")
        self._shown: List[str] = []  # each line of the screen as drawn
        self._size: Optional[ConsoleDimensions] = None
        self._draws = 0
        self._started = False
        self._kept = KeptPanels()

    def start(self) -> None:
        """Switch to the alternate screen and draw it (the terminal is restored if that fails)."""
        self.console.set_alt_screen(True)
        self.console.show_cursor(False)
        self._started = True
        try:
            self._draw()
        except BaseException:
            self.stop()
            raise

    def update(self, view: LiveView) -> None:
        """Draw ``view``."""
        self._screen = DashboardScreen(view, kept=self._kept)
        self._draw()

    def redraw_if_resized(self) -> bool:
        """Draw the screen again if the terminal's size changed since it was drawn; whether it did."""
        if self.console.size == self._size:
            return False
        self._draw()
        return True

    def _draw(self) -> None:
        """Rewrite the lines of the screen that differ from those shown (all of them at a new size)."""
        if not self._started:
            return
        console = self.console
        size = console.size
        options = console.options.update(width=size.width, height=size.height)
        if isinstance(self._screen, DashboardScreen):
            lines = self._screen.lines(console, options)
        else:
            lines = console.render_lines(self._screen, options, pad=True)
        system = _COLOR_SYSTEMS.get(console.color_system or "")
        plain = console.no_color
        texts = ["".join(text if style is None or system is None else
                         (style.without_color if plain else style).render(text, color_system=system)
                         for text, style, control in line if not control) for line in lines]
        parts = []
        self._draws += 1
        if size != self._size:
            self._size, self._shown = size, []
            parts.append(Control.clear().segment.text)
        elif self._draws % FULL_DRAW_EVERY == 0:
            self._shown = []
        shown = self._shown
        for row, text in enumerate(texts):
            if row >= len(shown) or shown[row] != text:
                parts.append(Control.move_to(0, row).segment.text + text)
        self._shown = texts
        if parts:
            console.file.write("".join(parts))
            console.file.flush()

    def stop(self) -> None:
        """Restore the terminal's normal screen (a later :meth:`start` draws the whole screen again)."""
        if self._started:
            self._started = False
            self._size, self._shown = None, []
            self.console.show_cursor(True)
            self.console.set_alt_screen(False)

    def __enter__(self) -> "Dashboard":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
