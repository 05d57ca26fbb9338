"""The pipeline: log lines → parser → :class:`Statistics` per period + :class:`Alerter` → sinks.

A :class:`Monitor` is what the ``monitoring`` command runs, and what other Python code can drive
the same way: hand it lines (:meth:`Monitor.feed`) or records (:meth:`Monitor.add_records`),
move its clock (:meth:`Monitor.tick`), and end it (:meth:`Monitor.finish`). It owns no thread
and reads no file: :mod:`monilog.run` connects it to the watcher or to a replay.

Clock and periods
-----------------
* Time is log time. The monitor's clock is the alerter's clock: the newest accepted log time,
  so one line with an absurd timestamp cannot move it (see :mod:`monilog.accumulation.alerter`).
* Periods are aligned to the clock: with a 10 s period, ``[..:00, ..:10)``, ``[..:10, ..:20)``...
  A period is reported when the clock reaches its end; periods without traffic are reported too,
  with zero hits, so a live run keeps reporting through silence. A silence longer than a day (a
  gap in a replayed log, a suspended host) is one report with zero hits spanning all of it.
* Every parsed line is counted in exactly one report. A line whose period was already reported,
  or whose time the alert clock refused as absurd, counts in the period in progress and in its
  ``late`` figure. At :meth:`Monitor.finish` the period in progress is reported too, so the sum of
  all reports' hits equals the lines parsed.
* Following live files, :meth:`Monitor.tick` also moves the clock with the wall clock while no
  line arrives, so reports keep coming and an alert recovers when traffic stops entirely. The
  wall clock is corrected by the offset between the log and the host observed on the newest
  lines, so a log whose clock is skewed against the host (or written with a delay) still works.
  Live lines stamped more than the alerter's ``max_jump`` beyond the expected log time (a
  backend with a wrong clock) count late and are kept from the alert clock, unless all lines
  are so for 30 s: then the log's clock was set forward, and the monitor follows it.
  Before the first line, reports follow the host clock; when the first line arrives the periods
  re-align to the log's clock (never reporting a period twice when the log is just behind).
* At the end of a replay, a last line the alert clock still held back is taken at its time.

Outputs: a sink that raises is turned off (reported on stderr and to the other sinks) and the
others go on, so a closed pipe on standard output cannot stop the webhooks or the run log.

Skipped lines are counted by reason in the next report. Access is serialised by a lock: the
watcher thread may feed lines while the main thread ticks and reads :meth:`Monitor.view`.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from datetime import datetime, timezone, tzinfo
from typing import Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from monilog.accumulation.alerter import AlertEvent, Alerter
from monilog.accumulation.report import AlertState, LiveView, PeriodReport, RunSummary
from monilog.accumulation.statistics import Statistics, StatsSnapshot
from monilog.outputs.sink import Sink
from monilog.parsing.parser import LogParser
from monilog.parsing.record import LogRecord, ParseError
from monilog.presentation.sanitize import clean

Line = Union[str, bytes]

CURRENT_RATE_SECONDS = 10
"""How many complete seconds the live "current req/s" figure averages."""

CLOCK_STEP_SECONDS = 30.0
"""Following live, lines stamped beyond the expected log time (host clock + learnt offset +
the alerter's ``max_jump``) are counted late and kept from the alert clock, unless every line
for this long is so: then the log's clock was stepped forward and is followed."""

SILENCE_FOLD_SECONDS = 86_400
"""A silence longer than this (a replayed log's gap, a suspended host) is reported as one
report with zero hits instead of one empty report per period."""

FIRST_LINE_TRUST = 86_400.0
"""Following live, a lone first line within this many seconds of the host clock is accepted
without waiting for a second line to confirm its time."""


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
    """

    def __init__(
        self,
        threshold: float = 10.0,
        window: int = 120,
        period: int = 10,
        *,
        fmt: str = "auto",
        top: int = 5,
        max_keys: int = 10_000,
        sinks: Sequence[Sink] = (),
        files: Sequence[str] = (),
        history: Sequence[AlertEvent] = (),
    ) -> None:
        if isinstance(period, bool) or not isinstance(period, int) or period <= 0:
            raise ValueError(f"period must be a positive whole number of seconds, not {period!r}")
        self.alerter = Alerter(threshold, window)
        self.period = period
        self.fmt = fmt
        self.top = top
        self.max_keys = max_keys
        self.sinks: List[Sink] = list(sinks)
        self.files: Tuple[str, ...] = tuple(files)
        self.earlier_alerts: Tuple[AlertEvent, ...] = tuple(history)
        self.lines = 0
        self.parsed = 0
        self._lock = threading.RLock()
        self._parsers: Dict[str, LogParser] = {}
        self._periods: Dict[int, Statistics] = {}
        self._report_start: Optional[int] = None
        self._start_from_wall = False
        self._held: Optional[LogRecord] = None
        self._orphans: List[LogRecord] = []
        self._skipped: Counter = Counter()
        self._total: Optional[StatsSnapshot] = None  # all reported periods
        self._last_report: Optional[PeriodReport] = None
        self._tz: tzinfo = timezone.utc
        self._skew: Optional[float] = None
        self._started = time.monotonic()
        self._notices: Counter = Counter()
        self._refused = 0  # live lines stamped too far ahead of the host clock
        self._ahead_since: Optional[float] = None

    # -- input ------------------------------------------------------------------------------

    def parser_for(self, source: str) -> LogParser:
        """The parser of one input (its own, since W3C directives and format detection are per file)."""
        parser = self._parsers.get(source)
        if parser is None:
            parser = self._parsers[source] = LogParser(self.fmt)
        return parser

    def parse(self, source: str, lines: Iterable[Line]) -> Iterator[LogRecord]:
        """Parse the lines of one input, counting read and skipped lines."""
        parse = self.parser_for(source).parse
        skipped = self._skipped
        for line in lines:
            self.lines += 1
            try:
                record = parse(line)
            except ParseError as error:
                skipped[error.reason] += 1
                continue
            if record is not None:
                yield record

    def feed(self, source: str, lines: Iterable[Line], wall_now: Optional[float] = None) -> None:
        """Parse and account a batch of lines from ``source``.

        ``wall_now`` (epoch seconds) says the lines arrived live at that host time: the monitor
        then learns the offset between the log clock and the host clock from them.
        """
        with self._lock:
            before = self.alerter.clock
            limit = None if wall_now is None or self._skew is None else wall_now + self._skew + self.alerter.max_jump
            for record in self.parse(source, lines):
                if limit is not None:
                    if record.epoch > limit:
                        if not self._clock_stepped(wall_now):  # type: ignore[arg-type]
                            self._refused += 1
                            self._place(record, late=True)
                            continue
                        self._follow_step(record.epoch, wall_now)  # type: ignore[arg-type]
                        limit = record.epoch + self.alerter.max_jump
                    elif self._ahead_since is not None:
                        self._ahead_since = None
                self._add(record)
            clock = self.alerter.clock
            if wall_now is not None and clock is not None and (before is None or clock > before):
                self._skew = clock - wall_now

    def _clock_stepped(self, wall_now: float) -> bool:
        """Whether live lines have been ahead of the expected log time for so long that the log's
        clock must have been set forward (rather than a few lines being wrongly stamped)."""
        if self._ahead_since is None:
            self._ahead_since = wall_now
        return wall_now - self._ahead_since >= CLOCK_STEP_SECONDS

    def _follow_step(self, epoch: float, wall_now: float) -> None:
        """The log's clock was set forward to ``epoch``: move the clock there and learn the new offset."""
        self._skew = epoch - wall_now
        self._ahead_since = None
        outliers = self.alerter.outlier_hits
        self._emit_events(self.alerter.advance(epoch))
        self._resolve_held(outliers)
        self._flush_until(self.alerter.clock)

    def add_records(self, records: Iterable[LogRecord]) -> None:
        """Account records parsed elsewhere (a replay merging several files)."""
        with self._lock:
            for record in records:
                self._add(record)

    def count_skipped(self, reason: str, count: int = 1) -> None:
        """Count lines skipped before parsing (e.g. cut by the watcher's length cap)."""
        with self._lock:
            self._skipped[reason] += count

    def count_lines(self, count: int) -> None:
        """Count lines read by a bulk reader (:meth:`add_aggregate` does not count lines)."""
        with self._lock:
            self.lines += count

    def aggregate_ready(self, second: int) -> bool:
        """Whether :meth:`add_aggregate` can take hits starting at ``second`` now.

        True in the steady state (the clock is set and no observation is held back) for a second
        neither before the period in progress nor more than the alerter's ``max_jump`` after the
        clock: then no hit from there on is pending or an outlier while each second stays within
        ``max_jump`` of the latest one.
        """
        alerter = self.alerter
        clock = alerter.clock
        return (
            clock is not None and alerter.pending is None and self._held is None and not self._orphans
            and self._report_start is not None and not self._start_from_wall
            and self._report_start <= second <= clock + alerter.max_jump
        )

    def add_aggregate(
        self,
        runs: Sequence[Tuple[int, int]],
        zone: tzinfo,
        *,
        section_status: Mapping[Tuple[str, int], int],
        section_bytes: Mapping[str, int],
        methods: Mapping[str, int],
        clients: Mapping[str, int],
        users: Mapping[str, int],
    ) -> None:
        """Account at once records that all fall in one report period (the fast replay's entry).

        ``runs`` are ``(epoch second, hits)`` in the order the records came (a second may go back,
        as in logs stamped with the request's start); ``zone`` is the UTC offset the records were
        logged with; the counters are those of
        :meth:`Statistics.add_counts <monilog.accumulation.statistics.Statistics.add_counts>` for
        the same hits, keys in the order first seen. Reports, alerts and summary are those of
        :meth:`add_records` with the records themselves: hits behind the period in progress count
        in it as late ones.

        :raises ValueError: unless :meth:`aggregate_ready` holds for the first second, each second
            stays within ``max_jump`` of the latest, all records fall in one period (the period
            in progress, or the one the latest second opens), and the counters add up to the
            hits; nothing is counted then.
        """
        with self._lock:
            alerter = self.alerter
            if not runs or not self.aggregate_ready(runs[0][0]):
                raise ValueError("add_aggregate needs a steady monitor and a first second in the period "
                                 "in progress, within max_jump of the clock")
            latest = alerter.clock
            assert latest is not None  # aggregate_ready
            period = self._period_of(max(latest, runs[0][0]))
            hits = late = 0
            for second, count in runs:
                if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                    raise ValueError(f"hits must be positive ints, not {count!r}")
                if second > latest + alerter.max_jump:
                    raise ValueError(f"second {second} is more than max_jump after {latest}")
                latest = max(latest, second)
                if self._period_of(latest) != period:
                    raise ValueError(f"second {second} is not in the period starting at {period}")
                hits += count
                if self._period_of(second) < period:
                    late += count
            if sum(section_status.values()) != hits:
                raise ValueError(f"section_status adds up to {sum(section_status.values())} hits, runs to {hits}")
            stats = self._periods.get(period) or Statistics(self.max_keys)
            stats.add_counts(
                section_status=section_status, section_bytes=section_bytes, methods=methods, clients=clients,
                users=users, late=late,
            )
            self._periods[period] = stats
            for second, count in runs:  # what _add does, for ``count`` records at once
                self._close_periods_until(second)
                events = alerter.observe(second, count)
                self._tz = alerter.tz = zone
                if events:
                    self._emit_events(events)
            self.parsed += hits

    def notice(self, message: str, kind: str = "notice") -> None:
        """Pass a message about the inputs to every sink, counting it by ``kind``."""
        with self._lock:
            self._notices[kind] += 1
            self._to_sinks(lambda sink: sink.notice(message))

    # -- clock ------------------------------------------------------------------------------

    def tick(self, wall_now: Optional[float] = None) -> None:
        """Move the clock with the (skew-corrected) host clock: follow mode calls this often."""
        wall = time.time() if wall_now is None else wall_now
        with self._lock:
            alerter = self.alerter
            if self._skew is None:
                pending = alerter.pending
                if pending is not None and abs(pending - wall) <= FIRST_LINE_TRUST:
                    # a lone first line near the host's time: no need to wait for a second one
                    self._skew = pending - wall
                else:
                    if self._report_start is None:
                        self._report_start = self._period_of(wall)
                        self._start_from_wall = True
                    if self._start_from_wall:
                        self._flush_until(wall)
                    return
            outliers = alerter.outlier_hits
            self._emit_events(alerter.advance(wall + self._skew))
            self._resolve_held(outliers)
            self._flush_until(alerter.clock)

    # -- output -----------------------------------------------------------------------------

    def finish(self) -> RunSummary:
        """Report the period in progress and return (and hand to sinks) the run's summary."""
        with self._lock:
            pending = self.alerter.pending
            if pending is not None:  # nothing came after it to refute its time: take it
                outliers = self.alerter.outlier_hits
                self._emit_events(self.alerter.advance(pending))
                self._resolve_held(outliers)
                self._flush_until(self.alerter.clock)
            if self._report_start is None and (self._orphans or self._skipped):
                clock = self.alerter.clock
                self._report_start = self._period_of(clock if clock is not None else time.time())
            self._drain_orphans()
            if self._report_start is not None:
                clock = self.alerter.clock
                last = max([self._report_start, *self._periods])
                end = last + self.period
                if clock is not None and not self._start_from_wall:
                    end = min(end, int(clock) + 1)
                while self._report_start <= last:
                    self._report(self._report_start, min(self._report_start + self.period, end))
            total = self._total or Statistics(self.max_keys).snapshot()
            summary = RunSummary(
                stats=total,
                lines=self.lines,
                parsed=self.parsed,
                late_hits=self.alerter.late_hits,
                outlier_hits=self.alerter.outlier_hits + self._refused,
                alerts=self.earlier_alerts + self.alerter.history,
                earlier_alerts=len(self.earlier_alerts),
                alert=self.alert_state(),
                files=self.files,
                first_time=total.start.timestamp() if total.start else None,
                last_time=total.end.timestamp() if total.end else None,
                notices=dict(self._notices),
            )
            self._to_sinks(lambda sink: sink.summary(summary))
            return summary

    def alert_state(self) -> AlertState:
        """The alerter's state now."""
        alerter = self.alerter
        return AlertState(
            alerter.alerting, alerter.window_hits, alerter.average, alerter.threshold, alerter.window,
            alerter.peak_hits,
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
                total=current if self._total is None else self._total.merge(current),
                history=self.earlier_alerts + self.alerter.history,
                earlier_alerts=len(self.earlier_alerts),
                lines=self.lines,
                parsed=self.parsed,
                top=self.top,
            )

    # -- internals --------------------------------------------------------------------------

    def _period_of(self, moment: float) -> int:
        second = int(moment // 1)
        return second - second % self.period

    def _add(self, record: LogRecord) -> None:
        alerter = self.alerter
        start, clock, epoch = self._report_start, alerter.clock, record.epoch
        if (
            start is not None and clock is not None and alerter.pending is None
            and start + self.period <= epoch <= clock + alerter.max_jump
        ):
            self._close_periods_until(epoch)
        outliers = alerter.outlier_hits
        events = alerter.observe(epoch)
        self._resolve_held(outliers)
        if alerter.pending is None:
            self._place(record)
        else:
            self._held = record
        if events:
            self._emit_events(events)
        clock = alerter.clock
        if clock is not None and self._report_start is not None and clock >= self._report_start + self.period:
            self._flush_until(clock)

    def _close_periods_until(self, epoch: int) -> None:
        """A hit at ``epoch`` will move the clock past period ends: close those periods first, so
        their reports show the alert state at their end and follow their alerts."""
        while self._report_start is not None and self._report_start + self.period <= epoch:
            self._emit_events(self.alerter.advance(self._report_start + self.period))
            self._report(self._report_start, self._report_start + self.period)

    def _resolve_held(self, outliers_before: int) -> None:
        """Place the record the alerter held back, once the alerter has decided on it."""
        held = self._held
        if held is not None:  # every observe() or advance() decides on the pending observation
            self._held = None
            self._place(held, late=self.alerter.outlier_hits > outliers_before)

    def _place(self, record: LogRecord, late: bool = False) -> None:
        """Count a record in its period, or in the period in progress when it is late."""
        start = self._report_start
        if start is None or (self._start_from_wall and not late):
            clock = self.alerter.clock
            if clock is None:
                self._orphans.append(record)
                return
            aligned = self._period_of(min(clock, record.epoch))
            if start is not None and start - self.alerter.max_jump <= aligned < start:
                aligned = start  # the log runs a little behind the host: never report a period twice
            self._report_start = start = aligned
            self._start_from_wall = False
            self._drain_orphans()
        self._tz = self.alerter.tz = record.time.tzinfo or self._tz
        period = record.epoch - record.epoch % self.period
        if late or period < start:
            late, period = True, start
        stats = self._periods.get(period)
        if stats is None:
            stats = self._periods[period] = Statistics(self.max_keys)
        stats.add(record, late=late)
        self.parsed += 1

    def _drain_orphans(self) -> None:
        orphans, self._orphans = self._orphans, []
        for record in orphans:
            self._place(record, late=True)

    def _flush_until(self, clock: Optional[float]) -> None:
        if clock is None or self._report_start is None:
            return
        while self._report_start + self.period <= clock:
            start, end = self._report_start, self._period_of(clock)
            if end - start > SILENCE_FOLD_SECONDS and min(self._periods, default=end) >= end:
                self._report(start, end)  # one report for the whole silence
            else:
                self._report(start, start + self.period)

    def _report(self, start: int, end: int) -> None:
        """Report the period starting at ``start`` and open the next one."""
        stats = self._periods.pop(start, None) or Statistics(self.max_keys)
        for reason, count in self._skipped.items():
            stats.add_skipped(reason, count)
        self._skipped.clear()
        snapshot = stats.snapshot(self._datetime(start), self._datetime(end))
        self._total = snapshot if self._total is None else self._total.merge(snapshot)
        report = self._last_report = PeriodReport(snapshot, self.alert_state())
        self._report_start = max(start + self.period, end)
        self._to_sinks(lambda sink: sink.report(report))

    def _current_snapshot(self) -> StatsSnapshot:
        start = self._report_start
        stats = self._periods.get(start) if start is not None else None
        if stats is None:
            return Statistics(self.max_keys).snapshot()
        clock = self.alerter.clock
        end = start + self.period if clock is None else min(start + self.period, max(clock, start + 1))
        return stats.snapshot(self._datetime(start), self._datetime(end))

    def _emit_events(self, events: Sequence[AlertEvent]) -> None:
        for event in events:
            self._to_sinks(lambda sink: sink.event(event))

    def _to_sinks(self, call: Callable[[Sink], None]) -> None:
        """Hand something to every sink; a sink that fails is turned off, the others go on."""
        for sink in list(self.sinks):
            try:
                call(sink)
            except Exception as error:  # noqa: BLE001 - one broken output must not end monitoring
                self.sinks.remove(sink)
                self._notices["output-failed"] += 1
                message = f"output {type(sink).__name__} failed and is turned off: {type(error).__name__}: {error}"
                print(f"monilog: {clean(message)}", file=sys.stderr)
                self._to_sinks(lambda other: other.notice(message))

    def _datetime(self, epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, self._tz)
