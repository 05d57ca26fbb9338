"""What the pipeline hands to presentation: one period's report and the run's summary.

Both are plain immutable data, so every presentation (text, JSON, dashboard) and every output
(stdout, run log, notifications) renders the same facts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, NamedTuple, Optional, Tuple

from monilog.accumulation.alerter import AlertEvent

if TYPE_CHECKING:
    from monilog.accumulation.statistics import StatsSnapshot


class AlertState(NamedTuple):
    """The alerter as seen at one moment."""

    alerting: bool
    window_hits: int
    """Hits in the window evaluated last."""
    average: float
    """``window_hits / window`` in requests per second."""
    threshold: float
    window: int
    peak_hits: Optional[int] = None
    """Highest window total of the ongoing alert so far (None when not alerting)."""
    lateness: int = 0
    """Seconds of log time each second waits before it is evaluated (alerts come that much later)."""


class RuleState(NamedTuple):
    """A rule of ``--alert``/``--rules`` as seen at one moment."""

    rule: str
    """Its canonical text."""
    value: Optional[float]
    """Its value at the last evaluation (for a ``by`` rule: the busiest key's); None: no evidence."""
    threshold: float
    alerting: Tuple[str, ...]
    """The keys alerting (``""`` for a rule without ``by``); empty when it is not alerting."""


class PeriodReport(NamedTuple):
    """The traffic of one reporting period (``stats.start`` to ``stats.end``) and the alert state at its end."""

    stats: "StatsSnapshot"
    alert: AlertState
    filters: Tuple[str, ...] = ()
    """The filters in force, one phrase each (``since ...``, ``excluding bots``)."""
    rules: Tuple[RuleState, ...] = ()
    """The rules beside the traffic rule, at the period's end."""


class RunSummary(NamedTuple):
    """Everything a run saw, reported once at exit."""

    stats: "StatsSnapshot"
    """Cumulative statistics over all periods (skipped lines by reason included)."""
    lines: int
    """Lines read, including skipped lines and ``#`` directives."""
    parsed: int
    """Lines parsed into records: the sum of every report's hits."""
    late_hits: int
    """Hits too old for the alert window when they arrived."""
    outlier_hits: int
    """Hits with an absurd timestamp that the alert clock refused."""
    alerts: Tuple[AlertEvent, ...]
    """Every alert and recovery, in order (earlier runs' too, when an alert file is used)."""
    earlier_alerts: int
    """How many of the first ``alerts`` come from earlier runs."""
    alert: AlertState
    files: Tuple[str, ...]
    first_time: Optional[float]
    """Log time of the first report's start (epoch seconds), None if nothing was read."""
    last_time: Optional[float]
    """Log time of the last report's end (epoch seconds)."""
    notices: Mapping[str, int]
    """Watcher notices by kind (rotations, truncations, cut lines...)."""
    filters: Tuple[str, ...] = ()
    """The filters in force, one phrase each."""


class LiveView(NamedTuple):
    """A consistent picture of a running monitor, for live displays (the dashboard)."""

    files: Tuple[str, ...]
    uptime: float
    """Seconds since the monitor started (wall clock)."""
    clock: Optional[float]
    """The monitor's log clock (epoch seconds), None before the first line."""
    current_rps: float
    """Requests per second over the last few complete seconds."""
    per_second: Tuple[int, ...]
    """Hits of each second of the alert window, oldest first."""
    alert: AlertState
    last_report: Optional[PeriodReport]
    """The last complete period."""
    current: "StatsSnapshot"
    """The period in progress."""
    total: "StatsSnapshot"
    """Everything since start (complete periods and the one in progress)."""
    history: Tuple[AlertEvent, ...]
    earlier_alerts: int
    """How many of the first ``history`` entries come from earlier runs (alert file)."""
    lines: int
    parsed: int
    top: int
    """How many sections, clients and codes the display should list."""
