"""The high-traffic alert rule: one file, so changing the rule means changing this file only.

An :class:`Alerter` is driven by plain calls carrying log times; it knows nothing about files,
threads or the wall clock. Which times are trusted (absurd timestamps, the first line, the host
clock) is not its business: that is :mod:`monilog.accumulation.clock`.

The rule
--------
* The *clock* is the largest time observed (:meth:`Alerter.observe`) or advanced to
  (:meth:`Alerter.advance`). It never moves backwards.
* Each whole second ``T`` is evaluated once the clock has reached ``T + lateness`` (``lateness``
  is 0 by default: at once): the alerter sums the last ``window`` whole seconds before it,
  ``[T - window, T - 1]``: ``hits`` is their total and ``average = hits / window`` (always the
  full window, also during the first minutes of a run).
* ``average > threshold`` while not alerting raises an ``alert`` event at ``T``;
  ``average <= recover_below`` (by default the threshold) while alerting raises a ``recover``
  event at ``T``. "Exceeds" is
  strict: a window exactly at the threshold does not alert. The event's time is ``T`` (log
  time), whatever the lateness; it is raised ``lateness`` seconds of log time later.
* The comparison is exact: the threshold is taken in decimal as the user wrote it (a float
  goes through its shortest ``repr``, so ``0.29`` means 29/100) and compared as the integer
  test ``hits > floor(threshold * window)``. Binary floating point gets such edges wrong.
* Every second is evaluated, so a crossing is caught at its exact second even when lines are
  sparse. A jump longer than the window costs O(window + lateness): once the window is empty no
  later evaluation can change the state.

Late hits
---------
A hit at a second not yet evaluated, or evaluated less than a window ago (``second > T - window``
for the last evaluated ``T``), is added to its second and counts in every evaluation still to
come; evaluations already made are not revisited. An older hit is counted in
:attr:`Alerter.late_hits` and ignored. With ``lateness = L``, hits at most ``L`` seconds behind
the clock therefore count exactly as if they had come in time order.

History
-------
:attr:`Alerter.history` keeps the last ``max_history`` events (a run of weeks must not grow
without bound); :attr:`Alerter.dropped_events` counts the older ones it let go.

Threads
-------
An alerter is owned by one thread, which makes every call that changes it. Other threads may
read :attr:`alerting`, :attr:`history` (a tuple), :attr:`window_hits` and :attr:`average` at
any time: each is a single reference read and never shows a half-made update.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import List, Optional, Tuple, Union

Timestamp = Union[datetime, int, float]
"""A log time: a timezone-aware datetime, or seconds since the Unix epoch."""

ALERT = "alert"
"""The kind of an event raised when the window's average exceeds the threshold."""
RECOVER = "recover"
"""The kind of an event raised when an alert's window falls back to the threshold or below."""

TIME_FORMAT = "%Y-%m-%d %H:%M:%S %z"
"""How event times are written in messages: date, time and UTC offset."""

MAX_HISTORY = 1000
"""Events an alerter keeps in :attr:`Alerter.history` by default."""


def format_duration(seconds: float) -> str:
    """Render a duration as ``1h02m03s``, ``2m05s`` or ``42s``."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


@dataclass(frozen=True)
class AlertEvent:
    """A change of alert state: ``kind`` is ``"alert"`` or ``"recover"``.

    ``hits`` is the total of the window that triggered the change and ``average`` that total
    divided by the window. A recovery also carries when its alert started and the alert's
    peak window total.
    """

    kind: str
    hits: int
    average: float
    time: datetime
    threshold: float
    window: int
    started: Optional[datetime] = None
    peak_hits: Optional[int] = None
    rule: str = ""
    """The rule's canonical text (:mod:`monilog.accumulation.rules`); empty for the traffic rule."""
    metric: str = ""
    """What the rule watches (``rate``, ``server_errors``, ``latency_p95``...); empty for the traffic rule."""
    value: Optional[float] = None
    """The rule's value that changed the state (requests/s, share, seconds, bytes/s); None: no evidence."""
    key: Optional[str] = None
    """The client or section of a ``by`` rule."""
    section: Optional[str] = None
    """The section of an ``on`` rule."""
    by: Optional[str] = None
    """``client`` or ``section`` for a ``by`` rule."""
    name: str = ""
    """The rule's name (``--rules`` files), empty when it has none."""
    message: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", self._render())

    @property
    def duration(self) -> Optional[timedelta]:
        """How long the alert lasted (recoveries only)."""
        return None if self.started is None else self.time - self.started

    def _render(self) -> str:
        when = self.time.strftime(TIME_FORMAT)
        if self.rule:
            return self._render_rule(when)
        if self.kind == ALERT:
            return f"High traffic generated an alert - hits = {self.hits}, triggered at {when}"
        lasted = self.duration
        lasted_text = f", after {format_duration(lasted.total_seconds())} of high traffic" if lasted is not None else ""
        return (
            f"Traffic back to normal - hits = {self.hits}, recovered at {when}{lasted_text}"
        )

    def _render_rule(self, when: str) -> str:
        """The message of a rule's event: what, how much, when (and, recovering, for how long)."""
        metric, value, over = self.metric, self.value, format_duration(self.window)
        where = f" on {self.section}" if self.section else ""
        if metric == "rate":
            subject = (f"High traffic from {self.key}" if self.by == "client" else f"High traffic on {self.key}"
                       if self.by == "section" else f"High traffic{where}")
            figure = f"hits = {self.hits}"
        elif metric in ("errors", "server_errors"):
            subject = f"High {'server ' if metric == 'server_errors' else ''}error rate{where}"
            label = "5xx" if metric == "server_errors" else "4xx/5xx"
            figure = f"{label} = {value:.1%} of {self.hits} hits" if value is not None else f"no evidence ({self.hits} hits)"
        elif metric.startswith("latency_"):
            subject = f"High latency{where}"
            figure = (f"{metric[len('latency_'):]} = {value:.3g}s over {over}" if value is not None
                      else f"no evidence ({self.hits} hits)")
        else:
            subject = f"High bandwidth{where}"
            figure = f"{value:.4g} bytes/s over {over}" if value is not None else "0 bytes/s"
        label = f"{self.name}: {self.rule}" if self.name else self.rule
        if self.kind == ALERT:
            return f"{subject} generated an alert - {figure}, triggered at {when} ({label})"
        lasted = self.duration
        lasted_text = f", after {format_duration(lasted.total_seconds())}" if lasted is not None else ""
        return f"{subject} back to normal - {figure}, recovered at {when}{lasted_text} ({label})"

    def __str__(self) -> str:
        return self.message


def _decimal_threshold(threshold: Union[float, int, str, Decimal]) -> Decimal:
    if isinstance(threshold, float):
        threshold = repr(threshold)
    try:
        value = Decimal(threshold)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"threshold must be a number, not {threshold!r}") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"threshold must be a positive number of requests per second, not {threshold}")
    return value


def _whole_seconds(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        qualifier = "positive" if minimum > 0 else "non-negative"
        raise ValueError(f"{name} must be a {qualifier} whole number of seconds, not {value!r}")
    return value


class Alerter:
    """Raises an alert when the average traffic over ``window`` seconds exceeds ``threshold``.

    :param threshold: average requests per second that must be exceeded (float, int, str or
        Decimal; compared exactly in decimal).
    :param window: length of the averaging window, in whole seconds.
    :param lateness: whole seconds of log time a second waits, after the clock reached it, before
        it is evaluated (hits that far behind the clock still count).
    :param tz: timezone for event times, fixed; by default :attr:`tz` follows the offset of the
        latest observed datetime or ``tz`` argument (UTC until one is seen).
    :param max_history: how many events :attr:`history` keeps.
    :param recover_below: an alert recovers when the average is at or below this (hysteresis;
        default the threshold), compared exactly like the threshold.
    """

    def __init__(
        self,
        threshold: Union[float, int, str, Decimal] = 10.0,
        window: int = 120,
        *,
        lateness: int = 0,
        tz: Optional[tzinfo] = None,
        max_history: int = MAX_HISTORY,
        recover_below: Union[float, int, str, Decimal, None] = None,
    ) -> None:
        self.window: int = _whole_seconds("window", window, 1)
        self.lateness: int = _whole_seconds("lateness", lateness, 0)
        if isinstance(max_history, bool) or not isinstance(max_history, int) or max_history < 1:
            raise ValueError(f"max_history must be a positive int, not {max_history!r}")
        exact = _decimal_threshold(threshold)
        self.threshold: float = float(exact)
        self._limit: int = math.floor(exact * window)
        recover = exact if recover_below is None else _decimal_threshold(recover_below)
        if recover > exact:
            raise ValueError(f"recover_below ({recover}) must not be above the threshold ({exact})")
        self.recover_below: float = float(recover)
        self._recover_limit: int = math.floor(recover * window)
        self._fixed_tz = tz
        self.tz: tzinfo = tz or timezone.utc
        """Timezone of event times."""
        self._max_history = max_history
        self._slots = window + self.lateness
        self._buckets: List[int] = [0] * self._slots  # hits of [evaluated - window + 1, evaluated + lateness]
        self._sum = 0  # hits of the window [evaluated - window + 1, evaluated]
        self._evaluated_hits = 0
        self._evaluated: Optional[int] = None  # the last second evaluated
        self._clock: Optional[float] = None
        self._alert_start: Optional[datetime] = None
        self._peak = 0
        self.alerting: bool = False
        self.history: Tuple[AlertEvent, ...] = ()
        self.dropped_events: int = 0
        """Events older than the last ``max_history``, no longer in :attr:`history`."""
        self.late_hits: int = 0

    # -- public API -------------------------------------------------------------------------

    @property
    def clock(self) -> Optional[float]:
        """The alerter's current time (epoch seconds), or None before anything was observed."""
        return self._clock

    @property
    def evaluated(self) -> Optional[int]:
        """The last second evaluated (the clock's second minus the lateness), None before any time."""
        return self._evaluated

    @property
    def peak_hits(self) -> Optional[int]:
        """Highest window total of the ongoing alert so far, None when not alerting."""
        return self._peak if self.alerting else None

    @property
    def window_hits(self) -> int:
        """Hits of the window evaluated last, ``[T - window, T - 1]`` for the last second ``T`` evaluated."""
        return self._evaluated_hits

    @property
    def average(self) -> float:
        """``window_hits`` divided by the window: the figure last compared with the threshold."""
        return self._evaluated_hits / self.window

    def per_second(self) -> List[int]:
        """Hits of each second of the window ending at the last evaluated second, oldest first."""
        if self._evaluated is None:
            return [0] * self.window
        start = self._evaluated - self.window + 1
        return [self._buckets[(start + i) % self._slots] for i in range(self.window)]

    def observe(self, timestamp: Timestamp, count: int = 1, tz: Optional[tzinfo] = None) -> List[AlertEvent]:
        """Record ``count`` hits at a log time; return the events the move of the clock raised.

        ``tz`` (or a datetime's own offset) becomes the zone of event times, unless fixed.
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be a non-negative int, not {count!r}")
        moment = self._epoch(timestamp, tz)
        events: List[AlertEvent] = []
        self._move_to(moment, events)
        second = math.floor(moment)
        evaluated = self._evaluated
        assert evaluated is not None  # _move_to set it
        if second <= evaluated - self.window:
            self.late_hits += count
        else:
            self._buckets[second % self._slots] += count
            if second <= evaluated:
                self._sum += count
        return events

    def advance(self, now: Timestamp, tz: Optional[tzinfo] = None) -> List[AlertEvent]:
        """Move the clock to ``now`` without hits (trusted time, e.g. the wall clock).

        This is how an alert recovers when traffic stops entirely.
        """
        events: List[AlertEvent] = []
        self._move_to(self._epoch(now, tz), events)
        return events

    # -- internals --------------------------------------------------------------------------

    def _epoch(self, timestamp: Timestamp, tz: Optional[tzinfo]) -> float:
        if isinstance(timestamp, datetime):
            if timestamp.tzinfo is None or timestamp.utcoffset() is None:
                raise ValueError("timestamps must be timezone-aware datetimes or epoch seconds")
            tz = tz or timestamp.tzinfo
            moment = timestamp.timestamp()
        elif isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)) or not math.isfinite(timestamp):
            raise ValueError(f"not a timestamp: {timestamp!r}")
        else:
            moment = float(timestamp)
        if tz is not None and self._fixed_tz is None:
            self.tz = tz
        return moment

    def _move_to(self, moment: float, events: List[AlertEvent]) -> None:
        """Advance the clock to ``moment``, evaluating every whole second it makes due."""
        if self._clock is None:
            self._clock = moment
            self._evaluated = math.floor(moment) - self.lateness
            return
        if moment <= self._clock:
            return
        self._clock = moment
        target = math.floor(moment) - self.lateness
        second = self._evaluated
        assert second is not None
        if target <= second:
            return
        last_useful = min(target, second + self._slots + 1)
        buckets, window, slots = self._buckets, self.window, self._slots
        while second < last_useful:
            second += 1
            self._evaluate(second, events)
            old = (second - window) % slots  # the slot of ``second`` itself when lateness is 0
            self._sum -= buckets[old]
            buckets[old] = 0
            self._sum += buckets[second % slots]
        if target > last_useful:
            self._evaluated_hits = 0
            self._sum = 0
            for index in range(slots):
                buckets[index] = 0
        self._evaluated = target

    def _evaluate(self, second: int, events: List[AlertEvent]) -> None:
        hits = self._evaluated_hits = self._sum
        if self.alerting:
            if hits > self._peak:
                self._peak = hits
            if hits <= self._recover_limit:
                self._emit(RECOVER, second, hits, events)
        elif hits > self._limit:
            self._emit(ALERT, second, hits, events)

    def _emit(self, kind: str, second: int, hits: int, events: List[AlertEvent]) -> None:
        when = datetime.fromtimestamp(second, self.tz)
        if kind == ALERT:
            event = AlertEvent(kind, hits, hits / self.window, when, self.threshold, self.window)
            self.alerting = True
            self._alert_start = when
            self._peak = hits
        else:
            event = AlertEvent(
                kind, hits, hits / self.window, when, self.threshold, self.window,
                started=self._alert_start, peak_hits=self._peak,
            )
            self.alerting = False
            self._alert_start = None
        events.append(event)
        history = self.history + (event,)
        if len(history) > self._max_history:
            self.dropped_events += len(history) - self._max_history
            history = history[-self._max_history:]
        self.history = history
