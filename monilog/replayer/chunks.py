"""Files cut at line starts, and read back as pieces of whole lines or as lines; compressed files
read as lines as they are decompressed."""

from __future__ import annotations

import os
from typing import BinaryIO, Callable, Iterator, NamedTuple, Optional, Union

from monilog.accumulation.cuts import LINE_PROBE_BYTES, span_change
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
    the span changes (:func:`~monilog.accumulation.cuts.span_change`): a report period is then held whole by one chunk, and a
    worker need not send the keys beyond its cut. Any line start is a right cut: where the log
    goes back in time, or a span is longer than that, the cut is only less useful.
    """
    with open(path, "rb", buffering=0) as stream:
        lines = FileLines(stream, size)
        start, length, starts_span = 0, first, False
        while start < size:
            end = next_line_start(stream, start + length, size)
            change = None if span_of is None else span_change(lines, end, length // 2, span_of)
            yield Chunk(start, end if change is None else change, starts_span)
            start, starts_span = (end, False) if change is None else (change, True)
            share = (size - start) // (2 * workers) if workers else largest
            length = min(largest, max(smallest, share))


class FileLines:
    """:class:`~monilog.accumulation.cuts.Lines` of a file open for reading, probed with ``pread``."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self.stream = stream
        self.size = size

    def line_start(self, position: int) -> int:
        """The first line start at or after ``position`` (:attr:`size` when there is none)."""
        return next_line_start(self.stream, position, self.size)

    def line_at(self, start: int) -> bytes:
        """The line starting at ``start``, without its newline (its first
        :data:`~monilog.accumulation.cuts.LINE_PROBE_BYTES`)."""
        return os.pread(self.stream.fileno(), LINE_PROBE_BYTES, start).split(b"\n", 1)[0]


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
