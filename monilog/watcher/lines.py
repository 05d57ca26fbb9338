"""Split a byte stream into complete lines, with a cap on line length; tell files that are not text.

Shared by the live :class:`~monilog.watcher.FileWatcher` and by anything that reads a whole file
from its start (replay): both must agree on what a line is, and on what is not a text log.

Decisions:

* Lines end at ``b"\\n"`` only and are handed out without it. Anything else, including a ``b"\\r"``
  before the newline and bytes that are not valid UTF-8, passes through untouched: decoding and
  trimming are the parser's job.
* A line longer than ``max_line_length`` bytes is cut: its first ``max_line_length`` bytes are
  handed out once, as soon as the cap is exceeded (not when its newline finally comes), the cut is
  counted in :attr:`LineSplitter.cut_lines`, and everything up to the next newline is discarded as
  it arrives. So memory stays bounded by the cap plus one chunk, whatever the input (a 100 MB line
  without a newline included).
* The unterminated remainder is kept until its newline arrives; :meth:`LineSplitter.flush` hands
  it out when the caller knows the stream has ended (end of file, shutdown).
* :func:`text_problem` judges a file by its first bytes only: a byte order mark of UTF-16 or
  UTF-32, the signature of a compressed file (:data:`COMPRESSIONS`), or NUL bytes making up a
  quarter of the bytes (ASCII text in UTF-16 is half NULs, in UTF-32 three quarters). Runs of 8
  NULs or more do not count: they are the hole a writer without ``O_APPEND`` leaves when it keeps
  writing at its old offset after a copytruncate, in front of text. Anything else is text, however odd (invalid
  UTF-8, a UTF-8 byte order mark, binary noise): lines pass through to the parser, which counts
  what it cannot parse.
* Compressed files are told by their signature (:func:`compression_of`), whatever their name: a
  gzipped ``access.log.1`` is compressed, a text file named ``.gz`` is text. Following live, they
  are not read; a replay reads those the standard library decompresses (gzip, bzip2, xz), and
  the answer of :func:`text_problem` says so. Only glob patterns followed live go by the name
  (:func:`compression_named`): the compressed rotations they match are never opened.
"""

from __future__ import annotations

import importlib
import io
import os
import re
from typing import BinaryIO, Iterator, List, NamedTuple, Optional, Tuple, Union

from monilog.parsing.columns import LineBlock, has_long_line, newlines

DEFAULT_MAX_LINE_LENGTH = 1 << 20
"""Default cap on a line's length in bytes (1 MiB): longer lines are cut."""

DEFAULT_BLOCK_SIZE = 1 << 20
"""Default read size of :func:`read_lines` (1 MiB)."""

_SIGNATURES: Tuple[Tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "UTF-32"),  # before UTF-16 LE, whose byte order mark it starts with
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
"""Byte order marks that no text access log starts with, and the encodings they are the start of."""


class Compression(NamedTuple):
    """A compressed file format: how its files start and are named, and what reads them."""

    name: str
    """Its name in messages: ``"gzip"``."""
    suffix: str
    """How the names of its rotated logs end: ``".gz"``."""
    signature: "re.Pattern[bytes]"
    """Its files' first bytes."""
    module: Optional[str]
    """The standard library module whose ``open`` decompresses it (a replay reads it); None if none does."""

    @property
    def problem(self) -> str:
        """Why a file so compressed is not read as text (:func:`text_problem`'s answer)."""
        if self.module is None:
            return f"not a text access log ({self.name}-compressed?)"
        return f"compressed ({self.name}); use --replay to read it"

    def open(self, path: Union[str, BinaryIO]) -> io.BufferedIOBase:
        """``path`` (or a file open for reading) opened for reading its decompressed bytes (a format
        with a :attr:`module`).

        Concatenated streams (``cat access.log.2.gz access.log.1.gz``) read as one.
        """
        assert self.module is not None, f"no standard module reads {self.name}"
        stream: io.BufferedIOBase = importlib.import_module(self.module).open(path, "rb")
        return stream


COMPRESSIONS: Tuple[Compression, ...] = (
    Compression("gzip", ".gz", re.compile(rb"\x1f\x8b"), "gzip"),
    # bzip2: its magic and block size, then its first block's (or the end of stream's) header
    Compression("bzip2", ".bz2", re.compile(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)"), "bz2"),
    Compression("xz", ".xz", re.compile(rb"\xfd7zXZ\x00"), "lzma"),
    Compression("zstd", ".zst", re.compile(rb"\x28\xb5\x2f\xfd"), None),
    Compression("lz4", ".lz4", re.compile(rb"\x04\x22\x4d\x18"), None),
    Compression("zip", ".zip", re.compile(rb"PK\x03\x04"), None),
)
"""The compressed formats rotated logs come in."""

_HOLE = re.compile(rb"\x00{8,}")
"""A run of NUL bytes too long to be UTF-16 or UTF-32 text: a hole in a sparse file."""

_MIN_NUL_SAMPLE = 16
"""Bytes (holes left out) needed before the share of NUL bytes says anything."""


def compression_of(first_bytes: bytes) -> Optional[Compression]:
    """The compressed format of a file starting with ``first_bytes``, if it is compressed."""
    return next((kind for kind in COMPRESSIONS if kind.signature.match(first_bytes)), None)


def compression_named(path: str) -> Optional[Compression]:
    """The compressed format the name ``path`` ends like (``access.log.2.gz``), if any."""
    return next((kind for kind in COMPRESSIONS if path.endswith(kind.suffix)), None)


def text_problem(first_bytes: bytes) -> Optional[str]:
    """Why a file starting with ``first_bytes`` is not a text access log, or ``None`` if it may be.

    Pass the file's first bytes: a KiB or so (fewer than 16 bytes are judged only by their
    signature). The answer reads like ``"not a text access log (UTF-16?)"``, or
    ``"compressed (gzip); use --replay to read it"``, to be reported as is.
    """
    compressed = compression_of(first_bytes)
    if compressed is not None:
        return compressed.problem
    kind = next((name for signature, name in _SIGNATURES if first_bytes.startswith(signature)),
                None)
    if kind is None:
        sample = _HOLE.sub(b"", first_bytes)
        nuls = sample.count(0)
        if len(sample) >= _MIN_NUL_SAMPLE and 4 * nuls >= len(sample):
            kind = "UTF-32" if 5 * nuls >= 3 * len(sample) else "UTF-16"
    return None if kind is None else f"not a text access log ({kind}?)"


class LineSplitter:
    """Turn chunks of bytes into complete lines, keeping the unterminated remainder between calls.

    >>> splitter = LineSplitter()
    >>> splitter.feed(b"first\\nsec")
    [b'first']
    >>> splitter.feed(b"ond\\n")
    [b'second']
    """

    def __init__(self, max_line_length: int = DEFAULT_MAX_LINE_LENGTH) -> None:
        """Create a splitter cutting lines longer than ``max_line_length`` bytes (at least 1)."""
        if max_line_length < 1:
            raise ValueError(f"max_line_length must be at least 1, not {max_line_length}")
        self.max_line_length = max_line_length
        self.cut_lines = 0
        """How many lines were cut at ``max_line_length`` so far."""
        self._pending = bytearray()
        self._discarding = False

    @property
    def pending(self) -> int:
        """Number of bytes of the unterminated line kept so far."""
        return len(self._pending)

    @property
    def discarding(self) -> bool:
        """True while the rest of a cut (or skipped) line is discarded up to its newline."""
        return self._discarding

    def feed(self, data: bytes) -> list[bytes]:
        """Add a chunk and return the lines it completes, in order, without their newlines."""
        return list(self.feed_block(data))

    def feed_block(self, data: bytes, more: bool = False, backlog: bool = False) -> LineBlock:
        """:meth:`feed`, the lines kept as one block: no line is split from the others unless one
        is over the cap (a block of short lines is a slice of ``data``). ``more``: more data was
        waiting after ``data``; ``backlog``: ``data`` had waited to be read (the block's
        :attr:`~monilog.parsing.columns.LineBlock.more` and
        :attr:`~monilog.parsing.columns.LineBlock.backlog`)."""
        if self._discarding:
            newline = data.find(b"\n")
            if newline < 0:
                return LineBlock(b"", 0)
            self._discarding = False
            data = data[newline + 1:]
        last_newline = data.rfind(b"\n")
        if last_newline < 0:
            self._pending += data
            return self._block_of(self._cut_pending())
        if self._pending:
            self._pending += data[:last_newline + 1]
            block = bytes(self._pending)
            self._pending.clear()
        else:
            block = data[:last_newline + 1]
        cap = self.max_line_length
        if has_long_line(block, cap):
            lines = block[:-1].split(b"\n")
            self.cut_lines += sum(1 for line in lines if len(line) > cap)
            block = b"".join(line[:cap] + b"\n" for line in lines)
        self._pending += data[last_newline + 1:]
        cut = self._cut_pending()
        if cut:
            block += cut[0] + b"\n"
        return LineBlock(block, newlines(block), more, backlog)

    @staticmethod
    def _block_of(lines: List[bytes]) -> LineBlock:
        return LineBlock(b"".join(line + b"\n" for line in lines), len(lines))

    def skip_to_newline(self) -> None:
        """Drop the kept remainder and everything up to the next newline (when starting mid-line)."""
        self._pending.clear()
        self._discarding = True

    def flush(self) -> Optional[bytes]:
        """Return the unterminated remainder as the stream's last line (``None`` if there is none).

        Call it only when the stream has ended: the splitter starts afresh afterwards.
        """
        self._discarding = False
        if not self._pending:
            return None
        line = bytes(self._pending)
        self._pending.clear()
        return line

    def reset(self) -> int:
        """Forget the unterminated remainder (its stream was truncated); return how many bytes it had."""
        dropped = len(self._pending)
        self._pending.clear()
        self._discarding = False
        return dropped

    def _cut_pending(self) -> list[bytes]:
        """Cut the kept remainder if it already exceeds the cap, and discard the rest of its line."""
        if len(self._pending) <= self.max_line_length:
            return []
        line = bytes(self._pending[:self.max_line_length])
        self._pending.clear()
        self._discarding = True
        self.cut_lines += 1
        return [line]


def read_lines(
    source: Union[str, "os.PathLike[str]", int],
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    splitter: Optional[LineSplitter] = None,
) -> Iterator[bytes]:
    """Yield every line of a file from its start to its end, reading it in big blocks.

    ``source`` is a path, ``"-"`` for standard input, or an open file descriptor (not closed here).
    The last line is yielded even without a final newline. Pass your own ``splitter`` to choose the
    line-length cap and to read its :attr:`~LineSplitter.cut_lines` afterwards.
    """
    if block_size < 1:
        raise ValueError(f"block_size must be at least 1, not {block_size}")
    if splitter is None:
        splitter = LineSplitter()
    if source == "-":
        source = 0
    with open(source, "rb", buffering=0, closefd=not isinstance(source, int)) as stream:
        while True:
            block = stream.read(block_size)
            if not block:
                break
            yield from splitter.feed(block)
    last = splitter.flush()
    if last is not None:
        yield last
