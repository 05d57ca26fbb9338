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
"""

from __future__ import annotations

import json
from datetime import tzinfo
from functools import lru_cache
from typing import Any, Dict, List, Optional, Tuple

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


def _upstream_seconds(value: Any) -> Optional[float]:
    """Seconds of an upstream time: a number, or text listing tries (``0.1, 0.2 : 0.3``); None if none."""
    if isinstance(value, (int, float)):
        return float(value)
    tries = [part for part in str(value).replace(" : ", ", ").split(", ") if part not in _ABSENT]
    try:
        return sum(map(float, tries)) if tries else None
    except ValueError:
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


class JsonFormat(LineFormat):
    """The ``json`` format: decodes objects and reads their fields through the key mapping."""

    def __init__(self, name: str, mapping: Dict[str, str]) -> None:
        super().__init__()
        self.name = name
        self.paths: Dict[str, Tuple[Tuple[str, ...], ...]] = {}
        """Per field, the key paths tried in order (the mapping's first)."""
        self._plans: Dict[Tuple[str, ...], Tuple[List[Any], List[Tuple[Tuple[str, ...], ...]]]] = {}
        self._valid_times: Dict[Any, bool] = {}
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
            row, end = _scan(line.decode())
        except ValueError:  # not UTF-8, space first, or not JSON
            text = line.decode("utf-8", "replace").strip()
            if not text:
                return None
            try:
                row = json.loads(text)
            except ValueError:
                raise ParseError("bad json", text) from None
            end = len(line)
        if type(row) is not dict or (end < len(line) and line[end:].strip()):
            raise ParseError("bad json", line.decode("utf-8", "replace"))
        shape = tuple(row)
        plan = self._plans.get(shape)
        if plan is None:
            if len(self._plans) > _PLANS_LIMIT:
                self._plans.clear()
            plan = self._plans[shape] = self._plan(shape)
        first, further = plan
        values = [None if spec is None else row.get(spec) if type(spec) is str else _lookup(row, spec) for spec in first]
        for index, found in enumerate(values):
            if found in _ABSENT and further[index] and not (index == _REQUEST and found == "-"):
                for candidate in further[index]:
                    found = _lookup(row, candidate)
                    if found not in _ABSENT:
                        values[index] = found
                        break
        (stamp, status, request, method, path, size, seconds, milliseconds, microseconds, nanoseconds,
         upstream, host, user, vhost, agent, forwarded) = values
        if type(request) is not str or (request in _ABSENT and request != "-"):  # Caddy's request is an object
            request = None if path in _ABSENT else (str(method) if method not in _ABSENT else "", str(path))
        if stamp in _ABSENT or status in _ABSENT or request is None:
            raise ParseError("missing field", line.decode("utf-8", "replace"))
        code = _STATUS_KEYS.get(status)
        if code is None:
            raise ParseError("bad status", line.decode("utf-8", "replace"))
        try:
            nbytes = int(size) if size not in _ABSENT else 0
        except (TypeError, ValueError):
            raise ParseError("bad size", line.decode("utf-8", "replace")) from None
        duration = None
        for value, scale in ((seconds, 1.0), (milliseconds, 1e-3), (microseconds, 1e-6), (nanoseconds, 1e-9)):
            if value not in _ABSENT:
                try:
                    duration = float(value) * scale
                except (TypeError, ValueError):
                    pass
                break
        if upstream is not None:
            upstream = None if upstream in _ABSENT else _upstream_seconds(upstream)
        if type(agent) is list:  # Caddy logs each header as a list of values
            agent = agent[0] if agent else ""
        if type(forwarded) is list:
            forwarded = ", ".join(map(str, forwarded))
        return (("" if host in _ABSENT else str(host), "" if user in _ABSENT else str(user)), stamp, request, code,
                max(nbytes, 0), duration, upstream, "" if vhost in _ABSENT else str(vhost),
                "" if agent in _ABSENT else str(agent), "" if forwarded in _ABSENT else str(forwarded))

    def _check_time(self, stamp: Any, line: bytes) -> None:
        """ParseError ``bad timestamp`` unless ``stamp`` is a time (checked once per distinct time)."""
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
        if not valid:
            raise ParseError("bad timestamp", line.decode("utf-8", "replace"))

    # -- decoding keys ------------------------------------------------------------------------

    def who(self, key: Any) -> Tuple[str, str]:
        """``(host, user)``, decoded already."""
        return key  # type: ignore[no-any-return]

    def request(self, key: Any) -> Tuple[str, str]:
        """``(method, section)`` of a request line or a ``(method, path)`` pair."""
        if isinstance(key, str):
            method, target, _ = split_request(key)
        else:
            method, target = key
        return method, section.section_of(target)

    def stamp(self, key: Any) -> Tuple[int, tzinfo]:
        """``(epoch second, zone)`` of a time value."""
        moment, epoch = _time(key)
        zone = moment.tzinfo
        assert zone is not None
        return epoch, zone

    def target(self, key: Any) -> str:
        """The target of a request line or a ``(method, path)`` pair."""
        return split_request(key)[1] if isinstance(key, str) else str(key[1])

    # -- parsing ------------------------------------------------------------------------------

    def parse_block(self, block: bytes, max_line_length: int) -> ParsedBlock:
        """The columns of a block of whole lines."""

        def read(line: bytes) -> Optional[Tuple[Any, ...]]:
            if len(line) > max_line_length:
                raise ParseError("line too long")
            row = self.fields(line)
            if row is not None:
                self._check_time(row[1], line)
            return row

        rows, skipped = rows_of(block, read)
        columns = list(zip(*rows)) if rows else [()] * 10
        who, stamps, requests, statuses, sizes, durations, upstreams, vhosts, agents, forwarded = columns
        has = any(value is not None for value in durations)
        return ParsedBlock(count_lines(block), who, stamps, requests, statuses, sizes, skipped, self,
                           durations if has else None, upstreams if any(value is not None for value in upstreams) else None,
                           vhosts if any(vhosts) else None, agents, forwarded if any(forwarded) else None)

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
