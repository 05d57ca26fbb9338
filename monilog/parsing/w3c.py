"""W3C Extended log lines, as written by IIS.

The layout of data lines is given by the last ``#Fields:`` directive, e.g.
``#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip
cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken``; it may
change in the middle of a file (IIS writes a new header when its configuration
changes). Any subset and order of fields is accepted; field names are matched without
regard to case and unknown ones are ignored.

How a record is filled:

- time: ``date`` and ``time``, which are UTC; without a ``date`` field, the date of the
  last ``#Date:`` directive.
- host: ``c-ip``, else ``c-dns``. ident: always empty (W3C has no such field).
  user: ``cs-username``.
- target: ``cs-uri-stem``, plus ``?`` and ``cs-uri-query`` when the query is not empty;
  without a stem, ``cs-uri``. ``cs-host`` is not folded in: targets stay paths, as in
  the other formats. method: ``cs-method``; protocol: ``cs-version``.
- status: ``sc-status`` (0 when the layout has no such field: the hit still counts);
  size: ``sc-bytes`` (bytes sent to the client; 0 when absent).
- referer: ``cs(Referer)``; user agent: ``cs(User-Agent)`` with ``+`` turned back into
  spaces (IIS encodes spaces that way).
- ``-`` is an empty value. Fields are separated by single spaces; runs of spaces or
  tabs are tolerated. A line whose number of values differs from the layout's raises
  ``field count mismatch``.
"""

from __future__ import annotations

import re
from typing import BinaryIO, Dict, Optional, Sequence, Tuple

from monilog.parsing import section
from monilog.parsing.clf import STATUS_CODES, parse_size
from monilog.parsing.record import LogRecord, ParseError
from monilog.parsing.timestamps import w3c_timestamp

_SEPARATORS = re.compile(r"[ \t]+")
_new_record = tuple.__new__  # LogRecord(...) without the keyword-argument machinery


class W3CLayout:
    """Where each record field sits in a data line, compiled once from a ``#Fields:`` list.

    A field the layout lacks points past the end of the line's values, where
    :func:`parse_w3c` places ``-`` (and the ``#Date:`` date for ``date``), so the
    per-line code needs no test for missing fields.
    """

    __slots__ = (
        "agent",
        "count",
        "date",
        "host",
        "method",
        "names",
        "protocol",
        "query",
        "referer",
        "size",
        "status",
        "stem",
        "time",
        "user",
    )

    def __init__(self, names: Sequence[str]) -> None:
        self.names: Tuple[str, ...] = tuple(names)
        self.count = len(self.names)
        position: Dict[str, int] = {}
        for index, name in enumerate(self.names):
            position.setdefault(name.lower(), index)
        absent, directive_date = self.count, self.count + 1

        def find(*candidates: str) -> int:
            return next((position[name] for name in candidates if name in position), absent)

        self.date = position.get("date", directive_date)
        self.time = find("time")
        self.host = find("c-ip", "c-dns")
        self.user = find("cs-username")
        self.method = find("cs-method")
        self.stem = find("cs-uri-stem", "cs-uri")
        self.query = find("cs-uri-query") if "cs-uri-stem" in position else absent
        self.protocol = find("cs-version")
        self.status: Optional[int] = position.get("sc-status")
        self.size = find("sc-bytes")
        self.referer = find("cs(referer)")
        self.agent = find("cs(user-agent)")


def parse_w3c(line: str, layout: W3CLayout, directive_date: str = "-") -> LogRecord:
    """Parse one W3C data line (no line ending) laid out by ``layout``.

    ``directive_date`` is the date of the last ``#Date:`` directive, used when the
    layout has no ``date`` field. Raises ParseError: ``field count mismatch``,
    ``bad timestamp``, ``bad status`` or ``bad size``.
    """
    values = line.split(" ")
    if len(values) != layout.count:
        values = _SEPARATORS.split(line.strip(" \t"))
        if len(values) != layout.count:
            raise ParseError("field count mismatch", line)
    values.append("-")
    values.append(directive_date)
    try:
        moment, epoch = w3c_timestamp(values[layout.date], values[layout.time])
    except ValueError:
        raise ParseError("bad timestamp", line) from None
    if layout.status is None:
        code: Optional[int] = 0
    else:
        code = STATUS_CODES.get(values[layout.status])
        if code is None:
            raise ParseError("bad status", line)
    nbytes = parse_size(values[layout.size])
    if nbytes is None:
        raise ParseError("bad size", line)

    host, user, method, target, query, protocol, referer, agent = (
        "" if value == "-" else value
        for value in (
            values[layout.host], values[layout.user], values[layout.method],
            values[layout.stem], values[layout.query], values[layout.protocol],
            values[layout.referer], values[layout.agent],
        )
    )
    if query:
        target = f"{target}?{query}"
    return _new_record(
        LogRecord,
        (host, "", user, moment, method, target, protocol, code, nbytes, referer,
         agent.replace("+", " "), section.section_of(target), epoch, "", None, None),
    )


PRIME_BLOCK = 64 * 1024
PRIME_SCAN_BYTES = 16 * 1024 * 1024
"""How far back from the end of a W3C file to look for its ``#Fields:`` directive."""


def last_fields_directive(handle: BinaryIO, limit: int = PRIME_SCAN_BYTES) -> Optional[bytes]:
    """The last W3C ``#Fields:`` line of a seekable binary stream, searching backwards from its
    end (at most ``limit`` bytes).

    Following a W3C log from its end, the parser needs the field list written earlier in the
    file. A stream that does not start with a ``#`` directive is not a W3C log and is not searched.
    """
    marker = b"\n#Fields:"
    handle.seek(0)
    if handle.read(1) != b"#":
        return None
    position = handle.seek(0, 2)
    stop = max(0, position - limit)
    carry = b""
    while position > stop:
        step = min(PRIME_BLOCK, position - stop)
        position -= step
        handle.seek(position)
        block = handle.read(step) + carry
        found = block.rfind(marker)
        if found < 0 and position == 0 and block.startswith(marker[1:]):
            found = -1
        elif found < 0:
            carry = block[:len(marker)]
            continue
        handle.seek(position + found + 1)
        return handle.readline(PRIME_BLOCK).rstrip(b"\r\n")
    return None
