"""The clock rules: which log times move the monitor's clock, in one module.

A log line carries the time its server wrote, and a monitor's clock is log time: the newest time
accepted so far. Not every time deserves to move it: a line stamped 2099 (a broken backend, a
forged line) would drag the clock a century ahead and silence every alert. A :class:`LogClock`
decides, for each run of lines of one second, what their time is worth, and says so with a
:class:`Decision`; the caller (:class:`~monilog.monitor.Monitor`) counts the lines accordingly.
Like the rest of the core it reads no clock of its own: live callers pass the host time.

The rules
---------
* ``ACCEPTED``: the time is trusted and moves the clock (if newer).
* ``HELD``: a line more than ``max_jump`` seconds ahead of the clock, or the very first line, is
  held back instead of moving the clock at once. The next line of another decision decides:
  ``CONFIRMED`` if it lies no more than one ``window`` before the held time (for the very first
  line, also no more than :data:`FIRST_LINE_CONFIRMATION` after it), else ``OUTLIER`` (a lone
  absurd line: counted, but its time is ignored). A second line of the same second confirms at
  once, so only a lone line is ever held. :meth:`LogClock.advance` (trusted time: the host clock,
  the end of a replay) confirms a held time it reaches within ``max_jump`` and drops one further
  ahead. So one line stamped 2099 cannot derail the clock, while a genuine gap in a replayed log
  costs nothing but a one-line delay. A line stamped 1970 is simply behind the clock.
* ``REFUSED`` (live only, once the log/host offset is settled, see below): a line stamped more
  than ``max_jump`` beyond the expected log time (host time plus the learnt offset) is kept away
  from the clock, even in bursts, unless every line is so for :data:`CLOCK_STEP_SECONDS` of host
  time: then the log's clock was set forward, the offset is learnt anew and the clock follows.
* ``STEPPED_BACK``: the log's clock was set backwards (a backend's time corrected by an hour):
  the clock re-bases to this run's second (:attr:`LogClock.latest` goes back to it) and the
  caller starts a new timeline segment there; the run itself is then ``ACCEPTED``. Following
  live, that is when every line is stamped at least :data:`CLOCK_STEP_SECONDS` behind the
  expected log time for :data:`CLOCK_STEP_SECONDS` of host time counted from a moment every
  input had been read to its end (:meth:`LogClock.caught_up`): a backlog read after a stall is
  behind the host only because it is old, and never re-bases. Meanwhile, as long as such lines
  keep coming, the expected log time stays where it was when they began
  (:meth:`LogClock.expected`), so the alert window does not empty (no false recovery) while the
  rule decides. In a replay, log time is the only
  clock: when every line is more than ``window`` behind the clock (too old for any evaluation
  still to come) while the times of those lines span :data:`CLOCK_STEP_SECONDS`, the file's
  clock stepped back (a restarted or corrected backend, or rotations concatenated newest
  first), and its lines are followed in their own time rather than counted late until the
  clock catches up. A lone old line, or old lines mixed with current ones, changes nothing.
* The offset between log and host time is learnt from every live batch that moves the clock
  (:meth:`LogClock.learn`); before it is known, a lone held first line within
  :data:`FIRST_LINE_TRUST` of the host time is trusted without waiting for a second line. It is
  *settled* when learnt from lines read as they were written (soon after a read had reached the
  end of their input). A backlog (a file read from its start, a stream's history, what was
  written while the process was stopped or behind), whose last line may be hours old, tells only
  a lower bound: it raises a settled offset but never lowers it, so a backlog's lines stamped far
  ahead are still refused. Before any settled offset, lines beyond the lower bound are not
  refused but ruled in log time, as in a replay (a lone line far ahead is still held), and the
  host clock confirms a held line it reaches but refutes none (:meth:`LogClock.advance`), until
  lines read as they came settle it. So a quiet log followed from its start, a backlog of hours
  read 4 MiB at a time, or a quiet log read after a stall, loses no line.
"""

from __future__ import annotations

from enum import Enum
from typing import List, NamedTuple, Optional

FIRST_LINE_CONFIRMATION = 3600.0
"""The second line confirms the time of the very first one if it comes at most this long after it."""

CLOCK_STEP_SECONDS = 30.0
"""Following live, lines stamped beyond the expected log time (host clock + learnt offset +
``max_jump``) are refused, unless every line for this long is so: then the log's clock was
stepped forward and is followed. Lines stamped this far behind the expected log time for this
long (of host time, or in a replay of their own time) mean it was stepped back."""

STEP_HOLD_SECONDS = 5.0
"""While lines all stamped far behind the expected log time keep arriving, at least one this
often (host time), the expected log time waits for the step-back rule to decide."""

FIRST_LINE_TRUST = 86_400.0
"""Following live, a lone first line within this many seconds of the host clock is accepted
without waiting for a second line to confirm its time."""

MAX_JUMP = 60.0
"""How far ahead of the clock (seconds) a line may move it without confirmation by the next one."""


class Decision(Enum):
    """What a run of lines' time is worth; see the module documentation."""

    ACCEPTED = "accepted"
    HELD = "held"
    CONFIRMED = "confirmed"
    OUTLIER = "outlier"
    REFUSED = "refused"
    STEPPED_BACK = "stepped back"


class Ruling(NamedTuple):
    """A decision on ``lines`` lines stamped ``second``."""

    decision: Decision
    second: int
    lines: int


class LogClock:
    """Decides which log times move the clock; see the module documentation.

    :param window: the alert window: a held time is confirmed by a line at most this far behind it.
    :param max_jump: how far ahead of the clock a line may move it without confirmation.
    """

    def __init__(self, window: int, max_jump: float = MAX_JUMP) -> None:
        if not max_jump > 0:
            raise ValueError(f"max_jump must be positive, not {max_jump!r}")
        self.window = window
        self.max_jump = max_jump
        self.latest: Optional[int] = None
        """The newest accepted second, None before any."""
        self.held: Optional[int] = None
        """The second of the line held back, if any."""
        self.offset: Optional[float] = None
        """Log time minus host time, learnt from live lines; None until known."""
        self.settled = False
        """Whether :attr:`offset` was learnt from lines read as they were written (see the module
        documentation), not from a backlog."""
        self.outliers = 0
        """Lines whose time was refuted, held and then dropped."""
        self.refused = 0
        """Live lines refused for being stamped too far beyond the expected log time."""
        self.step_back = 0.0
        """How far the log's clock went back (seconds) at the last ``STEPPED_BACK``."""
        self._ahead_since: Optional[float] = None
        self._behind_since: Optional[float] = None
        """Live: host time of the first of the runs all behind the expected log time."""
        self._behind_checked: Optional[float] = None
        """Live: the first host time after ``_behind_since`` at which every input was read."""
        self._behind_seen = 0.0
        """Live: host time of the last of those runs."""
        self._behind_first: Optional[int] = None
        """Replay: the second of the first of the runs all far behind the clock."""
        self._behind_last: Optional[int] = None
        """Replay: the second of the last of them."""

    def admit(self, second: int, count: int, host: Optional[float] = None) -> List[Ruling]:
        """Decide on ``count`` lines stamped ``second``, arrived live at ``host`` time (None: replay).

        Returns the rulings in order: first the fate of a line held before, if these lines decide
        it, then these lines' own (a held line and, when more came in the same second, its
        confirmation by them).
        """
        rulings: List[Ruling] = []
        if host is not None and self.offset is not None and self.settled and second > host + self.offset + self.max_jump:
            if self._ahead_since is None:
                self._ahead_since = host
            if host - self._ahead_since < CLOCK_STEP_SECONDS:
                self.refused += count
                return [Ruling(Decision.REFUSED, second, count)]
            self.offset = second - host  # the log's clock was set forward: follow it
            self._ahead_since = None
            self._resolve_held(second, rulings, trusted=True)
            self._accept(second)
        else:
            self._ahead_since = None
        if self._stepped_back(second, host):
            assert self.latest is not None  # a step needs a clock to step from
            if host is not None:
                assert self.offset is not None
                self.step_back = host + self.offset - second
                self.offset = second - host
            else:
                assert self._behind_first is not None
                self.step_back = self.latest - self._behind_first
            self._behind_since = self._behind_checked = self._behind_first = self._behind_last = None
            self.latest = second
            self._resolve_held(second, rulings, trusted=True)
            rulings.append(Ruling(Decision.STEPPED_BACK, second, 0))
        if self.held is not None:
            self._resolve_held(second, rulings, trusted=False)
        if self.latest is None or second > self.latest + self.max_jump:
            self.held = second
            rulings.append(Ruling(Decision.HELD, second, 1))
            count -= 1
            if not count:
                return rulings
            self.held = None
            rulings.append(Ruling(Decision.CONFIRMED, second, 1))
            self._accept(second)
        rulings.append(Ruling(Decision.ACCEPTED, second, count))
        self._accept(second)
        return rulings

    def caught_up(self, host: float) -> None:
        """Every live input had been read to its end at ``host`` time: lines arriving after it
        are not a backlog (see ``STEPPED_BACK``)."""
        if self._behind_since is not None and self._behind_checked is None and host >= self._behind_since:
            self._behind_checked = host

    def advance(self, moment: float, refute: bool = True) -> List[Ruling]:
        """Trusted time reached ``moment``: decide on a held line (confirmed when ``moment`` is at
        most ``max_jump`` before it, else an outlier). ``refute=False``: ``moment`` is only a lower
        bound of the log's time (an offset not settled): a line further ahead stays held."""
        rulings: List[Ruling] = []
        if refute or (self.held is not None and self.held <= moment + self.max_jump):
            self._resolve_held(moment, rulings, trusted=True)
        return rulings

    def release(self) -> List[Ruling]:
        """The input ended with a line still held: nothing came to refute it, so it is confirmed."""
        held = self.held
        return [] if held is None else self.advance(held)

    def learn(self, host: float, moved: bool, backlog: bool = False) -> None:
        """Live lines arrived at ``host`` time; ``moved`` says whether they moved the clock, which
        then tells the offset between the log's clock and the host's: settled by lines read as
        they came; from a ``backlog``, only a lower bound, which raises a settled offset but
        never lowers it (see the module documentation)."""
        if not moved or self.latest is None:
            return
        offset = self.latest - host
        if not backlog:
            self.offset, self.settled = offset, True
        elif not self.settled or self.offset is None or offset > self.offset:
            self.offset = offset

    def expected(self, host: float) -> Optional[float]:
        """The log time it is at ``host`` time, as far as is known (None before the offset is).

        Before the offset is learnt, a held first line near the host time is trusted. While every
        line arrives far behind it (the log's clock may have stepped back), one at least every
        :data:`STEP_HOLD_SECONDS`, it stays where it was when they began: the alert window does
        not empty while the rules decide (and a lone stale line before a silence holds nothing).
        """
        if self.offset is None:
            held = self.held
            if held is None or abs(held - host) > FIRST_LINE_TRUST:
                return None
            self.offset = held - host
        if self._behind_since is not None and host - self._behind_seen <= STEP_HOLD_SECONDS:
            host = min(host, self._behind_since)
        return host + self.offset

    def _stepped_back(self, second: int, host: Optional[float]) -> bool:
        """Whether this run, with those before it, says the log's clock was set backwards."""
        if host is not None:
            if self.offset is None or self.latest is None or second > host + self.offset - CLOCK_STEP_SECONDS:
                self._behind_since = self._behind_checked = None
                return False
            if self._behind_since is None:
                self._behind_since = host
            self._behind_seen = host
            checked = self._behind_checked
            return checked is not None and host - checked >= CLOCK_STEP_SECONDS
        first, last = self._behind_first, self._behind_last
        if self.latest is None or second >= self.latest - self.window:
            self._behind_first = self._behind_last = None
            return False
        self._behind_last = second
        if first is None or last is None or not last - self.max_jump <= second <= last + self.max_jump:
            self._behind_first = second  # the old lines' own time must run on, without jumps
            return False
        return second - first >= CLOCK_STEP_SECONDS

    def _accept(self, second: int) -> None:
        if self.latest is None or second > self.latest:
            self.latest = second

    def _resolve_held(self, moment: float, rulings: List[Ruling], trusted: bool) -> None:
        held = self.held
        if held is None:
            return
        if trusted:
            confirmed = held <= moment + self.max_jump
        else:
            behind = held - moment
            confirmed = behind <= self.window and (self.latest is not None or -behind <= FIRST_LINE_CONFIRMATION)
        self.held = None
        if confirmed:
            rulings.append(Ruling(Decision.CONFIRMED, held, 1))
            self._accept(held)
        else:
            self.outliers += 1
            rulings.append(Ruling(Decision.OUTLIER, held, 1))
