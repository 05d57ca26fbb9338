"""Parsed lines as columns of keys, and how a format's keys decode: what every block parser returns.

A block parser (:mod:`monilog.parsing.block` for Common/Combined, :mod:`monilog.parsing.logformat`
for the formats it compiles) turns a block of lines into a :class:`ParsedBlock`: parallel columns
whose entries are *keys*, the bytes of a field as logged, decoded only once per distinct key by
the block's :class:`KeyDecoder` (a busy log repeats its clients, targets and seconds). Counting
(:mod:`monilog.accumulation.aggregate`) reads columns through the decoder and knows no format.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import tzinfo
from operator import itemgetter
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, TypeVar, Union, overload

from monilog.accelerator import speedups
from monilog.parsing import section
from monilog.parsing.record import LogRecord, ParseError


class KeyDecoder:
    """How the keys of one format's columns decode; each instance caches what it decoded.

    Subclasses implement the ``who``, ``request`` and ``stamp`` decoders; the others have the
    meaning shared by every format.
    """

    CACHE_LIMIT = 1 << 13
    """Distinct keys kept per kind; a cache starts afresh past this (hostile cardinality). Keys
    are counted per distinct key of a block anyway, so the cache only saves decoding a key seen
    in an earlier block: 8,192 holds every client and target of an ordinary busy log, and keeps
    the caches of a log of random paths and clients at about 2 MB a process."""

    def __init__(self) -> None:
        self.who_cache: Dict[Any, Tuple[str, str]] = {}
        self.request_cache: Dict[Any, Tuple[str, str]] = {}

    def who(self, key: Any) -> Tuple[str, str]:
        """``(host, user)`` of a ``who`` key; ``-`` is ``""``."""
        raise NotImplementedError

    def request(self, key: Any) -> Tuple[str, str]:
        """``(method, section)`` of a request key: its :meth:`method_target`, the section by
        :func:`~monilog.parsing.section.section_of`."""
        method, target = self.method_target(key)
        return method, section.section_of(target)

    def method_target(self, key: Any) -> Tuple[str, str]:
        """``(method, target)`` of a request key, the target as logged (a missing method is ``""``)."""
        raise NotImplementedError

    def with_client(self, key: Any, client: str) -> Any:
        """The ``who`` key ``key`` with ``client`` for its host (the real client behind a proxy);
        this form is for ``(host, user)`` keys, of bytes or of text."""
        return (client.encode() if isinstance(key[0], bytes) else client), key[1]

    def decode_whos(self, keys: List[Any]) -> Tuple[List[str], List[str]]:
        """The hosts and the users of :meth:`who` of each key, in order, as two columns (the
        distinct keys of a block, decoded at once; counting reads them as columns)."""
        return split_pairs(list(map(self.who, keys)))

    def decode_requests(self, keys: List[Any]) -> Tuple[List[str], List[str]]:
        """The methods and the sections of :meth:`request` of each key, in order, as two columns
        (the distinct keys of a block, decoded at once: their sections cut together, by
        :func:`~monilog.parsing.section.sections_of`)."""
        methods, targets = split_pairs(list(map(self.method_target, keys)))
        return methods, section.sections_of(targets)

    def stamp(self, key: Any) -> Tuple[int, tzinfo]:
        """``(epoch second, zone)`` of a timestamp key; ValueError for a time that does not exist."""
        raise NotImplementedError

    def sizes(self, keys: Sequence[bytes]) -> List[int]:
        """The byte counts of size keys (``-`` is 0)."""
        try:
            return list(map(int, keys))
        except ValueError:  # some are "-": turn them into 0 in one pass over joined bytes
            return list(map(int, b" ".join(keys).replace(b"-", b"0").split(b" ")))

    def target(self, key: Any) -> str:
        """The request target of a request key, as logged: its :meth:`method_target`'s."""
        return self.method_target(key)[1]

    def agent(self, key: Any) -> str:
        """The user agent of an agent key (``-`` is ``""``)."""
        if type(key) is str:
            return key
        return "" if key == b"-" else key.decode("utf-8", "replace")

    def vhost(self, key: Any) -> str:
        """The virtual host of a vhost key (``-`` is ``""``; text is a vhost given otherwise, e.g. a file name)."""
        if type(key) is str:
            return key
        return "" if key == b"-" else key.decode("utf-8", "replace")

    def durations(self, keys: Sequence[Any]) -> List[Optional[float]]:
        """Seconds of duration keys; None where nothing was logged. By default the keys are
        seconds already (records, JSON); a format that keeps the text as logged decodes it."""
        return list(keys)

    def upstreams(self, keys: Sequence[Any]) -> List[Optional[float]]:
        """Seconds of upstream-time keys (tries added); None where nothing was logged. By default,
        as :meth:`durations`, seconds already."""
        return list(keys)

    def limit_caches(self) -> None:
        """Start the caches afresh when they hold more than :attr:`CACHE_LIMIT` keys."""
        if len(self.who_cache) > self.CACHE_LIMIT:
            self.who_cache.clear()
        if len(self.request_cache) > self.CACHE_LIMIT:
            self.request_cache.clear()


def split_pairs(pairs: Sequence[Tuple[str, str]]) -> Tuple[List[str], List[str]]:
    """The first and the second items of ``pairs``, as two lists."""
    return list(map(itemgetter(0), pairs)), list(map(itemgetter(1), pairs))


class LineFormat(KeyDecoder):
    """A format read by a block parser of its own (compiled strings, JSON): its name, and how it
    reads a block and a line."""

    name: str

    def parse_block(self, block: bytes, max_line_length: int) -> ParsedBlock:
        """The columns of a block of whole lines; lines it cannot read are skipped with a reason."""
        raise NotImplementedError

    def record(self, line: bytes, max_line_length: int) -> Optional[LogRecord]:
        """One line as a record (None for a blank or ``#`` line); ParseError for a bad one."""
        raise NotImplementedError

    def without_agents(self) -> LineFormat:
        """The format to parse blocks with when no filter reads user agents (this one, unless a
        format can leave them unread for less)."""
        return self


class ParsedBlock(NamedTuple):
    """The records of a block of lines as parallel columns, plus what was not a record."""

    lines: int
    """Lines in the block (records, skipped, blank and ``#`` lines)."""
    who: Sequence[Any]
    stamps: Sequence[Any]
    requests: Sequence[Any]
    statuses: Sequence[Any]
    sizes: Sequence[Any]
    skipped: List[Tuple[int, str]]
    """``(index of the next record, reason)`` of each skipped line, in order."""
    keys: KeyDecoder
    """How this block's keys decode."""
    durations: Optional[Sequence[Any]] = None
    """Request durations as logged, when the format has them."""
    upstreams: Optional[Sequence[Any]] = None
    """Upstream response times as logged, when the format has them."""
    vhosts: Optional[Sequence[Any]] = None
    """Virtual hosts as logged, when the format has them."""
    agents: Optional[Sequence[Any]] = None
    """User agents, when the format has them and a filter reads them."""
    forwarded: Optional[Sequence[Any]] = None
    """X-Forwarded-For headers as logged, when the format has them."""


_OPTIONAL_COLUMNS = ("durations", "upstreams", "vhosts", "agents", "forwarded")


def joined(blocks: Sequence[ParsedBlock]) -> Optional[ParsedBlock]:
    """The blocks as one, as if their lines had been parsed together: columns end to end, the
    skipped lines' record indices moved on. None when they do not join: their keys decode
    differently, or a column is present in some and not in others."""
    if len(blocks) == 1:
        return blocks[0]
    first = blocks[0]
    present = [name for name in _OPTIONAL_COLUMNS if getattr(first, name) is not None]
    if any(block.keys is not first.keys or [name for name in _OPTIONAL_COLUMNS if getattr(block, name) is not None] != present
           for block in blocks):
        return None
    columns: Dict[str, List[Any]] = {name: [] for name in ("who", "stamps", "requests", "statuses", "sizes", *present)}
    skipped: List[Tuple[int, str]] = []
    for block in blocks:
        records = len(columns["stamps"])
        skipped.extend((index + records, reason) for index, reason in block.skipped)
        for name, column in columns.items():
            column.extend(getattr(block, name))
    changes: Dict[str, Any] = dict(columns, lines=sum(block.lines for block in blocks), skipped=skipped)
    return first._replace(**changes)


def split_block(block: ParsedBlock, index: int) -> Tuple[ParsedBlock, ParsedBlock]:
    """The block's records before ``index`` and from it on, as two blocks that :func:`joined`
    gives back: the first has the lines skipped before its records and every line read (its
    ``lines``); the second, the lines skipped from record ``index`` on and no line of its own."""
    present = [name for name in _OPTIONAL_COLUMNS if getattr(block, name) is not None]
    names = ("who", "stamps", "requests", "statuses", "sizes", *present)
    cut = bisect_left([record for record, _ in block.skipped], index)
    head = block._replace(skipped=block.skipped[:cut], **{name: getattr(block, name)[:index] for name in names})
    tail = block._replace(lines=0, skipped=[(record - index, reason) for record, reason in block.skipped[cut:]],
                          **{name: getattr(block, name)[index:] for name in names})
    return head, tail


Text = TypeVar("Text", str, bytes)


class SplitOnUse(Sequence[Text]):
    """The lines of one text as a sequence, split the first time one is read (:class:`LineBlock`,
    and an overflow's :class:`~monilog.accumulation.overflow.PackedKeys`): its length is known
    without splitting. Subclasses set ``_count`` and say how the text splits (:meth:`_split`)."""

    __slots__ = ()
    _count: int

    def _split(self) -> List[Text]:
        raise NotImplementedError

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Text: ...

    @overload
    def __getitem__(self, index: slice) -> List[Text]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[Text, List[Text]]:
        return self._split()[index]

    def __iter__(self) -> Iterator[Text]:
        return iter(self._split())

    def __contains__(self, item: object) -> bool:
        return item in self._split()


class LineBlock(SplitOnUse[bytes]):
    """Lines read together, kept as the one block of bytes they came in: what the engine parses,
    so that following live splits no line only to join the lines again (the watcher hands these
    over, :meth:`~monilog.watcher.LineSplitter.feed_block`). It is the sequence of its
    lines (without their newlines) for any other consumer, split on first use.

    >>> block = LineBlock(b"first\\nsecond\\n", 2)
    >>> len(block), block[1], list(block) == [b"first", b"second"]
    (2, b'second', True)
    """

    __slots__ = ("_count", "_lines", "backlog", "data", "more")

    def __init__(self, data: bytes, count: int, more: bool = False, backlog: bool = False) -> None:
        """``data``: ``count`` whole lines, each ended by a newline."""
        self.data = data
        """The lines, each ended by ``b"\\n"``."""
        self.more = more
        """Whether more lines were waiting when these were read (a read that filled its buffer): a
        consumer may keep the last of them to read with the next block."""
        self.backlog = backlog
        """Whether these lines had waited to be read (a file read from its start, a stream's
        history, what was written while the reader was stopped or behind): the last of them tells
        only a time the log has passed. Lines read soon after a read that had reached the end were
        written since, and the last of them tells the log's time now."""
        self._count = count
        self._lines: Optional[List[bytes]] = None

    def _split(self) -> List[bytes]:
        if self._lines is None:
            self._lines = self.data[:-1].split(b"\n") if self._count else []
        return self._lines

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LineBlock):
            return self.data == other.data
        return isinstance(other, Sequence) and not isinstance(other, (bytes, str)) and self._split() == list(other)

    __hash__ = None  # type: ignore[assignment]  # equal to lists of its lines, which do not hash

    def __repr__(self) -> str:
        return f"LineBlock({self._split()!r})"


Row = TypeVar("Row")


def rows_of(block: bytes, read: Callable[[bytes], Optional[Row]]) -> Tuple[List[Row], List[Tuple[int, str]]]:
    """Each line of ``block`` read by ``read`` (None: not a record; ParseError: skipped), in order:
    the rows, and ``(index of the next row, reason)`` of each skipped line."""
    rows: List[Row] = []
    skipped: List[Tuple[int, str]] = []
    lines = block.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the empty string after the last newline is not a line
    for line in lines:
        try:
            row = read(line)
        except ParseError as error:
            skipped.append((len(rows), error.reason))
            continue
        if row is not None:
            rows.append(row)
    return rows, skipped


def newlines_python(data: bytes) -> int:
    """The newlines in ``data``: the reference of the C accelerator's ``newlines``."""
    return data.count(b"\n")


def newlines(data: bytes) -> int:
    """As :func:`newlines_python`, by the C accelerator when it is built: one ``memchr`` a line
    rather than a test a byte, a tenth of a microsecond a line less for the watcher and parsers,
    which count the lines of every block they read."""
    counted = speedups.newlines(data) if speedups is not None else None
    return newlines_python(data) if counted is None else counted


def count_lines(block: bytes) -> int:
    """Lines in ``block``: its newlines, plus an unterminated last line."""
    return newlines(block) + (1 if block and not block.endswith(b"\n") else 0)


def has_long_line(block: bytes, limit: int) -> bool:
    """Whether a line of ``block`` may be longer than ``limit`` bytes (its newline not counted).

    It hops from line start to line start, each time to the last newline within ``limit`` bytes
    (no line in between can be longer), so a block of short lines costs a few searches per
    ``limit`` bytes instead of a split into lines. A line of ``limit`` bytes before ``\r\n`` is
    reported too: the caller then reads the block line by line, which decides exactly.
    """
    start, size = 0, len(block)
    while size - start > limit:
        newline = block.rfind(b"\n", start, start + limit + 1)
        if newline < 0:
            return True
        start = newline + 1
    return False


def has_hash_line(block: bytes) -> bool:
    """Whether a line of ``block`` starts with ``#`` (a W3C directive, a comment). Looking for
    ``\n#`` costs 25 times what finding no ``#`` at all costs, so it is done only after one."""
    return b"#" in block and (block.startswith(b"#") or b"\n#" in block)
