"""JSON access logs: one object per line, as nginx (``escape=json``), Caddy and Traefik write them.

The keys of the usual configurations are recognised without configuration (:data:`KNOWN_KEYS`;
dotted names are nested objects: Caddy's ``request.method``); ``--json-keys field=key,...`` maps
others, and comes first. The format name is ``json``, or ``json:field=key,...`` with a mapping
(what ``--json-keys`` makes, so worker processes get the whole format in one string).

Fields (the first key present wins): ``time`` (CLF text, ISO 8601 text, or seconds since the
epoch as a number or numeric text), ``host``, ``user``, ``request`` (``"GET /a HTTP/1.1"``) or
``method`` + ``path``, ``status``, ``size``, ``duration`` (seconds; ``duration_ms``,
``duration_us``, ``duration_ns`` for other units: Traefik's ``Duration`` is in nanoseconds),
``upstream`` and ``vhost``. ``-``, ``""`` and ``null`` are "not logged" (but a request ``-``,
a client that sent nothing, is a hit of section ``-``, as in Common logs).

A line that is not a JSON object is skipped as ``bad json``; one without a time, a status or a
request as ``missing field``; a time or status that is not one as ``bad timestamp`` /
``bad status``. Bytes that are not UTF-8 are replaced (the line still counts).

Reading a block fast: line shapes
---------------------------------
A server writes every line of a JSON log with the same keys in the same order (nginx's
``log_format ... escape=json``, Traefik, Caddy's flat encoders). :meth:`JsonFormat.parse_block`
takes the key order of a block's first line, compiles it once into one anchored regex (a
*shape*: ``{"time_local": "...", "status": ..., ...}`` with each value's JSON type), reads the
whole block with ``findall`` as the Common/Combined block parser does, and decodes each distinct
value once, column by column, with the same conversions as :meth:`JsonFormat.fields`. Why
in-house: no JSON library reads a block of objects into columns; decoding every object into a
dictionary is what made JSON logs 4× slower than Combined ones.

The shape's grammar is a strict subset of JSON's, with scalars only (strings with JSON's own
escapes, numbers, ``true``, ``false``, ``null``), so a line it matches is a line ``json`` reads,
with the same values. A block is read this way only when every line matches its first line's
shape (in the plain form, strings without escapes or control bytes, when the block has no
backslash, tab or control byte at all: the fastest for the regex engine) and every value
converts the plain way (no missing time, status or request; no value that another key would
stand in for; a valid time, status and size); any other block is read line by line by
:meth:`JsonFormat.fields`, so the outcome of every line, record or skip reason, is the
reference's.
"""

from __future__ import annotations

import json
import re
from datetime import tzinfo
from functools import lru_cache
from itertools import repeat
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from monilog.parsing import section
from monilog.parsing.clf import STATUS_CODES, split_request
from monilog.parsing.columns import LineFormat, ParsedBlock, count_lines, rows_of
from monilog.parsing.record import LogRecord, ParseError
from monilog.parsing.timestamps import Moment, clf_timestamp, epoch_timestamp, iso_timestamp

FIELDS = ("time", "host", "user", "request", "method", "path", "status", "size",
          "duration", "duration_ms", "duration_us", "duration_ns", "upstream", "vhost", "agent", "forwarded")
"""The fields ``--json-keys`` may map."""

KNOWN_KEYS: Dict[str, Tuple[str, ...]] = {
    "time": ("time_iso8601", "time_local", "msec", "ts", "StartUTC", "timestamp", "@timestamp", "time"),
    "host": ("remote_addr", "request.client_ip", "request.remote_ip", "ClientHost", "client_ip", "remote_ip"),
    "user": ("remote_user", "user_id", "ClientUsername"),
    "request": ("request",),
    "method": ("request_method", "request.method", "RequestMethod", "method"),
    "path": ("request_uri", "request.uri", "RequestPath", "uri", "path"),
    "status": ("status", "DownstreamStatus"),
    "size": ("body_bytes_sent", "bytes_sent", "size", "DownstreamContentSize"),
    "duration": ("request_time", "duration"),
    "duration_ns": ("Duration",),
    "upstream": ("upstream_response_time",),
    "vhost": ("host", "request.host", "RequestHost", "server_name", "http_host"),
    "agent": ("http_user_agent", "request.headers.User-Agent", "request_User-Agent", "user_agent"),
    "forwarded": ("http_x_forwarded_for", "request.headers.X-Forwarded-For", "request_X-Forwarded-For"),
}
"""Keys recognised without configuration (nginx, Caddy, Traefik), in the order they are tried."""

_SCALES = {"duration": 1.0, "duration_ms": 1e-3, "duration_us": 1e-6, "duration_ns": 1e-9}
_ABSENT = (None, "", "-")
_STATUS_KEYS: Dict[Any, bytes] = {**{code: text.encode() for text, code in STATUS_CODES.items()},
                                  **{text: text.encode() for text in STATUS_CODES}}
"""A status as JSON gives it (a number or text) → its key."""
_PLANS_LIMIT = 1024
_ORDER = ("time", "status", "request", "method", "path", "size", "duration", "duration_ms", "duration_us",
          "duration_ns", "upstream", "host", "user", "vhost", "agent", "forwarded")
"""The fields a line gives, in the order :meth:`JsonFormat.fields` reads them."""
_REQUEST = _ORDER.index("request")
_scan = json.JSONDecoder().raw_decode  # (object, end); no whitespace first, which the slow path allows


def _holds_nothing(field: int, value: Any) -> bool:
    """Whether ``value`` of ``field`` (index in :data:`_ORDER`) is "not logged", so that another key
    may stand in; a request ``-`` is something (a client that sent nothing)."""
    return value in _ABSENT and not (field == _REQUEST and value == "-")


def _is_request_line(value: Any) -> bool:
    """Whether a request value is a request line (else the method and path stand in: Caddy's is an object)."""
    return type(value) is str and value != ""


def _text(value: Any) -> str:
    """A text field: ``""`` when not logged."""
    return "" if value in _ABSENT else str(value)


def _seconds(value: Any, scale: float) -> Optional[float]:
    """A duration in seconds from a value in units of ``scale`` seconds; None if it is not a number."""
    try:
        return float(value) * scale
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer of 400 digits
        return None


def _duration(seconds: Any, milliseconds: Any, microseconds: Any, nanoseconds: Any) -> Optional[float]:
    """The duration of a line: its first logged duration field, in seconds."""
    for value, scale in ((seconds, 1.0), (milliseconds, 1e-3), (microseconds, 1e-6), (nanoseconds, 1e-9)):
        if value not in _ABSENT:
            return _seconds(value, scale)
    return None


def _upstream(value: Any) -> Optional[float]:
    """The upstream time of a line; None when not logged."""
    return None if value in _ABSENT else _upstream_seconds(value)


def _upstream_seconds(value: Any) -> Optional[float]:
    """Seconds of an upstream time: a number, or text listing tries (``0.1, 0.2 : 0.3``); None if none."""
    if isinstance(value, (int, float)):
        return _seconds(value, 1.0)
    tries = [part for part in str(value).replace(" : ", ", ").split(", ") if part not in _ABSENT]
    try:
        return sum(map(float, tries)) if tries else None
    except (ValueError, OverflowError):
        return None


def parse_mapping(text: str) -> Dict[str, str]:
    """``field=key,...`` as a mapping; ValueError naming a field that is not one of :data:`FIELDS`."""
    mapping: Dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        field, equals, key = item.partition("=")
        field, key = field.strip(), key.strip()
        if not equals or not key or field not in FIELDS:
            raise ValueError(f"--json-keys: {item!r} is not FIELD=KEY with FIELD one of {', '.join(FIELDS)}")
        mapping[field] = key
    return mapping


def _lookup(value: Any, path: Tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def _time(value: Any) -> Moment:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return epoch_timestamp(float(value))
    if not isinstance(value, str):
        raise ValueError("not a time")
    if value[:1].isdigit() and value.replace(".", "", 1).isdigit():
        return epoch_timestamp(float(value))
    if "/" in value:
        return clf_timestamp(value)
    return iso_timestamp(value)


_NUMBER = rb"-?(?:0|[1-9]\d{0,39})(?:\.\d{1,40})?(?:[eE][+-]?\d{1,4})?"
"""A JSON number of at most 90 characters (longer ones are read line by line)."""
_NUMBER_LENGTH = 90
_SCALARS = {"number": _NUMBER, "null": b"null", "boolean": b"true|false"}
_ESCAPE = rb'\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})'
_KIND_OF = {str: "string", int: "number", float: "number", type(None): "null", bool: "boolean"}
_CONTROL_TO_BACKSLASH = bytes(92 if byte < 32 and byte != 10 else byte for byte in range(256))
"""A ``bytes.translate`` table making control bytes (but the newline) backslashes: one test finds both."""
_KEY_ESCAPES = re.compile(rb"[\\\x00-\x1f]")
_SPACES = 4
"""Whitespace a shape allows around each ``{ , : }`` (servers write none or one)."""


class _Shape(NamedTuple):
    """The line pattern of flat objects with given keys and value types, in both forms."""

    plain: "re.Pattern[bytes]"
    """For blocks without backslashes or control bytes: strings without escapes."""
    escaped: "re.Pattern[bytes]"
    """For any block."""
    groups: Tuple[Tuple[str, Tuple[int, ...]], ...]
    """Per group: the JSON type of its values and the fields (indexes in :data:`_ORDER`) it is read for
    (a string's group holds what is between its quotes)."""
    backed: Tuple[int, ...]
    """The fields for which another key stands in when the first holds nothing."""


def _compile_shape(kinds: Tuple[Tuple[str, str], ...], plan: Tuple[List[Any], List[Any]],
                   max_line_length: int) -> Optional[_Shape]:
    """The shape of objects with these ``(key, type)`` pairs, in order; None if lines of it cannot be
    read by shape (a nested value, or no time, status or request among its keys).

    In flat objects a nested key path (Caddy's ``request.method``) holds nothing: each field is read
    from the first plain key of its plan, and is *backed* when another key would stand in for it
    (its first path is a nested one, or it has several plain keys). The patterns bound every value
    so that no line they match is longer than ``max_line_length``: longer lines, and lines with a
    value longer than its share, are read line by line."""
    if any(kind == "" for _, kind in kinds):
        return None
    first, further = plan
    read: Dict[str, List[int]] = {}
    backed: List[int] = []
    for index, (head, rest) in enumerate(zip(first, further)):
        tried = ([] if head is None else [head if type(head) is tuple else (head,)]) + list(rest)
        plain = [path[0] for path in tried if len(path) == 1]
        if plain:
            read.setdefault(plain[0], []).append(index)
            if len(plain) > 1 or len(tried[0]) > 1:
                backed.append(index)
    present = {index for indexes in read.values() for index in indexes}
    if _ORDER.index("time") not in present or _ORDER.index("status") not in present or \
            not present & {_REQUEST, _ORDER.index("path")}:
        return None
    try:
        keys = [json.dumps(key, ensure_ascii=False).encode() for key, _ in kinds]
    except UnicodeEncodeError:  # a lone surrogate: such lines are read one by one
        return None
    if any(_KEY_ESCAPES.search(key) for key in keys):
        return None
    strings = sum(1 for _, kind in kinds if kind == "string")
    # the keys, their ':' and ',', the braces, the quotes of the strings, the most whitespace, the longest numbers
    fixed = sum(map(len, keys)) + 2 * len(keys) + 2 + 2 * strings + _SPACES * (4 * len(keys) + 2) + _NUMBER_LENGTH * (len(keys) - strings)
    share = (max_line_length - fixed) // max(strings, 1)  # bytes each string may have
    if share < 64:
        return None
    escaped_share = share // 6  # an escape is one character of up to six bytes
    space = b" {0,%d}" % _SPACES
    escaped_space = b"[ \t\r]{0,%d}" % _SPACES
    plain_string = b'"([^"]{0,%d})"' % share
    escaped_string = b'"((?:[^"\\\\\x00-\x1f]|' + _ESCAPE + b"){0,%d})\"" % escaped_share
    patterns = []
    for string, gap, end in ((plain_string, space, space), (escaped_string, escaped_space, b"[ \t\r\x0b\x0c]{0,%d}" % _SPACES)):
        parts = [b"^\\{" + gap]
        for position, ((key, kind), encoded) in enumerate(zip(kinds, keys)):
            parts.append((gap + b"," + gap if position else b"") + re.escape(encoded) + gap + b":" + gap)
            value = string if kind == "string" else b"(" + _SCALARS[kind] + b")"
            parts.append(value if key in read else _uncaptured(value))
        parts.append(gap + b"\\}" + end + b"$")
        patterns.append(re.compile(b"".join(parts), re.MULTILINE))
    groups = tuple((kind, tuple(read[key])) for key, kind in kinds if key in read)
    if len(groups) < 2:
        return None  # findall gives rows of groups only from two groups on
    return _Shape(patterns[0], patterns[1], groups, tuple(backed))


def _uncaptured(regex: bytes) -> bytes:
    return b"(?:" + regex[1:] if regex.startswith(b"(") else regex.replace(b'"(', b'"(?:', 1)


class _NotPlain(Exception):
    """A block whose values do not all convert the plain way: it is read line by line."""


def _values(kind: str, tokens: List[bytes]) -> List[Any]:
    """The values of distinct tokens of one JSON type, as decoding the line gives them (bytes that
    are not UTF-8 replaced): strings decoded together, escapes by ``json``."""
    if kind == "string":
        joined = b"\n".join(tokens)  # no line has a newline: every token comes back
        texts = joined.decode("utf-8", "replace").split("\n")
        if b"\\" in joined:
            texts = [json.loads(f'"{text}"') if "\\" in text else text for text in texts]
        return texts
    if kind == "number":
        return [float(token) if b"." in token or b"e" in token or b"E" in token else int(token) for token in tokens]
    if kind == "null":
        return [None] * len(tokens)
    return [token == b"true" for token in tokens]


def _texts(values: List[Any]) -> List[Any]:
    """Text fields (:func:`_text` of each)."""
    return list(map(_text, values))


def _times(values: List[Any], owner: "JsonFormat") -> List[Any]:
    if any(value in _ABSENT or not owner._time_valid(value) for value in values):
        raise _NotPlain("time")
    return values


def _status_keys(values: List[Any]) -> List[Any]:
    codes = [None if value in _ABSENT else _STATUS_KEYS.get(value) for value in values]
    if None in codes:
        raise _NotPlain("status")
    return codes


def _request_lines(values: List[Any]) -> List[Any]:
    if not all(map(_is_request_line, values)):
        raise _NotPlain("request")  # the method and path would stand in
    return values


def _paths(values: List[Any]) -> List[Any]:
    if any(value in _ABSENT for value in values):
        raise _NotPlain("path")
    return list(map(str, values))


def _byte_counts(values: List[Any]) -> List[int]:
    """Sizes: 0 when not logged, never negative; ValueError if one is not a number."""
    try:
        counts = [0 if value in _ABSENT else int(value) for value in values]
    except (TypeError, ValueError, OverflowError):  # OverflowError: 1e999
        raise ValueError("not a size") from None
    return counts if not counts or min(counts) >= 0 else [max(count, 0) for count in counts]


def _scaled(scale: float) -> Callable[[List[Any]], List[Any]]:
    def durations(values: List[Any]) -> List[Any]:
        try:
            seconds = list(map(float, values))
        except (TypeError, ValueError):
            return [None if value in _ABSENT else _seconds(value, scale) for value in values]
        return seconds if scale == 1.0 else [value * scale for value in seconds]

    return durations


def _upstreams(values: List[Any]) -> List[Any]:
    return list(map(_upstream, values))


_CONVERSIONS: Dict[str, Callable[[List[Any]], List[Any]]] = {
    "status": _status_keys, "request": _request_lines, "method": _texts, "path": _paths, "size": _byte_counts,
    "upstream": _upstreams, "host": _texts, "user": _texts, "vhost": _texts, "agent": _texts, "forwarded": _texts,
    **{field: _scaled(scale) for field, scale in _SCALES.items()},
}
"""How the distinct values of each field (but the time) become its column's keys, the way
:meth:`JsonFormat.fields` makes them; :class:`_NotPlain` for values that need more."""
_DEFAULTS = {"size": 0, "method": "", "host": "", "user": "", "vhost": "", "agent": "", "forwarded": ""}
"""Each column's key on lines without the field."""
_TIME, _STATUS, _PATH = _ORDER.index("time"), _ORDER.index("status"), _ORDER.index("path")


def _columns_of(rows: List[Tuple[bytes, ...]], shape: _Shape, owner: "JsonFormat", lines: int) -> List[Sequence[Any]]:
    """The ten columns of :meth:`JsonFormat.fields`'s rows from a block's matches."""
    by_field: Dict[int, Sequence[Any]] = {}
    raw: Dict[int, Sequence[Any]] = {}  # the values themselves, for durations given in several units
    with_request = any(_REQUEST in fields for _, fields in shape.groups)
    for (kind, fields), tokens in zip(shape.groups, zip(*rows)):
        distinct = list(set(tokens))
        values = _values(kind, distinct)
        for field in fields:
            if with_request and field in (_PATH, _ORDER.index("method")):
                continue  # read only where there is no request line
            if field in shape.backed and any(_holds_nothing(field, value) for value in values):
                raise _NotPlain(_ORDER[field])  # another key stands in on these lines: line by line
            name = _ORDER[field]
            try:
                keys = _times(values, owner) if field == _TIME else _CONVERSIONS[name](values)
            except ValueError as error:  # a size that is not one
                raise _NotPlain(name) from error
            by_field[field] = list(map(dict(zip(distinct, keys)).__getitem__, tokens))
            if name in _SCALES:
                raw[field] = list(map(dict(zip(distinct, values)).__getitem__, tokens))

    def column(name: str) -> Sequence[Any]:
        found = by_field.get(_ORDER.index(name))
        return [_DEFAULTS.get(name)] * lines if found is None else found

    if _REQUEST in by_field:
        requests = by_field[_REQUEST]
    elif _PATH in by_field:
        requests = list(zip(column("method"), by_field[_PATH]))
    else:
        raise _NotPlain("request")
    units = [_ORDER.index(field) for field in _SCALES if _ORDER.index(field) in by_field]
    if len(units) > 1:  # the first logged of several: line by line
        durations: Sequence[Any] = list(map(_duration, *(raw.get(_ORDER.index(field), repeat(None)) for field in _SCALES)))
    else:
        durations = by_field[units[0]] if units else [None] * lines
    return [list(zip(column("host"), column("user"))), by_field[_TIME], requests, by_field[_STATUS], column("size"),
            durations, column("upstream"), column("vhost"), column("agent"), column("forwarded")]


class JsonFormat(LineFormat):
    """The ``json`` format: decodes objects and reads their fields through the key mapping."""

    def __init__(self, name: str, mapping: Dict[str, str]) -> None:
        super().__init__()
        self.name = name
        self.paths: Dict[str, Tuple[Tuple[str, ...], ...]] = {}
        """Per field, the key paths tried in order (the mapping's first)."""
        self._plans: Dict[Tuple[str, ...], Tuple[List[Any], List[Tuple[Tuple[str, ...], ...]]]] = {}
        self._valid_times: Dict[Any, bool] = {}
        self._shapes: Dict[Tuple[Tuple[Tuple[str, str], ...], int], Optional[_Shape]] = {}
        for field in FIELDS:
            keys = ((mapping[field],) if field in mapping else ()) + KNOWN_KEYS.get(field, ())
            self.paths[field] = tuple(tuple(key.split(".")) if "." in key and key not in ("@timestamp",) else (key,)
                                      for key in keys)

    def _plan(self, shape: Tuple[str, ...]) -> Tuple[List[Any], List[Tuple[Tuple[str, ...], ...]]]:
        """For objects with these top-level keys: per field (in :data:`_ORDER`), the first key (or
        nested path) worth trying, and the further paths to try when it holds nothing."""
        present = set(shape)
        first: List[Any] = []
        further: List[Tuple[Tuple[str, ...], ...]] = []
        for field in _ORDER:
            paths = tuple(path for path in self.paths[field] if path[0] in present)
            first.append(None if not paths else paths[0][0] if len(paths[0]) == 1 else paths[0])
            further.append(paths[1:])
        return first, further

    def fields(self, line: bytes) -> Optional[Tuple[Any, ...]]:
        """``(who, stamp, request, status, size, duration, upstream, vhost, agent, forwarded)`` of one line;
        None for a blank line; ParseError for a bad one. The time is checked by the caller."""
        try:
            text = line.decode()
            row, end = _scan(text)
        except (ValueError, RecursionError):  # not UTF-8, space first, not JSON, nested too deep
            text = line.decode("utf-8", "replace").strip()
            if not text:
                return None
            try:
                row = json.loads(text)
            except (ValueError, RecursionError):
                raise ParseError("bad json", text) from None
            end = len(text)
        if type(row) is not dict or (end < len(text) and text[end:].strip()):
            raise ParseError("bad json", line.decode("utf-8", "replace"))
        first, further = self._plan_of(tuple(row))
        values = [None if spec is None else row.get(spec) if type(spec) is str else _lookup(row, spec) for spec in first]
        for index, found in enumerate(values):
            if further[index] and _holds_nothing(index, found):
                for candidate in further[index]:
                    found = _lookup(row, candidate)
                    if found not in _ABSENT:
                        values[index] = found
                        break
        (stamp, status, request, method, path, size, seconds, milliseconds, microseconds, nanoseconds,
         upstream, host, user, vhost, agent, forwarded) = values
        if not _is_request_line(request):
            request = None if path in _ABSENT else (_text(method), str(path))
        if stamp in _ABSENT or status in _ABSENT or request is None:
            raise ParseError("missing field", line.decode("utf-8", "replace"))
        code = None if type(status) in (list, dict) else _STATUS_KEYS.get(status)
        if code is None:
            raise ParseError("bad status", line.decode("utf-8", "replace"))
        try:
            nbytes = _byte_counts([size])[0]
        except ValueError:
            raise ParseError("bad size", line.decode("utf-8", "replace")) from None
        if type(agent) is list:  # Caddy logs each header as a list of values
            agent = agent[0] if agent else ""
        if type(forwarded) is list:
            forwarded = ", ".join(map(str, forwarded))
        return ((_text(host), _text(user)), stamp, request, code, nbytes,
                _duration(seconds, milliseconds, microseconds, nanoseconds), _upstream(upstream),
                _text(vhost), _text(agent), _text(forwarded))

    def _plan_of(self, shape: Tuple[str, ...]) -> Tuple[List[Any], List[Tuple[Tuple[str, ...], ...]]]:
        """The plan of objects with these top-level keys (made once per shape)."""
        plan = self._plans.get(shape)
        if plan is None:
            if len(self._plans) > _PLANS_LIMIT:
                self._plans.clear()
            plan = self._plans[shape] = self._plan(shape)
        return plan

    def _check_time(self, stamp: Any, line: bytes) -> None:
        """ParseError ``bad timestamp`` unless ``stamp`` is a time."""
        if not self._time_valid(stamp):
            raise ParseError("bad timestamp", line.decode("utf-8", "replace"))

    def _time_valid(self, stamp: Any) -> bool:
        """Whether ``stamp`` is a time (checked once per distinct time)."""
        if type(stamp) in (list, dict, bool):  # True would be the cached answer for 1
            return False
        valid = self._valid_times.get(stamp)
        if valid is None:
            if len(self._valid_times) > _PLANS_LIMIT * 64:
                self._valid_times.clear()
            try:
                _time(stamp)
                valid = True
            except (ValueError, OverflowError):
                valid = False
            self._valid_times[stamp] = valid
        return valid

    # -- decoding keys ------------------------------------------------------------------------

    def who(self, key: Any) -> Tuple[str, str]:
        """``(host, user)``, decoded already."""
        return key  # type: ignore[no-any-return]

    def method_target(self, key: Any) -> Tuple[str, str]:
        """``(method, target)`` of a request line or a ``(method, path)`` pair."""
        if isinstance(key, str):
            method, target, _ = split_request(key)
        else:
            method, target = key
        return method, target

    def stamp(self, key: Any) -> Tuple[int, tzinfo]:
        """``(epoch second, zone)`` of a time value."""
        moment, epoch = _time(key)
        zone = moment.tzinfo
        assert zone is not None
        return epoch, zone

    # -- parsing ------------------------------------------------------------------------------

    def parse_block(self, block: bytes, max_line_length: int) -> ParsedBlock:
        """The columns of a block of whole lines: by its lines' shape when they all have their first
        line's (see the module documentation), else line by line."""
        fast = self._by_shape(block, max_line_length)
        return fast if fast is not None else self.by_line(block, max_line_length)

    def by_line(self, block: bytes, max_line_length: int) -> ParsedBlock:
        """The columns of a block of whole lines, read one by one with :meth:`fields` (the reference)."""

        def read(line: bytes) -> Optional[Tuple[Any, ...]]:
            if len(line) > max_line_length:
                raise ParseError("line too long")
            row = self.fields(line)
            if row is not None:
                self._check_time(row[1], line)
            return row

        rows, skipped = rows_of(block, read)
        columns = list(zip(*rows)) if rows else [()] * 10
        return self._parsed(count_lines(block), columns, skipped)

    def _parsed(self, lines: int, columns: Sequence[Sequence[Any]], skipped: List[Tuple[int, str]]) -> ParsedBlock:
        who, stamps, requests, statuses, sizes, durations, upstreams, vhosts, agents, forwarded = columns
        return ParsedBlock(lines, who, stamps, requests, statuses, sizes, skipped, self,
                           durations if durations.count(None) < len(durations) else None,
                           upstreams if upstreams.count(None) < len(upstreams) else None,
                           vhosts if any(vhosts) else None, agents, forwarded if any(forwarded) else None)

    def _by_shape(self, block: bytes, max_line_length: int) -> Optional[ParsedBlock]:
        """The columns of a block whose lines all have its first line's shape and plain values; None otherwise."""
        newline = block.find(b"\n")
        shape = self._shape_of(block if newline < 0 else block[:newline], max_line_length)
        if shape is None:
            return None
        lines = count_lines(block)
        plain = b"\\" not in block.translate(_CONTROL_TO_BACKSLASH)
        rows = (shape.plain if plain else shape.escaped).findall(block)
        if len(rows) != lines:
            return None
        try:
            columns = _columns_of(rows, shape, self, lines)
        except _NotPlain:
            return None
        return self._parsed(lines, columns, [])

    def _shape_of(self, line: bytes, max_line_length: int) -> Optional[_Shape]:
        """The compiled shape of lines with ``line``'s keys and value types (None if they have none)."""
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            return None
        if type(row) is not dict:
            return None
        kinds = tuple((key, _KIND_OF.get(type(value), "")) for key, value in row.items())
        known = (kinds, max_line_length)
        if known not in self._shapes:
            if len(self._shapes) > _PLANS_LIMIT:
                self._shapes.clear()
            self._shapes[known] = _compile_shape(kinds, self._plan_of(tuple(row)), max_line_length)
        return self._shapes[known]

    def record(self, line: bytes, max_line_length: int) -> Optional[LogRecord]:
        """One line as a :class:`LogRecord` (None for a blank line); ParseError if bad."""
        if len(line) > max_line_length:
            raise ParseError("line too long", line[:200].decode("utf-8", "replace"))
        row = self.fields(line)
        if row is None:
            return None
        self._check_time(row[1], line)
        (host, user), stamp, request, status, size, duration, upstream, vhost, agent, _ = row
        if isinstance(request, str):
            method, target, protocol = split_request(request)
        else:
            (method, target), protocol = request, ""
        moment, epoch = _time(stamp)
        return LogRecord(host, "", user, moment, method, target, protocol, STATUS_CODES[status.decode()], size,
                         "", agent, section.section_of(target), epoch, vhost, duration, upstream)


@lru_cache(maxsize=16)
def json_format(spec: str) -> JsonFormat:
    """The JSON format of ``json`` or ``json:field=key,...``; ValueError for a bad mapping."""
    _, _, mapping = spec.partition(":")
    return JsonFormat(spec, parse_mapping(mapping))
