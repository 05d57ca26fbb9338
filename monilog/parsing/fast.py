"""Fast parsing of whole blocks of Common and Combined lines, for replays.

The reference :class:`~monilog.parsing.parser.LogParser` turns one line into one
:class:`~monilog.parsing.record.LogRecord` (about 2.5 µs a line). A replay needs far less per
line: who asked (host and user), when (the second), what (method and section), the status and
the size. :func:`parse_block` gets exactly that for a whole block of lines with one compiled
regex over the bytes (``findall``), as five columns of byte strings, and leaves decoding to
the distinct keys (:func:`decode_who`, :func:`decode_request`, :func:`decode_stamp`), which
are few: a busy log repeats its clients, sections and seconds.

Identical results by construction
---------------------------------
The fast pattern is a strict subset of the reference grammar: it accepts a line only when the
reference parser accepts it with the same fields. Single spaces between fields; host, ident,
user, method and section in printable ASCII (host not starting with ``#``, user not quoted);
a request ``METHOD /section[/?#…] HTTP/…`` without spaces, quotes or backslashes; a status from
100; a size of digits or ``-``; for Combined a quoted referer and user agent, anything after.
Every field is bounded so that a matched line is shorter than the reference's
:data:`~monilog.parsing.parser.MAX_LINE_LENGTH`. Any other line (absolute-URL targets, quoted
users, doubled spaces, non-ASCII keys, malformed lines, blank lines...) is handed to the
reference parser itself, so the outcome for it, record or skip reason, is the reference's.

The block pattern lets quoted fields cross newlines (the fastest form for the regex engine) and
is used only on blocks without backslashes; a block where it does not match exactly one time
per line is parsed again match by match with the strict, single-line form, lines between
matches going to the reference parser. A timestamp the fast pattern took but the calendar
refuses (31 February) is skipped as ``bad timestamp``, as the reference does.

``#`` lines are directives: they may switch a parser to W3C, so :attr:`ParsedBlock.directives`
tells the caller to parse such a block with its own stateful parser instead.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from monilog.parsing.clf import STATUS_CODES
from monilog.parsing.parser import LogParser
from monilog.parsing.record import ParseError
from monilog.parsing.timestamps import clf_timestamp

FAST_FORMATS = ("auto", "common", "combined")
"""Formats :func:`parse_block` reads (``auto`` as Common with an optional Combined tail)."""

WhoKey = Union[bytes, Tuple[str, str]]
"""``b"host ident user"`` as logged, or ``(host, user)`` from the reference parser."""
RequestKey = Union[bytes, Tuple[str, str]]
"""``b"METHOD /section"`` as logged, or ``(method, section)`` from the reference parser."""
StampKey = Union[bytes, Tuple[int, tzinfo]]
"""The timestamp text as logged, or ``(epoch second, zone)`` from the reference parser."""


class ParsedBlock(NamedTuple):
    """The records of a block of lines as five parallel columns, plus what was not a record.

    The column entries are keys to decode with :func:`decode_who`, :func:`decode_request`,
    :func:`decode_stamp`, :func:`decode_status` and :func:`decode_sizes`.
    """

    lines: int
    """Lines in the block (records, skipped, blank and ``#`` lines)."""
    who: Sequence[WhoKey]
    stamps: Sequence[StampKey]
    requests: Sequence[RequestKey]
    statuses: Sequence[bytes]
    sizes: Sequence[bytes]
    skipped: List[Tuple[int, str]]
    """``(index of the next record, reason)`` of each skipped line, in order."""
    directives: bool
    """Whether a line starts with ``#`` (then the block must go through a stateful parser)."""


def _pattern(combined: bool, strict: bool) -> "re.Pattern[bytes]":
    not_in = (lambda chars: b"[^" + chars + b"\\n]") if strict else (lambda chars: b"[^" + chars + b"]")
    quoted = b'"' + not_in(b'"\\\\' if strict else b'"') + b'{0,8192}"'
    if combined:
        end = b" " + quoted + b" " + quoted + b"[^\\n]{0,16384}$"
    else:
        end = b"(?:[ \\t\\r\\f\\v][^\\n]{0,16384})?$"
    return re.compile(
        b"^([!-\"$-~][!-~]{0,254} [!-~]{1,255} [!#-~]{1,255})"  # host ident user
        b" \\[(" + not_in(b"\\]") + b"{26})\\]"  # timestamp text
        b' "([!#-\\[\\]-~]{1,32} /[!$-.0->@-\\[\\]-~]{0,2047})'  # method and section
        b"(?:[/?#]" + not_in(b' "\\\\') + b"{0,8191})?"  # rest of the target
        b" HTTP/" + not_in(b' "\\\\') + b'{0,32}"'  # protocol
        b" ([1-9]\\d\\d) (\\d{1,18}|-)" + end,  # status and size
        re.MULTILINE,
    )


_BLOCK_PATTERNS = {fmt: _pattern(fmt == "combined", strict=False) for fmt in FAST_FORMATS}
_STRICT_PATTERNS = {fmt: _pattern(fmt == "combined", strict=True) for fmt in FAST_FORMATS}
_REFERENCE_PARSERS: Dict[str, LogParser] = {}

_STATUS_CODES = {text.encode(): code for text, code in STATUS_CODES.items()}
_DASH = b"-"


def count_lines(block: bytes) -> int:
    """Lines in ``block``: its newlines, plus an unterminated last line."""
    return block.count(b"\n") + (1 if block and not block.endswith(b"\n") else 0)


def parse_block(block: bytes, fmt: str = "auto") -> ParsedBlock:
    """Parse a block of whole lines (split at ``\\n``, like :mod:`monilog.watcher.lines`).

    ``fmt`` is one of :data:`FAST_FORMATS`. The records come out in line order; see the module
    documentation for why they equal the reference parser's.
    """
    if fmt not in FAST_FORMATS:
        raise ValueError(f"the fast parser reads {', '.join(FAST_FORMATS)}, not {fmt!r}")
    lines = count_lines(block)
    if b"\\" not in block:
        rows = _BLOCK_PATTERNS[fmt].findall(block)
        if len(rows) == lines:
            who, stamps, requests, statuses, sizes = zip(*rows) if rows else ((),) * 5
            try:
                for stamp in set(stamps):
                    decode_stamp(stamp)
            except ValueError:
                pass  # a refused date: parse line by line to skip exactly that line
            else:
                return ParsedBlock(lines, who, stamps, requests, statuses, sizes, [], False)
    return _parse_lines(block, fmt, lines)


def _parse_lines(block: bytes, fmt: str, lines: int) -> ParsedBlock:
    """The careful way: strict matches, the reference parser for every line in between."""
    rows: List[tuple] = []
    skipped: List[Tuple[int, str]] = []
    stamp_ok: Dict[bytes, bool] = {}
    parser = _REFERENCE_PARSERS.get(fmt)
    if parser is None:
        parser = _REFERENCE_PARSERS[fmt] = LogParser(fmt)
    directives = False

    def reference(chunk: bytes) -> None:
        nonlocal directives
        for line in chunk.split(b"\n"):
            if line.startswith(b"#"):
                directives = True
                continue
            try:
                record = parser.parse(line)
            except ParseError as error:
                skipped.append((len(rows), error.reason))
                continue
            if record is not None:
                rows.append((
                    (record.host, record.user), (record.epoch, record.time.tzinfo),
                    (record.method, record.section), b"%d" % record.status, b"%d" % record.size,
                ))

    position = 0
    for match in _STRICT_PATTERNS[fmt].finditer(block):
        start = match.start()
        if start > position:
            reference(block[position:start - 1])
        row = match.groups()
        stamp = row[1]
        valid = stamp_ok.get(stamp)
        if valid is None:
            try:
                decode_stamp(stamp)
                valid = True
            except ValueError:
                valid = False
            stamp_ok[stamp] = valid
        if valid:
            rows.append(row)
        else:
            skipped.append((len(rows), "bad timestamp"))
        position = match.end() + 1
    if position < len(block):
        rest = block[position:]
        reference(rest[:-1] if rest.endswith(b"\n") else rest)
    who, stamps, requests, statuses, sizes = zip(*rows) if rows else ((),) * 5
    return ParsedBlock(lines, who, stamps, requests, statuses, sizes, skipped, directives)


def decode_who(key: WhoKey) -> Tuple[str, str]:
    """``(host, user)`` of a ``who`` key; ``-`` becomes ``""`` as in the reference parser."""
    if type(key) is not bytes:
        return key  # type: ignore[return-value]
    host, _, user = key.split(b" ")
    return ("" if host == _DASH else host.decode("ascii"), "" if user == _DASH else user.decode("ascii"))


def decode_request(key: RequestKey) -> Tuple[str, str]:
    """``(method, section)`` of a request key."""
    if type(key) is not bytes:
        return key  # type: ignore[return-value]
    method, section = key.split(b" ", 1)
    return method.decode("ascii"), section.decode("ascii")


def decode_stamp(key: StampKey) -> Tuple[int, tzinfo]:
    """``(epoch second, zone)`` of a timestamp key; ValueError for a date that does not exist."""
    if type(key) is not bytes:
        return key  # type: ignore[return-value]
    moment, epoch = clf_timestamp(key.decode("ascii"))
    return epoch, moment.tzinfo  # type: ignore[return-value]


def decode_status(key: bytes) -> int:
    """The status code of a status key."""
    return _STATUS_CODES[key]


def decode_sizes(keys: Sequence[bytes]) -> List[int]:
    """The byte counts of size keys (``-`` is 0)."""
    try:
        return list(map(int, keys))
    except ValueError:
        return [0 if key == _DASH else int(key) for key in keys]


def fields(parsed: ParsedBlock, index: int) -> Tuple[str, str, str, str, int, int, int, Optional[tzinfo]]:
    """The decoded fields of record ``index``: host, user, method, section, status, size, epoch, zone.

    For checks and diagnostics; the replay decodes distinct keys only.
    """
    host, user = decode_who(parsed.who[index])
    method, section = decode_request(parsed.requests[index])
    epoch, zone = decode_stamp(parsed.stamps[index])
    return (host, user, method, section, decode_status(parsed.statuses[index]),
            decode_sizes([parsed.sizes[index]])[0], epoch, zone)
