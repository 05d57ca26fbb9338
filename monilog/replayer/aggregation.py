"""A chunk of a file aggregated on its own (in a worker process, or in this one), or why not.

A chunk is aggregated with a fresh parser of the replay's format: that gives the source's own
parser's results unless the chunk holds a ``#`` line (a W3C directive may change how the lines
after it read) or the source's parser already reads W3C (the caller checks that). Its lines are
read and parsed in pieces of whole lines, so the chunk's bytes are never held at once; the columns
of consecutive pieces are joined (:func:`~monilog.parsing.columns.joined`) and counted together,
some 20,000 records at a time: a period's keys are then counted about once, rather than once per
piece and again when the pieces' counters are joined, and a worker holds the columns of that many
records only, however short the lines.
"""

from __future__ import annotations

import gc
from itertools import chain
from typing import Iterable, Iterator, List, NamedTuple, Optional, Union

from monilog.accumulation.aggregate import Batch, aggregate
from monilog.parsing.block import parse_block
from monilog.parsing.columns import ParsedBlock, has_hash_line, joined
from monilog.parsing.parser import DEFAULT_READING, LogParser
from monilog.parsing.reading import Reading
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
    <monilog.accumulation.statistics.Counts.cut>`), so a log of random paths sends little back."""
    counted_lines: int = ReplayTuning.counted_lines
    """Pieces are counted together up to about this many records (:attr:`ReplayTuning.counted_lines
    <monilog.replayer.tuning.ReplayTuning.counted_lines>`)."""


class Refusal(NamedTuple):
    """Why a chunk was not aggregated; its lines are then read by the main process."""

    reason: str
    failure: bool = False
    """Whether it is a failure worth a notice (a worker that died or raised), not a property of the lines."""


ChunkResult = Union[Batch, Refusal]


def aggregate_pieces(pieces: Iterable[bytes], fmt: str, span_seconds: int, reading: Reading = DEFAULT_READING,
                     source: str = "", cut_keys: Optional[int] = None,
                     counted_lines: int = ReplayTuning.counted_lines) -> ChunkResult:
    """The batch of consecutive blocks of whole lines, or a refusal (a ``#`` line): the blocks are
    parsed one by one and counted together about ``counted_lines`` records at a time, and its
    segments' counters cut after ``cut_keys`` keys when it is given."""
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
            for batch in _counted(group, span_seconds):
                batch.columns = None  # a batch travels without its columns (see reparse); and a group's go now
                if total is None:
                    total = batch
                else:
                    total.extend(batch)
            group, size = [], 0
    if total is None:
        return Batch([], [], 0, 0, None)
    if cut_keys is not None:
        total.segments = [segment._replace(counts=segment.counts.cut(cut_keys)) for segment in total.segments]
    return total


def _counted(group: List[ParsedBlock], span_seconds: int) -> List[Batch]:
    """The batch of blocks joined (:func:`~monilog.parsing.columns.joined`), or, when their columns
    differ, the batch of each block."""
    whole = joined(group)
    return [aggregate(whole, span_seconds)] if whole is not None else [aggregate(part, span_seconds) for part in group]


def aggregate_chunk(task: ChunkTask) -> ChunkResult:
    """Read and aggregate one chunk; an unexpected error becomes a refusal, never an exception."""
    collecting = gc.isenabled()
    gc.disable()  # aggregation makes no reference cycles, only many short-lived tuples
    try:
        if task.data is not None:
            return aggregate_pieces([task.data], task.fmt, task.span_seconds, task.reading, task.path, task.cut_keys,
                                    task.counted_lines)
        with open(task.path, "rb", buffering=0) as stream:
            return aggregate_pieces(file_pieces(stream.fileno(), task.start, task.end, task.piece_bytes),
                                    task.fmt, task.span_seconds, task.reading, task.path, task.cut_keys,
                                    task.counted_lines)
    except ChunkChanged:
        return Refusal("the file shrank", failure=True)
    except Exception as error:
        return Refusal(f"a replay worker failed: {type(error).__name__}: {error}", failure=True)
    finally:
        if collecting:
            gc.enable()


def reparse(task: ChunkTask) -> ParsedBlock:
    """The columns of a chunk aggregated earlier, parsed again as :func:`aggregate_chunk` parsed them."""
    block = task.data if task.data is not None else read_range(task.path, task.start, task.end)
    return parse_block(block, LogParser(task.fmt, reading=task.reading, source=task.path))


def task_lines(task: ChunkTask) -> Iterator[bytes]:
    """The lines of a chunk, for the main process to read them itself."""
    if task.data is None:
        return range_lines(task.path, task.start, task.end)
    return iter(task.data.split(b"\n")[:-1])
