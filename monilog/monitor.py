"""The one engine: lines → block parser → Batches → :meth:`Monitor.apply` → Statistics, Alerter → sinks.

A :class:`Monitor` is what the ``monitoring`` command runs, and what other Python code can drive
the same way: hand it lines (:meth:`Monitor.feed`), records (:meth:`Monitor.add_records`) or
batches aggregated elsewhere (:meth:`Monitor.apply`), move its clock (:meth:`Monitor.tick`), and
end it (:meth:`Monitor.finish`). It owns no thread and reads no file: :mod:`monilog.run` connects
it to the watcher (following live: each batch of lines the watcher delivers) and
:mod:`monilog.replayer` to files (chunks aggregated in worker processes). Both go through the same
steps; only where the lines come from differs::

    lines ──parse_block──▶ columns ──aggregate──▶ Batch ──apply──▶ periods (Statistics) + Alerter ──▶ sinks
                 (parsing.block)       (accumulation.aggregate)      (this module: the timeline)

The apply step
--------------
For each run of a segment (records of one second) the clock rules
(:mod:`monilog.accumulation.clock`) rule on the run's time; the timeline then moves the alert
clock (:class:`~monilog.accumulation.alerter.Alerter`), reporting each period whose end it
passes, and counts the records: in their own period, or, when that period was already reported
or their time was refused, in the oldest period not yet reported (and in its ``late`` figure).
A segment whose runs all count alike is counted at once from its counters; otherwise each run
is counted on its own (:meth:`~monilog.accumulation.aggregate.Batch.counts`). The result is the
same as counting line by line, for any batch boundaries.

Clock and periods
-----------------
* Time is log time. The monitor's clock is the alerter's clock: the newest accepted log time.
* Periods are aligned to the clock: with a 10 s period, ``[..:00, ..:10)``, ``[..:10, ..:20)``...
  A period is reported when the clock reaches its end plus the lateness; periods without traffic
  are reported too, with zero hits, so a live run keeps reporting through silence. A silence
  longer than :data:`SILENCE_FOLD_SECONDS` (a gap in a replayed log, a suspended host) is one
  report with zero hits spanning all of it.
* Lateness (``lateness=L``, 0 by default): lines may arrive up to ``L`` seconds behind the newest
  time seen. A second is evaluated by the alert rule, and a period reported, ``L`` seconds of
  log time after the clock reached it, so each such line counts in its own second and period.
  If every line is at most ``L`` seconds behind the newest line before it, reports and alerts
  are exactly those of the same lines sorted by time with lateness 0; alerts come ``L`` seconds
  later (their time is still the second they happened).
* Every parsed line is counted in exactly one report. A line whose period was already reported,
  or whose time the clock rules refused, counts in the oldest period not yet reported and in its
  ``late`` figure. At :meth:`Monitor.finish` the periods in progress are reported too, so the sum
  of all reports' hits equals the lines parsed.
* Following live files, :meth:`Monitor.tick` also moves the clock with the host clock (corrected
  by the offset the clock rules learnt) while no line arrives, so reports keep coming and an
  alert recovers when traffic stops entirely. Before the first line, reports follow the host
  clock; when the first line arrives the periods re-align to the log's clock (never reporting a
  period twice when the log is just behind).
* When the clock rules say the log's clock stepped back (``STEPPED_BACK``), the timeline starts
  a new segment at the new time: the periods in progress are reported, periods continue from
  the new time (so their times repeat those of the hour before a one-hour step), a notice says
  by how much, and the alert window is carried over to end just before the new time: the last
  ``window`` seconds of traffic happened in the last ``window`` seconds of the host's time, so
  an alert in progress goes on (one alert per episode, no false recovery) and the window
  follows the log's new time at once. The run's figures add the segments' durations
  (:meth:`~monilog.accumulation.statistics.StatsSnapshot.followed_by`).

Outputs: a sink that raises is turned off (reported on stderr, when it can be, and to the other
sinks) and the others go on, so a closed pipe on standard output cannot stop the webhooks or the
run log.

Skipped lines are counted by reason in the next report. Access is serialised by a lock: the
watcher thread may feed lines while the main thread ticks and reads :meth:`Monitor.view`.
"""

from __future__ import annotations

import copy
import gc
import heapq
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone, tzinfo
from functools import partial
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

from monilog.accumulation.aggregate import Batch, Segment, aggregate, span_of, split_last_span
from monilog.accumulation.alerter import TIME_FORMAT, Alerter, AlertEvent, format_duration
from monilog.accumulation.clock import Decision, LogClock, Ruling
from monilog.accumulation.counts import Counts
from monilog.accumulation.overflow import MIN_CUT_KEYS
from monilog.accumulation.report import AlertState, LiveView, PeriodReport, RunSummary
from monilog.accumulation.rules import RuleSet, RuleSpec
from monilog.accumulation.statistics import DEFAULT_MAX_KEYS, Statistics, StatsSnapshot, merged
from monilog.outputs.sink import Sink
from monilog.parsing.block import parse_block, parse_records
from monilog.parsing.columns import LineBlock, ParsedBlock, joined
from monilog.parsing.parser import DEFAULT_READING, LogParser
from monilog.parsing.reading import Reading
from monilog.parsing.record import LogRecord
from monilog.presentation.sanitize import clean

Line = Union[str, bytes]

CURRENT_RATE_SECONDS = 10
"""How many complete seconds the live "current req/s" figure averages."""

SILENCE_FOLD_SECONDS = 86_400
"""A silence longer than this (a replayed log's gap, a suspended host) is reported as one
report with zero hits instead of one empty report per period."""

TOTAL_EVERY = 8
"""Reported periods merged into the run's totals at once, capped once (see
:func:`~monilog.accumulation.statistics.merged`): capping the totals' keys costs a sort of them,
which a log of random paths would otherwise pay at every period."""

FORMAT_CHECK_LINES = 100
"""Malformed lines with no record before them after which a source is said not to match its format."""

_OWN, _LATE, _HELD, _STEP = "own", "late", "held", "step"
"""Fates of a run's records: counted in their own period, late, held back by the clock rules, or
in their own period of a timeline that starts anew with them (never counted with the runs before)."""


def _fate(rulings: Sequence[Ruling]) -> str:
    """The fate of the run the rulings are about (they end with its own)."""
    last = rulings[-1].decision
    if any(ruling.decision is Decision.STEPPED_BACK for ruling in rulings):
        return _STEP
    return _HELD if last is Decision.HELD else _LATE if last is Decision.REFUSED else _OWN


@contextmanager
def without_cyclic_gc() -> Iterator[None]:
    """The cyclic collector off while the block runs (and on again after the last such block of
    any thread ends, if it was on before the first began).

    Parsing and counting make no reference cycles: the collector's passes over a block's tuples
    cost a tenth of following a live file, and its passes over the tens of thousands of keys a
    hostile period holds a quarter of that period's time. It passes over what is still alive
    when the block ends: end it when the block's columns are gone (see :meth:`Monitor.feed`)."""
    global _gc_blocks, _gc_was_on
    with _gc_lock:
        if not _gc_blocks:
            _gc_was_on = gc.isenabled()
            gc.disable()
        _gc_blocks += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_blocks -= 1
            if not _gc_blocks and _gc_was_on:
                gc.enable()


_gc_lock = threading.Lock()
_gc_blocks = 0  # blocks of any thread now in without_cyclic_gc
_gc_was_on = False  # whether the collector was on when the first of them began


class Monitor:
    """Accumulates log lines into period reports and alerts, and hands them to sinks.

    :param threshold: alert threshold, average requests per second over ``window``.
    :param window: alert window in whole seconds.
    :param period: report interval in whole seconds.
    :param fmt: log format, one of :data:`monilog.parsing.parser.FORMATS`.
    :param top: how many sections, clients and codes reports list.
    :param max_keys: cap on the keys each statistics dimension tracks per period.
    :param sinks: outputs that receive reports, alert events, notices and the summary.
    :param files: names of the inputs, for display.
    :param history: alert events of earlier runs, shown before this run's.
    :param lateness: seconds lines may arrive behind the newest time seen and still count in
        their own second and period (alerts and reports come that much later).
    :param alerter: the alert rule to use instead of ``Alerter(threshold, window, lateness=lateness)``.
    :param rules: alert rules beside the traffic rule (:mod:`monilog.accumulation.rules`), on the same clock.
    :param reading: filters, real clients and vhost rules (:class:`~monilog.parsing.reading.Reading`);
        filtered records are counted as such, in their period.
    """

    def __init__(
        self,
        threshold: float = 10.0,
        window: int = 120,
        period: int = 10,
        *,
        fmt: str = "auto",
        top: int = 5,
        max_keys: int = DEFAULT_MAX_KEYS,
        sinks: Sequence[Sink] = (),
        files: Sequence[str] = (),
        history: Sequence[AlertEvent] = (),
        lateness: int = 0,
        alerter: Optional[Alerter] = None,
        reading: Reading = DEFAULT_READING,
        rules: Sequence[RuleSpec] = (),
    ) -> None:
        if isinstance(period, bool) or not isinstance(period, int) or period <= 0:
            raise ValueError(f"period must be a positive whole number of seconds, not {period!r}")
        LogParser(fmt)  # refuses an unknown format now rather than at the first line
        self.alerter = alerter if alerter is not None else Alerter(threshold, window, lateness=lateness)
        self._fresh_alerter = copy.deepcopy(self.alerter)  # the rule as given, for a timeline started anew
        # a held line is confirmed by the next line up to a window behind it, or the lateness
        self.clock = LogClock(max(self.alerter.window, self.alerter.lateness))
        self.period = period
        self.fmt = fmt
        self.reading = reading
        self.rules = RuleSet(rules, self.alerter.lateness, max_keys)
        self.top = top
        self.max_keys = max_keys
        self.sinks: List[Sink] = list(sinks)
        self.files: Tuple[str, ...] = tuple(files)
        self.earlier_alerts: Tuple[AlertEvent, ...] = tuple(history)
        self.lines = 0
        self.parsed = 0
        self._lock = threading.RLock()
        self._parsers: Dict[str, LogParser] = {}
        # per source, the last period's records of a block with more behind it, when they arrived and
        # whether they had waited to be read (see feed)
        self._waiting: Dict[str, Tuple[ParsedBlock, Optional[float], bool]] = {}
        self._periods: Dict[int, Statistics] = {}
        self._report_start: Optional[int] = None
        self._start_from_wall = False
        self._held: Optional[Tuple[Counts, tzinfo]] = None  # counters of the line the clock holds
        # late lines before the periods are aligned, and how to count them again (see _count)
        self._orphans: List[Tuple[Counts, tzinfo, Optional[Callable[[], Counts]]]] = []
        self._skipped: Counter[str] = Counter()
        self._total: Optional[StatsSnapshot] = None  # reported periods (since the log's clock last stepped back)
        self._unmerged: List[StatsSnapshot] = []  # reported periods not yet merged into _total
        self._reported: Optional[StatsSnapshot] = None  # _total and _unmerged together, once a view asked
        self._earlier: Optional[StatsSnapshot] = None  # the reported periods before that
        self._last_report: Optional[PeriodReport] = None
        self._tz: tzinfo = timezone.utc
        self._started = time.monotonic()
        self._notices: Counter[str] = Counter()
        self._format_checked: Set[str] = set()  # sources that gave a record, or were warned about
        self._malformed_before: Dict[str, int] = {}

    @property
    def lateness(self) -> int:
        """Seconds of log time a second waits before it is evaluated and its period reported."""
        return self.alerter.lateness

    # -- input ------------------------------------------------------------------------------

    def parser_for(self, source: str) -> LogParser:
        """The parser of one input (its own, since W3C directives and format detection are per file)."""
        parser = self._parsers.get(source)
        if parser is None:
            parser = self._parsers[source] = LogParser(self.fmt, reading=self.reading, source=source)
        return parser

    def batch(self, source: str, block: bytes, span_seconds: Optional[int] = None) -> Batch:
        """Parse and aggregate a block of whole lines of ``source`` (see :meth:`apply`), its
        segments' counters cut after :attr:`cut_keys` keys (a block of random paths then sums
        only the keys its period's statistics may track)."""
        return self._aggregated(source, self._parsed(source, block), span_seconds)

    def _parsed(self, source: str, block: bytes) -> ParsedBlock:
        with without_cyclic_gc():  # a block's columns are thousands of tuples, all short-lived
            return parse_block(block, self.parser_for(source))

    def _aggregated(self, source: str, parsed: ParsedBlock, span_seconds: Optional[int] = None) -> Batch:
        with without_cyclic_gc():
            batch = aggregate(parsed, span_seconds or self.batch_span, self.cut_keys)
        self.check_format(source, batch)
        return batch

    def check_format(self, source: str, batch: Batch) -> None:
        """Say once when the first :data:`FORMAT_CHECK_LINES` malformed lines of ``source`` came
        with no record at all: the format given (``--log-format``, not ``auto``) is most likely not
        the log's."""
        if self.fmt == "auto" or source in self._format_checked:
            return
        if batch.records:
            self._format_checked.add(source)
            return
        malformed = sum(1 for segment in batch.segments for _, reason in segment.skips if reason == "malformed")
        malformed += batch.skipped_after.count("malformed")
        seen = self._malformed_before[source] = self._malformed_before.get(source, 0) + malformed
        if seen >= FORMAT_CHECK_LINES:
            self._format_checked.add(source)
            detected = self.parser_for(source).detected
            self.notice(f"{source}: none of its first {seen} lines is a {detected!r} record: is --log-format right?",
                        kind="format")

    @property
    def batch_span(self) -> int:
        """Seconds a batch's segments may span: the period, or one second when rules need each
        second's counters (errors, sections, clients, durations)."""
        return 1 if self.rules else self.period

    def feed(self, source: str, lines: Iterable[Line], wall_now: Optional[float] = None) -> None:
        """Parse and account a batch of lines from ``source`` (bytes or text, without their
        newlines; a :class:`~monilog.parsing.columns.LineBlock` is parsed as the block it is).

        ``wall_now`` (epoch seconds) says the lines arrived live at that host time: the clock
        rules then learn the offset between the log clock and the host clock from them; from a
        block of a backlog (:attr:`LineBlock.backlog <monilog.parsing.columns.LineBlock.backlog>`)
        only as a lower bound, since its last line may be old (:meth:`LogClock.learn
        <monilog.accumulation.clock.LogClock.learn>`). Lines given as a sequence came as written.

        A block read with more waiting behind it (:attr:`LineBlock.more
        <monilog.parsing.columns.LineBlock.more>`: a backlog, or a burst) keeps the records of its last report
        period, parsed, for the next block of ``source``, as a replay's pieces do
        (:func:`~monilog.accumulation.aggregate.split_last_span`): each period of a backlog is then
        counted in one piece, its counters cut once and applied into empty statistics, which fold
        the keys beyond the cut unread (on a log of random paths, most of the work of a period).
        They are counted before a block of another source (in the order the lines arrived), and
        at the latest by the first :meth:`tick` at a host time at or after their arrival, or by
        :meth:`finish`. The reports are the same as without the wait.
        """
        if isinstance(lines, LineBlock):
            block = lines.data  # a file's lines, still the block they were read in
        else:
            lines = list(lines)
            try:
                block = b"\n".join(lines)  # type: ignore[arg-type]  # the watcher's lines are bytes
            except TypeError:  # text lines, from a program
                block = b"\n".join(line if isinstance(line, bytes) else line.encode("utf-8", "surrogateescape")
                                   for line in lines)
            if lines:
                block += b"\n"
        with self._lock, without_cyclic_gc():  # the block's columns are gone before a collection may pass over them
            if isinstance(lines, LineBlock):
                self._feed_block(source, block, lines.more, lines.backlog, wall_now)
            else:
                self._feed_block(source, block, False, False, wall_now)

    def _feed_block(self, source: str, block: bytes, more: bool, backlog: bool, wall_now: Optional[float]) -> None:
        """:meth:`feed`'s work on a block of whole lines, in a method of its own: its columns are
        gone when it returns, before the cyclic collector is on again."""
        for other in [name for name in self._waiting if name != source]:  # they came first: in arrival order
            self._count_waiting_of(other)
        parsed = self._parsed(source, block)
        waiting = self._waiting.pop(source, None)
        if waiting is not None:
            whole = joined([waiting[0], parsed])
            if whole is None:  # its keys decode otherwise now (the format changed): counted alone
                self.apply(self._aggregated(source, waiting[0]), host=waiting[1], backlog=waiting[2])
            parsed = parsed if whole is None else whole
        if more and self.cut_keys is not None:
            parsed, rest = split_last_span(parsed, self.batch_span)
            if rest is not None:
                self._waiting[source] = (rest, wall_now, backlog)
        self.apply(self._aggregated(source, parsed), host=wall_now, backlog=backlog)

    def _count_waiting(self, arrived_by: Optional[float]) -> None:
        """Count the lines waiting for their source's next block that arrived by host time
        ``arrived_by`` (all with None)."""
        for source, (_, arrived, _) in list(self._waiting.items()):
            if arrived_by is None or arrived is None or arrived <= arrived_by:
                self._count_waiting_of(source)

    def _count_waiting_of(self, source: str) -> None:
        records, arrived, backlog = self._waiting.pop(source)
        self.apply(self._aggregated(source, records), host=arrived, backlog=backlog)

    def add_records(self, records: Iterable[LogRecord]) -> None:
        """Account records parsed elsewhere (by a :class:`LogParser`, or made by a program); they
        are not counted as lines read."""
        batch = aggregate(parse_records(records), self.batch_span)
        batch.lines = 0
        with self._lock:
            self._count_waiting(None)  # fed before these
            self.apply(batch)

    def count_skipped(self, reason: str, count: int = 1) -> None:
        """Count lines skipped before parsing (e.g. cut by the watcher's length cap)."""
        with self._lock:
            self._skipped[reason] += count

    def notice(self, message: str, kind: str = "notice") -> None:
        """Pass a message about the inputs to every sink, counting it by ``kind``."""
        with self._lock:
            self._notices[kind] += 1
            self._to_sinks(lambda sink: sink.notice(message))

    def apply(self, batch: Batch, host: Optional[float] = None, backlog: bool = False) -> None:
        """Account a batch: its lines, skipped lines and records, in order (the one apply step).

        ``host`` (epoch seconds) says the lines arrived live at that host time; ``backlog``, that
        they had waited to be read (see :meth:`feed`).
        """
        with self._lock, without_cyclic_gc():
            self.lines += batch.lines
            before = self.clock.latest
            for segment in batch.segments:
                self._apply_segment(batch, segment, host)
            for reason in batch.skipped_after:
                self._skipped[reason] += 1
            if host is not None:
                latest = self.clock.latest
                self.clock.learn(host, latest is not None and (before is None or latest > before), backlog)

    # -- clock ------------------------------------------------------------------------------

    def tick(self, wall_now: Optional[float] = None) -> None:
        """Move the clock with the (offset-corrected) host clock: follow mode calls this often."""
        wall = time.time() if wall_now is None else wall_now
        with self._lock:
            self._count_waiting(wall)
            self.clock.caught_up(wall)
            expected = self.clock.expected(wall)
            if expected is None:  # no line yet to tell the log's time: report on host time
                if self._report_start is None:
                    self._report_start = self._period_of(wall)
                    self._start_from_wall = True
                if self._start_from_wall:
                    self._close_periods(wall, evaluate=False)
                return
            self._act(self.clock.advance(expected, refute=self.clock.settled), None)
            self._move(expected)

    # -- the apply step -----------------------------------------------------------------------

    def _apply_segment(self, batch: Batch, segment: Segment, host: Optional[float]) -> None:
        """Rule on each run, move the clock, and count the records by their fate."""
        runs, zone = segment.runs, segment.zone
        skips = iter(segment.skips)
        skip = next(skips, None)
        uniform: Optional[str] = None  # the fate of every run so far, while the segment counts as a whole
        starts: List[int] = []  # first record of each run, once runs are counted one by one
        # before the first report, lateness may move where reports start, record by record's time
        whole = not (self.lateness and self._nothing_reported)
        for index, (second, count) in enumerate(runs):
            while skip is not None and skip[0] == index:
                self._skipped[skip[1]] += 1
                skip = next(skips, None)
            rulings = self.clock.admit(second, count, host)
            fate = _fate(rulings)
            if not starts:
                if whole and fate == (uniform or fate) and fate not in (_HELD, _STEP):
                    uniform = fate
                    self._act(rulings, zone)
                    continue
                record = segment.first  # the fates differ: count what came so far, then each run
                for _, hits in runs:
                    starts.append(record)
                    record += hits
                starts.append(record)
                if index:
                    self._count(batch.counts(starts[0], starts[index]), runs[0][0], uniform == _LATE, zone)
            self._act(rulings, zone)
            counts = batch.counts(starts[index], starts[index + 1])
            if fate == _HELD:
                self._held = (counts, zone)
            else:
                self._count(counts, second, fate == _LATE, zone)
        if not starts and uniform is not None:
            first = segment.first
            self._count(segment.counts, runs[0][0], uniform == _LATE, zone,
                        partial(batch.counts, first, first + sum(hits for _, hits in runs)))

    def _act(self, rulings: List[Ruling], zone: Optional[tzinfo]) -> None:
        """Move the alert clock as the clock rules ruled, and count a line they held before."""
        holding = False  # whether the run ruled on has its first line held
        for decision, second, count in rulings:
            if decision is Decision.HELD:
                holding = True
            elif decision is Decision.STEPPED_BACK:
                self._step_back(second, zone)
            elif decision is Decision.OUTLIER:
                held, self._held = self._held, None
                if held is not None:
                    self._count(held[0], second, True, held[1])
            elif decision is Decision.CONFIRMED and not holding:  # the line held before these
                held, self._held = self._held, None
                self._move(second)
                self._emit_events(self.alerter.observe(second, count, tz=None if held is None else held[1]))
                if held is not None:
                    self._count(held[0], second, False, held[1])
            elif decision is not Decision.REFUSED:  # accepted, or the held first line of the run confirmed
                holding = False
                self._move(second)
                self._emit_events(self.alerter.observe(second, count, tz=zone))

    def _step_back(self, second: int, zone: Optional[tzinfo]) -> None:
        """The log's clock stepped back to ``second``: start the timeline anew there (see the
        module documentation)."""
        old = self.alerter
        clock = old.clock
        if clock is None:
            return
        if self._report_start is not None and not self._start_from_wall:
            last = max([self._report_start, *self._periods])
            end = min(last + self.period, int(clock) + 1)
            while self._report_start <= last:
                self._report(self._report_start, min(self._report_start + self.period, end))
            self._report_start = self._period_of(second)
        self._earlier, self._total, self._unmerged, self._reported = self._run_total(), None, [], None
        fresh = self.alerter = copy.deepcopy(self._fresh_alerter)
        window = old.per_second()
        for index, hits in enumerate(window):  # the last window of traffic, ending just before now
            fresh.observe(second - len(window) + index, hits, tz=zone)
        fresh.history, fresh.dropped_events, fresh.late_hits = old.history, old.dropped_events, old.late_hits
        self.rules = self.rules.restarted()
        self.notice(f"the log's clock stepped back by {format_duration(self.clock.step_back)}, "
                    f"to {self._datetime(second).strftime(TIME_FORMAT)}: reports go on from there", kind="clock-step")

    @property
    def cut_keys(self) -> Optional[int]:
        """After how many keys per dimension the counters of a block (a replay's workers' and a
        followed block's) may be cut (:meth:`Counts.cut <monilog.accumulation.counts.Counts.cut>`):
        ``max_keys``, as the statistics then come out the same; None while an alert rule reads every key of the
        counters it is given, or when ``max_keys`` is below what a cut allows."""
        return None if self.rules or self.max_keys < MIN_CUT_KEYS else self.max_keys

    @property
    def _nothing_reported(self) -> bool:
        """Whether no period was reported since the run began or the log's clock stepped back."""
        return self._total is None and not self._unmerged

    def _reported_total(self) -> Optional[StatsSnapshot]:
        """The periods reported since the run began or the log's clock stepped back, merged (the
        merge of the periods not yet in ``_total`` is kept until the next report)."""
        if not self._unmerged:
            return self._total
        if self._reported is None:
            self._reported = merged([self._total, *self._unmerged] if self._total else self._unmerged)
        return self._reported

    def _run_total(self, current: Optional[StatsSnapshot] = None) -> Optional[StatsSnapshot]:
        """The run's figures: the reported periods (and ``current``), a timeline segment after
        another when the log's clock stepped back (their log times may overlap)."""
        reported = self._reported_total()
        total = reported if current is None else current if reported is None else reported.merge(current)
        earlier = self._earlier
        return total if earlier is None else earlier if total is None else earlier.followed_by(total)

    def _count(self, counts: Counts, second: int, late: bool, zone: tzinfo,
               recount: Optional[Callable[[], Counts]] = None) -> None:
        """Count records of ``second`` in their period, or in the oldest one not reported when late.

        ``late``: the alert clock did not take these records (refused or outlying times, or held
        before the periods were aligned); they count in reports only. ``recount``: counts the
        records again from their lines, for counters whose keys beyond the cut were not sent
        (:meth:`~monilog.accumulation.overflow.Overflow.folded`) when the period's statistics
        would read them: a period a worker held whole that is not counted alone. When its lines
        cannot be read again (the file changed), those keys are folded, with a notice.
        """
        observed_late = late
        start = self._report_start
        if counts.overflow is None or counts.overflow.sent:
            recount = None  # nothing to count again
        if start is None or (self._start_from_wall and not late):
            clock = self.alerter.clock
            if clock is None:
                self._orphans.append((counts, zone, recount))
                return
            aligned = self._period_of(min(clock, second))
            if start is not None and start - self.clock.max_jump <= aligned < start:
                aligned = start  # the log runs a little behind the host: never report a period twice
            self._report_start = start = aligned
            self._start_from_wall = False
            self._drain_orphans()
        self._tz = zone
        period = span_of(second, self.period)
        if period < start and not late and self._nothing_reported and self._within_lateness(second):
            self._report_start = start = period  # nothing reported yet: reports may start earlier
        if late or period < start:
            late, period = True, start
        stats = self._periods.get(period)
        if stats is None:
            stats = self._periods[period] = Statistics(self.max_keys)
        fold_unsent = False
        if recount is not None and not stats.folds_unread(counts):
            try:
                counts = recount()
            except (OSError, ValueError) as error:  # the file changed since: its keys are folded, its totals kept
                fold_unsent = True
                self.notice(f"the lines of {counts.hits} hits could not be read again ({error}): the sections and "
                            "clients beyond the first of their period are counted as other ones", kind="replay")
        hits = counts.hits
        stats.add_counts(counts, late=hits if late else 0, fold_unsent=fold_unsent)
        self.parsed += hits
        if self.rules and not observed_late:
            self.rules.add(second, counts)

    def _within_lateness(self, second: int) -> bool:
        clock = self.alerter.clock
        return clock is not None and second >= clock - self.lateness and self.lateness > 0

    def _drain_orphans(self) -> None:
        orphans, self._orphans = self._orphans, []
        for counts, zone, recount in orphans:
            self._count(counts, 0, True, zone, recount)

    def _move(self, moment: float) -> None:
        """Move the alert clock to ``moment``, reporting each period whose end (plus the lateness)
        it passes right after evaluating that second, so reports follow their alerts."""
        self._close_periods(moment - self.lateness, evaluate=True)
        self._emit_events(self.alerter.advance(moment))

    def _close_periods(self, until: float, evaluate: bool) -> None:
        """Report every period that ends by ``until`` (evaluating the alert rule up to each end)."""
        lateness = self.lateness
        while self._report_start is not None and self._report_start + self.period <= until:
            start, end = self._report_start, self._period_of(until)
            if not (end - start > SILENCE_FOLD_SECONDS and min(self._periods, default=end) >= end):
                end = start + self.period  # else: one report for the whole silence
            if evaluate:
                self._emit_events(self.alerter.advance(end + lateness))
            self._report(start, end)

    def finish(self) -> RunSummary:
        """Report the periods in progress and return (and hand to sinks) the run's summary.

        A line the clock rules still hold is taken at its time (nothing came to refute it), and
        the seconds the lateness kept waiting are evaluated.
        """
        with self._lock:
            self._count_waiting(None)
            self._act(self.clock.release(), None)
            if self._report_start is None and (self._orphans or self._skipped):
                clock = self.alerter.clock
                self._report_start = self._period_of(clock if clock is not None else time.time())
            self._drain_orphans()
            clock = self.alerter.clock
            if clock is not None and self.lateness and not self._start_from_wall:
                self._move(clock + self.lateness)
            if self._report_start is not None:
                last = max([self._report_start, *self._periods])
                end = last + self.period
                if clock is not None and not self._start_from_wall:
                    end = min(end, int(clock) + 1)
                while self._report_start <= last:
                    self._report(self._report_start, min(self._report_start + self.period, end))
            total = self._run_total() or Statistics(self.max_keys).snapshot()
            summary = RunSummary(
                stats=total,
                lines=self.lines,
                parsed=self.parsed,
                late_hits=self.alerter.late_hits,
                outlier_hits=self.clock.outliers + self.clock.refused,
                alerts=self.earlier_alerts + self._history(),
                earlier_alerts=len(self.earlier_alerts),
                alert=self.alert_state(),
                files=self.files,
                first_time=total.start.timestamp() if total.start else None,
                last_time=total.end.timestamp() if total.end else None,
                notices=dict(self._notices),
                filters=tuple(self.reading.filters.describe()),
            )
            self._to_sinks(lambda sink: sink.summary(summary))
            return summary

    def alert_state(self) -> AlertState:
        """The alerter's state now."""
        alerter = self.alerter
        return AlertState(
            alerter.alerting, alerter.window_hits, alerter.average, alerter.threshold, alerter.window,
            alerter.peak_hits, alerter.lateness,
        )

    def view(self) -> LiveView:
        """A consistent picture of the monitor for live displays."""
        with self._lock:
            per_second = tuple(self.alerter.per_second())
            recent = per_second[-CURRENT_RATE_SECONDS - 1:-1]
            current = self._current_snapshot()
            return LiveView(
                files=self.files,
                uptime=time.monotonic() - self._started,
                clock=self.alerter.clock,
                current_rps=sum(recent) / max(len(recent), 1),
                per_second=per_second,
                alert=self.alert_state(),
                last_report=self._last_report,
                current=current,
                total=self._run_total(current) or current,
                history=self.earlier_alerts + self._history(),
                earlier_alerts=len(self.earlier_alerts),
                lines=self.lines,
                parsed=self.parsed,
                top=self.top,
            )

    def recent_seconds(self) -> Tuple[Optional[int], Tuple[int, ...]]:
        """The last second the alert rule evaluated (None before any time) and the hits of each
        second of the window ending there, oldest first: :meth:`view`'s ``per_second`` without the
        cost of a whole view, for charts that read it every second (the web page)."""
        with self._lock:
            return self.alerter.evaluated, tuple(self.alerter.per_second())

    # -- internals --------------------------------------------------------------------------

    def _period_of(self, moment: float) -> int:
        return span_of(int(moment // 1), self.period)

    def _report(self, start: int, end: int) -> None:
        """Report the period starting at ``start`` and open the next one."""
        stats = self._periods.pop(start, None) or Statistics(self.max_keys)
        for reason, count in self._skipped.items():
            stats.add_skipped(reason, count)
        self._skipped.clear()
        snapshot = stats.snapshot(self._datetime(start), self._datetime(end))
        self._unmerged.append(snapshot)
        self._reported = None
        if len(self._unmerged) == TOTAL_EVERY:
            self._total, self._unmerged = self._reported_total(), []
        report = self._last_report = PeriodReport(snapshot, self.alert_state(), tuple(self.reading.filters.describe()),
                                                  self.rules.states())
        self._report_start = max(start + self.period, end)
        self._to_sinks(lambda sink: sink.report(report))

    def _current_snapshot(self) -> StatsSnapshot:
        start = self._report_start
        stats = self._periods.get(start) if start is not None else None
        if stats is None:
            return Statistics(self.max_keys).snapshot()
        assert start is not None  # stats of a period in progress
        clock = self.alerter.clock
        end = start + self.period if clock is None else min(start + self.period, max(clock, start + 1))
        return stats.snapshot(self._datetime(start), self._datetime(end))

    def _history(self) -> Tuple[AlertEvent, ...]:
        """Every rule's events of this run, in time order (the traffic rule's first at equal times)."""
        if not self.rules:
            return self.alerter.history
        return tuple(heapq.merge(self.alerter.history, self.rules.history, key=lambda event: event.time))

    def _emit_events(self, events: Sequence[AlertEvent]) -> None:
        evaluated = self.alerter.evaluated
        if self.rules and evaluated is not None and evaluated != self.rules.evaluated:
            more = self.rules.evaluate_until(evaluated, self.alerter.tz)
            if more:
                events = sorted([*events, *more], key=lambda event: event.time)
        for event in events:
            self._to_sinks(lambda sink, event=event: sink.event(event))  # type: ignore[misc]

    def _to_sinks(self, call: Callable[[Sink], None]) -> None:
        """Hand something to every sink; a sink that fails is turned off, the others go on."""
        for sink in list(self.sinks):
            if sink not in self.sinks:
                continue  # turned off while this call went round
            try:
                call(sink)
            except Exception as error:
                self._turn_off(sink, error)

    def _turn_off(self, sink: Sink, error: Exception) -> None:
        """Turn a failing sink off and say so on stderr (if it still works) and to the others."""
        if sink not in self.sinks:
            return
        self.sinks.remove(sink)
        self._notices["output-failed"] += 1
        message = f"output {type(sink).__name__} failed and is turned off: {type(error).__name__}: {error}"
        try:
            print(f"monilog: {clean(message)}", file=sys.stderr)
        except (OSError, ValueError):
            pass  # stderr is gone too (| head closed it): the other outputs still hear of it
        self._to_sinks(lambda other: other.notice(message))

    def _datetime(self, epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, self._tz)
