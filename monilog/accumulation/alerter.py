"""The high-traffic alert rule: one file, so changing the rule means changing this file only.

An :class:`Alerter` is driven by plain calls carrying log times; it knows nothing about files,
threads or the wall clock.

The rule
--------
* The *clock* is the largest time observed (:meth:`Alerter.observe`) or advanced to
  (:meth:`Alerter.advance`). It never moves backwards.
* Each time the clock crosses a whole second ``T`` the alerter evaluates the last ``window``
  whole seconds, ``[T - window, T - 1]``: ``hits`` is their total and ``average = hits / window``
  (always the full window, also during the first minutes of a run).
* ``average > threshold`` while not alerting raises an ``alert`` event at ``T``;
  ``average <= threshold`` while alerting raises a ``recover`` event at ``T``. "Exceeds" is
  strict: a window exactly at the threshold does not alert.
* The comparison is exact: the threshold is taken in decimal as the user wrote it (a float
  goes through its shortest ``repr``, so ``0.29`` means 29/100) and compared as the integer
  test ``hits > floor(threshold * window)``. Binary floating point gets such edges wrong.
* Every crossed second is evaluated, so a crossing is caught at its exact second even when
  lines are sparse. A jump longer than the window costs O(window): once the window is empty
  no later evaluation can change the state.

Late and absurd timestamps
--------------------------
* A hit behind the clock but inside the current window (``second > clock - window``) is added
  to its second and counts in every later evaluation; evaluations already made are not
  revisited. An older hit is counted in :attr:`Alerter.late_hits` and ignored.
* A hit more than ``max_jump`` seconds ahead of the clock (and the very first hit) is held
  back as *pending* instead of moving the clock at once. The next observation decides: if it
  lies no more than one window before the pending time (for the very first hit, also no more
  than an hour after it), the jump is confirmed (the clock moves there, evaluating the
  seconds crossed, and the pending hits count); otherwise the pending hits were a lone outlier,
  are counted in :attr:`Alerter.outlier_hits` and dropped. A trusted
  :meth:`Alerter.advance` confirms a pending time it reaches within ``max_jump`` and drops one
  further ahead. So one line stamped 2099 cannot drag the clock away and silence real alerts,
  while a genuine gap in a replayed log costs nothing but a one-line delay. A line stamped
  1970 is simply a late hit outside the window (or, as the very first line, an outlier).

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
RECOVER = "recover"

FIRST_HIT_CONFIRMATION = 3600.0
"""The second hit confirms the time of the very first one if it comes at most this long after it."""

TIME_FORMAT = "%Y-%m-%d %H:%M:%S %z"
"""How event times are written in messages: date, time and UTC offset."""


def format_duration(seconds: float) -> str:
    """Render a duration as ``1h02m03s``, ``2m05s`` or ``42s``."""
    seconds = int(round(seconds))
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
    message: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", self._render())

    @property
    def duration(self) -> Optional[timedelta]:
        """How long the alert lasted (recoveries only)."""
        return None if self.started is None else self.time - self.started

    def _render(self) -> str:
        when = self.time.strftime(TIME_FORMAT)
        if self.kind == ALERT:
            return f"High traffic generated an alert - hits = {self.hits}, triggered at {when}"
        lasted = self.duration
        lasted_text = f", after {format_duration(lasted.total_seconds())} of high traffic" if lasted is not None else ""
        return (
            f"Traffic back to normal - hits = {self.hits}, recovered at {when}{lasted_text}"
        )

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


class Alerter:
    """Raises an alert when the average traffic over ``window`` seconds exceeds ``threshold``.

    :param threshold: average requests per second that must be exceeded (float, int, str or
        Decimal; compared exactly in decimal).
    :param window: length of the averaging window, in whole seconds.
    :param max_jump: how far ahead of the clock (seconds) a single hit may move it without
        confirmation by the next observation.
    :param tz: timezone for event times, fixed; by default :attr:`tz` follows the offset of the
        latest observed datetime (UTC until one is seen).
    """

    def __init__(
        self,
        threshold: Union[float, int, str, Decimal] = 10.0,
        window: int = 120,
        *,
        max_jump: float = 60.0,
        tz: Optional[tzinfo] = None,
    ) -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window <= 0:
            raise ValueError(f"window must be a positive whole number of seconds, not {window!r}")
        if max_jump <= 0:
            raise ValueError(f"max_jump must be positive, not {max_jump!r}")
        exact = _decimal_threshold(threshold)
        self.threshold: float = float(exact)
        self.window: int = window
        self.max_jump: float = max_jump
        self._limit: int = math.floor(exact * window)
        self._fixed_tz = tz
        self.tz: tzinfo = tz or timezone.utc
        """Timezone of event times. Callers observing epoch seconds may set it to the log's offset."""
        self._buckets: List[int] = [0] * window
        self._sum = 0  # hits of the seconds kept, [clock second - window + 1, clock second]
        self._evaluated = 0
        self._second: Optional[int] = None  # whole second the clock is in
        self._clock: Optional[float] = None
        self._pending: Optional[Tuple[float, int]] = None
        self._alert_start: Optional[datetime] = None
        self._peak = 0
        self.alerting: bool = False
        self.history: Tuple[AlertEvent, ...] = ()
        self.late_hits: int = 0
        self.outlier_hits: int = 0

    # -- public API -------------------------------------------------------------------------

    @property
    def clock(self) -> Optional[float]:
        """The alerter's current time (epoch seconds), or None before anything was observed."""
        return self._clock

    @property
    def pending(self) -> Optional[float]:
        """Time of the observation held back until the next one confirms or refutes it, if any."""
        return None if self._pending is None else self._pending[0]

    @property
    def peak_hits(self) -> Optional[int]:
        """Highest window total of the ongoing alert so far, None when not alerting."""
        return self._peak if self.alerting else None

    @property
    def window_hits(self) -> int:
        """Hits of the window evaluated last, ``[T - window, T - 1]`` for the last second ``T`` crossed."""
        return self._evaluated

    @property
    def average(self) -> float:
        """``window_hits`` divided by the window: the figure last compared with the threshold."""
        return self._evaluated / self.window

    def per_second(self) -> List[int]:
        """Hits of each second of the current window, oldest first (for sparklines)."""
        if self._second is None:
            return [0] * self.window
        start = self._second + 1
        return [self._buckets[(start + i) % self.window] for i in range(self.window)]

    def observe(self, timestamp: Timestamp, count: int = 1) -> List[AlertEvent]:
        """Record ``count`` hits at a log time; return the events the move of the clock raised."""
        if count < 0:
            raise ValueError(f"count must not be negative, not {count}")
        moment = self._epoch(timestamp)
        events: List[AlertEvent] = []
        pending = self._pending
        if pending is not None:
            self._pending = None
            behind = pending[0] - moment
            if behind <= self.window and (self._clock is not None or -behind <= FIRST_HIT_CONFIRMATION):
                self._move_to(pending[0], events)
                self._add(pending[0], pending[1])
            else:
                self.outlier_hits += pending[1]
        if self._clock is None or moment > self._clock + self.max_jump:
            self._pending = (moment, count)
            return events
        self._move_to(moment, events)
        self._add(moment, count)
        return events

    def advance(self, now: Timestamp) -> List[AlertEvent]:
        """Move the clock to ``now`` without hits (trusted time, e.g. the wall clock).

        This is how an alert recovers when traffic stops entirely.
        """
        moment = self._epoch(now)
        events: List[AlertEvent] = []
        pending = self._pending
        if pending is not None:
            self._pending = None
            if pending[0] <= moment + self.max_jump:
                self._move_to(pending[0], events)
                self._add(pending[0], pending[1])
            else:
                self.outlier_hits += pending[1]
        self._move_to(moment, events)
        return events

    # -- internals --------------------------------------------------------------------------

    def _epoch(self, timestamp: Timestamp) -> float:
        if isinstance(timestamp, datetime):
            if timestamp.tzinfo is None or timestamp.utcoffset() is None:
                raise ValueError("timestamps must be timezone-aware datetimes or epoch seconds")
            if self._fixed_tz is None:
                self.tz = timestamp.tzinfo
            return timestamp.timestamp()
        if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)) or not math.isfinite(timestamp):
            raise ValueError(f"not a timestamp: {timestamp!r}")
        return float(timestamp)

    def _add(self, moment: float, count: int) -> None:
        second = math.floor(moment)
        current = self._second
        if current is not None and second <= current - self.window:
            self.late_hits += count
            return
        self._buckets[second % self.window] += count
        self._sum += count

    def _move_to(self, moment: float, events: List[AlertEvent]) -> None:
        """Advance the clock to ``moment``, evaluating every whole second crossed."""
        if self._clock is None:
            self._clock = moment
            self._second = math.floor(moment)
            return
        if moment <= self._clock:
            return
        self._clock = moment
        target = math.floor(moment)
        second = self._second
        assert second is not None
        last_useful = min(target, second + self.window + 1)
        buckets, window = self._buckets, self.window
        while second < last_useful:
            second += 1
            self._evaluate(second, events)
            slot = second % window
            self._sum -= buckets[slot]
            buckets[slot] = 0
        if target > last_useful:
            self._evaluated = 0
        self._second = target

    def _evaluate(self, second: int, events: List[AlertEvent]) -> None:
        hits = self._evaluated = self._sum
        if self.alerting:
            if hits > self._peak:
                self._peak = hits
            if hits <= self._limit:
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
        self.history = self.history + (event,)
