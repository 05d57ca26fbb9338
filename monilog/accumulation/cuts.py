"""Where lines are best cut: at the line where their report period (their span of time) changes.

A period whose lines all come in one piece has its counters cut once (``cut_keys``) and applied
into empty statistics, which fold the keys beyond the cut unread
(:meth:`~monilog.accumulation.statistics.Statistics.folds_unread`): on a log of random paths that
is most of the main process's work per period. Both ways a backlog is read cut there, with the
bisection of this module:

- a replay's chunks, cut in a file (:func:`~monilog.replayer.chunks.chunk_bounds`);
- a followed file's backlog blocks, whose last period's lines wait for the next block
  (:meth:`Monitor.feed <monilog.monitor.Monitor.feed>`, :func:`last_span_cut`).

The line is found by bisecting the lines' times, as time goes on in a log: some twenty lines are
parsed per cut, however long the piece. Any line start is a right cut: where the log goes back in
time, or its lines tell no time, a cut is only less useful.
"""

from __future__ import annotations

from typing import Callable, Optional, Protocol

from monilog.accumulation.aggregate import span_of
from monilog.parsing.parser import LogParser
from monilog.parsing.record import ParseError

LINE_PROBE_BYTES = 16 << 10
"""How much of a line is read to tell its span."""

SpanOf = Callable[[bytes], Optional[int]]
"""A line's span (the start of its report period), None when it tells none (see :func:`line_span`)."""


class Lines(Protocol):
    """Lines to probe by byte position: in a file, or in memory (:class:`BlockLines`)."""

    @property
    def size(self) -> int:
        """Bytes in all."""

    def line_start(self, position: int) -> int:
        """The first line start at or after ``position`` (:attr:`size` when there is none)."""

    def line_at(self, start: int) -> bytes:
        """The line starting at ``start``, without its newline (its first :data:`LINE_PROBE_BYTES`)."""


class BlockLines:
    """:class:`Lines` of a block of bytes in memory."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    @property
    def size(self) -> int:
        """Bytes in all."""
        return len(self.data)

    def line_start(self, position: int) -> int:
        """The first line start at or after ``position`` (:attr:`size` when there is none)."""
        if position <= 0:
            return 0
        newline = self.data.find(b"\n", position - 1)
        return len(self.data) if newline < 0 else newline + 1

    def line_at(self, start: int) -> bytes:
        """The line starting at ``start``, without its newline (its first :data:`LINE_PROBE_BYTES`)."""
        return self.data[start:start + LINE_PROBE_BYTES].split(b"\n", 1)[0]


def line_span(parser: LogParser, span_seconds: int) -> SpanOf:
    """A line's span of ``span_seconds`` (:func:`~monilog.accumulation.aggregate.span_of`) as
    ``parser`` reads it; None for a line that is not a record. Give it a parser of its own: the
    lines it reads are any of a piece's, out of order (a W3C directive among them would change the
    fields of a parser reading the piece)."""

    def span(line: bytes) -> Optional[int]:
        try:
            record = parser.parse(line)
        except (ParseError, ValueError):
            return None
        return None if record is None else span_of(record.epoch, span_seconds)

    return span


def span_change(lines: Lines, cut: int, reach: int, span: SpanOf) -> Optional[int]:
    """The line start nearest the line start ``cut`` where the lines' span changes: the start of the
    cut line's span if it began within ``reach`` bytes before, else the start of the next span if it
    begins within ``reach`` bytes after; None when neither (or a line at an end tells no span)."""
    cut_span = _span_at(lines, cut, span)
    if cut_span is None:
        return None
    before = lines.line_start(max(cut - reach, 1))
    if before < cut and _span_at(lines, before, span) not in (None, cut_span):
        return _bisect(lines, before, cut, span, cut_span, False)
    after = lines.line_start(cut + reach)
    if after < lines.size and _span_at(lines, after, span) not in (None, cut_span):
        return _bisect(lines, cut, after, span, cut_span, True)
    return None


def last_span_cut(data: bytes, span: SpanOf) -> int:
    """Where the span of the last line of ``data`` (whole lines) began: the line start from which
    every line is of it, found by bisection; 0 when the first line is of it too, or the first or
    last line tells no span."""
    lines = BlockLines(data)
    last = data.rfind(b"\n", 0, len(data) - 1) + 1
    last_span = _span_at(lines, last, span)
    if not last or last_span is None or _span_at(lines, 0, span) in (None, last_span):
        return 0
    return _bisect(lines, 0, last, span, last_span, False)


def _bisect(lines: Lines, low: int, high: int, span: SpanOf, wanted: int, at_low: bool) -> int:
    """The line start in ``(low, high]`` after which lines are of span ``wanted`` no more
    (``at_low``: the line at ``low`` is of it, the one at ``high`` not), or from which they are (not
    ``at_low``). A line that tells no span goes with the line at ``low``."""
    while True:
        after_low = lines.line_start(low + 1)
        if after_low >= high:
            return high
        middle = lines.line_start((low + high) // 2)
        if not low < middle < high:
            middle = after_low
        found = _span_at(lines, middle, span)
        if (found is None or found == wanted) if at_low else found != wanted:
            low = middle
        else:
            high = middle


def _span_at(lines: Lines, start: int, span: SpanOf) -> Optional[int]:
    line = lines.line_at(start)
    return span(line) if line else None
