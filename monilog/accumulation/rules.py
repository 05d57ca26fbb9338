"""Alert rules beyond total traffic: the grammar, the metrics and one engine that evaluates them.

The mission's rule (average requests per second over two minutes above a threshold) stays the
:class:`~monilog.accumulation.alerter.Alerter`; these rules run beside it, on the same clock.

Grammar (words case-insensitive, spaces free)::

    METRIC [on SECTION] [by client|by section] > VALUE [over DURATION] [recover below VALUE]
           [for DURATION] [min N hits]

* METRIC: ``rate`` (requests/s), ``errors`` (share of 4xx+5xx), ``server_errors`` (share of
  5xx), ``latency_p50|p90|p95|p99`` (seconds; needs a format with durations), ``bytes_rate``
  (bytes/s).
* VALUE: a number; ``%`` for shares (``5%`` = 0.05); ``ms``/``s`` for latency; ``k``/``M`` for
  rates and bytes (``1.5M``).
* DURATION: ``30s``, ``2m``, ``1h`` (or plain seconds); ``over`` defaults to 120 s.
* ``by client`` / ``by section`` go with ``rate``: one alert per client or section above the limit.

Semantics (the traffic rule's, for every rule)
----------------------------------------------
Each time the clock crosses a whole second ``T`` (after the run's lateness), every rule is
evaluated on the window ``[T - over, T - 1]``:

* the value is the window's: hits or bytes divided by ``over``; errors (or 5xx) divided by the
  hits; the percentile of the window's durations;
* it alerts when the value is strictly above the threshold, compared exactly in decimal as typed
  for rates, bytes and shares (integer arithmetic), and within the latency sketch's 0.5% for
  percentiles; it recovers when the value is at or below the recovery value (``recover below``,
  by default the threshold);
* a share or percentile over fewer than ``min`` hits (default 1) is *no evidence*: it does not
  alert, and an ongoing alert recovers;
* ``for D``: it alerts at ``T`` only when the condition held at each of the ``D`` evaluated seconds
  ending at ``T``.

Records arrive per second (:class:`~monilog.accumulation.counts.Counts` of one second, which
the engine makes when rules are in force); a second older than the window is late for the rules
and not counted, as for the traffic rule.

Cost and bounds: per rule O(over) memory (a slot per second) and O(1) per second for rates, bytes
and shares; a percentile walks the window's buckets (at most 2,048) once a second. ``by`` rules
keep a count per key and second, and at most ``max_keys`` keys per window: past that the keys
with the fewest hits in the window are dropped. A key above the limit is only missed when
``max_keys`` other keys each have more hits in the window than it has in one second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Dict, List, Optional, Sequence, Tuple

from monilog.accumulation.alerter import ALERT, MAX_HISTORY, RECOVER, AlertEvent
from monilog.accumulation.counts import Counts
from monilog.accumulation.report import RuleState
from monilog.accumulation.sketch import lower_edge, quantile_of_buckets
from monilog.accumulation.status import is_error, is_server_error

METRICS = ("rate", "errors", "server_errors", "latency_p50", "latency_p90", "latency_p95", "latency_p99", "bytes_rate")
"""The metrics a rule can watch."""
SHARES = ("errors", "server_errors")
LATENCIES = {"latency_p50": 0.5, "latency_p90": 0.9, "latency_p95": 0.95, "latency_p99": 0.99}
DEFAULT_OVER = 120
MAX_SECONDS = 86_400
"""The longest ``over`` or ``for``: a day."""

_DURATION = re.compile(r"^(\d+)\s*(s|m|h)?$")
_VALUE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*(%|ms|s|k|m)?$", re.IGNORECASE)
_RULE = re.compile(
    r"^\s*(?P<metric>[a-z_0-9]+)"
    r"(?:\s+on\s+(?P<section>\S+))?"
    r"(?:\s+by\s+(?P<by>\S+))?"
    r"\s*>\s*(?P<value>[0-9.]+\s*[a-z%]*)"
    r"(?:\s+over\s+(?P<over>\d+\s*[a-z]?))?"
    r"(?:\s+recover\s+below\s+(?P<recover>[0-9.]+\s*[a-z%]*))?"
    r"(?:\s+for\s+(?P<hold>\d+\s*[a-z]?))?"
    r"(?:\s+min\s+(?P<min>\d+)\s+hits?)?\s*$",
    re.IGNORECASE,
)


class RuleError(ValueError):
    """A rule that does not parse; the message says why in one line."""


def _seconds(text: str, what: str) -> int:
    match = _DURATION.match(text.strip().lower())
    if match is None:
        raise RuleError(f"{what} {text!r} is not a duration (30s, 2m, 1h)")
    value = int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 1}[match.group(2)]
    if value < 1:
        raise RuleError(f"{what} must be at least one second")
    return value


def _value(text: str, metric: str) -> Decimal:
    match = _VALUE.match(text.strip())
    if match is None:
        raise RuleError(f"{text!r} is not a value (a number, with % for shares, ms/s for latency, k/M for rates)")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:
        raise RuleError(f"{text!r} is not a number") from None
    unit = match.group(2)
    if metric in SHARES:
        if unit not in (None, "%"):
            raise RuleError(f"a share is a fraction or a percentage, not {text!r}")
        number = number / 100 if unit == "%" else number
        if number > 1:
            raise RuleError(f"a share is at most 100%, not {text!r}")
    elif metric in LATENCIES:
        if unit not in (None, "s", "ms", "S", "MS", "Ms", "mS"):
            raise RuleError(f"a latency is in s or ms, not {text!r}")
        number = number / 1000 if unit and unit.lower() == "ms" else number
    else:
        if unit == "%" or (unit and unit.lower() in ("s", "ms")):
            raise RuleError(f"{metric} is a rate: give a number, with k or M, not {text!r}")
        if unit == "k" or unit == "K":
            number *= 1000
        elif unit == "M" or unit == "m":
            number *= 1_000_000
    return number


@dataclass(frozen=True)
class RuleSpec:
    """A parsed rule (see the module documentation)."""

    metric: str
    threshold: Decimal
    over: int = DEFAULT_OVER
    section: Optional[str] = None
    """``on SECTION``: only this section's requests."""
    by: Optional[str] = None
    """``client`` or ``section``: one alert per key."""
    recover: Optional[Decimal] = None
    """Recover at or below this (None: the threshold)."""
    hold: int = 1
    """``for D``: seconds the condition must hold."""
    min_hits: int = 1
    name: str = ""

    @property
    def recover_value(self) -> Decimal:
        """The value at or below which an alert recovers."""
        return self.threshold if self.recover is None else self.recover

    @property
    def text(self) -> str:
        """The rule written canonically (what events and JSON call it)."""
        words = [self.metric]
        if self.section is not None:
            words.append(f"on {self.section}")
        if self.by is not None:
            words.append(f"by {self.by}")
        words.append(f"> {_show(self.threshold, self.metric)} over {_show_seconds(self.over)}")
        if self.recover is not None:
            words.append(f"recover below {_show(self.recover, self.metric)}")
        if self.hold > 1:
            words.append(f"for {_show_seconds(self.hold)}")
        if self.min_hits != 1:
            words.append(f"min {self.min_hits} hits")
        return " ".join(words)

    @property
    def needs_durations(self) -> bool:
        """Whether the rule needs a format that logs durations."""
        return self.metric in LATENCIES


def _show_seconds(seconds: int) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _show(value: Decimal, metric: str) -> str:
    if metric in SHARES:
        return f"{(value * 100).normalize():f}%"
    if metric in LATENCIES:
        return f"{value.normalize():f}s"
    return f"{value.normalize():f}"


def parse_rule(text: str, name: str = "") -> RuleSpec:
    """The rule written ``text``; RuleError saying what is wrong."""
    match = _RULE.match(text)
    if match is None:
        raise RuleError(f"cannot read the rule {text!r}: METRIC [on SECTION] [by client|section] > VALUE "
                        "[over DURATION] [recover below VALUE] [for DURATION] [min N hits]")
    metric = match.group("metric").lower()
    if metric not in METRICS:
        raise RuleError(f"unknown metric {metric!r} in {text!r}: one of {', '.join(METRICS)}")
    by = match.group("by")
    if by is not None:
        by = by.lower()
        if by not in ("client", "section"):
            raise RuleError(f"'by' takes client or section, not {by!r}")
        if metric != "rate":
            raise RuleError(f"'by {by}' goes with the rate metric, not {metric}")
        if match.group("section"):
            raise RuleError(f"'on SECTION' and 'by {by}' do not go together (a second's counters do not split clients by section)")
    threshold = _value(match.group("value"), metric)
    recover = _value(match.group("recover"), metric) if match.group("recover") else None
    if recover is not None and recover > threshold:
        raise RuleError(f"recover below {match.group('recover')} is above the threshold {match.group('value')}")
    over = _seconds(match.group("over"), "over") if match.group("over") else DEFAULT_OVER
    hold = _seconds(match.group("hold"), "for") if match.group("hold") else 1
    if over > MAX_SECONDS or hold > MAX_SECONDS:
        raise RuleError(f"over and for are at most {MAX_SECONDS // 3600}h (a slot per second is kept)")
    min_hits = int(match.group("min")) if match.group("min") else 1
    if min_hits < 1:
        raise RuleError("min must be at least 1 hit")
    if match.group("min") and metric in ("rate", "bytes_rate"):
        raise RuleError("'min N hits' goes with shares and percentiles (a rate needs no minimum)")
    return RuleSpec(metric, threshold, over, match.group("section"), by, recover, hold, min_hits, name)


class _Evidence:
    """What a rule needs of one second: ``(hits, part)`` where part is errors, 5xx, bytes, or
    ``{bucket: count}`` of durations, or ``{key: hits}`` for ``by`` rules."""

    __slots__ = ("hits", "part")

    def __init__(self) -> None:
        self.hits = 0
        self.part: object = 0


def _measure(spec: RuleSpec, counts: Counts) -> Tuple[int, object]:
    """``(hits, part)`` of one second's counts, for this rule (see :class:`_Evidence`)."""
    section = spec.section
    if spec.by == "client":
        return counts.hits, dict(counts.clients)
    if spec.by == "section":
        keys: Dict[str, int] = {}
        for (name, _), hits in counts.section_status.items():
            keys[name] = keys.get(name, 0) + hits
        return sum(keys.values()), keys
    hits = bad = 0
    for (name, status), count in counts.section_status.items():
        if section is not None and name != section:
            continue
        hits += count
        if spec.metric == "errors" and is_error(status):
            bad += count
        elif spec.metric == "server_errors" and is_server_error(status):
            bad += count
    if spec.metric == "bytes_rate":
        return hits, sum(size for name, size in counts.section_bytes.items() if section is None or name == section)
    if spec.metric in LATENCIES:
        buckets: Dict[Optional[int], int] = {}
        for name, sketch in (counts.latency or {}).items():
            if section is None or name == section:
                for key, count in sketch.bucket_counts().items():
                    buckets[key] = buckets.get(key, 0) + count
        return hits, buckets
    return hits, bad


def _add_part(total: object, part: object, sign: int) -> object:
    if isinstance(part, int):
        assert isinstance(total, int)
        return total + sign * part
    assert isinstance(part, dict) and isinstance(total, dict)
    for key, count in part.items():
        left = total.get(key, 0) + sign * count
        if left:
            total[key] = left
        else:
            total.pop(key, None)
    return total


class Rule:
    """One rule's window and state; driven by :class:`RuleSet`."""

    def __init__(self, spec: RuleSpec, lateness: int = 0, max_keys: int = 10_000) -> None:
        self.spec = spec
        self.max_keys = max_keys
        self._slots = spec.over + lateness + 1
        self._seconds: List[Optional[int]] = [None] * self._slots
        self._evidence: List[_Evidence] = [_Evidence() for _ in range(self._slots)]
        self._hits = 0  # window totals, [T - over, T - 1] for the last T evaluated
        self._part: object = {} if self._keyed else 0
        self._streak = 0
        self._streaks: Dict[Optional[str], int] = {}  # per key of a ``by`` rule, seconds above the limit in a row
        self.alerting: Dict[Optional[str], Tuple[datetime, float]] = {}
        """Key (None for unkeyed rules) → when its alert started and its peak value."""
        self.value: Optional[float] = None
        """The value at the last evaluation (None: no evidence)."""
        self.late_hits = 0
        threshold, recover = spec.threshold, spec.recover_value
        self._limit = int(threshold * spec.over) if spec.metric in ("rate", "bytes_rate") else 0
        self._recover_limit = int(recover * spec.over) if spec.metric in ("rate", "bytes_rate") else 0
        self._share = Fraction(threshold)
        self._recover_share = Fraction(recover)

    @property
    def _keyed(self) -> bool:
        return self.spec.metric in LATENCIES or self.spec.by is not None

    def add(self, second: int, counts: Counts, evaluated: Optional[int]) -> None:
        """Count one second's records (``evaluated``: the last second evaluated, None before any)."""
        if evaluated is not None and second < evaluated - self.spec.over:
            self.late_hits += counts.hits
            return
        hits, part = _measure(self.spec, counts)
        if not hits and not part:
            return
        slot = second % self._slots
        evidence = self._evidence[slot]
        if self._seconds[slot] != second:
            self._seconds[slot] = second
            evidence.hits, evidence.part = 0, ({} if self._keyed else 0)
        evidence.hits += hits
        evidence.part = _add_part(evidence.part, part, 1)
        if evaluated is not None and second < evaluated:  # already inside the window evaluated last
            self._hits += hits
            self._part = _add_part(self._part, part, 1)
            self._cap()

    def step(self, second: int) -> None:
        """Move the window to ``[second - over, second - 1]``."""
        entering, leaving = second - 1, second - 1 - self.spec.over
        for moment, sign in ((entering, 1), (leaving, -1)):
            slot = moment % self._slots
            if self._seconds[slot] == moment:
                evidence = self._evidence[slot]
                if sign < 0 and self.spec.by is not None:
                    self._drop(evidence.part)
                else:
                    self._part = _add_part(self._part, evidence.part, sign)
                self._hits += sign * evidence.hits
                if sign < 0:
                    self._seconds[slot] = None
        if self.spec.by is not None:
            self._cap()

    def clear(self) -> None:
        """Forget the window (the clock jumped past it)."""
        self._seconds = [None] * self._slots
        self._hits = 0
        self._part = {} if self._keyed else 0
        self._streak = 0
        self._streaks = {}

    def _drop(self, part: object) -> None:
        """Take a leaving second's keys out of the window (keys no longer tracked stay out)."""
        assert isinstance(part, dict) and isinstance(self._part, dict)
        window = self._part
        for key, count in part.items():
            if key in window:
                left = window[key] - count
                if left > 0:
                    window[key] = left
                else:
                    del window[key]

    def _cap(self) -> None:
        window = self._part
        if isinstance(window, dict) and len(window) > self.max_keys + self.max_keys // 8:
            kept = sorted(window.items(), key=lambda item: -item[1])[:self.max_keys]
            window.clear()
            window.update(kept)

    def evaluate(self, second: int, tz: tzinfo) -> List[AlertEvent]:
        """Evaluate the window ``[second - over, second - 1]``; return the events it raises."""
        spec = self.spec
        when = datetime.fromtimestamp(second, tz)
        events: List[AlertEvent] = []
        if spec.by is not None:
            assert isinstance(self._part, dict)
            window: Dict[Optional[str], int] = self._part
            streaks = self._streaks
            self._streaks = {key: streaks.get(key, 0) + 1 for key, hits in window.items() if hits > self._limit}
            for key, hits in window.items():
                if key not in self.alerting and self._streaks.get(key, 0) >= spec.hold:
                    events.append(self._event(ALERT, when, hits, hits / spec.over, key))
                    self.alerting[key] = (when, hits / spec.over)
                elif key in self.alerting and hits / spec.over > self.alerting[key][1]:
                    self.alerting[key] = (self.alerting[key][0], hits / spec.over)
            for key in [key for key in self.alerting if window.get(key, 0) <= self._recover_limit]:
                hits = window.get(key, 0)
                events.append(self._event(RECOVER, when, hits, hits / spec.over, key))
                del self.alerting[key]
            self.value = max(window.values(), default=0) / spec.over
            return events
        above, at_or_below, value = self._judge()
        self.value = value
        self._streak = self._streak + 1 if above else 0
        if None in self.alerting:
            started, peak = self.alerting[None]
            if value is not None and value > peak:
                self.alerting[None] = (started, value)
            if at_or_below:
                events.append(self._event(RECOVER, when, self._hits, value, None))
                del self.alerting[None]
        elif above and self._streak >= spec.hold:
            events.append(self._event(ALERT, when, self._hits, value, None))
            self.alerting[None] = (when, value if value is not None else 0.0)
        return events

    def _judge(self) -> Tuple[bool, bool, Optional[float]]:
        """``(above the threshold, at or below the recovery value, value)`` of the window."""
        spec, hits, part = self.spec, self._hits, self._part
        if spec.metric in ("rate", "bytes_rate"):
            total = hits if spec.metric == "rate" else part
            assert isinstance(total, int)
            return total > self._limit, total <= self._recover_limit, total / spec.over
        if hits < spec.min_hits:
            return False, True, None  # no evidence
        if spec.metric in SHARES:
            assert isinstance(part, int)
            share = Fraction(part, hits)
            return share > self._share, share <= self._recover_share, part / hits
        assert isinstance(part, dict)
        value = quantile_of_buckets(part, LATENCIES[spec.metric])
        if value is None:
            return False, True, None
        # decided on the lower edge of the percentile's bucket: every value in it is above the edge,
        # so round durations (2.000 s against "> 2s") never alert, at the cost of 1% of resolution
        edge = lower_edge(value)
        return edge >= float(spec.threshold), edge < float(spec.recover_value), value

    def _event(self, kind: str, when: datetime, hits: int, value: Optional[float], key: Optional[str]) -> AlertEvent:
        spec = self.spec
        started = peak = None
        if kind == RECOVER:
            started, peak_value = self.alerting[key]
            peak = round(peak_value * spec.over) if spec.metric == "rate" else None
        return AlertEvent(kind, hits, hits / spec.over, when, float(spec.threshold), spec.over, started, peak,
                          rule=spec.text, metric=spec.metric, value=value, key=key, section=spec.section,
                          by=spec.by, name=spec.name)


class RuleSet:
    """Rules evaluated together on one clock, like :class:`~monilog.accumulation.alerter.Alerter`.

    Drive it with :meth:`add` (one second's counts) and :meth:`evaluate_until` (every whole
    second up to the one given, as the alert clock reaches it).
    """

    def __init__(self, specs: Sequence[RuleSpec], lateness: int = 0, max_keys: int = 10_000,
                 max_history: int = MAX_HISTORY) -> None:
        self.rules = [Rule(spec, lateness, max_keys) for spec in specs]
        self._lateness, self._max_keys = lateness, max_keys
        self.evaluated: Optional[int] = None
        """The last second evaluated, None before any."""
        self.history: Tuple[AlertEvent, ...] = ()
        self.dropped_events = 0
        self._max_history = max_history
        self._span = max((spec.over for spec in specs), default=0) + lateness + 1

    def __bool__(self) -> bool:
        return bool(self.rules)

    def restarted(self) -> RuleSet:
        """The same rules with empty windows and their history kept: for a timeline started anew
        (the log's clock stepped back). Alerts in progress end there without a recovery event."""
        fresh = RuleSet([rule.spec for rule in self.rules], self._lateness, self._max_keys, self._max_history)
        fresh.history, fresh.dropped_events = self.history, self.dropped_events
        return fresh

    @property
    def needs_durations(self) -> bool:
        """Whether any rule watches latency."""
        return any(rule.spec.needs_durations for rule in self.rules)

    def states(self) -> Tuple[RuleState, ...]:
        """Every rule's value and state now."""
        return tuple(RuleState(rule.spec.text, rule.value, float(rule.spec.threshold),
                               tuple("" if key is None else key for key in rule.alerting)) for rule in self.rules)

    def add(self, second: int, counts: Counts) -> None:
        """Count one second's records in every rule."""
        for rule in self.rules:
            rule.add(second, counts, self.evaluated)

    def evaluate_until(self, target: int, tz: tzinfo) -> List[AlertEvent]:
        """Evaluate every second after the last evaluated up to ``target``; return the events."""
        if self.evaluated is None:
            self.evaluated = target
            return []
        events: List[AlertEvent] = []
        second = self.evaluated
        last_useful = min(target, second + self._span + 1)
        while second < last_useful:
            second += 1
            for rule in self.rules:
                rule.step(second)
                events.extend(rule.evaluate(second, tz))
        if target > last_useful:  # every window is empty by now: nothing more can change
            for rule in self.rules:
                rule.clear()
        self.evaluated = target
        if events:
            history = self.history + tuple(events)
            if len(history) > self._max_history:
                self.dropped_events += len(history) - self._max_history
                history = history[-self._max_history:]
            self.history = history
        return events
