"""The block parser: whole blocks of lines to columns, for following live and for replays alike.

The reference :class:`~monilog.parsing.parser.LogParser` turns one line into one
:class:`~monilog.parsing.record.LogRecord` (about 2.5 µs a line). Counting needs far less per
line: who asked (host and user), when (the second), what (method and target), the status and
the size. :func:`parse_block` gets exactly that for a whole block of lines with one compiled
regex over the bytes (``findall``, or the C accelerator's scan of the same pattern:
:func:`scan`), as five columns of byte strings, and leaves decoding to
the distinct keys (:func:`decode_who`, :func:`decode_request`, :func:`decode_stamp`), which
are few: a busy log repeats its clients, targets and seconds. The section of a target is
:func:`~monilog.parsing.section.section_of`'s, applied to each distinct target: the section
rule has no second copy here.

Identical results by construction
---------------------------------
The fast pattern (Common and Combined, and ``auto`` before any W3C sign) is a strict subset of
the reference grammar: it accepts a line only when the reference parser accepts it with the
same fields. Single spaces between fields; host, ident, user, method and target in printable
ASCII (host not starting with ``#``, user not quoted); a request ``METHOD /target HTTP/…``
without spaces, quotes or backslashes; a status from 100; a size of digits or ``-``; for
Combined a quoted referer and user agent, anything after. Every field is bounded so that a
matched line is shorter than the reference's :data:`~monilog.parsing.parser.MAX_LINE_LENGTH`.
Any other line (absolute-URL targets, quoted users, doubled spaces, non-ASCII keys, malformed
lines, blank lines, directives...) is handed to the source's own parser, so the outcome for it,
record or skip reason, is the reference's, and a ``#Fields:`` directive updates the parser's
state as it would line by line. Once a parser reads W3C, every line goes through it.

The block pattern lets quoted fields cross newlines (the fastest form for the regex engine) and
is used only on blocks without backslashes or ``#`` lines; a block where it does not match
exactly one time per line is parsed again match by match with the strict, single-line form,
lines between matches going to the source's parser. A timestamp the fast pattern took but the
calendar refuses (31 February) is skipped as ``bad timestamp``, as the reference does.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from monilog.accelerator import speedups
from monilog.parsing import section
from monilog.parsing.clf import STATUS_CODES
from monilog.parsing.columns import KeyDecoder, ParsedBlock, count_lines, has_hash_line, split_pairs
from monilog.parsing.parser import LogParser
from monilog.parsing.record import LogRecord, ParseError
from monilog.parsing.timestamps import clf_timestamp

FAST_FORMATS = ("auto", "common", "combined")
"""Formats the fast pattern reads (``auto`` as Common with an optional Combined tail); W3C lines
go through the source's parser, one by one, and compiled formats (:mod:`monilog.parsing.logformat`)
through their own pattern."""
FAST_DETECTED = ("clf", "common", "combined")
"""What :attr:`LogParser.detected` says while the fast pattern applies."""

WhoKey = Union[bytes, Tuple[str, str]]
"""``b"host ident user"`` as logged, or ``(host, user)`` from the reference parser."""
RequestKey = Union[bytes, Tuple[str, str, str]]
"""``b"METHOD /target"`` as logged, or ``(method, section, target)`` from the reference parser."""
StampKey = Union[bytes, Tuple[int, tzinfo]]
"""The timestamp text as logged, or ``(epoch second, zone)`` from the reference parser."""


def _pattern(combined: bool, strict: bool) -> "re.Pattern[bytes]":
    def not_in(chars: bytes) -> bytes:
        return b"[^" + chars + (b"\\n]" if strict else b"]")

    quoted = b'"' + not_in(b'"\\\\' if strict else b'"') + b'{0,8192}"'
    if combined:
        end = b" " + quoted + b" " + quoted + b"[^\\n]{0,16384}$"
    else:
        end = b"(?:[ \\t\\r\\f\\v][^\\n]{0,16384})?$"
    return re.compile(
        b"^([!-\"$-~][!-~]{0,254} [!-~]{1,255} [!#-~]{1,255})"  # host ident user
        b" \\[(" + not_in(b"\\]") + b"{26})\\]"  # timestamp text
        b' "([!#-\\[\\]-~]{1,32} /[!#-\\[\\]-~]{0,10238})'  # method and target
        b" HTTP/" + not_in(b' "\\\\') + b'{0,32}"'  # protocol
        b" ([1-9]\\d\\d) (\\d{1,18}|-)" + end,  # status and size
        re.MULTILINE,
    )


_BLOCK_PATTERNS = {fmt: _pattern(fmt == "combined", strict=False) for fmt in FAST_FORMATS}
_STRICT_PATTERNS = {fmt: _pattern(fmt == "combined", strict=True) for fmt in FAST_FORMATS}

_STATUS_CODES = {text.encode(): code for text, code in STATUS_CODES.items()}


def parse_block(block: bytes, parser: LogParser) -> ParsedBlock:
    """Parse a block of whole lines (split at ``\\n``, like :mod:`monilog.watcher.lines`) of one source.

    ``parser`` is the source's own parser: it reads the lines the fast pattern does not, and
    keeps what the source told it (W3C directives, whether it is a Common/Combined log). The
    records come out in line order; see the module documentation for why they equal the
    reference parser's.
    """
    fmt = parser.fmt
    if parser.undecided:
        parser.detect(_first_line(block))
    reading = parser.reading
    compiled = parser.compiled
    if compiled is not None:
        if not reading.needs_agents:
            compiled = compiled.without_agents()
        return reading.apply(compiled.parse_block(block, parser.max_line_length), parser.source)
    if fmt not in FAST_FORMATS or parser.detected == "w3c" or reading.needs_agents:
        return reading.apply(_parse_with(parser, block.split(b"\n") if block else [], count_lines(block)), parser.source)
    if b"\\" not in block and not has_hash_line(block):
        columns = scan(block, fmt == "combined")
        if columns is not None:
            who, stamps, requests, statuses, sizes = columns
            lines = len(stamps)
            try:
                for stamp in set(stamps):
                    decode_stamp(stamp)
            except ValueError:
                pass  # a refused date: parse line by line to skip exactly that line
            else:
                if lines:
                    parser.clf_seen = True
                return reading.apply(ParsedBlock(lines, who, stamps, requests, statuses, sizes, [], LINE_KEYS), parser.source)
    return reading.apply(_parse_lines(block, parser, count_lines(block)), parser.source)


Columns = Tuple[Sequence[bytes], Sequence[bytes], Sequence[bytes], Sequence[bytes], Sequence[bytes]]
"""``(who, stamps, requests, statuses, sizes)`` of a block, one entry a line."""


def scan_regex(block: bytes, combined: bool) -> Optional[Columns]:
    """The columns of a block of lines (without backslashes or ``#`` lines), by the fast pattern
    (the Combined one if ``combined``), or None when it does not match every line.

    This is the reference of :func:`scan`: the C accelerator's ``scan_clf`` gives the same
    columns (equal keys as one object) or None for the same blocks.
    """
    rows = _BLOCK_PATTERNS["combined" if combined else "common"].findall(block)
    if len(rows) != count_lines(block):
        return None
    return tuple(zip(*rows)) if rows else ((),) * 5  # type: ignore[return-value]  # five columns


scan: Callable[[bytes, bool], Optional[Columns]] = speedups.scan_clf if speedups is not None else scan_regex
"""The block scan :func:`parse_block` uses: the C accelerator's, or :func:`scan_regex`."""


def _first_line(block: bytes) -> bytes:
    """The first line of a block that is not blank or a ``#`` line (empty if there is none)."""
    for line in block[:65536].split(b"\n"):
        if line.strip() and not line.startswith(b"#"):
            return line
    return b""


def parse_records(records: Iterable[LogRecord]) -> ParsedBlock:
    """The columns of records parsed elsewhere (by a :class:`LogParser`, or made by a program)."""
    collected = _Rows()
    for record in records:
        collected.add(record)
    return collected.block(len(collected.rows))


def _record_row(record: LogRecord) -> Tuple[WhoKey, StampKey, RequestKey, bytes, bytes]:
    zone = record.time.tzinfo
    assert zone is not None  # records carry their line's UTC offset
    return (
        (record.host, record.user), (record.epoch, zone),
        (record.method, record.section, record.target), b"%d" % record.status, b"%d" % record.size,
    )


class _Rows:
    """Rows and skipped lines collected by the careful paths."""

    def __init__(self, agents: bool = False) -> None:
        self.rows: List[Tuple[WhoKey, StampKey, RequestKey, bytes, bytes]] = []
        self.skipped: List[Tuple[int, str]] = []
        self.extras: Dict[int, Tuple[str, Optional[float], Optional[float]]] = {}
        """``(vhost, duration, upstream)`` of the records that have any, by row."""
        self.agents: Optional[List[str]] = [] if agents else None
        """User agents, by row, when a filter reads them."""

    def add(self, record: LogRecord) -> None:
        """Add a record parsed elsewhere."""
        if record.vhost or record.duration is not None or record.upstream is not None:
            self.extras[len(self.rows)] = (record.vhost, record.duration, record.upstream)
        self.rows.append(_record_row(record))
        if self.agents is not None:
            self.agents.append(record.user_agent)

    def reference(self, parser: LogParser, lines: Iterable[bytes]) -> None:
        """Parse ``lines`` with the source's parser."""
        skipped, parse = self.skipped, parser.parse
        for line in lines:
            try:
                record = parse(line)
            except ParseError as error:
                skipped.append((len(self.rows), error.reason))
                continue
            if record is not None:
                self.add(record)

    def block(self, lines: int) -> ParsedBlock:
        who, stamps, requests, statuses, sizes = zip(*self.rows) if self.rows else ((),) * 5
        if not self.extras:
            return ParsedBlock(lines, who, stamps, requests, statuses, sizes, self.skipped, LINE_KEYS, agents=self.agents)
        none = ("", None, None)
        vhosts, durations, upstreams = zip(*(self.extras.get(row, none) for row in range(len(self.rows))))
        return ParsedBlock(lines, who, stamps, requests, statuses, sizes, self.skipped, LINE_KEYS,
                           durations, upstreams, vhosts, self.agents)


def _parse_with(parser: LogParser, lines: List[bytes], count: int) -> ParsedBlock:
    if lines and not lines[-1]:
        lines.pop()  # the empty string after the last newline is not a line
    rows = _Rows(agents=parser.reading.needs_agents)
    rows.reference(parser, lines)
    return rows.block(count)


def _parse_lines(block: bytes, parser: LogParser, lines: int) -> ParsedBlock:
    """The careful way: strict matches, the source's parser for every line in between."""
    rows = _Rows()
    stamp_ok: Dict[bytes, bool] = {}
    pattern = _STRICT_PATTERNS[parser.fmt]
    position = 0
    while position < len(block):
        match = pattern.search(block, position)
        start = len(block) if match is None else match.start()
        if start > position:
            between = block[position:start]
            rows.reference(parser, (between[:-1] if between.endswith(b"\n") else between).split(b"\n"))
            if parser.detected not in FAST_DETECTED:  # it switched (a directive; vhost_combined): the rest its way
                rest = block[start:]
                rows.reference(parser, (rest[:-1] if rest.endswith(b"\n") else rest).split(b"\n") if rest else [])
                break
        if match is None:
            break
        row: Tuple[bytes, bytes, bytes, bytes, bytes] = match.groups()  # type: ignore[assignment]  # five groups
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
            rows.rows.append(row)
            parser.clf_seen = True
        else:
            rows.skipped.append((len(rows.rows), "bad timestamp"))
        position = match.end() + 1
    return rows.block(lines)


def decode_who(key: WhoKey) -> Tuple[str, str]:
    """``(host, user)`` of a ``who`` key; ``-`` becomes ``""`` as in the reference parser."""
    if type(key) is not bytes:
        return key  # type: ignore[return-value]
    host, _, user = key.decode("ascii").split(" ", 2)  # one decode: the pattern allows only ASCII here
    return ("" if host == "-" else host, "" if user == "-" else user)


def decode_request(key: RequestKey) -> Tuple[str, str]:
    """``(method, section)`` of a request key, the section by :func:`section_of` (a record's key
    carries the section its parser cut)."""
    if type(key) is not bytes:
        return key[:2]  # type: ignore[return-value]
    method, target = decode_method_target(key)
    return method, section.section_of(target)


def decode_method_target(key: RequestKey) -> Tuple[str, str]:
    """``(method, target)`` of a request key, the target as logged."""
    if type(key) is not bytes:
        return key[0], key[2]  # type: ignore[return-value]
    method, target = key.decode("ascii").split(" ", 1)  # one decode: the pattern allows only ASCII here
    return method, target


def decode_stamp(key: StampKey) -> Tuple[int, tzinfo]:
    """``(epoch second, zone)`` of a timestamp key; ValueError for a date that does not exist."""
    if type(key) is not bytes:
        return key  # type: ignore[return-value]
    moment, epoch = clf_timestamp(key.decode("ascii"))
    return epoch, moment.tzinfo  # type: ignore[return-value]


def decode_status(key: bytes) -> int:
    """The status code of a status key."""
    return _STATUS_CODES[key]


def decode_statuses(keys: Iterable[bytes]) -> List[int]:
    """:func:`decode_status` of each key (without a Python call per key)."""
    return list(map(_STATUS_CODES.__getitem__, keys))


_DASH_EMPTY = {"-": ""}.get
"""``_DASH_EMPTY(field, field)``: ``-`` becomes ``""``, any other field stays itself."""


def _dash_empty(fields: List[str]) -> List[str]:
    """Each field with ``-`` as ``""``: ``fields`` itself when none is ``-``, and without a step per
    field when all are."""
    dashes = fields.count("-")
    if not dashes:
        return fields
    if dashes == len(fields):
        return [""] * dashes
    return list(map(_DASH_EMPTY, fields, fields))


def _joined_bytes(keys: List[Any]) -> Optional[bytes]:
    """The keys joined by spaces when every one is bytes-like (joining checks it faster than their
    types; a block's keys are bytes), else None (a record's keys are tuples of text)."""
    try:
        return b" ".join(keys)
    except TypeError:
        return None


class LineKeys(KeyDecoder):
    """The keys of the Common/Combined block parser, and of records parsed one by one (already
    decoded: tuples of text, durations in seconds).

    Distinct keys are decoded a block at a time: joined, decoded and split by one regex in C, so
    a log of random paths and clients costs no Python call per key but the section rule's.
    """

    who = staticmethod(decode_who)
    request = staticmethod(decode_request)
    method_target = staticmethod(decode_method_target)
    stamp = staticmethod(decode_stamp)

    def decode_whos(self, keys: List[Any]) -> Tuple[List[str], List[str]]:
        """As :func:`decode_who` on each key, as columns."""
        joined = _joined_bytes(keys)
        if joined is not None:  # the pattern allows only ASCII here, and no space inside a field
            fields = joined.decode("ascii").split(" ")
            if len(fields) == 3 * len(keys):
                hosts, users = fields[0::3], fields[2::3]
                return _dash_empty(hosts), _dash_empty(users)
        return split_pairs(list(map(decode_who, keys)))

    def decode_requests(self, keys: List[Any]) -> Tuple[List[str], List[str]]:
        """As :func:`decode_request` on each key, as columns."""
        joined = _joined_bytes(keys)
        if joined is not None:
            fields = joined.decode("ascii").split(" ")
            if len(fields) == 2 * len(keys):
                return fields[0::2], section.sections_of(fields[1::2])
        return split_pairs(list(map(decode_request, keys)))


LINE_KEYS = LineKeys()
"""The one decoder of Common/Combined blocks and records (its caches serve every source)."""


def decode_sizes(keys: Sequence[bytes]) -> List[int]:
    """The byte counts of size keys (``-`` is 0)."""
    return LINE_KEYS.sizes(keys)
