"""A chunk of a file aggregated on its own (in a worker process, or in this one), or why not.

A chunk is aggregated with a fresh parser of the replay's format: that gives the source's own
parser's results unless the chunk holds a ``#`` line (a W3C directive may change how the lines
after it read) or the source's parser already reads W3C (the caller checks that). Its lines are
read and parsed in pieces of whole lines, so the chunk's bytes are never held at once; the columns
of consecutive pieces are joined (:func:`~monilog.parsing.columns.joined`) and counted together,
some 20,000 records at a time, and a worker holds the columns of that many records only, however
short the lines. A group's last period is held back and counted with the next group's records, so
a period's keys are counted once, and cut as they are counted, rather than once per piece and
again when the pieces' counters are joined.
"""

from __future__ import annotations

from collections import Counter
from itertools import chain
from typing import Callable, Iterable, Iterator, List, NamedTuple, Optional, Tuple, Union

from monilog.accumulation.aggregate import Batch, Segment, aggregate, span_of, split_last_span
from monilog.accumulation.statistics import fills_empty
from monilog.monitor import without_cyclic_gc
from monilog.parsing.block import parse_block
from monilog.parsing.columns import ParsedBlock, has_hash_line, joined
from monilog.parsing.parser import DEFAULT_READING, LogParser
from monilog.parsing.reading import Reading
from monilog.parsing.record import ParseError
from monilog.replayer.chunks import ChunkChanged, file_pieces, range_lines, read_range
from monilog.replayer.tuning import ReplayTuning


class ChunkTask(NamedTuple):
    """One chunk to aggregate: bytes ``start`` to ``end`` of ``path``, or ``data`` when it is given
    (whole lines read elsewhere: a block of a Kafka partition's messages)."""

    path: str
    start: int
    end: int
    fmt: str
    span_seconds: int
    piece_bytes: int
    reading: Reading = DEFAULT_READING
    data: Optional[bytes] = None
    cut_keys: Optional[int] = None
    """Cut the counters of each segment after this many keys per dimension (:meth:`Counts.cut
    <monilog.accumulation.counts.Counts.cut>`), so a log of random paths sends little back."""
    counted_lines: int = ReplayTuning.counted_lines
    """Pieces are counted together up to about this many records (:attr:`ReplayTuning.counted_lines
    <monilog.replayer.tuning.ReplayTuning.counted_lines>`)."""
    fold_whole_periods: bool = False
    """Send the cut counters of each span the chunk holds whole :meth:`folded
    <monilog.accumulation.overflow.Overflow.folded>` (see :func:`folded_whole_spans`): when its
    spans are report periods of one source, which the main process's statistics then fold unread
    (not when sources are merged: their periods are joined from parts)."""
    starts_span: bool = False
    """Whether the chunk was cut where the lines' span changes (:attr:`Chunk.starts_span
    <monilog.replayer.chunks.Chunk.starts_span>`): its first span is then folded too, when whole."""


class Refusal(NamedTuple):
    """Why a chunk was not aggregated; its lines are then read by the main process."""

    reason: str
    failure: bool = False
    """Whether it is a failure worth a notice (a worker that died or raised), not a property of the lines."""


ChunkResult = Union[Batch, Refusal]


def aggregate_pieces(pieces: Iterable[bytes], fmt: str, span_seconds: int, reading: Reading = DEFAULT_READING,
                     source: str = "", cut_keys: Optional[int] = None,
                     counted_lines: int = ReplayTuning.counted_lines, fold_whole_periods: bool = False,
                     starts_span: bool = False) -> ChunkResult:
    """The batch of consecutive blocks of whole lines, or a refusal (a ``#`` line): the blocks are
    parsed one by one and counted together about ``counted_lines`` records at a time, and its
    segments' counters cut after ``cut_keys`` keys when it is given (and those of the spans it
    holds whole folded, with ``fold_whole_periods``: :func:`folded_whole_spans`, its first span
    too when ``starts_span``).

    A group's last segment may go on in the next blocks: its records are held and counted with
    the next group's, so that each segment is counted once, whole, and cut as it is counted
    (joining counters would sum every key again). A segment that fills a whole group is counted
    in parts, which are joined, then cut.
    """
    parser = LogParser(fmt, reading=reading, source=source)
    total: Optional[Batch] = None
    group: List[ParsedBlock] = []
    size = 0  # records in the group
    for block in chain(pieces, [None]):  # None: the end, to count the last group
        if block is not None:
            if has_hash_line(block):
                return Refusal("directive line")
            group.append(parse_block(block, parser))
            size += len(group[-1].stamps)
        if group and (block is None or size >= counted_lines):
            batches, held = _counted(group, span_seconds, cut_keys, total, more=block is not None)
            for batch in batches:
                batch.columns = None  # a batch travels without its columns (see reparse); and a group's go now
                if total is None:
                    total = batch
                else:
                    total.extend(batch)
            group, size = ([held], len(held.stamps)) if held is not None else ([], 0)
    if total is None:
        return Batch([], [], 0, 0, None)
    if cut_keys is not None:  # the segments counted in parts
        total.segments = [segment._replace(counts=segment.counts.cut(cut_keys)) for segment in total.segments]
        if fold_whole_periods:
            total.segments = folded_whole_spans(total.segments, cut_keys, starts_span)
    return total


def folded_whole_spans(segments: List[Segment], max_keys: int, starts_span: bool = False) -> List[Segment]:
    """The segments with the cut counters of each span held whole :meth:`folded
    <monilog.accumulation.overflow.Overflow.folded>`: a segment that is not the first (the chunk
    before may hold more of its span; the first too when ``starts_span``: the chunk was cut where
    the span changed), the only one of its span, and whose first keys fill statistics of
    ``max_keys`` keys (:func:`~monilog.accumulation.statistics.fills_empty`: otherwise statistics
    would read the keys beyond the cut). In a replay of a file in time order, its span is a
    report period whose statistics in the main process are empty when it comes, and fold the
    keys beyond the cut unread: they need not travel. The chunk after may hold more of the last
    span: its records come after, into statistics that are the same whether those keys were
    read or not. Where they would be read after all (the period counted late into another, or
    out of order by more than a chunk), the main process counts its records again from the
    chunk's lines.
    """
    spans = Counter(segment.span for segment in segments)
    return [segment._replace(counts=segment.counts._replace(overflow=segment.counts.overflow.folded()))
            if (index or starts_span) and spans[segment.span] == 1 and segment.counts.overflow is not None
            and fills_empty(segment.counts, max_keys)
            else segment
            for index, segment in enumerate(segments)]


def _counted(group: List[ParsedBlock], span_seconds: int, cut_keys: Optional[int], before: Optional[Batch],
             more: bool) -> Tuple[List[Batch], Optional[ParsedBlock]]:
    """The batch of blocks joined (:func:`~monilog.parsing.columns.joined`) and the records of
    its last segment held back when ``more`` blocks follow; or, when their columns differ, the
    batch of each block, uncut. ``before``: the batch so far, whose last segment the first may
    join."""
    whole = joined(group)
    if whole is None:
        return [aggregate(part, span_seconds) for part in group], None
    held = None
    if more:
        whole, held = split_last_span(whole, span_seconds)
    last = before.segments[-1] if before is not None and before.segments else None
    batch = aggregate(whole, span_seconds, cut_keys, None if last is None else (last.span, last.zone),
                      open_end=more and held is None)
    return [batch], held


def aggregate_chunk(task: ChunkTask) -> ChunkResult:
    """Read and aggregate one chunk; an unexpected error becomes a refusal, never an exception."""
    with without_cyclic_gc():  # aggregation makes no reference cycles, only many short-lived tuples
        try:
            if task.data is not None:
                return aggregate_pieces([task.data], task.fmt, task.span_seconds, task.reading, task.path,
                                        task.cut_keys, task.counted_lines, task.fold_whole_periods, task.starts_span)
            with open(task.path, "rb", buffering=0) as stream:
                return aggregate_pieces(file_pieces(stream.fileno(), task.start, task.end, task.piece_bytes),
                                        task.fmt, task.span_seconds, task.reading, task.path, task.cut_keys,
                                        task.counted_lines, task.fold_whole_periods, task.starts_span)
        except ChunkChanged:
            return Refusal("the file shrank", failure=True)
        except Exception as error:
            return Refusal(f"a replay worker failed: {type(error).__name__}: {error}", failure=True)


def span_reader(fmt: str, span_seconds: int, reading: Reading = DEFAULT_READING) -> Callable[[bytes], Optional[int]]:
    """A line's span of ``span_seconds`` (:func:`~monilog.accumulation.aggregate.span_of`), as a
    chunk's parser reads it; None for a line that is not a record. Where a replay cuts its chunks
    (:func:`~monilog.replayer.chunks.chunk_bounds`)."""
    parser = LogParser(fmt, reading=reading)

    def span(line: bytes) -> Optional[int]:
        try:
            record = parser.parse(line)
        except (ParseError, ValueError):
            return None
        return None if record is None else span_of(record.epoch, span_seconds)

    return span


def reparse(task: ChunkTask) -> ParsedBlock:
    """The columns of a chunk aggregated earlier, parsed again as :func:`aggregate_chunk` parsed them."""
    block = task.data if task.data is not None else read_range(task.path, task.start, task.end)
    return parse_block(block, LogParser(task.fmt, reading=task.reading, source=task.path))


def task_lines(task: ChunkTask) -> Iterator[bytes]:
    """The lines of a chunk, for the main process to read them itself."""
    if task.data is None:
        return range_lines(task.path, task.start, task.end)
    return iter(task.data.split(b"\n")[:-1])
