"""Files cut at line starts, and read back as pieces of whole lines or as lines; compressed files
read as lines as they are decompressed."""

from __future__ import annotations

import os
from typing import BinaryIO, Callable, Iterator, NamedTuple, Optional, Union

from monilog.watcher import Compression, LineSplitter

READ_BLOCK = 1 << 20
SCAN_BLOCK = 8 << 10


class ChunkChanged(Exception):
    """The file no longer has the bytes its chunk was planned on (it shrank or was truncated)."""


class Damaged(Exception):
    """A compressed file's data is cut short or corrupt: the message says where and how."""


def next_line_start(stream: BinaryIO, position: int, size: int) -> int:
    """The first line start at or after ``position`` (``size`` when there is none)."""
    if position >= size:
        return size
    stream.seek(position - 1)
    offset = position - 1
    while offset < size:
        block = stream.read(min(SCAN_BLOCK, size - offset))
        if not block:
            break
        newline = block.find(b"\n")
        if newline >= 0:
            return offset + newline + 1
        offset += len(block)
    return size


class Chunk(NamedTuple):
    """Bytes ``start`` to ``end`` of a file, cut at line starts."""

    start: int
    end: int
    starts_span: bool = False
    """Whether ``start`` was put where the lines' span of time changes (see :func:`chunk_bounds`):
    the line before it is of another span, so the chunk's first span likely starts in it."""


def chunk_bounds(path: str, size: int, first: int, smallest: int, largest: int, workers: int,
                 span_of: Optional[Callable[[bytes], Optional[int]]] = None) -> Iterator[Chunk]:
    """The chunks of a file of ``size`` bytes, cut at line starts.

    The first chunk is about ``first`` bytes; with ``workers``, later ones are a share of what is
    left (half of it divided by the workers) between ``smallest`` and ``largest``, so the last
    chunks keep every worker busy. With ``span_of`` (a line's span of time, None when it cannot
    tell), a cut after the first chunk moves back or on, by at most half the chunk's size, to where
    the span changes (:func:`span_change`): a report period is then held whole by one chunk, and a
    worker need not send the keys beyond its cut. Any line start is a right cut: where the log
    goes back in time, or a span is longer than that, the cut is only less useful.
    """
    with open(path, "rb", buffering=0) as stream:
        start, length, starts_span = 0, first, False
        while start < size:
            end = next_line_start(stream, start + length, size)
            change = None if span_of is None else span_change(stream, end, length // 2, size, span_of)
            yield Chunk(start, end if change is None else change, starts_span)
            start, starts_span = (end, False) if change is None else (change, True)
            share = (size - start) // (2 * workers) if workers else largest
            length = min(largest, max(smallest, share))


def span_change(stream: BinaryIO, cut: int, reach: int, size: int,
                span_of: Callable[[bytes], Optional[int]]) -> Optional[int]:
    """The line start nearest the line start ``cut`` where the lines' span (``span_of``) changes:
    the start of the cut line's span if it began within ``reach`` bytes before, else the start of
    the next span if it begins within ``reach`` bytes after; None when neither (or a line at an
    end tells no span).

    It bisects the lines in between, as time goes on in a log: :data:`LINE_PROBE_BYTES` read per
    probe, some twenty probes for a reach of megabytes.
    """
    span = _span_at(stream, cut, span_of)
    if span is None:
        return None
    before = next_line_start(stream, max(cut - reach, 1), size)
    if before < cut and _span_at(stream, before, span_of) not in (None, span):
        return _bisect(stream, before, cut, size, span_of, span, False)
    after = next_line_start(stream, cut + reach, size)
    if after < size and _span_at(stream, after, span_of) not in (None, span):
        return _bisect(stream, cut, after, size, span_of, span, True)
    return None


def _bisect(stream: BinaryIO, low: int, high: int, size: int, span_of: Callable[[bytes], Optional[int]],
            span: int, at_low: bool) -> int:
    """The line start in ``(low, high]`` after which lines are of ``span`` no more (``at_low``: the
    line at ``low`` is of it, the one at ``high`` not), or from which they are (not ``at_low``).
    A line that tells no span goes with the line at ``low``."""
    while True:
        after_low = next_line_start(stream, low + 1, size)
        if after_low >= high:
            return high
        middle = next_line_start(stream, (low + high) // 2, size)
        if not low < middle < high:
            middle = after_low
        found = _span_at(stream, middle, span_of)
        if (found is None or found == span) if at_low else found != span:
            low = middle
        else:
            high = middle


LINE_PROBE_BYTES = 16 << 10
"""How much of a line :func:`span_change` reads to tell its span."""


def _span_at(stream: BinaryIO, position: int, span_of: Callable[[bytes], Optional[int]]) -> Optional[int]:
    line = os.pread(stream.fileno(), LINE_PROBE_BYTES, position).split(b"\n", 1)[0]
    return span_of(line) if line else None


def file_pieces(descriptor: int, start: int, end: int, piece: int) -> Iterator[bytes]:
    """Bytes ``start`` to ``end`` of a file in blocks of whole lines of about ``piece`` bytes.

    Each read starts at a line start: the partial line at the end of a read is read again.

    :raises ChunkChanged: when the file holds fewer bytes than planned.
    """
    while start < end:
        size = min(piece, end - start)
        while True:
            data = os.pread(descriptor, size, start)
            if len(data) < size:
                raise ChunkChanged
            if start + size >= end:
                break
            newline = data.rfind(b"\n")
            if newline >= 0:
                data = data[:newline + 1]
                break
            size = min(2 * size, end - start)  # a line longer than a piece
        yield data
        start += len(data)


def read_range(path: str, start: int, end: int) -> bytes:
    """Bytes ``start`` to ``end`` of a file (fewer if it shrank)."""
    with open(path, "rb", buffering=0) as stream:
        return os.pread(stream.fileno(), end - start, start)


def range_lines(path: str, start: int = 0, end: Optional[int] = None) -> Iterator[bytes]:
    """The lines of bytes ``start`` to ``end`` (None: the end) of a file, split as the watcher
    splits them (lines over its cap are cut, see :class:`~monilog.watcher.LineSplitter`)."""
    splitter = LineSplitter()
    with open(path, "rb", buffering=0) as stream:
        stream.seek(start)
        while end is None or start < end:
            block = stream.read(READ_BLOCK if end is None else min(READ_BLOCK, end - start))
            if not block:
                break
            start += len(block)
            yield from splitter.feed(block)
    last = splitter.flush()
    if last is not None:
        yield last


def decompressed_lines(source: Union[str, BinaryIO], compression: Compression) -> Iterator[bytes]:
    """The lines of a compressed file (a path, or a file open for reading its compressed bytes,
    whose position then tells how far it has been read), split as :func:`range_lines` splits them,
    decompressed as they are read (a block at a time, whatever the file's size).

    :raises Damaged: where its data is cut short (a copy or a compression that did not finish) or
        corrupt, after the lines before; the unterminated line at that point is dropped. An error
        of the system reading it (an :class:`OSError` with an ``errno``) is raised as it is.
    """
    import lzma
    import zlib

    splitter = LineSplitter()
    with compression.open(source) as stream:
        try:
            while True:
                block = stream.read1(READ_BLOCK)
                if not block:
                    break
                yield from splitter.feed(block)
        except (EOFError, OSError, zlib.error, lzma.LZMAError) as error:
            if isinstance(error, OSError) and error.errno is not None:
                raise
            raise Damaged(f"{compression.name} data damaged after {stream.tell()} bytes "
                          f"decompressed ({error})") from None
    last = splitter.flush()
    if last is not None:
        yield last
