r"""W3C Extended log lines, as written by IIS (and by other servers that follow the draft).

The layout of data lines is given by the last ``#Fields:`` directive, e.g.
``#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip
cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken``; it may
change in the middle of a file (IIS writes a new header when its configuration
changes). Any subset and order of fields is accepted; field names are matched without
regard to case and unknown ones are ignored.

How a record is filled:

- time: ``date`` and ``time``, which are UTC. Without that pair, ``date-local`` and
  ``time-local`` (IIS's local-time fields) read as wall-clock time in the layout's zone
  (:class:`W3CLayout`'s ``local_zone``: by default the host's, ``dateutil.tz.tzlocal()``);
  the record's time then carries the UTC offset that zone had (an hour repeated when clocks
  go back reads as its first occurrence). Without either pair, ``time`` (UTC) with the
  date of the last ``#Date:`` directive; with no date at all, ``bad timestamp``.
- host: ``c-ip``, else ``c-dns``. ident: always empty (W3C has no such field).
  user: ``cs-username``.
- target: ``cs-uri-stem``, plus ``?`` and ``cs-uri-query`` when the query is not empty;
  without a stem, ``cs-uri``. ``cs-host`` is not folded in: targets stay paths, as in
  the other formats. method: ``cs-method``; protocol: ``cs-version``.
- status: ``sc-status`` (0 when the layout has no such field: the hit still counts);
  size: ``sc-bytes`` (bytes sent to the client; 0 when absent).
- referer: ``cs(Referer)``; user agent: ``cs(User-Agent)``, with ``+`` turned back into
  spaces (IIS encodes spaces that way) unless the value was quoted (then a ``+`` is a
  ``+``, as in ``+http://www.google.com/bot.html``).
- vhost: ``cs-host`` (the Host header), else (no such field, or ``-`` in it: a request
  without a Host header) ``s-sitename`` (IIS's site, ``W3SVC1``).
- duration: ``time-taken``, in seconds for CloudFront logs (told by their ``x-edge-*`` fields),
  else as IIS writes it, in milliseconds (``15`` is 0.015 s; a
  fraction of a millisecond is kept). ``-``, or anything but digits with an optional
  fraction, is "not logged" (None): the record still counts.
- ``-`` is an empty value. Fields are separated by single spaces; runs of spaces or
  tabs are tolerated.
- Quoted strings, as the working draft allows and IIS Advanced Logging or Oracle Web Cache
  write them: a field starting with ``"`` runs to the closing ``"``, spaces included, and
  the quotes are not part of the value (``"-"`` is empty like ``-``). Inside, ``""`` stands
  for one ``"`` (the draft's rule), and ``\"`` and ``\\`` for ``"`` and ``\`` (tolerated:
  some servers escape that way); any other backslash is kept. A ``"`` inside an unquoted
  field is an ordinary character. Lines without ``"`` take the plain split on spaces; the
  others a tokenizer whose time is linear in the line's length, whatever the input.
- A line whose quoted field does not end (no closing ``"``, or one followed by more than
  a separator) raises ``malformed``; a line whose number of values differs from the
  layout's raises ``field count mismatch``.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import BinaryIO, Callable, Container, Dict, List, Optional, Sequence, Tuple

from dateutil import tz

from monilog.parsing import section
from monilog.parsing.clf import STATUS_CODES, parse_size
from monilog.parsing.record import LogRecord, ParseError
from monilog.parsing.timestamps import Moment, w3c_local_parser, w3c_timestamp

_SEPARATORS = re.compile(r"[ \t]+")
_new_record = tuple.__new__  # LogRecord(...) without the keyword-argument machinery

# One field and the separators after it: a quoted string (its body unrolled as
# normal* (special normal*)*, which every character enters one way only, so a failed match
# backtracks at most once per character) or an unquoted run that does not start with '"'.
_FIELD = re.compile(
    r'(?:"([^"\\]*(?:(?:""|\\["\\]|\\(?!["\\]))[^"\\]*)*)"|([^ \t"][^ \t]*))(?:[ \t]+|\Z)'
)
_ESCAPE = re.compile(r'""|\\(["\\])')
_MILLISECONDS = re.compile(r"\d{1,15}(?:\.\d{1,9})?", re.ASCII)


def _unescape(match: "re.Match[str]") -> str:
    return match.group(1) or '"'


def split_quoted(line: str, count: int) -> Tuple[List[str], Tuple[int, ...]]:
    """The values of a data line that holds ``"``, and the indexes of those that were quoted.

    Stops reading after ``count + 1`` values (the line is then a mismatch anyway). Raises
    ParseError ``malformed`` for a quoted field that does not end.
    """
    values: List[str] = []
    quoted: List[int] = []
    text = line.strip(" \t")
    position, end = 0, len(text)
    match = _FIELD.match
    while position < end and len(values) <= count:
        found = match(text, position)
        if found is None:
            raise ParseError("malformed", line)
        body, plain = found.groups()
        if plain is None:
            quoted.append(len(values))
            values.append(_ESCAPE.sub(_unescape, body) if '"' in body or "\\" in body else body)
        else:
            values.append(plain)
        position = found.end()
    return values, tuple(quoted)


TIME_TAKEN_CACHE = 20_000
"""Distinct ``time-taken`` texts (of 16 characters at most) whose seconds are kept: a log repeats
its durations (most are a few milliseconds), and a dictionary lookup is a fraction of the parse."""
_TIME_TAKEN: Dict[str, Optional[float]] = {"-": None}


def parse_time_taken(value: str) -> Optional[float]:
    """Seconds of an IIS ``time-taken`` (milliseconds); None for ``-`` or anything not a number."""
    if value.isdigit() and value.isascii():
        return int(value) / 1000
    if _MILLISECONDS.fullmatch(value):
        return float(value) / 1000
    return None


class W3CLayout:
    """Where each record field sits in a data line, compiled once from a ``#Fields:`` list.

    A field the layout lacks points past the end of the line's values, where
    :func:`parse_w3c` places ``-`` (and the ``#Date:`` date for ``date``), so the
    per-line code needs no test for missing fields.

    ``local_zone`` is the zone ``date-local``/``time-local`` are read in; None (the default)
    is the host's local zone, ``dateutil.tz.tzlocal()``, taken when the layout is made.
    It is used only by a layout that has the local pair and lacks the UTC ``date`` and ``time``.
    """

    __slots__ = (
        "agent",
        "count",
        "date",
        "duration",
        "host",
        "method",
        "names",
        "protocol",
        "query",
        "referer",
        "site",
        "size",
        "status",
        "stem",
        "taken_scale",
        "time",
        "timestamp",
        "user",
        "vhost",
        "zone",
    )

    def __init__(self, names: Sequence[str], local_zone: Optional[tzinfo] = None) -> None:
        self.names: Tuple[str, ...] = tuple(names)
        self.count = len(self.names)
        position: Dict[str, int] = {}
        for index, name in enumerate(self.names):
            position.setdefault(name.lower(), index)
        absent, directive_date = self.count, self.count + 1

        def find(*candidates: str) -> int:
            return next((position[name] for name in candidates if name in position), absent)

        self.zone: Optional[tzinfo] = None
        """The zone of the layout's times when they are local ones, None when they are UTC."""
        self.timestamp: Callable[[str, str], Moment] = w3c_timestamp
        if not {"date", "time"} <= position.keys() and {"date-local", "time-local"} <= position.keys():
            self.zone = tz.tzlocal() if local_zone is None else local_zone
            self.timestamp = w3c_local_parser(self.zone)
            self.date, self.time = position["date-local"], position["time-local"]
        else:
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
        self.vhost = find("cs-host", "s-sitename")
        self.site: Optional[int] = position.get("s-sitename") if "cs-host" in position else None
        """Where the site name is when the Host header comes first: the vhost of lines without one."""
        self.duration = find("time-taken")
        self.taken_scale = 1.0 if any(name.startswith("x-edge-") for name in position) else 0.001
        """Seconds per unit of ``time-taken``: CloudFront (``x-edge-*`` fields) writes seconds, IIS milliseconds."""


def parse_w3c(line: str, layout: W3CLayout, directive_date: str = "-") -> LogRecord:
    """Parse one W3C data line (no line ending) laid out by ``layout``.

    ``directive_date`` is the date of the last ``#Date:`` directive, used when the
    layout has no ``date`` field. Raises ParseError: ``field count mismatch``,
    ``malformed`` (a quoted field that does not end), ``bad timestamp``, ``bad status``
    or ``bad size``.
    """
    quoted: Container[int] = ()
    if '"' not in line:
        values = line.split(" ")
        if len(values) != layout.count:
            values = _SEPARATORS.split(line.strip(" \t"))
    else:
        values, quoted = split_quoted(line, layout.count)
    if len(values) != layout.count:
        raise ParseError("field count mismatch", line)
    values.append("-")
    values.append(directive_date)
    try:
        moment, epoch = layout.timestamp(values[layout.date], values[layout.time])
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

    host, user, method, target, query, protocol, referer, agent, vhost = (
        "" if value == "-" else value
        for value in (
            values[layout.host], values[layout.user], values[layout.method],
            values[layout.stem], values[layout.query], values[layout.protocol],
            values[layout.referer], values[layout.agent], values[layout.vhost],
        )
    )
    if query:
        target = f"{target}?{query}"
    if layout.agent not in quoted:
        agent = agent.replace("+", " ")
    if not vhost and layout.site is not None:
        vhost = values[layout.site]
        if vhost == "-":
            vhost = ""
    taken = values[layout.duration]
    duration = _TIME_TAKEN.get(taken, -1.0)
    if duration == -1.0:
        duration = parse_time_taken(taken)
        if len(taken) <= 16 and len(_TIME_TAKEN) < TIME_TAKEN_CACHE:
            _TIME_TAKEN[taken] = duration
    if duration is not None and layout.taken_scale != 0.001:
        duration *= layout.taken_scale * 1000
    return _new_record(
        LogRecord,
        (host, "", user, moment, method, target, protocol, code, nbytes, referer,
         agent, section.section_of(target), epoch, vhost, duration, None),
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
